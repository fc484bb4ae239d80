"""Benchmark 5: AWS cost per 1,000 jobs for 1-minute, 10-minute and 1-hour recordings.

Inputs measured in this run, in-process against the zero-latency stub (benchmark 1's harness):

* the callback's duration on a realistic body for each recording (words only, about 16 KB per
  audio minute; or diarize + utterances + paragraphs, about 48 KB per minute), and what it stores:
  the exact DynamoDB writes (item sizes follow from the requests, replayed on the job item) and,
  past the inline limits, the S3 object;
* the submit function's duration (URL source, Idempotency-Key, Deepgram on loopback) and writes;
* the status function's duration reading that job back (inline result or presigned URL);
* for comparison, the same callback and status read under the storage settings that preceded
  `functions.core.result_storage` (gzip 6, inline up to 300 KB), patched in for that measurement
  only (`benchmarks.callback.previous_storage`).

The AWS prices are list prices (`PRICES`, us-east-1), and the model's assumptions (`ASSUMPTIONS`)
turn in-process CPU time into billed Lambda time: Lambda gives a function CPU in proportion to its
memory (one vCPU at 1,769 MB), so CPU time measured on one core here is scaled by 1769 / memory;
every AWS or Deepgram call then adds an assumed network latency. Both are stated in the output.
"""

from __future__ import annotations

import base64
import functools
import json
import math
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from benchmarks import harness
from benchmarks.callback import (
    PREVIOUS_GZIP_LEVEL,
    PREVIOUS_INLINE_MAX_STORED_BYTES,
    CallbackBench,
    Case,
    Handler,
    previous_storage,
)
from benchmarks.report import BenchmarkError, BenchmarkResult, Row
from benchmarks.stats import summarize
from benchmarks.stub import JournalEntry, LatencyModel, answer_get_item, apply_update
from functions.core import result_storage
from functions.core.adapters import job_item
from functions.core.settings import DEFAULT_RETENTION_DAYS
from functions.status import handler as status_handler
from functions.submit import handler as submit_handler
from local.events import LambdaContext

NAME = "cost"
TITLE = "AWS cost per 1,000 jobs (measured durations and item sizes, us-east-1 list prices)"

GB = 1024**3


@dataclass(frozen=True)
class Price:
    key: str
    usd: float
    unit: str
    source: str


PRICES_AS_OF = "2026-11-22"
PRICES_STATUS = (
    "us-east-1 LIST PRICES TO CHECK: recorded on the date above from AWS's public pricing pages as "
    "known to this benchmark (not fetched at run time); free tiers and volume discounts ignored"
)
PRICES: tuple[Price, ...] = (
    Price(
        "lambda_gb_s_arm64",
        0.0000133334,
        "per GB-second (arm64, first tier)",
        "aws.amazon.com/lambda/pricing",
    ),
    Price(
        "lambda_gb_s_x86_64",
        0.0000166667,
        "per GB-second (x86_64, first tier)",
        "aws.amazon.com/lambda/pricing",
    ),
    Price("lambda_request", 0.20 / 1e6, "per request", "aws.amazon.com/lambda/pricing"),
    Price(
        "apigw_rest_request",
        3.50 / 1e6,
        "per REST API request (first 333 M/month)",
        "aws.amazon.com/api-gateway/pricing",
    ),
    Price(
        "dynamodb_wru",
        0.625 / 1e6,
        "per write request unit (on-demand, 1 KB)",
        "aws.amazon.com/dynamodb/pricing",
    ),
    Price(
        "dynamodb_rru",
        0.125 / 1e6,
        "per read request unit (on-demand, 4 KB strongly consistent)",
        "aws.amazon.com/dynamodb/pricing",
    ),
    Price(
        "dynamodb_storage_gb_month",
        0.25,
        "per GB-month (Standard table class)",
        "aws.amazon.com/dynamodb/pricing",
    ),
    Price("s3_put", 0.005 / 1000, "per PUT request (S3 Standard)", "aws.amazon.com/s3/pricing"),
    Price("s3_get", 0.0004 / 1000, "per GET request (S3 Standard)", "aws.amazon.com/s3/pricing"),
    Price(
        "s3_storage_gb_month", 0.023, "per GB-month (S3 Standard, first 50 TB)", "aws.amazon.com/s3/pricing"
    ),
    Price("sns_publish", 0.50 / 1e6, "per publish (per 64 KB chunk)", "aws.amazon.com/sns/pricing"),
    Price(
        "logs_ingest_gb",
        0.50,
        "per GB ingested (CloudWatch Logs, standard)",
        "aws.amazon.com/cloudwatch/pricing",
    ),
    Price(
        "data_out_gb",
        0.09,
        "per GB out to the internet (first 10 TB/month)",
        "aws.amazon.com/ec2/pricing/on-demand",
    ),
)
PRICE = {price.key: price.usd for price in PRICES}

