"""A small fake of the transcription API on loopback, for the `dgt` tests.

It serves the endpoints the local stack does not have yet (`GET /transcriptions` with a cursor,
`DELETE /transcriptions/{id}`, `POST /transcriptions/{id}/notify`), and scripted answers for
the others, so that polling, errors and downloads can be tested deterministically. It records
every request (method, path, query, headers, body).
"""

from __future__ import annotations

import gzip
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

STAGE = "/v1"


@dataclass
class Recorded:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes


@dataclass
class FakeApi:
    jobs: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Job views by id, returned by GET; a list under `scripts` takes precedence."""
    scripts: dict[str, list[tuple[int, Any]]] = field(default_factory=dict)
    """Per job id: (status, body) answers of successive GETs; the last one repeats."""
    blobs: dict[str, tuple[bytes, dict[str, str]]] = field(default_factory=dict)
    """Paths served as-is (presigned result URLs): body and headers."""
    requests: list[Recorded] = field(default_factory=list)
    base_url: str = ""

    @property
    def api_url(self) -> str:
        return self.base_url + STAGE

    def add_blob(self, name: str, document: Any, *, compress: bool, header: bool) -> str:
        body = json.dumps(document).encode()
        headers = {"Content-Type": "application/json"}
        if compress:
            body = gzip.compress(body)
            if header:
                headers["Content-Encoding"] = "gzip"
        self.blobs[f"/results/{name}"] = (body, headers)
        return f"{self.base_url}/results/{name}?X-Amz-Signature=abc"

    def answer(  # noqa: PLR0911
        self, method: str, path: str, query: dict[str, list[str]], body: bytes
    ) -> tuple[int, Any]:
        if path in self.blobs:
            return 200, self.blobs[path]
        if not path.startswith(STAGE + "/transcriptions"):
            return 403, {"message": "Missing Authentication Token"}
        rest = path.removeprefix(STAGE + "/transcriptions").strip("/")
        parts = rest.split("/") if rest else []
        if method == "GET" and not parts:
            return 200, self._page(query)
        if method == "POST" and not parts:
            job: dict[str, Any] = {
                "id": "a" * 32,
                "status": "processing",
                "request_id": "r-1",
                "metadata": {},
                "options": {},
            }
            self.jobs.setdefault(job["id"], job)
            return 202, job
        job_id = parts[0]
        if method == "GET" and len(parts) == 1:
            script = self.scripts.get(job_id)
            if script:
                return script.pop(0) if len(script) > 1 else script[0]
            if job_id in self.jobs:
                return 200, self.jobs[job_id]
            return 404, {"error": {"code": "job_not_found", "message": "no transcription job with this id"}}
        if job_id not in self.jobs:
            return 404, {"error": {"code": "job_not_found", "message": "no transcription job with this id"}}
        job = self.jobs[job_id]
        if method == "DELETE" and len(parts) == 1:
            job = {**job, "status": "deleted"}
            self.jobs[job_id] = job
            return 200, job
        if method == "POST" and parts[1:] == ["notify"]:
            if job["status"] not in ("completed", "failed"):
                return 409, {"error": {"code": "job_not_finished", "message": "the job has not finished"}}
            return 202, {"job_id": job_id, "status": "notification_queued"}
        return 403, {"message": "Missing Authentication Token"}

    def _page(self, query: dict[str, list[str]]) -> dict[str, Any]:
        items = sorted(self.jobs.values(), key=lambda job: str(job["id"]))
        if "status" in query:
            items = [job for job in items if job["status"] == query["status"][0]]
        start = int(query.get("cursor", ["0"])[0])
        limit = int(query.get("limit", ["2"])[0])
        page = items[start : start + limit]
        more = start + limit < len(items)
        return {"items": page, "next_cursor": str(start + limit) if more else None}


def _handler(api: FakeApi) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def _serve(self) -> None:
            parts = urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            query = parse_qs(parts.query)
            api.requests.append(Recorded(self.command, parts.path, query, dict(self.headers.items()), body))
            status, document = api.answer(self.command, parts.path, query, body)
            if isinstance(document, tuple):  # a blob: (bytes, headers)
                payload, headers = document
            else:
                payload, headers = json.dumps(document).encode(), {"Content-Type": "application/json"}
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        do_GET = do_POST = do_DELETE = _serve

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


@contextmanager
def running(api: FakeApi | None = None) -> Iterator[FakeApi]:
    api = api or FakeApi()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(api))
    api.base_url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield api
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
