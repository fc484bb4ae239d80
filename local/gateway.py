"""Local stand-ins for API Gateway and a Lambda Function URL, in front of the real handlers.

Two HTTP servers on loopback turn each request into the exact event AWS would deliver
(`local.events`), invoke the unchanged `lambda_handler`, and turn its return value into the HTTP
answer, the way each AWS front door does:

* `RestApi`: an API Gateway REST API, Lambda proxy integration, one stage (`/v1` like the CDK
  app's default). `POST /transcriptions` goes to the submit function, `GET /transcriptions` and
  `GET /transcriptions/{id}` to the status function, `DELETE /transcriptions/{id}` and
  `POST /transcriptions/{id}/notify` to the manage function (the routes of `infra/api.py`); any
  other method or path gets API Gateway's own `403 {"message": "Missing Authentication Token"}`.
* `FunctionUrl`: a Lambda Function URL (payload format 2.0, auth type NONE) in front of the
  callback function; every method and path is handed to the function.

Each function runs as in Lambda, in an execution environment of its own: a long-lived worker
process (`local.function_process.LocalFunction`) that imported its handler with the function's
environment set and runs one event at a time (reserved concurrency 1, warm after the first call).
The handlers' module state (Powertools Logger keys and Metrics' metric set, cached clients) is
therefore never shared between functions, nor with the gateway. The functions are listed once,
in `contract.HANDLERS` (the handler paths the CDK app deploys); `FUNCTION_SPECS` adds their
timeouts and memory. A function that raises gets each front door's `502`; its worker survives.

Limits enforced: API Gateway's 10 MB request body, Lambda's 6 MB synchronous invocation payload
(the event as JSON, so a base64-encoded upload counts 4/3 of its size); a chunked body is counted
as it arrives and refused (`413`) as soon as it passes the limit, never buffered beyond it. Not
emulated: IAM (SigV4) authorization and API Gateway's request validation (the functions validate
anyway), throttling, and the 29 s integration timeout (a slow invocation is logged, not cut short).
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import json
import re
import socket
import sys
import threading
import time
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, BinaryIO, Final, cast
from urllib.parse import parse_qs, unquote

from functions.core.contract import HANDLERS, PRODUCT, Api, CallbackTiming, DeliveryTiming, Services
from local.events import function_url_event, rest_api_event
from local.function_process import (
    LAMBDA_MAX_PAYLOAD_BYTES,
    Functions,
    FunctionStartError,
    Handler,
    InvocationError,
    LocalFunction,
    PayloadTooLarge,
)

API_GATEWAY_MAX_BODY_BYTES = 10 * 1024 * 1024
"""API Gateway refuses a larger request body (413) before invoking anything."""

DEFAULT_STAGE = "v1"
"""The API stage the CDK app deploys by default (`stageName` context)."""

LISTEN_BACKLOG: Final = 1024
"""Connections the kernel queues for each server before it accepts them (capped by net.core.somaxconn):
a burst of a few hundred clients connecting at once must be queued, not refused or reset."""

Headers = list[tuple[str, str]]

JSON_CONTENT_TYPE = "application/json"


@dataclass(frozen=True)
class HttpRequest:
    method: str
    path: str
    """Percent-encoded, without the query string."""
    raw_query: str
    headers: Headers
    body: bytes


@dataclass
class HttpResponse:
    status: int
    headers: Headers = field(default_factory=list)
    body: bytes = b""


def json_response(status: int, document: Any, headers: Headers | None = None) -> HttpResponse:
    body = json.dumps(document, separators=(",", ":")).encode()
    return HttpResponse(status, [("Content-Type", JSON_CONTENT_TYPE), *(headers or [])], body)


# The functions -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FunctionSpec:
    """How a function is deployed, as far as the local stack cares."""

    timeout_seconds: float = 30
    memory_mb: int = 256
    preload: tuple[str, ...] = ("boto3",)
    """Third-party packages its handler imports, imported by its worker while the stack is still
    starting (none reads the environment on import), so that the handler's own import, once the
    environment is known, is quick. Only start-up time depends on it; a missing one is skipped."""


FUNCTION_SPECS: Final[Mapping[str, FunctionSpec]] = {
    Services.SUBMIT: FunctionSpec(
        timeout_seconds=28, memory_mb=512, preload=("boto3", "pydantic", "httpx", "deepgram")
    ),
    Services.STATUS: FunctionSpec(timeout_seconds=10, memory_mb=256),
    Services.MANAGE: FunctionSpec(timeout_seconds=10, memory_mb=256),
    Services.CALLBACK: FunctionSpec(timeout_seconds=CallbackTiming.FUNCTION_TIMEOUT_SECONDS, memory_mb=512),
    Services.FINISHER: FunctionSpec(timeout_seconds=DeliveryTiming.FINISHER_TIMEOUT_SECONDS, memory_mb=3008),
}
"""The timeouts and memory `infra/` deploys the functions with (importing `infra/` here would start
the CDK's Node runtime); a function not listed gets `DEFAULT_FUNCTION_SPEC`."""

DEFAULT_FUNCTION_SPEC: Final = FunctionSpec()


def build_functions(handlers: Mapping[str, str] = HANDLERS) -> Functions:
    """One `LocalFunction` per entry of `handlers` (service -> handler path), not started yet.

    Every function the CDK app deploys (`contract.HANDLERS`) gets its own worker process, so a new
    function needs no change here; give it a spec in `FUNCTION_SPECS` if the default does not fit.
    """
    functions: dict[str, LocalFunction] = {}
    for service, handler in handlers.items():
        spec = FUNCTION_SPECS.get(service, DEFAULT_FUNCTION_SPEC)
        functions[service] = LocalFunction(
            f"{PRODUCT}-{service}",
            handler,
            timeout_seconds=spec.timeout_seconds,
            memory_mb=spec.memory_mb,
            preload=spec.preload,
        )
    return Functions(functions)


# API Gateway ---------------------------------------------------------------------------------------


def _api_gateway_error(status: int, message: str, error_type: str) -> HttpResponse:
    return json_response(status, {"message": message}, [("x-amzn-ErrorType", error_type)])


class RestApi:
    """API Gateway REST API, Lambda proxy integration, binary media types for audio uploads."""

    max_body_bytes = API_GATEWAY_MAX_BODY_BYTES

    def __init__(
        self,
        *,
        submit: LocalFunction,
        status: LocalFunction,
        manage: LocalFunction | None = None,
        stage: str = DEFAULT_STAGE,
    ) -> None:
        """`manage` None: no `DELETE /transcriptions/{id}` nor `POST .../notify` route."""
        self._routes: dict[tuple[str, str], LocalFunction] = {
            ("POST", Api.TRANSCRIPTIONS): submit,
            ("GET", Api.TRANSCRIPTIONS): status,
            ("GET", Api.TRANSCRIPTION): status,
        }
        if manage is not None:
            self._routes |= {("DELETE", Api.TRANSCRIPTION): manage, ("POST", Api.NOTIFY): manage}
        self.stage = stage

    def handle(self, request: HttpRequest) -> HttpResponse:
        route = self._route(request)
        if route is None:
            return _api_gateway_error(
                403, "Missing Authentication Token", "MissingAuthenticationTokenException"
            )
        function, resource, path, path_parameters = route
        event = rest_api_event(
            method=request.method,
            path=path,
            resource=resource,
            headers=_joined_headers(request.headers),
            query=parse_qs(request.raw_query, keep_blank_values=True),
            path_parameters=path_parameters,
            body=request.body,
            stage=self.stage,
        )
        request_id = event["requestContext"]["requestId"]
        try:
            result = function.invoke(event)
        except PayloadTooLarge as error:
            return _api_gateway_error(413, str(error), "RequestEntityTooLargeException")
        except InvocationError:
            return _api_gateway_error(502, "Internal server error", "InternalServerErrorException")
        response = _proxy_response(result)
        if response is None:
            _log(f"{function.name}: malformed Lambda proxy response: {str(result)[:200]}")
            return _api_gateway_error(502, "Internal server error", "InternalServerErrorException")
        response.headers += [("x-amzn-RequestId", request_id), ("x-amz-apigw-id", uuid.uuid4().hex[:16])]
        return response

    def _route(self, request: HttpRequest) -> tuple[LocalFunction, str, str, dict[str, str] | None] | None:
        """(function, resource, path without the stage, path parameters) or None: no such route."""
        prefix = f"/{self.stage}"
        if not request.path.startswith(prefix + "/"):
            return None
        path = request.path.removeprefix(prefix)
        matched = _resource_of(path)
        if matched is None:
            return None
        resource, path_parameters = matched
        function = self._routes.get((request.method, resource))
        if function is None:
            return None
        return function, resource, unquote(path) if path_parameters else path, path_parameters


_PATH_PARAMETER = re.compile(r"\\\{(\w+)\\\}")


def _resource_pattern(resource: str) -> re.Pattern[str]:
    """`/transcriptions/{id}` -> a pattern whose group `id` matches one percent-encoded segment."""
    return re.compile(_PATH_PARAMETER.sub(r"(?P<\1>[^/]+)", re.escape(resource)))


_RESOURCES: Final = tuple(
    (resource, _resource_pattern(resource))
    for resource in (Api.TRANSCRIPTIONS, Api.TRANSCRIPTION, Api.NOTIFY)
)
"""The API's resources (`infra/api.py` defines the same), most specific last."""


def _resource_of(path: str) -> tuple[str, dict[str, str] | None] | None:
    """The resource a path (without the stage) is an instance of, and its path parameters."""
    for resource, pattern in _RESOURCES:
        match = pattern.fullmatch(path)
        if match:
            parameters = {name: unquote(value) for name, value in match.groupdict().items()}
            return resource, parameters or None
    return None


def _proxy_response(result: Any) -> HttpResponse | None:
    """The HTTP answer API Gateway builds from a proxy integration's result; None if malformed."""
    if not isinstance(result, dict):
        return None
    status = result.get("statusCode")
    body = result.get("body")
    if not isinstance(status, int) or not (body is None or isinstance(body, str)):
        return None
    # Both maps merge; for a name in both, API Gateway keeps only the `multiValueHeaders` values.
    multi = result.get("multiValueHeaders") or {}
    overridden = {name.lower() for name in multi}
    headers: Headers = [
        (name, str(value))
        for name, value in (result.get("headers") or {}).items()
        if name.lower() not in overridden
    ]
    headers += [(name, str(value)) for name, values in multi.items() for value in values]
    data = _response_body(body or "", bool(result.get("isBase64Encoded")))
    if data is None:
        return None
    if not any(name.lower() == "content-type" for name, _ in headers):
        headers.append(("Content-Type", JSON_CONTENT_TYPE))
    return HttpResponse(status, headers, data)


# Function URL ----------------------------------------------------------------------------------------


def _function_url_error(status: int, message: str) -> HttpResponse:
    return json_response(status, {"Message": message})


def _function_url_failure() -> HttpResponse:
    """The function raised or answered something that is not an HTTP response."""
    return HttpResponse(502, [("Content-Type", "text/plain")], b"Internal Server Error")


class FunctionUrl:
    """A Lambda Function URL, auth type NONE: every request, whatever its method and path, to one function."""

    max_body_bytes = LAMBDA_MAX_PAYLOAD_BYTES

    def __init__(self, function: LocalFunction) -> None:
        self._function = function

    def handle(self, request: HttpRequest) -> HttpResponse:
        event = function_url_event(
            method=request.method,
            path=request.path,
            headers=_joined_headers(request.headers),
            raw_query=request.raw_query,
            body=request.body,
        )
        request_id = event["requestContext"]["requestId"]
        try:
            result = self._function.invoke(event)
        except PayloadTooLarge as error:
            return _function_url_error(413, str(error))
        except InvocationError:
            return _function_url_failure()
        response = _function_url_response(result)
        if response is None:
            _log(f"{self._function.name}: malformed Function URL response: {str(result)[:200]}")
            return _function_url_failure()
        response.headers.append(("x-amzn-RequestId", request_id))
        return response


def _function_url_response(result: Any) -> HttpResponse | None:
    """A Function URL answer: a dict with `statusCode` is an HTTP response; anything else (a dict
    without it, a string, a number) is a 200 whose JSON body is the returned value."""
    if not (isinstance(result, dict) and "statusCode" in result):
        return json_response(200, result)
    status, body = result.get("statusCode"), result.get("body")
    if not isinstance(status, int) or not (body is None or isinstance(body, str)):
        return None
    data = _response_body(body or "", bool(result.get("isBase64Encoded")))
    if data is None:
        return None
    headers: Headers = [(name, str(value)) for name, value in (result.get("headers") or {}).items()]
    headers += [("Set-Cookie", str(cookie)) for cookie in result.get("cookies") or []]
    if not any(name.lower() == "content-type" for name, _ in headers):
        headers.append(("Content-Type", JSON_CONTENT_TYPE))
    return HttpResponse(status, headers, data)


def _response_body(body: str, is_base64_encoded: bool) -> bytes | None:
    if not is_base64_encoded:
        return body.encode()
    try:
        return base64.b64decode(body, validate=True)
    except (binascii.Error, ValueError):
        return None


def _joined_headers(headers: Headers) -> dict[str, str]:
    """One value per header name; a repeated header's values joined by commas (RFC 9110)."""
    joined: dict[str, str] = {}
    for name, value in headers:
        joined[name] = f"{joined[name]},{value}" if name in joined else value
    return joined


# HTTP servers ----------------------------------------------------------------------------------------


class LocalHttpServer:
    """A threaded HTTP/1.1 server on a background thread, answering every request with `app`.

    `stop()` returns promptly: it stops accepting, closes idle keep-alive connections and joins
    the serving thread; requests already inside a handler finish on their own (daemon) threads.
    """

    def __init__(
        self, name: str, app: RestApi | FunctionUrl, *, host: str = "127.0.0.1", port: int = 0
    ) -> None:
        self.name = name
        try:
            self._server = _Server((host, port), _Handler, name=name, app=app)
        except OSError as error:
            raise OSError(
                error.errno, f"{name}: cannot listen on {host}:{port} ({error.strerror}); choose another port"
            ) from error
        self._thread: threading.Thread | None = None
        self._stopped = False

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        host = str(self._server.server_address[0])
        return f"http://{host}:{self.port}"

    def start(self) -> None:
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.1}, name=self.name, daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        """Idempotent; safe on a server that never started."""
        if self._stopped:
            return
        self._stopped = True
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join()
        self._server.close_connections()
        self._server.server_close()


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = LISTEN_BACKLOG  # a burst of clients connecting at once is queued, not reset

    def __init__(
        self,
        address: tuple[str, int],
        handler: type[BaseHTTPRequestHandler],
        *,
        name: str,
        app: RestApi | FunctionUrl,
    ) -> None:
        super().__init__(address, handler)
        self.name = name
        self.app = app
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that went away mid-request is not an error of the gateway's; anything else is."""
        if isinstance(sys.exc_info()[1], ConnectionError):
            return
        super().handle_error(request, client_address)

    def track(self, connection: socket.socket, *, open_: bool) -> None:
        with self._connections_lock:
            if open_:
                self._connections.add(connection)
            else:
                self._connections.discard(connection)

    def close_connections(self) -> None:
        with self._connections_lock:
            connections = list(self._connections)
        for connection in connections:
            with contextlib.suppress(OSError):  # already closed by the peer
                connection.shutdown(socket.SHUT_RDWR)


