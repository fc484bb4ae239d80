"""Bounds that must hold between layers: time (the submit function's worst cases against API
Gateway's 29 s), input sizes (API Gateway's request model against the pydantic model), and the
callback URL's host (an IPv6 literal keeps its brackets)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar
from urllib.parse import urlsplit

import pytest
from botocore.exceptions import ClientError
from botocore.retries.standard import ExponentialBackoff
from pydantic import ValidationError

from functions.core.adapters import aws
from functions.core.adapters.aws import SUBMIT_CLIENT_POLICY, ClientPolicy
from functions.core.callback_auth import callback_url_with_credentials
from functions.core.contract import SubmitLimits
from functions.core.deadline import (
    API_GATEWAY_TIMEOUT_SECONDS,
    MAX_INIT_SECONDS,
    SAFETY_MARGIN_SECONDS,
    ColdStart,
    Deadline,
    for_invocation,
)
from functions.core.ports import DeepgramFailure
from functions.submit import wiring
from functions.submit.deepgram_gateway import SDK_MAX_RETRY_DELAY_SECONDS, DeepgramTranscriber
from functions.submit.models import UploadParameters, UrlSubmission


class Monotonic:
    def __init__(self) -> None:
        self.now = 50.0

    def __call__(self) -> float:
        return self.now


# --- 1. time --------------------------------------------------------------------------------------


def test_the_submit_clients_worst_case_per_call_is_computed_from_their_config() -> None:
    policy = SUBMIT_CLIENT_POLICY
    # 2 attempts x (0.5 s connect + 1 s read) + one throttling backoff of at most 1 s.
    assert policy.worst_case_seconds == 4.0
    config = policy.config()
    assert (config.connect_timeout, config.read_timeout) == (0.5, 1.0)
    assert config.retries == {"total_max_attempts": 2, "mode": "standard"}
    # More attempts add each attempt and each (doubling) backoff.
    assert ClientPolicy(connect_timeout=1, read_timeout=2, max_attempts=3).worst_case_seconds == 9 + 1 + 2


def test_the_backoff_figures_match_botocores_standard_retry_mode() -> None:
    assert ExponentialBackoff._DEFAULT_BACKOFF_CONFIG["throttling_base_scale"] == (
        aws.BOTOCORE_THROTTLING_BACKOFF_BASE_SECONDS
    )
    assert (
        max(ExponentialBackoff._DEFAULT_BACKOFF_CONFIG.values())
        <= aws.BOTOCORE_THROTTLING_BACKOFF_BASE_SECONDS
    )
    for scales in ExponentialBackoff._SERVICE_BACKOFF_CONFIG.values():
        assert max(scales.values()) <= aws.BOTOCORE_THROTTLING_BACKOFF_BASE_SECONDS
    assert ExponentialBackoff._MAX_BACKOFF == aws.BOTOCORE_MAX_BACKOFF_SECONDS
    assert ExponentialBackoff._RETRY_AFTER_HEADER == aws.RETRY_AFTER_HEADER


def test_a_whole_submission_at_its_worst_fits_api_gateways_timeout() -> None:
    budget = wiring.BUDGET
    assert budget.aws_call_seconds == SUBMIT_CLIENT_POLICY.worst_case_seconds
    # Six AWS calls at their worst, Deepgram its minimum, and the safety margin.
    worst = budget.worst_case_seconds + SAFETY_MARGIN_SECONDS
    assert worst == 6 * 4.0 + 2.0 + 1.0
    assert worst <= API_GATEWAY_TIMEOUT_SECONDS
    # What the service asks for at its first step fits what is left after the idempotency record.
    assert budget.from_secrets_seconds + budget.aws_call_seconds + SAFETY_MARGIN_SECONDS <= worst


def test_the_submit_function_times_out_before_api_gateway() -> None:
    api = pytest.importorskip("infra.api")
    assert wiring.BUDGET.worst_case_seconds + SAFETY_MARGIN_SECONDS <= api.SUBMIT_TIMEOUT.to_seconds()
    assert api.SUBMIT_TIMEOUT.to_seconds() < API_GATEWAY_TIMEOUT_SECONDS


def test_a_request_deadline_is_the_earlier_of_lambdas_and_api_gateways() -> None:
    clock = Monotonic()
    assert for_invocation(28_000, clock=clock).remaining() == 28 - SAFETY_MARGIN_SECONDS
    assert (
        for_invocation(60_000, clock=clock).remaining() == API_GATEWAY_TIMEOUT_SECONDS - SAFETY_MARGIN_SECONDS
    )
    cold = for_invocation(28_000, spent_before_handler=3.0, clock=clock)
    assert cold.remaining() == API_GATEWAY_TIMEOUT_SECONDS - 3.0 - SAFETY_MARGIN_SECONDS
    assert for_invocation(500, clock=clock).remaining() == 0.0


def test_deadline_arithmetic() -> None:
    clock = Monotonic()
    deadline = Deadline.after(10, clock)
    clock.now += 4
    assert deadline.remaining() == 6
    assert deadline.allows(6)
    assert not deadline.allows(6.01)
    assert deadline.earlier_by(2).remaining() == 4
    clock.now += 100
    assert deadline.remaining() == 0


def test_only_an_on_demand_cold_start_counts_its_init_once() -> None:
    clock = Monotonic()
    cold = ColdStart.begin({"AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand"}, clock)
    clock.now += 1.5
    assert cold.take() == 1.5
    assert cold.take() == 0.0
    provisioned = ColdStart.begin({"AWS_LAMBDA_INITIALIZATION_TYPE": "provisioned-concurrency"}, clock)
    clock.now += 600
    assert provisioned.take() == 0.0
    assert ColdStart.begin({}, clock).take() == 0.0
    slow = ColdStart.begin({"AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand"}, clock)
    clock.now += 600
    assert slow.take() == MAX_INIT_SECONDS


def _transcriber(timeout: float, retries: int) -> DeepgramTranscriber:
    return DeepgramTranscriber(
        api_key_source=lambda: "key",
        base_url="https://api.deepgram.com",
        timeout_seconds=timeout,
        max_retries=retries,
        minimum_seconds=2.0,
    )


def test_deepgrams_timeout_is_the_configured_one_or_what_remains() -> None:
    clock = Monotonic()
    assert _transcriber(10, 0).limits(Deadline.after(18, clock)) == (10, 0)
    assert _transcriber(10, 0).limits(Deadline.after(6.5, clock)) == (6.5, 0)
    assert _transcriber(10, 1).limits(None) == (10, 1)


def test_no_sdk_retry_unless_every_attempt_and_the_sdks_longest_sleep_fit() -> None:
    clock = Monotonic()
    # The SDK sleeps up to a minute (Retry-After) between attempts: never within API Gateway's 29 s.
    assert _transcriber(5, 1).limits(Deadline.after(25, clock)) == (5, 0)
    roomy = 2 * 5 + SDK_MAX_RETRY_DELAY_SECONDS
    assert _transcriber(5, 1).limits(Deadline.after(roomy, clock)) == (5, 1)


def test_deepgram_is_not_called_below_its_minimum() -> None:
    with pytest.raises(DeepgramFailure) as refused:
        _transcriber(10, 0).limits(Deadline.after(1.9, Monotonic()))
    assert (refused.value.http_status, refused.value.code, refused.value.ambiguous) == (
        503,
        "deadline_exceeded",
        False,
    )


class _FailingAws(BaseHTTPRequestHandler):
    """Answers every request 500, with `x-amz-retry-after` when `asks_to_wait`."""

    asks_to_wait: ClassVar[bool] = False
    requests: ClassVar[int] = 0

    def do_POST(self) -> None:
        type(self).requests += 1
        self.rfile.read(int(self.headers.get("content-length") or 0))
        body = b'{"__type":"com.amazonaws.dynamodb.v20120810#InternalServerError","message":"boom"}'
        self.send_response(500)
        self.send_header("content-type", "application/x-amz-json-1.0")
        self.send_header("content-length", str(len(body)))
        if self.asks_to_wait:
            self.send_header(aws.RETRY_AFTER_HEADER, "4000")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def failing_aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[type[_FailingAws]]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _FailingAws)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{server.server_address[1]}")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    _FailingAws.requests = 0
    yield _FailingAws
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize(("asks_to_wait", "attempts"), [(False, 2), (True, 1)])
def test_a_bounded_client_retries_once_but_never_waits_for_x_amz_retry_after(
    failing_aws: type[_FailingAws], asks_to_wait: bool, attempts: int
) -> None:
    failing_aws.asks_to_wait = asks_to_wait
    dynamodb = aws.client("dynamodb", SUBMIT_CLIENT_POLICY)

    with pytest.raises(ClientError):
        dynamodb.get_item(TableName="jobs", Key={"job_id": {"S": "x"}})

    assert failing_aws.requests == attempts


# --- 2. input sizes -------------------------------------------------------------------------------


def test_api_gateway_and_the_model_read_the_same_url_bound() -> None:
    api = pytest.importorskip("infra.api")
    assert api.SUBMIT_REQUEST_SCHEMA.properties["url"].max_length == SubmitLimits.AUDIO_URL_CHARACTERS


def _url_of_length(length: int) -> str:
    prefix = "https://bucket.s3.amazonaws.com/a.wav?X-Amz-Security-Token="
    return prefix + "x" * (length - len(prefix))


def test_a_url_of_exactly_the_bound_passes_and_one_more_character_fails() -> None:
    bound = SubmitLimits.AUDIO_URL_CHARACTERS
    assert bound == 4096  # presigned S3 URLs with a session token exceed 2048
    assert UrlSubmission.model_validate({"url": _url_of_length(bound)}).url == _url_of_length(bound)
    with pytest.raises(ValidationError, match="url"):
        UrlSubmission.model_validate({"url": _url_of_length(bound + 1)})


def test_metadata_bounds_come_from_the_contract() -> None:
    key = "k" * SubmitLimits.METADATA_KEY_CHARACTERS
    value = "v" * SubmitLimits.METADATA_VALUE_CHARACTERS
    pairs = {f"k{i}": "v" for i in range(SubmitLimits.METADATA_PAIRS)}
    for metadata in ({key: value}, pairs):
        UploadParameters.model_validate({"metadata": metadata})
    for metadata in ({key + "k": "v"}, {"k": value + "v"}, {**pairs, "one-more": "v"}):
        with pytest.raises(ValidationError, match="metadata"):
            UploadParameters.model_validate({"metadata": metadata})


def test_tag_bounds_come_from_the_contract() -> None:
    tag = "t" * SubmitLimits.TAG_CHARACTERS
    UploadParameters.model_validate({"options": {"tag": tag}})
    UploadParameters.model_validate({"options": {"tag": ["t"] * SubmitLimits.TAGS}})
    for tags in (tag + "t", ["t"] * (SubmitLimits.TAGS + 1)):
        with pytest.raises(ValidationError, match="tag"):
            UploadParameters.model_validate({"options": {"tag": tags}})


# --- 3. the callback URL's host -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("base", "netloc_after_credentials", "port"),
    [
        ("http://[::1]:8080/callback", "[::1]:8080", 8080),
        ("https://[2001:db8::1]/", "[2001:db8::1]", None),
        ("https://[2001:DB8::1]:8443/x", "[2001:DB8::1]:8443", 8443),
        ("https://hooks.example.com:8443/cb", "hooks.example.com:8443", 8443),
    ],
)
def test_the_callback_host_is_kept_as_written_ipv6_brackets_included(
    base: str, netloc_after_credentials: str, port: int | None
) -> None:
    url = callback_url_with_credentials(base, "job1", "secret1")

    parts = urlsplit(url)
    assert parts.netloc == f"job1:secret1@{netloc_after_credentials}"
    assert (parts.username, parts.password, parts.port) == ("job1", "secret1", port)
    assert parts.path == urlsplit(base).path


def test_existing_credentials_in_the_callback_url_are_replaced() -> None:
    url = callback_url_with_credentials("https://old:p%40ss@[::1]:8443/cb?x=1", "job1", "secret1")

    assert url == "https://job1:secret1@[::1]:8443/cb?x=1"
