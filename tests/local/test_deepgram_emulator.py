"""The Deepgram emulator, driven by the real Deepgram SDK: sync and callback transcription,
validation and errors as Deepgram reports them, retries, fault controls, admin API and CLI.

Real recognition (PocketSphinx) runs only where the transcript matters; elsewhere the emulator's
synthetic mode keeps the tests fast. Every server and thread a test starts is stopped by a fixture.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import os
import select
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
import wave
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, cast
from urllib.error import HTTPError

import httpx
import pytest
from deepgram import DeepgramClient
from deepgram.core.api_error import ApiError
from deepgram.environment import DeepgramClientEnvironment
from deepgram.types.listen_v1accepted_response import ListenV1AcceptedResponse
from deepgram.types.listen_v1response import ListenV1Response

from local.deepgram_emulator import DeepgramEmulator
from local.deepgram_emulator.recognizer import Recognition, RecognizedWord

REPO_ROOT = Path(__file__).resolve().parents[2]
SAMPLE = (REPO_ROOT / "local" / "audio" / "sample.wav").read_bytes()
SAMPLE_TEXT = "Please leave a message after the tone and we will call you back. The weather is nice today."
SAMPLE_WORDS = frozenset(SAMPLE_TEXT.lower().replace(".", "").split())
ROBUST_WORDS = {"please", "message", "call", "back", "weather", "today"}
API_KEY = "test-key"
API_KEY_ID = "test-key-id"
RETRY_INTERVAL = 0.05
MAX_ATTEMPTS = 4


# Helpers ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Received:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    at: float

    def json(self) -> dict[str, Any]:
        return cast(dict[str, Any], json.loads(self.body))


class LocalHttpServer:
    """Serves `files` on GET and records every POST/PUT, answering with scripted status codes."""

    def __init__(self, files: dict[str, bytes] | None = None) -> None:
        self.files = dict(files or {})
        self.received: list[Received] = []
        self._statuses: list[int] = []
        self._always: int | None = None
        self._changed = threading.Condition()
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                content = owner.files.get(self.path)
                self.send_response(200 if content is not None else 404)
                self.send_header("Content-Length", str(len(content or b"")))
                self.end_headers()
                self.wfile.write(content or b"")

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                status = owner._record(self, body)
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            do_PUT = do_POST

            def log_message(self, *_: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05})
        self._thread.start()

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    def url(self, path: str = "/callback", userinfo: str = "") -> str:
        return f"http://{userinfo}127.0.0.1:{self.port}{path}"

    def answer(self, *statuses: int, always: int | None = None) -> None:
        """Answer the next requests with `statuses`, then with `always` (default 200)."""
        self._statuses = list(statuses)
        self._always = always

    def wait_for(self, count: int, timeout: float = 10.0) -> list[Received]:
        with self._changed:
            assert self._changed.wait_for(lambda: len(self.received) >= count, timeout), (
                f"expected {count} callback requests, got {len(self.received)}"
            )
            return list(self.received)

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)

    def _record(self, handler: BaseHTTPRequestHandler, body: bytes) -> int:
        headers = {name.lower(): value for name, value in handler.headers.items()}
        with self._changed:
            self.received.append(Received(handler.command, handler.path, headers, body, time.monotonic()))
            self._changed.notify_all()
            if self._statuses:
                return self._statuses.pop(0)
            return self._always or 200


def sdk_client(emulator: DeepgramEmulator, api_key: str = API_KEY) -> tuple[DeepgramClient, httpx.Client]:
    http = httpx.Client(timeout=30)
    websocket = emulator.url.replace("http", "ws")
    environment = DeepgramClientEnvironment(
        base=emulator.url, production=websocket, agent=websocket, agent_rest=emulator.url
    )
    return DeepgramClient(api_key=api_key, environment=environment, httpx_client=http, max_retries=0), http


def first_alternative(body: dict[str, Any]) -> dict[str, Any]:
    return cast(dict[str, Any], body["results"]["channels"][0]["alternatives"][0])


def post_listen(emulator: DeepgramEmulator, query: str, body: bytes, **headers: str) -> httpx.Response:
    headers = {"Authorization": f"Token {API_KEY}", "Content-Type": "audio/wav", **headers}
    return httpx.post(f"{emulator.url}/v1/listen?{query}", content=body, headers=headers, timeout=30)


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def repeated_wav(data: bytes, times: int) -> bytes:
    """The WAV file's audio played `times` times over, as one WAV file."""
    with wave.open(io.BytesIO(data)) as reader:
        params, frames = reader.getparams(), reader.readframes(reader.getnframes())
    output = io.BytesIO()
    with wave.open(output, "wb") as writer:
        writer.setparams(params)
        writer.writeframes(frames * times)
    return output.getvalue()


