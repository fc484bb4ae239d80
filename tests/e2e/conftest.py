"""Fixtures for end-to-end tests: a running local stack and a client that speaks HTTP to it.

Each test module gets its own `LocalStack` (module scope; override `stack_options` in a module to
configure it), on free ports so that a developer's `make serve` on 8080 never collides, with the
emulator retrying failed callbacks every 0.2 s instead of Deepgram's 30 s. The `pipeline` fixture
isolates each test: the emulator's faults and history are reset and the notification queue
drained before it, and after it the emulator is waited for, so no job spills into the next test.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.error import HTTPError
from urllib.request import ProxyHandler, Request, build_opener

import boto3
import pytest

from local.stack import LocalStack

SAMPLE_WAV = Path(__file__).resolve().parents[2] / "local" / "audio" / "sample.wav"
RETRY_INTERVAL_SECONDS = 0.2
_opener = build_opener(ProxyHandler({}))


@dataclass(frozen=True)
class Response:
    status: int
    headers: dict[str, str]
    """Lower-case names."""
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


def http(method: str, url: str, body: bytes | None = None, headers: dict[str, str] | None = None) -> Response:
    """One HTTP request; an error status is returned, not raised."""
    request = Request(url, data=body, headers=headers or {}, method=method)
    try:
        with _opener.open(request, timeout=60) as answer:
            return Response(answer.status, {k.lower(): v for k, v in answer.headers.items()}, answer.read())
    except HTTPError as error:
        return Response(error.code, {k.lower(): v for k, v in error.headers.items()}, error.read())


class Pipeline:
    """A client of the running stack: the REST API, the callback URL, the notification queue."""

    def __init__(self, stack: LocalStack) -> None:
        self.stack = stack
        self.emulator = stack.emulator

    # REST API

    def submit_audio(
        self, audio: bytes | None = None, query: str = "", content_type: str = "audio/wav"
    ) -> dict[str, Any]:
        """POST the audio as the body; asserts the 202 and returns the job."""
        url = f"{self.stack.api_url}/transcriptions" + (f"?{query}" if query else "")
        response = http(
            "POST", url, SAMPLE_WAV.read_bytes() if audio is None else audio, {"Content-Type": content_type}
        )
        assert response.status == 202, response.body
        return dict(response.json())

    def submit_url(self, url: str, **document: Any) -> dict[str, Any]:
        body = json.dumps({"url": url, **document}).encode()
        response = http(
            "POST", f"{self.stack.api_url}/transcriptions", body, {"Content-Type": "application/json"}
        )
        assert response.status == 202, response.body
        return dict(response.json())

    def get(self, job_id: str) -> Response:
        return http("GET", f"{self.stack.api_url}/transcriptions/{job_id}")

    def job(self, job_id: str) -> dict[str, Any]:
        response = self.get(job_id)
        assert response.status == 200, response.body
        return dict(response.json())

    # Callback URL

    def callback(self, body: bytes, headers: dict[str, str] | None = None, method: str = "POST") -> Response:
        return http(
            method, self.stack.callback_url, body, {"Content-Type": "application/json", **(headers or {})}
        )

    def signing_key(self) -> str:
        secrets = boto3.client("secretsmanager", region_name=self.stack.region)
        return str(secrets.get_secret_value(SecretId=self.stack.resources.signing_secret_arn)["SecretString"])

    # Notifications

    def wait_for_notifications(self, count: int, timeout: float = 60.0) -> list[dict[str, Any]]:
        """At least `count` notifications, or fail after `timeout` seconds with what did arrive."""
        received: list[dict[str, Any]] = []
        deadline = time.monotonic() + timeout
        while len(received) < count and time.monotonic() < deadline:
            received += self.stack.receive_notifications(wait_seconds=1)
        assert len(received) >= count, (
            f"{len(received)} of {count} notifications after {timeout} s: {received}"
        )
        return received

    def settle(self, timeout: float = 30.0) -> list[dict[str, Any]]:
        """Wait until the emulator has nothing left to deliver; the notifications still queued."""
        assert self.emulator.wait_idle(timeout), "the emulator still had work after the timeout"
        remaining: list[dict[str, Any]] = []
        while batch := self.stack.receive_notifications(wait_seconds=0):
            remaining += batch
        return remaining


@pytest.fixture(scope="module")
def stack_options() -> dict[str, Any]:
    """Extra `LocalStack` arguments; a test module overrides this fixture to change them."""
    return {}


@pytest.fixture(scope="module")
def stack(stack_options: dict[str, Any]) -> Iterator[LocalStack]:
    options = {"callback_port": 0, "retry_interval_seconds": RETRY_INTERVAL_SECONDS, **stack_options}
    with LocalStack(**options) as running:
        yield running


@pytest.fixture
def pipeline(stack: LocalStack) -> Iterator[Pipeline]:
    stack.reset()
    client = Pipeline(stack)
    try:
        yield client
    finally:
        stack.emulator.wait_idle(30)
        stack.reset()
