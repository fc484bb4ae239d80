"""Benchmark 4: end to end on the local stack (`local.stack.LocalStack`).

Real handlers behind the local gateway, moto for AWS, the Deepgram emulator in its own process.
Jobs are submitted over HTTP to the REST API (audio uploaded, as `make demo` does); the emulator
recognises them and delivers the result to the callback Function URL, which stores it and
publishes to SNS, which moto delivers to the SQS subscriber. From the emulator's own records and
SQS's `SentTimestamp` (one clock: the same machine):

* ack latency: the emulator's delivery round trip (connect, POST, the callback's answer), per
  delivery; p50/p95/p99;
* delivery to SQS: from the start of the delivery to the notification's `SentTimestamp`;
* recognition: the emulator's recognition time, reported apart (real PocketSphinx recognition for
  the single jobs, synthetic transcripts for the concurrent run).

Baseline: the same bodies POSTed over loopback, one new connection each like the emulator's
deliveries, to a no-op server built like the local gateway (`http.server`, HTTP/1.1) that reads
the body and answers 200: the transport floor of the machine, measured in the same run.

Where the ack goes: each function runs in a worker process of its own (`local.function_process`),
so the benchmark cannot see the handlers' AWS calls; it measures instead, from its own process
and with the handlers' client configuration (`functions.core.adapters.aws.client`), the round trip
to the stack's moto of each operation the callback makes (through the stack's public interface:
`resources`, `region`, and the `AWS_ENDPOINT_URL` the stack sets while it runs).

Local-stack caveat: each function is one warm execution environment (one worker process, one
invocation at a time), so concurrent deliveries queue on the callback's; in Lambda each would get
its own environment. The 50-job figures therefore show queueing on this machine, not Lambda's
concurrency.
"""

from __future__ import annotations

import http.client
import json
import math
import threading
import time
import uuid
from collections import defaultdict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.error import HTTPError, URLError
from urllib.request import ProxyHandler, Request, build_opener

import boto3

from benchmarks import harness
from benchmarks.report import BenchmarkError, BenchmarkResult, summary_row
from benchmarks.stats import summarize
from functions.core.adapters.aws import client

NAME = "e2e"
TITLE = "End to end on the local stack (loopback HTTP, moto, Deepgram emulator)"

SAMPLE_WAV = harness.REPO_ROOT / "local" / "audio" / "sample.wav"
SINGLE_JOBS = 5
CONCURRENT_JOBS = 50
QUICK_SINGLE_JOBS = 1
QUICK_CONCURRENT_JOBS = 3
SYNTHETIC_SECONDS = 60.0
"""The concurrent run's transcripts: one minute of speech each (about 16 KB of JSON)."""
JOB_TIMEOUT_SECONDS = 120.0
_opener = build_opener(ProxyHandler({}))


@dataclass(frozen=True)
class JobTiming:
    request_id: str
    body_bytes: int
    ack_ms: float
    delivery_to_sqs_ms: float
    recognition_s: float | None
    submit_to_sqs_ms: float
    status_code: int | None


def _post(url: str, body: bytes, headers: dict[str, str]) -> tuple[int, bytes]:
    request = Request(url, data=body, headers=headers, method="POST")  # noqa: S310 - http://127.0.0.1 only
    try:
        with _opener.open(request, timeout=60) as answer:
            return answer.status, answer.read()
    except HTTPError as error:
        return error.code, error.read()


def submit_audio(api_url: str, audio: bytes, key: str, attempts: int = 3) -> str:
    """POST the audio; on a connection failure, retry with the same Idempotency-Key (so a request
    that did get through is not submitted twice). A safety net: the local gateway's listen backlog
    is 128 (`http.server`'s default of 5 was overflowed by 50 clients connecting at once)."""
    headers = {"Content-Type": "audio/wav", "Idempotency-Key": key}
    for attempt in range(1, attempts + 1):
        try:
            status, body = _post(f"{api_url}/transcriptions", audio, headers)
        except (ConnectionError, URLError) as error:
            if attempt == attempts:
                raise BenchmarkError(f"submit failed {attempts} times: {error}") from error
            time.sleep(0.2 * attempt)
            continue
        if status != 202:
            raise BenchmarkError(f"submit answered {status}: {body[:300]!r}")
        return str(json.loads(body)["id"])
    raise AssertionError("unreachable")


