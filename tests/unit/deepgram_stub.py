"""A tiny stand-in for Deepgram's `/v1/listen`, for tests that drive the real SDK over HTTP.

It records every request (method, path, raw query string, headers, body) and answers with what
the test configured: a status, headers and a JSON body, optionally after a delay longer than the
client's timeout. `close()` frees the port, so a client pointed at it afterwards is refused.
"""

from __future__ import annotations

import json
import threading
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str
    query: str  # the raw query string, as sent
    headers: dict[str, str]  # lower-case names
    body: bytes
    answer: dict[str, Any] | None  # the JSON body the stub answered with, if any

    @property
    def params(self) -> dict[str, list[str]]:
        return parse_qs(self.query, keep_blank_values=True)

    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def request_id(self) -> str:
        """The request id the stub answered with."""
        assert isinstance(self.answer, dict), self.answer
        return str(self.answer["request_id"])


@dataclass
class Reply:
    status: int = 200
    body: dict[str, Any] | None = None  # None: a fresh `{"request_id": <uuid>}` each time
    headers: dict[str, str] = field(default_factory=dict)
    delay_seconds: float = 0.0


class DeepgramStub:
    def __init__(self) -> None:
        self.requests: list[RecordedRequest] = []
        self.reply = Reply()
        self._lock = threading.Lock()
        self._released = threading.Event()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        self._server.block_on_close = False
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.02,), daemon=True)
        self._closed = False

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_port}"

    def respond(
        self,
        status: int,
        body: dict[str, Any] | None = None,
        *,
        headers: dict[str, str] | None = None,
        delay_seconds: float = 0.0,
    ) -> None:
        """Answer every following request like this."""
        self.reply = Reply(status=status, body=body, headers=dict(headers or {}), delay_seconds=delay_seconds)

    @property
    def last(self) -> RecordedRequest:
        assert self.requests, "Deepgram received no request"
        return self.requests[-1]

    def start(self) -> None:
        self._thread.start()

    def close(self) -> None:
        """Stop serving and free the port: connections to `url` are refused from now on."""
        if self._closed:
            return
        self._closed = True
        self._released.set()  # cut any deliberate delay short
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()

    def _record(self, request: RecordedRequest) -> None:
        with self._lock:
            self.requests.append(request)

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self._serve()

            def do_PUT(self) -> None:
                self._serve()

            def do_GET(self) -> None:
                self._serve()

            def _read_body(self) -> bytes:
                if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                    chunks = []
                    while True:
                        size = int(self.rfile.readline().split(b";", 1)[0].strip() or b"0", 16)
                        if size == 0:
                            self.rfile.readline()
                            break
                        chunks.append(self.rfile.read(size))
                        self.rfile.readline()
                    return b"".join(chunks)
                length = int(self.headers.get("Content-Length") or 0)
                return self.rfile.read(length) if length else b""

            def _serve(self) -> None:
                reply = stub.reply
                body = self._read_body()
                answer = reply.body if reply.body is not None else {"request_id": str(uuid.uuid4())}
                parts = urlsplit(self.path)
                stub._record(
                    RecordedRequest(
                        method=self.command,
                        path=parts.path,
                        query=parts.query,
                        headers={name.lower(): value for name, value in self.headers.items()},
                        body=body,
                        answer=answer,
                    )
                )
                if reply.delay_seconds and stub._released.wait(reply.delay_seconds):
                    return  # the stub is closing: drop the connection unanswered
                encoded = json.dumps(answer).encode()
                try:
                    self.send_response(reply.status)
                    self.send_header("Content-Type", "application/json")
                    for name, value in reply.headers.items():
                        self.send_header(name, value)
                    self.send_header("Content-Length", str(len(encoded)))
                    self.end_headers()
                    self.wfile.write(encoded)
                except OSError:
                    pass  # the client gave up (a timeout test): nothing to answer

            def log_message(self, format: str, *args: Any) -> None:
                pass

        return Handler