def recognition_worker_pids() -> list[int]:
    """This process's live children that are recognition workers (Linux /proc)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            parent = int((entry / "stat").read_text().rpartition(")")[2].split()[1])
            command = (entry / "cmdline").read_bytes()  # empty once exited (a zombie)
        except (OSError, ValueError, IndexError):
            continue
        if parent == os.getpid() and b"local.deepgram_emulator.worker" in command:
            pids.append(int(entry.name))
    return pids


def wait_for_job(emulator: DeepgramEmulator, request_id: str, ready: Callable[[Any], bool]) -> Any:
    """Poll `jobs()` until the job satisfies `ready`; returns its record."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        for job in emulator.jobs():
            if job["request_id"] == request_id and ready(job):
                return job
        time.sleep(0.01)
    raise AssertionError(f"job {request_id} never got ready: {emulator.jobs()}")


# Fixtures -----------------------------------------------------------------------------------------


@pytest.fixture
def site() -> Iterator[LocalHttpServer]:
    server = LocalHttpServer({"/sample.wav": SAMPLE, "/noise.bin": os.urandom(2048)})
    yield server
    server.stop()


@pytest.fixture
def emulator() -> Iterator[DeepgramEmulator]:
    """Fast retries, and any callback port: the callback receiver listens on an ephemeral one."""
    emulator = DeepgramEmulator(
        api_keys={API_KEY: API_KEY_ID},
        retry_interval_seconds=RETRY_INTERVAL,
        max_delivery_attempts=MAX_ATTEMPTS,
        allowed_callback_ports=None,
    )
    emulator.start()
    yield emulator
    emulator.stop()


@pytest.fixture
def strict_emulator() -> Iterator[DeepgramEmulator]:
    """Deepgram's own rules: callbacks only to ports 80, 443, 8080, 8443; 30 s between retries."""
    emulator = DeepgramEmulator(api_keys={API_KEY: API_KEY_ID}).start()
    yield emulator
    emulator.stop()


@pytest.fixture
def make_emulator() -> Iterator[Callable[..., DeepgramEmulator]]:
    """Emulators with custom settings, all stopped at the end of the test."""
    started: list[DeepgramEmulator] = []

    def make(**settings: Any) -> DeepgramEmulator:
        emulator = DeepgramEmulator(api_keys={API_KEY: API_KEY_ID}, **settings)
        started.append(emulator)
        return emulator.start()

    yield make
    for emulator in started:
        emulator.stop()


@pytest.fixture
def client(emulator: DeepgramEmulator) -> Iterator[DeepgramClient]:
    deepgram, http = sdk_client(emulator)
    yield deepgram
    http.close()


@pytest.fixture
def strict_client(strict_emulator: DeepgramEmulator) -> Iterator[DeepgramClient]:
    deepgram, http = sdk_client(strict_emulator)
    yield deepgram
    http.close()


# Synchronous transcription ------------------------------------------------------------------------


