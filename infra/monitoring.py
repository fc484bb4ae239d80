"""Alarms on the signals that mean money, data or trust is being lost.

- CallbackErrors, CallbackThrottles: any failed or throttled callback invocation. Deepgram retries
  a delivery for about 5 minutes, then the transcript is gone for good.
- CallbackFaults: the callback answered 503 because DynamoDB, S3, SNS or Secrets Manager failed.
  The invocation itself succeeds (Lambda's Errors metric misses it), but if the fault lasts
  through Deepgram's retries the transcript is lost just the same.
- CallbacksRejected: at least `rejectedCallbacksThreshold` rejected callbacks: someone is probing
  the public URL, or the callback credentials no longer match.
- Submit5xx: the API answered 5XX: submissions (or status reads) are failing.
- JobsFailed: a job failed, at submission or in its callback.
- NotificationsDlq (with the queue subscription): a notification reached the dead-letter queue.
- CallbackNotReceived: the reconciler closed a job whose callback never came (JobsReconciled with
  reason `callback_not_received`): Deepgram gave up delivering, or never called back.
- OldestAwaitingJobAge: a job has been awaiting its result for `OLDEST_AWAITING_JOB_AGE_THRESHOLD`.
  The last two read the reconciler's metrics (`functions/reconciler/telemetry.py`).

All are evaluated over 5-minute windows (the reconciler's over `RECONCILER_PERIOD`, so that each
window holds at least one of its runs); missing data counts as "not breaching" (no traffic is
not a failure). Custom metrics are the EMF metrics the functions write with Powertools: namespace
`contract.Metrics.NAMESPACE`, one dimension `service` (Powertools' default dimension) set to the
function's service name, plus `reason` on the metrics whose names say "by reason".

Every metric is defined once, in `PipelineMetrics`: the alarms and the dashboard
(infra/dashboard.py) read the same objects.

Where alarms go: an encrypted alarm topic with an email subscription (`alarmEmail`), an existing
topic (`alarmTopicArn`), both, or neither (the alarms are still visible in CloudWatch).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import aws_cdk as cdk
from aws_cdk import aws_apigateway as apigateway
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cloudwatch_actions
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from functions.core.contract import Metrics, Services
from infra.config import Settings
from infra.retention import removal_policy

PERIOD = cdk.Duration.minutes(5)
RECONCILER_PERIOD = cdk.Duration.minutes(15)
"""The reconciler's metrics are read over 15 minutes: any job it closes in that window alarms."""

SERVICE_DIMENSION = "service"
"""The dimension Powertools Metrics adds to every metric, valued with POWERTOOLS_SERVICE_NAME."""

REASON_DIMENSION = "reason"
"""The extra dimension of CallbacksRejectedByReason and JobsReconciled."""

RECONCILER_SERVICE = Services.RECONCILER

CALLBACK_NOT_RECEIVED = "callback_not_received"
"""The JobsReconciled reason for a job whose callback never arrived."""

OLDEST_AWAITING_JOB_AGE_THRESHOLD = cdk.Duration.hours(1)
"""A job awaiting its result this long is stuck: Deepgram calls back within minutes of finishing
and retries for about 5 minutes after that."""


class AlarmId:
    """Construct ids of the alarms (also the keys of `Monitoring.alarms`)."""

    CALLBACK_ERRORS: Final = "CallbackErrors"
    CALLBACK_THROTTLES: Final = "CallbackThrottles"
    CALLBACK_FAULTS: Final = "CallbackFaults"
    CALLBACKS_REJECTED: Final = "CallbacksRejected"
    SUBMIT_5XX: Final = "Submit5xx"
    JOBS_FAILED: Final = "JobsFailed"
    NOTIFICATIONS_DLQ: Final = "NotificationsDlq"
    CALLBACK_NOT_RECEIVED: Final = "CallbackNotReceived"
    OLDEST_AWAITING_JOB_AGE: Final = "OldestAwaitingJobAge"


