"""Lambda entry point for `GET /transcriptions/{id}` and `GET /transcriptions` (API Gateway REST
API, proxy integration): read-only."""

from __future__ import annotations

from functions.core import gc_thresholds  # isort: skip  (first: fewer collections in the cold start)

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response, content_types
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from functions.core import contract
from functions.core.api_responses import json_response, register_error_handlers
from functions.core.tracing import annotate, traced
from functions.status import wiring
from functions.status.logic import ListQuery

logger = Logger(service=contract.Services.STATUS)
app = APIGatewayRestResolver()
register_error_handlers(app, logger)


@app.get(contract.Api.TRANSCRIPTION.replace("{id}", "<job_id>"))
def get_transcription(job_id: str) -> Response[Any]:
    logger.append_keys(job_id=job_id)
    annotate(job_id=job_id)
    description = wiring.service().describe(job_id)
    logger.append_keys(request_id=description.view.get("request_id"))
    logger.info("job read", extra={"status": description.view["status"]})
    return Response(status_code=200, content_type=content_types.APPLICATION_JSON, body=description.to_json())


@app.get(contract.Api.TRANSCRIPTIONS)
def list_transcriptions() -> Response[Any]:
    query = ListQuery.parse(app.current_event.query_string_parameters or {})
    listing = wiring.service().list(query)
    logger.info("jobs listed", extra={"count": len(listing.items), "more": listing.next_cursor is not None})
    return json_response(200, listing.as_dict())


@gc_thresholds.restore_after_first_answer
@traced(contract.Services.STATUS)
@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST, clear_state=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