_LATENCY = LatencyModel()
"""The callback benchmark's round-trip model (defaults and sources in `benchmarks.stub.LatencyModel`)."""

ASSUMPTIONS: dict[str, Any] = {
    "vcpu_memory_mb": 1769,
    "latency_ms": {
        "dynamodb": _LATENCY.call_ms["dynamodb"],
        "sns": _LATENCY.call_ms["sns"],
        "s3_put_base": _LATENCY.call_ms["s3"],
        "secrets-manager": 0.0,
        "deepgram": 300.0,
    },
    "s3_put_mb_per_s": _LATENCY.s3_mb_per_s,
    "status_reads_per_job": 1,
    "result_downloads_per_job": 1,
    "platform_log_bytes_per_invocation": 450,
    "fallback_memory_mb": {"submit": 512, "callback": 256, "status": 256},
    "fallback_architecture": "arm64",
}
"""How measured CPU time becomes billed time, and what each job does besides the measured calls.

AWS latencies are the round-trip model's defaults (`LatencyModel`); Secrets Manager reads are
cached for 5 minutes (SECRETS_MAX_AGE_SECONDS): per job, none."""


@dataclass(frozen=True)
class Recording:
    profile: str
    minutes: int

    @property
    def diarized(self) -> bool:
        return self.profile == "diarized"

    @property
    def label(self) -> str:
        length = f"{self.minutes} min" if self.minutes < 60 else f"{self.minutes // 60} h"
        return f"{self.profile}, {length}"


PROFILES = ("words only", "diarized")
RECORDINGS = tuple(Recording(profile, minutes) for profile in PROFILES for minutes in (1, 10, 60))
QUICK_RECORDINGS = (Recording("words only", 1),)
REPEATS = 20
QUICK_REPEATS = 2


# DynamoDB item sizes ---------------------------------------------------------------------------------------


_SCALAR_SIZES: dict[str, Callable[[Any], int]] = {
    "S": lambda inner: len(str(inner).encode()),
    # Numbers: about one byte per two significant digits, plus one.
    "N": lambda inner: (len(str(inner).lstrip("-").replace(".", "").strip("0") or "0") + 1) // 2 + 1,
    "B": lambda inner: len(base64.b64decode(inner)),
    "BOOL": lambda _inner: 1,
    "NULL": lambda _inner: 1,
}


def value_size(value: Mapping[str, Any]) -> int:
    """DynamoDB's size of one attribute value (DynamoDB JSON), per its documented rules."""
    ((kind, inner),) = value.items()
    if kind in _SCALAR_SIZES:
        return _SCALAR_SIZES[kind](inner)
    if kind in ("SS", "NS", "BS"):
        return sum(_SCALAR_SIZES[kind[0]](element) for element in inner)
    if kind == "M":
        return 3 + sum(len(name.encode()) + value_size(element) + 1 for name, element in inner.items())
    if kind == "L":
        return 3 + sum(value_size(element) + 1 for element in inner)
    raise ValueError(f"unknown DynamoDB type {kind}")


def item_size(item: Mapping[str, Any]) -> int:
    return sum(len(name.encode()) + value_size(value) for name, value in item.items())


def write_units(before: int, after: int) -> int:
    """WRU of one standard write: the larger of the item's sizes before and after, per started KB."""
    return max(1, math.ceil(max(before, after) / 1024))


