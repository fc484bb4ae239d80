"""`make serve`: `python -m local.serve` prints its endpoints as one JSON line, serves, exits cleanly."""

from __future__ import annotations

import json
import select
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from deepgram import DeepgramClient
from deepgram.environment import DeepgramClientEnvironment

from tests.e2e.conftest import SAMPLE_WAV, http

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
EXPECTED_KEYS = {
    "api_url",
    "callback_url",
    "deepgram_url",
    "deepgram_api_key",
    "aws_endpoint_url",
    "region",
    "table_name",
    "bucket_name",
    "topic_arn",
    "queue_url",
}


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[str], dict[str, Any]]]:
    """`python -m local.serve` on free ports, its JSON line parsed; always terminated afterwards."""
    with (tmp_path / "serve.log").open("w") as log:
        process = subprocess.Popen(
            [
                *(sys.executable, "-m", "local.serve", "--callback-port", "0", "--log-level", "WARNING"),
                *("--endpoints-file", str(tmp_path / "endpoints.json")),  # not the developer's
            ],
            cwd=ROOT,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=log,
            text=True,
        )
        try:
            assert process.stdout is not None
            ready, _, _ = select.select([process.stdout], [], [], 60)
            assert ready, "no endpoints line within 60 s"
            yield process, json.loads(process.stdout.readline())
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()


def test_serve_prints_one_json_line_serves_clients_and_stops_on_sigterm(
    serve: tuple[subprocess.Popen[str], dict[str, Any]], tmp_path: Path
) -> None:
    process, endpoints = serve
    assert set(endpoints) == EXPECTED_KEYS
    endpoints_file = tmp_path / "endpoints.json"  # the --endpoints-file the fixture gave (same tmp_path)
    assert json.loads(endpoints_file.read_text()) == endpoints  # for `dgt --local`
    assert endpoints["api_url"].endswith("/v1")

    # A client of the API, as with curl.
    audio = SAMPLE_WAV.read_bytes()
    submitted = http(
        "POST",
        f"{endpoints['api_url']}/transcriptions?smart_format=true&metadata.via=serve",
        audio,
        {"Content-Type": "audio/wav"},
    )
    assert submitted.status == 202, submitted.body
    job = submitted.json()

    # The Deepgram SDK against the emulator, with the printed key (no callback: a synchronous result).
    base = endpoints["deepgram_url"]
    websocket = base.replace("http://", "ws://")
    client = DeepgramClient(
        api_key=endpoints["deepgram_api_key"],
        environment=DeepgramClientEnvironment(
            base=base, production=websocket, agent=websocket, agent_rest=base
        ),
    )
    response = client.listen.v1.media.transcribe_file(request=audio, smart_format=True)
    assert len(response.results.channels[0].alternatives[0].words) > 5

    # A subscriber of the notification queue, with boto3 at the printed AWS endpoint.
    sqs = boto3.client("sqs", endpoint_url=endpoints["aws_endpoint_url"], region_name=endpoints["region"])
    deadline, notification = time.monotonic() + 60, None
    while notification is None and time.monotonic() < deadline:
        messages = sqs.receive_message(
            QueueUrl=endpoints["queue_url"], WaitTimeSeconds=1, MessageAttributeNames=["All"]
        ).get("Messages", [])
        notification = next((json.loads(m["Body"]) for m in messages), None)
    assert notification is not None, "no notification within 60 s"
    assert json.loads(notification["Message"])["job_id"] == job["id"]
    assert notification["MessageAttributes"]["metadata.via"]["Value"] == "serve"

    view = http("GET", f"{endpoints['api_url']}/transcriptions/{job['id']}").json()
    assert view["status"] == "completed"

    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=15) == 0
    assert not endpoints_file.exists()
    assert process.stdout is not None
    assert process.stdout.read() == ""  # nothing but the one line ever reached stdout
