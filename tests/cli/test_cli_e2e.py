"""`dgt` end to end against the local stack (the real handlers, moto, the Deepgram emulator).

The stack is the module-scoped `LocalStack` of `tests/e2e/conftest.py` (its fixtures are
imported by `tests/cli/conftest.py`); the CLI runs in-process
(`main()`), and once as a real process. The stack sets fake AWS credentials in the environment,
which the CLI signs with (the local gateway does not check signatures).
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from threading import Thread
from typing import Any

import pytest

from tests.cli.conftest import Run, dgt
from tests.e2e.conftest import SAMPLE_WAV, Pipeline

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
SRT_CUE = re.compile(r"^1\n\d\d:\d\d:\d\d,\d{3} --> \d\d:\d\d:\d\d,\d{3}\n\S")
VTT_CUE = re.compile(r"\n\n\d\d:\d\d:\d\d\.\d{3} --> \d\d:\d\d:\d\d\.\d{3}\n\S")


@pytest.fixture
def cli(pipeline: Pipeline, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Any:
    """`dgt --local ...` against this test's stack (through an endpoints file, as `make serve` writes)."""
    endpoints = tmp_path / "endpoints.json"
    endpoints.write_text(json.dumps(pipeline.stack.describe()))
    monkeypatch.setenv("DGT_ENDPOINTS_FILE", str(endpoints))
    monkeypatch.delenv("DGT_API_URL", raising=False)
    return partial(dgt, "--local")


@contextmanager
def file_server(directory: Path) -> Iterator[str]:
    server = ThreadingHTTPServer(
        ("127.0.0.1", 0), partial(SimpleHTTPRequestHandler, directory=str(directory))
    )
    thread = Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def job_of(run: Run) -> dict[str, Any]:
    assert run.stdout, run.stderr
    return dict(json.loads(run.stdout))


def test_submit_wait_then_captions_and_text(cli: Any) -> None:
    run = cli("submit", str(SAMPLE_WAV), "-o", "smart_format=true", "-m", "via=dgt", "--wait")
    assert run.code == 0, run.stderr
    job = job_of(run)
    assert job["status"] == "completed"
    assert job["metadata"] == {"via": "dgt"}
    assert job["options"] == {"smart_format": True}
    assert job["source"]["type"] == "upload"
    assert "result" not in job  # left out of the printed job; `dgt result` prints it
    assert re.search(r"completed after [\d.]+ s: \d+ words, 6\.0 s of audio\n$", run.stderr)
    assert "\r" not in run.stderr  # not a terminal: plain lines

    text = cli("result", job["id"])
    assert text.code == 0, text.stderr
    assert "leave a message" in text.stdout.lower()

    srt = cli("result", job["id"], "--format", "srt")
    assert srt.code == 0, srt.stderr
    assert SRT_CUE.match(srt.stdout), srt.stdout

    vtt = cli("result", job["id"], "--format", "vtt")
    assert vtt.code == 0, vtt.stderr
    assert vtt.stdout.startswith("WEBVTT\n")
    assert f"Request Id: {job['request_id']}" in vtt.stdout
    assert VTT_CUE.search(vtt.stdout), vtt.stdout

    raw = cli("result", job["id"], "--format", "json")
    assert json.loads(raw.stdout)["metadata"]["request_id"] == job["request_id"]

    status = cli("status", job["id"], "--full")
    assert status.code == 0
    assert job_of(status)["result"] == json.loads(raw.stdout)


def test_submit_by_url_then_status_and_wait(cli: Any) -> None:
    with file_server(SAMPLE_WAV.parent) as base:
        run = cli(
            "submit", f"{base}/{SAMPLE_WAV.name}", "-o", "smart_format=true", "--idempotency-key", "k-1"
        )
        assert run.code == 0, run.stderr
        job = job_of(run)
        assert job["source"] == {"type": "url", "url": f"{base}/{SAMPLE_WAV.name}"}
        again = cli(
            "submit", f"{base}/{SAMPLE_WAV.name}", "-o", "smart_format=true", "--idempotency-key", "k-1"
        )
        assert job_of(again)["id"] == job["id"]  # the same job, not a second Deepgram request

        waited = cli("wait", job["id"], "--timeout", "60")
    assert waited.code == 0, waited.stderr
    assert job_of(waited)["status"] == "completed"
    status = cli("status", job["id"])
    assert (status.code, job_of(status)["status"]) == (0, "completed")


def test_a_failed_job_exits_1(cli: Any, tmp_path: Path) -> None:
    junk = tmp_path / "junk.wav"
    junk.write_bytes(b"this is not a WAV file")
    run = cli("submit", str(junk), "--wait")
    assert run.code == 1, run.stderr
    job = job_of(run)
    assert job["status"] == "failed"
    assert re.search(r"failed after [\d.]+ s: \S+", run.stderr)

    result = cli("result", job["id"], "--format", "srt")
    assert result.code == 1
    assert result.stderr.startswith(f"dgt: error: job {job['id']} failed: ")
    assert result.stdout == ""


