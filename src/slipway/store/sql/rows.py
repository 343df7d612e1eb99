"""Reading and writing many rows at once: IN lists within the bind-parameter budget, the
key/value children (tags, params) of many parents, a search's pages, and the dialect
INSERT that takes ON CONFLICT."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from typing import Any, TypeVar

from sqlalchemy import Connection, Select, Table, select

from slipway.entities import PagedList
from slipway.store.search import encode_page_token

T = TypeVar("T")

# Bind-parameter budget per IN query (SQLite allows 32766 variables).
IN_CHUNK = 900


def chunks(items: Sequence[T], size: int = IN_CHUNK) -> Iterator[Sequence[T]]:
    """`items` in consecutive slices of at most `size`."""
    for i in range(0, len(items), size):
        yield items[i : i + size]


def fetch_in(conn: Connection, sql: str, ids: Sequence[Any]) -> list[tuple[Any, ...]]:
    """Rows of `sql`, whose `{ids}` becomes one placeholder per id (in chunks).

    Plain DBAPI: building a page of runs is a few of these, and SQLAlchemy's per-call IN
    expansion and row objects would cost more than the queries themselves.
    """
    mark = "?" if conn.dialect.paramstyle == "qmark" else "%s"
    out: list[tuple[Any, ...]] = []
    cur = conn.connection.cursor()
    try:
        for chunk in chunks(ids):
            cur.execute(sql.format(ids=",".join([mark] * len(chunk))), tuple(chunk))
            out.extend(cur.fetchall())
    finally:
        cur.close()
    return out


def key_values(
    conn: Connection,
    table: Table,
    parent_column: str,
    ids: Sequence[Any],
    *,
    group_by: Sequence[str] = (),
) -> dict[Any, dict[str, str]]:
    """`{parent: {key: value}}` of a key/value table (tags, params) for many parents.

    Rows are read by `parent_column IN (...)`, ordered by key; a NULL value reads as "".
    `group_by` names the columns that identify a parent when `parent_column` alone does
    not (a model version is `("registered_model_id", "version")`); the parent is then a
    tuple of them.
    """
    group = [table.c[name] for name in group_by or (parent_column,)]
    single = len(group) == 1
    out: dict[Any, dict[str, str]] = defaultdict(dict)
    for chunk in chunks(ids):
        query = (
            select(*group, table.c.key, table.c.value)
            .where(table.c[parent_column].in_(chunk))
            .order_by(table.c.key)
        )
        for *parent, key, value in conn.execute(query):
            out[parent[0] if single else tuple(parent)][key] = "" if value is None else value
    return out


def page(
    conn: Connection,
    query: Select[Any],
    offset: int,
    limit: int,
    build: Callable[[Connection, Sequence[Any]], list[T]],
) -> PagedList[T]:
    """One page of a search: `limit` rows from `offset` made into entities by `build`, and
    the token of the next page when there is one (one more row is read to know)."""
    rows = conn.execute(query.offset(offset).limit(limit + 1)).all()
    token = encode_page_token(offset + limit) if len(rows) > limit else None
    return PagedList(build(conn, rows[:limit]), token)


def dialect_insert(conn: Connection, table: Table) -> Any:
    """An INSERT on `table` in the connection's dialect, which has `on_conflict_do_*`."""
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        return pg_insert(table)
    from sqlalchemy.dialects.sqlite import insert as sqlite_insert

    return sqlite_insert(table)


__all__ = ["IN_CHUNK", "chunks", "dialect_insert", "fetch_in", "key_values", "page"]
