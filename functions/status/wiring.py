"""The status function's composition root, built once per execution environment."""

from __future__ import annotations

import functools
import os

from functions.core.adapters.aws import LazyClient, client, warm_up_in_lambda
from functions.core.adapters.dynamodb import DynamoJobRepository
from functions.core.adapters.s3 import S3ResultBlobStore
from functions.core.jobs import utc_now
from functions.core.settings import StatusSettings
from functions.status.logic import StatusConfig, StatusService


@functools.cache
def service() -> StatusService:
    settings = StatusSettings.from_environ(os.environ)
    return StatusService(
        jobs=DynamoJobRepository(client("dynamodb"), settings.jobs_table),
        blobs=S3ResultBlobStore(LazyClient("s3"), settings.results_bucket),
        config=StatusConfig(
            result_url_ttl_seconds=settings.result_url_ttl_seconds, retention_days=settings.retention_days
        ),
        clock=utc_now,
    )


warm_up_in_lambda(service)
