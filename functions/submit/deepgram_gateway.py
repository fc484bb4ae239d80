"""The one place that talks to Deepgram, through the official SDK.

Errors are translated into `DeepgramFailure` with the HTTP status this service answers with:
Deepgram's 400 is the client's fault (400, Deepgram's message); 401/402/403 are ours (502,
naming the cause, never the key); 429 is passed on with a `Retry-After`; 5xx and timeouts are
502/504 and *ambiguous*: Deepgram may have accepted the job, so it stays open to a callback.

Retries are bounded (`max_retries`, `timeout` from settings) so that a submission never
outlives API Gateway's 29 s integration timeout. A retried POST can start a second Deepgram
job; both carry our job id in `extra`, and only the first result is accepted for the job.
"""

from __future__ import annotations

import json
import logging
import re
import threading
from collections.abc import Callable
from typing import Any

import httpx
from deepgram import DeepgramClient
from deepgram.core.api_error import ApiError
from deepgram.environment import DeepgramClientEnvironment

from functions.core.contract import DEEPGRAM_API_KEY_PLACEHOLDER
from functions.core.ports import DependencyError
from functions.submit.logic import AudioUrl, DeepgramCall, DeepgramFailure

# httpx logs every request URL at INFO, and this URL carries the job's callback credentials
# (in `callback=` and `extra=callback_secret:`). Lambda's JSON logging puts the root logger at
# INFO, so silence the HTTP stack below WARNING: secrets never reach CloudWatch.
for _name in ("httpx", "httpcore"):
    logging.getLogger(_name).setLevel(logging.WARNING)

_logger = logging.getLogger(__name__)
_CALLBACK_SECRET = re.compile(r"callback_secret(:|%3A)[0-9a-fA-F]+")
_CREDENTIALS_IN_URL = re.compile(r"//[^/@\s]+:[^/@\s]+@")

_ACCOUNT_PROBLEMS = {
    401: ("deepgram_auth_failed", "Deepgram rejected this service's API key (401); check the stored key"),
    402: ("deepgram_payment_required", "the Deepgram project has run out of credit (402)"),
    403: ("deepgram_forbidden", "this service's Deepgram API key lacks permission for the request (403)"),
}


class DeepgramTranscriber:
    def __init__(
        self,
        *,
        api_key_source: Callable[[], str],
        base_url: str,
        timeout_seconds: float,
        max_retries: int,
    ) -> None:
        self._api_key_source = api_key_source
        self._environment = _environment(base_url)
        self._timeout = timeout_seconds
        self._max_retries = max_retries
        self._client: DeepgramClient | None = None
        self._client_key: str | None = None
        self._lock = threading.Lock()

    def submit(self, call: DeepgramCall) -> str:
        api_key = api_key_from_secret(self._api_key_source())
        if not api_key or api_key == DEEPGRAM_API_KEY_PLACEHOLDER:
            raise DeepgramFailure(
                http_status=502,
                code="deepgram_key_not_configured",
                message="the Deepgram API key secret still holds its placeholder; store your key in it",
            )
        client = self._client_for(api_key)
        arguments: dict[str, Any] = {
            **call.options,
            "callback": call.callback_url,
            "callback_method": call.callback_method.lower(),
            "extra": call.extra,
            "request_options": {"timeout": self._timeout, "max_retries": self._max_retries},
        }
        try:
            if isinstance(call.audio, AudioUrl):
                response = client.listen.v1.media.transcribe_url(url=call.audio.url, **arguments)
            else:
                response = client.listen.v1.media.transcribe_file(request=call.audio.data, **arguments)
        except ApiError as error:
            raise _failure_from_status(error) from None
        except httpx.TimeoutException:
            raise DeepgramFailure(
                http_status=504,
                code="deepgram_timeout",
                message="Deepgram did not answer in time",
                ambiguous=True,
            ) from None
        except httpx.ConnectError:
            raise DeepgramFailure(
                http_status=502, code="deepgram_unreachable", message="could not connect to Deepgram"
            ) from None
        except httpx.TransportError:
            raise DeepgramFailure(
                http_status=502,
                code="deepgram_unavailable",
                message="the connection to Deepgram failed mid-request",
                ambiguous=True,
            ) from None
        except Exception:  # an answer the SDK could not read: Deepgram may have accepted the job
            _logger.exception("unexpected failure of the Deepgram SDK")
            raise DeepgramFailure(
                http_status=502,
                code="deepgram_bad_response",
                message="Deepgram's answer was not understood",
                ambiguous=True,
            ) from None
        request_id = getattr(response, "request_id", None) or getattr(
            getattr(response, "metadata", None), "request_id", None
        )
        if not request_id:  # a 2xx, so Deepgram may well have the job
            raise DeepgramFailure(
                http_status=502,
                code="deepgram_bad_response",
                message="Deepgram's answer had no request_id",
                ambiguous=True,
            )
        return str(request_id)

    def _client_for(self, api_key: str) -> DeepgramClient:
        """One client (one HTTP connection pool) per key; a rotated key gets a new client."""
        with self._lock:
            if self._client is None or self._client_key != api_key:
                self._client = DeepgramClient(
                    api_key=api_key,
                    environment=self._environment,
                    timeout=self._timeout,
                    max_retries=self._max_retries,
                )
                self._client_key = api_key
            return self._client


