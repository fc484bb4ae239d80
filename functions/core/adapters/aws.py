"""boto3 client construction shared by the adapters.

Clients are created lazily (by the functions' dependency factories) and reused across
invocations. Timeouts are short and retries bounded: the callback must answer Deepgram fast,
and a hung dependency is better reported as a 5xx (Deepgram retries) than waited out.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from functions.core.ports import DependencyError

CLIENT_CONFIG = Config(
    connect_timeout=2,
    read_timeout=5,
    retries={"max_attempts": 3, "mode": "standard"},
)

T = TypeVar("T")


# Presigned S3 URLs must be SigV4: buckets created since June 2020 refuse SigV2, which botocore
# would otherwise pick for presigning in some regions (us-east-1 among them).
_SERVICE_CONFIG = {"s3": CLIENT_CONFIG.merge(Config(signature_version="s3v4"))}


def client(service: str) -> Any:
    return boto3.client(service, config=_SERVICE_CONFIG.get(service, CLIENT_CONFIG))


def error_code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


@contextmanager
def dependency(service: str) -> Iterator[None]:
    """Translate botocore failures into `DependencyError` naming the service."""
    try:
        yield
    except ClientError as error:
        raise DependencyError(f"{service}: {error_code(error) or 'error'}") from error
    except BotoCoreError as error:
        raise DependencyError(f"{service}: {type(error).__name__}") from error


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
    """
    if os.environ.get("AWS_LAMBDA_FUNCTION_NAME") and os.environ.get("AWS_EXECUTION_ENV"):
        factory()
