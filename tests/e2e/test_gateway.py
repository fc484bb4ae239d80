"""The local API Gateway and Function URL answer as AWS does around the handlers: routes, limits, errors."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from local.gateway import (
    API_GATEWAY_MAX_BODY_BYTES,
    FunctionUrl,
    Handler,
    HttpRequest,
    LocalFunction,
    RestApi,
)
from tests.e2e.conftest import Pipeline, http

pytestmark = pytest.mark.e2e


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/transcriptions"),
        ("DELETE", "/transcriptions/0123456789abcdef0123456789abcdef"),
        ("POST", "/transcriptions/0123456789abcdef0123456789abcdef"),
        ("GET", "/transcriptions/a/b"),
        ("GET", "/nothing-here"),
    ],
)
def test_a_route_the_api_does_not_define_gets_api_gateways_own_403(
    pipeline: Pipeline, method: str, path: str
) -> None:
    response = http(method, pipeline.stack.api_url + path)
    assert response.status == 403
    assert response.json() == {"message": "Missing Authentication Token"}


def test_a_path_outside_the_stage_is_not_routed(pipeline: Pipeline) -> None:
    api_root = pipeline.stack.api_url.rsplit("/", 1)[0]
    assert http("GET", f"{api_root}/transcriptions/0123456789abcdef0123456789abcdef").status == 403


def test_the_status_function_answers_an_unknown_job_with_its_own_404(pipeline: Pipeline) -> None:
    response = pipeline.get("0123456789abcdef0123456789abcdef")
    assert response.status == 404
    assert response.json()["error"]["code"] == "job_not_found"
    assert response.headers["x-amzn-requestid"]


def test_the_submit_function_refuses_a_bad_request_in_its_own_words(pipeline: Pipeline) -> None:
    response = http(
        "POST", f"{pipeline.stack.api_url}/transcriptions", b"text", {"Content-Type": "text/plain"}
    )
    assert response.status == 415
    assert response.json()["error"]["code"] == "unsupported_media_type"


def test_an_upload_over_lambdas_6_mb_event_limit_is_refused_with_413(pipeline: Pipeline) -> None:
    # 4.8 MB of audio is about 6.4 MB once base64-encoded into the event.
    response = http(
        "POST",
        f"{pipeline.stack.api_url}/transcriptions",
        b"\0" * 4_800_000,
        {"Content-Type": "audio/wav"},
    )
    assert response.status == 413
    assert "6291456 bytes" in response.json()["message"]
    assert pipeline.emulator.jobs() == []  # the function never ran


def test_a_body_over_api_gateways_10_mb_limit_is_refused_with_413(pipeline: Pipeline) -> None:
    response = http(
        "POST",
        f"{pipeline.stack.api_url}/transcriptions",
        b"\0" * (API_GATEWAY_MAX_BODY_BYTES + 1),
        {"Content-Type": "audio/wav"},
    )
    assert response.status == 413


def test_the_function_url_hands_every_method_to_the_callback_function(pipeline: Pipeline) -> None:
    response = http("DELETE", pipeline.stack.callback_url + "any/path?x=1")
    assert response.status == 405  # the function's answer, not the gateway's
    assert response.headers["allow"] == "POST, PUT"


def test_a_callback_over_the_6_mb_limit_is_refused_with_413(pipeline: Pipeline) -> None:
    response = pipeline.callback(b"{" + b" " * 6_300_000 + b"}")
    assert response.status == 413


# The mapping itself, with stand-in handlers (no stack needed) ------------------------------------


def _function(handler: Handler) -> LocalFunction:
    return LocalFunction("stand-in", handler, timeout_seconds=5, memory_mb=128)


def _request(method: str = "GET", path: str = "/v1/transcriptions/abc", body: bytes = b"") -> HttpRequest:
    return HttpRequest(method=method, path=path, raw_query="", headers=[("Host", "localhost")], body=body)


def _failing(event, context):
    raise RuntimeError("boom")


def test_a_function_that_raises_gets_each_front_doors_502() -> None:
    api = RestApi(submit=_function(_failing), status=_function(_failing))
    response = api.handle(_request())
    assert (response.status, response.body) == (502, b'{"message":"Internal server error"}')
    assert FunctionUrl(_function(_failing)).handle(_request("POST", "/")).status == 502


def test_a_malformed_proxy_response_is_a_502() -> None:
    api = RestApi(submit=_function(_failing), status=_function(lambda event, context: {"body": "no status"}))
    assert api.handle(_request()).status == 502


def test_api_gateway_merges_headers_with_multi_value_headers_taking_precedence() -> None:
    def handler(event, context):
        assert event["pathParameters"] == {"id": "abc"}
        assert event["resource"] == "/transcriptions/{id}"
        return {
            "statusCode": 200,
            "headers": {"X-One": "single", "X-Two": "overridden"},
            "multiValueHeaders": {"X-Two": ["a", "b"]},
            "body": "{}",
        }

    response = RestApi(submit=_function(_failing), status=_function(handler)).handle(_request())
    assert ("X-One", "single") in response.headers
    assert [value for name, value in response.headers if name == "X-Two"] == ["a", "b"]


@pytest.mark.parametrize(
    ("returned", "body"), [({"ok": True}, b'{"ok":true}'), ("done", b'"done"'), (None, b"null")]
)
def test_a_function_url_answer_without_status_code_is_a_200_json_body(returned: Any, body: bytes) -> None:
    response = FunctionUrl(_function(lambda event, context: returned)).handle(_request("POST", "/"))
    assert (response.status, response.body) == (200, body)
    assert ("Content-Type", "application/json") in response.headers


def test_invocations_of_one_function_never_overlap() -> None:
    running, overlaps, lock = [0], [], threading.Lock()

    def handler(event, context):
        with lock:
            running[0] += 1
            overlaps.append(running[0])
        time.sleep(0.01)
        with lock:
            running[0] -= 1
        return {"statusCode": 200, "body": ""}

    url = FunctionUrl(_function(handler))
    with ThreadPoolExecutor(max_workers=8) as pool:
        statuses = list(pool.map(lambda _: url.handle(_request("POST", "/")).status, range(16)))
    assert statuses == [200] * 16
    assert max(overlaps) == 1
