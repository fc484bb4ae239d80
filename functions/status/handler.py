"""Lambda entry point for `GET /transcriptions/{id}` (API Gateway REST API, proxy integration)."""

from __future__ import annotations

import functools
import os
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from functions.core import contract
from functions.core.adapters.aws import LazyClient, client, warm_up_in_lambda
from functions.core.adapters.dynamodb import DynamoJobRepository
from functions.core.adapters.s3 import S3ResultBlobStore
from functions.core.api_responses import SERVICE_UNAVAILABLE, error_response, json_response
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
    return json_response(200, view)


@app.exception_handler(JobNotFound)
def on_job_not_found(_: JobNotFound) -> Response[Any]:
    return error_response(404, "job_not_found", "no transcription job with this id")


@app.exception_handler(DependencyError)
def on_dependencyerror_response(_: DependencyError) -> Response[Any]:
    logger.exception("dependency failed")
    return error_response(503, *SERVICE_UNAVAILABLE, retry_after="2")


@app.not_found
def on_not_found(_: Exception) -> Response[Any]:
    return error_response(404, "not_found", "no such resource")


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST, clear_state=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)


warm_up_in_lambda(status_service)
