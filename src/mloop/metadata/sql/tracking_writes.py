"""Tracking writes on SQL: many runs' rows, tags, params, metrics and final states in one
transaction, sent to the driver as ``executemany`` of fixed statements (on a ``WriteLane``
transaction: the driver connection, no SQLAlchemy ``Connection``; see ``lane.py``).

Why: a commit costs ~0.2 ms on SQLite (WAL, ``synchronous=NORMAL``) and SQLAlchemy building and
binding a statement per call another ~0.1-0.3 ms, while the rows themselves cost microseconds
(bench/bench_tracking.py). The SQL below is the same on SQLite and PostgreSQL (``ON CONFLICT``
needs SQLite >= 3.24); only the placeholder and the time representation differ.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import datetime, timezone
from typing import Any

from mloop._utils.clock import as_utc, utc_now
from mloop.errors import RunNotFoundError, ValidationError
from mloop.metadata.entities import Metric, Run
from mloop.metadata.run_writes import RunFinish, RunWrites
from mloop.metadata.sql import rows
from mloop.metadata.sql.lane import DriverTx

IN_CHUNK = 500
"""Ids per ``IN (...)`` list, well under SQLite's bound-parameter limit."""

_INSERT_METRICS = (
    'INSERT INTO metrics (run_id, execution_id, key, value, step, "timestamp") VALUES ({m})'
)
_UPSERT_LATEST = (
    'INSERT INTO latest_metrics (run_id, key, value, step, "timestamp") VALUES ({m}) '
    "ON CONFLICT (run_id, key) DO UPDATE SET value = excluded.value, step = excluded.step, "
    '"timestamp" = excluded."timestamp" WHERE excluded.step > latest_metrics.step OR '
    '(excluded.step = latest_metrics.step AND excluded."timestamp" >= latest_metrics."timestamp")'
)
_INSERT_RUNS = (
    "INSERT INTO runs (id, experiment, name, state, started_at, ended_at, heartbeat_at, "
    'pipeline_name, pipeline_version, pipeline_params, "trigger", environment, parent_run_id, '
    "error, host, pid, options) VALUES ({m})"
)
_FINISH_RUNS = "UPDATE runs SET state = {1}, error = {1}, ended_at = {1} WHERE id = {1}"
_INSERT_PARAMS = (
    "INSERT INTO params (run_id, key, value) VALUES ({m}) ON CONFLICT (run_id, key) DO NOTHING"
)
_UPSERT_TAGS = (
    "INSERT INTO tags (run_id, key, value) VALUES ({m}) "
    "ON CONFLICT (run_id, key) DO UPDATE SET value = excluded.value"
)
_EXISTING_RUNS = "SELECT id FROM runs WHERE id IN ({m})"
_STORED_PARAMS = "SELECT run_id, key, value FROM params WHERE run_id IN ({m})"
_SQL: dict[tuple[str, int, str], str] = {}


def _sql(tx: DriverTx, template: str, columns: int = 1) -> str:
    """``template`` with the driver's placeholders: ``{m}`` is ``columns`` of them, ``{1}`` one
    (built once per template, width and driver)."""
    key = (template, columns, tx.mark)
    sql = _SQL.get(key)
    if sql is None:
        sql = template.replace("{m}", ", ".join([tx.mark] * columns)).replace("{1}", tx.mark)
        _SQL[key] = sql
    return sql


class _Stamps:
    """Times as the column stores them: SQLAlchemy's SQLite text, or aware UTC for PostgreSQL;
    one conversion per distinct time in a batch."""

    def __init__(self, tx: DriverTx) -> None:
        self.text = tx.sqlite
        self.seen: dict[datetime, Any] = {}
        self.last: tuple[datetime | None, Any] = (None, None)

    def __call__(self, value: datetime | None) -> Any:
        if value is None:
            return None
        if value is self.last[0]:  # the values of one call share one time object
            return self.last[1]
        if value not in self.seen:
            utc = value if value.tzinfo is timezone.utc else as_utc(value)
            # the text SQLAlchemy's SQLite DateTime stores; isoformat is 3x faster than strftime
            self.seen[value] = (
                utc.replace(tzinfo=None).isoformat(" ", "microseconds") if self.text else utc
            )
        self.last = (value, self.seen[value])
        return self.last[1]


def _run_values(run: Run, stamp: _Stamps, finish: RunFinish | None) -> tuple[Any, ...]:
    return (
        run.id,
        run.experiment,
        run.name,
        (finish.state if finish else run.state).value,
        stamp(run.started_at),
        stamp(finish.at if finish else run.ended_at),
        stamp(run.heartbeat_at),
        run.pipeline_name,
        run.pipeline_version,
        json.dumps(dict(run.pipeline_params)) if run.pipeline_params else "{}",
        run.trigger,
        run.environment,
        run.parent_run_id,
        finish.error if finish else run.error,
        run.host,
        run.pid,
        json.dumps(dict(run.options)) if run.options else None,
    )


def insert_run(tx: DriverTx, run: Run) -> None:
    """Insert the row of a new run (its tags: :func:`insert_tags`)."""
    tx.execute(_sql(tx, _INSERT_RUNS, 17), _run_values(run, _Stamps(tx), None))