def test_transcribe_file_recognises_the_sample(client: DeepgramClient) -> None:
    response = client.listen.v1.media.transcribe_file(
        request=SAMPLE,
        model="nova-3",
        smart_format=True,
        diarize=True,
        utterances=True,
        paragraphs=True,
        tag=["demo", "local"],
        extra=["job_id:abc-123", "callback_secret:s3cret"],
    )

    assert isinstance(response, ListenV1Response)
    body = response.model_dump(mode="json")
    words = first_alternative(body)["words"]
    heard = [word["word"] for word in words]
    assert set(heard) >= ROBUST_WORDS
    assert len(set(heard) & SAMPLE_WORDS) >= 0.8 * len(SAMPLE_WORDS)
    with wave.open(str(REPO_ROOT / "local" / "audio" / "sample.wav")) as reader:
        duration = reader.getnframes() / reader.getframerate()
    metadata = body["metadata"]
    assert metadata["sha256"] == hashlib.sha256(SAMPLE).hexdigest()
    assert metadata["duration"] == pytest.approx(duration, abs=1e-3)
    assert metadata["channels"] == 1
    assert metadata["tags"] == ["demo", "local"]
    assert metadata["extra"] == {"job_id": "abc-123", "callback_secret": "s3cret"}
    (model,) = metadata["models"]
    assert metadata["model_info"][model]["arch"] == "nova-3"
    for word, following in zip(words, [*words[1:], None], strict=True):
        assert 0 <= word["start"] < word["end"] <= duration
        assert 0.0 <= word["confidence"] <= 1.0
        assert word["speaker"] == 0
        if following is not None:
            assert following["start"] >= word["end"]
    assert words[0]["punctuated_word"][0].isupper()
    assert words[-1]["punctuated_word"].endswith(".")
    alternative = first_alternative(body)
    assert alternative["transcript"] == " ".join(word["punctuated_word"] for word in words)
    assert 0.0 <= alternative["confidence"] <= 1.0
    assert alternative["paragraphs"]["transcript"].startswith("\nSpeaker 0: Please")
    utterances = body["results"]["utterances"]
    assert [word for utterance in utterances for word in utterance["words"]] == words
    assert all(utterance["speaker"] == 0 for utterance in utterances)


def test_transcribe_url_fetches_the_audio(client: DeepgramClient, site: LocalHttpServer) -> None:
    response = client.listen.v1.media.transcribe_url(url=site.url("/sample.wav"))

    assert isinstance(response, ListenV1Response)
    body = response.model_dump(mode="json")
    assert body["metadata"]["sha256"] == hashlib.sha256(SAMPLE).hexdigest()
    words = first_alternative(body)["words"]
    assert {word["word"] for word in words} >= ROBUST_WORDS
    # Without punctuate or smart_format Deepgram sends neither punctuation nor punctuated_word.
    assert all("punctuated_word" not in word for word in words)
    assert first_alternative(body)["transcript"] == " ".join(word["word"] for word in words)


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("/missing.wav", "The remote server hosting the media returned a client error: 404 Not Found."),
        (None, "The remote server hosting the media failed to return valid data."),
    ],
)
def test_transcribe_url_reports_unreachable_media(
    client: DeepgramClient, site: LocalHttpServer, path: str | None, message: str
) -> None:
    url = site.url(path) if path else f"http://127.0.0.1:{closed_port()}/sample.wav"

    with pytest.raises(ApiError) as raised:
        client.listen.v1.media.transcribe_url(url=url)

    assert raised.value.status_code == 400
    assert raised.value.body["err_code"] == "REMOTE_CONTENT_ERROR"
    assert raised.value.body["err_msg"] == message
    assert raised.value.body["request_id"]


def test_undecodable_audio_is_a_bad_request(client: DeepgramClient) -> None:
    with pytest.raises(ApiError) as raised:
        client.listen.v1.media.transcribe_file(request=b"ID3 this is not a wav file" * 10)

    assert raised.value.status_code == 400
    assert raised.value.body["err_code"] == "Bad Request"
    assert "corrupt or unsupported data" in raised.value.body["err_msg"]


def test_a_wrong_or_missing_key_is_refused(emulator: DeepgramEmulator) -> None:
    deepgram, http = sdk_client(emulator, api_key="not-a-key")
    with http, pytest.raises(ApiError) as raised:
        deepgram.listen.v1.media.transcribe_file(request=SAMPLE)
    assert raised.value.status_code == 401
    assert raised.value.body["err_code"] == "INVALID_AUTH"
    assert raised.value.body["err_msg"] == "Invalid credentials."

    missing = httpx.post(f"{emulator.url}/v1/listen", content=SAMPLE)
    assert missing.status_code == 401
    assert missing.json()["err_code"] == "INVALID_AUTH"
    bearer = post_listen(emulator, "", SAMPLE, Authorization=f"Bearer {API_KEY}")
    assert bearer.status_code == 401
    assert emulator.jobs() == []


