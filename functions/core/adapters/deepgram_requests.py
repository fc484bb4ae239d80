"""Deepgram's request log, read through the SDK (`manage.v1.projects.requests.get`).

The reconciler asks it why a job's result did not come. The record holds the request's callback
URL, which carries the job's credentials: only the status codes are kept, nothing is logged.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from deepgram.core.api_error import ApiError

from functions.core.ports import DeepgramRecord

_logger = logging.getLogger(__name__)


class SdkDeepgramRequestLog:
    def __init__(self, *, client_source: Callable[[], Any], project_id: str) -> None:
        """`client_source`: a `DeepgramClient` (built lazily: it needs the API key's secret)."""
        self._client_source = client_source
        self._project_id = project_id

    def lookup(self, request_id: str) -> DeepgramRecord | None:
        try:
            record = self._client_source().manage.v1.projects.requests.get(self._project_id, request_id)
        except ApiError as error:
            _logger.warning("Deepgram's request log refused the lookup", extra={"status": error.status_code})
            return None
        except Exception:  # the log is a hint: without it the job still ends, for a vaguer reason
            _logger.warning("Deepgram's request log could not be read", exc_info=True)
            return None
        code = _status(getattr(record, "code", None))
        return DeepgramRecord(code=code, callback_code=_callback_code(record))


def _status(value: Any) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return int(value)


def _callback_code(record: Any) -> int | None:
    """The status the callback URL answered, where the record's `response` reports one."""
    response = getattr(record, "response", None)
    if not isinstance(response, dict):
        return None
    for key in ("callback_status", "callback_code", "callback_status_code"):
        if (code := _status(response.get(key))) is not None:
            return code
    callback = response.get("callback")
    if isinstance(callback, dict):
        return _status(callback.get("status_code") or callback.get("code") or callback.get("status"))
    return None