def _notifications_by_request(stack: Any, expected: int, timeout: float) -> dict[str, int]:
    """SentTimestamp (ms) of each notification that reached SQS, by Deepgram request id."""
    sqs = boto3.client("sqs", region_name=stack.region)
    found: dict[str, int] = {}
    deadline = time.monotonic() + timeout
    while len(found) < expected and time.monotonic() < deadline:
        answer = sqs.receive_message(
            QueueUrl=stack.resources.queue_url,
            MaxNumberOfMessages=10,
            WaitTimeSeconds=1,
            AttributeNames=["SentTimestamp"],
        )
        for message in answer.get("Messages", []):
            envelope = json.loads(message["Body"])
            notification = json.loads(envelope["Message"])
            found[str(notification["request_id"])] = int(message["Attributes"]["SentTimestamp"])
            sqs.delete_message(QueueUrl=stack.resources.queue_url, ReceiptHandle=message["ReceiptHandle"])
    if len(found) < expected:
        raise BenchmarkError(f"only {len(found)} of {expected} notifications reached SQS in {timeout:g} s")
    return found


def run_jobs(
    stack: Any, audio: bytes, count: int, *, concurrent: bool, synthetic_seconds: float | None = None
) -> list[JobTiming]:
    """Submit `count` jobs (all at once, or one after another) and time each through to SQS;
    `synthetic_seconds` skips recognition for generated transcripts of that length."""
    stack.reset()  # clears the emulator's history and faults, drains the queue
    run_id = uuid.uuid4().hex
    if synthetic_seconds is not None:
        stack.emulator.set_faults(synthetic_duration_seconds=synthetic_seconds)
    if concurrent:
        with ThreadPoolExecutor(max_workers=count) as pool:
            list(
                pool.map(lambda index: submit_audio(stack.api_url, audio, f"{run_id}-{index}"), range(count))
            )
    else:
        for index in range(count):
            submit_audio(stack.api_url, audio, f"{run_id}-{index}")
            if not stack.emulator.wait_idle(JOB_TIMEOUT_SECONDS):
                raise BenchmarkError("the Deepgram emulator did not finish a job in time")
    if not stack.emulator.wait_idle(JOB_TIMEOUT_SECONDS):
        raise BenchmarkError("the Deepgram emulator did not finish its jobs in time")
    sent = _notifications_by_request(stack, count, JOB_TIMEOUT_SECONDS)
    jobs = {job["request_id"]: job for job in stack.emulator.jobs()}
    timings = []
    for delivery in stack.emulator.deliveries():
        if delivery["attempt"] != 1 or delivery["copy"] != 1:
            continue
        if not delivery["delivered"]:
            raise BenchmarkError(f"a delivery failed: {delivery['status_code']} {delivery['error']}")
        request_id = delivery["request_id"]
        job = jobs[request_id]
        timings.append(
            JobTiming(
                request_id=request_id,
                body_bytes=delivery["body_bytes"],
                ack_ms=(delivery["finished_at"] - delivery["started_at"]) * 1000,
                delivery_to_sqs_ms=sent[request_id] - delivery["started_at"] * 1000,
                recognition_s=job["recognition_seconds"],
                submit_to_sqs_ms=sent[request_id] - job["received_at"] * 1000,
                status_code=delivery["status_code"],
            )
        )
    if len(timings) != count:
        raise BenchmarkError(f"{len(timings)} first deliveries for {count} jobs")
    return timings


# Where the local stack's time goes ---------------------------------------------------------------


CALLBACK_CALLS = {"UpdateItem": 2, "Publish": 1}
"""The AWS calls of one accepted delivery of a small body: the finishing write, the publication
and its record (the smoke test checks it against what benchmark 1 records)."""


PROBE_JOB_ID = "benchmark-probe-00000000000000000"
PROBE_REPEATS = 20