def test_a_large_result_comes_through_its_result_url(cli: Any, pipeline: Pipeline) -> None:
    pipeline.emulator.set_faults(pad_result_to_bytes=3_000_000, synthetic_duration_seconds=60)
    run = cli("submit", str(SAMPLE_WAV), "--wait", "--full")
    assert run.code == 0, run.stderr
    assert "result_url" in job_of(run)
    srt = cli("result", job_of(run)["id"], "--format", "srt")
    assert srt.code == 0, srt.stderr
    assert SRT_CUE.match(srt.stdout)


def test_errors_and_usage(cli: Any, tmp_path: Path) -> None:
    unknown = cli("submit", str(SAMPLE_WAV), "-o", "frobnicate=1")
    assert (unknown.code, unknown.stdout) == (3, "")
    assert (
        unknown.stderr == "dgt: error: 400 invalid_request: options.frobnicate: unknown option 'frobnicate'\n"
    )

    missing = cli("status", "0" * 32)
    assert missing.code == 3
    assert missing.stderr.startswith("dgt: error: 404 ")

    assert cli("submit", str(tmp_path / "nothing.wav")).code == 2
    assert cli("result", "x", "--format", "pdf").code == 2


def test_as_a_process_with_the_api_url(pipeline: Pipeline) -> None:
    answer = subprocess.run(
        [sys.executable, "-m", "dgt", "--api-url", pipeline.stack.api_url, "submit", str(SAMPLE_WAV)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert answer.returncode == 0, answer.stderr
    job = json.loads(answer.stdout)
    assert job["status"] in ("queued", "processing")
    captions = subprocess.run(
        [
            sys.executable,
            "-m",
            "dgt",
            "--api-url",
            pipeline.stack.api_url,
            "result",
            job["id"],
            "--wait",
            "-f",
            "vtt",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
    )
    assert captions.returncode == 0, captions.stderr
    assert VTT_CUE.search(captions.stdout)


def test_list_notify_and_delete(cli: Any, pipeline: Pipeline) -> None:
    since = datetime.now(UTC).isoformat()
    pipeline.emulator.set_faults(synthetic_duration_seconds=3)
    first = job_of(cli("submit", str(SAMPLE_WAV), "--wait"))
    second = job_of(cli("submit", str(SAMPLE_WAV), "--wait"))
    assert {first["status"], second["status"]} == {"completed"}
    assert len(pipeline.wait_for_notifications(2)) == 2

    page = cli("list", "--created-after", since, "--limit", "1")
    assert page.code == 0, page.stderr
    listed = json.loads(page.stdout)
    assert [item["id"] for item in listed["items"]] == [second["id"]]
    assert listed["next_cursor"]
    rest = cli("list", "--created-after", since, "--limit", "1", "--cursor", listed["next_cursor"])
    assert [item["id"] for item in json.loads(rest.stdout)["items"]] == [first["id"]]
    every = cli("list", "--created-after", since, "--status", "completed", "--limit", "1", "--all")
    assert every.code == 0, every.stderr
    assert json.loads(every.stdout) == {
        "items": [json.loads(page.stdout)["items"][0], json.loads(rest.stdout)["items"][0]],
        "next_cursor": None,
    }

    notified = cli("notify", first["id"])
    assert notified.code == 0, notified.stderr
    answer = json.loads(notified.stdout)
    assert (answer["job_id"], answer["event_type"]) == (first["id"], "transcription.completed")
    (redelivered,) = pipeline.wait_for_notifications(1)
    assert redelivered["message"]["redelivery"] is True
    assert redelivered["message"]["job_id"] == first["id"]

    deleted = cli("delete", first["id"])
    assert deleted.code == 0, deleted.stderr
    assert job_of(deleted)["status"] == "deleted"
    (gone,) = pipeline.wait_for_notifications(1)
    assert (gone["message"]["job_id"], gone["message"]["event_type"]) == (
        first["id"],
        "transcription.deleted",
    )
    status = cli("status", first["id"])
    assert (status.code, job_of(status)["status"]) == (0, "deleted")
    assert cli("result", first["id"]).code == 1  # a deleted job has no result
    again = cli("delete", first["id"])
    assert (again.code, job_of(again)["status"]) == (0, "deleted")
    listed_deleted = json.loads(cli("list", "--status", "deleted", "--created-after", since).stdout)
    assert [item["id"] for item in listed_deleted["items"]] == [first["id"]]


def test_notify_of_a_running_job_exits_4_and_bad_listing_arguments_exit_3(
    cli: Any, pipeline: Pipeline
) -> None:
    pipeline.emulator.set_faults(fail_next_deliveries=1000)  # its result never arrives
    job = job_of(cli("submit", str(SAMPLE_WAV)))

    running = cli("notify", job["id"])
    assert (running.code, running.stdout) == (4, "")
    assert "not finished" in running.stderr

    bad_cursor = cli("list", "--cursor", "not-a-cursor")
    assert bad_cursor.code == 3
    assert bad_cursor.stderr.startswith("dgt: error: 400 invalid_cursor")
    missing = cli("delete", "0" * 32)
    assert missing.code == 3
    assert missing.stderr.startswith("dgt: error: 404 job_not_found")
