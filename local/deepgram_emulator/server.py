"""An HTTP server that behaves like Deepgram's pre-recorded `POST /v1/listen`, callbacks included.

The real Deepgram SDK talks to it unchanged (point `DeepgramClientEnvironment.base` at `url`).
See README.md next to this file for what is emulated, how faithfully, and the fault controls.

Threads: `ThreadingHTTPServer` answers each connection on its own thread; callback jobs run on a
small pool (`max_concurrent_jobs`); each delivery, with its retries, runs on its own thread so a
callback server that keeps failing never holds up other jobs. Every wait between retries watches
a stop event, so `stop()` returns promptly.

Processes: recognition runs in worker processes (`RecognitionPool`, `recognition_workers` of
them), never in this one. PocketSphinx holds the GIL while it decodes, so in-process recognition
would stall every HTTP thread for seconds; the job or request thread only waits on a pipe.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import http.client
import json
import logging
import socket
import threading
import time
import uuid
from collections.abc import Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, TypedDict, cast
from urllib.error import HTTPError, URLError
from urllib.parse import parse_qs, unquote, urlsplit
from urllib.request import ProxyHandler, Request, build_opener

from local.deepgram_emulator.payloads import (
    ErrorKind,
    ResponseOptions,
    Word,
    build_response,
    compact_json,
    error_body,
    fit_words_to_size,
    synthetic_transcript,
)
from local.deepgram_emulator.pool import (
    RecognitionPool,
    RecognitionPoolClosed,
    RecognitionWorkerError,
    default_pool_size,
)
from local.deepgram_emulator.recognizer import (
    AudioDecodeError,
    Recognition,
    Recognizer,
    default_recognizer,
    punctuate,
)

__all__ = [
    "DEEPGRAM_CALLBACK_PORTS",
    "DEEPGRAM_MAX_DELIVERY_ATTEMPTS",
    "DEEPGRAM_RETRY_INTERVAL_SECONDS",
    "DeepgramEmulator",
    "DeliveryRecord",
    "Faults",
    "JobRecord",
]

logger = logging.getLogger(__name__)

DEEPGRAM_CALLBACK_PORTS: tuple[int, ...] = (80, 443, 8080, 8443)
"""The only ports Deepgram delivers pre-recorded callbacks to."""

DEEPGRAM_MAX_DELIVERY_ATTEMPTS = 11
"""Deepgram's first delivery attempt plus its 10 retries."""

DEEPGRAM_RETRY_INTERVAL_SECONDS = 30.0
"""Deepgram's wait between two delivery attempts."""

MAX_EXTRA_PAIR_CHARACTERS = 2048
MAX_TAG_CHARACTERS = 128
USER_AGENT = "deepgram-emulator/1.0"


class DeliveryRecord(TypedDict):
    """One attempt to deliver a result to a callback URL (`DeepgramEmulator.deliveries`)."""

    request_id: str
    copy: int
    """1, or 2 for the second copy sent by the `duplicate_deliveries` fault."""
    attempt: int
    """1 for the first try, 2 for the first retry, and so on (per copy)."""
    method: str
    scheme: str
    host: str
    port: int
    path: str
    """The callback URL's path, without query string (presigned URLs carry secrets there)."""
    kind: str
    """"result" (a `{metadata, results}` body) or "error" (an `{err_code, err_msg}` body)."""
    body_bytes: int
    status_code: int | None
    """The callback server's HTTP status; None when none came back (error or injected failure)."""
    error: str | None
    injected: bool
    """True when the `fail_next_deliveries` fault failed this attempt without sending anything."""
    delivered: bool
    """True when the callback server answered 2xx."""
    started_at: float
    finished_at: float
    job_received_at: float
    recognition_seconds: float | None


class JobRecord(TypedDict):
    """One `/v1/listen` request the emulator accepted (`DeepgramEmulator.jobs`)."""

    request_id: str
    api_key_id: str
    received_at: float
    source: str
    """"upload" (audio in the body) or "url" (fetched by the emulator)."""
    audio_url: str | None
    """The fetched URL without query string or credentials."""
    audio_bytes: int | None
    callback: str | None
    """The callback URL with any password and the query string masked."""
    callback_method: str | None
    status: str
    """queued, transcribing, delivering, delivered, undelivered, completed (synchronous) or failed."""
    error: str | None
    synthetic: bool
    recognition_started_at: float | None
    recognition_finished_at: float | None
    recognition_seconds: float | None
    result_bytes: int | None


