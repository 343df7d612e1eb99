"""Reference profiles: a dataset's statistics, built once in one streaming pass, reused.

`profile(data)` reads the data a batch of rows at a time (Parquet straight from the file)
and keeps, per column: its type, counts of missing and infinite values, min, max, mean and
std, the exact value counts while a numeric column has at most `DISTINCT_CAP` distinct
values, a fine histogram (`HISTOGRAM_BINS` equal bins that widen as the range grows), the
category counts of categorical columns (up to `CATEGORY_CAP`), and a uniform reservoir
sample of `sample_size` values (bottom-k random keys). A 10-million-row reference never sits
in memory: only one batch and the running statistics do.

File format (`.profile`): one Parquet file, one row per column, with the columns
`column` (string), `summary` (JSON text: the fields of the column's summary) and `values`
(list<double>: the sorted reservoir sample, empty for non-numeric columns). The file's
key-value metadata `slipway.profile` holds JSON: `{"format": 1, "rows": int,
"duplicate_share": float|null, "sample_size": int, "source": str, "created": ISO time,
"types": {column: type}, "kinds": {column: Arrow kind}}`. No pickle anywhere.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from slipway.errors import InvalidParameterValue
from slipway.monitoring.columns import (
    BOOLEAN,
    CATEGORICAL,
    DATETIME,
    INTEGER_CARDINALITY_LIMIT,
    NUMERIC,
    OTHER,
    TEXT,
    TEXT_DISTINCT_SHARE,
    check_column_types,
    physical_kind,
)
from slipway.monitoring.quality import RowHasher, duplicate_share
from slipway.monitoring.reading import open_binary, open_table, to_numpy, write_binary
from slipway.monitoring.summary import (
    CATEGORY_CAP,
    DISTINCT_CAP,
    CategoricalSummary,
    NumericSummary,
    Summary,
    TextSummary,
    numeric_values,
    summary_from_dict,
)

FORMAT_VERSION = 1
METADATA_KEY = b"slipway.profile"
DEFAULT_SAMPLE_SIZE = 100_000
HISTOGRAM_BINS = 2048
BATCH_ROWS = 65_536
# Strings with more distinct values than this are text whatever their share.
TEXT_TRACKING_CAP = 100_000


@dataclass
class ColumnProfile:
    """One column of a profile: its type, the Arrow kind it had, and its summary."""

    name: str
    type: str
    kind: str
    summary: Summary


@dataclass
class Profile:
    """A reference dataset's statistics: enough to run every drift test without it."""

    rows: int
    columns: dict[str, ColumnProfile]
    duplicate_share: float | None = None
    sample_size: int = DEFAULT_SAMPLE_SIZE
    source: str = ""
    created: str = ""

    def save(self, path: str) -> None:
        """Write the profile file (see the module docstring for the format)."""
        write_binary(str(path), self.to_bytes())

    def to_bytes(self) -> bytes:
        import pyarrow.parquet as pq

        names = list(self.columns)
        summaries = [json.dumps(self.columns[n].summary.to_dict()) for n in names]
        values = [
            c.summary.values.tolist() if isinstance(c.summary, NumericSummary) else []
            for c in self.columns.values()
        ]
        meta = {
            "format": FORMAT_VERSION,
            "rows": self.rows,
            "duplicate_share": self.duplicate_share,
            "sample_size": self.sample_size,
            "source": self.source,
            "created": self.created,
            "types": {n: c.type for n, c in self.columns.items()},
            "kinds": {n: c.kind for n, c in self.columns.items()},
        }
        table = pa.table(
            {
                "column": pa.array(names, pa.string()),
                "summary": pa.array(summaries, pa.string()),
                "values": pa.array(values, pa.list_(pa.float64())),
            }
        ).replace_schema_metadata({METADATA_KEY: json.dumps(meta).encode()})
        buf = io.BytesIO()
        pq.write_table(table, buf, compression="zstd")
        return buf.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes, source: str = "profile") -> Profile:
        import pyarrow.parquet as pq

        try:
            table = pq.read_table(io.BytesIO(data))
            meta = json.loads((table.schema.metadata or {})[METADATA_KEY])
        except (pa.ArrowInvalid, KeyError, ValueError) as exc:
            raise InvalidParameterValue(f"{source} is not a slipway profile ({exc}).") from exc
        if meta.get("format") != FORMAT_VERSION:
            raise InvalidParameterValue(
                f"{source} is a profile of format {meta.get('format')}; this slipway reads "
                f"format {FORMAT_VERSION}. Build the profile again."
            )
        columns = {}
        names = table.column("column").to_pylist()
        summaries = table.column("summary").to_pylist()
        values = table.column("values")
        for i, (name, text) in enumerate(zip(names, summaries, strict=True)):
            data_i = json.loads(text)
            vals = to_numpy(values[i].values).astype(np.float64)
            columns[name] = ColumnProfile(
                name, meta["types"][name], meta["kinds"][name], summary_from_dict(data_i, vals)
            )
        return cls(
            rows=int(meta["rows"]),
            columns=columns,
            duplicate_share=meta.get("duplicate_share"),
            sample_size=int(meta.get("sample_size", DEFAULT_SAMPLE_SIZE)),
            source=meta.get("source", ""),
            created=meta.get("created", ""),
        )

    def to_dict(self) -> dict[str, Any]:
        """A readable overview (no samples): rows, and each column's type and statistics."""
        return {
            "rows": self.rows,
            "duplicate_share": self.duplicate_share,
            "sample_size": self.sample_size,
            "source": self.source,
            "created": self.created,
            "columns": {
                n: {"type": c.type, **_overview(c.summary)} for n, c in self.columns.items()
            },
        }


