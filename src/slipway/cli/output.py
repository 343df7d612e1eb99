"""How the CLI shows things: Rich tables for people, JSON for scripts, one error style."""

from __future__ import annotations

import datetime as dt
import functools
import sys
from collections.abc import Callable, Iterable, Sequence
from typing import Any, TypeVar

import orjson
import typer
from rich.console import Console
from rich.table import Table

from slipway.errors import SlipwayError

console = Console()
err_console = Console(stderr=True)


def print_json(data: Any) -> None:
    """Write JSON to stdout (one document, indented) for `--json`."""
    sys.stdout.write(orjson.dumps(data, option=orjson.OPT_INDENT_2).decode() + "\n")


WIDE_WIDTH = 1000  # `--wide`: lines as long as the values, whatever the terminal


def print_table(
    title: str | None, columns: Sequence[str], rows: Iterable[Sequence[Any]], wide: bool = False
) -> None:
    """A table fitted to the terminal; `wide` keeps every value on one line instead."""
    table = Table(title=title, show_lines=False, header_style="bold")
    for column in columns:
        table.add_column(column, overflow="fold", no_wrap=wide)
    for row in rows:
        table.add_row(*("" if v is None else str(v) for v in row))
    if wide:
        Console(width=WIDE_WIDTH, file=console.file).print(table)
    else:
        console.print(table)


def format_time(ms: int | None) -> str:
    """Epoch milliseconds as local `YYYY-MM-DD HH:MM:SS`."""
    if not ms:
        return ""
    return dt.datetime.fromtimestamp(ms / 1000).strftime("%Y-%m-%d %H:%M:%S")


def format_duration(start_ms: int | None, end_ms: int | None) -> str:
    if not start_ms or not end_ms:
        return ""
    seconds = (end_ms - start_ms) / 1000
    return f"{seconds:.1f}s" if seconds < 120 else f"{seconds / 60:.1f}min"


F = TypeVar("F", bound=Callable[..., Any])


def reports_errors(fn: F) -> F:
    """Print a SlipwayError as `Error (CODE): message` on stderr and exit 1."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except SlipwayError as exc:
            err_console.print(
                f"[bold red]Error[/] ({exc.error_code}): {exc.message}",
                highlight=False,
                soft_wrap=True,
            )
            raise typer.Exit(1) from None

    return wrapper  # type: ignore[return-value]


__all__ = [
    "reports_errors",
    "console",
    "err_console",
    "format_duration",
    "format_time",
    "print_json",
    "print_table",
]