@dataclass(frozen=True)
class Faults:
    """Faults injected into every job until changed (see README.md, Fault controls)."""

    fail_next_deliveries: int = 0
    """Fail this many delivery attempts (counted across jobs) without sending them; retries follow."""
    duplicate_deliveries: bool = False
    """Deliver each result twice, concurrently, each copy with its own retries."""
    pad_result_to_bytes: int | None = None
    """Pad each transcript with realistic words after the real ones to about this many bytes."""
    synthetic_duration_seconds: float | None = None
    """Skip recognition and return a generated transcript of this many seconds of speech."""

    def __post_init__(self) -> None:
        if self.fail_next_deliveries < 0:
            raise ValueError("fail_next_deliveries must be >= 0")
        if self.pad_result_to_bytes is not None and self.pad_result_to_bytes <= 0:
            raise ValueError("pad_result_to_bytes must be positive")
        if self.synthetic_duration_seconds is not None and self.synthetic_duration_seconds < 0:
            raise ValueError("synthetic_duration_seconds must be >= 0")


class _Stopping(Exception):
    """The emulator stopped while the request was being processed."""


class _RequestError(Exception):
    """A request Deepgram would refuse: carries the error kind and an optional message."""

    def __init__(self, kind: ErrorKind, message: str | None = None) -> None:
        super().__init__(message or kind.err_msg)
        self.kind = kind
        self.message = message


@dataclass(frozen=True)
class _Callback:
    method: str
    scheme: str
    host: str
    port: int
    target: str
    """Path and query string, sent exactly as given (presigned URLs are signed over them)."""
    authorization: str | None
    masked_url: str


@dataclass(frozen=True)
class _Job:
    request_id: str
    api_key_id: str
    received_at: float
    created: datetime
    options: ResponseOptions
    callback: _Callback | None
    audio: bytes | None
    audio_url: str | None


