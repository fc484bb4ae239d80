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

All are evaluated over 5-minute windows; missing data counts as "not breaching" (no traffic is
not a failure). Custom metrics are the EMF metrics the functions write with Powertools: namespace
`contract.Metrics.NAMESPACE`, one dimension `service` (Powertools' default dimension) set to the
function's service name.

Where alarms go: an encrypted alarm topic with an email subscription (`alarmEmail`), an existing
topic (`alarmTopicArn`), both, or neither (the alarms are still visible in CloudWatch).
"""

from __future__ import annotations

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
SERVICE_DIMENSION = "service"
"""The dimension Powertools Metrics adds to every metric, valued with POWERTOOLS_SERVICE_NAME."""


def service_metric(metric_name: str, service: str) -> cloudwatch.Metric:
    """The 5-minute sum of one of the functions' EMF metrics."""
    return cloudwatch.Metric(
        namespace=Metrics.NAMESPACE,
        metric_name=metric_name,
        dimensions_map={SERVICE_DIMENSION: service},
        statistic=cloudwatch.Stats.SUM,
        period=PERIOD,
    )


class Monitoring(Construct):
    """The pipeline's alarms and where they send their notifications."""

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
        self.alarms: list[cloudwatch.Alarm] = []

        self._alarm(
            "CallbackErrors",
            callback_function.metric_errors(period=PERIOD, statistic=cloudwatch.Stats.SUM),
            threshold=1,
            description="The callback function failed: Deepgram retries for about 5 minutes, then the "
            "transcript is lost. Check the callback function's logs.",
        )
        self._alarm(
            "CallbackThrottles",
            callback_function.metric_throttles(period=PERIOD, statistic=cloudwatch.Stats.SUM),
            threshold=1,
            description="The callback function was throttled (reserved concurrency or account limit).",
        )
        self._alarm(
            "CallbackFaults",
            service_metric(Metrics.CALLBACK_FAULTS, Services.CALLBACK),
            threshold=1,
            description="The callback answered 503 because a dependency (DynamoDB, S3, SNS or Secrets "
            "Manager) failed. Deepgram retries, but gives up after 10 attempts and the transcript is "
            "lost. Check the callback function's logs.",
        )
        self._alarm(
            "CallbacksRejected",
            service_metric(Metrics.CALLBACKS_REJECTED, Services.CALLBACK),
            threshold=settings.rejected_callbacks_threshold,
            description="Many callbacks were rejected: someone is probing the public callback URL, or "
            "the callback credentials no longer match (was the signing secret changed?).",
        )
        self._alarm(
            "Submit5xx",
            api_stage.metric_server_error(period=PERIOD, statistic=cloudwatch.Stats.SUM),
            threshold=1,
            description="The transcription API answered 5XX: submissions or status reads are failing.",
        )
        self._alarm(
            "JobsFailed",
            cloudwatch.MathExpression(
                expression="FILL(submit, 0) + FILL(callback, 0)",
                using_metrics={
                    "submit": service_metric(Metrics.JOBS_FAILED, Services.SUBMIT),
                    "callback": service_metric(Metrics.JOBS_FAILED, Services.CALLBACK),
                },
                label="Failed jobs",
                period=PERIOD,
            ),
            threshold=1,
            description="A transcription job failed, at submission or in Deepgram's callback.",
        )
        if dead_letter_queue is not None:
            self._alarm(
                "NotificationsDlq",
                dead_letter_queue.metric_approximate_number_of_messages_visible(
                    period=PERIOD, statistic=cloudwatch.Stats.MAXIMUM
                ),
                threshold=1,
                description="Notifications reached the dead-letter queue: a consumer keeps failing, or "
                "SNS could not deliver to the queue.",
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
        self.alarms.append(alarm)

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
