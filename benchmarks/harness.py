"""What several benchmarks share: the functions' environment, realistic callback bodies and
events, job items as the jobs table holds them, and stdout redirection for the handlers' logs.

The handlers read their configuration from `os.environ`, and each function's composition root
(`functions/<name>/wiring.py`) builds its service once, from boto3's default session, on first use
(in Lambda: at init, `warm_up_in_lambda`). So a benchmark runs them inside `function_environment()`
with a `ZeroLatencyAws` installed on a fresh default session, and empties the composition roots'
caches around it (`reset_function_caches`: `functools.cache`'s documented `cache_clear()`), so that
the next invocation builds the real adapters over the stub. Nothing in `functions/` is patched.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import json
import os
import sys
import tempfile
import threading
import traceback
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from benchmarks.stub import ZeroLatencyAws, answer_get_item, answer_pipeline_writes, answer_secret
from functions.core import result_storage, settings
from functions.core.adapters.aws import client
from functions.core.adapters.dynamodb import DynamoJobRepository
from functions.core.callback_auth import callback_secret
from functions.core.contract import Env, Metrics
from functions.core.jobs import isoformat, new_job
from local.deepgram_emulator.payloads import compact_json, generate_response
from local.events import function_url_event, rest_api_event

REPO_ROOT = Path(__file__).resolve().parent.parent
KB = 1024
MB = 1024 * 1024

REGION = "us-east-1"
ACCOUNT = "123456789012"
SIGNING_KEY = "benchmark-signing-key-0123456789abcdef0123456789abcdef"
DEEPGRAM_API_KEY = "benchmark-deepgram-key"
DEEPGRAM_API_KEY_ID = "benchmark-deepgram-key-id"
SIGNING_SECRET_ID = f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:callback-signing-AbCdEf"
DEEPGRAM_SECRET_ID = f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:deepgram-api-key-AbCdEf"
TOPIC_ARN = f"arn:aws:sns:{REGION}:{ACCOUNT}:transcription-notifications"
JOBS_TABLE = "transcription-jobs"
CALLBACK_URL = "https://abc123.lambda-url.us-east-1.on.aws/"

FAKE_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "benchmark",
    "AWS_SECRET_ACCESS_KEY": "benchmark",
    "AWS_SESSION_TOKEN": "benchmark",
    "AWS_DEFAULT_REGION": REGION,
    "AWS_REGION": REGION,
    "AWS_EC2_METADATA_DISABLED": "true",
}
"""Credentials that can reach no account; also keeps botocore from probing instance metadata."""

_REMOVED = ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE")


def function_environment(deepgram_base_url: str = "http://127.0.0.1:9") -> dict[str, str]:
    """The union of the three functions' environments, from their settings specs as `infra/` uses them."""
    return {
        **FAKE_CREDENTIALS,
        **settings.environ_of_all(
            {
                settings.JOBS_TABLE: JOBS_TABLE,
                settings.IDEMPOTENCY_TABLE: "transcription-idempotency",
                settings.RESULTS_BUCKET: "transcription-results",
                settings.TOPIC_ARN: TOPIC_ARN,
                settings.CALLBACK_SIGNING_SECRET: SIGNING_SECRET_ID,
                settings.DEEPGRAM_API_KEY_SECRET: DEEPGRAM_SECRET_ID,
                settings.DEEPGRAM_API_KEY_ID: DEEPGRAM_API_KEY_ID,
                settings.CALLBACK_URL: CALLBACK_URL,
                settings.DEEPGRAM_BASE_URL: deepgram_base_url,
            }
        ),
        Env.POWERTOOLS_METRICS_NAMESPACE: Metrics.NAMESPACE,
        # As shipped: infra/functions.py sets it to "true" unless the stack is deployed with
        # `-c tracing=true`, and `functions.core.tracing` then never imports Tracer (X-Ray SDK).
        Env.TRACE_DISABLED: "true",
    }


@contextmanager
def environment(variables: Mapping[str, str]) -> Iterator[None]:
    """`os.environ` with `variables` set and ambient AWS configuration removed; restored after."""
    saved = dict(os.environ)
    for name in _REMOVED:
        os.environ.pop(name, None)
    os.environ.update(variables)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


