"""Shared fixtures: moto-backed AWS resources and the three handlers wired to them."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from moto import mock_aws

from functions.callback import handler as callback_handler
from functions.status import handler as status_handler
from functions.submit import handler as submit_handler
from local.aws_resources import Resources, create_resources, function_environment
from tests.faults import AwsFaults, injected_aws_faults

SIGNING_KEY = "test-signing-key-0123456789abcdef0123456789abcdef"
DEEPGRAM_API_KEY = "test-deepgram-key"
DEEPGRAM_API_KEY_ID = "test-deepgram-key-id"
CALLBACK_BASE_URL = "https://abc123.lambda-url.us-east-1.on.aws/"


@pytest.fixture(autouse=True, scope="session")
def _offline_aws_credentials() -> Iterator[None]:
    """Fake credentials so nothing can reach a real account; no ambient endpoint override."""
    saved = dict(os.environ)
    os.environ.update(
        {
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_SESSION_TOKEN": "testing",
            "AWS_DEFAULT_REGION": "us-east-1",
            "POWERTOOLS_METRICS_NAMESPACE": "Test",
            "POWERTOOLS_DEV": "false",
        }
    )
    for name in ("AWS_ENDPOINT_URL", "AWS_PROFILE"):
        os.environ.pop(name, None)
    yield
    os.environ.clear()
    os.environ.update(saved)


def reset_handler_caches() -> None:
    callback_handler.callback_service.cache_clear()
    submit_handler.submitter.cache_clear()
    status_handler.status_service.cache_clear()


@dataclass
class Stack:
    resources: Resources
    environment: dict[str, str]


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[Stack]:
    """Fresh moto state with the pipeline's resources, and handler environments pointing at it."""
    with mock_aws():
        resources = create_resources(deepgram_api_key=DEEPGRAM_API_KEY, signing_key=SIGNING_KEY)
        environment = function_environment(
            resources,
            callback_url=CALLBACK_BASE_URL,
            deepgram_base_url="http://127.0.0.1:9",
            deepgram_api_key_id=DEEPGRAM_API_KEY_ID,
        )
        for name, value in environment.items():
            monkeypatch.setenv(name, value)
        reset_handler_caches()
        yield Stack(resources=resources, environment=environment)
        reset_handler_caches()


@pytest.fixture
def aws_faults(aws: Stack) -> Iterator[AwsFaults]:
    """Make chosen AWS calls of the handlers fail (see tests/faults.py)."""
    with injected_aws_faults() as faults:
        yield faults
