"""Lambda entry point for `DELETE /transcriptions/{id}` and `POST /transcriptions/{id}/notify`
(API Gateway REST API, proxy integration)."""

from __future__ import annotations

from functions.core import gc_thresholds  # isort: skip  (first: fewer collections in the cold start)

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from functions.core import contract
from functions.core.api_responses import json_response, register_error_handlers
from functions.core.tracing import annotate, traced
from functions.manage import wiring

logger = Logger(service=contract.Services.MANAGE)
app = APIGatewayRestResolver()
register_error_handlers(app, logger)


def _job(job_id: str) -> None:
    logger.append_keys(job_id=job_id)
    annotate(job_id=job_id)


@app.delete(contract.Api.TRANSCRIPTION.replace("{id}", "<job_id>"))
def delete_transcription(job_id: str) -> Response[Any]:
    _job(job_id)
    deletion = wiring.service().delete(job_id)
    logger.info(
        "job already deleted" if deletion.already_deleted else "job deleted",
        extra={"objects_deleted": deletion.objects_deleted, "notified": deletion.notified},
    )
    return json_response(200, deletion.view)


@app.post(contract.Api.NOTIFY.replace("{id}", "<job_id>"))
def notify_transcription(job_id: str) -> Response[Any]:
    _job(job_id)
    redelivery = wiring.service().redeliver(job_id)
    logger.info("notification redelivered", extra=redelivery.as_dict())
    return json_response(202, redelivery.as_dict())


@gc_thresholds.restore_after_first_answer
@traced(contract.Services.MANAGE)
@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST, clear_state=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
