"""Lambda entry point for `GET /transcriptions/{id}` (API Gateway REST API, proxy integration)."""

from __future__ import annotations

import functools
import os
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response, content_types
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from functions.core import contract
from functions.core.adapters.aws import LazyClient, client, warm_up_in_lambda
from functions.core.adapters.dynamodb import DynamoJobRepository
from functions.core.adapters.s3 import S3ResultBlobStore
from functions.core.jobs import utc_now
from functions.core.ports import DependencyError
from functions.core.settings import StatusSettings
from functions.status.logic import JobNotFound, StatusConfig, StatusService

logger = Logger(service=contract.Services.STATUS)
app = APIGatewayRestResolver()


@functools.cache
def status_service() -> StatusService:
    settings = StatusSettings.from_environ(os.environ)
    return StatusService(
        jobs=DynamoJobRepository(client("dynamodb"), settings.jobs_table),
        blobs=S3ResultBlobStore(LazyClient("s3"), settings.results_bucket),
        config=StatusConfig(result_url_ttl_seconds=settings.result_url_ttl_seconds),
        clock=utc_now,
    )


@app.get(contract.Api.TRANSCRIPTION.replace("{id}", "<job_id>"))
def get_transcription(job_id: str) -> Response[Any]:
    logger.append_keys(job_id=job_id)
    view = status_service().describe(job_id)
    logger.append_keys(request_id=view.get("request_id"))
    logger.info("job read", extra={"status": view["status"]})
    return Response(status_code=200, content_type=content_types.APPLICATION_JSON, body=view)


def _error(status: int, code: str, message: str, retry_after: str | None = None) -> Response[Any]:
    return Response(
        status_code=status,
        content_type=content_types.APPLICATION_JSON,
        body={"error": {"code": code, "message": message}},
        headers={"Retry-After": retry_after} if retry_after else None,
    )


@app.exception_handler(JobNotFound)
def on_job_not_found(_: JobNotFound) -> Response[Any]:
    return _error(404, "job_not_found", "no transcription job with this id")


@app.exception_handler(DependencyError)
def on_dependency_error(_: DependencyError) -> Response[Any]:
    logger.exception("dependency failed")
    return _error(503, "service_unavailable", "a backing service failed; retry shortly", retry_after="2")


@app.not_found
def on_not_found(_: Exception) -> Response[Any]:
    return _error(404, "not_found", "no such resource")


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST, clear_state=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)


warm_up_in_lambda(status_service)
