"""Self-contained helpers for the callback robustness and fuzz tests.

`Harness` is a `CallbackService` (and a `StatusService` reading the same state) on the in-memory
fakes, with a clock the test moves. It creates jobs as the submit function leaves them, builds
Deepgram-shaped bodies (its own small generator, so a body's every field is under the test's
control), delivers requests, and reads back what was stored, published and served.

`strict_loads` is the RFC 8259 reader the tests hold every stored or served document to: no
`NaN`/`Infinity`, no number a double cannot hold.
"""

from __future__ import annotations

import gzip
import json
import math
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from functions.callback.logic import CallbackConfig, CallbackRequest, CallbackResult, CallbackService
from functions.core import result_storage
from functions.core.adapters.memory import (
    Faults,
    InMemoryBlobStore,
    InMemoryJobRepository,
    InMemoryPublisher,
    InMemorySecrets,
)
from functions.core.callback_auth import callback_secret
from functions.core.contract import DgTokenMode
from functions.core.jobs import Job, StoredResult, new_job
from functions.core.ports import JobRepository, ResultBlobStore
from functions.status.logic import StatusConfig, StatusService
from tests.service.conftest import Clock, basic_authorization

SIGNING_KEY = "fuzz-signing-key-0123456789abcdef0123456789abcdef"
SIGNING_SECRET_ID = "callback-signing-secret"
DEEPGRAM_API_KEY_ID = "fuzz-deepgram-key-id"
RETRY_INTERVAL = 30  # seconds between Deepgram's retries
KB = 1024
MB = 1024 * 1024


class NotStrictJson(ValueError):
    """A document RFC 8259 readers would refuse or misread."""


def _refuse_constant(name: str) -> Any:
    raise NotStrictJson(f"non-standard constant {name}")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise NotStrictJson(f"number out of a double's range: {text[:40]}")
    return value


def _bounded_int(digits: str) -> int:
    if len(digits.lstrip("-")) > 4000:
        raise NotStrictJson(f"integer of {len(digits)} digits")
    return int(digits)


@contextmanager
def recursion_limit(limit: int) -> Iterator[None]:
    saved = sys.getrecursionlimit()
    sys.setrecursionlimit(max(saved, limit))
    try:
        yield
    finally:
        sys.setrecursionlimit(saved)


def strict_loads(document: str | bytes) -> Any:
    """Parse `document` as strict JSON (UTF-8, no NaN/Infinity, finite numbers); `NotStrictJson`
    or `ValueError` otherwise. Deep documents are allowed (up to 20,000 levels)."""
    text = document.decode("utf-8") if isinstance(document, bytes) else document
    text.encode("utf-8")  # a lone surrogate in the text itself is not UTF-8
    with recursion_limit(25_000):
        return json.loads(
            text, parse_constant=_refuse_constant, parse_float=_finite_float, parse_int=_bounded_int
        )


def is_strict_json(document: str | bytes) -> bool:
    try:
        strict_loads(document)
    except (ValueError, RecursionError):
        return False
    return True


def compact(payload: Any) -> bytes:
    """Compact JSON; text UTF-8 cannot encode (a lone surrogate) is written as a JSON `\\u` escape."""
    try:
        return json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()
    except UnicodeEncodeError:
        return json.dumps(payload, separators=(",", ":")).encode()


def nested(depth: int, leaf: str = "0") -> str:
    """JSON text of `depth` nested arrays around `leaf`, built without recursion."""
    return "[" * depth + leaf + "]" * depth


# --- bodies ------------------------------------------------------------------------------------


def success_payload(
    *,
    request_id: str | None,
    extra: dict[str, Any] | None = None,
    transcript: str = "hello world from the fuzzer",
    duration: Any = 3.25,
    channels: Any = 1,
    confidence: Any = 0.93,
    detected_language: str | None = None,
) -> dict[str, Any]:
    """A Deepgram success body (pre-recorded, one channel, one alternative)."""
    words = [
        {"word": word, "start": index * 0.5, "end": index * 0.5 + 0.4, "confidence": 0.9}
        for index, word in enumerate(transcript.split())
    ]
    metadata: dict[str, Any] = {
        "transaction_key": "deprecated",
        "request_id": request_id,
        "sha256": "0" * 64,
        "created": "2026-03-01T12:00:00.000Z",
        "duration": duration,
        "channels": channels,
        "models": ["1abfe86b-e047-4eed-858a-35e5625b41ee"],
        "model_info": {
            "1abfe86b-e047-4eed-858a-35e5625b41ee": {"name": "general", "version": "1", "arch": "x"}
        },
    }
    if extra is not None:
        metadata["extra"] = extra
    channel: dict[str, Any] = {
        "alternatives": [{"transcript": transcript, "confidence": confidence, "words": words}]
    }
    if detected_language is not None:
        channel["detected_language"] = detected_language
    return {"metadata": metadata, "results": {"channels": [channel]}}