@contextmanager
def stdout_redirected(path: str = os.devnull) -> Iterator[None]:
    """Send file descriptor 1 to `path` (the handlers' JSON logs and EMF metrics), then restore it.

    Redirecting the descriptor rather than `sys.stdout` also catches Powertools' Logger, which
    keeps the stream object it was created with. Writing still costs what it costs in Lambda
    (formatting plus a write system call), only the bytes go nowhere.
    """
    sys.stdout.flush()
    saved = os.dup(1)
    target = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND)
    try:
        os.dup2(target, 1)
        yield
    finally:
        sys.stdout.flush()
        os.dup2(saved, 1)
        os.close(saved)
        os.close(target)


@contextmanager
def output_captured() -> Iterator[None]:
    """File descriptors 1 and 2 (logs of this process and of the children it starts) into a temp
    file; if the block fails, the last lines are shown on the real stderr."""
    with tempfile.NamedTemporaryFile(prefix="bench-output-", mode="w+") as sink:
        sys.stdout.flush()
        sys.stderr.flush()
        saved = (os.dup(1), os.dup(2))
        try:
            os.dup2(sink.fileno(), 1)
            os.dup2(sink.fileno(), 2)
            yield
        except BaseException:
            sys.stdout.flush()
            sys.stderr.flush()
            os.dup2(saved[1], 2)
            sink.seek(0)
            tail = sink.read()[-4000:]
            print(f"--- output of the failed benchmark (last 4000 characters) ---\n{tail}", file=sys.stderr)
            traceback.print_exc()
            raise
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            os.close(saved[0])
            os.close(saved[1])


COMPOSITION_ROOTS = (
    ("functions.callback.wiring", "service"),
    ("functions.submit.wiring", "submitter"),
    ("functions.status.wiring", "service"),
)
"""Each function's composition root and its cached factory (`functools.cache`)."""


def reset_function_caches() -> None:
    """Forget the services the composition roots built (only for those already imported), with
    `functools.cache`'s `cache_clear()`: the next invocation builds settings, clients and adapters
    again, from the environment and the default session then current."""
    for module_name, factory in COMPOSITION_ROOTS:
        module = sys.modules.get(module_name)
        if module is not None:
            getattr(module, factory).cache_clear()


# Jobs and callback bodies ------------------------------------------------------------------------


def new_job_id(index: int) -> str:
    return f"{index:032x}"


def request_id_for(job_id: str) -> str:
    return f"{job_id[:8]}-{job_id[8:12]}-4{job_id[13:16]}-8{job_id[17:20]}-{job_id[20:32]}"