def insert_tags(tx: DriverTx, tag_rows: list[tuple[str, str, str]]) -> None:
    """Upsert ``(run_id, key, value)`` rows (a key set again is overwritten)."""
    if tag_rows:
        tx.many(_sql(tx, _UPSERT_TAGS, 3), tag_rows)


def insert_params(tx: DriverTx, wanted: dict[str, dict[str, str]]) -> None:
    """Insert run id -> {key: value}; raise ``ValidationError`` if a key already holds another
    value. The check reads back only when some row was already there (the row count tells)."""
    param_rows = [(run_id, k, v) for run_id, values in wanted.items() for k, v in values.items()]
    if not param_rows:
        return
    if tx.many(_sql(tx, _INSERT_PARAMS, 3), param_rows) == len(param_rows):
        return  # every row was new: nothing to compare
    stored: dict[tuple[str, str], str] = {}
    for chunk in chunks(list(wanted)):
        for run_id, key, value in tx.fetch(_sql(tx, _STORED_PARAMS, len(chunk)), chunk):
            stored[(run_id, key)] = value
    for run_id, key, value in param_rows:
        old = stored.get((run_id, key))
        if old != value:
            raise ValidationError(
                f"param {key!r} of run {run_id} is already {old!r}; it cannot "
                f"become {value!r} (params describe a run and never change: log a "
                "metric or a tag instead, or start a new run)"
            )


def insert_metrics(tx: DriverTx, by_run: Iterable[tuple[str, Sequence[Metric]]]) -> None:
    """Append metric values and move ``latest_metrics`` forward, with two driver statements."""
    now = utc_now()
    stamp = _Stamps(tx)
    history: list[tuple[Any, ...]] = []
    latest: dict[tuple[str, str], tuple[tuple[int, datetime], tuple[Any, ...]]] = {}
    for run_id, metrics in by_run:
        for m in metrics:
            value: Any = m.value
            if type(value) is not float or value != value:  # not a plain float, or NaN
                value = rows.encode_value(m.key, value)
            step, when = int(m.step), m.timestamp or now
            history.append((run_id, m.execution_id, m.key, value, step, stamp(when)))
            order = (step, when if when.tzinfo is timezone.utc else as_utc(when))
            best = latest.get((run_id, m.key))
            if best is None or order >= best[0]:
                latest[(run_id, m.key)] = (order, (run_id, m.key, value, step, stamp(when)))
    if not history:
        return
    tx.many(_sql(tx, _INSERT_METRICS, 6), history)
    tx.many(_sql(tx, _UPSERT_LATEST, 5), [row for _, row in latest.values()])


def write_runs(tx: DriverTx, writes: Sequence[RunWrites]) -> None:
    """Apply ``writes`` inside the caller's transaction. Raises ``RunNotFoundError`` for a
    write on a run that is neither new here nor stored, ``ValidationError`` for a changed
    param; the caller's transaction then rolls back, so none of it lands.

    Final states are set with the new rows (a run started and ended here is inserted ended;
    inside one transaction the outcome is the same as in call order), and the UPDATE's row
    count proves the other ended runs exist (no SELECT)."""
    stamp = _Stamps(tx)
    new = [w.create for w in writes if w.create is not None]
    if new:  # a run started and ended in this batch is inserted in its final state: no UPDATE
        tx.many(
            _sql(tx, _INSERT_RUNS, 17),
            [_run_values(w.create, stamp, w.finish) for w in writes if w.create is not None],
        )
    finishes = [
        (w.finish.state.value, w.finish.error, stamp(w.finish.at), w.run_id)
        for w in writes
        if w.finish is not None and w.create is None
    ]
    if finishes and tx.many(_sql(tx, _FINISH_RUNS), finishes) != len(finishes):
        require_runs(tx, [f[3] for f in finishes])
    proven = {r.id for r in new} | {f[3] for f in finishes}
    require_runs(tx, sorted({w.run_id for w in writes} - proven))
    insert_tags(
        tx,
        [
            (w.run_id, k, v)
            for w in writes
            for k, v in ({**w.create.tags, **w.tags} if w.create else w.tags).items()
        ],
    )
    wanted: dict[str, dict[str, str]] = {}
    for w in writes:
        if w.params:
            wanted.setdefault(w.run_id, {}).update(w.params)
    insert_params(tx, wanted)
    insert_metrics(tx, [(w.run_id, w.metrics) for w in writes if w.metrics])


def require_runs(tx: DriverTx, run_ids: Sequence[str]) -> None:
    """Raise ``RunNotFoundError`` for the first of ``run_ids`` that is not stored."""
    found: set[str] = set()
    for chunk in chunks(run_ids):
        found.update(row[0] for row in tx.fetch(_sql(tx, _EXISTING_RUNS, len(chunk)), chunk))
    missing = [rid for rid in run_ids if rid not in found]
    if missing:
        raise RunNotFoundError(missing[0])


def chunks(items: Sequence[str]) -> Iterable[Sequence[str]]:
    for start in range(0, len(items), IN_CHUNK):
        yield items[start : start + IN_CHUNK]