class DeepgramEmulator:
    """A local stand-in for Deepgram's pre-recorded transcription API with callbacks.

    `max_delivery_attempts` counts every attempt, the first included: the default 11 is Deepgram's
    first try plus its 10 retries, `retry_interval_seconds` apart. `allowed_callback_ports=None`
    accepts any port (tests listen on ephemeral ports); the default is Deepgram's four.

    Recognition runs in `recognition_workers` child processes (default `min(2, CPU count)`),
    started on first use or by `warm_up`. `recognition_workers=0`, or an injected `recognizer`,
    recognises in the job's thread instead (which holds up the HTTP threads while it decodes).
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        api_keys: Mapping[str, str] | None = None,
        *,
        retry_interval_seconds: float = DEEPGRAM_RETRY_INTERVAL_SECONDS,
        max_delivery_attempts: int = DEEPGRAM_MAX_DELIVERY_ATTEMPTS,
        allowed_callback_ports: Iterable[int] | None = DEEPGRAM_CALLBACK_PORTS,
        callback_timeout_seconds: float = 10.0,
        fetch_timeout_seconds: float = 30.0,
        max_concurrent_jobs: int = 4,
        send_dg_token: bool = True,
        recognizer: Recognizer | None = None,
        recognition_workers: int | None = None,
    ) -> None:
        if recognition_workers is not None and recognition_workers < 0:
            raise ValueError("recognition_workers must be >= 0")
        if max_delivery_attempts < 1:
            raise ValueError("max_delivery_attempts must be at least 1")
        if retry_interval_seconds < 0:
            raise ValueError("retry_interval_seconds must be >= 0")
        self._host = host
        self._port = port
        self._api_keys = dict(api_keys) if api_keys is not None else {"local-key": "local-key-id"}
        self._retry_interval = retry_interval_seconds
        self._max_attempts = max_delivery_attempts
        self._allowed_ports = (
            frozenset(allowed_callback_ports) if allowed_callback_ports is not None else None
        )
        self._callback_timeout = callback_timeout_seconds
        self._fetch_timeout = fetch_timeout_seconds
        self._max_concurrent_jobs = max_concurrent_jobs
        self._send_dg_token = send_dg_token
        # Either a pool of worker processes (the default) or an in-thread recognizer, not both.
        self._recognizer: Recognizer | None = recognizer
        self._pool: RecognitionPool | None = None
        if recognizer is None:
            workers = default_pool_size() if recognition_workers is None else recognition_workers
            if workers > 0:
                self._pool = RecognitionPool(workers)  # starts no process until first used
            else:
                self._recognizer = default_recognizer()
        self._opener = build_opener(ProxyHandler({}))

        self._lock = threading.Lock()
        self._idle = threading.Condition(self._lock)
        self._active = 0
        self._faults = Faults()
        self._deliveries: list[DeliveryRecord] = []
        self._jobs: dict[str, JobRecord] = {}
        self._serialized: dict[str, bytes] = {}
        """Each result's compact JSON, made once (a 100 MB body takes seconds), until delivered."""
        self._stop_event = threading.Event()
        self._server: _Server | None = None
        self._serve_thread: threading.Thread | None = None
        self._executor: ThreadPoolExecutor | None = None
        self._stopped = False

    # Lifecycle -------------------------------------------------------------------------------

    def start(self) -> DeepgramEmulator:
        """Bind the port and serve in background threads; returns at once."""
        with self._lock:
            if self._stopped:
                raise RuntimeError("a stopped emulator cannot be restarted; create a new one")
            if self._server is not None:
                return self
            self._server = _Server((self._host, self._port), _Handler, self)
            self._executor = ThreadPoolExecutor(
                max_workers=self._max_concurrent_jobs, thread_name_prefix="deepgram-emulator-job"
            )
            self._serve_thread = threading.Thread(
                target=self._server.serve_forever,
                kwargs={"poll_interval": 0.1},
                name="deepgram-emulator-http",
                daemon=True,
            )
            self._serve_thread.start()
        logger.info("Deepgram emulator listening on %s", self.url)
        return self

    def stop(self, timeout: float = 5.0) -> None:
        """Stop serving, abandon pending retries and wait up to `timeout` s for running work.

        Safe to call twice, or on an emulator that never started.
        """
        with self._lock:
            if self._stopped:
                return
            self._stopped = True
            server, thread, executor = self._server, self._serve_thread, self._executor
        self._stop_event.set()
        if self._pool is not None:
            # Kills the workers: recognitions in progress end at once, and no process outlives us.
            self._pool.close(timeout)
        if server is not None:
            server.shutdown()
            server.server_close()
        if thread is not None:
            thread.join(timeout)
        if executor is not None:
            executor.shutdown(wait=False, cancel_futures=True)
        self.wait_idle(timeout)

    def warm_up(self) -> None:
        """Start the recognition workers and load their model now rather than on the first request.

        Blocks until they are ready (about a second). Not needed: workers otherwise start on first use.
        """
        if self._pool is not None:
            self._pool.warm_up()
        elif self._recognizer is not None and hasattr(self._recognizer, "warm_up"):
            self._recognizer.warm_up()

    def __enter__(self) -> DeepgramEmulator:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        """The base URL to give the SDK, e.g. `http://127.0.0.1:51234`."""
        if self._server is None:
            raise RuntimeError("the emulator is not started")
        host, port = self._server.server_address[:2]
        return f"http://{_url_host(str(host))}:{port}"

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("the emulator is not started")
        return int(self._server.server_address[1])

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Block until no job is transcribing or delivering (retry waits count as delivering).

        Returns False if `timeout` seconds passed first.
        """
        with self._idle:
            return self._idle.wait_for(lambda: self._active == 0, timeout)

    # Fault controls and history -----------------------------------------------------------------

    def set_faults(
        self,
        fail_next_deliveries: int = 0,
        duplicate_deliveries: bool = False,
        pad_result_to_bytes: int | None = None,
        synthetic_duration_seconds: float | None = None,
    ) -> None:
        """Replace the injected faults (arguments left out go back to "no fault")."""
        faults = Faults(
            fail_next_deliveries=fail_next_deliveries,
            duplicate_deliveries=duplicate_deliveries,
            pad_result_to_bytes=pad_result_to_bytes,
            synthetic_duration_seconds=synthetic_duration_seconds,
        )
        with self._lock:
            self._faults = faults

    def faults(self) -> Faults:
        """The faults in force (`fail_next_deliveries` counts down as attempts consume it)."""
        with self._lock:
            return self._faults

    def reset(self) -> None:
        """Clear faults and the job and delivery history. Jobs already running carry on."""
        with self._lock:
            self._faults = Faults()
            self._deliveries.clear()
            self._jobs.clear()

    def deliveries(self) -> list[DeliveryRecord]:
        """Every delivery attempt so far, oldest first (copies; safe to keep)."""
        with self._lock:
            return [cast(DeliveryRecord, dict(record)) for record in self._deliveries]

    def jobs(self) -> list[JobRecord]:
        """Every `/v1/listen` request accepted so far, oldest first (copies; safe to keep)."""
        with self._lock:
            return [cast(JobRecord, dict(record)) for record in self._jobs.values()]

    # Request handling ------------------------------------------------------------------------------

    def _handle_listen(
        self, *, authorization: str | None, content_type: str | None, query: str, body: bytes
    ) -> tuple[int, dict[str, Any]]:
        """Answer one `POST /v1/listen`: `(HTTP status, JSON body)`. The HTTP handler calls this."""
        request_id = str(uuid.uuid4())
        api_key_id = self._authenticate(authorization)
        if api_key_id is None:
            return _error(ErrorKind.INVALID_AUTH, request_id)
        try:
            options, callback = _parse_query(query, self._allowed_ports)
            audio, audio_url = _parse_source(content_type, body)
        except _RequestError as refused:
            return _error(refused.kind, request_id, refused.message)

        now = time.time()
        job = _Job(
            request_id=request_id,
            api_key_id=api_key_id,
            received_at=now,
            created=datetime.fromtimestamp(now, UTC),
            options=options,
            callback=callback,
            audio=audio,
            audio_url=audio_url,
        )
        self._record_job(job)
        if callback is None:
            with self._activity():
                status, result = self._transcribe(job)
            with self._lock:
                self._serialized.pop(request_id, None)
            self._update_job(request_id, status="completed" if status == 200 else "failed")
            return status, result
        if not self._submit(job):
            self._update_job(request_id, status="failed", error="emulator stopping")
            return _stopping(request_id)
        return 200, {"request_id": request_id}

    def _authenticate(self, authorization: str | None) -> str | None:
        scheme, _, key = (authorization or "").strip().partition(" ")
        if scheme.lower() != "token":
            return None
        return self._api_keys.get(key.strip())

    def _submit(self, job: _Job) -> bool:
        executor = self._executor
        if executor is None or self._stop_event.is_set():
            return False
        self._begin_activity()
        try:
            future = executor.submit(self._run_callback_job, job)
        except RuntimeError:
            self._end_activity()
            return False
        future.add_done_callback(self._job_finished)
        return True

    def _job_finished(self, future: Future[None]) -> None:
        # Runs on completion and on cancellation (stop), so the activity count stays right.
        self._end_activity()
        if not future.cancelled() and future.exception() is not None:
            logger.error("callback job crashed", exc_info=future.exception())

    def _run_callback_job(self, job: _Job) -> None:
        status, body = self._transcribe(job)
        if self._stop_event.is_set():
            # Nothing is delivered once the emulator stops (a failed job stays "failed").
            if status == 200:
                self._update_job(job.request_id, status="undelivered")
            return
        assert job.callback is not None
        copies = 2 if self.faults().duplicate_deliveries else 1
        with self._lock:
            serialized = self._serialized.pop(job.request_id, None)
        payload = serialized if status == 200 and serialized is not None else compact_json(body)
        kind = "result" if status == 200 else "error"
        self._update_job(
            job.request_id, status="delivering", error=None if status == 200 else body.get("err_code")
        )
        outcomes: list[bool] = []
        for copy in range(1, copies + 1):
            self._begin_activity()
            threading.Thread(
                target=self._deliver,
                args=(job,),
                kwargs={
                    "callback": job.callback,
                    "payload": payload,
                    "kind": kind,
                    "copy": copy,
                    "copies": copies,
                    "outcomes": outcomes,
                },
                name=f"deepgram-emulator-delivery-{job.request_id[:8]}-{copy}",
                daemon=True,
            ).start()

    def _transcribe(self, job: _Job) -> tuple[int, dict[str, Any]]:
        """Fetch, recognise and build the response body; failures become Deepgram error bodies."""
        try:
            return 200, self._result(job)
        except _RequestError as failure:
            kind, message = failure.kind, failure.message
        except _Stopping:
            self._update_job(job.request_id, status="failed", error="emulator stopping")
            return _stopping(job.request_id)
        except Exception:
            # A bug in the emulator: say so loudly, and answer as Deepgram would on its own failure.
            logger.exception("request %s: transcription crashed", job.request_id)
            kind, message = ErrorKind.INTERNAL, None
        self._update_job(job.request_id, status="failed", error=kind.err_code)
        return _error(kind, job.request_id, message)

    def _result(self, job: _Job) -> dict[str, Any]:
        faults = self.faults()
        audio = job.audio if job.audio is not None else self._fetch(job.audio_url or "")
        started = time.time()
        self._update_job(
            job.request_id,
            status="transcribing",
            audio_bytes=len(audio),
            recognition_started_at=started,
            synthetic=faults.synthetic_duration_seconds is not None,
        )
        words, duration = self._words(job, audio, faults)
        finished = time.time()
        sha256 = hashlib.sha256(audio).hexdigest()
        heard = len(words)

        def build(candidate: Sequence[Word]) -> dict[str, Any]:
            # Padding words continue after the audio: the padded "recording" is longer.
            length = duration if len(candidate) <= heard else max(duration, candidate[-1].end + 0.5)
            return build_response(
                candidate,
                options=job.options,
                duration=length,
                request_id=job.request_id,
                sha256=sha256,
                created=job.created,
            )

        if faults.pad_result_to_bytes is not None:
            words = fit_words_to_size(
                words,
                target_bytes=faults.pad_result_to_bytes,
                build=build,
                seed=_seed(job.request_id),
                speakers=2 if job.options.diarize else 1,
            )
        body = build(words)
        serialized = compact_json(body)
        with self._lock:
            self._serialized[job.request_id] = serialized
        self._update_job(
            job.request_id,
            recognition_finished_at=finished,
            recognition_seconds=round(finished - started, 6),
            result_bytes=len(serialized),
        )
        return body

    def _words(self, job: _Job, audio: bytes, faults: Faults) -> tuple[list[Word], float]:
        if faults.synthetic_duration_seconds is not None:
            speakers = 2 if job.options.diarize else 1
            words = synthetic_transcript(
                faults.synthetic_duration_seconds, seed=_seed(job.request_id), speakers=speakers
            )
            return words, faults.synthetic_duration_seconds
        try:
            recognition = self._recognize(audio)
        except AudioDecodeError as error:
            logger.info("request %s: undecodable audio (%s)", job.request_id, error)
            raise _RequestError(ErrorKind.CORRUPT_AUDIO) from error
        except RecognitionPoolClosed as error:
            raise _Stopping from error
        except RecognitionWorkerError as error:
            # A worker died (or failed): answer as Deepgram would on its own failure.
            logger.error("request %s: %s", job.request_id, error)
            raise _RequestError(ErrorKind.INTERNAL) from error
        return punctuate(recognition), recognition.duration

    def _recognize(self, audio: bytes) -> Recognition:
        if self._pool is not None:
            return self._pool.recognize(audio)
        assert self._recognizer is not None
        return self._recognizer.recognize(audio)

    def _fetch(self, url: str) -> bytes:
        """Download the audio of a `{"url": ...}` request, failing the way Deepgram reports it."""
        if urlsplit(url).scheme not in ("http", "https"):
            raise _RequestError(ErrorKind.REMOTE_CONTENT)
        request = Request(url, headers={"User-Agent": USER_AGENT})
        try:
            with self._opener.open(request, timeout=self._fetch_timeout) as response:
                return cast(bytes, response.read())
        except HTTPError as error:
            side = "client" if error.code < 500 else "server"
            message = (
                f"The remote server hosting the media returned a {side} error: {error.code} {error.reason}."
            )
            raise _RequestError(ErrorKind.REMOTE_CONTENT, message) from error
        except (URLError, OSError, ValueError, http.client.HTTPException) as error:
            raise _RequestError(ErrorKind.REMOTE_CONTENT) from error

    # Delivery ------------------------------------------------------------------------------------

    def _deliver(
        self,
        job: _Job,
        *,
        callback: _Callback,
        payload: bytes,
        kind: str,
        copy: int,
        copies: int,
        outcomes: list[bool],
    ) -> None:
        """Try to deliver `payload` until the callback server answers 2xx or attempts run out."""
        try:
            delivered = False
            for attempt in range(1, self._max_attempts + 1):
                if self._stop_event.is_set():
                    break
                delivered = self._attempt(
                    job, callback=callback, payload=payload, kind=kind, copy=copy, attempt=attempt
                )
                if delivered or attempt == self._max_attempts:
                    break
                if self._stop_event.wait(self._retry_interval):
                    break
            with self._lock:
                outcomes.append(delivered)
                record = self._jobs.get(job.request_id)
                if record is not None and (delivered or (len(outcomes) == copies and not any(outcomes))):
                    record["status"] = "delivered" if delivered else "undelivered"
        finally:
            self._end_activity()

    def _attempt(
        self, job: _Job, *, callback: _Callback, payload: bytes, kind: str, copy: int, attempt: int
    ) -> bool:
        started = time.time()
        status_code: int | None = None
        error: str | None = None
        with self._lock:
            injected = self._faults.fail_next_deliveries > 0
            if injected:
                self._faults = replace(
                    self._faults, fail_next_deliveries=self._faults.fail_next_deliveries - 1
                )
        if injected:
            error = "injected failure (fail_next_deliveries)"
        else:
            status_code, error = self._send(callback, payload, job.api_key_id)
        delivered = status_code is not None and 200 <= status_code < 300
        record: DeliveryRecord = {
            "request_id": job.request_id,
            "copy": copy,
            "attempt": attempt,
            "method": callback.method,
            "scheme": callback.scheme,
            "host": callback.host,
            "port": callback.port,
            "path": callback.target.partition("?")[0],
            "kind": kind,
            "body_bytes": len(payload),
            "status_code": status_code,
            "error": error,
            "injected": injected,
            "delivered": delivered,
            "started_at": started,
            "finished_at": time.time(),
            "job_received_at": job.received_at,
            "recognition_seconds": None,
        }
        with self._lock:
            job_record = self._jobs.get(job.request_id)
            if job_record is not None:
                record["recognition_seconds"] = job_record["recognition_seconds"]
            self._deliveries.append(record)
        logger.info(
            "delivery %s copy %d attempt %d to %s:%d -> %s",
            job.request_id,
            copy,
            attempt,
            callback.host,
            callback.port,
            status_code if status_code is not None else error,
        )
        return delivered

    def _send(self, callback: _Callback, payload: bytes, api_key_id: str) -> tuple[int | None, str | None]:
        headers = {
            "Content-Type": "application/json",
            "Content-Length": str(len(payload)),
            "User-Agent": USER_AGENT,
        }
        if callback.authorization is not None:
            headers["Authorization"] = callback.authorization
        if self._send_dg_token:
            headers["dg-token"] = api_key_id
        connection: http.client.HTTPConnection
        if callback.scheme == "https":
            connection = http.client.HTTPSConnection(
                callback.host, callback.port, timeout=self._callback_timeout
            )
        else:
            connection = http.client.HTTPConnection(
                callback.host, callback.port, timeout=self._callback_timeout
            )
        try:
            connection.request(callback.method, callback.target, body=payload, headers=headers)
            response = connection.getresponse()
            response.read()
            return response.status, None
        except (OSError, http.client.HTTPException) as error:
            return None, f"{type(error).__name__}: {error}"
        finally:
            connection.close()

    # Bookkeeping ---------------------------------------------------------------------------------

    @contextlib.contextmanager
    def _activity(self) -> Iterator[None]:
        self._begin_activity()
        try:
            yield
        finally:
            self._end_activity()

    def _begin_activity(self) -> None:
        with self._lock:
            self._active += 1

    def _end_activity(self) -> None:
        with self._idle:
            self._active -= 1
            if self._active == 0:
                self._idle.notify_all()

    def _record_job(self, job: _Job) -> None:
        record: JobRecord = {
            "request_id": job.request_id,
            "api_key_id": job.api_key_id,
            "received_at": job.received_at,
            "source": "url" if job.audio_url is not None else "upload",
            "audio_url": _strip_query(job.audio_url) if job.audio_url is not None else None,
            "audio_bytes": len(job.audio) if job.audio is not None else None,
            "callback": job.callback.masked_url if job.callback else None,
            "callback_method": job.callback.method if job.callback else None,
            "status": "queued" if job.callback else "transcribing",
            "error": None,
            "synthetic": False,
            "recognition_started_at": None,
            "recognition_finished_at": None,
            "recognition_seconds": None,
            "result_bytes": None,
        }
        with self._lock:
            self._jobs[job.request_id] = record

    def _update_job(self, request_id: str, **changes: Any) -> None:
        with self._lock:
            record = self._jobs.get(request_id)
            if record is not None:
                cast(dict[str, Any], record).update(changes)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128
    """The stdlib's default backlog of 5 drops connections under load tests (1 s SYN retries)."""

    def __init__(
        self, address: tuple[str, int], handler: type[BaseHTTPRequestHandler], emulator: DeepgramEmulator
    ):
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        super().__init__(address, handler)
        self.emulator = emulator


