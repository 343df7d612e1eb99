"""`SqlTrackingStore`: the tracking store on SQL (SQLite by default, PostgreSQL).

Semantics follow MLflow's SqlAlchemyStore so that an mlflow client sees the same answers:
experiment "0" is "Default", params are immutable, metric NaN is stored as `is_nan` and
+/-inf as +/-DBL_MAX, `latest_metrics` keeps the point with the greatest (step, timestamp,
value) per key. Every write is one transaction (see `slipway.store.db`), so a batch lands
whole or not at all.

This class checks input and runs each call's transaction; the SQL lives by concern in
`experiments`, `runs`, `run_search` and `hot_paths` (the calls every run makes, on the
bare DBAPI cursor).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from sqlalchemy import Connection
from sqlalchemy.exc import IntegrityError

from slipway.entities import (
    DatasetInput,
    Experiment,
    LoggedModelMetric,
    Metric,
    PagedList,
    Param,
    Run,
    RunData,
    RunInfo,
    Tag,
    ViewType,
    now_ms,
)
from slipway.errors import InvalidParameterValue
from slipway.store.db import (
    create_engine_for,
    run_in_cursor_transaction,
    run_in_transaction,
    upgrade,
)
from slipway.store.interface import (
    MAX_TAG_VAL_LENGTH,
    SEARCH_MAX_RESULTS_DEFAULT,
    TrackingStore,
)
from slipway.store.names import generate_run_name
from slipway.store.sampling import DEFAULT_MAX_POINTS
from slipway.store.search import decode_page_token, parse_filter, parse_order_by_list
from slipway.store.sql import experiments, hot_paths, run_search, run_stats, runs
from slipway.store.sql.experiments import DEFAULT_EXPERIMENT_ID
from slipway.store.sql.locations import normalize_root
from slipway.store.sql.registry import logged_models
from slipway.store.sql.rows import page
from slipway.store.sql.runs import RUN_NAME_TAG
from slipway.store.sql.validation import (
    model_output_rows,
    parse_experiment_id,
    parse_view_type,
    validate_artifact_location,
    validate_dataset_inputs,
    validate_experiment_name,
    validate_key,
    validate_max_results,
    validate_model_inputs,
    validate_run_name,
    validate_status,
    validate_value,
)

T = TypeVar("T")

# SQLite planner statistics are refreshed from this many runs on (see _refresh_planner_stats).
_ANALYZE_MIN_RUNS = 1000
# How often (in runs this store created) the statistics are checked.
_STATS_CHECK_RUNS = 250
# PostgreSQL: the tables a search reads, and the changed share that makes their stats stale.
_PG_SEARCHED_TABLES = ("runs", "params", "tags", "latest_metrics", "experiments")
_PG_STALE_SHARE = 0.1
_PG_STALE_MIN_ROWS = 200


class SqlTrackingStore(TrackingStore):
    """Experiments, runs, params, metrics, tags and dataset inputs in one SQL database."""

    def __init__(self, db_uri: str, default_artifact_root: str) -> None:
        self.db_uri = db_uri
        self.default_artifact_root = normalize_root(default_artifact_root)
        self.engine = create_engine_for(db_uri)
        self.dialect = self.engine.dialect.name
        self._mark = "?" if self.engine.dialect.paramstyle == "qmark" else "%s"
        upgrade(self.engine)
        if not self._read(experiments.default_exists):
            self._write(lambda conn: experiments.create_default(conn, self.default_artifact_root))
        self._runs_created = 0
        self._refresh_planner_stats()

    # --- transactions ----------------------------------------------------------------
    def _write(self, fn: Callable[[Connection], T]) -> T:
        return run_in_transaction(self.engine, fn, write=True)

    def _read(self, fn: Callable[[Connection], T]) -> T:
        return run_in_transaction(self.engine, fn, write=False)

    def _write_cursor(self, fn: Callable[[Any], T]) -> T:
        """A write transaction around `fn(cursor)`: the hot paths' plain DBAPI statements."""
        return run_in_cursor_transaction(self.engine, fn, write=True)

    def close(self) -> None:
        self.engine.dispose()

    def _refresh_planner_stats(self) -> None:
        """Refresh the planner's table statistics when missing or stale.

        SQLite: when the runs table doubled since the last (sampled, at most ~1000 rows per
        index) `ANALYZE`. PostgreSQL: when a tenth of the rows of a searched table changed
        since it was last analysed; autovacuum may be off or late after bulk writes, and a
        search planned on an empty table's guesses took 402 ms instead of 17.6 ms. Checked
        when the store opens and every `_STATS_CHECK_RUNS` runs it creates.
        """
        if self.dialect == "sqlite":
            if self._read(_planner_stats_stale):
                self._write(_analyze)
        elif self.dialect == "postgresql":
            stale = self._read(_pg_stale_tables)
            if stale:
                with self.engine.connect() as conn:  # ANALYZE runs outside a transaction block
                    conn = conn.execution_options(isolation_level="AUTOCOMMIT")
                    conn.exec_driver_sql("ANALYZE " + ", ".join(stale))

    # --- experiments -----------------------------------------------------------------
    def create_experiment(
        self, name: str, artifact_location: str | None = None, tags: dict[str, str] | None = None
    ) -> str:
        name = validate_experiment_name(name)
        tag_rows = [
            {
                "key": validate_key("Tag", k),
                "value": validate_value("Tag", k, v, MAX_TAG_VAL_LENGTH),
            }
            for k, v in (tags or {}).items()
        ]
        location = None
        if artifact_location:
            location = validate_artifact_location(normalize_root(artifact_location))
        root = self.default_artifact_root
        return self._write(lambda conn: experiments.create(conn, name, location, tag_rows, root))

    def get_experiment(self, experiment_id: str) -> Experiment:
        return self._read(lambda conn: experiments.get(conn, experiment_id))

    def get_experiment_by_name(self, name: str) -> Experiment | None:
        return self._read(lambda conn: experiments.get_by_name(conn, name))

    def search_experiments(
        self,
        view_type: ViewType = ViewType.ACTIVE_ONLY,
        max_results: int = SEARCH_MAX_RESULTS_DEFAULT,
        filter_string: str | None = None,
        order_by: Sequence[str] | None = None,
        page_token: str | None = None,
    ) -> PagedList[Experiment]:
        limit = validate_max_results(max_results)
        query = experiments.search_query(
            parse_view_type(view_type).stages(),
            parse_filter(filter_string, target="experiments"),
            parse_order_by_list(order_by, target="experiments"),
            self.dialect,
        )
        offset = decode_page_token(page_token)
        build = experiments.experiments_from_rows
        return self._read(lambda conn: page(conn, query, offset, limit, build))

    def delete_experiment(self, experiment_id: str) -> None:
        if parse_experiment_id(experiment_id) == DEFAULT_EXPERIMENT_ID:
            raise InvalidParameterValue(
                "The Default experiment (id 0) cannot be deleted; it holds runs that name no "
                "experiment. Delete its runs instead."
            )
        self._write(lambda conn: experiments.delete(conn, experiment_id))

    def restore_experiment(self, experiment_id: str) -> None:
        self._write(lambda conn: experiments.restore(conn, experiment_id))

    def rename_experiment(self, experiment_id: str, new_name: str) -> None:
        new_name = validate_experiment_name(new_name)
        self._write(lambda conn: experiments.rename(conn, experiment_id, new_name))

    def set_experiment_tag(self, experiment_id: str, key: str, value: str) -> None:
        key = validate_key("Tag", key)
        value = validate_value("Tag", key, value, MAX_TAG_VAL_LENGTH)
        self._write(lambda conn: experiments.set_tag(conn, experiment_id, key, value))

    def delete_experiment_tag(self, experiment_id: str, key: str) -> None:
        self._write(lambda conn: experiments.delete_tag(conn, experiment_id, key))

    # --- runs ------------------------------------------------------------------------
    def create_run(
        self,
        experiment_id: str,
        user_id: str,
        start_time: int,
        tags: dict[str, str] | None = None,
        run_name: str | None = None,
    ) -> Run:
        tags = {
            validate_key("Tag", k): validate_value("Tag", k, v, MAX_TAG_VAL_LENGTH)
            for k, v in (tags or {}).items()
        }
        tag_name = tags.get(RUN_NAME_TAG)
        if run_name and tag_name and run_name != tag_name:
            raise InvalidParameterValue(
                f"Both run_name={run_name!r} and the tag {RUN_NAME_TAG}={tag_name!r} were given "
                "with different values; give one of them."
            )
        name = validate_run_name(run_name or tag_name or generate_run_name())
        tags[RUN_NAME_TAG] = name
        start = int(start_time) if start_time is not None else now_ms()
        exp_id = parse_experiment_id(
            DEFAULT_EXPERIMENT_ID if experiment_id is None else experiment_id
        )
        user_id = user_id or ""
        mark = self._mark
        info = self._write_cursor(
            lambda cur: hot_paths.create_run(cur, mark, exp_id, name, user_id, start, tags)
        )
        self._runs_created += 1
        if self._runs_created % _STATS_CHECK_RUNS == 0:
            self._refresh_planner_stats()
        # A new run holds just what was written: no need to read it back.
        return Run(info=info, data=RunData(tags=tags))

    def get_run(self, run_id: str) -> Run:
        return self._read(lambda conn: runs.get_run(conn, run_id))

    def update_run_info(
        self,
        run_id: str,
        status: str | None = None,
        end_time: int | None = None,
        run_name: str | None = None,
    ) -> RunInfo:
        values: dict[str, Any] = {}
        if status is not None:
            values["status"] = validate_status(status)
        if end_time is not None:
            values["end_time"] = int(end_time)
        if run_name:
            values["name"] = validate_run_name(run_name)
        run_id = str(run_id)
        mark, dialect = self._mark, self.dialect
        return self._write_cursor(
            lambda cur: hot_paths.update_run(cur, mark, dialect, run_id, values)
        )

    def end_run(
        self,
        run_id: str,
        status: str,
        end_time: int,
        metrics: tuple[Sequence[str], Sequence[float], Sequence[int], Sequence[int]] | None = None,
    ) -> RunInfo:
        """The run's last metric points and its end in one transaction."""
        values = {"status": validate_status(status), "end_time": int(end_time)}
        points = hot_paths.prepare_metric_columns(*metrics) if metrics is not None else None
        run_id = str(run_id)
        mark, dialect = self._mark, self.dialect

        def end(cur: Any) -> RunInfo:
            if points is not None:
                hot_paths.log_metric_points(cur, mark, dialect, run_id, points)
            return hot_paths.update_run(cur, mark, dialect, run_id, values)

        return self._write_cursor(end)

    def delete_run(self, run_id: str) -> None:
        self._write(lambda conn: runs.delete_run(conn, run_id))

    def restore_run(self, run_id: str) -> None:
        self._write(lambda conn: runs.restore_run(conn, run_id))

    # --- logging ---------------------------------------------------------------------
    def log_batch(
        self,
        run_id: str,
        metrics: Sequence[Metric] = (),
        params: Sequence[Param] = (),
        tags: Sequence[Tag] = (),
    ) -> None:
        batch = hot_paths.prepare_batch(metrics, params, tags)
        run_id = str(run_id)
        mark, dialect = self._mark, self.dialect
        self._write_cursor(lambda cur: hot_paths.log_batch(cur, mark, dialect, run_id, batch))

    def log_metric_columns(
        self,
        run_id: str,
        keys: Sequence[str],
        values: Sequence[float],
        timestamps: Sequence[int],
        steps: Sequence[int],
    ) -> None:
        points = hot_paths.prepare_metric_columns(keys, values, timestamps, steps)
        if points is None:
            self._read(lambda conn: runs.active_run_row(conn, run_id))
            return
        run_id = str(run_id)
        mark, dialect = self._mark, self.dialect
        self._write_cursor(
            lambda cur: hot_paths.log_metric_points(cur, mark, dialect, run_id, points)
        )

    def delete_tag(self, run_id: str, key: str) -> None:
        self._write(lambda conn: runs.delete_tag(conn, run_id, key))

    def log_inputs(
        self, run_id: str, datasets: Sequence[DatasetInput], models: Sequence[str] = ()
    ) -> None:
        items = list(datasets or ())
        validate_dataset_inputs(items)
        model_ids = validate_model_inputs(models)

        def write(conn: Connection) -> None:
            runs.log_inputs(conn, run_id, items)
            runs.log_model_inputs(conn, run_id, model_ids)

        try:
            self._write(write)
        except IntegrityError:
            # Another writer logged the same dataset at the same moment (PostgreSQL);
            # the second attempt finds its rows and links to them.
            self._write(write)

    def search_datasets(self, experiment_ids: Sequence[str]) -> list[dict[str, Any]]:
        ids = [parse_experiment_id(i) for i in experiment_ids]
        return self._read(lambda conn: runs.dataset_summaries(conn, ids))

    def log_model_metrics(self, run_id: str, metrics: Sequence[LoggedModelMetric]) -> None:
        points = list(metrics)
        hot_paths.prepare_batch(
            [Metric(p.key, p.value, p.timestamp, p.step) for p in points], (), ()
        )

        def link(conn: Connection) -> list[Metric]:
            runs.active_run_row(conn, run_id)
            return logged_models.link_metrics(conn, run_id, points)

        new = self._write(link)
        if new:
            self.log_batch(run_id, metrics=new)

    def log_outputs(self, run_id: str, models: Sequence[dict[str, Any]]) -> None:
        rows = model_output_rows(run_id, models)
        if rows:
            self._write(lambda conn: runs.log_outputs(conn, run_id, rows))

    def get_metric_history(
        self,
        run_id: str,
        key: str,
        max_results: int | None = None,
        page_token: str | None = None,
    ) -> PagedList[Metric]:
        limit = None if max_results is None else validate_max_results(max_results, 2**31 - 1)
        offset = decode_page_token(page_token)
        return self._read(lambda conn: runs.metric_history(conn, run_id, key, offset, limit))

    # --- search ----------------------------------------------------------------------
    def search_runs(
        self,
        experiment_ids: Sequence[str],
        filter_string: str = "",
        run_view_type: ViewType = ViewType.ACTIVE_ONLY,
        max_results: int = SEARCH_MAX_RESULTS_DEFAULT,
        order_by: Sequence[str] | None = None,
        page_token: str | None = None,
    ) -> PagedList[Run]:
        if isinstance(experiment_ids, str | int):
            experiment_ids = [str(experiment_ids)]
        exp_ids = tuple(parse_experiment_id(e) for e in experiment_ids or ())
        limit = validate_max_results(max_results)
        stages = tuple(parse_view_type(run_view_type).stages())
        filter_string = filter_string or ""
        order = tuple(order_by or ())
        # Parsed here too, so a bad filter is refused before the database is touched.
        run_search.cached_search(exp_ids, filter_string, order, stages, self.dialect)
        offset = decode_page_token(page_token)
        if not exp_ids:
            return PagedList([], None)
        dialect = self.dialect

        def search(conn: Connection) -> PagedList[Run]:
            query = run_search.cached_query(exp_ids, filter_string, order, stages, dialect, conn)
            return page(conn, query, offset, limit, runs.runs_from_rows)

        return self._read(search)

    def count_runs(
        self,
        experiment_ids: Sequence[str],
        filter_string: str = "",
        run_view_type: ViewType = ViewType.ACTIVE_ONLY,
    ) -> int:
        if isinstance(experiment_ids, str | int):
            experiment_ids = [str(experiment_ids)]
        exp_ids = [parse_experiment_id(e) for e in experiment_ids or ()]
        stages = parse_view_type(run_view_type).stages()
        comparisons = parse_filter(filter_string, target="runs")
        if not exp_ids:
            return 0
        query = run_search.search_runs_query(exp_ids, comparisons, [], stages, self.dialect)
        return self._read(lambda conn: int(conn.execute(run_stats.count_query(query)).scalar()))

    def summarize_runs(self, experiment_ids: Sequence[str]) -> dict[str, tuple[int, int | None]]:
        exp_ids = [parse_experiment_id(e) for e in experiment_ids]
        return self._read(lambda conn: run_stats.run_summaries(conn, exp_ids))

    def get_metric_history_thinned(
        self, run_id: str, key: str, max_points: int = DEFAULT_MAX_POINTS
    ) -> list[Metric]:
        limit = validate_max_results(max_points, 100_000)
        return self._read(
            lambda conn: run_stats.thinned_history(conn, run_id, key, limit, self._mark)
        )


