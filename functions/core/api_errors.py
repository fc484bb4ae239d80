"""The one error type the public REST API's services raise: it becomes an HTTP answer of the
shape `{"error": {"code", "message"[, "job_id"]}}` (see `api_responses`). Pure Python."""

from __future__ import annotations


class ApiError(Exception):
    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        job_id: str | None = None,
        retry_after: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.job_id = job_id
        self.retry_after = retry_after
