"""`dgt` without the local stack: arguments, signing, endpoint discovery, progress, rendering.

Tests that talk HTTP use the FAKE API of `tests/cli/fake_api.py` (the `fake_api` fixture): scripted
answers make polling, errors and paging deterministic. `tests/cli/test_cli_e2e.py` runs every
command against the local stack.
"""

from __future__ import annotations

import io
import json
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from botocore.session import Session
from botocore.stub import Stubber

from dgt import api
from dgt.api import ApiError, Endpoint, NetworkError, Target
from dgt.cli import build_parser, collect_options, content_type_of, parse_value
from dgt.progress import Progress, Waiter, WaitTimeout
from dgt.render import render
from tests.cli.conftest import dgt
from tests.cli.fake_api import FakeApi

ROOT = Path(__file__).resolve().parents[2]
JOB = "a" * 32
AUTHORIZATION = re.compile(
    r"^AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/\d{8}/(?P<region>[a-z0-9-]+)/execute-api/aws4_request, "
    r"SignedHeaders=(?P<signed>[a-z0-9;-]+), Signature=[0-9a-f]{64}$"
)


def deepgram_result(words: list[tuple[str, float, float]], **results: Any) -> dict[str, Any]:
    transcript = " ".join(word for word, _, _ in words)
    return {
        "metadata": {"request_id": "r-1", "duration": 3.0, "channels": 1},
        "results": {
            "channels": [
                {
                    "alternatives": [
                        {
                            "transcript": transcript,
                            "words": [
                                {"word": w.lower(), "punctuated_word": w, "start": s, "end": e}
                                for w, s, e in words
                            ],
                        }
                    ]
                }
            ],
            **results,
        },
    }


HELLO = deepgram_result([("Hello", 0.1, 0.5), ("world.", 0.6, 1.2)])


def completed(job_id: str = JOB, **extra: Any) -> dict[str, Any]:
    return {"id": job_id, "status": "completed", "summary": {"words": 2, "duration_seconds": 1.2}, **extra}


# Arguments and option values ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("true", True),
        ("false", False),
        ("3", 3),
        ("0.8", 0.8),
        ("nova-3", "nova-3"),
        ('"123"', "123"),
        ("v2", "v2"),
        ("null", "null"),
        ('["Acme","refund"]', ["Acme", "refund"]),
        ('{"a": 1}', '{"a": 1}'),
        ("", ""),
    ],
)
def test_option_values_are_json_scalars_when_they_look_like_one(text: str, value: Any) -> None:
    assert parse_value(text) == value


def test_repeated_options_become_lists() -> None:
    pairs = [("keyterm", "Acme"), ("model", "nova-3"), ("keyterm", "refund"), ("keyterm", '["a","b"]')]
    assert collect_options(pairs) == {"keyterm": ["Acme", "refund", "a", "b"], "model": "nova-3"}


def test_connection_options_go_before_or_after_the_command() -> None:
    parser = build_parser()
    before = parser.parse_args(["--api-url", "https://x", "--region", "eu-west-1", "status", "ID"])
    after = parser.parse_args(["status", "ID", "--api-url", "https://x", "--region", "eu-west-1"])
    for arguments in (before, after):
        assert (arguments.api_url, arguments.region, arguments.job_id) == ("https://x", "eu-west-1", "ID")
    assert not hasattr(parser.parse_args(["status", "ID"]), "api_url")


