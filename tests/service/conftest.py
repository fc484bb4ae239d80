"""The callback service on the in-memory fakes: no moto, no Lambda event, no private attributes.

`Callbacks` builds a `CallbackService` from `InMemoryJobRepository`, `InMemoryBlobStore`,
`InMemoryPublisher`, a config read (like `wiring.py` does) from `InMemorySecrets`, and a `Clock`
the test moves. Its helpers create jobs the way the submit function does, build Deepgram bodies
with the emulator's generator, deliver `CallbackRequest`s, and read back what was stored and
published through the ports' own fakes.
"""

from __future__ import annotations

import base64
import functools
import gzip
import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from functions.callback.logic import (
    REDACTED,
    CallbackConfig,
    CallbackRequest,
    CallbackResult,
    CallbackService,
)
from functions.core import result_storage
from functions.core.adapters.memory import (
    InMemoryBlobStore,
    InMemoryJobRepository,
    InMemoryPublisher,
    InMemorySecrets,
)
from functions.core.callback_auth import callback_secret
from functions.core.contract import DgTokenMode
from functions.core.jobs import Job, new_job
from local.deepgram_emulator.payloads import ErrorKind, compact_json, error_body, generate_response

KB = 1024
MB = 1024 * 1024

SIGNING_KEY = "test-signing-key-0123456789abcdef0123456789abcdef"
DEEPGRAM_API_KEY_ID = "test-deepgram-key-id"
# An ARN, as in Lambda: the tests check it never reaches an (unauthenticated) caller.
SIGNING_SECRET_ID = "arn:aws:secretsmanager:us-east-1:123456789012:secret:callback-signing-AbCdEf"
START = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


class Clock:
    """The service's clock: stands still until the test moves it."""

    def __init__(self, now: datetime = START) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@dataclass(frozen=True)
class SubmittedJob:
    """A job as the submit function leaves it, with what Deepgram will present for it."""

    job_id: str
    request_id: str

    @property
    def secret(self) -> str:
        return callback_secret(SIGNING_KEY, self.job_id)


@dataclass(frozen=True)
class Published:
    message: dict[str, Any]
    attributes: dict[str, str]