def moto_round_trips(stack: Any, repeats: int = PROBE_REPEATS) -> dict[str, list[float]]:
    """Milliseconds of each operation the callback makes, sent from this process to the stack's
    moto with the handlers' client configuration: a probe item in the jobs table (updated, deleted
    at the end) and small messages to the topic (drained by the next `stack.reset()`)."""
    dynamodb, sns = client("dynamodb"), client("sns")
    table = stack.resources.names.jobs_table
    key = {"job_id": {"S": PROBE_JOB_ID}}
    dynamodb.put_item(TableName=table, Item={**key, "status": {"S": "probe"}})
    operations: dict[str, Callable[[], object]] = {
        "UpdateItem": lambda: dynamodb.update_item(
            TableName=table,
            Key=key,
            UpdateExpression="SET #s = :s",
            ExpressionAttributeNames={"#s": "status"},
            ExpressionAttributeValues={":s": {"S": "probe"}},
        ),
        "Publish": lambda: sns.publish(TopicArn=stack.resources.topic_arn, Message='{"probe":true}'),
    }
    timings: dict[str, list[float]] = defaultdict(list)
    try:
        for _ in range(repeats):
            for name, operation in operations.items():
                started = time.perf_counter()
                operation()
                timings[name].append((time.perf_counter() - started) * 1000)
    finally:
        dynamodb.delete_item(TableName=table, Key=key)
    return dict(timings)


# Transport baseline --------------------------------------------------------------------------------


class _NoOp(BaseHTTPRequestHandler):
    """Reads the body and answers 200, written like the local gateway's handler (two writes,
    Nagle's algorithm off)."""

    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        answer = b'{"status":"accepted"}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, format: str, *args: Any) -> None:
        return


class _NoOpServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128  # listen backlog: 50 clients connect at once (the default is 5)


def transport_floor(body: bytes, count: int, *, concurrent: bool) -> list[float]:
    """Milliseconds per POST of `body` to a no-op loopback server, a new connection each."""
    server = _NoOpServer(("127.0.0.1", 0), _NoOp)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    host, port = server.server_address[:2]

    def post(_: int) -> float:
        started = time.perf_counter()
        connection = http.client.HTTPConnection(str(host), port, timeout=30)
        try:
            connection.request("POST", "/", body=body, headers={"Content-Type": "application/json"})
            response = connection.getresponse()
            response.read()
        finally:
            connection.close()
        return (time.perf_counter() - started) * 1000

    try:
        if concurrent:
            with ThreadPoolExecutor(max_workers=count) as pool:
                return list(pool.map(post, range(count)))
        return [post(index) for index in range(count)]
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


# The benchmark ---------------------------------------------------------------------------------------


def _stack_factory() -> Callable[[], Any]:
    # Lazily: local.stack imports moto's server, and it may not exist yet (the benchmark is skipped).
    from local.stack import LocalStack  # noqa: PLC0415

    return lambda: LocalStack(callback_port=0, retry_interval_seconds=1.0, max_delivery_attempts=3)