def _environment(base_url: str) -> DeepgramClientEnvironment:
    websocket = base_url.replace("https://", "wss://", 1).replace("http://", "ws://", 1)
    return DeepgramClientEnvironment(
        base=base_url, production=websocket, agent=websocket, agent_rest=base_url
    )


def _failure_from_status(error: ApiError) -> DeepgramFailure:
    status = error.status_code or 502
    detail = _deepgram_message(error.body)
    if status in _ACCOUNT_PROBLEMS:
        code, message = _ACCOUNT_PROBLEMS[status]
        return DeepgramFailure(http_status=502, code=code, message=message)
    if status == 429:
        headers = {name.lower(): value for name, value in (error.headers or {}).items()}
        retry_after = headers.get("retry-after") or "5"
        return DeepgramFailure(
            http_status=429,
            code="deepgram_rate_limited",
            message="Deepgram's concurrency or rate limit was reached; retry later",
            retry_after=retry_after,
        )
    if status == 408:
        return DeepgramFailure(
            http_status=504,
            code="deepgram_timeout",
            message="Deepgram timed out reading the request",
            ambiguous=True,
        )
    if status == 413:
        return DeepgramFailure(http_status=413, code="deepgram_payload_too_large", message=detail)
    if 400 <= status < 500:
        return DeepgramFailure(http_status=400, code="deepgram_rejected", message=detail)
    return DeepgramFailure(
        http_status=502,
        code="deepgram_unavailable",
        message=f"Deepgram answered {status}: {detail}",
        ambiguous=True,
        retry_after="5",
    )


def _deepgram_message(body: Any) -> str:
    """Deepgram's own explanation (`err_msg`), bounded in length, with anything that looks like
    our callback credentials removed in case Deepgram echoes the request back."""
    if isinstance(body, dict):
        text = body.get("err_msg") or body.get("message") or body.get("err_code") or ""
    else:
        text = str(body or "")
    text = _CREDENTIALS_IN_URL.sub("//", _CALLBACK_SECRET.sub("callback_secret:[redacted]", str(text)))
    return text[:500] or "Deepgram refused the request"


def api_key_from_secret(secret_value: str) -> str:
    """The Deepgram key from its secret: the key itself, or a JSON object with an `api_key` field."""
    stripped = secret_value.strip()
    if not stripped.startswith("{"):
        return stripped
    try:
        document = json.loads(stripped)
    except ValueError:
        raise DependencyError("Secrets Manager: the Deepgram key secret is not valid JSON") from None
    return str(document.get("api_key", "") if isinstance(document, dict) else "").strip()
