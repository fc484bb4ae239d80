"""`make demo`: a spoken sample through the whole pipeline, offline, explained as it goes.

Starts the local stack (see `local.stack`), uploads `local/audio/sample.wav` to the REST API like
a client would, waits for the job's notification to reach the SQS queue subscribed to the topic,
reads the job back with `GET /transcriptions/{id}` and prints the transcript, the word timings and
how long each stage took. Then it does the same with the audio given by URL (the emulator fetches
it from a small local file server), and shuts everything down.

Exits 0 only if a real transcript (words recognised from the audio) came through every step.
The components' own logs go to a file named at the end (`--verbose` shows them on stderr).

    python -m local.demo [--callback-port 8080] [--timeout 60] [--skip-url] [--verbose]
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import json
import os
import sys
import tempfile
import threading
import time
import traceback
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, TextIO
from urllib.error import HTTPError, URLError
from urllib.parse import quote
from urllib.request import ProxyHandler, Request, build_opener

import boto3

from local.deepgram_emulator import DeliveryRecord, JobRecord
from local.serve import reserve_stdout
from local.stack import DEFAULT_CALLBACK_PORT, LocalStack

SAMPLE = Path(__file__).resolve().parent / "audio" / "sample.wav"
MAX_WORD_ROWS = 40
_opener = build_opener(ProxyHandler({}))


class DemoFailed(Exception):
    """The pipeline did not deliver a real transcript; the message says where it stopped."""


@dataclass
class Run:
    """One job followed through the pipeline; times are epoch seconds."""

    sent_at: float
    answered_at: float
    job: dict[str, Any]
    notification: dict[str, Any] = field(default_factory=dict)
    queued_at: float = 0.0
    """When the notification entered the SQS queue (its `SentTimestamp`)."""
    received_at: float = 0.0
    view: dict[str, Any] = field(default_factory=dict)
    result: dict[str, Any] = field(default_factory=dict)
    emulator_job: JobRecord | None = None
    """The emulator's record of the request (recognition times)."""
    delivery: DeliveryRecord | None = None
    """The emulator's record of the delivery attempt the callback acknowledged."""

    @property
    def alternative(self) -> dict[str, Any]:
        channels = self.result.get("results", {}).get("channels") or [{}]
        return dict((channels[0].get("alternatives") or [{}])[0])


def parse_arguments(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m local.demo", description="Transcribe a spoken sample through the local pipeline."
    )
    parser.add_argument(
        "--callback-port",
        type=int,
        default=None,
        help=f"callback port (default: {DEFAULT_CALLBACK_PORT}, or a free one if that is taken)",
    )
    parser.add_argument("--audio", type=Path, default=SAMPLE, help="a WAV file (default: the sample)")
    parser.add_argument(
        "--timeout", type=float, default=60.0, help="seconds to wait for each job (default: %(default)s)"
    )
    parser.add_argument("--skip-url", action="store_true", help="skip the submission by URL")
    parser.add_argument("--verbose", action="store_true", help="show the components' logs on stderr")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    arguments = parse_arguments(argv)
    out = reserve_stdout()
    log_path = None if arguments.verbose else _send_logs_to_file()
    started = time.monotonic()
    try:
        _demo(arguments, out)
    except KeyboardInterrupt:
        print("\nInterrupted; everything has been shut down.", file=out)
        return 130
    except Exception as failure:
        if isinstance(failure, DemoFailed | OSError | RuntimeError):
            print(f"\nFAILED: {failure}", file=out)
        else:
            print("\nFAILED with an unexpected error:", file=out)
            traceback.print_exc(file=out)
        if log_path is not None:
            print(f"\nLast lines of the components' log ({log_path}):", file=out)
            print(_tail(log_path, 30), file=out)
        return 1
    print(f"\nDone in {time.monotonic() - started:.1f} s; everything has been shut down.", file=out)
    if log_path is not None:
        print(f"The components' logs are in {log_path}", file=out)
    return 0