def load_profile(path: str) -> Profile:
    """Read a profile file written by `Profile.save`."""
    with open_binary(str(path)) as f:
        return Profile.from_bytes(f.read(), source=str(path))


def profile(
    data: Any,
    *,
    column_types: dict[str, str] | None = None,
    sample_size: int = DEFAULT_SAMPLE_SIZE,
    seed: int = 0,
    batch_rows: int = BATCH_ROWS,
    progress: Callable[[int, int], None] | None = None,
) -> Profile:
    """Profile a dataset in one pass over its row batches (see the module docstring)."""
    if sample_size < 1:
        raise InvalidParameterValue(f"sample_size must be positive, got {sample_size}.")
    source = open_table(data, "reference")
    overrides = check_column_types(column_types)
    unknown = [c for c in overrides if c not in source.column_names]
    if unknown:
        raise InvalidParameterValue(f"No column {', '.join(map(repr, unknown))} in the data.")
    rng = np.random.default_rng(seed)
    builders = {
        f.name: _ColumnBuilder(f.name, physical_kind(f.type), overrides.get(f.name), sample_size)
        for f in source.schema
    }
    row_hashes: list[np.ndarray] = []
    done = 0
    for batch in source.batches(batch_rows):
        keys = rng.random(batch.num_rows)
        hasher = RowHasher(batch.num_rows)
        for name, builder in builders.items():
            col = batch.column(name)
            hasher.add(col)
            builder.add(col, keys)
        row_hashes.append(hasher.hashes)
        done += batch.num_rows
        if progress is not None:
            progress(done, source.num_rows)
    all_hashes = np.concatenate(row_hashes) if row_hashes else np.empty(0, np.uint64)
    columns = {name: b.finish() for name, b in builders.items()}
    return Profile(
        rows=done,
        columns=columns,
        duplicate_share=duplicate_share(all_hashes),
        sample_size=sample_size,
        source=source.name,
        created=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    )


# --- streaming statistics -----------------------------------------------------------------------
class _Histogram:
    """Equal-width bins whose width doubles (pairs merge) whenever the range must grow."""

    def __init__(self, bins: int = HISTOGRAM_BINS) -> None:
        self.bins = bins
        self.lo = math.nan
        self.width = math.nan
        self.counts = np.zeros(bins, dtype=np.int64)

    def add(self, x: np.ndarray) -> None:
        if not len(x):
            return
        lo, hi = float(x.min()), float(x.max())
        if math.isnan(self.lo):
            span = hi - lo
            self.lo = lo
            self.width = span / self.bins * 1.0001 if span > 0 else max(abs(lo), 1.0) * 2**-20
        while lo < self.lo or hi >= self.lo + self.width * self.bins:
            self._grow(down=lo < self.lo)
        idx = ((x - self.lo) / self.width).astype(np.int64)
        np.clip(idx, 0, self.bins - 1, out=idx)
        self.counts += np.bincount(idx, minlength=self.bins)

    def _grow(self, down: bool) -> None:
        merged = self.counts.reshape(-1, 2).sum(axis=1)
        half = self.bins // 2
        counts = np.zeros(self.bins, dtype=np.int64)
        if down:  # the old range becomes the upper half
            counts[half:] = merged
            self.lo -= self.width * self.bins
        else:
            counts[:half] = merged
        self.counts = counts
        self.width *= 2