def job_item(
    stub: ZeroLatencyAws,
    job_id: str,
    request_id: str,
    *,
    status: str = "processing",
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The job's item as the jobs table holds it (DynamoDB JSON), written by the real repository.

    `DynamoJobRepository.create` serialises a new job against the stub; the captured `PutItem`
    item then gets what `record_submission` sets (request id, submission time, `processing`).
    """
    created = datetime.now(UTC) - timedelta(minutes=2)
    job = new_job(
        source={"type": "url", "url": "https://media.example.com/recordings/interview.wav"},
        options={"model": "nova-3", "smart_format": True},
        metadata={"customer": "acme", "reference": "case-1234"},
        retention_days=30,
        now=created,
        job_id=job_id,
    )
    DynamoJobRepository(client("dynamodb"), JOBS_TABLE).create(job)
    item: dict[str, Any] = json.loads(stub.record("dynamodb", "PutItem").last_body)["Item"]
    submitted = isoformat(created + timedelta(seconds=1))
    item.update(
        {
            "status": {"S": status},
            "request_id": {"S": request_id},
            "submitted_at": {"S": submitted},
            "updated_at": {"S": submitted},
        }
    )
    item.update(extra or {})
    return item


def callback_credentials(job_id: str) -> tuple[str, str]:
    return job_id, callback_secret(SIGNING_KEY, job_id)


@functools.lru_cache(maxsize=16)
def callback_body(target_bytes: int, job_id: str, *, seed: int = 1, diarized: bool = False) -> bytes:
    """A realistic Deepgram success body of about `target_bytes` of compact JSON for `job_id`:
    words only, or diarized with utterances and paragraphs (as `diarize=true&utterances=true&
    paragraphs=true` returns: every word appears again in the utterances)."""
    _, secret = callback_credentials(job_id)
    response = generate_response(
        target_bytes=target_bytes,
        request_id=request_id_for(job_id),
        extra={"job_id": job_id, "callback_secret": secret},
        seed=seed,
        diarize=diarized,
        utterances=diarized,
        paragraphs=diarized,
    )
    return compact_json(response)


@functools.lru_cache(maxsize=16)
def callback_body_for_duration(minutes: float, job_id: str, *, diarized: bool) -> bytes:
    """A realistic body for `minutes` of speech: words only, or diarize + utterances + paragraphs."""
    _, secret = callback_credentials(job_id)
    response = generate_response(
        minutes * 60,
        request_id=request_id_for(job_id),
        extra={"job_id": job_id, "callback_secret": secret},
        diarize=diarized,
        utterances=diarized,
        paragraphs=diarized,
        seed=int(minutes * 10),
    )
    return compact_json(response)


def callback_event(body: bytes, job_id: str) -> dict[str, Any]:
    """The Function URL event of Deepgram's delivery of `body`, with the job's Basic credentials."""
    username, password = callback_credentials(job_id)
    token = base64.b64encode(f"{username}:{password}".encode()).decode()
    headers = {
        "content-type": "application/json",
        "authorization": f"Basic {token}",
        "dg-token": DEEPGRAM_API_KEY_ID,
        "user-agent": "deepgram-callback/1.0",
    }
    return function_url_event(method="POST", headers=headers, body=body)


def pipeline_stub() -> ZeroLatencyAws:
    """A stub answering every write of the pipeline and both secrets (reads are set per case)."""
    stub = ZeroLatencyAws()
    answer_pipeline_writes(stub)
    answer_secret(stub, {SIGNING_SECRET_ID: SIGNING_KEY, DEEPGRAM_SECRET_ID: DEEPGRAM_API_KEY})
    answer_get_item(stub, None)
    return stub


def completed_job_item(stub: ZeroLatencyAws, job_id: str, body: bytes) -> dict[str, Any]:
    """A completed job's item as the callback leaves it when the body is stored inline (gzip),
    encoded by the callback's own `result_storage.encode`."""
    encoded = result_storage.encode(job_id, body, hashlib.sha256(body).hexdigest())
    stored = encoded.stored
    if stored.inline_data is None:
        raise ValueError(f"a {len(body):,} B body is not stored inline: {stored.storage}")
    result = {
        "storage": {"S": stored.storage},
        "size_bytes": {"N": str(stored.size_bytes)},
        "sha256": {"S": stored.sha256},
        "content_encoding": {"S": stored.content_encoding},
    }
    return job_item(
        stub,
        job_id,
        request_id_for(job_id),
        status="completed",
        extra={
            "result": {"M": result},
            "result_data": {"B": base64.b64encode(stored.inline_data).decode()},
            "completed_at": {
                "S": datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
            },
            "notified_at": {"S": datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")},
        },
    )


def submit_event() -> dict[str, Any]:
    """`POST /transcriptions` with an audio URL and an Idempotency-Key, as API Gateway delivers it."""
    body = json.dumps(
        {
            "url": "https://media.example.com/recordings/interview.wav",
            "options": {"model": "nova-3", "smart_format": True},
            "metadata": {"customer": "acme"},
        }
    ).encode()
    return rest_api_event(
        method="POST",
        path="/transcriptions",
        resource="/transcriptions",
        headers={"Content-Type": "application/json", "Idempotency-Key": "benchmark-0001"},
        body=body,
    )


def status_event(job_id: str) -> dict[str, Any]:
    """`GET /transcriptions/{id}`, as API Gateway delivers it."""
    return rest_api_event(
        method="GET",
        path=f"/transcriptions/{job_id}",
        resource="/transcriptions/{id}",
        path_parameters={"id": job_id},
    )


class AcceptingDeepgram:
    """A loopback stand-in for Deepgram's `POST /v1/listen?callback=...`: answers at once with a
    request id, as Deepgram does for callback requests, and never calls back."""

    def __init__(self) -> None:
        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # headers and body are two writes: no 40 ms delayed-ACK stall

            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                answer = json.dumps({"request_id": str(uuid.uuid4())}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, format: str, *args: Any) -> None:
                return

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def __enter__(self) -> AcceptingDeepgram:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()
