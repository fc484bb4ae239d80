"""Local stand-ins for API Gateway and a Lambda Function URL, invoking the real handlers in-process.

Two HTTP servers on loopback turn each request into the exact event AWS would deliver
(`local.events`), call the unchanged `lambda_handler`, and turn its return value into the HTTP
answer, the way each AWS front door does:

* `RestApi`: an API Gateway REST API, Lambda proxy integration, one stage (`/v1` like the CDK
  app's default). `POST /transcriptions` goes to the submit function, `GET /transcriptions/{id}`
  to the status function; any other method or path gets API Gateway's own
  `403 {"message": "Missing Authentication Token"}`.
* `FunctionUrl`: a Lambda Function URL (payload format 2.0, auth type NONE) in front of the
  callback function; every method and path is handed to the function.

What each `LocalFunction` models is one warm execution environment of a function with reserved
concurrency 1: Lambda hands an environment one event at a time, and the handlers keep
per-invocation state in module globals (Powertools Logger keys, the resolver's current event),
so invocations of a function are serialised with a lock. Lambda runs each function in its own
process; here they share one, and Powertools Metrics keeps its metric set in class attributes
shared by every `Metrics` instance in a process, so functions that emit metrics also share a
lock (`build_functions`), or one function's flush would publish, clear or trip over the other's.

Limits enforced: API Gateway's 10 MB request body, Lambda's 6 MB synchronous invocation payload
(the event as JSON, so a base64-encoded upload counts 4/3 of its size). Not emulated: IAM (SigV4)
authorization and API Gateway's request validation (the functions validate anyway), throttling,
and the 29 s integration timeout (a slow invocation is logged, not cut short).
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import importlib
import json
import socket
import sys
import threading
import time
import traceback
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, cast
from urllib.parse import parse_qs, unquote

from functions.core.contract import HANDLERS, PRODUCT, Api, CallbackTiming, Services
from local.events import LambdaContext, function_url_event, rest_api_event

API_GATEWAY_MAX_BODY_BYTES = 10 * 1024 * 1024
"""API Gateway refuses a larger request body (413) before invoking anything."""

LAMBDA_MAX_PAYLOAD_BYTES = 6 * 1024 * 1024
"""Lambda refuses a synchronous invocation whose event, as JSON, is larger (6,291,456 bytes)."""

DEFAULT_STAGE = "v1"
"""The API stage the CDK app deploys by default (`stageName` context)."""

Handler = Callable[[dict[str, Any], Any], Any]
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


class InvocationError(Exception):
    """Lambda could not run the invocation, or the function raised (Lambda's "Unhandled" error)."""


class PayloadTooLarge(InvocationError):
    """Lambda's `RequestEntityTooLargeException`: the event exceeds the invocation payload limit."""

    def __init__(self, size: int) -> None:
        super().__init__(
            f"Request must be smaller than {LAMBDA_MAX_PAYLOAD_BYTES} bytes for the InvokeFunction "
            f"operation (this one: {size} bytes)"
        )


class LocalFunction:
    """One warm execution environment of one Lambda function (see the module docstring)."""

    def __init__(
        self,
        name: str,
        handler: Handler,
        *,
        timeout_seconds: float,
        memory_mb: int,
        lock: threading.Lock | None = None,
    ) -> None:
        self.name = name
        self._handler = handler
        self._timeout_seconds = timeout_seconds
        self._memory_mb = memory_mb
        self._lock = lock or threading.Lock()

    def invoke(self, event: dict[str, Any]) -> Any:
        """Run the handler on `event` as Lambda would; raises `InvocationError` where Lambda fails."""
        payload = json.dumps(event)
        size = len(payload.encode())
        if size > LAMBDA_MAX_PAYLOAD_BYTES:
            raise PayloadTooLarge(size)
        with self._lock:
            context = LambdaContext(
                function_name=self.name,
                memory_limit_in_mb=self._memory_mb,
                timeout_seconds=self._timeout_seconds,
                log_group_name=f"/aws/lambda/{self.name}",
            )
            started = time.monotonic()
            try:
                # Like Lambda, the handler gets the event decoded from its JSON payload.
                return self._handler(json.loads(payload), context)
            except Exception as error:
                _log(f"{self.name}: unhandled {type(error).__name__}\n{traceback.format_exc()}")
                raise InvocationError(f"{type(error).__name__}: {error}") from error
            finally:
                elapsed = time.monotonic() - started
                if elapsed > self._timeout_seconds:
                    _log(
                        f"{self.name}: took {elapsed:.1f} s, beyond its {self._timeout_seconds:g} s "
                        "timeout: Lambda would have stopped it"
                    )


def load_handler(service: str) -> Handler:
    """The function's `lambda_handler`, found from the same handler path the CDK app deploys."""
    module_name, _, attribute = HANDLERS[service].rpartition(".")
    return cast(Handler, getattr(importlib.import_module(module_name), attribute))


@dataclass(frozen=True)
class Functions:
    submit: LocalFunction
    status: LocalFunction
    callback: LocalFunction


def build_functions() -> Functions:
    """The three functions, with the timeouts and memory `infra/` deploys them with (the callback's
    timeout is the contract's; importing `infra/` here would start the CDK's Node runtime).

    Submit and callback both emit Powertools metrics, whose state is shared process-wide (see
    the module docstring): they take turns on one lock. Status emits none and runs alongside.
    Neither waits for the other, so sharing the lock cannot deadlock: the submit function's call
    to Deepgram returns as soon as the job is accepted, before any callback is delivered.
    """
    metrics_lock = threading.Lock()
    return Functions(
        submit=LocalFunction(
            f"{PRODUCT}-{Services.SUBMIT}",
            load_handler(Services.SUBMIT),
            timeout_seconds=28,
            memory_mb=512,
            lock=metrics_lock,
        ),
        status=LocalFunction(
            f"{PRODUCT}-{Services.STATUS}", load_handler(Services.STATUS), timeout_seconds=10, memory_mb=256
        ),
        callback=LocalFunction(
            f"{PRODUCT}-{Services.CALLBACK}",
            load_handler(Services.CALLBACK),
            timeout_seconds=CallbackTiming.FUNCTION_TIMEOUT_SECONDS,
            memory_mb=512,
            lock=metrics_lock,
        ),
    )


# API Gateway ---------------------------------------------------------------------------------------


def _api_gateway_error(status: int, message: str, error_type: str) -> HttpResponse:
    return json_response(status, {"message": message}, [("x-amzn-ErrorType", error_type)])


class RestApi:
    """API Gateway REST API, Lambda proxy integration, binary media types for audio uploads."""

    max_body_bytes = API_GATEWAY_MAX_BODY_BYTES

    def __init__(self, *, submit: LocalFunction, status: LocalFunction, stage: str = DEFAULT_STAGE) -> None:
        self._submit = submit
        self._status = status
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
        collection = Api.TRANSCRIPTIONS
        if request.method == "POST" and path == collection:
            return self._submit, collection, path, None
        segments = path.removeprefix(collection + "/")
        if request.method == "GET" and path.startswith(collection + "/") and segments and "/" not in segments:
            return self._status, Api.TRANSCRIPTION, unquote(path), {"id": unquote(segments)}
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
    request_queue_size = 128  # a burst of concurrent clients must not be reset by a full backlog

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
    """The body exceeds the front door's limit; `drained` if it was read (and dropped) anyway."""

    def __init__(self, *, drained: bool) -> None:
        super().__init__()
        self.drained = drained


_DRAIN_MAX_BYTES = 64 * 1024 * 1024
"""An oversized body up to this size is read and dropped before the 413, so that the client, which
is still sending, reads the answer instead of a broken pipe; a larger one closes the connection."""


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
            self._answer(self._too_large(keep_alive=error.drained), started=started)
            return
        except ValueError:
            self._answer(json_response(400, {"message": "Malformed request body"}), started=started)
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

    def _too_large(self, *, keep_alive: bool = False) -> HttpResponse:
        if not keep_alive:
            self.close_connection = True  # the unread body must not be parsed as the next request
        if isinstance(self._local.app, RestApi):
            return _api_gateway_error(413, "Request Too Long", "RequestEntityTooLargeException")
        return _function_url_error(413, PayloadTooLarge(self._declared_length()).args[0])

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
            raise _BodyTooLarge(drained=drained)
        return self.rfile.read(length) if length > 0 else b""

    def _discard(self, length: int) -> None:
        remaining = length
        while remaining > 0:
            chunk = self.rfile.read(min(remaining, 1024 * 1024))
            if not chunk:
                return
            remaining -= len(chunk)

    def _read_chunked(self, limit: int) -> bytes:
        chunks: list[bytes] = []
        total = 0
        while True:
            size = int(self.rfile.readline(1024).split(b";")[0].strip() or b"0", 16)
            if size == 0:
                while self.rfile.readline(1024) not in (b"\r\n", b"\n", b""):
                    pass  # trailers
                return b"".join(chunks)
            total += size
            if total > limit:
                raise _BodyTooLarge(drained=False)
            chunks.append(self.rfile.read(size))
            self.rfile.readline(1024)

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
    "DEFAULT_STAGE",
    "LAMBDA_MAX_PAYLOAD_BYTES",
    "FunctionUrl",
    "Functions",
    "HttpRequest",
    "HttpResponse",
    "LocalFunction",
    "LocalHttpServer",
    "RestApi",
    "build_functions",
]