def service_metric(
    metric_name: str,
    service: str,
    *,
    statistic: str = cloudwatch.Stats.SUM,
    period: cdk.Duration = PERIOD,
    label: str | None = None,
    **dimensions: str,
) -> cloudwatch.Metric:
    """One of the functions' EMF metrics (by default its 5-minute sum)."""
    return cloudwatch.Metric(
        namespace=Metrics.NAMESPACE,
        metric_name=metric_name,
        dimensions_map={SERVICE_DIMENSION: service, **dimensions},
        statistic=statistic,
        period=period,
        label=label,
    )


def by_reason(metric_name: str, service: str, *, period: cdk.Duration = PERIOD) -> cloudwatch.MathExpression:
    """One line per value of the `reason` dimension, found at view time by a SEARCH expression, so a
    new reason shows up without a deployment. Graphs only: alarms cannot evaluate SEARCH."""
    schema = f"{{{Metrics.NAMESPACE},{REASON_DIMENSION},{SERVICE_DIMENSION}}}"
    query = f'{schema} MetricName="{metric_name}" {SERVICE_DIMENSION}="{service}"'
    return cloudwatch.MathExpression(
        expression=f"SEARCH('{query}', '{cloudwatch.Stats.SUM}', {int(period.to_seconds())})",
        using_metrics={},
        label=f"${{PROP('Dim.{REASON_DIMENSION}')}}",
        period=period,
    )


