"""Shared fixtures: moto-backed AWS resources and the three handlers wired to them."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from moto import mock_aws

from functions.callback import wiring as callback_wiring
from functions.status import wiring as status_wiring
from functions.submit import wiring as submit_wiring
from local.aws_resources import Resources, create_resources, function_environment
from tests.dynamodb_local import (
    DynamoDBLocal,
    DynamoDBLocalUnavailable,
    LocalTable,
    client_for,
    create_jobs_table,
    running_in_ci,
    unique_table_name,
)
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
    callback_wiring.service.cache_clear()
    submit_wiring.submitter.cache_clear()
    status_wiring.service.cache_clear()


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


# --- Amazon DynamoDB Local (see tests/dynamodb_local.py) ------------------------------------------
# For tests that need DynamoDB's real write semantics: moto's server does not serialise conditional
# writes to one item. Started once per session. A missing prerequisite (the npm package, Java)
# skips these tests on a developer machine and fails them when CI is set.


@pytest.fixture(scope="session")
def dynamodb_local() -> Iterator[str]:
    """The endpoint URL of an in-memory DynamoDB Local started for this test session."""
    try:
        server = DynamoDBLocal.start()
    except DynamoDBLocalUnavailable as missing:
        if running_in_ci():
            pytest.fail(f"DynamoDB Local is required when CI is set: {missing}", pytrace=False)
        pytest.skip(str(missing))
    try:
        yield server.endpoint_url
    finally:
        server.stop()


@pytest.fixture
def dynamodb_local_jobs_table(dynamodb_local: str) -> Iterator[LocalTable]:
    """A fresh, uniquely named jobs table on DynamoDB Local, with a client bound to its endpoint."""
    client = client_for(dynamodb_local)
    table_name = unique_table_name("jobs")
    create_jobs_table(client, table_name)
    yield LocalTable(endpoint_url=dynamodb_local, table_name=table_name, client=client)
    client.delete_table(TableName=table_name)


# --- Schemas (see schemas/ and tests/schemas/validation.py) ---------------------------------------
# Every job view, job answer, notification, listing, redelivery and error answer the code produces
# during the run is validated against the committed schemas (schemas/*.json). The producers are
# wrapped once for the session, in every module that imported them; a document that does not match
# fails the test during which it was produced (a wrapper never raises into the code under test).
# Handlers that the local stack runs in worker processes (tests/e2e) are not covered.

from tests.schemas.validation import SchemaRecorder  # noqa: E402

_SCHEMA_RECORDERS: list[SchemaRecorder] = []
"""The session's recorder while it is installed (a list: no `global` statement needed)."""
_SCHEMA_SUMMARY: list[str] = []


@pytest.fixture(autouse=True, scope="session")
def _schema_validation() -> Iterator[SchemaRecorder]:
    recorder = SchemaRecorder()
    with recorder.installed():
        _SCHEMA_RECORDERS.append(recorder)
        try:
            yield recorder
        finally:
            _SCHEMA_RECORDERS.remove(recorder)
            _SCHEMA_SUMMARY.append(recorder.summary())


def _schema_violations() -> str:
    violations = [violation for recorder in _SCHEMA_RECORDERS for violation in recorder.take()]
    return "\n".join(str(violation) for violation in violations)


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    _schema_violations()  # whatever came before this test is not its doing


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Iterator[None]:
    try:
        result = yield
    except BaseException:
        if found := _schema_violations():
            item.add_report_section("call", "schema violations", found)
        raise
    if found := _schema_violations():  # produced during this test's setup or call
        pytest.fail(f"documents that do not match schemas/:\n{found}", pytrace=False)
    return result


@pytest.hookimpl(wrapper=True)
def pytest_runtest_teardown(item: pytest.Item) -> Iterator[None]:
    result = yield
    if found := _schema_violations():
        pytest.fail(f"documents that do not match schemas/ (in teardown):\n{found}", pytrace=False)
    return result


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    for line in _SCHEMA_SUMMARY:
        terminalreporter.write_line(line)