def _demo(arguments: argparse.Namespace, out: TextIO) -> None:
    audio = arguments.audio.read_bytes()
    print("Speech-to-text pipeline, offline demo", file=out)
    print("=====================================", file=out)
    print("Starting the local stack: moto (DynamoDB, S3, SNS, SQS, Secrets Manager), the Deepgram", file=out)
    print("emulator (PocketSphinx), API Gateway and the callback Function URL in front of the", file=out)
    print("unchanged Lambda handlers...", file=out)
    begun = time.monotonic()
    with _start_stack(arguments.callback_port, out) as stack:
        print(f"Ready in {time.monotonic() - begun:.1f} s.", file=out)
        _print_endpoints(stack, out)
        run = _submit_upload(stack, audio, arguments.audio.name, out)
        _follow(stack, run, arguments.timeout, out)
        _print_result(run, out)
        _print_timings(run, out)
        if not arguments.skip_url:
            with _file_server(arguments.audio) as url:
                url_run = _submit_by_url(stack, url, out)
                _follow(stack, url_run, arguments.timeout, out)
            _print_url_result(url_run, run, out)
    print("\nA real transcript came through the whole pipeline.", file=out)


# The stack ---------------------------------------------------------------------------------------


@contextlib.contextmanager
def _start_stack(callback_port: int | None, out: TextIO) -> Iterator[LocalStack]:
    """The stack on the given port, or on 8080, or, if 8080 is taken, on a free port."""
    try:
        stack = LocalStack(callback_port=DEFAULT_CALLBACK_PORT if callback_port is None else callback_port)
        stack.start()
    except OSError:
        if callback_port is not None:
            raise
        print(
            f"Port {DEFAULT_CALLBACK_PORT} is taken (is `make serve` running?): the callback listens on a "
            "free port instead, which the emulator allows (Deepgram would not).",
            file=out,
        )
        stack = LocalStack(callback_port=0)
        stack.start()
    try:
        yield stack
    finally:
        stack.stop()


def _print_endpoints(stack: LocalStack, out: TextIO) -> None:
    rows = [
        ("REST API (API Gateway)", stack.api_url),
        ("callback (Function URL)", stack.callback_url),
        ("Deepgram (emulator)", stack.deepgram_url),
        ("AWS (moto)", stack.aws_endpoint_url),
    ]
    for name, url in rows:
        print(f"  {name:<26}{url}", file=out)


# Submitting and following a job --------------------------------------------------------------------


def _submit_upload(stack: LocalStack, audio: bytes, name: str, out: TextIO) -> Run:
    query = "smart_format=true&metadata.source=demo-upload"
    print(f"\n1. Uploading {name} ({len(audio) / 1024:.0f} KB) as the request body", file=out)
    print(f"   POST /v1/transcriptions?{query}   Content-Type: audio/wav", file=out)
    return _submit(f"{stack.api_url}/transcriptions?{query}", audio, {"Content-Type": "audio/wav"}, out)


@contextlib.contextmanager
def _file_server(path: Path) -> Iterator[str]:
    """Serve `path`'s directory on a free loopback port; yields the file's URL."""
    handler = functools.partial(_QuietFiles, directory=str(path.parent))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/{quote(path.name)}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def _submit_by_url(stack: LocalStack, url: str, out: TextIO) -> Run:
    document = {"url": url, "options": {"smart_format": True}, "metadata": {"source": "demo-url"}}
    print(f"\n2. Submitting the same audio by URL; a local file server serves it at {url}", file=out)
    print(f"   POST /v1/transcriptions   {json.dumps(document)}", file=out)
    body = json.dumps(document).encode()
    headers = {"Content-Type": "application/json"}
    return _submit(f"{stack.api_url}/transcriptions", body, headers, out)


def _submit(url: str, body: bytes, headers: dict[str, str], out: TextIO) -> Run:
    sent_at = time.time()
    status, job = _http("POST", url, body, headers)
    answered_at = time.time()
    if status != 202:
        raise DemoFailed(f"the API answered {status} to the submission: {json.dumps(job)}")
    print(
        f"   -> 202 Accepted in {answered_at - sent_at:.2f} s: job {job['id']}, status {job['status']}, "
        f"Deepgram request {job.get('request_id')}",
        file=out,
    )
    return Run(sent_at=sent_at, answered_at=answered_at, job=job)


