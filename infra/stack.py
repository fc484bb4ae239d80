"""The whole pipeline as one stack: a thin composition of one construct per capability.

    Storage ───────────── jobs table, idempotency table, results bucket
    Secrets ───────────── Deepgram API key, callback signing secret
    Notifications ─────── encrypted SNS topic (+ optional email / SQS / HTTPS subscribers)
    CallbackEndpoint ──── callback function behind a public Function URL (Deepgram calls it)
    TranscriptionApi ──── REST API (IAM auth): POST and GET /transcriptions, GET and DELETE
                          /transcriptions/{id}, POST /transcriptions/{id}/notify
    Reconciler ────────── scheduled function: overdue jobs fail (or resubmit), owed notifications go out
    ResultDelivery ────── S3 delivery: the URL-signing role, the finisher function, deliveries/ lifecycle
    Monitoring ────────── alarms
    PipelineDashboard ─── CloudWatch dashboard of the monitoring construct's metrics and alarms

The callback endpoint is built before the API because the submit function must know the
callback URL it hands to Deepgram.
"""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
from constructs import Construct

from functions.core.contract import PRODUCT, Api
from infra.api import TranscriptionApi
from infra.callback import CallbackEndpoint
from infra.config import Settings
from infra.dashboard import PipelineDashboard
from infra.delivery import ResultDelivery
from infra.functions import powertools_layer
from infra.monitoring import Monitoring
from infra.notifications import Notifications
from infra.reconciler import Reconciler
from infra.secrets import Secrets
from infra.storage import Storage


class TranscriptionStack(cdk.Stack):
    """Deepgram speech-to-text with callbacks: API, callback endpoint, storage, notifications."""

    def __init__(self, scope: Construct, construct_id: str, *, settings: Settings, **kwargs: Any) -> None:
        super().__init__(
            scope,
            construct_id,
            description=f"{PRODUCT}: asynchronous speech-to-text with Deepgram callbacks",
            termination_protection=settings.deletion_protection,
            **kwargs,
        )
        cdk.Tags.of(self).add("project", PRODUCT)
        layer = powertools_layer(self, settings)
        storage = Storage(self, "Storage", settings=settings)
        secrets = Secrets(self, "Secrets", settings=settings)
        notifications = Notifications(self, "Notifications", settings=settings)
        callback = CallbackEndpoint(
            self,
            "Callback",
            settings=settings,
            layer=layer,
            jobs_table=storage.jobs_table,
            results_bucket=storage.results_bucket,
            topic=notifications.topic,
            topic_key=notifications.key,
            signing_secret=secrets.callback_signing,
        )
        api = TranscriptionApi(
            self,
            "Api",
            settings=settings,
            layer=layer,
            jobs_table=storage.jobs_table,
            idempotency_table=storage.idempotency_table,
            results_bucket=storage.results_bucket,
            secrets=secrets,
            callback_url=callback.url,
            topic=notifications.topic,
            topic_key=notifications.key,
        )
        self.reconciler = Reconciler(
            self,
            "Reconciler",
            settings=settings,
            layer=layer,
            jobs_table=storage.jobs_table,
            results_bucket=storage.results_bucket,
            topic=notifications.topic,
            topic_key=notifications.key,
            secrets=secrets,
            callback_url=callback.url,
        )
        self.delivery = ResultDelivery(
            self,
            "Delivery",
            settings=settings,
            layer=layer,
            results_bucket=storage.results_bucket,
            jobs_table=storage.jobs_table,
            topic=notifications.topic,
            topic_key=notifications.key,
            signing_secret=secrets.callback_signing,
            submit=api.submit,
        )
        if self.reconciler.resubmits:
            self.reconciler.allow_resubmission(delivery_role=self.delivery.signer_role)
        monitoring = Monitoring(
            self,
            "Monitoring",
            settings=settings,
            callback_function=callback.handler.function,
            api_stage=api.stage,
            dead_letter_queue=notifications.dead_letter_queue,
        )
        dashboard = PipelineDashboard(self, "Dashboard", monitoring=monitoring)

        outputs = {
            "ApiUrl": (api.rest_api.url, "Base URL of the transcription API (IAM/SigV4 auth)."),
            "TranscriptionsUrl": (
                api.rest_api.url_for_path(Api.TRANSCRIPTIONS),
                "POST a job here; GET <this>/<id> reads it.",
            ),
            "CallbackUrl": (callback.url, "Public URL Deepgram calls back (the function authenticates)."),
            "NotificationsTopicArn": (notifications.topic.topic_arn, "Subscribe here to job notifications."),
            "JobsTableName": (storage.jobs_table.table_name, "DynamoDB table of jobs."),
            "IdempotencyTableName": (storage.idempotency_table.table_name, "Powertools idempotency records."),
            "ResultsBucketName": (storage.results_bucket.bucket_name, "S3 bucket of stored transcripts."),
            "DeepgramApiKeySecret": (
                secrets.deepgram_api_key_secret_ref,
                "Put your Deepgram API key here: aws secretsmanager put-secret-value --secret-id <this>.",
            ),
            "DashboardUrl": (dashboard.url, "CloudWatch dashboard: throughput, failures, latency, alarms."),
        }
        if notifications.queue is not None and notifications.queue_key is not None:
            outputs["NotificationsQueueUrl"] = (
                notifications.queue.queue_url,
                "SQS queue of job notifications.",
            )
            outputs["NotificationsQueueKeyArn"] = (
                notifications.queue_key.key_arn,
                "Consumers of the queue need kms:Decrypt on this key.",
            )
        for name, (value, description) in outputs.items():
            cdk.CfnOutput(self, name, value=value, description=description)
