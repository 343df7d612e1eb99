"""Short run ids, as git shortens commits: shown as a unique prefix, accepted as one.

Run ids are 32 hex characters, too wide for an 80-column table. Tables show the first
`SHORT_LENGTH` characters (more where two shown ids share them); anything that takes a
run id takes a prefix of one, resolved by one store query over every experiment.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from slipway.entities import ViewType
from slipway.errors import InvalidParameterValue, ResourceDoesNotExist

SHORT_LENGTH = 8
MIN_PREFIX = 4
_FULL_ID = re.compile(r"[0-9a-f]{32}")
_PREFIX = re.compile(r"[0-9a-f]+")
_MAX_EXPERIMENTS_PER_SEARCH = 100
_CANDIDATES_SHOWN = 10


def short_ids(run_ids: Sequence[str], length: int = SHORT_LENGTH) -> dict[str, str]:
    """The shortest prefix (at least `length`) of each id that no other given id shares."""
    ordered = sorted(set(run_ids))
    out: dict[str, str] = {}
    for i, rid in enumerate(ordered):
        shared = max(
            (_common(rid, ordered[j]) for j in (i - 1, i + 1) if 0 <= j < len(ordered)),
            default=0,
        )
        out[rid] = rid[: max(length, shared + 1)]
    return out


def _common(a: str, b: str) -> int:
    n = 0
    while n < min(len(a), len(b)) and a[n] == b[n]:
        n += 1
    return n


def shorten(value: str, length: int = SHORT_LENGTH, max_width: int = 40) -> str:
    """A URI or path for a narrow column: every 32-hex id in it cut to its first `length`
    characters (+ '…'), then, if still wider than `max_width`, its head elided."""
    value = re.sub(r"[0-9a-f]{32}", lambda m: m.group(0)[:length] + "…", value)
    return value if len(value) <= max_width else "…" + value[-(max_width - 1) :]


def resolve_run_id(client: Any, text: str) -> str:
    """The full id of the one run whose id starts with `text` (a full id passes through).

    Raises `ResourceDoesNotExist` when no run matches and `InvalidParameterValue` when the
    prefix is too short, not hex, or matches several runs (listed, so the user can pick).
    """
    text = text.strip().lower()
    if _FULL_ID.fullmatch(text):
        return text
    if not _PREFIX.fullmatch(text) or len(text) < MIN_PREFIX:
        raise InvalidParameterValue(
            f"{text!r} is not a run id: give the 32-character id or at least its first "
            f"{MIN_PREFIX} hex characters."
        )
    matches = _runs_with_prefix(client, text)
    if not matches:
        raise ResourceDoesNotExist(f"No run has an id starting with {text!r}.")
    if len(matches) > 1:
        listed = "; ".join(
            f"{r.info.run_id} ({r.info.run_name}, experiment {r.info.experiment_id})"
            for r in matches[:_CANDIDATES_SHOWN]
        )
        more = " and more" if len(matches) > _CANDIDATES_SHOWN else ""
        raise InvalidParameterValue(
            f"Run id prefix {text!r} is ambiguous: it matches {listed}{more}. Give more characters."
        )
    return matches[0].info.run_id


def _runs_with_prefix(client: Any, prefix: str) -> list[Any]:
    experiment_ids: list[str] = []
    token = None
    while True:
        page = client.search_experiments(ViewType.ALL, max_results=1000, page_token=token)
        experiment_ids.extend(e.experiment_id for e in page.items)
        token = page.next_page_token
        if not token:
            break
    found: list[Any] = []
    for i in range(0, len(experiment_ids), _MAX_EXPERIMENTS_PER_SEARCH):
        page = client.search_runs(
            experiment_ids[i : i + _MAX_EXPERIMENTS_PER_SEARCH],
            f"attributes.run_id LIKE '{prefix}%'",
            ViewType.ALL,
            max_results=_CANDIDATES_SHOWN + 1,
        )
        found.extend(page.items)
    return found


__all__ = ["MIN_PREFIX", "SHORT_LENGTH", "resolve_run_id", "short_ids", "shorten"]