class _Handler(BaseHTTPRequestHandler):
    """HTTP plumbing only: routing, body reading, JSON answers. Logic lives in DeepgramEmulator."""

    server_version = "deepgram-emulator"
    timeout = 120

    @property
    def emulator(self) -> DeepgramEmulator:
        return cast(_Server, self.server).emulator

    def do_POST(self) -> None:
        path, _, query = self.path.partition("?")
        body = self._read_body()
        if path.rstrip("/") == "/v1/listen":
            status, answer = self.emulator._handle_listen(
                authorization=self.headers.get("Authorization"),
                content_type=self.headers.get("Content-Type"),
                query=query,
                body=body,
            )
            request_id = answer.get("request_id") or (answer.get("metadata") or {}).get("request_id")
            self._send_json(status, answer, request_id=request_id)
        elif path.startswith("/emulator/"):
            self._admin(path, query, body)
        else:
            self._send_json(*_error(ErrorKind.NOT_FOUND, None))

    def do_GET(self) -> None:
        path, _, query = self.path.partition("?")
        if path.startswith("/emulator/"):
            self._admin(path, query, b"")
        else:
            self._send_json(*_error(ErrorKind.NOT_FOUND, None))

    def _admin(self, path: str, query: str, body: bytes) -> None:
        emulator = self.emulator
        route = (self.command, path.rstrip("/"))
        try:
            if route == ("GET", "/emulator/health"):
                self._send_json(200, {"status": "ok", "url": emulator.url})
            elif route == ("GET", "/emulator/deliveries"):
                self._send_json(200, {"deliveries": emulator.deliveries()})
            elif route == ("GET", "/emulator/jobs"):
                self._send_json(200, {"jobs": emulator.jobs()})
            elif route == ("GET", "/emulator/faults"):
                self._send_json(200, asdict(emulator.faults()))
            elif route == ("POST", "/emulator/faults"):
                emulator.set_faults(**_faults_from_json(body))
                self._send_json(200, asdict(emulator.faults()))
            elif route == ("POST", "/emulator/reset"):
                emulator.reset()
                self._send_json(200, {"status": "reset"})
            elif route == ("POST", "/emulator/wait-idle"):
                timeout = float(parse_qs(query).get("timeout", ["30"])[-1])
                self._send_json(200, {"idle": emulator.wait_idle(timeout)})
            else:
                self._send_json(
                    404, {"err_code": "NOT_FOUND", "err_msg": f"No admin route {route[0]} {route[1]}."}
                )
        except (ValueError, TypeError) as error:
            self._send_json(400, {"err_code": "Bad Request", "err_msg": str(error)})

    def _read_body(self) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            chunks: list[bytes] = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def _send_json(self, status: int, body: Mapping[str, Any], request_id: str | None = None) -> None:
        payload = compact_json(body)
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        if request_id:
            self.send_header("dg-request-id", request_id)
        self.end_headers()
        self.wfile.write(payload)

    def version_string(self) -> str:
        return self.server_version

    def log_message(self, format: str, *args: Any) -> None:
        logger.debug("%s - %s", self.address_string(), format % args)