@pytest.mark.parametrize(
    ("query", "content_type", "body", "expected"),
    [
        ("punctuate=maybe", "audio/wav", SAMPLE, {"err_code": "INVALID_QUERY_PARAMETER"}),
        ("extra=no-colon", "audio/wav", SAMPLE, {"err_code": "INVALID_QUERY_PARAMETER"}),
        ("tag=" + "t" * 129, "audio/wav", SAMPLE, {"err_code": "INVALID_QUERY_PARAMETER"}),
        ("utt_split=soon", "audio/wav", SAMPLE, {"err_code": "INVALID_QUERY_PARAMETER"}),
        ("", "application/json", b"{not json", {"category": "INVALID_JSON"}),
        ("", "application/json", b'{"uri": "x"}', {"category": "INVALID_JSON"}),
        ("", "audio/wav", b"", {"err_code": "Bad Request"}),
    ],
)
def test_malformed_requests_are_refused(
    emulator: DeepgramEmulator, query: str, content_type: str, body: bytes, expected: dict[str, str]
) -> None:
    response = post_listen(emulator, query, body, **{"Content-Type": content_type})

    assert response.status_code == 400
    assert expected.items() <= response.json().items()
    assert response.json()["request_id"]


def test_options_it_cannot_honour_are_ignored(emulator: DeepgramEmulator) -> None:
    emulator.set_faults(synthetic_duration_seconds=5)

    response = post_listen(
        emulator, "sentiment=true&language=fr&no_such_option=1&keyterm=a&keyterm=b", SAMPLE
    )

    assert response.status_code == 200
    assert response.json()["results"]["channels"][0]["alternatives"][0]["words"]


# Callbacks ----------------------------------------------------------------------------------------


def test_callback_post_delivers_the_transcript(
    emulator: DeepgramEmulator, client: DeepgramClient, site: LocalHttpServer
) -> None:
    callback = site.url("/hooks/deepgram?job=abc&sig=x%2By", userinfo="deepgram:p%40ss%3Aword@")

    accepted = client.listen.v1.media.transcribe_file(
        request=SAMPLE,
        callback=callback,
        smart_format=True,
        extra=["job_id:abc"],
        tag=["pipeline"],
    )

    assert isinstance(accepted, ListenV1AcceptedResponse)
    (delivery,) = site.wait_for(1)
    assert delivery.method == "POST"
    assert delivery.path == "/hooks/deepgram?job=abc&sig=x%2By"
    assert delivery.headers["content-type"] == "application/json"
    assert delivery.headers["authorization"] == "Basic " + base64.b64encode(b"deepgram:p@ss:word").decode()
    assert delivery.headers["dg-token"] == API_KEY_ID
    body = delivery.json()
    assert body["metadata"]["request_id"] == accepted.request_id
    assert body["metadata"]["extra"] == {"job_id": "abc"}
    assert body["metadata"]["tags"] == ["pipeline"]
    assert {word["word"] for word in first_alternative(body)["words"]} >= ROBUST_WORDS
    assert delivery.body == json.dumps(body, separators=(",", ":")).encode()

    assert emulator.wait_idle(5)
    (attempt,) = emulator.deliveries()
    assert attempt["request_id"] == accepted.request_id
    assert (attempt["host"], attempt["port"], attempt["path"]) == ("127.0.0.1", site.port, "/hooks/deepgram")
    assert (attempt["status_code"], attempt["delivered"], attempt["attempt"]) == (200, True, 1)
    assert attempt["body_bytes"] == len(delivery.body)
    assert attempt["recognition_seconds"] is not None
    assert attempt["recognition_seconds"] > 0
    assert attempt["job_received_at"] <= attempt["started_at"] <= attempt["finished_at"]
    (job,) = emulator.jobs()
    assert job["status"] == "delivered"
    assert job["callback"] is not None
    assert "p%40ss" not in job["callback"]
    assert "sig=" not in job["callback"]


def test_callback_put_and_no_dg_token(
    make_emulator: Callable[..., DeepgramEmulator], site: LocalHttpServer
) -> None:
    emulator = make_emulator(allowed_callback_ports=None, send_dg_token=False)
    emulator.set_faults(synthetic_duration_seconds=3)
    deepgram, http = sdk_client(emulator)
    with http:
        accepted = deepgram.listen.v1.media.transcribe_file(
            request=SAMPLE, callback=site.url(), callback_method="put"
        )
    (delivery,) = site.wait_for(1)

    assert delivery.method == "PUT"
    assert "authorization" not in delivery.headers
    assert "dg-token" not in delivery.headers
    assert delivery.json()["metadata"]["request_id"] == cast(ListenV1AcceptedResponse, accepted).request_id


