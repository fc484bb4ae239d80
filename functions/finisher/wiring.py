"""The finisher's composition root: the callback's service over the same adapters, built once per
execution environment (in Lambda's init phase)."""

from __future__ import annotations

import functools
import os

from functions.callback.logic import CallbackConfig, CallbackService
from functions.core.adapters.aws import client, warm_up_in_lambda
from functions.core.adapters.dynamodb import DynamoJobRepository
from functions.core.adapters.s3 import S3ResultBlobStore
from functions.core.adapters.secrets import CachedSecrets
from functions.core.adapters.sns import SnsNotificationPublisher
from functions.core.contract import DgTokenMode
from functions.core.jobs import utc_now
from functions.core.settings import FinisherSettings
from functions.finisher.logic import DeliveryFinisher


@functools.cache
def finisher() -> DeliveryFinisher:
    settings = FinisherSettings.from_environ(os.environ)
    secrets = CachedSecrets(client("secretsmanager"), settings.secrets_max_age_seconds)
    results = S3ResultBlobStore(client("s3"), settings.results_bucket)

    def config() -> CallbackConfig:
        # No HTTP request, so no dg-token: the object's key and the body's secret authenticate.
        return CallbackConfig(
            signing_key=secrets.get(settings.callback_signing_secret_id),
            dg_token_mode=DgTokenMode.OFF,
            deepgram_api_key_ids=(),
        )

    service = CallbackService(
        jobs=DynamoJobRepository(client("dynamodb"), settings.jobs_table),
        blobs=results,
        publisher=SnsNotificationPublisher(client("sns"), settings.topic_arn),
        config_source=config,
        clock=utc_now,
    )
    return DeliveryFinisher(service=service, deliveries=results, bucket=settings.results_bucket)


warm_up_in_lambda(finisher)