def run(*, quick: bool = False) -> BenchmarkResult:
    result = BenchmarkResult(NAME, TITLE)
    if not (harness.REPO_ROOT / "local" / "stack.py").is_file():
        result.skipped = "local/stack.py (LocalStack) does not exist yet"
        return result
    singles = QUICK_SINGLE_JOBS if quick else SINGLE_JOBS
    concurrent = QUICK_CONCURRENT_JOBS if quick else CONCURRENT_JOBS
    audio = Path(SAMPLE_WAV).read_bytes()
    result.inputs = {
        "audio": f"{SAMPLE_WAV.relative_to(harness.REPO_ROOT)} ({len(audio):,} B), "
        "uploaded to POST /transcriptions",
        "single_jobs": f"{singles}, one after another, "
        + ("synthetic (quick)" if quick else "real recognition"),
        "concurrent_jobs": f"{concurrent} submitted at once, synthetic {SYNTHETIC_SECONDS:g} s transcripts",
        "stack": "LocalStack(callback_port=0): gateway, each function in its own worker process, moto "
        "server, Deepgram emulator (child process)",
        "baseline": "the same bodies POSTed to a no-op loopback http.server, a new connection each",
    }
    with harness.output_captured(), _stack_factory()() as stack:
        if not quick:  # warm-up: the handlers' clients, moto's tables, the recogniser
            submit_audio(stack.api_url, audio, uuid.uuid4().hex)
            stack.emulator.wait_idle(JOB_TIMEOUT_SECONDS)
        single = run_jobs(
            stack,
            audio,
            singles,
            concurrent=False,
            synthetic_seconds=SYNTHETIC_SECONDS if quick else None,
        )
        many = run_jobs(stack, audio, concurrent, concurrent=True, synthetic_seconds=SYNTHETIC_SECONDS)
        aws_ms = moto_round_trips(stack, 3 if quick else PROBE_REPEATS)
        stack.reset()
    medians = {operation: summarize(values).median for operation, values in sorted(aws_ms.items())}
    result.details["aws_call_ms"] = {
        "median_per_call": {operation: round(value, 3) for operation, value in medians.items()},
        "calls": {operation: len(values) for operation, values in sorted(aws_ms.items())},
        "callback_calls_per_delivery": CALLBACK_CALLS,
        "callback_aws_ms_per_delivery": round(
            sum(medians.get(operation, math.nan) * count for operation, count in CALLBACK_CALLS.items()), 2
        ),
    }
    for label, timings, parallel in (("1 job", single, False), (f"{concurrent} concurrent jobs", many, True)):
        body_bytes = max(timing.body_bytes for timing in timings)
        floor = summarize(
            transport_floor(
                b"x" * body_bytes,
                max(len(timings), 20) if not parallel else len(timings),
                concurrent=parallel,
            )
        )
        ack = summarize([timing.ack_ms for timing in timings])
        to_sqs = summarize([timing.delivery_to_sqs_ms for timing in timings])
        result.rows.append(
            summary_row(
                NAME,
                f"{label}: callback ack ({body_bytes / 1024:,.1f} KB)",
                ack,
                floor,
                "loopback no-op POST",
            )
        )
        result.rows.append(
            summary_row(
                NAME, f"{label}: delivery -> SNS message in SQS", to_sqs, floor, "loopback no-op POST"
            )
        )
        recognition = [timing.recognition_s for timing in timings if timing.recognition_s is not None]
        result.details[label] = {
            "ack_ms": ack.as_dict(),
            "delivery_to_sqs_ms": to_sqs.as_dict(),
            "submit_to_sqs_ms": summarize([timing.submit_to_sqs_ms for timing in timings]).as_dict(),
            "recognition_s": summarize(recognition).as_dict() if recognition else None,
            "transport_floor_ms": floor.as_dict(),
            "body_bytes": body_bytes,
            "jobs": len(timings),
        }
    result.notes.extend(_notes(result))
    return result


def _notes(result: BenchmarkResult) -> list[str]:
    notes = []
    aws = result.details["aws_call_ms"]
    notes.append(
        "Round trips to the stack's moto over loopback, from the benchmark's process with the handlers' "
        "client configuration (median ms per call): "
        + ", ".join(f"{operation} {value:.1f}" for operation, value in aws["median_per_call"].items())
        + f". The callback's {sum(CALLBACK_CALLS.values())} calls per delivery ("
        + ", ".join(f"{count} {operation}" for operation, count in CALLBACK_CALLS.items())
        + f") come to about {aws['callback_aws_ms_per_delivery']:.1f} ms of its ack."
    )
    for label, figures in result.details.items():
        if label == "aws_call_ms":
            continue
        ack: dict[str, float] = figures["ack_ms"]
        recognition = figures["recognition_s"]
        total: dict[str, float] = figures["submit_to_sqs_ms"]
        notes.append(
            f"{label}: ack p50/p95/p99 {ack['median']:.1f}/{ack['p95']:.1f}/{ack['p99']:.1f} ms; "
            + (
                f"recognition (apart) median {recognition['median']:.2f} s, p95 {recognition['p95']:.2f} s; "
                if recognition
                else ""
            )
            + f"submit accepted -> SQS median {total['median'] / 1000:.2f} s"
        )
    notes.append(
        "Local stack: one warm environment (one worker process) per function, one invocation at a time, "
        "so concurrent deliveries queue here; Lambda would run them in parallel."
    )
    return notes
