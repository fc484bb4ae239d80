"""One CloudWatch dashboard of the pipeline, drawn from the monitoring construct's metrics and alarms.

    ┌─ Alarms: the state of every alarm ───────────────────────────────────────────────┐
    │ Submissions and completions          │ Failed jobs               (JobsFailed)    │
    │ Callback acknowledgement latency     │ Rejected callbacks by reason              │
    │ Dependency faults  (Faults, API 5XX) │ Callback errors and throttles             │
    │ Reconciled jobs by reason            │ Oldest job awaiting its result            │
    │ Notifications dead-letter queue (only with the queue subscription)               │
    └──────────────────────────────────────────────────────────────────────────────────┘

Nothing is defined twice: every line is a metric of `infra.monitoring.PipelineMetrics`, the very
object an alarm evaluates, and every graph whose metric has an alarm draws that alarm's threshold
as a horizontal annotation (`Alarm.to_annotation`), so the picture and the alarm cannot disagree.
The "by reason" graphs are SEARCH expressions: every `reason` the functions emit shows up, with
no list of reasons to maintain here.

Latency is what Deepgram waits for before its delivery counts as acknowledged: the callback
function's Duration, and the Function URL's UrlRequestLatency (which adds the URL's own overhead
and cold starts' init time), each at p50 and p99.

The reconciler's graphs: JobsReconciled by reason, and OldestAwaitingJobAgeSeconds.
"""

from __future__ import annotations

from collections.abc import Sequence

import aws_cdk as cdk
from aws_cdk import aws_cloudwatch as cloudwatch
from constructs import Construct

from infra.monitoring import AlarmId, Monitoring

HALF = 12
"""Half the dashboard's 24-column width: two graphs a row."""

HEIGHT = 6


class PipelineDashboard(Construct):
    """The pipeline's CloudWatch dashboard: throughput, failures, latency, faults, reconciliation."""

    def __init__(self, scope: Construct, construct_id: str, *, monitoring: Monitoring) -> None:
        super().__init__(scope, construct_id)
        metrics = monitoring.metrics
        alarms = monitoring.alarms

        def graph(
            title: str,
            left: Sequence[cloudwatch.IMetric],
            *,
            alarm_ids: Sequence[str] = (),
            unit: str = "Count",
        ) -> cloudwatch.GraphWidget:
            return cloudwatch.GraphWidget(
                title=title,
                left=list(left),
                left_annotations=[alarms[alarm_id].to_annotation() for alarm_id in alarm_ids],
                left_y_axis=cloudwatch.YAxisProps(label=unit, min=0, show_units=False),
                width=HALF,
                height=HEIGHT,
            )

        rows: list[list[cloudwatch.IWidget]] = [
            [
                cloudwatch.AlarmStatusWidget(
                    title="Alarms",
                    alarms=list(alarms.values()),
                    sort_by=cloudwatch.AlarmStatusWidgetSortBy.STATE_UPDATED_TIMESTAMP,
                    width=2 * HALF,
                    height=3,
                )
            ],
            [
                graph(
                    "Submissions and completions",
                    [metrics.jobs_submitted, metrics.callbacks_accepted, metrics.jobs_completed],
                ),
                graph(
                    "Failed jobs",
                    [metrics.jobs_failed, metrics.jobs_failed_at_submit, metrics.jobs_failed_in_callback],
                    alarm_ids=[AlarmId.JOBS_FAILED],
                ),
            ],
            [
                graph(
                    "Callback acknowledgement latency (p50, p99)",
                    [
                        metrics.callback_duration_p50,
                        metrics.callback_duration_p99,
                        metrics.callback_url_latency_p50,
                        metrics.callback_url_latency_p99,
                    ],
                    unit="Milliseconds",
                ),
                graph(
                    "Rejected callbacks by reason",
                    [metrics.callbacks_rejected, metrics.callbacks_rejected_by_reason],
                    alarm_ids=[AlarmId.CALLBACKS_REJECTED],
                ),
            ],
            [
                graph(
                    "Dependency faults",
                    [metrics.callback_faults, metrics.submit_5xx],
                    alarm_ids=[AlarmId.CALLBACK_FAULTS, AlarmId.SUBMIT_5XX],
                ),
                graph(
                    "Callback errors and throttles",
                    [metrics.callback_errors, metrics.callback_throttles],
                    alarm_ids=[AlarmId.CALLBACK_ERRORS, AlarmId.CALLBACK_THROTTLES],
                ),
            ],
            [
                graph(
                    "Reconciled jobs by reason",
                    # The SEARCH draws callback_not_received (the alarm's metric) among the reasons.
                    [metrics.jobs_reconciled_by_reason],
                    alarm_ids=[AlarmId.CALLBACK_NOT_RECEIVED],
                ),
                graph(
                    "Oldest job awaiting its result",
                    [metrics.oldest_awaiting_job_age],
                    alarm_ids=[AlarmId.OLDEST_AWAITING_JOB_AGE],
                    unit="Seconds",
                ),
            ],
        ]
        if metrics.dead_letter_messages is not None:
            rows.append(
                [
                    graph(
                        "Notifications dead-letter queue",
                        [metrics.dead_letter_messages],
                        alarm_ids=[AlarmId.NOTIFICATIONS_DLQ],
                        unit="Messages",
                    )
                ]
            )

        stack = cdk.Stack.of(self)
        self.dashboard = cloudwatch.Dashboard(
            self,
            "Dashboard",
            dashboard_name=f"{stack.stack_name}-pipeline",
            default_interval=cdk.Duration.hours(3),
            widgets=rows,
        )

    @property
    def url(self) -> str:
        """The dashboard in the CloudWatch console (a token until deploy time; commercial partition)."""
        region = cdk.Stack.of(self).region
        return (
            f"https://{region}.console.aws.amazon.com/cloudwatch/home?region={region}"
            f"#dashboards/dashboard/{self.dashboard.dashboard_name}"
        )
