"""Fixtures for the submit and status tests: a local Deepgram stub and helpers that invoke the
unchanged handlers with the exact API Gateway / Function URL events Lambda receives."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, cast

import boto3
import pytest
from aws_lambda_powertools.utilities.typing import LambdaContext as PowertoolsContext
from botocore.loaders import Loader

from functions.callback import handler as callback_handler
from functions.core.adapters.dynamodb import DynamoJobRepository
from functions.core.adapters.job_item import to_job
from functions.core.callback_auth import callback_secret
from functions.core.jobs import Job
from functions.status import handler as status_handler
from functions.submit import handler as submit_handler
from local.deepgram_emulator.payloads import compact_json, generate_response
from local.events import ACCOUNT_ID, LambdaContext, function_url_event, rest_api_event
from tests.conftest import SIGNING_KEY, Stack, reset_handler_caches
from tests.unit.deepgram_stub import DeepgramStub

DEFAULT_USER_ARN = f"arn:aws:iam::{ACCOUNT_ID}:user/local-developer"


@dataclass(frozen=True)
class HttpAnswer:
    status: int
    headers: dict[str, str]
    body: Any  # parsed JSON

    @property
    def error(self) -> dict[str, Any]:
        """The `{"error": {...}}` object, checked to have exactly the documented shape."""
        assert set(self.body) == {"error"}, self.body
        error = self.body["error"]
        assert {"code", "message"} <= set(error), error
        assert isinstance(error["code"], str)
        assert isinstance(error["message"], str)
        return dict(error)


def lambda_context(function_name: str) -> PowertoolsContext:
    """The runtime's context object (`local.events.LambdaContext` has what Powertools reads)."""
    return cast(PowertoolsContext, LambdaContext(function_name=function_name))


def _answer(response: dict[str, Any]) -> HttpAnswer:
    headers: dict[str, str] = {}
    for name, values in (response.get("multiValueHeaders") or {}).items():
        headers[name.lower()] = ",".join(values)
    for name, value in (response.get("headers") or {}).items():
        headers[name.lower()] = value
    raw = response.get("body") or ""
    if response.get("isBase64Encoded"):
        raw = base64.b64decode(raw).decode()
    return HttpAnswer(status=response["statusCode"], headers=headers, body=json.loads(raw) if raw else None)


@pytest.fixture(scope="session")
def shared_botocore_models() -> Iterator[None]:
    """Parse botocore's JSON service models once per test session instead of once per test.

    moto's `mock_aws` resets `boto3.DEFAULT_SESSION`, so every test builds new botocore sessions,
    and each new session's loader re-parses the endpoint and service models (~0.3 s a test).
    Giving every loader one shared cache makes them behave like a single session's loader, which
    already hands the same read-only model objects to all of its clients. Speed only: no behaviour
    of the code under test changes."""
    shared: dict[Any, Any] = {}
    original_init = Loader.__init__

    def init(self: Loader, *args: Any, **kwargs: Any) -> None:
        original_init(self, *args, **kwargs)
        self._cache = shared

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(Loader, "__init__", init)
        yield


@pytest.fixture
def deepgram() -> Iterator[DeepgramStub]:
    stub = DeepgramStub()
    stub.start()
    yield stub
    stub.close()


@pytest.fixture
def configure(monkeypatch: pytest.MonkeyPatch) -> Callable[..., None]:
    """Set environment variables and drop the handlers' cached settings and clients."""

    def apply(**environment: str) -> None:
        for name, value in environment.items():
            monkeypatch.setenv(name, value)
        reset_handler_caches()

    return apply


@pytest.fixture
def stack(
    shared_botocore_models: None, aws: Stack, deepgram: DeepgramStub, configure: Callable[..., None]
) -> Stack:
    """The moto stack with the submit function pointed at the Deepgram stub."""
    configure(DEEPGRAM_BASE_URL=deepgram.url)
    return aws


def submit(
    *,
    body: bytes = b"",
    content_type: str | None = "application/json",
    query: Mapping[str, Sequence[str]] | None = None,
    headers: Mapping[str, str] | None = None,
    user_arn: str | None = DEFAULT_USER_ARN,
) -> HttpAnswer:
    all_headers = dict(headers or {})
    if content_type is not None:
        all_headers["Content-Type"] = content_type
    event = rest_api_event(
        method="POST",
        path="/transcriptions",
        resource="/transcriptions",
        headers=all_headers,
        query=query,
        body=body,
        user_arn=user_arn,
    )
    return _answer(submit_handler.lambda_handler(event, lambda_context("submit")))


def submit_json(document: Any, **kwargs: Any) -> HttpAnswer:
    return submit(body=json.dumps(document).encode(), **kwargs)


def get_status(job_id: str) -> HttpAnswer:
    event = rest_api_event(
        method="GET",
        path=f"/transcriptions/{job_id}",
        resource="/transcriptions/{id}",
        path_parameters={"id": job_id},
    )
    return _answer(status_handler.lambda_handler(event, lambda_context("status")))


def deliver_callback(job_id: str, payload: dict[str, Any]) -> HttpAnswer:
    """Deliver `payload` to the callback function as Deepgram would, with the job's Basic credentials."""
    secret = callback_secret(SIGNING_KEY, job_id)
    token = base64.b64encode(f"{job_id}:{secret}".encode()).decode()
    event = function_url_event(
        method="POST",
        headers={"Content-Type": "application/json", "Authorization": f"Basic {token}"},
        body=compact_json(payload),
    )
    response = callback_handler.lambda_handler(event, lambda_context("callback"))
    return _answer(response)


def transcript_for(job_id: str, request_id: str, **kwargs: Any) -> dict[str, Any]:
    """A realistic Deepgram success body for the job, as its callback would carry it."""
    if "target_bytes" not in kwargs:
        kwargs.setdefault("duration_seconds", 5.0)
    extra = {"job_id": job_id, "callback_secret": callback_secret(SIGNING_KEY, job_id)}
    return generate_response(request_id=request_id, extra=extra, **kwargs)


def job_repository(stack: Stack) -> DynamoJobRepository:
    """The jobs table as the functions see it (moto's DynamoDB under `mock_aws`)."""
    return DynamoJobRepository(boto3.client("dynamodb"), stack.resources.names.jobs_table)


def stored_job(stack: Stack, job_id: str) -> Job:
    """The job as stored, read through the repository."""
    job = job_repository(stack).get(job_id)
    assert job is not None, f"job {job_id} not stored"
    return job


def list_jobs(stack: Stack) -> list[Job]:
    """Every job in the table, decoded as the repository decodes one (the port has no listing)."""
    pages = (
        boto3.client("dynamodb")
        .get_paginator("scan")
        .paginate(TableName=stack.resources.names.jobs_table, ConsistentRead=True)
    )
    return [to_job(item) for page in pages for item in page["Items"]]