def test_submit_arguments() -> None:
    arguments = build_parser().parse_args(
        ["submit", "a.wav", "-o", "smart_format=true", "--metadata", "k=v=w", "--idempotency-key", "K", "-w"]
    )
    assert arguments.options == [("smart_format", "true")]
    assert arguments.metadata == [("k", "v=w")]
    assert (arguments.idempotency_key, arguments.wait, arguments.timeout) == ("K", True, 1800.0)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        ([], "the following arguments are required: COMMAND"),
        (["status"], "the following arguments are required: ID"),
        (["result", "ID", "--format", "docx"], "invalid choice: 'docx'"),
        (["submit", "a.wav", "--option", "smart_format"], "expected key=value"),
        (["wait", "ID", "--timeout", "-1"], "must be greater than 0"),
        (["list", "--limit", "0"], "expected a positive integer"),
        (["frobnicate"], "invalid choice: 'frobnicate'"),
    ],
)
def test_usage_errors_exit_2_with_one_line(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert dgt(*argv).code == 2
    error = capsys.readouterr().err
    assert "dgt: error: " in error
    assert message in error
    assert "Traceback" not in error


def test_without_an_api_it_says_how_to_give_one(fake_api: FakeApi) -> None:
    run = dgt("status", JOB)
    assert run.code == 2
    assert run.stderr == (
        "dgt: error: which API? Give --api-url URL, --stack NAME or --local, or set DGT_API_URL\n"
    )


def test_content_types_of_uploads() -> None:
    assert content_type_of(Path("call.mp3")) == "audio/mpeg"
    assert content_type_of(Path("call.wav")) in ("audio/x-wav", "audio/wav")
    assert content_type_of(Path("call.unknown")) == "application/octet-stream"
    assert content_type_of(Path("notes.txt")) == "application/octet-stream"


# Signing -----------------------------------------------------------------------------------------


def test_requests_are_signed_with_sigv4_for_execute_api_from_environment_credentials(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "secret")
    monkeypatch.setenv("AWS_SESSION_TOKEN", "token-1")
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")
    credentials = api.load_credentials(Session(), local=False)
    url = "https://abc123.execute-api.eu-west-1.amazonaws.com/v1/transcriptions?model=nova-3&keyterm=a%20b"
    headers = api.sign(
        "POST",
        url,
        body=b"{}",
        headers={"Content-Type": "application/json"},
        credentials=credentials,
        region=api.region_from_url(url) or "",
    )
    match = AUTHORIZATION.match(headers["Authorization"])
    assert match, headers["Authorization"]
    assert match["region"] == "eu-west-1"
    assert set(match["signed"].split(";")) >= {"host", "x-amz-date", "x-amz-security-token", "content-type"}
    assert headers["X-Amz-Security-Token"] == "token-1"
    assert re.fullmatch(r"\d{8}T\d{6}Z", headers["X-Amz-Date"])


def test_every_api_request_carries_the_signature_and_the_region_given(fake_api: FakeApi) -> None:
    fake_api.jobs[JOB] = {"id": JOB, "status": "processing"}
    run = dgt("--api-url", fake_api.api_url, "--region", "ap-south-1", "status", JOB)
    assert run.code == 0, run.stderr
    [request] = fake_api.requests
    match = AUTHORIZATION.match(request.headers["Authorization"])
    assert match
    assert match["region"] == "ap-south-1"
    assert request.headers["User-Agent"].startswith("dgt/")


@pytest.mark.parametrize(
    ("url", "region"),
    [
        ("https://abc.execute-api.eu-west-1.amazonaws.com/v1/", "eu-west-1"),
        ("https://abc.execute-api.cn-north-1.amazonaws.com.cn/prod", "cn-north-1"),
        ("https://api.example.com/v1", None),
        ("http://127.0.0.1:8000/v1", None),
    ],
)
def test_region_from_the_api_url(url: str, region: str | None) -> None:
    assert api.region_from_url(url) == region


def test_a_custom_domain_needs_a_region(fake_api: FakeApi, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("AWS_REGION", "AWS_DEFAULT_REGION"):
        monkeypatch.delenv(name, raising=False)
    run = dgt("--api-url", "https://api.example.com/v1", "status", JOB)
    assert (run.code, run.stderr) == (
        2,
        "dgt: error: cannot tell the API's region from its URL: give --region or set AWS_REGION\n",
    )


def test_no_credentials_is_a_usage_error_except_locally(
    fake_api: FakeApi, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    fake_api.jobs[JOB] = {"id": JOB, "status": "processing"}
    run = dgt("--api-url", fake_api.api_url, "--region", "us-east-1", "status", JOB)
    assert run.code == 2
    assert run.stderr.startswith("dgt: error: no AWS credentials found")

    endpoints = tmp_path / "endpoints.json"
    endpoints.write_text(json.dumps({"api_url": fake_api.api_url, "region": "us-east-1"}))
    monkeypatch.setenv("DGT_ENDPOINTS_FILE", str(endpoints))
    run = dgt("--local", "status", JOB)
    assert run.code == 0, run.stderr
    assert "Credential=local/" in fake_api.requests[-1].headers["Authorization"]


# Finding the API ---------------------------------------------------------------------------------


def test_the_local_endpoints_file_is_found_in_a_parent_directory(tmp_path: Path) -> None:
    (tmp_path / ".local").mkdir()
    (tmp_path / ".local" / "endpoints.json").write_text(
        json.dumps({"api_url": "http://127.0.0.1:1234/v1/", "region": "us-east-1"})
    )
    (tmp_path / "a" / "b").mkdir(parents=True)
    target = Target(local=True, environ={}, cwd=tmp_path / "a" / "b")
    assert api.resolve_endpoint(target, Session()) == Endpoint(
        "http://127.0.0.1:1234/v1", "us-east-1", local=True
    )


def test_a_missing_local_stack_says_to_start_one(tmp_path: Path) -> None:
    target = Target(local=True, environ={"DGT_ENDPOINTS_FILE": str(tmp_path / "none.json")}, cwd=tmp_path)
    with pytest.raises(api.ConfigError, match=r"is `make serve` running|cannot read"):
        api.resolve_endpoint(target, Session())


def test_api_url_precedence_and_normalization() -> None:
    environ = {"DGT_API_URL": "https://env.execute-api.eu-west-1.amazonaws.com/v1/transcriptions"}
    from_env = api.resolve_endpoint(Target(environ=environ), Session())
    assert from_env == Endpoint("https://env.execute-api.eu-west-1.amazonaws.com/v1", "eu-west-1")
    explicit = api.resolve_endpoint(
        Target(api_url="https://x.execute-api.us-west-2.amazonaws.com/prod/", environ=environ), Session()
    )
    assert explicit == Endpoint("https://x.execute-api.us-west-2.amazonaws.com/prod", "us-west-2")


def test_stack_outputs_give_the_api_url(monkeypatch: pytest.MonkeyPatch) -> None:
    session = Session()
    client = session.create_client(
        "cloudformation", region_name="eu-west-1", aws_access_key_id="a", aws_secret_access_key="b"
    )
    stubber = Stubber(client)
    stubber.add_response(
        "describe_stacks",
        {
            "Stacks": [
                {
                    "StackName": "DeepgramTranscription",
                    "CreationTime": "2026-11-22T14:00:00Z",
                    "StackStatus": "CREATE_COMPLETE",
                    "Outputs": [
                        {"OutputKey": "CallbackUrl", "OutputValue": "https://cb.lambda-url.aws/"},
                        {
                            "OutputKey": "ApiUrl",
                            "OutputValue": "https://abc.execute-api.eu-west-1.amazonaws.com/v1/",
                        },
                    ],
                }
            ]
        },
        {"StackName": "DeepgramTranscription"},
    )
    monkeypatch.setattr(session, "create_client", lambda *args, **kwargs: client)
    with stubber:
        endpoint = api.resolve_endpoint(Target(stack="DeepgramTranscription", environ={}), session)
    assert endpoint == Endpoint("https://abc.execute-api.eu-west-1.amazonaws.com/v1", "eu-west-1")


# Progress ----------------------------------------------------------------------------------------


class FakeTime:
    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


class Tty(io.StringIO):
    encoding = "utf-8"

    def isatty(self) -> bool:
        return True


def scripted(*views: dict[str, Any] | Exception) -> Any:
    remaining = list(views)

    def fetch() -> dict[str, Any]:
        item = remaining.pop(0) if len(remaining) > 1 else remaining[0]
        if isinstance(item, Exception):
            raise item
        return item

    return fetch


def test_spinner_on_a_terminal() -> None:
    stream, fake = Tty(), FakeTime()
    views = [{"id": JOB, "status": "processing"}] * 3 + [completed()]
    waiter = Waiter(scripted(*views), Progress(stream, interactive=True), clock=fake.clock, sleep=fake.sleep)
    assert waiter.wait(JOB, {"id": JOB, "status": "queued"})["status"] == "completed"
    output = stream.getvalue()
    assert "\r\x1b[K⠋ job aaaaaaaa… queued 0.0 s" in output
    assert "job aaaaaaaa… processing (0.5 s)\n" in output
    assert any(frame in output for frame in "⠙⠹⠸⠼")
    assert output.endswith("\r\x1b[K")  # the spinner line is gone when it ends
    assert max(fake.sleeps) <= 0.1 + 1e-9  # redrawn every tenth of a second


def test_plain_lines_when_not_a_terminal() -> None:
    stream, fake = io.StringIO(), FakeTime()
    views = [{"id": JOB, "status": "processing"}] * 12 + [completed()]
    waiter = Waiter(scripted(*views), Progress(stream, interactive=False), clock=fake.clock, sleep=fake.sleep)
    waiter.wait(JOB, {"id": JOB, "status": "queued"})
    assert "\r" not in stream.getvalue()
    lines = stream.getvalue().splitlines()
    assert lines[:2] == ["job aaaaaaaa… queued (0.0 s)", "job aaaaaaaa… processing (0.5 s)"]
    assert [re.sub(r"\d+", "N", line) for line in lines[2:]] == ["job aaaaaaaa… still processing after N s"]


def test_polling_backs_off_from_half_a_second_to_five() -> None:
    fake = FakeTime()
    views = [{"id": JOB, "status": "processing"}] * 9 + [completed()]
    waiter = Waiter(
        scripted(*views), Progress(io.StringIO(), interactive=False), clock=fake.clock, sleep=fake.sleep
    )
    waiter.wait(JOB)
    assert [round(s, 3) for s in fake.sleeps] == [0.5, 0.75, 1.125, 1.688, 2.531, 3.797, 5.0, 5.0, 5.0, 5.0]


def test_transient_errors_are_retried_and_others_are_not() -> None:
    fake = FakeTime()
    throttled = ApiError(429, "throttled", "slow down", {"retry-after": "7"})
    stream = io.StringIO()
    waiter = Waiter(
        scripted(NetworkError("cannot reach x"), throttled, completed()),
        Progress(stream, interactive=False),
        clock=fake.clock,
        sleep=fake.sleep,
    )
    assert waiter.wait(JOB)["status"] == "completed"
    assert 7 in fake.sleeps  # Retry-After honoured
    assert "dgt: warning: 429 throttled: slow down (retrying)" in stream.getvalue()

    not_found = ApiError(404, "job_not_found", "no transcription job with this id", {})
    waiter = Waiter(
        scripted(not_found), Progress(io.StringIO(), interactive=False), clock=fake.clock, sleep=fake.sleep
    )
    with pytest.raises(ApiError):
        waiter.wait(JOB)


def test_waiting_times_out() -> None:
    fake = FakeTime()
    waiter = Waiter(
        scripted({"id": JOB, "status": "processing"}),
        Progress(io.StringIO(), interactive=False),
        timeout=12,
        clock=fake.clock,
        sleep=fake.sleep,
    )
    with pytest.raises(WaitTimeout, match="still processing after 12 s"):
        waiter.wait(JOB)
    assert fake.now - 1000.0 == pytest.approx(12)


def test_quiet_prints_nothing() -> None:
    stream, fake = Tty(), FakeTime()
    progress = Progress(stream, interactive=True, enabled=False)
    Waiter(scripted(completed()), progress, clock=fake.clock, sleep=fake.sleep).wait(
        JOB, {"status": "queued"}
    )
    assert stream.getvalue() == ""


# Rendering ---------------------------------------------------------------------------------------


def test_captions_come_from_deepgram_captions() -> None:
    assert render(HELLO, "srt") == "1\n00:00:00,100 --> 00:00:01,200\nHello world.\n"
    vtt = render(HELLO, "vtt")
    assert vtt.startswith("WEBVTT\n\nNOTE\nTranscription provided by Deepgram\nRequest Id: r-1\n")
    assert vtt.endswith("00:00:00.100 --> 00:00:01.200\nHello world.\n")


def test_text_is_each_channels_transcript_or_the_utterances_with_speakers() -> None:
    assert render(HELLO, "text") == "Hello world.\n"
    two_channels = deepgram_result([("Hi.", 0, 1)])
    two_channels["results"]["channels"].append({"alternatives": [{"transcript": "Bye.", "words": []}]})
    assert render(two_channels, "text") == "[channel 0]\nHi.\n[channel 1]\nBye.\n"
    utterances = [
        {"speaker": 0, "channel": 0, "transcript": "Hello.", "start": 0, "end": 1, "words": []},
        {"speaker": 1, "channel": 0, "transcript": "Hi there.", "start": 1, "end": 2, "words": []},
    ]
    assert (
        render(deepgram_result([], utterances=utterances), "text")
        == "[speaker 0] Hello.\n[speaker 1] Hi there.\n"
    )


# Commands against the FAKE API -------------------------------------------------------------------


def test_submit_a_file_uploads_it_with_options_in_the_query(fake_api: FakeApi, tmp_path: Path) -> None:
    audio = tmp_path / "call.mp3"
    audio.write_bytes(b"ID3 audio")
    run = dgt(
        *("--api-url", fake_api.api_url, "--region", "us-east-1", "submit", str(audio)),
        *("-o", "smart_format=true", "-o", "keyterm=Acme", "-o", "keyterm=refund", "-o", "utt_split=0.8"),
        *("-m", "customer=acme", "--idempotency-key", "order-1"),
    )
    assert run.code == 0, run.stderr
    assert json.loads(run.stdout)["id"] == JOB
    [request] = fake_api.requests
    assert (request.method, request.path, request.body) == ("POST", "/v1/transcriptions", b"ID3 audio")
    assert request.headers["Content-Type"] == "audio/mpeg"
    assert request.headers["Idempotency-Key"] == "order-1"
    assert request.query == {
        "smart_format": ["true"],
        "keyterm": ["Acme", "refund"],
        "utt_split": ["0.8"],
        "metadata.customer": ["acme"],
    }


def test_submit_a_url_sends_typed_json(fake_api: FakeApi) -> None:
    run = dgt(
        *("--api-url", fake_api.api_url, "--region", "us-east-1", "submit", "https://example.com/a.wav"),
        *("-o", "smart_format=true", "-o", "keyterm=Acme", "-o", "keyterm=refund", "-o", 'tag="123"'),
        *("-m", "ticket=T-1"),
    )
    assert run.code == 0, run.stderr
    [request] = fake_api.requests
    assert request.headers["Content-Type"] == "application/json"
    assert "Idempotency-Key" not in request.headers
    assert json.loads(request.body) == {
        "url": "https://example.com/a.wav",
        "options": {"smart_format": True, "keyterm": ["Acme", "refund"], "tag": "123"},
        "metadata": {"ticket": "T-1"},
    }


def test_submit_usage_errors(fake_api: FakeApi, tmp_path: Path) -> None:
    base = ("--api-url", fake_api.api_url, "--region", "us-east-1", "submit")
    missing = dgt(*base, str(tmp_path / "missing.wav"))
    assert (missing.code, missing.stderr) == (
        2,
        f"dgt: error: cannot read {tmp_path / 'missing.wav'}: No such file or directory\n",
    )
    (tmp_path / "empty.wav").write_bytes(b"")
    assert dgt(*base, str(tmp_path / "empty.wav")).code == 2
    twice = dgt(*base, "https://example.com/a.wav", "-m", "a=1", "-m", "a=2")
    assert (twice.code, twice.stderr) == (2, "dgt: error: metadata key 'a' given twice\n")
    assert fake_api.requests == []


def test_wait_prints_the_job_and_exits_by_its_outcome(fake_api: FakeApi) -> None:
    base = ("--api-url", fake_api.api_url, "--region", "us-east-1")
    fake_api.scripts[JOB] = [(200, {"id": JOB, "status": "processing"}), (200, completed(result=HELLO))]
    run = dgt(*base, "wait", JOB)
    assert run.code == 0, run.stderr
    assert "result" not in json.loads(run.stdout)
    assert run.stderr.splitlines()[-1] == "job aaaaaaaa… completed after 0.5 s: 2 words, 1.2 s of audio"

    failed = {
        "id": JOB,
        "status": "failed",
        "error": {"code": "REMOTE_CONTENT_ERROR", "message": "bad audio"},
    }
    fake_api.scripts[JOB] = [(200, failed)]
    run = dgt(*base, "wait", JOB, "--full")
    assert run.code == 1
    assert json.loads(run.stdout) == failed
    assert run.stderr.endswith("failed after 0.0 s: REMOTE_CONTENT_ERROR: bad audio\n")


def test_api_and_network_errors_exit_3_with_one_line(fake_api: FakeApi) -> None:
    run = dgt("--api-url", fake_api.api_url, "--region", "us-east-1", "status", "nope")
    assert (run.code, run.stderr) == (3, "dgt: error: 404 job_not_found: no transcription job with this id\n")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed = probe.getsockname()[1]
    run = dgt("--api-url", f"http://127.0.0.1:{closed}/v1", "--region", "us-east-1", "status", JOB)
    assert run.code == 3
    assert run.stderr.startswith(
        f"dgt: error: cannot reach http://127.0.0.1:{closed}/v1/transcriptions/{JOB}"
    )
    assert len(run.stderr.splitlines()) == 1


@pytest.mark.parametrize(("compress", "header"), [(True, True), (True, False), (False, False)])
def test_result_behind_a_result_url_is_downloaded(
    fake_api: FakeApi, tmp_path: Path, compress: bool, header: bool
) -> None:
    url = fake_api.add_blob("r.json", HELLO, compress=compress, header=header)
    fake_api.jobs[JOB] = completed(result_url=url, result_url_expires_in=900)
    output = tmp_path / "out.srt"
    run = dgt(
        "--api-url", fake_api.api_url, "--region", "us-east-1", "result", JOB, "-f", "srt", "-O", str(output)
    )
    assert run.code == 0, run.stderr
    assert output.read_text() == render(HELLO, "srt")
    assert run.stdout == ""
    download = fake_api.requests[-1]
    assert download.path == "/results/r.json"
    assert "Authorization" not in download.headers  # presigned: never signed again


def test_result_of_unfinished_failed_and_empty_jobs(fake_api: FakeApi) -> None:
    base = ("--api-url", fake_api.api_url, "--region", "us-east-1", "result", JOB)
    fake_api.jobs[JOB] = {"id": JOB, "status": "processing"}
    run = dgt(*base)
    assert (run.code, run.stderr) == (
        4,
        f"dgt: error: job {JOB} is still processing: run `dgt wait {JOB}` or add --wait\n",
    )
    fake_api.jobs[JOB] = {"id": JOB, "status": "failed", "error": {"code": "X", "message": "y"}}
    assert dgt(*base).code == 1
    fake_api.jobs[JOB] = completed(result=deepgram_result([]))
    run = dgt(*base, "--format", "vtt")
    assert (run.code, run.stdout) == (0, "WEBVTT\n")
    assert run.stderr == "dgt: warning: the transcript is empty: nothing to caption\n"


def test_list_follows_cursors_with_all(fake_api: FakeApi) -> None:
    for index in range(5):
        fake_api.jobs[f"{index:032d}"] = {"id": f"{index:032d}", "status": "completed"}
    base = ("--api-url", fake_api.api_url, "--region", "us-east-1", "list")
    first = json.loads(dgt(*base, "--limit", "2").stdout)
    assert [job["id"][-1] for job in first["items"]] == ["0", "1"]
    assert first["next_cursor"] == "2"
    every = json.loads(dgt(*base, "--limit", "2", "--all").stdout)
    assert [job["id"][-1] for job in every["items"]] == ["0", "1", "2", "3", "4"]
    assert every["next_cursor"] is None
    assert fake_api.requests[-1].query == {"limit": ["2"], "cursor": ["4"]}
    dgt(*base, "--status", "failed", "--created-after", "2026-11-22T00:00:00Z")
    assert fake_api.requests[-1].query == {"status": ["failed"], "created_after": ["2026-11-22T00:00:00Z"]}


def test_delete_and_notify(fake_api: FakeApi) -> None:
    base = ("--api-url", fake_api.api_url, "--region", "us-east-1")
    fake_api.jobs[JOB] = {"id": JOB, "status": "processing"}
    run = dgt(*base, "notify", JOB)
    assert (run.code, run.stderr) == (4, f"dgt: error: job {JOB} is not finished: the job has not finished\n")
    fake_api.jobs[JOB] = completed()
    run = dgt(*base, "notify", JOB)
    assert (run.code, json.loads(run.stdout)["status"]) == (0, "notification_queued")
    assert fake_api.requests[-1].path == f"/v1/transcriptions/{JOB}/notify"
    run = dgt(*base, "delete", JOB)
    assert (run.code, json.loads(run.stdout)["status"]) == (0, "deleted")
    assert fake_api.requests[-1].method == "DELETE"


# As a process ------------------------------------------------------------------------------------


def test_ctrl_c_stops_waiting_with_130_and_leaves_the_job_alone(fake_api: FakeApi) -> None:
    fake_api.jobs[JOB] = {"id": JOB, "status": "processing"}
    process = subprocess.Popen(
        [sys.executable, "-m", "dgt", "--api-url", fake_api.api_url, "--region", "us-east-1", "wait", JOB],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 30
    while not any(r.method == "GET" for r in fake_api.requests) and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.3)
    process.send_signal(signal.SIGINT)
    stdout, stderr = process.communicate(timeout=30)
    assert process.returncode == 130, stderr
    assert stdout == ""
    assert stderr.endswith(f"dgt: interrupted (job {JOB} is still processing; it carries on)\n")
    assert "Traceback" not in stderr
    assert {r.method for r in fake_api.requests} == {"GET"}


def test_the_console_script_is_installed() -> None:
    script = Path(sys.executable).parent / "dgt"
    if not script.exists():
        pytest.skip("the project is not installed in this environment (make install does it)")
    answer = subprocess.run([script, "--version"], capture_output=True, text=True, check=False)
    assert (answer.returncode, answer.stdout.strip()) == (0, "dgt 0.1.0")