class Callbacks:
    """A `CallbackService` on in-memory ports, and the helpers the tests deliver and inspect with."""

    def __init__(
        self,
        *,
        jobs: InMemoryJobRepository | None = None,
        publisher: InMemoryPublisher | None = None,
    ) -> None:
        self.jobs = jobs if jobs is not None else InMemoryJobRepository()
        self.blobs = InMemoryBlobStore()
        self.publisher = publisher if publisher is not None else InMemoryPublisher()
        self.secrets = InMemorySecrets({SIGNING_SECRET_ID: SIGNING_KEY})
        self.clock = Clock()
        self.dg_token_mode: str = DgTokenMode.IF_PRESENT
        self.deepgram_api_key_ids: tuple[str, ...] = (DEEPGRAM_API_KEY_ID,)
        self.service = CallbackService(
            jobs=self.jobs,
            blobs=self.blobs,
            publisher=self.publisher,
            config_source=self.config,
            clock=self.clock,
        )

    def config(self) -> CallbackConfig:
        """Read on every request, as `wiring.py` reads it (the secret through its cache)."""
        return CallbackConfig(
            signing_key=self.secrets.get(SIGNING_SECRET_ID),
            dg_token_mode=self.dg_token_mode,
            deepgram_api_key_ids=self.deepgram_api_key_ids,
        )

    # --- jobs --------------------------------------------------------------------------------

    def job(self, *, record_request_id: bool = True) -> SubmittedJob:
        """A job created, then (unless told otherwise) accepted by Deepgram with a request_id."""
        job = new_job(
            source={"type": "url", "url": "https://example.com/a.wav"},
            options={},
            metadata={"customer": "acme"},
            retention_days=1,
            now=self.clock(),
        )
        self.jobs.create(job)
        submitted = SubmittedJob(job.job_id, str(uuid.uuid4()))
        if record_request_id:
            self.jobs.record_submission(job.job_id, submitted.request_id, self.clock())
        return submitted

    def stored(self, job: SubmittedJob) -> Job:
        found = self.jobs.get(job.job_id)
        assert found is not None, f"job {job.job_id} is not stored"
        return found

    # --- bodies ------------------------------------------------------------------------------

    def body(
        self,
        job: SubmittedJob,
        *,
        size: int = 2 * KB,
        seed: int = 0,
        with_extra: bool = True,
        request_id: str | None = None,
        extra: dict[str, str] | None = None,
    ) -> bytes:
        """A Deepgram success body of about `size` bytes naming `job`'s request_id, with the
        job's `callback_secret` in `metadata.extra` (unless `with_extra` is False or `extra`
        replaces it)."""
        if extra is None and with_extra:
            extra = {"job_id": job.job_id, "callback_secret": job.secret}
        return success_body(size=size, seed=seed, request_id=request_id or job.request_id, extra=extra)

    @staticmethod
    def error_body(job: SubmittedJob, kind: ErrorKind = ErrorKind.REMOTE_CONTENT) -> bytes:
        """A Deepgram failure body (no `metadata.extra`: it authenticates by Basic credentials)."""
        return compact_json({**error_body(kind, request_id=job.request_id), "metadata": {}})

    @staticmethod
    def as_stored(job: SubmittedJob, body: bytes) -> bytes:
        """`body` as the service keeps it: the job's credentials redacted, nothing else changed."""
        return body.replace(job.secret.encode(), REDACTED)

    # --- deliveries --------------------------------------------------------------------------

    @staticmethod
    def request(
        body: bytes,
        *,
        credentials: tuple[str, str] | None = None,
        method: str = "POST",
        headers: dict[str, str] | None = None,
        dg_token: str | None = DEEPGRAM_API_KEY_ID,
    ) -> CallbackRequest:
        """A request as the handler hands it over: lower-case header names, raw body bytes.
        `dg_token=None` sends no dg-token header."""
        all_headers = {"content-type": "application/json"}
        if dg_token is not None:
            all_headers["dg-token"] = dg_token
        if credentials:
            all_headers["authorization"] = basic_authorization(*credentials)
        all_headers.update(headers or {})
        return CallbackRequest(method=method, headers=all_headers, body=body)

    def deliver(self, body: bytes, **kwargs: Any) -> CallbackResult:
        return self.service.handle(self.request(body, **kwargs))

    def deliver_as_deepgram(self, job: SubmittedJob, body: bytes, **kwargs: Any) -> CallbackResult:
        """Delivered with the job's Basic credentials, as Deepgram hands back the callback URL's."""
        return self.deliver(body, credentials=(job.job_id, job.secret), **kwargs)

    # --- what was stored and published -------------------------------------------------------

    def stored_body(self, job: SubmittedJob) -> bytes:
        """The result body as stored, inline in the job or as a blob, decoded."""
        result = self.stored(job).result
        assert result is not None, "no result stored"
        if result.storage == "inline":
            assert result.s3_key is None
            return result_storage.decode_inline(result)
        assert result.storage == "s3"
        assert result.s3_key is not None
        blob = self.blobs.objects[result.s3_key]
        assert blob.content_encoding == result.content_encoding
        return gzip.decompress(blob.data) if result.content_encoding == "gzip" else blob.data

    def s3_keys(self) -> list[str]:
        return sorted(self.blobs.objects)

    def notifications(self) -> list[Published]:
        """Every notification published so far, parsed."""
        return [
            Published(
                message=json.loads(sent.notification.message),
                attributes=dict(sent.notification.attributes),
            )
            for sent in self.publisher.published
        ]


def basic_authorization(username: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()


# Generating a multi-megabyte body takes seconds, so each (size, seed, shape) is generated once
# with placeholders as long as the real values, which are then substituted: the bytes are exactly
# what `generate_response` returns for the real values (the ids change no word, only their own text).
_REQUEST_ID_SLOT = "<request-id>".ljust(36, "~")
_JOB_ID_SLOT = "<job-id>".ljust(32, "~")
_SECRET_SLOT = "<callback-secret>".ljust(64, "~")


def success_body(*, size: int, seed: int, request_id: str, extra: dict[str, str] | None) -> bytes:
    uniform = (
        len(request_id) == len(_REQUEST_ID_SLOT)
        and extra is not None
        and set(extra) == {"job_id", "callback_secret"}
        and len(extra["job_id"]) == len(_JOB_ID_SLOT)
        and len(extra["callback_secret"]) == len(_SECRET_SLOT)
    )
    if not uniform:
        return compact_json(
            generate_response(target_bytes=size, request_id=request_id, extra=extra, seed=seed)
        )
    assert extra is not None
    body = _template(size, seed)
    for slot, value in (
        (_REQUEST_ID_SLOT, request_id),
        (_JOB_ID_SLOT, extra["job_id"]),
        (_SECRET_SLOT, extra["callback_secret"]),
    ):
        body = body.replace(slot.encode(), value.encode())
    return body


@functools.cache
def _template(size: int, seed: int) -> bytes:
    body = compact_json(
        generate_response(
            target_bytes=size,
            request_id=_REQUEST_ID_SLOT,
            extra={"job_id": _JOB_ID_SLOT, "callback_secret": _SECRET_SLOT},
            seed=seed,
        )
    )
    assert all(slot.encode() in body for slot in (_REQUEST_ID_SLOT, _JOB_ID_SLOT, _SECRET_SLOT))
    return body


@pytest.fixture
def callbacks() -> Callbacks:
    return Callbacks()