def _follow(stack: LocalStack, run: Run, timeout: float, out: TextIO) -> None:
    """Wait for the job's notification in SQS, then read the job back through the API."""
    job_id = run.job["id"]
    print("   Waiting for the notification in the SQS queue subscribed to the topic...", file=out)
    _wait_for_notification(stack, run, timeout)
    attributes = run.notification["attributes"]
    print(
        f"   -> notification after {run.received_at - run.sent_at:.2f} s: "
        + ", ".join(f"{name}={value}" for name, value in sorted(attributes.items())),
        file=out,
    )
    status, view = _http("GET", f"{stack.api_url}/transcriptions/{job_id}")
    print(f"   GET /v1/transcriptions/{job_id} -> {status}, status {view.get('status')}", file=out)
    if status != 200 or view.get("status") != "completed":
        raise DemoFailed(f"job {job_id} did not complete: {json.dumps(view)[:500]}")
    run.view = view
    run.result = _result_of(view)
    alternative = run.alternative
    if not str(alternative.get("transcript", "")).strip() or not alternative.get("words"):
        raise DemoFailed(f"job {job_id} completed with an empty transcript")
    _attach_emulator_records(stack, run)


def _attach_emulator_records(stack: LocalStack, run: Run) -> None:
    """The emulator's view of the job: when it recognised the audio, when the callback went out."""
    # The notification is published before the callback answers; the emulator records the
    # delivery once it has the answer.
    stack.emulator.wait_idle(10)
    request_id = run.job.get("request_id")
    run.emulator_job = next((job for job in stack.emulator.jobs() if job["request_id"] == request_id), None)
    run.delivery = next(
        (
            item
            for item in stack.emulator.deliveries()
            if item["request_id"] == request_id and item["delivered"]
        ),
        None,
    )


def _wait_for_notification(stack: LocalStack, run: Run, timeout: float) -> None:
    sqs = boto3.client("sqs", region_name=stack.region)
    queue_url = stack.resources.queue_url
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        response = sqs.receive_message(
            QueueUrl=queue_url,
            MaxNumberOfMessages=10,
            WaitTimeSeconds=1,
            MessageAttributeNames=["All"],
            AttributeNames=["SentTimestamp"],
        )
        for message in response.get("Messages", []):
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
            envelope = json.loads(message["Body"])
            body = json.loads(envelope["Message"])
            if body.get("job_id") != run.job["id"]:
                continue
            run.received_at = time.time()
            run.queued_at = int(message["Attributes"]["SentTimestamp"]) / 1000
            run.notification = {
                "message": body,
                "attributes": {
                    name: value["Value"] for name, value in envelope.get("MessageAttributes", {}).items()
                },
            }
            if body.get("status") != "completed":
                raise DemoFailed(f"the job failed: {json.dumps(body.get('error'))}")
            return
    _, view = _http("GET", f"{stack.api_url}/transcriptions/{run.job['id']}")
    deliveries = [
        item for item in stack.emulator.deliveries() if item["request_id"] == run.job.get("request_id")
    ]
    raise DemoFailed(
        f"no notification for job {run.job['id']} within {timeout:g} s; the job is "
        f"{view.get('status')!r}; the emulator's delivery attempts: "
        + (", ".join(str(item["status_code"] or item["error"]) for item in deliveries) or "none")
    )


def _result_of(view: dict[str, Any]) -> dict[str, Any]:
    """The Deepgram body: inline in the view, or behind a presigned S3 URL for a large one."""
    if "result" in view:
        return dict(view["result"])
    if "result_url" in view:
        with _opener.open(view["result_url"], timeout=30) as response:
            return dict(json.load(response))
    raise DemoFailed("the completed job has neither a result nor a result_url")


# Printing ------------------------------------------------------------------------------------------