class _BodyTooLarge(Exception):
    """The body exceeds the front door's limit after `received` bytes.

    `drained`: it was read (and dropped) to its end, so the connection can serve the next request.
    `rest`: the rest of a chunked body, still to be read (and dropped) once the 413 is sent.
    """

    def __init__(self, *, received: int, drained: bool, rest: Iterator[bytes] | None = None) -> None:
        super().__init__()
        self.received = received
        self.drained = drained
        self.rest = rest


_DRAIN_MAX_BYTES = 64 * 1024 * 1024
"""An oversized body up to this size is read and dropped (a sized one before the 413, a chunked one
after it), so that the client, which is still sending, reads the answer instead of a broken pipe or
a reset; past that the connection is closed."""

_DRAIN_TIMEOUT_SECONDS = 10.0
"""How long a client sending an oversized chunked body may pause before the connection is closed."""

_LINGER_TIMEOUT_SECONDS = 2.0
"""How long a connection refused for a malformed body waits for its client to stop sending."""

_PIECE_BYTES = 64 * 1024
"""A chunked body is read this much at a time, so it is refused at most this far past the limit."""

_CHUNK_SIZE_LINE = re.compile(rb"([0-9A-Fa-f]{1,16})[ \t]*(?:;[^\r\n]*)?\r?\n")
_MAX_LINE_BYTES = 8192
_MAX_TRAILER_LINES = 100