def _error(kind: ErrorKind, request_id: str | None, message: str | None = None) -> tuple[int, dict[str, Any]]:
    return kind.status, error_body(kind, request_id=request_id, message=message)


def _stopping(request_id: str) -> tuple[int, dict[str, Any]]:
    """The emulator's own answer when it stops while a request is in progress (not Deepgram's)."""
    return 503, {"err_code": "SERVICE_UNAVAILABLE", "err_msg": "Emulator stopping.", "request_id": request_id}


def _parse_query(
    query: str, allowed_ports: frozenset[int] | None
) -> tuple[ResponseOptions, _Callback | None]:
    """The options Deepgram's SDK sends (repeated keys for lists, `true`/`false` for booleans).

    Options the emulator cannot honour are accepted and ignored, as Deepgram ignores unknown ones.
    """
    params = parse_qs(query, keep_blank_values=True)

    def flag(name: str) -> bool:
        values = params.get(name)
        if not values:
            return False
        value = values[-1].strip().lower()
        if value not in ("true", "false"):
            raise _RequestError(
                ErrorKind.INVALID_QUERY_PARAMETER, f"Invalid value for `{name}`: {values[-1]!r}."
            )
        return value == "true"

    extra: dict[str, str] = {}
    for pair in params.get("extra", []):
        key, separator, value = pair.partition(":")
        if not separator or not key or len(pair) > MAX_EXTRA_PAIR_CHARACTERS:
            raise _RequestError(ErrorKind.INVALID_QUERY_PARAMETER, f"Invalid extra parameter: {pair[:64]!r}.")
        extra[key] = value
    tags = params.get("tag", [])
    if any(len(tag) > MAX_TAG_CHARACTERS for tag in tags):
        raise _RequestError(ErrorKind.INVALID_QUERY_PARAMETER, "Tag exceeds 128 characters.")
    utt_split = 0.8
    if params.get("utt_split"):
        try:
            utt_split = float(params["utt_split"][-1])
        except ValueError:
            utt_split = -1.0
        if not utt_split > 0:
            raise _RequestError(ErrorKind.INVALID_QUERY_PARAMETER, "Invalid value for `utt_split`.")

    paragraphs = flag("paragraphs")
    options = ResponseOptions(
        punctuate=flag("punctuate") or flag("smart_format") or paragraphs,
        diarize=flag("diarize") or bool(params.get("diarize_model")),
        utterances=flag("utterances"),
        paragraphs=paragraphs,
        utt_split=utt_split,
        model=(params.get("model") or [""])[-1],
        tags=tuple(tags),
        extra=extra,
    )
    callback = None
    if "callback" in params:
        method = (params.get("callback_method") or ["post"])[-1]
        callback = _parse_callback(params["callback"][-1], method, allowed_ports)
    return options, callback