def failure_payload(*, request_id: str | None, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """A failure callback as the project expects one (undocumented by Deepgram)."""
    payload: dict[str, Any] = {
        "err_code": "SLOW_UPLOAD",
        "err_msg": "upload too slow",
        "request_id": request_id,
    }
    if extra is not None:
        payload["metadata"] = {"extra": extra}
    return payload


def with_raw_value(payload: dict[str, Any], path: tuple[str | int, ...], raw: str) -> bytes:
    """`payload` as compact JSON with the value at `path` replaced by the raw JSON text `raw`
    (e.g. `NaN`, `1e400`, a 5,000-digit integer), which no encoder would write."""
    marker = f"@@raw-{uuid.uuid4().hex}@@"
    target: Any = payload
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = marker
    body = compact(payload)
    assert body.count(f'"{marker}"'.encode()) == 1
    return body.replace(f'"{marker}"'.encode(), raw.encode())


# --- the service on fakes ----------------------------------------------------------------------


@dataclass(frozen=True)
class JobRef:
    """A job as the submit function leaves it, with the credentials Deepgram will present for it."""

    job_id: str
    request_id: str

    @property
    def secret(self) -> str:
        return callback_secret(SIGNING_KEY, self.job_id)

    @property
    def basic(self) -> str:
        return basic_authorization(self.job_id, self.secret)

    @property
    def extra(self) -> dict[str, str]:
        return {"job_id": self.job_id, "callback_secret": self.secret}


@dataclass
class Snapshot:
    """Everything a request could change."""

    jobs: dict[str, Job | None]
    leases: dict[str, tuple[str | None, int | None]]
    blobs: dict[str, bytes]
    published: int


@dataclass
class Harness:
    jobs: InMemoryJobRepository = field(default_factory=InMemoryJobRepository)
    blobs: InMemoryBlobStore = field(default_factory=InMemoryBlobStore)
    publisher: InMemoryPublisher = field(default_factory=InMemoryPublisher)
    secrets: InMemorySecrets = field(
        default_factory=lambda: InMemorySecrets({SIGNING_SECRET_ID: SIGNING_KEY})
    )
    clock: Clock = field(default_factory=Clock)
    dg_token_mode: str = DgTokenMode.IF_PRESENT
    created: list[JobRef] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.service = CallbackService(
            jobs=self.jobs,
            blobs=self.blobs,
            publisher=self.publisher,
            config_source=self.config,
            clock=self.clock,
        )

    def config(self) -> CallbackConfig:
        return CallbackConfig(
            signing_key=self.secrets.get(SIGNING_SECRET_ID),
            dg_token_mode=self.dg_token_mode,
            deepgram_api_key_ids=(DEEPGRAM_API_KEY_ID,),
        )

    def status(
        self, jobs: JobRepository | None = None, blobs: ResultBlobStore | None = None
    ) -> StatusService:
        return StatusService(
            jobs=jobs or self.jobs,
            blobs=blobs or self.blobs,
            config=StatusConfig(result_url_ttl_seconds=300),
            clock=self.clock,
        )

    # --- jobs ------------------------------------------------------------------------------

    def job(self, *, record_request_id: bool = True, repository: JobRepository | None = None) -> JobRef:
        return create_job(
            repository or self.jobs, self.clock(), record_request_id=record_request_id, into=self.created
        )

    def stored(self, job: JobRef) -> Job:
        found = self.jobs.get(job.job_id)
        assert found is not None
        return found

    def stored_body(self, job: JobRef) -> bytes:
        result = self.stored(job).result
        assert result is not None, "no result stored"
        return read_result(result, self.blobs)

    def notifications(self) -> list[str]:
        return [sent.notification.message for sent in self.publisher.published]

    # --- deliveries ------------------------------------------------------------------------

    def deliver(
        self,
        body: bytes,
        *,
        authorization: str | None = None,
        method: str = "POST",
        dg_token: str | None = DEEPGRAM_API_KEY_ID,
        headers: dict[str, str] | None = None,
    ) -> CallbackResult:
        all_headers = {"content-type": "application/json"}
        if dg_token is not None:
            all_headers["dg-token"] = dg_token
        if authorization is not None:
            all_headers["authorization"] = authorization
        all_headers.update(headers or {})
        return self.service.handle(CallbackRequest(method=method, headers=all_headers, body=body))

    def snapshot(self) -> Snapshot:
        """Read without consuming an armed fault (the faults are set aside meanwhile)."""
        ids = [job.job_id for job in self.created]
        armed, self.jobs.faults = self.jobs.faults, Faults("DynamoDB")
        try:
            return Snapshot(
                jobs={job_id: self.jobs.get(job_id) for job_id in ids},
                leases={job_id: self.jobs.lease_of(job_id) for job_id in ids},
                blobs={key: stored.data for key, stored in self.blobs.objects.items()},
                published=len(self.publisher.published),
            )
        finally:
            self.jobs.faults = armed


def create_job(
    repository: JobRepository,
    now: datetime,
    *,
    record_request_id: bool = True,
    into: list[JobRef] | None = None,
) -> JobRef:
    job = new_job(
        source={"type": "url", "url": "https://example.com/a.wav"},
        options={"model": "nova-3"},
        metadata={"customer": "acme"},
        retention_days=1,
        now=now,
    )
    repository.create(job)
    ref = JobRef(job.job_id, str(uuid.uuid4()))
    if record_request_id:
        repository.record_submission(job.job_id, ref.request_id, now)
    if into is not None:
        into.append(ref)
    return ref


def read_result(result: StoredResult, blobs: InMemoryBlobStore) -> bytes:
    """The stored body, inline or from the blob store, decoded."""
    if result.storage == "inline":
        return result_storage.decode_inline(result)
    assert result.s3_key is not None
    blob = blobs.objects[result.s3_key]
    assert blob.content_encoding == result.content_encoding
    return gzip.decompress(blob.data) if blob.content_encoding == "gzip" else blob.data
