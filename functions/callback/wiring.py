"""The callback function's composition root: settings, adapters and the service, built once per
execution environment (in Lambda's init phase, see `warm_up_in_lambda`)."""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from dataclasses import dataclass

from functions.callback.logic import CallbackConfig, CallbackService
from functions.core.adapters.aws import LazyClient, client, warm_up_in_lambda
from functions.core.adapters.dynamodb import DynamoJobRepository
from functions.core.adapters.s3 import S3ResultBlobStore
from functions.core.adapters.secrets import CachedSecrets
from functions.core.adapters.sns import SnsNotificationPublisher
from functions.core.jobs import utc_now
from functions.core.ports import JobRepository, NotificationPublisher, ResultBlobStore
from functions.core.settings import CallbackSettings


@dataclass(frozen=True)
class Ports:
    """What the service is built over: the AWS adapters and the configuration read per request."""

    jobs: JobRepository
    blobs: ResultBlobStore
    publisher: NotificationPublisher
    config_source: Callable[[], CallbackConfig]


def ports(settings: CallbackSettings) -> Ports:
    """The adapters over boto3 clients (the benchmarks put timers in front of the same ones)."""
    secrets = CachedSecrets(client("secretsmanager"), settings.secrets_max_age_seconds)

    def config() -> CallbackConfig:
        return CallbackConfig(
            signing_key=secrets.get(settings.callback_signing_secret_id),
            dg_token_mode=settings.dg_token_mode,
            deepgram_api_key_ids=settings.deepgram_api_key_ids,
        )

    return Ports(
        jobs=DynamoJobRepository(client("dynamodb"), settings.jobs_table),
        blobs=S3ResultBlobStore(LazyClient("s3"), settings.results_bucket),
        publisher=SnsNotificationPublisher(client("sns"), settings.topic_arn),
        config_source=config,
    )


@functools.cache
def service() -> CallbackService:
    built = ports(CallbackSettings.from_environ(os.environ))
    return CallbackService(
        jobs=built.jobs,
        blobs=built.blobs,
        publisher=built.publisher,
        config_source=built.config_source,
        clock=utc_now,
    )


warm_up_in_lambda(service)
