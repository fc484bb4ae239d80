"""JSON answers of the public REST API (submit and status functions), in one shape:
`{"error": {"code", "message"[, "job_id"]}}`. Imports Powertools' event handler, so the
callback function, which answers Deepgram and not API clients, never imports this module."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.event_handler import Response, content_types

SERVICE_UNAVAILABLE = ("service_unavailable", "a backing service failed; retry shortly")


def json_response(status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> Response[Any]:
    return Response(
        status_code=status, content_type=content_types.APPLICATION_JSON, body=body, headers=headers
    )


def error_response(
    status: int, code: str, message: str, *, job_id: str | None = None, retry_after: str | None = None
) -> Response[Any]:
    error: dict[str, str] = {"code": code, "message": message}
    if job_id:
        error["job_id"] = job_id
    return json_response(status, {"error": error}, {"Retry-After": retry_after} if retry_after else None)