def read_units(size: int) -> int:
    """RRU of one strongly consistent read: per started 4 KB."""
    return max(1, math.ceil(size / 4096))


@dataclass
class Usage:
    """What one invocation did to DynamoDB, S3 and SNS (from the stub's journal)."""

    wru: int = 0
    rru: int = 0
    s3_puts: int = 0
    s3_bytes: int = 0
    sns_publishes: int = 0
    calls: dict[str, int] | None = None
    writes: list[tuple[str, int]] | None = None
    """Each DynamoDB write, as (operation and first attribute set, WRU)."""


def replay(journal: Sequence[JournalEntry], items: dict[str, dict[str, Any]]) -> Usage:
    """Units consumed by a journal of requests, replayed on `items` (key -> item, updated in place)."""
    usage = Usage(calls={}, writes=[])
    assert usage.calls is not None
    assert usage.writes is not None
    for service, operation, body, size in journal:
        usage.calls[f"{service}.{operation}"] = usage.calls.get(f"{service}.{operation}", 0) + 1
        if service == "dynamodb":
            request = json.loads(body)
            key = json.dumps(request.get("Key") or _key_of(request), sort_keys=True)
            before = items.get(key, {})
            if operation == "GetItem":
                usage.rru += read_units(item_size(before))
            elif operation in ("PutItem", "UpdateItem"):
                after = request["Item"] if operation == "PutItem" else apply_update(before, request)
                units = write_units(item_size(before), item_size(after))
                usage.wru += units
                usage.writes.append((_describe_write(operation, request), units))
                items[key] = after
        elif service == "s3" and operation == "PutObject":
            usage.s3_puts += 1
            usage.s3_bytes += size
        elif service == "sns" and operation == "Publish":
            usage.sns_publishes += 1
    return usage


def _describe_write(operation: str, request: Mapping[str, Any]) -> str:
    """`PutItem <table>` or `UpdateItem SET <first attribute>`: which write of a sequence this is."""
    if operation == "PutItem":
        return f"PutItem {request.get('TableName')}"
    names = request.get("ExpressionAttributeNames", {})
    first = str(request["UpdateExpression"]).split()[1]
    return f"UpdateItem SET {names.get(first, first)}"


def _key_of(request: Mapping[str, Any]) -> dict[str, Any]:
    item = request.get("Item", {})
    return {name: value for name, value in item.items() if name in ("job_id", "id")}


# Measurements ---------------------------------------------------------------------------------------------


@dataclass
class Measured:
    ms: float
    p95_ms: float
    usage: Usage
    log_bytes: float
    extra: dict[str, Any]


def _time(invoke: Callable[[], object], repeats: int, warmup: int = 2) -> tuple[float, float]:
    with harness.stdout_redirected():
        for _ in range(warmup):
            invoke()
        samples = []
        for _ in range(repeats):
            started = time.perf_counter_ns()
            invoke()
            samples.append((time.perf_counter_ns() - started) / 1e6)
    summary = summarize(samples)
    return summary.median, summary.p95


def _journal(bench: CallbackBench, invoke: Callable[[], object]) -> list[JournalEntry]:
    bench.stub.journal = []
    try:
        with harness.stdout_redirected():
            invoke()
        return bench.stub.journal
    finally:
        bench.stub.journal = None


def _log_bytes(invoke: Callable[[], object]) -> float:
    with tempfile.NamedTemporaryFile(prefix="bench-logs-") as sink:
        with harness.stdout_redirected(sink.name):
            invoke()
        return float(sink.seek(0, 2))


def measure_submit(bench: CallbackBench, repeats: int) -> Measured:
    event = harness.submit_event()
    handler: Handler = submit_handler.lambda_handler

    def invoke() -> None:
        response = handler(event, LambdaContext("deepgram-transcription-submit", 512))
        if response["statusCode"] != 202:
            raise BenchmarkError(f"submit answered {response['statusCode']}: {response.get('body')}")

    median, p95 = _time(invoke, repeats)
    journal = _journal(bench, invoke)
    items: dict[str, dict[str, Any]] = {}
    usage = replay(journal, items)
    return Measured(median, p95, usage, _log_bytes(invoke), {"job_item_bytes": _job_item_bytes(items)})


