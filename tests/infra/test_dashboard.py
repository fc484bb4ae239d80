"""The CloudWatch dashboard (infra/dashboard.py): one small test per property it must have."""

from __future__ import annotations

import json
from typing import Any

import pytest

from functions.core.contract import Metrics
from infra.monitoring import AlarmId, Monitoring
from tests.infra.synthesis import Synthesized

pytestmark = pytest.mark.infra

TOKEN = "<token>"


def _dashboard(synth: Synthesized) -> dict[str, Any]:
    (dashboard,) = synth.of_type("AWS::CloudWatch::Dashboard").values()
    properties: dict[str, Any] = dashboard["Properties"]
    return properties


def _body(synth: Synthesized) -> dict[str, Any]:
    """The dashboard body as JSON, with every CloudFormation token (Ref, GetAtt) replaced by TOKEN."""
    body = _dashboard(synth)["DashboardBody"]
    if isinstance(body, dict):
        separator, parts = body["Fn::Join"]
        body = separator.join(part if isinstance(part, str) else TOKEN for part in parts)
    parsed: dict[str, Any] = json.loads(body)
    return parsed


def _graphs(synth: Synthesized) -> dict[str, dict[str, Any]]:
    return {
        widget["properties"]["title"]: widget["properties"]
        for widget in _body(synth)["widgets"]
        if widget["type"] == "metric"
    }


def _lines(graph: dict[str, Any]) -> list[list[Any]]:
    lines: list[list[Any]] = graph["metrics"]
    return lines


def _metric_names(graph: dict[str, Any]) -> set[str]:
    """Metric names a graph draws: plain metrics (namespace, name, dims..., options) and the names
    inside its metric-math and SEARCH expressions."""
    names = set()
    for line in _lines(graph):
        if isinstance(line[0], str):
            names.add(line[1])
        else:
            names.add(line[0]["expression"])
    return names


def _annotations(graph: dict[str, Any]) -> list[float]:
    return [a["value"] for a in graph.get("annotations", {}).get("horizontal", [])]


def test_the_stack_has_one_named_dashboard(each: Synthesized) -> None:
    assert _dashboard(each)["DashboardName"] == f"{each.settings.stack_name}-pipeline"


def test_the_dashboard_url_is_a_stack_output(each: Synthesized) -> None:
    output = each.template.to_json()["Outputs"]["DashboardUrl"]
    parts = output["Value"]["Fn::Join"][1]
    assert "#dashboards/dashboard/" in "".join(p for p in parts if isinstance(p, str))
    (dashboard_id,) = each.of_type("AWS::CloudWatch::Dashboard")
    assert {"Ref": dashboard_id} in parts


@pytest.mark.parametrize(
    "metric_name",
    [
        Metrics.JOBS_SUBMITTED,
        Metrics.CALLBACKS_ACCEPTED,
        Metrics.JOBS_FAILED,
        Metrics.CALLBACKS_REJECTED,
        Metrics.CALLBACKS_REJECTED_BY_REASON,
        Metrics.CALLBACK_FAULTS,
        Metrics.JOBS_RECONCILED,
        Metrics.OLDEST_AWAITING_JOB_AGE,
        "Duration",
        "UrlRequestLatency",
        "5XXError",
    ],
)
def test_the_dashboard_draws_each_required_metric(each: Synthesized, metric_name: str) -> None:
    drawn = {name for graph in _graphs(each).values() for name in _metric_names(graph)}
    assert any(metric_name in name for name in drawn)


@pytest.mark.parametrize("metric_name", ["Duration", "UrlRequestLatency"])
def test_callback_latency_is_drawn_at_p50_and_p99(each: Synthesized, metric_name: str) -> None:
    graph = _graphs(each)["Callback acknowledgement latency (p50, p99)"]
    stats = {line[-1]["stat"] for line in _lines(graph) if line[:2] == ["AWS/Lambda", metric_name]}
    assert stats == {"p50", "p99"}


@pytest.mark.parametrize(
    ("title", "metric_name"),
    [
        ("Rejected callbacks by reason", Metrics.CALLBACKS_REJECTED_BY_REASON),
        ("Reconciled jobs by reason", Metrics.JOBS_RECONCILED),
    ],
)
def test_by_reason_graphs_search_every_reason_without_listing_them(
    each: Synthesized, title: str, metric_name: str
) -> None:
    expressions = [line[0] for line in _lines(_graphs(each)[title]) if isinstance(line[0], dict)]
    (search,) = [e for e in expressions if e["expression"].startswith("SEARCH(")]
    assert f'MetricName="{metric_name}"' in search["expression"]
    assert ",reason," in search["expression"]
    assert search["label"] == "${PROP('Dim.reason')}"


@pytest.mark.parametrize(
    ("title", "alarm_ids"),
    [
        ("Failed jobs", [AlarmId.JOBS_FAILED]),
        ("Rejected callbacks by reason", [AlarmId.CALLBACKS_REJECTED]),
        ("Dependency faults", [AlarmId.CALLBACK_FAULTS, AlarmId.SUBMIT_5XX]),
        ("Callback errors and throttles", [AlarmId.CALLBACK_ERRORS, AlarmId.CALLBACK_THROTTLES]),
        ("Reconciled jobs by reason", [AlarmId.CALLBACK_NOT_RECEIVED]),
        ("Oldest job awaiting its result", [AlarmId.OLDEST_AWAITING_JOB_AGE]),
    ],
)
def test_graphs_with_an_alarm_draw_its_threshold(each: Synthesized, title: str, alarm_ids: list[str]) -> None:
    thresholds = [_alarm_threshold(each, alarm_id) for alarm_id in alarm_ids]
    assert _annotations(_graphs(each)[title]) == thresholds


def test_the_rejected_callbacks_annotation_follows_the_setting(full: Synthesized) -> None:
    assert _annotations(_graphs(full)["Rejected callbacks by reason"]) == [
        full.settings.rejected_callbacks_threshold
    ]


def test_the_dead_letter_queue_graph_only_with_the_queue(default: Synthesized, full: Synthesized) -> None:
    assert "Notifications dead-letter queue" not in _graphs(default)
    assert _annotations(_graphs(full)["Notifications dead-letter queue"]) == [
        _alarm_threshold(full, AlarmId.NOTIFICATIONS_DLQ)
    ]


def test_the_alarm_status_widget_shows_every_alarm(each: Synthesized) -> None:
    (status,) = [w for w in _body(each)["widgets"] if w["type"] == "alarm"]
    assert len(status["properties"]["alarms"]) == len(each.of_type("AWS::CloudWatch::Alarm"))


def test_graphs_fit_the_24_column_grid(each: Synthesized) -> None:
    for widget in _body(each)["widgets"]:
        assert widget["x"] + widget["width"] <= 24


def _alarm_threshold(synth: Synthesized, alarm_id: str) -> float:
    monitoring = synth.stack.node.find_child("Monitoring")
    assert isinstance(monitoring, Monitoring)
    (threshold,) = [
        a["Properties"]["Threshold"]
        for name, a in synth.of_type("AWS::CloudWatch::Alarm").items()
        if name.startswith(f"Monitoring{alarm_id}")
    ]
    assert alarm_id in monitoring.alarms
    return float(threshold)