def test_non_2xx_answers_are_retried(
    emulator: DeepgramEmulator, client: DeepgramClient, site: LocalHttpServer
) -> None:
    emulator.set_faults(synthetic_duration_seconds=2)
    site.answer(500, 503)

    client.listen.v1.media.transcribe_file(request=SAMPLE, callback=site.url())

    received = site.wait_for(3)
    assert emulator.wait_idle(5)
    assert len(site.received) == 3
    assert received[0].body == received[2].body
    assert received[2].at - received[1].at >= RETRY_INTERVAL * 0.9
    attempts = emulator.deliveries()
    assert [(a["attempt"], a["status_code"], a["delivered"]) for a in attempts] == [
        (1, 500, False),
        (2, 503, False),
        (3, 200, True),
    ]


def test_delivery_gives_up_after_max_attempts(
    emulator: DeepgramEmulator, client: DeepgramClient, site: LocalHttpServer
) -> None:
    emulator.set_faults(synthetic_duration_seconds=2)
    site.answer(always=500)

    client.listen.v1.media.transcribe_file(request=SAMPLE, callback=site.url())

    assert emulator.wait_idle(5)
    assert len(site.received) == MAX_ATTEMPTS
    assert [attempt["attempt"] for attempt in emulator.deliveries()] == list(range(1, MAX_ATTEMPTS + 1))
    assert emulator.jobs()[0]["status"] == "undelivered"


def test_connection_errors_are_retried(emulator: DeepgramEmulator, client: DeepgramClient) -> None:
    emulator.set_faults(synthetic_duration_seconds=2)

    client.listen.v1.media.transcribe_file(
        request=SAMPLE, callback=f"http://127.0.0.1:{closed_port()}/callback"
    )

    assert emulator.wait_idle(5)
    attempts = emulator.deliveries()
    assert len(attempts) == MAX_ATTEMPTS
    assert all(a["status_code"] is None and a["error"] and not a["injected"] for a in attempts)


def test_fail_next_deliveries_exercises_the_retries(
    emulator: DeepgramEmulator, client: DeepgramClient, site: LocalHttpServer
) -> None:
    emulator.set_faults(fail_next_deliveries=2, synthetic_duration_seconds=2)

    client.listen.v1.media.transcribe_file(request=SAMPLE, callback=site.url())

    assert emulator.wait_idle(5)
    assert len(site.received) == 1
    attempts = emulator.deliveries()
    assert [(a["injected"], a["delivered"]) for a in attempts] == [
        (True, False),
        (True, False),
        (False, True),
    ]
    assert emulator.faults().fail_next_deliveries == 0


def test_duplicate_deliveries_send_each_result_twice(
    emulator: DeepgramEmulator, client: DeepgramClient, site: LocalHttpServer
) -> None:
    emulator.set_faults(duplicate_deliveries=True, synthetic_duration_seconds=2)

    accepted = client.listen.v1.media.transcribe_file(request=SAMPLE, callback=site.url())

    first, second = site.wait_for(2)
    assert first.body == second.body
    assert first.json()["metadata"]["request_id"] == cast(ListenV1AcceptedResponse, accepted).request_id
    assert emulator.wait_idle(5)
    assert sorted(attempt["copy"] for attempt in emulator.deliveries()) == [1, 2]


def test_padding_keeps_the_real_words_first(
    emulator: DeepgramEmulator, client: DeepgramClient, site: LocalHttpServer
) -> None:
    emulator.set_faults(pad_result_to_bytes=1_000_000)

    client.listen.v1.media.transcribe_file(request=SAMPLE, callback=site.url(), utterances=True)

    (delivery,) = site.wait_for(1)
    assert len(delivery.body) == pytest.approx(1_000_000, rel=0.01)
    body = delivery.json()
    words = first_alternative(body)["words"]
    assert [word["word"] for word in words[:3]] == ["please", "leave", "a"]
    assert len(words) > 5000
    assert all(word["word"].isascii() and word["word"] for word in words)
    assert body["metadata"]["duration"] >= words[-1]["end"]
    assert [word for utterance in body["results"]["utterances"] for word in utterance["words"]] == words


