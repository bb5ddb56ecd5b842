"""Every SQL statement of the CloudWatch API. One call, one transaction.

The engine comes from oslo.db's enginefacade (pool settings, MySQL
sql_mode, connection ping and error translation as Heat has them), and
statements are SQLAlchemy Core. Deadlocks, lost connections and a
concurrent insert of the same metric or alarm make the whole transaction
retry, so a request is either fully stored or not at all.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable, Iterable, Sequence
from typing import Any, TypeVar

import sqlalchemy as sa
from oslo_db import api as oslo_db_api
from oslo_db import exception as db_exc
from sqlalchemy.engine import Connection, Engine

from heat_wsgi.cw import model
from heat_wsgi.cw.errors import CloudWatchError
from heat_wsgi.cw.schema import alarms, metrics, samples

T = TypeVar("T")

_retry = oslo_db_api.wrap_db_retry(
    max_retries=5, retry_on_deadlock=True, retry_on_disconnect=True,
    exception_checker=lambda exc: isinstance(exc, db_exc.DBDuplicateEntry))


def make_engine(connection: str) -> Engine:
    """An engine built by oslo.db, configured from the given URL."""
    from oslo_db.sqlalchemy import enginefacade
    context = enginefacade.transaction_context()
    context.configure(connection=connection)
    engine: Engine = context.writer.get_engine()
    return engine


class Store:
    """The database of one API process.

    The engine is made on first use in each process: uwsgi may fork workers
    from a master that loaded the app, and a pooled connection must never
    be shared across a fork.
    """

    def __init__(self, engine_factory: Callable[[], Engine]) -> None:
        self._factory = engine_factory
        self._engine: Engine | None = None
        self._pid = 0
        self._lock = threading.Lock()

    @property
    def engine(self) -> Engine:
        with self._lock:
            if self._engine is None or self._pid != os.getpid():
                if self._engine is not None:
                    # Inherited from the parent: drop its pool without
                    # closing the parent's sockets.
                    self._engine.dispose(close=False)
                self._engine = self._factory()
                self._pid = os.getpid()
            return self._engine

    def _run(self, work: Callable[[Connection], T]) -> T:
        def attempt() -> T:
            with self.engine.begin() as conn:
                return work(conn)
        result: T = _retry(attempt)()
        return result

    # --- metrics ---------------------------------------------------------

    def put_metric_data(self, project: str, namespace: str, data: Sequence[model.MetricDatum],
                        now_ms: int) -> set[str]:
        """Store every datum; returns the keys of the metrics written."""
        def work(conn: Connection) -> set[str]:
            ids: dict[str, int] = {}
            rows: list[dict[str, Any]] = []
            for datum in data:
                key = model.metric_key(project, namespace, datum.name, datum.dimensions)
                if key not in ids:
                    ids[key] = _metric_id(conn, key, project, namespace, datum, now_ms)
                rows.extend({"metric_id": ids[key], "ts_ms": s.ts_ms, "unit": s.unit,
                             "sample_count": s.sample_count, "total": s.total,
                             "minimum": s.minimum, "maximum": s.maximum}
                            for s in datum.samples)
            conn.execute(samples.insert(), rows)
            return set(ids)
        return self._run(work)

    def list_metrics(self, project: str, namespace: str | None, name: str | None,
                     since_ms: int | None) -> list[model.Metric]:
        def work(conn: Connection) -> list[model.Metric]:
            query = sa.select(metrics.c.namespace, metrics.c.name, metrics.c.dimensions).where(
                metrics.c.project == project)
            if namespace is not None:
                query = query.where(metrics.c.namespace == namespace)
            if name is not None:
                query = query.where(metrics.c.name == name)
            if since_ms is not None:
                query = query.where(metrics.c.last_seen_ms >= since_ms)
            return [model.Metric(namespace=r.namespace, name=r.name,
                                 dimensions=_dims(r.dimensions))
                    for r in conn.execute(query)]
        return self._run(work)

    def samples(self, key: str, start_ms: int, end_ms: int) -> list[model.Sample]:
        """Samples of one metric with start <= timestamp < end."""
        def work(conn: Connection) -> list[model.Sample]:
            query = (sa.select(samples).join(metrics, samples.c.metric_id == metrics.c.id)
                     .where(metrics.c.metric_key == key, samples.c.ts_ms >= start_ms,
                            samples.c.ts_ms < end_ms).order_by(samples.c.ts_ms))
            return [model.Sample(ts_ms=r.ts_ms, unit=r.unit, sample_count=r.sample_count,
                                 total=r.total, minimum=r.minimum, maximum=r.maximum)
                    for r in conn.execute(query)]
        return self._run(work)

    def purge_samples(self, before_ms: int) -> int:
        """Delete samples older than AWS would accept; returns how many."""
        return self._run(lambda conn: conn.execute(
            samples.delete().where(samples.c.ts_ms < before_ms)).rowcount)

    # --- alarms ----------------------------------------------------------

    def put_alarm(self, project: str, config: model.AlarmConfig, arn: str, now_ms: int,
                  max_alarms: int) -> int:
        """Create the alarm in INSUFFICIENT_DATA, or replace the configuration
        of an existing one and keep its state. Returns its id."""
        values = _config_row(project, config, now_ms)

        def work(conn: Connection) -> int:
            found = conn.execute(sa.select(alarms.c.id).where(
                alarms.c.project == project, alarms.c.name == config.name)).scalar()
            if found is not None:
                conn.execute(alarms.update().where(alarms.c.id == found).values(**values))
                return int(found)
            count = conn.execute(sa.select(sa.func.count()).select_from(alarms).where(
                alarms.c.project == project)).scalar_one()
            if count >= max_alarms:
                raise CloudWatchError("LimitExceeded",
                                      f"AlarmName: a project may hold at most {max_alarms} "
                                      f"alarms (got {count} already)")
            result = conn.execute(alarms.insert().values(
                **values, arn=arn, state="INSUFFICIENT_DATA",
                state_reason="Unchecked: Initial alarm creation", state_reason_data=None,
                state_updated_ms=now_ms, version=0))
            return _new_id(result)
        return self._run(work)

    def alarms(self, project: str, *, names: Iterable[str] | None = None,
               metric: tuple[str, str] | None = None) -> list[model.Alarm]:
        """Alarms of a project, by name; optionally only the given names or
        the alarms on one (namespace, metric name)."""
        def work(conn: Connection) -> list[model.Alarm]:
            query = sa.select(alarms).where(alarms.c.project == project).order_by(alarms.c.name)
            if names is not None:
                query = query.where(alarms.c.name.in_(list(names)))
            if metric is not None:
                query = query.where(alarms.c.namespace == metric[0],
                                    alarms.c.metric_name == metric[1])
            return [_alarm(r) for r in conn.execute(query)]
        return self._run(work)

    def alarms_on_metrics(self, keys: Iterable[str]) -> list[model.Alarm]:
        wanted = sorted(keys)
        if not wanted:
            return []
        return self._run(lambda conn: [_alarm(r) for r in conn.execute(
            sa.select(alarms).where(alarms.c.metric_key.in_(wanted)).order_by(alarms.c.id))])

    def alarm(self, alarm_id: int) -> model.Alarm | None:
        def work(conn: Connection) -> model.Alarm | None:
            row = conn.execute(sa.select(alarms).where(alarms.c.id == alarm_id)).first()
            return _alarm(row) if row is not None else None
        return self._run(work)

    def all_alarms(self) -> list[model.Alarm]:
        """Every alarm of every project (for the periodic evaluation)."""
        return self._run(lambda conn: [_alarm(r) for r in conn.execute(
            sa.select(alarms).order_by(alarms.c.id))])

    def delete_alarms(self, project: str, names: Sequence[str]) -> None:
        """Delete all the named alarms, or none when one of them is missing."""
        def work(conn: Connection) -> None:
            found = set(conn.execute(sa.select(alarms.c.name).where(
                alarms.c.project == project, alarms.c.name.in_(list(names)))).scalars())
            absent = [n for n in names if n not in found]
            if absent:
                raise CloudWatchError("ResourceNotFound",
                                      f"AlarmNames: no alarm named {', '.join(absent)}; "
                                      f"nothing was deleted")
            conn.execute(alarms.delete().where(alarms.c.project == project,
                                               alarms.c.name.in_(list(names))))
        self._run(work)

    def set_actions_enabled(self, project: str, names: Sequence[str], enabled: bool) -> None:
        # AWS ignores names that match no alarm here, and so do we.
        self._run(lambda conn: conn.execute(alarms.update().where(
            alarms.c.project == project, alarms.c.name.in_(list(names))).values(
            actions_enabled=enabled)))

    def transition(self, alarm: model.Alarm, state: str, reason: str,
                   reason_data: str | None, now_ms: int) -> bool:
        """Compare-and-swap the alarm's state.

        The UPDATE matches only while ``version`` is the one ``alarm`` was
        read with, so of several API instances deciding the same transition
        at once exactly one changes the row; only that one may fire the
        actions. False means somebody else moved the alarm first.
        """
        def work(conn: Connection) -> bool:
            result = conn.execute(alarms.update().where(
                alarms.c.id == alarm.id, alarms.c.version == alarm.version).values(
                state=state, state_reason=reason, state_reason_data=reason_data,
                state_updated_ms=now_ms, version=alarms.c.version + 1))
            return bool(result.rowcount == 1)
        return self._run(work)


def _metric_id(conn: Connection, key: str, project: str, namespace: str,
               datum: model.MetricDatum, now_ms: int) -> int:
    found = conn.execute(sa.select(metrics.c.id).where(metrics.c.metric_key == key)).scalar()
    if found is not None:
        conn.execute(metrics.update().where(metrics.c.id == found).values(last_seen_ms=now_ms))
        return int(found)
    # A concurrent request may insert the same key first: DBDuplicateEntry
    # then retries the whole transaction, which finds the row.
    result = conn.execute(metrics.insert().values(
        metric_key=key, project=project, namespace=namespace, name=datum.name,
        dimensions=json.dumps(datum.dimensions, ensure_ascii=False), last_seen_ms=now_ms))
    return _new_id(result)


def _new_id(result: Any) -> int:
    key = result.inserted_primary_key
    if key is None or key[0] is None:
        raise RuntimeError("INSERT returned no primary key")
    return int(key[0])


def _dims(text: str) -> model.Dimensions:
    return tuple((str(n), str(v)) for n, v in json.loads(text))


def _config_row(project: str, c: model.AlarmConfig, now_ms: int) -> dict[str, Any]:
    return {
        "project": project, "name": c.name, "description": c.description,
        "actions_enabled": c.actions_enabled, "ok_actions": json.dumps(c.ok_actions),
        "alarm_actions": json.dumps(c.alarm_actions),
        "insufficient_data_actions": json.dumps(c.insufficient_data_actions),
        "namespace": c.namespace, "metric_name": c.metric_name,
        "dimensions": json.dumps(c.dimensions, ensure_ascii=False),
        "metric_key": model.metric_key(project, c.namespace, c.metric_name, c.dimensions),
        "statistic": c.statistic, "period": c.period, "unit": c.unit,
        "evaluation_periods": c.evaluation_periods, "datapoints_to_alarm": c.datapoints_to_alarm,
        "threshold": c.threshold, "comparison": c.comparison,
        "treat_missing_data": c.treat_missing_data, "config_updated_ms": now_ms,
    }


def _alarm(r: Any) -> model.Alarm:
    config = model.AlarmConfig(
        name=r.name, description=r.description, actions_enabled=bool(r.actions_enabled),
        ok_actions=tuple(json.loads(r.ok_actions)), alarm_actions=tuple(json.loads(r.alarm_actions)),
        insufficient_data_actions=tuple(json.loads(r.insufficient_data_actions)),
        namespace=r.namespace, metric_name=r.metric_name, dimensions=_dims(r.dimensions),
        statistic=r.statistic, period=r.period, unit=r.unit,
        evaluation_periods=r.evaluation_periods, datapoints_to_alarm=r.datapoints_to_alarm,
        threshold=r.threshold, comparison=r.comparison, treat_missing_data=r.treat_missing_data)
    return model.Alarm(id=int(r.id), project=r.project, config=config, arn=r.arn, state=r.state,
                       state_reason=r.state_reason, state_reason_data=r.state_reason_data,
                       state_updated_ms=r.state_updated_ms, config_updated_ms=r.config_updated_ms,
                       version=r.version)