def _job_item_bytes(items: Mapping[str, dict[str, Any]]) -> int:
    sizes = [item_size(item) for item in items.values() if "job_id" in item]
    return max(sizes, default=0)


def measure_callback(bench: CallbackBench, case: Case, repeats: int) -> tuple[Measured, dict[str, Any]]:
    """The callback on `case`; also the job item as it stands afterwards (for the status read)."""
    bench.activate(case)
    median, p95 = _time(functools.partial(bench.invoke_real, case), repeats)
    journal = _journal(bench, functools.partial(bench.invoke_real, case))
    key = json.dumps({"job_id": case.item["job_id"]}, sort_keys=True)
    items = {key: dict(case.item)}
    usage = replay(journal, items)
    stored = items[key]
    return (
        Measured(
            median,
            p95,
            usage,
            _log_bytes(functools.partial(bench.invoke_real, case)),
            {"item_bytes_after": item_size(stored), "body_bytes": case.size},
        ),
        stored,
    )


def measure_status(bench: CallbackBench, job_id: str, item: dict[str, Any], repeats: int) -> Measured:
    answer_get_item(bench.stub, item)
    event = harness.status_event(job_id)
    sizes: list[int] = []

    handler: Handler = status_handler.lambda_handler

    def invoke() -> None:
        response = handler(event, LambdaContext("deepgram-transcription-status", 256))
        if response["statusCode"] != 200:
            raise BenchmarkError(
                f"status answered {response['statusCode']}: {str(response.get('body'))[:300]}"
            )
        sizes.append(len(response.get("body") or ""))

    median, p95 = _time(invoke, repeats)
    journal = _journal(bench, invoke)
    items = {json.dumps({"job_id": item["job_id"]}, sort_keys=True): item}
    usage = replay(journal, items)
    return Measured(median, p95, usage, _log_bytes(invoke), {"response_bytes": sizes[-1]})


# Cost model ---------------------------------------------------------------------------------------------


def configured_functions() -> tuple[dict[str, int], str, str]:
    """Memory per function and architecture, read from `infra/` (or the stated assumption)."""
    try:  # lazily: importing infra/ starts the CDK's Node process, and infra/ may be absent
        from infra.api import STATUS_MEMORY_MB, SUBMIT_MEMORY_MB  # noqa: PLC0415
        from infra.callback import MEMORY_MB as CALLBACK_MEMORY_MB  # noqa: PLC0415
        from infra.functions import ARCHITECTURE  # noqa: PLC0415
    except Exception as error:  # infra/ missing or not importable: state the assumption instead
        return (
            dict(ASSUMPTIONS["fallback_memory_mb"]),
            str(ASSUMPTIONS["fallback_architecture"]),
            f"assumed ({type(error).__name__}: {error})",
        )
    memory = {
        "submit": int(SUBMIT_MEMORY_MB),
        "callback": int(CALLBACK_MEMORY_MB),
        "status": int(STATUS_MEMORY_MB),
    }
    return memory, str(ARCHITECTURE.name), "infra/api.py, infra/callback.py, infra/functions.py"


def billed_ms(cpu_ms: float, memory_mb: int, usage: Usage, *, deepgram_calls: int = 0) -> int:
    """Billed Lambda milliseconds: CPU time scaled to the function's CPU share, plus assumed I/O."""
    latency = ASSUMPTIONS["latency_ms"]
    scale = max(1.0, float(ASSUMPTIONS["vcpu_memory_mb"]) / memory_mb)
    io_ms = deepgram_calls * latency["deepgram"]
    for operation, count in (usage.calls or {}).items():
        service = operation.split(".", 1)[0]
        if service == "s3":
            continue
        io_ms += count * float(latency.get(service, latency["dynamodb"]))
    io_ms += (
        usage.s3_puts * latency["s3_put_base"]
        + usage.s3_bytes / (ASSUMPTIONS["s3_put_mb_per_s"] * 1e6) * 1000
    )
    billed: int = math.ceil(cpu_ms * scale + io_ms)
    return billed


