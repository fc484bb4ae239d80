"""JSON answers of the public REST API (submit and status functions), and the error handling
they share: every error has one shape, `{"error": {"code", "message"[, "job_id"]}}`. Imports
Powertools' event handler, so the callback function, which answers Deepgram and not API clients,
never imports this module."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response, content_types

from functions.core.api_errors import ApiError
from functions.core.ports import DependencyError

SERVICE_UNAVAILABLE = ("service_unavailable", "a backing service failed; retry shortly")
DEPENDENCY_RETRY_AFTER_SECONDS = "2"


def json_response(status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> Response[Any]:
    return Response(
        status_code=status, content_type=content_types.APPLICATION_JSON, body=body, headers=headers
    )


def error_response(error: ApiError) -> Response[Any]:
    body: dict[str, str] = {"code": error.code, "message": error.message}
    if error.job_id:
        body["job_id"] = error.job_id
    headers = {"Retry-After": error.retry_after} if error.retry_after else None
    return json_response(error.status, {"error": body}, headers)


def register_error_handlers(
    app: APIGatewayRestResolver, logger: Logger, on_error: Callable[[ApiError], None] = lambda _: None
) -> None:
    """Answer `ApiError`, dependency faults (503, retry shortly) and unknown routes (404) alike.

    `on_error` sees every error answer, e.g. to count it."""

    def answer(error: ApiError) -> Response[Any]:
        on_error(error)
        return error_response(error)

    @app.exception_handler(ApiError)
    def on_api_error(error: ApiError) -> Response[Any]:
        logger.info("request refused", extra={"code": error.code, "status": error.status})
        return answer(error)

    @app.exception_handler(DependencyError)
    def on_dependency_error(error: DependencyError) -> Response[Any]:
        # The message names the service and its error code, never a secret.
        logger.error("dependency failed", extra={"error": str(error)})
        return answer(ApiError(503, *SERVICE_UNAVAILABLE, retry_after=DEPENDENCY_RETRY_AFTER_SECONDS))

    @app.not_found
    def on_not_found(_: Exception) -> Response[Any]:
        return answer(ApiError(404, "not_found", "no such resource"))
