"""`slipway traffic`: look at and steer the traffic of a running `slipway serve --traffic`.

    slipway traffic status --url http://127.0.0.1:8000          # split, counts, latency, ...
    slipway traffic set --url http://127.0.0.1:8000 champion=90 challenger=10
    slipway traffic canary rollback --url http://127.0.0.1:8000

The commands speak the server's admin API (`GET /traffic`, `POST /traffic`); a change
reaches every worker of the server within a second. With `SLIPWAY_TRAFFIC_TOKEN` set for
the server, `set` and `canary` send it (`--token`, or the same environment variable).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import typer

from slipway.cli.output import console, err_console, print_json, print_table

app = typer.Typer(
    help="Look at and steer the traffic split of a running `slipway serve --traffic`.",
    no_args_is_help=True,
)

UrlOption = typer.Option(
    "http://127.0.0.1:8000", "--url", envvar="SLIPWAY_SERVE_URL", help="The server's address."
)
TokenOption = typer.Option(
    None,
    "--token",
    envvar="SLIPWAY_TRAFFIC_TOKEN",
    help="Bearer token, when the server was started with SLIPWAY_TRAFFIC_TOKEN.",
)
JsonOption = typer.Option(False, "--json", help="Print the server's JSON for scripts.")


def _call(method: str, url: str, body: Any = None, token: str | None = None) -> dict[str, Any]:
    """One admin API call; a failure is one `Error` line on stderr and exit code 1."""
    import httpx

    headers = {"authorization": f"Bearer {token}"} if token else {}
    target = url.rstrip("/") + "/traffic"
    try:
        answer = httpx.request(method, target, json=body, headers=headers, timeout=30)
    except httpx.HTTPError as exc:
        _fail("SERVER_UNREACHABLE", f"cannot reach {target}: {exc}")
    try:
        doc = answer.json()
    except ValueError:
        doc = None
    if answer.status_code != 200 or not isinstance(doc, dict):
        code = doc.get("error_code", "ERROR") if isinstance(doc, dict) else "ERROR"
        message = doc.get("message") if isinstance(doc, dict) else answer.text[:300]
        _fail(code, f"{method} {target} answered {answer.status_code}: {message}")
    return doc


def _fail(code: str, message: str) -> None:
    err_console.print(f"[bold red]Error[/] ({code}): {message}", highlight=False, soft_wrap=True)
    raise typer.Exit(1)


@app.command("status")
def status(url: str = UrlOption, as_json: bool = JsonOption) -> None:
    """The live split and each variant's requests, errors, latency, rewards and memory."""
    doc = _call("GET", url)
    if as_json:
        print_json(doc)
        return
    show_status(doc)


@app.command("set")
def set_weights(
    weights: list[str] = typer.Argument(
        ..., metavar="VARIANT=PERCENT...", help="New weights; variants left out get 0."
    ),
    url: str = UrlOption,
    token: str | None = TokenOption,
    as_json: bool = JsonOption,
) -> None:
    """Change the split (split and ab strategies) without a restart."""
    parsed: dict[str, float] = {}
    for item in weights:
        name, sep, value = item.partition("=")
        try:
            if not sep or not name:
                raise ValueError
            parsed[name.strip()] = float(value)
        except ValueError:
            raise typer.BadParameter(
                f"{item!r} is not VARIANT=PERCENT (e.g. champion=90)", param_hint="WEIGHTS"
            ) from None
    doc = _call("POST", url, {"weights": parsed}, token)
    if as_json:
        print_json(doc)
        return
    show_status(doc)


@app.command("canary")
def canary_action(
    action: str = typer.Argument(..., metavar="rollback|restart", help="What to do."),
    url: str = UrlOption,
    token: str | None = TokenOption,
    as_json: bool = JsonOption,
) -> None:
    """Roll the canary back to 0% now, or restart a rolled-back canary at its start share."""
    if action not in ("rollback", "restart"):
        raise typer.BadParameter("give rollback or restart", param_hint="ACTION")
    doc = _call("POST", url, {"canary": action}, token)
    if as_json:
        print_json(doc)
        return
    show_status(doc)


def show_status(doc: dict[str, Any]) -> None:
    """The status document as tables."""
    console.print(
        f"[bold]{doc.get('name')}[/] - strategy [bold]{doc.get('strategy')}[/], "
        f"{doc.get('workers', 1)} worker(s), state in {doc.get('state')}",
        highlight=False,
    )
    rows = []
    for name, v in (doc.get("variants") or {}).items():
        rows.append(
            [
                name,
                f"{v.get('model_name') or ''} v{v.get('version') or '?'}",
                f"{v.get('weight', 0):g}%",
                v.get("requests"),
                v.get("errors"),
                f"{v.get('error_rate', 0):.2%}",
                _ms(v.get("p50_ms")),
                _ms(v.get("p99_ms")),
                _number(v.get("mean_reward")) + (f" ({v['rewards']})" if v.get("rewards") else ""),
                "" if v.get("memory_mb") is None else f"{v['memory_mb']:g}",
            ]
        )
    columns = ["variant", "model", "weight", "requests", "5xx", "error rate", "p50 ms", "p99 ms"]
    print_table(None, [*columns, "mean reward", "memory MiB"], rows)
    if "canary" in doc:
        c = doc["canary"]
        console.print(
            f"canary [bold]{c.get('canary')}[/] at {c.get('percent', 0):g}% "
            f"({c.get('status')}, step {c.get('step')}), primary {c.get('primary')}"
            + (f", promotes @{c['promote_alias']}" if c.get("promote_alias") else ""),
            highlight=False,
        )
    if "shadow" in doc:
        s = doc["shadow"]
        agreement = s.get("agreement")
        console.print(
            f"shadow [bold]{s.get('shadow')}[/] of {s.get('primary')}: {s.get('sent')} sent, "
            f"{s.get('dropped')} dropped, {s.get('errors')} failed; agreement "
            f"{'-' if agreement is None else f'{agreement:.2%}'} over {s.get('compared_rows')} "
            f"rows; p50 {_ms(s.get('shadow_p50_ms'))} ms (primary {_ms(s.get('primary_p50_ms'))})"
            f", p99 {_ms(s.get('shadow_p99_ms'))} ms (primary {_ms(s.get('primary_p99_ms'))})",
            highlight=False,
        )
    if "bandit" in doc:
        b = doc["bandit"]
        means = ", ".join(
            f"{n} {_number(p.get('mean'))}" for n, p in (b.get("posteriors") or {}).items()
        )
        console.print(
            f"bandit ({b.get('reward')}, min explore {b.get('min_explore'):g}): posterior means "
            f"{means}",
            highlight=False,
        )
    for event in doc.get("history") or []:
        when = dt.datetime.fromtimestamp(event.get("at", 0)).strftime("%Y-%m-%d %H:%M:%S")
        console.print(f"  {when}  {event.get('action')}: {event.get('reason')}", highlight=False)


def _ms(value: Any) -> str:
    return "-" if value is None else f"{value:.1f}"


def _number(value: Any) -> str:
    return "-" if value is None else f"{value:.4g}"


__all__ = ["app", "show_status"]
