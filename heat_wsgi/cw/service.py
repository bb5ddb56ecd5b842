"""The actions: a validated request -> store, evaluation, notification -> XML result."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Sequence

from heat_wsgi.cw import model, requests, xmlout
from heat_wsgi.cw.errors import CloudWatchError
from heat_wsgi.cw.evaluate import evaluate, window
from heat_wsgi.cw.notify import Notifier, Transition
from heat_wsgi.cw.stats import by_bucket
from heat_wsgi.cw.store import Store

LOG = logging.getLogger(__name__)

# How often one evaluation re-reads a contended alarm before giving up;
# losing means another instance just moved it, which is fine.
CAS_ATTEMPTS = 3


def now_ms() -> int:
    return int(time.time() * 1000)


class Service:
    def __init__(self, store: Store, notifier: Notifier, *, max_alarms: int = 5000,
                 clock: Callable[[], int] = now_ms) -> None:
        self.store = store
        self.notifier = notifier
        self.max_alarms = max_alarms
        self.clock = clock

    def handle(self, project: str, action: str,
               request: requests.Request) -> xmlout.Element | None:
        handler = getattr(self, "_" + action)
        result: xmlout.Element | None = handler(project, request)
        return result

    # --- metrics ---------------------------------------------------------

    def _PutMetricData(self, project: str, req: requests.PutMetricData) -> None:
        keys = self.store.put_metric_data(project, req.namespace, req.data, self.clock())
        # Evaluate after the commit, so the new samples are visible to this
        # and every other instance; the transition itself is a CAS.
        self.evaluate_alarms(self.store.alarms_on_metrics(keys))

    def _ListMetrics(self, project: str, req: requests.ListMetrics) -> xmlout.Element:
        since = self.clock() - model.RECENTLY_ACTIVE_MS if req.recently_active else None
        found = [m for m in self.store.list_metrics(project, req.namespace, req.metric_name, since)
                 if _matches_filters(m.dimensions, req.dimension_filters)]
        found.sort(key=lambda m: (m.namespace, m.name, m.dimensions))
        page = found[req.offset:req.offset + model.LIST_METRICS_PAGE]
        more = req.offset + model.LIST_METRICS_PAGE < len(found)
        return xmlout.metrics_result(
            page, requests.encode_token(req.offset + model.LIST_METRICS_PAGE) if more else None)

    def _GetMetricStatistics(self, project: str,
                             req: requests.GetMetricStatistics) -> xmlout.Element:
        m = req.metric
        key = model.metric_key(project, m.namespace, m.name, m.dimensions)
        # Like AWS, round StartTime down to a period boundary, so datapoints
        # line up with the periods alarms evaluate.
        origin = req.start_ms // (req.period * 1000) * (req.period * 1000)
        found = self.store.samples(key, origin, req.end_ms)
        if req.unit is not None:
            found = [s for s in found if s.unit == req.unit]
        buckets = by_bucket(found, origin, req.period, split_units=True)
        points = [(ts, unit, {stat: agg.value(stat) for stat in req.statistics})
                  for (ts, unit), agg in sorted(buckets.items())]
        return xmlout.statistics_result(m.name, points)

    # --- alarms ----------------------------------------------------------

    def _PutMetricAlarm(self, project: str, req: requests.PutMetricAlarm) -> None:
        arn = f"arn:heat-wsgi:cloudwatch::{project}:alarm:{req.config.name}"
        alarm_id = self.store.put_alarm(project, req.config, arn, self.clock(), self.max_alarms)
        # AWS evaluates a new or changed alarm right away.
        alarm = self.store.alarm(alarm_id)
        if alarm is not None:
            self.evaluate_alarms([alarm])

    def _DescribeAlarms(self, project: str, req: requests.DescribeAlarms) -> xmlout.Element:
        found = self.store.alarms(project, names=req.names) if req.metric_alarms else []
        if req.name_prefix is not None:
            found = [a for a in found if a.config.name.startswith(req.name_prefix)]
        if req.state is not None:
            found = [a for a in found if a.state == req.state]
        if req.action_prefix is not None:
            prefix = req.action_prefix
            found = [a for a in found
                     if any(url.startswith(prefix) for url in a.config.ok_actions
                            + a.config.alarm_actions + a.config.insufficient_data_actions)]
        page = found[req.offset:req.offset + req.max_records]
        more = req.offset + req.max_records < len(found)
        return xmlout.alarms_result(
            "DescribeAlarmsResult", page,
            requests.encode_token(req.offset + req.max_records) if more else None)

    def _DescribeAlarmsForMetric(self, project: str,
                                 req: requests.DescribeAlarmsForMetric) -> xmlout.Element:
        found = [a for a in self.store.alarms(project, metric=(req.namespace, req.metric_name))
                 if (req.statistic is None or a.config.statistic == req.statistic)
                 and (req.dimensions is None or a.config.dimensions == req.dimensions)
                 and (req.period is None or a.config.period == req.period)
                 and (req.unit is None or a.config.unit == req.unit)]
        return xmlout.alarms_result("DescribeAlarmsForMetricResult", found)

    def _SetAlarmState(self, project: str, req: requests.SetAlarmState) -> None:
        for _ in range(CAS_ATTEMPTS):
            found = self.store.alarms(project, names=[req.name])
            if not found:
                raise CloudWatchError("ResourceNotFound",
                                      f"AlarmName: no alarm named {req.name!r}")
            if self._move(found[0], req.state, req.reason, req.reason_data):
                return
        raise CloudWatchError("ServiceUnavailable",
                              f"AlarmName: {req.name!r} kept changing state under this request; "
                              f"retry")

    def _DeleteAlarms(self, project: str, req: requests.AlarmNames) -> None:
        self.store.delete_alarms(project, req.names)

    def _EnableAlarmActions(self, project: str, req: requests.AlarmNames) -> None:
        self.store.set_actions_enabled(project, req.names, True)

    def _DisableAlarmActions(self, project: str, req: requests.AlarmNames) -> None:
        self.store.set_actions_enabled(project, req.names, False)

    # --- evaluation ------------------------------------------------------

    def evaluate_alarms(self, alarms: Iterable[model.Alarm]) -> None:
        for alarm in alarms:
            for attempt in range(CAS_ATTEMPTS):
                if self._evaluate_once(alarm):
                    break
                fresh = self.store.alarm(alarm.id)
                if fresh is None:  # deleted meanwhile
                    break
                alarm = fresh

    def evaluate_all(self) -> int:
        """One periodic pass over every alarm of every project (for
        transitions that only time causes, such as data ageing out), after
        dropping samples older than PutMetricData would accept."""
        self.store.purge_samples(self.clock() - model.PAST_LIMIT_MS)
        found = self.store.all_alarms()
        self.evaluate_alarms(found)
        return len(found)

    def _evaluate_once(self, alarm: model.Alarm) -> bool:
        """True when settled (moved, or nothing to move); False when the CAS lost."""
        now = self.clock()
        c = alarm.config
        start, end = window(c, now, current_has_data=True)
        key = model.metric_key(alarm.project, c.namespace, c.metric_name, c.dimensions)
        # One period more than the window, for when the period in progress is empty.
        found = self.store.samples(key, start - c.period * 1000, end)
        verdict = evaluate(c, found, now)
        if verdict is None or verdict.state == alarm.state:
            return True
        return self._move(alarm, verdict.state, verdict.reason, verdict.reason_data)

    def _move(self, alarm: model.Alarm, state: str, reason: str, reason_data: str | None) -> bool:
        """CAS the alarm into ``state``; the winner of a real change fires."""
        if not self.store.transition(alarm, state, reason, reason_data, self.clock()):
            return False
        LOG.info("alarm %s (project %s): %s -> %s: %s", alarm.config.name, alarm.project,
                 alarm.state, state, reason)
        if state != alarm.state and alarm.config.actions_enabled:
            self.notifier.fire(alarm.config.actions_for(state), Transition(
                alarm_name=alarm.config.name, alarm_arn=alarm.arn, previous=alarm.state,
                current=state, reason=reason, reason_data=reason_data))
        return True


def _matches_filters(dims: model.Dimensions,
                     filters: Sequence[tuple[str, str | None]]) -> bool:
    have = dict(dims)
    return all(name in have and (value is None or have[name] == value)
               for name, value in filters)