def job_cost(
    *,
    memory: Mapping[str, int],
    architecture: str,
    submit: Measured,
    callback: Measured,
    status: Measured,
    stored_item_bytes: int,
    s3_object_bytes: int,
    download_bytes: int,
) -> tuple[dict[str, float], dict[str, int]]:
    """USD per job by component, and the billed milliseconds per function."""
    billed = {
        "submit": billed_ms(submit.ms, memory["submit"], submit.usage, deepgram_calls=1),
        "callback": billed_ms(callback.ms, memory["callback"], callback.usage),
        "status": billed_ms(status.ms, memory["status"], status.usage),
    }
    gb_seconds = sum(billed[name] / 1000 * memory[name] / 1024 for name in billed)
    reads = ASSUMPTIONS["status_reads_per_job"]
    retention_months = _retention_days() / 30.4375
    usages = (submit.usage, callback.usage)
    logs = submit.log_bytes + callback.log_bytes + reads * status.log_bytes
    logs += (2 + reads) * ASSUMPTIONS["platform_log_bytes_per_invocation"]
    components = {
        "API Gateway REST requests": (1 + reads) * PRICE["apigw_rest_request"],
        "Lambda requests": (2 + reads) * PRICE["lambda_request"],
        "Lambda compute (GB-s)": gb_seconds * PRICE[f"lambda_gb_s_{architecture}"],
        "DynamoDB writes": (sum(usage.wru for usage in usages) + reads * status.usage.wru)
        * PRICE["dynamodb_wru"],
        "DynamoDB reads": (sum(usage.rru for usage in usages) + reads * status.usage.rru)
        * PRICE["dynamodb_rru"],
        "DynamoDB storage (retention)": stored_item_bytes
        / GB
        * retention_months
        * PRICE["dynamodb_storage_gb_month"],
        "S3 requests": callback.usage.s3_puts * PRICE["s3_put"]
        + (ASSUMPTIONS["result_downloads_per_job"] if s3_object_bytes else 0) * PRICE["s3_get"],
        "S3 storage (retention)": s3_object_bytes / GB * retention_months * PRICE["s3_storage_gb_month"],
        "SNS publishes": callback.usage.sns_publishes * PRICE["sns_publish"],
        "CloudWatch Logs ingestion": logs / GB * PRICE["logs_ingest_gb"],
        "Data transfer out (result downloaded once)": download_bytes / GB * PRICE["data_out_gb"],
    }
    return components, billed


def s3_alternative(
    components: Mapping[str, float],
    *,
    stored: Mapping[str, Any],
    memory_mb: int,
    architecture: str,
    submit: Measured,
) -> dict[str, float]:
    """USD per job if an inline result had gone to S3 instead (gzip object, the job item without
    `result_data`): the counterfactual behind the storage proposal. Same measured CPU; one S3 PUT
    more in the callback (assumed latency), the client downloading the gzip object."""
    data = base64.b64decode(stored["result_data"]["B"])
    small = item_size({name: value for name, value in stored.items() if name != "result_data"})
    reads = ASSUMPTIONS["status_reads_per_job"]
    latency = ASSUMPTIONS["latency_ms"]
    put_ms = latency["s3_put_base"] + len(data) / (ASSUMPTIONS["s3_put_mb_per_s"] * 1e6) * 1000
    retention_months = _retention_days() / 30.4375
    alternative = dict(components)
    alternative["DynamoDB writes"] = (submit.usage.wru + 2 * write_units(small, small)) * PRICE[
        "dynamodb_wru"
    ]
    alternative["DynamoDB reads"] = (
        submit.usage.rru + read_units(small) + reads * read_units(small)
    ) * PRICE["dynamodb_rru"]
    alternative["DynamoDB storage (retention)"] = (
        small / GB * retention_months * PRICE["dynamodb_storage_gb_month"]
    )
    alternative["S3 requests"] = PRICE["s3_put"] + ASSUMPTIONS["result_downloads_per_job"] * PRICE["s3_get"]
    alternative["S3 storage (retention)"] = len(data) / GB * retention_months * PRICE["s3_storage_gb_month"]
    alternative["Data transfer out (result downloaded once)"] = len(data) / GB * PRICE["data_out_gb"]
    alternative["Lambda compute (GB-s)"] += (
        math.ceil(put_ms) / 1000 * memory_mb / 1024 * PRICE[f"lambda_gb_s_{architecture}"]
    )
    return alternative