class _ColumnBuilder:
    """Running statistics of one column over row batches."""

    def __init__(self, name: str, kind: str, column_type: str | None, sample_size: int) -> None:
        self.name = name
        self.kind = kind
        self.forced = column_type
        self.sample_size = sample_size
        self.numeric = kind in ("numeric", "integer", "datetime") and column_type not in (
            CATEGORICAL,
            BOOLEAN,
            TEXT,
        )
        self.categorical = kind in ("integer", "string", "boolean", "null") or column_type in (
            CATEGORICAL,
            BOOLEAN,
            TEXT,
        )
        self.rows = 0
        self.nulls = 0
        # numeric
        self.count = 0
        self.missing = 0
        self.infinite = 0
        self.min = math.inf
        self.max = -math.inf
        self.mean = 0.0
        self.m2 = 0.0
        self.sample = np.empty(0)
        self.sample_keys = np.empty(0)
        self.uniques: tuple[np.ndarray, np.ndarray] | None = (np.empty(0), np.empty(0, np.int64))
        self.hist = _Histogram()
        # categorical / text
        self.categories: dict[Any, int] = {}
        self.overflow = 0
        self.lengths = 0

    def add(self, col: pa.Array, keys: np.ndarray) -> None:
        self.rows += len(col)
        self.nulls += col.null_count
        if self.numeric:
            self._add_numeric(col, keys)
        if self.categorical:
            self._add_categories(col)

    def _add_numeric(self, col: pa.Array, keys: np.ndarray) -> None:
        x = numeric_values(pa.chunked_array([col]))
        finite_mask = np.isfinite(x)
        finite = x[finite_mask]
        inf = int(np.isinf(x).sum())
        self.infinite += inf
        self.missing += len(x) - len(finite) - inf
        n = len(finite)
        if not n:
            return
        # Chan et al.'s parallel update of mean and sum of squared deviations
        b_mean = float(finite.mean())
        b_m2 = float(((finite - b_mean) ** 2).sum())
        total = self.count + n
        delta = b_mean - self.mean
        self.mean += delta * n / total
        self.m2 += b_m2 + delta * delta * self.count * n / total
        self.count = total
        self.min = min(self.min, float(finite.min()))
        self.max = max(self.max, float(finite.max()))
        self.hist.add(finite)
        # bottom-k reservoir: keep the values with the smallest random keys
        k = keys[finite_mask]
        if len(self.sample) >= self.sample_size:
            cut = self.sample_keys.max()
            keep = k < cut
            finite_s, k = finite[keep], k[keep]
        else:
            finite_s = finite
        if len(finite_s):
            values = np.concatenate([self.sample, finite_s])
            all_keys = np.concatenate([self.sample_keys, k])
            if len(values) > self.sample_size:
                pick = np.argpartition(all_keys, self.sample_size - 1)[: self.sample_size]
                values, all_keys = values[pick], all_keys[pick]
            self.sample, self.sample_keys = values, all_keys
        if self.uniques is not None:
            u, c = np.unique(finite, return_counts=True)
            merged = np.concatenate([self.uniques[0], u])
            weights = np.concatenate([self.uniques[1], c])
            keys_u, inverse = np.unique(merged, return_inverse=True)
            if len(keys_u) > DISTINCT_CAP:
                self.uniques = None
            else:
                self.uniques = (keys_u, np.bincount(inverse, weights=weights).astype(np.int64))

    def _add_categories(self, col: pa.Array) -> None:
        if self.overflow < 0:  # stopped tracking: too many distinct strings
            return
        if pa.types.is_floating(col.type) or pa.types.is_decimal(col.type):
            x = numeric_values(pa.chunked_array([col]))
            u, c = np.unique(x[np.isfinite(x)], return_counts=True)
            for v, n in zip(u.tolist(), c.tolist(), strict=True):
                self.categories[v] = self.categories.get(v, 0) + n
            return
        if pa.types.is_dictionary(col.type):
            col = col.cast(col.type.value_type)
        if self.kind == "string":
            lengths = pc.sum(pc.utf8_length(col)).as_py()
            self.lengths += lengths or 0
        vc = pc.value_counts(col)
        values = vc.field("values").to_pylist()
        counts = vc.field("counts").to_pylist()
        cats = self.categories
        for v, n in zip(values, counts, strict=True):
            if v is not None:
                cats[v] = cats.get(v, 0) + n
        if len(cats) > TEXT_TRACKING_CAP:
            self.overflow = -1
            self.categories = {}
        elif self.kind == "integer" and len(cats) > INTEGER_CARDINALITY_LIMIT and not self.forced:
            self.categorical = False  # numeric: the integer rule has decided

    def _column_type(self) -> str:
        if self.forced:
            return self.forced
        if self.kind == "numeric":
            return NUMERIC
        if self.kind == "integer":
            distinct = len(self.categories) if self.categorical else INTEGER_CARDINALITY_LIMIT + 1
            return CATEGORICAL if distinct <= INTEGER_CARDINALITY_LIMIT else NUMERIC
        if self.kind == "boolean":
            return BOOLEAN
        if self.kind == "string":
            valid = self.rows - self.nulls
            if self.overflow < 0:
                return TEXT
            return (
                TEXT
                if valid and len(self.categories) > valid * TEXT_DISTINCT_SHARE
                else (CATEGORICAL)
            )
        if self.kind == "datetime":
            return DATETIME
        if self.kind == "null":
            return CATEGORICAL
        return OTHER

    def finish(self) -> ColumnProfile:
        column_type = self._column_type()
        if column_type in (NUMERIC, DATETIME):
            summary: Summary = self._numeric_summary()
        elif column_type in (CATEGORICAL, BOOLEAN):
            summary = self._categorical_summary()
        else:
            valid = self.rows - self.nulls
            summary = TextSummary(valid, self.nulls, self.lengths / valid if valid else math.nan)
        return ColumnProfile(self.name, column_type, self.kind, summary)

    def _numeric_summary(self) -> NumericSummary:
        order = np.argsort(self.sample)
        values = self.sample[order]
        n = self.count
        hist = None
        if n and not math.isnan(self.hist.lo):
            hist = (self.hist.lo, self.hist.width, self.hist.counts)
        return NumericSummary(
            count=n,
            missing=self.missing,
            infinite=self.infinite,
            minimum=self.min if n else math.nan,
            maximum=self.max if n else math.nan,
            mean=self.mean if n else math.nan,
            std=math.sqrt(self.m2 / n) if n else math.nan,
            values=values,
            sampled=len(values) < n,
            distinct=None if self.uniques is None else len(self.uniques[0]),
            value_counts=self.uniques if n else None,
            integer=self.kind == "integer" and self.nulls == 0,
            histogram=hist,
        )

    def _categorical_summary(self) -> CategoricalSummary:
        items = sorted(self.categories.items(), key=lambda kv: -kv[1])
        kept, rest = items[:CATEGORY_CAP], items[CATEGORY_CAP:]
        try:
            kept.sort(key=lambda kv: kv[0])
        except TypeError:
            kept.sort(key=lambda kv: str(kv[0]))
        count = sum(n for _, n in items)
        return CategoricalSummary(
            count=count,
            missing=self.rows - count,
            categories=[k for k, _ in kept],
            counts=np.array([n for _, n in kept], dtype=np.int64),
            other=sum(n for _, n in rest),
        )


def _overview(summary: Summary) -> dict[str, Any]:
    data = summary.to_dict()
    data.pop("value_counts", None)
    data.pop("histogram", None)
    if "categories" in data and len(data["categories"]) > 20:
        data["categories"] = [*data["categories"][:20], "…"]
        data["counts"] = data["counts"][:20]
    return data


__all__ = [
    "DEFAULT_SAMPLE_SIZE",
    "FORMAT_VERSION",
    "ColumnProfile",
    "Profile",
    "load_profile",
    "profile",
]
