"""The alarms on the reconciler's metrics, and the metrics the alarms and the dashboard share."""

from __future__ import annotations

from typing import Any

import pytest

from functions.core.contract import Metrics
from infra.monitoring import (
    CALLBACK_NOT_RECEIVED,
    OLDEST_AWAITING_JOB_AGE_THRESHOLD,
    RECONCILER_PERIOD,
    RECONCILER_SERVICE,
    AlarmId,
    Monitoring,
)
from tests.infra.synthesis import Synthesized

pytestmark = pytest.mark.infra


def _alarm(synth: Synthesized, alarm_id: str) -> dict[str, Any]:
    alarms: list[dict[str, Any]] = [
        a["Properties"]
        for name, a in synth.of_type("AWS::CloudWatch::Alarm").items()
        if name.startswith(f"Monitoring{alarm_id}")
    ]
    (alarm,) = alarms
    return alarm


def _monitoring(synth: Synthesized) -> Monitoring:
    monitoring = synth.stack.node.find_child("Monitoring")
    assert isinstance(monitoring, Monitoring)
    return monitoring


@pytest.mark.parametrize("alarm_id", [AlarmId.CALLBACK_NOT_RECEIVED, AlarmId.OLDEST_AWAITING_JOB_AGE])
def test_reconciler_alarms_treat_missing_data_as_not_breaching(each: Synthesized, alarm_id: str) -> None:
    """They stay INSUFFICIENT_DATA / OK until the reconciler emits its metrics: never ALARM on silence."""
    assert _alarm(each, alarm_id)["TreatMissingData"] == "notBreaching"


def test_a_job_closed_without_its_callback_alarms_within_15_minutes(each: Synthesized) -> None:
    alarm = _alarm(each, AlarmId.CALLBACK_NOT_RECEIVED)
    assert alarm["Namespace"] == Metrics.NAMESPACE
    assert alarm["MetricName"] == Metrics.JOBS_RECONCILED
    assert sorted(alarm["Dimensions"], key=lambda d: d["Name"]) == [
        {"Name": "reason", "Value": CALLBACK_NOT_RECEIVED},
        {"Name": "service", "Value": RECONCILER_SERVICE},
    ]
    assert (alarm["Statistic"], alarm["Period"], alarm["EvaluationPeriods"]) == ("Sum", 900, 1)
    assert RECONCILER_PERIOD.to_minutes() == 15
    assert (alarm["Threshold"], alarm["ComparisonOperator"]) == (1, "GreaterThanOrEqualToThreshold")


def test_an_old_awaiting_job_alarms_on_the_maximum_age(each: Synthesized) -> None:
    alarm = _alarm(each, AlarmId.OLDEST_AWAITING_JOB_AGE)
    assert alarm["MetricName"] == Metrics.OLDEST_AWAITING_JOB_AGE
    assert alarm["Dimensions"] == [{"Name": "service", "Value": RECONCILER_SERVICE}]
    assert alarm["Statistic"] == "Maximum"
    assert alarm["Threshold"] == OLDEST_AWAITING_JOB_AGE_THRESHOLD.to_seconds()
    assert alarm["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"


def test_reconciler_alarms_notify_like_the_others(full: Synthesized) -> None:
    for alarm_id in (AlarmId.CALLBACK_NOT_RECEIVED, AlarmId.OLDEST_AWAITING_JOB_AGE):
        assert len(_alarm(full, alarm_id)["AlarmActions"]) == 2


def test_every_alarm_is_evaluated_as_a_plain_metric_or_labelled_math(each: Synthesized) -> None:
    """A labelled single metric would turn an alarm into the `Metrics` form: shared metrics carry
    no label unless they are metric math (JobsFailed)."""
    for name, alarm in each.of_type("AWS::CloudWatch::Alarm").items():
        if "Metrics" in alarm["Properties"]:
            assert name.startswith(f"Monitoring{AlarmId.JOBS_FAILED}"), name


def test_each_alarm_evaluates_the_metric_object_the_dashboard_reads(each: Synthesized) -> None:
    """One definition per metric: the alarm holds the very object `Monitoring.metrics` exposes."""
    monitoring = _monitoring(each)
    metrics = monitoring.metrics
    expected = {
        AlarmId.CALLBACK_ERRORS: metrics.callback_errors,
        AlarmId.CALLBACK_THROTTLES: metrics.callback_throttles,
        AlarmId.CALLBACK_FAULTS: metrics.callback_faults,
        AlarmId.CALLBACKS_REJECTED: metrics.callbacks_rejected,
        AlarmId.SUBMIT_5XX: metrics.submit_5xx,
        AlarmId.JOBS_FAILED: metrics.jobs_failed,
        AlarmId.CALLBACK_NOT_RECEIVED: metrics.callbacks_not_received,
        AlarmId.OLDEST_AWAITING_JOB_AGE: metrics.oldest_awaiting_job_age,
    }
    if metrics.dead_letter_messages is not None:
        expected[AlarmId.NOTIFICATIONS_DLQ] = metrics.dead_letter_messages
    assert set(monitoring.alarms) == set(expected)
    for alarm_id, metric in expected.items():
        assert _same_object(monitoring.alarms[alarm_id].metric, metric), alarm_id


def _same_object(a: object, b: object) -> bool:
    """Whether two jsii proxies stand for one JavaScript object (jsii may wrap it twice)."""
    return bool(a.__jsii_ref__.ref == b.__jsii_ref__.ref)  # type: ignore[attr-defined]
