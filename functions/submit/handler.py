"""Lambda entry point for `POST /transcriptions` (API Gateway REST API, proxy integration).

Translates the HTTP request into a `ParsedSubmission` (`requests.py`), hands it to the
idempotent submitter (`idempotency.py` around `logic.py`, built by `wiring.py`) and shapes the
answer: 202 with the job, or the error in the API's one shape (`core.api_responses`).
"""

from __future__ import annotations

from functions.core import gc_thresholds  # isort: skip  (first: fewer collections in the cold start)

from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from functions.core import contract
from functions.core.api_errors import ApiError
from functions.core.api_responses import json_response, register_error_handlers
from functions.core.deadline import ColdStart, for_invocation
from functions.core.tracing import traced
from functions.submit import idempotency, wiring
from functions.submit.idempotency import caller_of
from functions.submit.requests import parse_submission
from functions.submit.telemetry import count_error, logger, metrics, observe

app = APIGatewayRestResolver()
_cold_start = ColdStart.begin()  # API Gateway's 29 s include a cold start's init phase
register_error_handlers(app, logger, on_error=count_error)


@app.post(contract.Api.TRANSCRIPTIONS)
def create_transcription() -> Response[Any]:
    event = app.current_event
    headers = {name.lower(): value for name, value in (event.headers or {}).items()}
    parsed = parse_submission(
        content_type=headers.get("content-type", ""),
        body=event.body,
        is_base64_encoded=bool(event.is_base64_encoded),
        query=event.multi_value_query_string_parameters or {},
    )
    identity = event.request_context.identity
    submitted = wiring.submitter().submit(
        parsed,
        idempotency_key=headers.get("idempotency-key"),
        caller=caller_of(identity.user_arn, identity.caller),
        deadline=for_invocation(
            app.lambda_context.get_remaining_time_in_millis(), spent_before_handler=_cold_start.take()
        ),
    )
    observe(submitted)
    if (failure := submitted.failure) is not None:
        raise ApiError(
            failure.http_status,
            failure.code,
            failure.message,
            job_id=submitted.job["id"],
            retry_after=failure.retry_after,
        )
    job_id = submitted.job["id"]
    return json_response(202, submitted.job, {"Location": contract.Api.TRANSCRIPTION.format(id=job_id)})


@gc_thresholds.restore_after_first_answer
@traced(contract.Services.SUBMIT)
@metrics.log_metrics
@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST, clear_state=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    idempotency.CONFIG.register_lambda_context(context)
    return app.resolve(event, context)
