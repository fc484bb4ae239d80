"""The local API Gateway and Function URL answer as AWS does around the handlers: routes, limits, errors."""

from __future__ import annotations

import errno
import itertools
import json
import os
import select
import socket
import time
import tracemalloc
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from http.client import HTTPConnection, HTTPResponse
from typing import Any

import pytest

from functions.core.contract import HANDLERS
from local.gateway import (
    API_GATEWAY_MAX_BODY_BYTES,
    LAMBDA_MAX_PAYLOAD_BYTES,
    FunctionUrl,
    HttpRequest,
    HttpResponse,
    LocalFunction,
    LocalHttpServer,
    RestApi,
)
from tests.e2e import stand_ins
from tests.e2e.conftest import Pipeline, http

pytestmark = pytest.mark.e2e


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("PUT", "/transcriptions"),
        ("DELETE", "/transcriptions"),
        ("PUT", "/transcriptions/0123456789abcdef0123456789abcdef"),
        ("POST", "/transcriptions/0123456789abcdef0123456789abcdef"),
        ("GET", "/transcriptions/0123456789abcdef0123456789abcdef/notify"),
        ("POST", "/transcriptions/0123456789abcdef0123456789abcdef/other"),
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


def test_each_function_of_the_stack_runs_in_a_process_of_its_own(pipeline: Pipeline) -> None:
    functions = pipeline.stack.functions
    assert set(functions) == set(HANDLERS)
    pids = {name: function.pid for name, function in functions.items()}
    assert None not in pids.values(), pids
    assert len(set(pids.values())) == len(pids), pids
    assert os.getpid() not in pids.values()
    # Used, they stay the same warm environments.
    assert pipeline.get("0123456789abcdef0123456789abcdef").status == 404
    assert {name: function.pid for name, function in functions.items()} == pids


# The mapping and the execution environments, with a stand-in handler (no stack needed) -----------


def _stand_in(name: str = "stand-in") -> LocalFunction:
    function = LocalFunction(name, stand_ins.HANDLER, timeout_seconds=5, memory_mb=128)
    return function.start({**os.environ, stand_ins.ENVIRONMENT_VARIABLE: f"given to {name}"})


@pytest.fixture(scope="module")
def stand_in() -> Iterator[LocalFunction]:
    with _stand_in() as function:
        yield function


@pytest.fixture(scope="module")
def other_stand_in() -> Iterator[LocalFunction]:
    with _stand_in("other-stand-in") as function:
        yield function


def _request(
    method: str = "GET",
    path: str = "/v1/transcriptions/abc",
    body: bytes = b"",
    action: str = "answer",
    answer: Any = None,
) -> HttpRequest:
    headers = [("Host", "localhost"), ("X-Stand-In", action), ("X-Answer", json.dumps(answer))]
    return HttpRequest(method=method, path=path, raw_query="", headers=headers, body=body)


def _state(function: LocalFunction) -> dict[str, Any]:
    response = FunctionUrl(function).handle(_request("POST", "/", action="state"))
    assert response.status == 200, response.body
    return dict(json.loads(response.body))


def test_each_function_has_its_own_process_module_state_and_environment(
    stand_in: LocalFunction, other_stand_in: LocalFunction
) -> None:
    first, other = _state(stand_in), _state(other_stand_in)
    second, other_again = _state(stand_in), _state(other_stand_in)
    # One warm process per function, not the gateway's: module state carries over between its
    # invocations and is not touched by another function's (in one process it would count 1, 3).
    assert first["pid"] == second["pid"] == stand_in.pid
    assert other["pid"] == other_again["pid"] == other_stand_in.pid
    assert len({os.getpid(), first["pid"], other["pid"]}) == 3
    assert second["invocations"] == first["invocations"] + 1
    assert other_again["invocations"] == other["invocations"] + 1
    # The environment each was started with, which the gateway's process does not have.
    assert (first["environment"], other["environment"]) == ("given to stand-in", "given to other-stand-in")
    assert stand_ins.ENVIRONMENT_VARIABLE not in os.environ
    assert first["function_name"] == "stand-in"
    assert 0 < first["remaining_ms"] <= 5000


def test_a_function_that_raises_gets_each_front_doors_502_and_its_process_survives(
    stand_in: LocalFunction,
) -> None:
    pid = stand_in.pid
    api = RestApi(submit=stand_in, status=stand_in)
    response = api.handle(_request(action="raise"))
    assert (response.status, response.body) == (502, b'{"message":"Internal server error"}')
    assert ("x-amzn-ErrorType", "InternalServerErrorException") in response.headers
    response = FunctionUrl(stand_in).handle(_request("POST", "/", action="raise"))
    assert (response.status, response.body) == (502, b"Internal Server Error")
    assert stand_in.pid == pid
    assert _state(stand_in)["pid"] == pid  # still warm


def test_a_function_whose_process_dies_gets_a_502_then_a_fresh_environment() -> None:
    with _stand_in() as function:
        pid = function.pid
        assert FunctionUrl(function).handle(_request("POST", "/", action="exit")).status == 502
        state = _state(function)  # a cold start: a new process, fresh module state, same environment
        assert state["pid"] != pid
        assert state["invocations"] == 1
        assert state["environment"] == "given to stand-in"


