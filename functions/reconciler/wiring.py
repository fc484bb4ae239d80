"""The reconciler's composition root, built once per execution environment."""

from __future__ import annotations

import functools
import os
from datetime import timedelta

from functions.core.adapters.aws import client, warm_up_in_lambda
from functions.core.adapters.dynamodb import DynamoJobRepository
from functions.core.adapters.secrets import CachedSecrets
from functions.core.adapters.sns import SnsNotificationPublisher
from functions.core.jobs import utc_now
from functions.core.ports import DeepgramRequestLog, Resubmitter
from functions.core.settings import ReconcilerSettings
from functions.reconciler.logic import ReconcilerConfig, ReconcilerService, RecoveryMode


@functools.cache
def service() -> ReconcilerService:
    settings = ReconcilerSettings.from_environ(os.environ)
    secrets = CachedSecrets(client("secretsmanager"), settings.secrets_max_age_seconds)
    recovery = RecoveryMode(settings.recover_lost_callbacks)
    return ReconcilerService(
        jobs=DynamoJobRepository(client("dynamodb"), settings.jobs_table),
        publisher=SnsNotificationPublisher(client("sns"), settings.topic_arn),
        request_log=_request_log(settings, secrets) if settings.deepgram_project_id else None,
        resubmitter=_resubmitter(settings, secrets) if recovery is RecoveryMode.RESUBMIT else None,
        config=ReconcilerConfig(
            result_deadline=timedelta(minutes=settings.callback_deadline_minutes),
            recovery=recovery,
            batch_size=settings.batch_size,
            s3_delivery=bool(settings.delivery_role_arn),
        ),
        clock=utc_now,
    )


def _request_log(settings: ReconcilerSettings, secrets: CachedSecrets) -> DeepgramRequestLog:
    # The SDK is imported only when the request log is configured.
    from functions.core.adapters.deepgram_requests import SdkDeepgramRequestLog  # noqa: PLC0415
    from functions.submit.deepgram_gateway import deepgram_client  # noqa: PLC0415

    return SdkDeepgramRequestLog(
        client_source=lambda: deepgram_client(
            secrets.get(settings.deepgram_api_key_secret_id),
            base_url=settings.deepgram_base_url,
            timeout_seconds=settings.deepgram_timeout_seconds,
        ),
        project_id=settings.deepgram_project_id,
    )


def _resubmitter(settings: ReconcilerSettings, secrets: CachedSecrets) -> Resubmitter:
    from functions.reconciler.resubmit import DeepgramResubmitter  # noqa: PLC0415

    return DeepgramResubmitter.from_settings(settings, secrets)


warm_up_in_lambda(service)