@pytest.mark.parametrize("source", ["upload", "url"])
def test_failures_are_delivered_as_error_callbacks(
    client: DeepgramClient, site: LocalHttpServer, source: str
) -> None:
    if source == "upload":
        accepted = client.listen.v1.media.transcribe_file(request=b"not audio at all", callback=site.url())
        expected_code = "Bad Request"
    else:
        accepted = client.listen.v1.media.transcribe_url(url=site.url("/missing.wav"), callback=site.url())
        expected_code = "REMOTE_CONTENT_ERROR"

    assert isinstance(accepted, ListenV1AcceptedResponse)
    (delivery,) = site.wait_for(1, timeout=5)
    body = delivery.json()
    assert "results" not in body
    assert body["err_code"] == expected_code
    assert body["err_msg"]
    assert body["request_id"] == accepted.request_id


# Callback validation --------------------------------------------------------------------------------


INVALID_URL = {"err_code": "INVALID_QUERY_PARAMETER", "err_msg": "Invalid callback url."}
UNRESOLVABLE = {"err_code": "Bad Request", "err_msg": "Failed to resolve callback."}


@pytest.mark.parametrize(
    ("callback", "expected"),
    [
        ("http://127.0.0.1:9000/callback", INVALID_URL),
        ("http://127.0.0.1:99999/", INVALID_URL),
        ("ftp://127.0.0.1/callback", INVALID_URL),
        ("not a url", INVALID_URL),
        ("", INVALID_URL),
        ("https://my_host.example.com/callback", UNRESOLVABLE),
        ("https://127.0.0.1/call_back", UNRESOLVABLE),
        ("https://no-such-host.invalid/callback", UNRESOLVABLE),
    ],
)
def test_callback_urls_are_validated_like_deepgram(
    strict_client: DeepgramClient, strict_emulator: DeepgramEmulator, callback: str, expected: dict[str, str]
) -> None:
    with pytest.raises(ApiError) as raised:
        strict_client.listen.v1.media.transcribe_file(request=SAMPLE, callback=callback)

    assert raised.value.status_code == 400
    assert expected.items() <= raised.value.body.items()
    # Deepgram's "Failed to resolve callback." example carries no request_id.
    assert ("request_id" in raised.value.body) == (expected is INVALID_URL)
    assert strict_emulator.jobs() == []


def test_invalid_callback_method_is_refused(emulator: DeepgramEmulator, site: LocalHttpServer) -> None:
    response = post_listen(emulator, f"callback={site.url()}&callback_method=patch", SAMPLE)

    assert response.status_code == 400
    assert response.json()["err_code"] == "INVALID_QUERY_PARAMETER"


@pytest.mark.parametrize("port", [80, 443, 8080, 8443])
def test_deepgram_ports_are_accepted_and_stop_abandons_pending_retries(
    strict_client: DeepgramClient, strict_emulator: DeepgramEmulator, port: int
) -> None:
    # Nothing is sent: every attempt is an injected failure, so no local service gets a request.
    strict_emulator.set_faults(fail_next_deliveries=100, synthetic_duration_seconds=1)

    accepted = strict_client.listen.v1.media.transcribe_file(
        request=SAMPLE, callback=f"http://127.0.0.1:{port}/cb"
    )

    assert isinstance(accepted, ListenV1AcceptedResponse)
    deadline = time.monotonic() + 5
    while not strict_emulator.deliveries() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert strict_emulator.deliveries()[0]["port"] == port
    assert not strict_emulator.wait_idle(0.05), "the next retry is 30 s away"
    started = time.monotonic()
    strict_emulator.stop()
    strict_emulator.stop()
    assert time.monotonic() - started < 2
    assert strict_emulator.wait_idle(0)
    assert len(strict_emulator.deliveries()) == 1


def test_a_stopped_emulator_cannot_restart() -> None:
    emulator = DeepgramEmulator()
    emulator.stop()
    with pytest.raises(RuntimeError):
        emulator.start()
    with pytest.raises(RuntimeError):
        _ = emulator.url


# Synthetic mode -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "low", "high"),
    [
        ("smart_format=true", 12_000, 20_000),
        ("smart_format=true&diarize=true&utterances=true&paragraphs=true", 38_000, 58_000),
    ],
)
def test_synthetic_mode_returns_realistic_sizes_per_minute(
    emulator: DeepgramEmulator, query: str, low: int, high: int
) -> None:
    emulator.set_faults(synthetic_duration_seconds=60)

    response = post_listen(emulator, query, b"any bytes: synthetic mode does not decode")

    assert response.status_code == 200
    assert low <= len(response.content) <= high
    body = response.json()
    assert body["metadata"]["duration"] == 60
    words = first_alternative(body)["words"]
    assert 100 <= len(words) <= 200
    assert words[-1]["end"] <= 60
    if "diarize" in query:
        assert {word["speaker"] for word in words} == {0, 1}
    (job,) = emulator.jobs()
    assert job["synthetic"]
    assert job["result_bytes"] == len(response.content)


