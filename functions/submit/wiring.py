"""The submit function's composition root: settings, adapters, the service and its idempotent
wrapper, built once per execution environment (in Lambda's init phase)."""

from __future__ import annotations

import functools
import os
from datetime import timedelta

from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer

from functions.core import contract
from functions.core.adapters.aws import SUBMIT_CLIENT_POLICY, client, warm_up_in_lambda
from functions.core.adapters.delivery import StsDeliverySigner
from functions.core.adapters.dynamodb import DynamoJobRepository
from functions.core.adapters.s3 import S3ResultBlobStore
from functions.core.adapters.secrets import CachedSecrets
from functions.core.jobs import Delivery, utc_now
from functions.core.settings import SubmitSettings
from functions.submit.deepgram_gateway import DeepgramTranscriber
from functions.submit.idempotency import IdempotentSubmitter
from functions.submit.logic import SubmitService
from functions.submit.types import SubmitBudget, SubmitConfig

DEEPGRAM_MINIMUM_SECONDS = 2.0
"""Deepgram is not called with less time left: it answers a callback request at once, but an
upload's body (up to about 4.4 MB) must reach it first."""

BUDGET = SubmitBudget(
    aws_call_seconds=SUBMIT_CLIENT_POLICY.worst_case_seconds,
    deepgram_minimum_seconds=DEEPGRAM_MINIMUM_SECONDS,
)


@functools.cache
def submitter() -> IdempotentSubmitter:
    settings = SubmitSettings.from_environ(os.environ)
    secrets = CachedSecrets(client("secretsmanager", SUBMIT_CLIENT_POLICY), settings.secrets_max_age_seconds)
    dynamodb = client("dynamodb", SUBMIT_CLIENT_POLICY)
    service = SubmitService(
        jobs=DynamoJobRepository(dynamodb, settings.jobs_table),
        transcriber=DeepgramTranscriber(
            api_key_source=lambda: secrets.get(settings.deepgram_api_key_secret_id),
            base_url=settings.deepgram_base_url,
            timeout_seconds=settings.deepgram_timeout_seconds,
            max_retries=settings.deepgram_max_retries,
            minimum_seconds=DEEPGRAM_MINIMUM_SECONDS,
        ),
        config_source=lambda: SubmitConfig(
            signing_key=secrets.get(settings.callback_signing_secret_id),
            callback_url=settings.callback_url,
            callback_method=settings.callback_method,
            retention_days=settings.retention_days,
            result_deadline=timedelta(minutes=settings.callback_deadline_minutes),
            default_delivery=Delivery(settings.result_delivery),
            keep_uploaded_audio=settings.keep_uploaded_audio,
        ),
        clock=utc_now,
        budget=BUDGET,
        signer=(
            StsDeliverySigner(
                sts=client("sts", SUBMIT_CLIENT_POLICY),
                bucket=settings.results_bucket,
                role_arn=settings.delivery_role_arn,
            )
            if settings.delivery_role_arn
            else None
        ),
        audio_store=(
            S3ResultBlobStore(client("s3", SUBMIT_CLIENT_POLICY), settings.results_bucket)
            if settings.keep_uploaded_audio
            else None
        ),
    )
    persistence = DynamoDBPersistenceLayer(
        table_name=settings.idempotency_table,
        key_attr=contract.IdempotencyTable.PARTITION_KEY,
        expiry_attr=contract.IdempotencyTable.TTL_ATTRIBUTE,
        boto3_client=dynamodb,
    )
    return IdempotentSubmitter(service, persistence)


warm_up_in_lambda(submitter)