@dataclass(frozen=True)
class PipelineMetrics:
    """Every metric the alarms and the dashboard read, each defined once.

    A single metric an alarm evaluates has no label: with one, CloudWatch alarms need the
    `Metrics` (metric math) form instead of the plain metric form. Graphs then show its name.
    """

    jobs_submitted: cloudwatch.IMetric
    submit_errors: cloudwatch.IMetric
    callbacks_accepted: cloudwatch.IMetric
    jobs_completed: cloudwatch.IMetric
    jobs_failed: cloudwatch.IMetric
    jobs_failed_at_submit: cloudwatch.IMetric
    jobs_failed_in_callback: cloudwatch.IMetric
    callbacks_rejected: cloudwatch.IMetric
    callbacks_rejected_by_reason: cloudwatch.IMetric
    callback_faults: cloudwatch.IMetric
    submit_5xx: cloudwatch.IMetric
    callback_errors: cloudwatch.IMetric
    callback_throttles: cloudwatch.IMetric
    callback_duration_p50: cloudwatch.IMetric
    callback_duration_p99: cloudwatch.IMetric
    callback_url_latency_p50: cloudwatch.IMetric
    callback_url_latency_p99: cloudwatch.IMetric
    jobs_reconciled_by_reason: cloudwatch.IMetric
    callbacks_not_received: cloudwatch.IMetric
    oldest_awaiting_job_age: cloudwatch.IMetric
    dead_letter_messages: cloudwatch.IMetric | None

    @classmethod
    def of(
        cls,
        *,
        callback_function: lambda_.IFunction,
        api_stage: apigateway.Stage,
        dead_letter_queue: sqs.IQueue | None,
    ) -> PipelineMetrics:
        failed_at_submit = service_metric(Metrics.JOBS_FAILED, Services.SUBMIT, label="Failed at submission")
        failed_in_callback = service_metric(
            Metrics.JOBS_FAILED, Services.CALLBACK, label="Failed by Deepgram"
        )
        accepted = service_metric(Metrics.CALLBACKS_ACCEPTED, Services.CALLBACK, label="Callbacks accepted")

        def duration(percentile: int) -> cloudwatch.IMetric:
            return callback_function.metric_duration(
                period=PERIOD,
                statistic=cloudwatch.Stats.p(percentile),
                label=f"Callback duration p{percentile}",
            )

        def url_latency(percentile: int) -> cloudwatch.IMetric:
            # Function URL metrics carry the FunctionName dimension (aggregated over $LATEST and aliases).
            return callback_function.metric(
                "UrlRequestLatency",
                period=PERIOD,
                statistic=cloudwatch.Stats.p(percentile),
                label=f"Callback URL latency p{percentile}",
            )

        return cls(
            jobs_submitted=service_metric(Metrics.JOBS_SUBMITTED, Services.SUBMIT, label="Jobs submitted"),
            submit_errors=service_metric(
                Metrics.SUBMIT_ERRORS, Services.SUBMIT, label="Submit error answers"
            ),
            callbacks_accepted=accepted,
            jobs_completed=cloudwatch.MathExpression(
                expression="FILL(accepted, 0) - FILL(failed_callback, 0)",
                using_metrics={"accepted": accepted, "failed_callback": failed_in_callback},
                label="Jobs completed",
                period=PERIOD,
            ),
            jobs_failed=cloudwatch.MathExpression(
                expression="FILL(failed_submit, 0) + FILL(failed_callback, 0)",
                using_metrics={"failed_submit": failed_at_submit, "failed_callback": failed_in_callback},
                label="Failed jobs",
                period=PERIOD,
            ),
            jobs_failed_at_submit=failed_at_submit,
            jobs_failed_in_callback=failed_in_callback,
            callbacks_rejected=service_metric(Metrics.CALLBACKS_REJECTED, Services.CALLBACK),
            callbacks_rejected_by_reason=by_reason(Metrics.CALLBACKS_REJECTED_BY_REASON, Services.CALLBACK),
            callback_faults=service_metric(Metrics.CALLBACK_FAULTS, Services.CALLBACK),
            submit_5xx=api_stage.metric_server_error(period=PERIOD, statistic=cloudwatch.Stats.SUM),
            callback_errors=callback_function.metric_errors(period=PERIOD, statistic=cloudwatch.Stats.SUM),
            callback_throttles=callback_function.metric_throttles(
                period=PERIOD, statistic=cloudwatch.Stats.SUM
            ),
            callback_duration_p50=duration(50),
            callback_duration_p99=duration(99),
            callback_url_latency_p50=url_latency(50),
            callback_url_latency_p99=url_latency(99),
            jobs_reconciled_by_reason=by_reason(
                Metrics.JOBS_RECONCILED, RECONCILER_SERVICE, period=RECONCILER_PERIOD
            ),
            callbacks_not_received=service_metric(
                Metrics.JOBS_RECONCILED,
                RECONCILER_SERVICE,
                period=RECONCILER_PERIOD,
                **{REASON_DIMENSION: CALLBACK_NOT_RECEIVED},
            ),
            oldest_awaiting_job_age=service_metric(
                Metrics.OLDEST_AWAITING_JOB_AGE,
                RECONCILER_SERVICE,
                statistic=cloudwatch.Stats.MAXIMUM,
                period=RECONCILER_PERIOD,
            ),
            dead_letter_messages=(
                None
                if dead_letter_queue is None
                else dead_letter_queue.metric_approximate_number_of_messages_visible(
                    period=PERIOD, statistic=cloudwatch.Stats.MAXIMUM
                )
            ),
        )