def _chunked_pieces(rfile: BinaryIO) -> Iterator[bytes]:
    """The data of a `Transfer-Encoding: chunked` body, at most `_PIECE_BYTES` at a time.

    Strict framing (RFC 9112, section 7.1): hexadecimal sizes only, each chunk followed by CRLF,
    trailers read and dropped; anything else raises ValueError, as does a body cut short.
    """
    while True:
        match = _CHUNK_SIZE_LINE.fullmatch(rfile.readline(_MAX_LINE_BYTES))
        if match is None:
            raise ValueError("malformed chunk size line")
        remaining = int(match[1], 16)
        if remaining == 0:
            break
        while remaining > 0:
            piece = rfile.read(min(remaining, _PIECE_BYTES))
            if not piece:
                raise ValueError("body cut short")
            remaining -= len(piece)
            yield piece
        if rfile.readline(3) not in (b"\r\n", b"\n"):
            raise ValueError("chunk not followed by CRLF")
    for _ in range(_MAX_TRAILER_LINES):
        line = rfile.readline(_MAX_LINE_BYTES)
        if line in (b"\r\n", b"\n"):
            return
        if not line.endswith(b"\n"):
            raise ValueError("malformed trailer")
    raise ValueError("too many trailers")


class _Handler(BaseHTTPRequestHandler):
    """HTTP plumbing only: read the request, ask the app, write the answer, log one line."""

    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body are written apart: don't wait 40 ms between them
    timeout = 60  # seconds an idle keep-alive connection is kept
    server_version = "local-gateway"

    @property
    def _local(self) -> _Server:
        return cast(_Server, self.server)

    def setup(self) -> None:
        super().setup()
        self._local.track(self.connection, open_=True)

    def finish(self) -> None:
        self._local.track(self.connection, open_=False)
        super().finish()

    def handle_expect_100(self) -> bool:
        """Refuse an oversized body before the client sends it (curl asks first for big uploads)."""
        if self._declared_length() > self._local.app.max_body_bytes:
            self._answer(self._too_large(), started=time.monotonic())
            return False
        return super().handle_expect_100()

    def do_GET(self) -> None:
        self._dispatch()

    do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = do_GET

    def _dispatch(self) -> None:
        started = time.monotonic()
        try:
            body = self._read_body(self._local.app.max_body_bytes)
        except _BodyTooLarge as error:
            # Answered as soon as the limit is passed; the rest of a chunked body is dropped after.
            self._answer(self._too_large(error.received, keep_alive=error.drained), started=started)
            if error.rest is not None:
                self._drain(error.rest)
            return
        except ValueError:  # the body's framing is broken: where it ends is unknown
            self.close_connection = True
            self._answer(json_response(400, {"message": "Malformed request body"}), started=started)
            self._linger()
            return
        path, _, query = self.path.partition("?")
        request = HttpRequest(
            method=self.command,
            path=path,
            raw_query=query,
            headers=list(self.headers.items()),
            body=body,
        )
        self._answer(self._local.app.handle(request), started=started)

    def _too_large(self, received: int | None = None, *, keep_alive: bool = False) -> HttpResponse:
        """The front door's 413; `received`: the bytes of a chunked body read when it passed the limit."""
        if not keep_alive:
            self.close_connection = True  # the unread body must not be parsed as the next request
        app = self._local.app
        if isinstance(app, RestApi):
            return _api_gateway_error(413, "Request Too Long", "RequestEntityTooLargeException")
        if received is not None:
            return _function_url_error(413, str(PayloadTooLarge(app.max_body_bytes, at_least=True)))
        return _function_url_error(413, str(PayloadTooLarge(self._declared_length())))

    def _declared_length(self) -> int:
        try:
            return int(self.headers.get("Content-Length") or 0)
        except ValueError:
            return 0

    def _read_body(self, limit: int) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            return self._read_chunked(limit)
        length = self._declared_length()
        if length > limit:
            drained = length <= _DRAIN_MAX_BYTES
            if drained:
                self._discard(length)
            raise _BodyTooLarge(received=length, drained=drained)
        return self.rfile.read(length) if length > 0 else b""

    def _discard(self, length: int) -> None:
        remaining = length
        while remaining > 0:
            chunk = self.rfile.read(min(remaining, 1024 * 1024))
            if not chunk:
                return
            remaining -= len(chunk)

    def _read_chunked(self, limit: int) -> bytes:
        """The whole body if it fits in `limit`; never holds more than `limit` (plus one piece)."""
        pieces = _chunked_pieces(cast(BinaryIO, self.rfile))
        body: list[bytes] = []
        received = 0
        for piece in pieces:
            received += len(piece)
            if received > limit:
                body.clear()  # not kept alive by the exception's traceback while the rest is dropped
                raise _BodyTooLarge(received=received, drained=False, rest=pieces)
            body.append(piece)
        return b"".join(body)

    def _drain(self, rest: Iterator[bytes]) -> None:
        """Read and drop the rest of a refused chunked body (bounded), so that closing the
        connection afterwards does not reset it under a client still sending."""
        dropped = 0
        with contextlib.suppress(OSError, ValueError):  # a client that gives up, or bad framing
            self.connection.settimeout(_DRAIN_TIMEOUT_SECONDS)
            for piece in rest:
                dropped += len(piece)
                if dropped > _DRAIN_MAX_BYTES:
                    return

    def _linger(self) -> None:
        """Half-close, then read and drop what the client still sends (bounded), so that closing
        the connection does not reset it under a client that has not finished sending."""
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_WR)
            self.connection.settimeout(_LINGER_TIMEOUT_SECONDS)
            dropped = 0
            while dropped <= _DRAIN_MAX_BYTES and (data := self.rfile.read1(_PIECE_BYTES)):
                dropped += len(data)

    def _answer(self, response: HttpResponse, *, started: float) -> None:
        # Logged before answering, so the line precedes anything the client does next.
        elapsed_ms = (time.monotonic() - started) * 1000
        path = self.path.partition("?")[0]
        _log(f"{self._local.name} {self.command} {path} {response.status} {elapsed_ms:.0f} ms")
        self.send_response(response.status)
        for name, value in response.headers:
            if name.lower() not in ("content-length", "connection", "transfer-encoding"):
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(response.body)))
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(response.body)

    def log_message(self, format: str, *args: Any) -> None:
        """Silenced: `_answer` logs one line per request instead."""


def _log(line: str) -> None:
    # Looked up at call time so that a redirected sys.stderr (the demo's log file) is honoured.
    print(line, file=sys.stderr, flush=True)


__all__ = [
    "API_GATEWAY_MAX_BODY_BYTES",
    "DEFAULT_FUNCTION_SPEC",
    "DEFAULT_STAGE",
    "FUNCTION_SPECS",
    "LAMBDA_MAX_PAYLOAD_BYTES",
    "LISTEN_BACKLOG",
    "FunctionSpec",
    "FunctionStartError",
    "FunctionUrl",
    "Functions",
    "Handler",
    "HttpRequest",
    "HttpResponse",
    "InvocationError",
    "LocalFunction",
    "LocalHttpServer",
    "PayloadTooLarge",
    "RestApi",
    "build_functions",
]