# Recognition in worker processes ---------------------------------------------------------------------


needs_proc = pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="finds workers in /proc")


def test_submissions_are_answered_while_audio_is_recognised(
    make_emulator: Callable[..., DeepgramEmulator], site: LocalHttpServer
) -> None:
    # PocketSphinx holds the GIL while it decodes a speech region: recognising in the serving
    # process stalled every HTTP thread until the region was done (seconds for this audio).
    emulator = make_emulator(allowed_callback_ports=None)
    # A first recognition loads the model, so the next one starts decoding at once.
    assert post_listen(emulator, "", SAMPLE).status_code == 200
    long_audio = repeated_wav(SAMPLE, 3)  # 18 s of audio, one 12 s speech region in the middle
    first = post_listen(emulator, f"callback={site.url()}", long_audio).json()["request_id"]
    wait_for_job(emulator, first, lambda job: job["status"] == "transcribing")

    with httpx.Client(timeout=30) as http:
        for _ in range(10):
            response = http.post(
                f"{emulator.url}/v1/listen?callback={site.url()}",
                content=SAMPLE,
                headers={"Authorization": f"Token {API_KEY}", "Content-Type": "audio/wav"},
            )
            assert response.status_code == 200
            assert set(response.json()) == {"request_id"}

    # Every answer came back while the first job was still being recognised.
    jobs = {job["request_id"]: job for job in emulator.jobs()}
    assert jobs[first]["status"] == "transcribing"
    assert jobs[first]["recognition_finished_at"] is None
    assert len(jobs) == 12  # the warm-up, the long job and the ten answered meanwhile


@needs_proc
def test_a_crashed_worker_is_reported_as_an_error_callback(
    make_emulator: Callable[..., DeepgramEmulator], site: LocalHttpServer
) -> None:
    emulator = make_emulator(allowed_callback_ports=None, recognition_workers=1)
    accepted = post_listen(emulator, f"callback={site.url()}", repeated_wav(SAMPLE, 3)).json()
    wait_for_job(emulator, accepted["request_id"], lambda job: job["status"] == "transcribing")
    deadline = time.monotonic() + 10
    while not (workers := recognition_worker_pids()) and time.monotonic() < deadline:
        time.sleep(0.01)
    (worker,) = workers

    os.kill(worker, signal.SIGKILL)

    (delivery,) = site.wait_for(1)
    body = delivery.json()
    assert body["err_code"] == "INTERNAL_SERVER_ERROR"
    assert body["request_id"] == accepted["request_id"]
    assert "results" not in body
    assert emulator.wait_idle(5)
    (job,) = emulator.jobs()
    assert (job["status"], job["error"]) == ("delivered", "INTERNAL_SERVER_ERROR")
    # The next request gets a fresh worker.
    response = post_listen(emulator, "", SAMPLE)
    assert response.status_code == 200
    assert {word["word"] for word in first_alternative(response.json())["words"]} >= ROBUST_WORDS
    assert worker not in recognition_worker_pids()


@needs_proc
def test_stop_kills_the_workers_and_abandons_running_recognitions(
    make_emulator: Callable[..., DeepgramEmulator], site: LocalHttpServer
) -> None:
    emulator = make_emulator(allowed_callback_ports=None, recognition_workers=2)
    emulator.warm_up()
    assert len(recognition_worker_pids()) == 2
    long_audio = repeated_wav(SAMPLE, 3)
    accepted = post_listen(emulator, f"callback={site.url()}", long_audio).json()
    synchronous: list[httpx.Response] = []
    request = threading.Thread(target=lambda: synchronous.append(post_listen(emulator, "", long_audio)))
    request.start()
    wait_for_job(emulator, accepted["request_id"], lambda job: job["recognition_started_at"] is not None)
    deadline = time.monotonic() + 10
    while len(emulator.jobs()) < 2 and time.monotonic() < deadline:
        time.sleep(0.01)

    started = time.monotonic()
    emulator.stop()
    assert time.monotonic() - started < 2  # recognition of this audio takes several seconds
    request.join(5)

    assert recognition_worker_pids() == []
    (answer,) = synchronous
    assert answer.status_code == 503
    assert answer.json()["err_code"] == "SERVICE_UNAVAILABLE"
    assert {job["status"] for job in emulator.jobs()} == {"failed"}
    assert {job["error"] for job in emulator.jobs()} == {"emulator stopping"}
    assert site.received == []