def _print_result(run: Run, out: TextIO) -> None:
    alternative = run.alternative
    words = alternative.get("words", [])
    metadata = run.result.get("metadata", {})
    print("\n   Transcript:", file=out)
    print(f"     {alternative.get('transcript', '')}", file=out)
    print(
        f"\n   {len(words)} words, {metadata.get('duration', 0):.1f} s of audio, "
        f"confidence {alternative.get('confidence', 0):.2f}:",
        file=out,
    )
    print(f"     {'word':<14}{'start':>7}{'end':>8}{'confidence':>12}", file=out)
    for word in words[:MAX_WORD_ROWS]:
        text = word.get("punctuated_word") or word.get("word", "")
        print(
            f"     {text:<14}{word['start']:>6.2f}s{word['end']:>7.2f}s{word['confidence']:>12.2f}",
            file=out,
        )
    if len(words) > MAX_WORD_ROWS:
        print(f"     ... and {len(words) - MAX_WORD_ROWS} more", file=out)


def _print_timings(run: Run, out: TextIO) -> None:
    emulator, delivery = run.emulator_job, run.delivery
    if emulator is None or delivery is None:
        return
    called, acknowledged = delivery["started_at"], delivery["finished_at"]
    audio_seconds = run.result.get("metadata", {}).get("duration", 0)
    rows: list[tuple[float, str, float | None]] = [
        (run.sent_at, "upload sent to the API", None),
        (
            run.answered_at,
            "submit answered 202: job in DynamoDB, accepted by Deepgram",
            run.answered_at - run.sent_at,
        ),
        (
            emulator["recognition_finished_at"] or called,
            f"Deepgram emulator recognised {audio_seconds:.1f} s of audio",
            emulator["recognition_seconds"],
        ),
        (called, f"callback sent to the Function URL (attempt {delivery['attempt']})", None),
        (run.queued_at, "result stored, notification published to SNS, now in SQS", run.queued_at - called),
        (acknowledged, f"callback acknowledged with {delivery['status_code']}", acknowledged - called),
        (
            run.received_at,
            "notification received from SQS by this demo (total)",
            run.received_at - run.sent_at,
        ),
    ]
    print("\n   How long each stage took (the clock starts when the upload is sent):", file=out)
    print(f"     {'at':>7}   {'stage':<62}{'took':>8}", file=out)
    for moment, stage, took in rows:
        duration = f"{took:.2f} s" if took is not None else ""
        print(f"     {moment - run.sent_at:5.2f} s   {stage:<62}{duration:>8}".rstrip(), file=out)
    print(
        "     (a function's first invocation includes its cold start: settings, secrets, clients)", file=out
    )


def _print_url_result(run: Run, upload: Run, out: TextIO) -> None:
    transcript = str(run.alternative.get("transcript", ""))
    same = transcript == upload.alternative.get("transcript")
    print(f"\n   Transcript: {transcript}", file=out)
    print(
        f"   {len(run.alternative.get('words', []))} words; "
        f"{'the same' if same else 'not the same'} transcript as the upload; "
        f"total {run.received_at - run.sent_at:.2f} s from submission to notification.",
        file=out,
    )


# Plumbing -----------------------------------------------------------------------------------------


def _http(
    method: str, url: str, body: bytes | None = None, headers: dict[str, str] | None = None
) -> tuple[int, dict[str, Any]]:
    request = Request(url, data=body, headers=headers or {}, method=method)
    try:
        with _opener.open(request, timeout=60) as response:
            return response.status, dict(json.load(response))
    except HTTPError as error:
        return error.code, dict(json.loads(error.read() or b"{}"))
    except URLError as error:
        raise DemoFailed(f"{method} {url} failed: {error.reason}") from error


class _QuietFiles(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        """Silenced: the demo's output says what was fetched."""


def _send_logs_to_file() -> Path:
    """Point stdout and stderr (file descriptors, so child processes follow) at a log file."""
    descriptor, name = tempfile.mkstemp(prefix="deepgram-demo-", suffix=".log")
    sys.stderr.flush()
    os.dup2(descriptor, sys.stdout.fileno())
    os.dup2(descriptor, sys.stderr.fileno())
    os.close(descriptor)
    return Path(name)


def _tail(path: Path, lines: int) -> str:
    text = path.read_text(errors="replace").splitlines()
    return "\n".join(line[:300] for line in text[-lines:])


if __name__ == "__main__":
    raise SystemExit(main())