def test_an_event_over_lambdas_6_mb_payload_limit_never_reaches_the_function(stand_in: LocalFunction) -> None:
    response = FunctionUrl(stand_in).handle(
        _request("POST", "/", b"{" + b" " * LAMBDA_MAX_PAYLOAD_BYTES + b"}")
    )
    assert response.status == 413
    assert json.loads(response.body)["Message"].startswith("Request must be smaller than 6291456 bytes")


def test_a_malformed_proxy_response_is_a_502(stand_in: LocalFunction) -> None:
    api = RestApi(submit=stand_in, status=stand_in)
    assert api.handle(_request(answer={"body": "no status"})).status == 502


def test_a_result_that_is_not_json_is_a_502(stand_in: LocalFunction) -> None:
    # Lambda serialises the result to JSON; a body that is not a string is a malformed response.
    assert (
        FunctionUrl(stand_in).handle(_request("POST", "/", answer={"statusCode": 200, "body": 1})).status
        == 502
    )


def test_api_gateway_hands_the_function_a_proxy_event(stand_in: LocalFunction) -> None:
    response = RestApi(submit=stand_in, status=stand_in).handle(_request(action="event"))
    event = json.loads(response.body)
    assert event["pathParameters"] == {"id": "abc"}
    assert event["resource"] == "/transcriptions/{id}"
    assert event["requestContext"]["stage"] == "v1"


def test_api_gateway_merges_headers_with_multi_value_headers_taking_precedence(
    stand_in: LocalFunction,
) -> None:
    answer = {
        "statusCode": 200,
        "headers": {"X-One": "single", "X-Two": "overridden"},
        "multiValueHeaders": {"X-Two": ["a", "b"]},
        "body": "{}",
    }
    response = RestApi(submit=stand_in, status=stand_in).handle(_request(answer=answer))
    assert ("X-One", "single") in response.headers
    assert [value for name, value in response.headers if name == "X-Two"] == ["a", "b"]


@pytest.mark.parametrize(
    ("returned", "body"), [({"ok": True}, b'{"ok":true}'), ("done", b'"done"'), (None, b"null")]
)
def test_a_function_url_answer_without_status_code_is_a_200_json_body(
    stand_in: LocalFunction, returned: Any, body: bytes
) -> None:
    response = FunctionUrl(stand_in).handle(_request("POST", "/", answer=returned))
    assert (response.status, response.body) == (200, body)
    assert ("Content-Type", "application/json") in response.headers


def test_invocations_of_one_function_never_overlap(stand_in: LocalFunction) -> None:
    url = FunctionUrl(stand_in)

    def invoke(_: int) -> HttpResponse:
        return url.handle(_request("POST", "/", action="sleep"))

    with ThreadPoolExecutor(max_workers=8) as pool:
        responses = list(pool.map(invoke, range(16)))
    assert [response.status for response in responses] == [200] * 16
    spans = sorted(tuple(json.loads(response.body)) for response in responses)
    assert all(end <= next_start for (_, end), (next_start, _) in itertools.pairwise(spans))


# The HTTP servers: chunked bodies and bursts of connections ------------------------------------------


@pytest.fixture(scope="module")
def callback_server(stand_in: LocalFunction) -> Iterator[LocalHttpServer]:
    server = LocalHttpServer("stand-in-callback", FunctionUrl(stand_in))
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def api_server(stand_in: LocalFunction) -> Iterator[LocalHttpServer]:
    server = LocalHttpServer("stand-in-api", RestApi(submit=stand_in, status=stand_in))
    server.start()
    yield server
    server.stop()


_CHUNK = 64 * 1024


def _chunked_request(path: str, headers: str = "") -> bytes:
    return (
        f"POST {path} HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
        f"X-Stand-In: event\r\nTransfer-Encoding: chunked\r\n{headers}\r\n"
    ).encode()


def _read_response(connection: socket.socket) -> HTTPResponse:
    response = HTTPResponse(connection)
    response.begin()
    return response


_FRONT_DOORS = {
    "callback_server": (
        "/",
        LAMBDA_MAX_PAYLOAD_BYTES,
        {"Message": f"more than {LAMBDA_MAX_PAYLOAD_BYTES} bytes"},
    ),
    "api_server": ("/v1/transcriptions", API_GATEWAY_MAX_BODY_BYTES, {"message": "Request Too Long"}),
}
"""Each server fixture: the path to POST to, its body limit, and what its 413's JSON says."""


