"""The one place that talks to Deepgram, through the official SDK.

Errors are translated into `DeepgramFailure` with the HTTP status this service answers with:
Deepgram's 400 is the client's fault (400, Deepgram's message); 401/402/403 are ours (502,
naming the cause, never the key); 429 is passed on with a `Retry-After`; 5xx and timeouts are
502/504 and *ambiguous*: Deepgram may have accepted the job, so it stays open to a callback.

Retries are bounded (`max_retries`, `timeout` from settings) and, when the call carries the
request's deadline, fitted to it: each attempt's timeout is at most what remains, and the SDK
retries only if every attempt and the SDK's longest sleep between them (it honours a
`Retry-After` of up to `SDK_MAX_RETRY_DELAY_SECONDS`) still fit. With too little time left
(under `minimum_seconds`) Deepgram is not called (`deadline_exceeded`, not ambiguous). httpx's
timeout bounds each phase of an attempt (connect, each write, each read), not the attempt as a
whole. A retried POST can start a second Deepgram job; both carry our job id in `extra`, and only
the first result is accepted for the job.
"""

from __future__ import annotations

import functools
import json
import logging
import re
from collections.abc import Callable
from typing import Any

import httpx
from deepgram import DeepgramClient
from deepgram.core import http_client as sdk_http
from deepgram.core.api_error import ApiError
from deepgram.environment import DeepgramClientEnvironment

from functions.core.contract import DEEPGRAM_API_KEY_PLACEHOLDER
from functions.core.deadline import Deadline
from functions.core.ports import AudioUrl, DeepgramCall, DeepgramFailure, DependencyError
from functions.submit.types import SubmitFailure

# httpx logs every request URL at INFO, and this URL carries the job's callback credentials
# (in `callback=` and `extra=callback_secret:`). Lambda's JSON logging puts the root logger at
# INFO, so silence the HTTP stack below WARNING: secrets never reach CloudWatch.
for _name in ("httpx", "httpcore"):
    logging.getLogger(_name).setLevel(logging.WARNING)

_logger = logging.getLogger(__name__)

SDK_MAX_RETRY_DELAY_SECONDS: float = sdk_http.MAX_RETRY_DELAY_SECONDS
"""The longest the SDK sleeps before a retry (it honours a `Retry-After` up to this)."""
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
        minimum_seconds: float = 1.0,
    ) -> None:
        self._api_key_source = api_key_source
        self._base_url = base_url
        self._timeout = timeout_seconds
        self._max_retries = max_retries
        self._minimum = minimum_seconds

    def submit(self, call: DeepgramCall) -> str:
        api_key = api_key_from_secret(self._api_key_source())
        if not api_key or api_key == DEEPGRAM_API_KEY_PLACEHOLDER:
            raise DeepgramFailure(
                http_status=502,
                code="deepgram_key_not_configured",
                message="the Deepgram API key secret still holds its placeholder; store your key in it",
            )
        client = _client(api_key, self._base_url, self._timeout, self._max_retries)
        timeout, max_retries = self.limits(call.deadline)
        arguments: dict[str, Any] = {
            **call.options,
            "callback": call.callback_url,
            "callback_method": call.callback_method.lower(),
            "extra": call.extra,
            "request_options": {"timeout": timeout, "max_retries": max_retries},
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

    def limits(self, deadline: Deadline | None) -> tuple[float, int]:
        """The timeout of each attempt and the SDK retries that fit before `deadline`;
        `DeepgramFailure` (`deadline_exceeded`) if less than the minimum remains."""
        if deadline is None:
            return self._timeout, self._max_retries
        left = deadline.remaining()
        if left < self._minimum:
            refusal = SubmitFailure.deadline_exceeded()
            raise DeepgramFailure(
                http_status=refusal.http_status,
                code=refusal.code,
                message=refusal.message,
                retry_after=refusal.retry_after,
            )
        timeout = min(self._timeout, left)
        retries = self._max_retries
        while retries and (retries + 1) * timeout + retries * SDK_MAX_RETRY_DELAY_SECONDS > left:
            retries -= 1
        return timeout, retries


def deepgram_client(
    api_key_secret_value: str, *, base_url: str, timeout_seconds: float, max_retries: int = 0
) -> DeepgramClient:
    """The SDK client for the key in `api_key_secret_value` (the secret's value: the key, or JSON
    with an `api_key` field) and a base URL: the one place a `DeepgramClient` is built. The same
    arguments give the same client (one HTTP connection pool); a rotated key gets a new one."""
    return _client(api_key_from_secret(api_key_secret_value), base_url, timeout_seconds, max_retries)


@functools.lru_cache(maxsize=8)
def _client(api_key: str, base_url: str, timeout_seconds: float, max_retries: int) -> DeepgramClient:
    return DeepgramClient(
        api_key=api_key, environment=_environment(base_url), timeout=timeout_seconds, max_retries=max_retries
    )


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