def _planner_stats_stale(conn: Connection) -> bool:
    """Whether SQLite's statistics are missing, or older than half the runs there are."""
    runs_now = conn.exec_driver_sql("SELECT max(rowid) FROM runs").scalar() or 0
    if runs_now < _ANALYZE_MIN_RUNS:
        return False
    if not conn.exec_driver_sql("SELECT 1 FROM sqlite_master WHERE name = 'sqlite_stat1'").first():
        return True
    stat = conn.exec_driver_sql(
        "SELECT stat FROM sqlite_stat1 WHERE tbl = 'runs' AND idx = 'ix_runs_experiment_start'"
    ).scalar()
    analyzed = int(stat.split()[0]) if stat else 0
    return runs_now > 2 * analyzed


def _pg_stale_tables(conn: Connection) -> list[str]:
    """The searched tables whose statistics are missing or a tenth out of date."""
    rows = conn.exec_driver_sql(
        "SELECT relname, n_live_tup, n_mod_since_analyze, "
        "coalesce(last_analyze, last_autoanalyze) IS NULL "
        "FROM pg_stat_user_tables WHERE relid = ANY(%(ids)s)",
        {"ids": [_pg_regclass(conn, t) for t in _PG_SEARCHED_TABLES]},
    ).all()
    stale = []
    for name, live, changed, never in rows:
        if changed >= _PG_STALE_MIN_ROWS and (never or changed > _PG_STALE_SHARE * live):
            stale.append(name)
    return stale


def _pg_regclass(conn: Connection, table: str) -> int:
    return conn.exec_driver_sql("SELECT to_regclass(%(t)s)::oid", {"t": table}).scalar() or 0


def _analyze(conn: Connection) -> None:
    conn.exec_driver_sql("PRAGMA analysis_limit=1000")
    conn.exec_driver_sql("ANALYZE")


__all__ = ["SqlTrackingStore"]
