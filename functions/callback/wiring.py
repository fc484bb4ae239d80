"""The callback function's composition root: settings, adapters and the service, built once per
execution environment (in Lambda's init phase, see `warm_up_in_lambda`)."""

from __future__ import annotations

import functools
import os

from functions.callback.logic import CallbackConfig, CallbackService
from functions.core.adapters.aws import LazyClient, client, warm_up_in_lambda
from functions.core.adapters.dynamodb import DynamoJobRepository
from functions.core.adapters.s3 import S3ResultBlobStore
from functions.core.adapters.secrets import CachedSecrets
from functions.core.adapters.sns import SnsNotificationPublisher
from functions.core.jobs import utc_now
from functions.core.settings import CallbackSettings


@functools.cache
def service() -> CallbackService:
    settings = CallbackSettings.from_environ(os.environ)
    secrets = CachedSecrets(client("secretsmanager"), settings.secrets_max_age_seconds)

    def config() -> CallbackConfig:
        return CallbackConfig(
            signing_key=secrets.get(settings.callback_signing_secret_id),
            dg_token_mode=settings.dg_token_mode,
            deepgram_api_key_ids=settings.deepgram_api_key_ids,
        )

    return CallbackService(
        jobs=DynamoJobRepository(client("dynamodb"), settings.jobs_table),
        blobs=S3ResultBlobStore(LazyClient("s3"), settings.results_bucket),
        publisher=SnsNotificationPublisher(client("sns"), settings.topic_arn),
        config_source=config,
        clock=utc_now,
    )


warm_up_in_lambda(service)