class Monitoring(Construct):
    """The pipeline's metrics, its alarms and where they send their notifications."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        settings: Settings,
        callback_function: lambda_.IFunction,
        api_stage: apigateway.Stage,
        dead_letter_queue: sqs.IQueue | None,
    ) -> None:
        super().__init__(scope, construct_id)
        self.actions = [cloudwatch_actions.SnsAction(topic) for topic in self._alarm_topics(settings)]
        self.alarms: dict[str, cloudwatch.Alarm] = {}
        """The alarms by construct id (`AlarmId`)."""
        self.metrics = metrics = PipelineMetrics.of(
            callback_function=callback_function, api_stage=api_stage, dead_letter_queue=dead_letter_queue
        )

        self._alarm(
            AlarmId.CALLBACK_ERRORS,
            metrics.callback_errors,
            threshold=1,
            description="The callback function failed: Deepgram retries for about 5 minutes, then the "
            "transcript is lost. Check the callback function's logs.",
        )
        self._alarm(
            AlarmId.CALLBACK_THROTTLES,
            metrics.callback_throttles,
            threshold=1,
            description="The callback function was throttled (reserved concurrency or account limit).",
        )
        self._alarm(
            AlarmId.CALLBACK_FAULTS,
            metrics.callback_faults,
            threshold=1,
            description="The callback answered 503 because a dependency (DynamoDB, S3, SNS or Secrets "
            "Manager) failed. Deepgram retries, but gives up after 10 attempts and the transcript is "
            "lost. Check the callback function's logs.",
        )
        self._alarm(
            AlarmId.CALLBACKS_REJECTED,
            metrics.callbacks_rejected,
            threshold=settings.rejected_callbacks_threshold,
            description="Many callbacks were rejected: someone is probing the public callback URL, or "
            "the callback credentials no longer match (was the signing secret changed?).",
        )
        self._alarm(
            AlarmId.SUBMIT_5XX,
            metrics.submit_5xx,
            threshold=1,
            description="The transcription API answered 5XX: submissions or status reads are failing.",
        )
        self._alarm(
            AlarmId.JOBS_FAILED,
            metrics.jobs_failed,
            threshold=1,
            description="A transcription job failed, at submission or in Deepgram's callback.",
        )
        if metrics.dead_letter_messages is not None:
            self._alarm(
                AlarmId.NOTIFICATIONS_DLQ,
                metrics.dead_letter_messages,
                threshold=1,
                description="Notifications reached the dead-letter queue: a consumer keeps failing, or "
                "SNS could not deliver to the queue.",
            )
        self._alarm(
            AlarmId.CALLBACK_NOT_RECEIVED,
            metrics.callbacks_not_received,
            threshold=1,
            description="The reconciler closed a job whose callback never arrived: Deepgram gave up "
            "delivering it (was the callback endpoint failing?) or never called back.",
        )
        self._alarm(
            AlarmId.OLDEST_AWAITING_JOB_AGE,
            metrics.oldest_awaiting_job_age,
            threshold=OLDEST_AWAITING_JOB_AGE_THRESHOLD.to_seconds(),
            description="A job has been awaiting its result for over "
            f"{OLDEST_AWAITING_JOB_AGE_THRESHOLD.to_human_string()}: its callback is overdue and the "
            "reconciler has not closed it (is the reconciler running?).",
        )

    def _alarm(
        self, construct_id: str, metric: cloudwatch.IMetric, *, threshold: float, description: str
    ) -> None:
        alarm = cloudwatch.Alarm(
            self,
            construct_id,
            metric=metric,
            threshold=threshold,
            evaluation_periods=1,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
            alarm_description=description,
        )
        for action in self.actions:
            alarm.add_alarm_action(action)
        self.alarms[construct_id] = alarm

    def _alarm_topics(self, settings: Settings) -> list[sns.ITopic]:
        topics: list[sns.ITopic] = []
        if settings.alarm_email:
            # CloudWatch publishes to an encrypted topic only if the key's policy lets it.
            key = kms.Key(
                self,
                "AlarmTopicKey",
                description="Encrypts the alarm notifications topic.",
                enable_key_rotation=True,
                removal_policy=removal_policy(settings),
            )
            key.grant(iam.ServicePrincipal("cloudwatch.amazonaws.com"), "kms:Decrypt", "kms:GenerateDataKey*")
            topic = sns.Topic(
                self,
                "AlarmTopic",
                display_name="Deepgram transcription alarms",
                master_key=key,
                enforce_ssl=True,
            )
            topic.add_subscription(subscriptions.EmailSubscription(settings.alarm_email))
            topics.append(topic)
        if settings.alarm_topic_arn:
            topics.append(sns.Topic.from_topic_arn(self, "ExistingAlarmTopic", settings.alarm_topic_arn))
        return topics