def _retention_days() -> int:
    """How long results are kept: the functions' default (the CDK app's `retentionDays` default too)."""
    return DEFAULT_RETENTION_DAYS


# The benchmark ---------------------------------------------------------------------------------------


def _where(stored: Mapping[str, Any]) -> str:
    """Where the callback put the result, from the job item it left (not from the settings)."""
    encoding = stored.get("result", {}).get("M", {}).get("content_encoding", {}).get("S", "?")
    if "result_data" in stored:
        return f"inline ({encoding} in the job item)"
    return f"S3 ({encoding})" if "result" in stored else "nowhere"


def price_case(
    bench: CallbackBench,
    case: Case,
    *,
    submit: Measured,
    memory: Mapping[str, int],
    architecture: str,
    repeats: int,
) -> dict[str, Any]:
    """Measure the callback on `case` and the status read of the job it leaves; price the job."""
    callback, stored = measure_callback(bench, case, repeats)
    status = measure_status(bench, case.job_id, stored, repeats)
    s3_bytes = callback.usage.s3_bytes
    inline = "result_data" in stored
    job_item_bytes = item_size(stored)
    stored_bytes = len(base64.b64decode(stored["result_data"]["B"])) if inline else s3_bytes
    download = status.extra["response_bytes"] if inline else s3_bytes
    components, billed = job_cost(
        memory=memory,
        architecture=architecture,
        submit=submit,
        callback=callback,
        status=status,
        stored_item_bytes=job_item_bytes,
        s3_object_bytes=s3_bytes,
        download_bytes=download,
    )
    alternative = (
        s3_alternative(
            components, stored=stored, memory_mb=memory["callback"], architecture=architecture, submit=submit
        )
        if inline
        else None
    )
    return {
        "body_bytes": case.size,
        "storage": _where(stored),
        "stored_bytes": stored_bytes,
        "job_item_bytes": job_item_bytes,
        "download_bytes": download,
        "measured_ms": {"submit": submit.ms, "callback": callback.ms, "status": status.ms},
        "measured_p95_ms": {"submit": submit.p95_ms, "callback": callback.p95_ms, "status": status.p95_ms},
        "billed_ms": billed,
        "units": {
            "wru": submit.usage.wru + callback.usage.wru + status.usage.wru,
            "rru": submit.usage.rru + callback.usage.rru + status.usage.rru,
            "wru_by_function": {"submit": submit.usage.wru, "callback": callback.usage.wru},
            "s3_put_bytes": s3_bytes,
        },
        "calls": {
            "submit": submit.usage.calls,
            "callback": callback.usage.calls,
            "status": status.usage.calls,
        },
        "log_bytes": {"submit": submit.log_bytes, "callback": callback.log_bytes, "status": status.log_bytes},
        "usd_per_1000_jobs": {name: round(value * 1000, 6) for name, value in components.items()},
        "usd_per_1000_jobs_total": round(sum(components.values()) * 1000, 6),
        "callback_writes": callback.usage.writes,
        "usd_per_1000_jobs_if_stored_in_s3": round(sum(alternative.values()) * 1000, 6)
        if alternative
        else None,
    }


