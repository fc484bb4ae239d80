"""boto3 client construction shared by the adapters.

Clients are created lazily (by the functions' dependency factories) and reused across
invocations. Timeouts are short and retries bounded: the callback must answer Deepgram fast,
and a hung dependency is better reported as a 5xx (Deepgram retries) than waited out.
"""

from __future__ import annotations

import gc
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Final, TypeVar

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from functions.core import snapstart
from functions.core.ports import DependencyError

CLIENT_CONFIG = Config(
    connect_timeout=2,
    read_timeout=5,
    retries={"max_attempts": 3, "mode": "standard"},
)


# botocore's "standard" retry mode, as far as a worst case depends on it (pinned by
# tests/unit/test_bounds.py against botocore.retries.standard.ExponentialBackoff): the delay before
# retry n (1-based) is at most min(base x 2**(n-1), cap), base 1 s for throttling errors (50 ms
# otherwise), and a response's `x-amz-retry-after` header may stretch it by up to 5 s more, which
# bounded clients refuse (`_refuse_retry_when_asked_to_wait`).
BOTOCORE_THROTTLING_BACKOFF_BASE_SECONDS: Final = 1.0
BOTOCORE_MAX_BACKOFF_SECONDS: Final = 20.0
RETRY_AFTER_HEADER: Final = "x-amz-retry-after"


@dataclass(frozen=True)
class ClientPolicy:
    """Timeouts and attempts of a boto3 client whose worst case per call is known.

    `worst_case_seconds` bounds one API call, botocore's retries included: every attempt waits
    at most `connect_timeout` to connect and `read_timeout` for the answer, and every retry
    sleeps at most botocore's throttling backoff. (Not counted, as no client setting bounds
    them: DNS resolution, and an answer trickling in, each read under `read_timeout`.)"""

    connect_timeout: float
    read_timeout: float
    max_attempts: int

    @property
    def worst_case_seconds(self) -> float:
        attempts = self.max_attempts * (self.connect_timeout + self.read_timeout)
        backoffs = sum(
            min(BOTOCORE_THROTTLING_BACKOFF_BASE_SECONDS * 2.0 ** (retry - 1), BOTOCORE_MAX_BACKOFF_SECONDS)
            for retry in range(1, self.max_attempts)
        )
        return attempts + backoffs

    def config(self) -> Config:
        return Config(
            connect_timeout=self.connect_timeout,
            read_timeout=self.read_timeout,
            retries={"total_max_attempts": self.max_attempts, "mode": "standard"},
        )


SUBMIT_CLIENT_POLICY: Final = ClientPolicy(connect_timeout=0.5, read_timeout=1.0, max_attempts=2)
"""The submit function's clients (DynamoDB, Secrets Manager): it answers API Gateway, which gives
up after 29 s, and makes up to six AWS calls per request (`functions/submit/types.SubmitBudget`).
Worst case 4 s a call: 2 x (0.5 + 1.0) + 1 s backoff. DynamoDB and Secrets Manager answer in
milliseconds inside a region; one transient failure is retried, a second is the client's to retry
(with its Idempotency-Key)."""

T = TypeVar("T")


# Presigned S3 URLs must be SigV4: buckets created since June 2020 refuse SigV2, which botocore
# would otherwise pick for presigning in some regions (us-east-1 among them).
_SERVICE_CONFIG = {"s3": CLIENT_CONFIG.merge(Config(signature_version="s3v4"))}


def client(service: str, policy: ClientPolicy | None = None) -> Any:
    """A boto3 client; with a `policy`, one whose calls end within `policy.worst_case_seconds`."""
    config = _SERVICE_CONFIG.get(service, CLIENT_CONFIG)
    if policy is None:
        return boto3.client(service, config=config)
    bounded = boto3.client(service, config=config.merge(policy.config()))
    service_id = bounded.meta.service_model.service_id.hyphenize()
    bounded.meta.events.register_first(f"needs-retry.{service_id}", _refuse_retry_when_asked_to_wait)
    return bounded


def _refuse_retry_when_asked_to_wait(response: Any = None, **_: Any) -> bool | None:
    """A `needs-retry` hook run before botocore's own: False (no retry) when the answer asks for
    a longer wait (`x-amz-retry-after`) than the policy's worst case allows; None lets botocore
    decide."""
    http_response = response[0] if response else None
    if http_response is not None and RETRY_AFTER_HEADER in http_response.headers:
        return False
    return None


def error_code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


PERMANENT_ERROR_CODES = frozenset(
    {
        "ValidationException",  # DynamoDB: an invalid request, an item over 400 KB
        "SerializationException",
        "InvalidParameter",  # SNS: a message or attribute it will never accept
        "InvalidParameterValue",
        "InvalidParameterException",
        "EntityTooLarge",  # S3
        "InvalidArgument",
        "NoSuchKey",  # S3: the object is gone (a delivery already handled)
    }
)
"""Refusals no retry can cure. Everything else (throttling, 5xx, timeouts, access denied while a
deployment is being fixed) is transient."""


def dependency_error(service: str, error: Exception) -> DependencyError:
    """The `DependencyError` for a botocore failure: names the service and the error code, never a secret."""
    if isinstance(error, ClientError):
        code = error_code(error) or "error"
        return DependencyError(f"{service}: {code}", permanent=code in PERMANENT_ERROR_CODES)
    return DependencyError(f"{service}: {type(error).__name__}")


@contextmanager
def dependency(service: str) -> Iterator[None]:
    """Translate botocore failures into `DependencyError` naming the service."""
    try:
        yield
    except (ClientError, BotoCoreError) as error:
        raise dependency_error(service, error) from error


def call(service: str, operation: Callable[..., T], **kwargs: Any) -> T:
    with dependency(service):
        return operation(**kwargs)


class LazyClient:
    """A boto3 client created on first use: cold starts skip clients a request may never need."""

    def __init__(self, service: str) -> None:
        self._service = service
        self._client: Any = None

    def __getattr__(self, name: str) -> Any:
        if self._client is None:
            self._client = client(self._service)
        return getattr(self._client, name)


def warm_up_in_lambda(factory: Callable[[], object]) -> None:
    """In Lambda, build a function's settings and clients during the init phase.

    Configuration is then validated at cold start (a bad setting fails the init with a message
    naming it, instead of the first request), and clients are ready before the first event.
    Elsewhere (tests, the local stack) nothing happens at import: the environment is set later.

    After building, the objects made so far (modules, clients, settings: they live as long as the
    execution environment) are moved out of the garbage collector's sight (`gc.freeze`), so no
    collection during an invocation walks them again. With SnapStart, what must be redone after a
    restore is registered first (`core.snapstart.install`; nothing happens without SnapStart).
    """
    if os.environ.get("AWS_LAMBDA_FUNCTION_NAME") and os.environ.get("AWS_EXECUTION_ENV"):
        snapstart.install()
        factory()
        gc.collect()
        gc.freeze()