@pytest.mark.parametrize("server", list(_FRONT_DOORS))
def test_a_chunked_body_past_the_limit_is_refused_as_it_arrives_without_being_buffered(
    request: pytest.FixtureRequest, stand_in: LocalFunction, server: str
) -> None:
    path, limit, error = _FRONT_DOORS[server]
    front_door: LocalHttpServer = request.getfixturevalue(server)
    invocations = _state(stand_in)["invocations"]
    piece = b"%x\r\n" % _CHUNK + b"x" * _CHUNK + b"\r\n"
    tracemalloc.start()
    try:
        with socket.create_connection(("127.0.0.1", front_door.port), timeout=10) as connection:
            connection.sendall(_chunked_request(path))
            sent = 0
            while sent <= limit + _CHUNK:  # just past the limit, then wait: the 413 comes now
                connection.sendall(piece)
                sent += _CHUNK
            readable, _, _ = select.select([connection], [], [], 10)
            assert readable, "no answer once the body passed the limit"
            while sent < limit + 16 * 1024 * 1024:  # a client that goes on sending is not reset
                connection.sendall(piece)
                sent += _CHUNK
            connection.sendall(b"0\r\n\r\n")
            response = _read_response(connection)
            body = response.read()
            assert connection.recv(1) == b""  # then closed cleanly
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert response.status == 413
    assert response.getheader("Connection") == "close"
    document = json.loads(body)
    [(key, expected)] = error.items()
    assert list(document) == [key]
    assert expected in document[key]
    # Buffering the body would hold all it was sent (the limit + 16 MB); the gateway holds at most
    # the limit and a piece. The margin covers what the process's other threads allocate meanwhile.
    assert peak < limit + 4 * 1024 * 1024, f"{peak:,} bytes held for a {limit:,} byte limit"
    assert _state(stand_in)["invocations"] == invocations + 1  # only _state's own: the function never ran


def test_an_8_mb_chunked_upload_from_a_streaming_client_gets_the_413(
    callback_server: LocalHttpServer,
) -> None:
    def body() -> Iterator[bytes]:
        for _ in range(8 * 1024 * 1024 // _CHUNK):
            yield b"x" * _CHUNK

    connection = HTTPConnection("127.0.0.1", callback_server.port, timeout=30)
    try:
        connection.request(
            "POST", "/", body=body(), headers={"Content-Type": "application/json"}, encode_chunked=True
        )
        response = connection.getresponse()
        assert response.status == 413
        message = json.loads(response.read())["Message"]
        assert message == (
            "Request must be smaller than 6291456 bytes for the InvokeFunction operation "
            "(this one: more than 6291456 bytes)"
        )
    finally:
        connection.close()


@pytest.mark.parametrize("size_line", [b"-1", b"0x10", b"+10", b"1_0", b" 10", b"zz", b"1" * 17])
def test_a_malformed_chunk_size_is_a_400_at_once(callback_server: LocalHttpServer, size_line: bytes) -> None:
    with socket.create_connection(("127.0.0.1", callback_server.port), timeout=10) as connection:
        connection.sendall(_chunked_request("/") + size_line + b"\r\n" + b"x" * (1024 * 1024))
        readable, _, _ = select.select([connection], [], [], 5)  # the client is still connected
        assert readable, "no answer to a malformed chunk size"
        response = _read_response(connection)
        assert response.status == 400
        assert json.loads(response.read()) == {"message": "Malformed request body"}


def test_a_chunked_body_within_the_limit_reaches_the_function_whole(callback_server: LocalHttpServer) -> None:
    body = json.dumps({"text": "y" * 300_000}).encode()
    pieces = [body[:1], body[1:70_000], body[70_000:]]
    framed = b"".join(b"%X;name=value\r\n" % len(piece) + piece + b"\r\n" for piece in pieces)
    with socket.create_connection(("127.0.0.1", callback_server.port), timeout=10) as connection:
        connection.sendall(_chunked_request("/") + framed + b"0\r\nX-Trailer: yes\r\n\r\n")
        response = _read_response(connection)
        assert response.status == 200
        event = json.loads(response.read())
    assert event["body"].encode() == body
    assert event["isBase64Encoded"] is False


def test_a_burst_of_300_connections_is_queued_not_reset(stand_in: LocalFunction) -> None:
    """300 clients connect at once, while the server is not accepting yet (as when its accept loop
    is busy): the listen backlog must hold them all. Each sends a request and gets its answer."""
    count = 300
    server = LocalHttpServer("burst", RestApi(submit=stand_in, status=stand_in))  # listening, not accepting
    clients: list[socket.socket] = []
    try:
        for _ in range(count):
            client = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            clients.append(client)
            client.setblocking(False)
            assert client.connect_ex(("127.0.0.1", server.port)) in (0, errno.EINPROGRESS)
        deadline = time.monotonic() + 3
        pending = set(clients)
        while pending and time.monotonic() < deadline:
            _, writable, _ = select.select([], list(pending), [], max(0.0, deadline - time.monotonic()))
            pending -= set(writable)
        assert not pending, f"{len(pending)} of {count} connections not established within 3 s"
        for client in clients:
            assert client.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) == 0
            client.setblocking(True)
            client.settimeout(30)
            client.sendall(b"GET /v1/nothing-here HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        server.start()
        statuses = []
        for client in clients:
            response = _read_response(client)
            response.read()
            statuses.append(response.status)
        assert statuses == [403] * count  # API Gateway's own answer to an undefined route
    finally:
        for client in clients:
            client.close()
        server.stop()