def run(*, quick: bool = False) -> BenchmarkResult:
    result = BenchmarkResult(NAME, TITLE)
    recordings = QUICK_RECORDINGS if quick else RECORDINGS
    repeats = QUICK_REPEATS if quick else REPEATS
    memory, architecture, memory_source = configured_functions()
    per_case: dict[str, dict[str, Any]] = {}
    with harness.AcceptingDeepgram() as deepgram, CallbackBench(deepgram_base_url=deepgram.url) as bench:
        submit = measure_submit(bench, repeats)
        price = functools.partial(price_case, submit=submit, memory=memory, architecture=architecture)
        for index, recording in enumerate(recordings):
            job_id = harness.new_job_id(0xD0000 + index)
            body = harness.callback_body_for_duration(recording.minutes, job_id, diarized=recording.diarized)
            case = bench.case(recording.label, len(body), job_id=job_id, body=body)
            per_case[recording.label] = price(bench, case, repeats=repeats)
            # For comparison, the same job under the storage settings before result_storage
            # (a benchmark-only patch of functions.core.result_storage, undone right after).
            with previous_storage():
                previous = price(bench, case, repeats=max(2, repeats // 2))
            per_case[recording.label]["previous_storage"] = {
                key: previous[key]
                for key in (
                    "storage",
                    "stored_bytes",
                    "job_item_bytes",
                    "units",
                    "callback_writes",
                    "usd_per_1000_jobs",
                    "usd_per_1000_jobs_total",
                )
            }
    baseline_label = recordings[0].label
    baseline = per_case[baseline_label]["usd_per_1000_jobs_total"]
    for recording in recordings:
        figures = per_case[recording.label]
        result.rows.append(
            Row(
                benchmark=NAME,
                case=f"{recording.label} ({figures['body_bytes'] / 1024:,.0f} KB, "
                f"{figures['storage'].split(' ')[0]})",
                unit="$",
                value=figures["usd_per_1000_jobs_total"],
                baseline=baseline,
                baseline_label=f"/1k jobs, {baseline_label}",
            )
        )
    result.inputs = {
        "memory_mb": memory,
        "architecture": architecture,
        "memory_source": memory_source,
        "prices_as_of": PRICES_AS_OF,
        "prices_status": PRICES_STATUS,
        "prices": {
            price.key: {"usd": price.usd, "unit": price.unit, "source": price.source} for price in PRICES
        },
        "assumptions": ASSUMPTIONS,
        "retention_days": _retention_days(),
        "repeats": repeats,
    }
    result.details = {"per_recording": per_case}
    result.notes.extend(_notes(result, recordings))
    return result


def _notes(result: BenchmarkResult, recordings: Sequence[Recording]) -> list[str]:
    per_case: dict[str, dict[str, Any]] = result.details["per_recording"]
    inputs = result.inputs
    latency = ASSUMPTIONS["latency_ms"]
    notes = [
        f"Memory {inputs['memory_mb']} MB, {inputs['architecture']} (from {inputs['memory_source']}); "
        f"retention {inputs['retention_days']} days; one status read and one result download per job.",
        "Billed ms = measured CPU ms x 1769 / memory (Lambda's CPU share; a Graviton vCPU taken as one "
        f"core here) + assumed latency per call: DynamoDB {latency['dynamodb']:g} ms, "
        f"SNS {latency['sns']:g} ms, S3 PUT {latency['s3_put_base']:g} ms + "
        f"{ASSUMPTIONS['s3_put_mb_per_s']:g} MB/s, Deepgram accept {latency['deepgram']:g} ms.",
    ]
    components = list(next(iter(per_case.values()))["usd_per_1000_jobs"])
    labels = [recording.label for recording in recordings]
    notes.append("USD per 1,000 jobs by component:")
    notes.extend(
        _text_table(
            ["component", *labels],
            [
                [component, *(f"{per_case[label]['usd_per_1000_jobs'][component]:.4f}" for label in labels)]
                for component in components
            ]
            + [["total", *(f"{per_case[label]['usd_per_1000_jobs_total']:.4f}" for label in labels)]],
        )
    )
    notes.append(
        f"Storage (functions.core.result_storage): gzip level {result_storage.GZIP_LEVEL}; the gzip "
        f"inline in the job item up to {result_storage.INLINE_MAX_STORED_BYTES // 1024} KB, else an S3 "
        f"object (gzip up to {result_storage.COMPRESS_MAX_RAW_BYTES // 1024**2} MB of body, as sent "
        "beyond). 'where' below is "
        "read from the item the callback left, and every DynamoDB figure from its measured size."
    )
    notes.append(
        "Per job: measured ms (submit/callback/status), billed ms, WRU, RRU, the result as stored, the job "
        "item after the callback:"
    )
    notes.extend(
        _text_table(
            ["recording", "measured ms", "billed ms", "WRU", "RRU", "result", "job item", "where"],
            [
                [
                    label,
                    "/".join(
                        f"{per_case[label]['measured_ms'][name]:.1f}"
                        for name in ("submit", "callback", "status")
                    ),
                    "/".join(
                        str(per_case[label]["billed_ms"][name]) for name in ("submit", "callback", "status")
                    ),
                    str(per_case[label]["units"]["wru"]),
                    str(per_case[label]["units"]["rru"]),
                    f"{per_case[label]['stored_bytes'] / 1024:,.1f} KB",
                    f"{per_case[label]['job_item_bytes'] / 1024:,.1f} KB",
                    per_case[label]["storage"],
                ]
                for label in labels
            ],
        )
    )
    previous = f"gzip {PREVIOUS_GZIP_LEVEL}, inline <= {PREVIOUS_INLINE_MAX_STORED_BYTES // 1024} KB"
    notes.append(
        f"Against the previous storage settings ({previous}; measured in this run with a benchmark-only "
        "patch of functions.core.result_storage), USD per 1,000 jobs:"
    )
    notes.extend(
        _text_table(
            ["recording", "now", "where", "previous", "where", "WRU now/previous", "saved"],
            [_comparison_line(label, per_case[label]) for label in labels],
        )
    )
    for label in labels:
        figures = per_case[label]
        writes = ", ".join(f"{name} {units}" for name, units in figures["callback_writes"])
        alternative = figures["usd_per_1000_jobs_if_stored_in_s3"]
        record = [units for name, units in figures["callback_writes"] if name.endswith(PUBLICATION_RECORD)]
        notes.append(
            f"{label}: callback WRU by write: {writes}"
            + (
                f"; the publication record ({PUBLICATION_RECORD}) as a 1 KB item of its own instead: "
                f"${(sum(record) - len(record)) * PRICE['dynamodb_wru'] * 1000:.4f} less per 1,000 jobs"
                if record
                else ""
            )
            + (
                f"; if this result went to S3 (gzip) instead of inline: ${alternative:.4f} per 1,000 jobs "
                f"instead of ${figures['usd_per_1000_jobs_total']:.4f} (modelled: same CPU, one PUT more)"
                if alternative is not None
                else ""
            )
        )
    notes.append(f"Prices used ({PRICES_STATUS}; as of {PRICES_AS_OF}):")
    notes.extend(
        _text_table(
            ["price", "USD", "unit", "source"],
            [[price.key, f"{price.usd:.10g}", price.unit, price.source] for price in PRICES],
        )
    )
    return notes


PUBLICATION_RECORD = f"SET {job_item.NOTIFIED_AT}"
"""How `_describe_write` names the write that records a job's publication (`mark_notified`)."""


def _comparison_line(label: str, figures: Mapping[str, Any]) -> list[str]:
    now, previous = figures, figures["previous_storage"]
    return [
        label,
        f"{now['usd_per_1000_jobs_total']:.4f}",
        now["storage"],
        f"{previous['usd_per_1000_jobs_total']:.4f}",
        previous["storage"],
        f"{now['units']['wru']}/{previous['units']['wru']}",
        f"{1 - now['usd_per_1000_jobs_total'] / previous['usd_per_1000_jobs_total']:.0%}",
    ]


def _text_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    widths = [max(len(str(cell)) for cell in column) for column in zip(headers, *rows, strict=False)]

    def line(cells: Sequence[str]) -> str:
        return "  ".join(str(cell).ljust(width) for cell, width in zip(cells, widths, strict=False)).rstrip()

    return [
        "  " + line(headers),
        "  " + "  ".join("-" * width for width in widths),
        *("  " + line(row) for row in rows),
    ]