@needs_proc
def test_synthetic_mode_and_injected_recognizers_start_no_worker(
    make_emulator: Callable[..., DeepgramEmulator],
) -> None:
    synthetic = make_emulator()
    synthetic.set_faults(synthetic_duration_seconds=5)
    assert post_listen(synthetic, "", SAMPLE).status_code == 200

    class Canned:
        """A recognizer that hears the same two words in anything."""

        def recognize(self, audio: bytes) -> Recognition:
            return Recognition(
                words=(
                    RecognizedWord(word="hello", start=0.1, end=0.5, confidence=0.9, region=0),
                    RecognizedWord(word="there", start=0.6, end=0.9, confidence=0.8, region=0),
                ),
                duration=1.0,
            )

    injected = make_emulator(recognizer=Canned())
    response = post_listen(injected, "punctuate=true", b"not even audio")
    assert response.status_code == 200
    assert first_alternative(response.json())["transcript"] == "Hello there."

    assert recognition_worker_pids() == []
    with pytest.raises(ValueError, match="recognition_workers"):
        DeepgramEmulator(recognition_workers=-1)


# Admin API and CLI ----------------------------------------------------------------------------------


def admin(emulator: DeepgramEmulator, method: str, path: str, body: Any = None) -> tuple[int, Any]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(f"{emulator.url}{path}", data=data, method=method)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except HTTPError as error:
        return error.code, json.loads(error.read())


def test_admin_api_controls_faults_and_reports_history(
    emulator: DeepgramEmulator, site: LocalHttpServer
) -> None:
    assert admin(emulator, "GET", "/emulator/health") == (200, {"status": "ok", "url": emulator.url})
    faults = {"fail_next_deliveries": 1, "duplicate_deliveries": False, "synthetic_duration_seconds": 2.5}
    status, answer = admin(emulator, "POST", "/emulator/faults", faults)
    assert status == 200
    assert answer == {**faults, "pad_result_to_bytes": None}
    assert admin(emulator, "GET", "/emulator/faults") == (200, answer)
    assert admin(emulator, "POST", "/emulator/faults", {"fail_next_deliveries": "two"})[0] == 400
    assert admin(emulator, "POST", "/emulator/faults", {"explode": True})[0] == 400

    response = post_listen(emulator, f"callback={site.url()}", SAMPLE)
    assert response.status_code == 200
    assert admin(emulator, "POST", "/emulator/wait-idle?timeout=5") == (200, {"idle": True})
    status, history = admin(emulator, "GET", "/emulator/deliveries")
    assert [(d["injected"], d["delivered"]) for d in history["deliveries"]] == [(True, False), (False, True)]
    assert all(d["request_id"] == response.json()["request_id"] for d in history["deliveries"])
    assert admin(emulator, "GET", "/emulator/jobs")[1]["jobs"][0]["status"] == "delivered"

    assert admin(emulator, "POST", "/emulator/reset") == (200, {"status": "reset"})
    assert admin(emulator, "GET", "/emulator/deliveries") == (200, {"deliveries": []})
    assert admin(emulator, "GET", "/emulator/jobs") == (200, {"jobs": []})
    assert admin(emulator, "GET", "/emulator/faults")[1]["synthetic_duration_seconds"] is None
    assert admin(emulator, "GET", "/emulator/nothing")[0] == 404


def test_cli_serves_until_interrupted() -> None:
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "local.deepgram_emulator",
            "--port",
            "0",
            "--api-key",
            "k",
            "--api-key-id",
            "kid",
        ],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert process.stdout is not None
        readable, _, _ = select.select([process.stdout], [], [], 10)
        assert readable, "the emulator printed nothing within 10 s"
        line = process.stdout.readline()
        url = line.split(" on ", 1)[1].split()[0]
        response = httpx.post(f"{url}/v1/listen", content=b"x", headers={"Authorization": "Token wrong"})
        assert response.status_code == 401
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=10) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        if process.stdout is not None:
            process.stdout.close()