def _parse_callback(raw: str, method: str, allowed_ports: frozenset[int] | None) -> _Callback:
    """Validate a callback URL as Deepgram does, and split it into what a delivery needs."""
    if method.strip().upper() not in ("POST", "PUT"):
        raise _RequestError(
            ErrorKind.INVALID_QUERY_PARAMETER, "Invalid callback_method, expected post or put."
        )
    try:
        parts = urlsplit(raw.strip())
        explicit_port = parts.port
    except ValueError as error:
        raise _RequestError(ErrorKind.INVALID_CALLBACK) from error
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise _RequestError(ErrorKind.INVALID_CALLBACK)
    if "_" in raw:
        raise _RequestError(ErrorKind.CALLBACK_UNRESOLVABLE)
    port = explicit_port or (443 if parts.scheme == "https" else 80)
    if allowed_ports is not None and port not in allowed_ports:
        raise _RequestError(ErrorKind.INVALID_CALLBACK)
    try:
        socket.getaddrinfo(parts.hostname, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as error:
        raise _RequestError(ErrorKind.CALLBACK_UNRESOLVABLE) from error

    authorization = None
    if parts.username is not None:
        credentials = f"{unquote(parts.username)}:{unquote(parts.password or '')}"
        authorization = "Basic " + base64.b64encode(credentials.encode()).decode()
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    host_port = f"{_url_host(parts.hostname)}:{port}"
    user = f"{parts.username}:***@" if parts.username is not None else ""
    masked_query = "?***" if parts.query else ""
    return _Callback(
        method=method.strip().upper(),
        scheme=parts.scheme,
        host=parts.hostname,
        port=port,
        target=target,
        authorization=authorization,
        masked_url=f"{parts.scheme}://{user}{host_port}{parts.path or '/'}{masked_query}",
    )


def _parse_source(content_type: str | None, body: bytes) -> tuple[bytes | None, str | None]:
    """`(audio, None)` for an upload, `(None, url)` for a `{"url": ...}` JSON body."""
    if (content_type or "").split(";")[0].strip().lower() == "application/json":
        try:
            document = json.loads(body or b"null")
        except (ValueError, UnicodeDecodeError) as error:
            raise _RequestError(ErrorKind.INVALID_JSON, f"Json deserialize error: {error}") from error
        url = document.get("url") if isinstance(document, dict) else None
        if not isinstance(url, str) or not url:
            raise _RequestError(ErrorKind.INVALID_JSON, "Json deserialize error: missing field `url`")
        return None, url
    if not body:
        raise _RequestError(ErrorKind.CORRUPT_AUDIO)
    return body, None


def _faults_from_json(body: bytes) -> dict[str, Any]:
    document = json.loads(body or b"{}")
    if not isinstance(document, dict):
        raise ValueError("expected a JSON object of faults")
    fields = {
        "fail_next_deliveries": (int,),
        "duplicate_deliveries": (bool,),
        "pad_result_to_bytes": (int, type(None)),
        "synthetic_duration_seconds": (int, float, type(None)),
    }
    unknown = set(document) - set(fields)
    if unknown:
        raise ValueError(f"unknown fault(s): {', '.join(sorted(unknown))}")
    for name, value in document.items():
        if (isinstance(value, bool) and bool not in fields[name]) or not isinstance(value, fields[name]):
            raise ValueError(f"invalid value for {name}: {value!r}")
    return document


def _seed(request_id: str) -> int:
    return int(hashlib.sha256(request_id.encode()).hexdigest()[:16], 16)


def _strip_query(url: str) -> str:
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{_url_host(host)}{port}{parts.path}"


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host
