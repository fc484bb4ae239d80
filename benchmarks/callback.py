"""Benchmark 1: what the callback handler costs per delivery, side by side with its floor.

The real `functions.callback.handler.lambda_handler` runs in-process on Function URL events
carrying realistic Deepgram bodies, with valid Basic credentials. Every AWS call is answered by
`ZeroLatencyAws` at botocore's HTTP layer, so what is measured is the function's own CPU time:
authentication, parsing, hashing, compression, botocore's client-side work, logging, metrics.
`GetItem` answers an awaiting job on every call, and every delivery must come back 200
"accepted": a figure that was not a full acceptance is never reported.

The FLOOR is the least any handler must do to acknowledge durably: decode the body, parse the
JSON, store the body once, uncompressed, where it legally fits (inside the one DynamoDB write up
to DynamoDB's 400 KB item limit, else one S3 PutObject referenced by that write), publish one SNS
message. Same process, same stub, same botocore clients and configuration: both pay the same
client-side costs, and the real handler's extra is exactly what its design adds.

Real and floor calls alternate (ABBA order) so the machine's drift affects both alike.
"""

from __future__ import annotations

import base64
import cProfile
import functools
import gc
import gzip
import hashlib
import io
import json
import pstats
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable, Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from typing import Any

from botocore.client import BaseClient

from benchmarks import harness
from benchmarks.harness import KB, MB
from benchmarks.report import BenchmarkError, BenchmarkResult, Row, summary_row
from benchmarks.stats import Summary, summarize
from benchmarks.stub import ZeroLatencyAws, answer_get_item
from functions.callback import handler as handler_module
from functions.callback import logic
from functions.core import result_storage
from functions.core.adapters import dynamodb
from functions.core.adapters.aws import client
from functions.core.contract import Env
from local.events import LambdaContext

NAME = "callback"
TITLE = "Callback handler cost per delivery (in-process, zero-latency AWS stub)"

SIZES: tuple[tuple[str, int], ...] = (("1 KB", KB), ("100 KB", 100 * KB), ("1 MB", MB), ("5 MB", 5 * MB))
QUICK_SIZES = SIZES[:2]
REPEATS = {KB: 300, 100 * KB: 300, MB: 50, 5 * MB: 24}
QUICK_REPEATS = 3
WARMUP = 3
TARGETS = {100 * KB: 1.25, 5 * MB: 1.5}
DYNAMODB_ITEM_LIMIT = 400 * KB
FLOOR_LABEL = "floor"

Handler = Callable[[dict[str, Any], Any], dict[str, Any]]


class FloorHandler:
    """The unavoidable work of acknowledging a callback durably (see the module docstring)."""

    def __init__(self, *, table: str, bucket: str, topic_arn: str) -> None:
        self._dynamodb = client("dynamodb")
        self._s3 = client("s3")
        self._sns = client("sns")
        self._table = table
        self._bucket = bucket
        self._topic_arn = topic_arn
        self.loads: Callable[[bytes], Any] = json.loads

    def __call__(self, event: dict[str, Any], _context: Any) -> dict[str, Any]:
        raw = event.get("body") or ""
        body = base64.b64decode(raw) if event.get("isBase64Encoded") else raw.encode()
        payload = self.loads(body)
        job_id = str(payload["metadata"]["extra"]["job_id"])
        item: dict[str, Any] = {"job_id": {"S": job_id}, "status": {"S": "completed"}}
        if len(body) <= DYNAMODB_ITEM_LIMIT:
            item["result"] = {"B": body}
        else:
            key = f"results/{job_id}.json"
            self._s3.put_object(Bucket=self._bucket, Key=key, Body=body, ContentType="application/json")
            item["result_key"] = {"S": key}
        self._dynamodb.put_item(TableName=self._table, Item=item)
        self._sns.publish(TopicArn=self._topic_arn, Message=f'{{"job_id":"{job_id}"}}')
        return {"statusCode": 200, "body": '{"status":"accepted"}'}


@dataclass(frozen=True)
class Case:
    label: str
    nominal: int
    """The size asked for; generated bodies come within about 0.5 % of it."""
    size: int
    job_id: str
    body: bytes
    event: dict[str, Any]
    item: dict[str, Any]
    """The job as `GetItem` returns it: awaiting its result, request id recorded."""


@dataclass(frozen=True)
class Comparison:
    real: Summary
    floor: Summary
    paired_ratio: float
    """Median over rounds of real / floor measured back to back: steadier than a ratio of medians
    when the machine's speed drifts during the run."""


class CallbackBench:
    """The real handler and the floor, wired to one zero-latency stub inside the functions' environment.

    Use as a context manager; `case()` prepares a delivery, `invoke_real`/`invoke_floor` time one.
    """

    def __init__(self, *, deepgram_base_url: str | None = None) -> None:
        self.stub: ZeroLatencyAws = harness.pipeline_stub()
        self._deepgram_base_url = deepgram_base_url
        self._exit = ExitStack()
        self.handler: Handler | None = None
        self.floor: FloorHandler | None = None

    def __enter__(self) -> CallbackBench:
        environment = harness.function_environment(*filter(None, [self._deepgram_base_url]))
        self._exit.enter_context(harness.environment(environment))
        self.stub.install_on_default_session(harness.REGION)
        harness.reset_function_caches()
        self._exit.callback(harness.reset_function_caches)
        self._exit.callback(self.stub.uninstall)
        self.handler = handler_module.lambda_handler
        self.floor = FloorHandler(
            table=environment[Env.JOBS_TABLE],
            bucket=environment[Env.RESULTS_BUCKET],
            topic_arn=environment[Env.TOPIC_ARN],
        )
        return self

    def __exit__(self, *_: object) -> None:
        self._exit.close()

    def case(
        self, label: str, size: int, *, index: int = 0, body: bytes | None = None, job_id: str | None = None
    ) -> Case:
        """A delivery of about `size` bytes (or of `body`, made for `job_id`) for a job the stub
        reports as awaiting its result."""
        job_id = job_id or harness.new_job_id(0xB0000 + index)
        body = body if body is not None else harness.callback_body(size, job_id)
        item = harness.job_item(self.stub, job_id, harness.request_id_for(job_id))
        return Case(
            label=label,
            nominal=size,
            size=len(body),
            job_id=job_id,
            body=body,
            event=harness.callback_event(body, job_id),
            item=item,
        )

    def activate(self, case: Case) -> None:
        """Make `GetItem` answer `case`'s job (one canned answer at a time keeps the stub O(1))."""
        answer_get_item(self.stub, case.item)

    def invoke_real(self, case: Case) -> float:
        """One delivery to the real handler; milliseconds. Raises unless it was accepted."""
        assert self.handler is not None
        context = LambdaContext("deepgram-transcription-callback", memory_limit_in_mb=512)
        started = time.perf_counter_ns()
        response = self.handler(case.event, context)
        elapsed = (time.perf_counter_ns() - started) / 1e6
        _check_accepted(response, case)
        return elapsed

    def invoke_floor(self, case: Case) -> float:
        assert self.floor is not None
        started = time.perf_counter_ns()
        response = self.floor(case.event, None)
        elapsed = (time.perf_counter_ns() - started) / 1e6
        if response["statusCode"] != 200:
            raise BenchmarkError(f"floor handler answered {response['statusCode']}")
        return elapsed

    def compare(self, case: Case, repeats: int, *, warmup: int = WARMUP) -> Comparison:
        """Real and floor deliveries, alternating: their summaries, in milliseconds."""
        samples = self.interleave(
            case,
            {
                "real": functools.partial(self.invoke_real, case),
                FLOOR_LABEL: functools.partial(self.invoke_floor, case),
            },
            repeats,
            warmup=warmup,
        )
        paired = [real / floor for real, floor in zip(samples["real"], samples[FLOOR_LABEL], strict=True)]
        return Comparison(
            summarize(samples["real"]), summarize(samples[FLOOR_LABEL]), summarize(paired).median
        )

    def interleave(
        self, case: Case, variants: Mapping[str, Callable[[], float]], repeats: int, *, warmup: int = WARMUP
    ) -> dict[str, list[float]]:
        """`repeats` rounds of every variant, the order rotated each round so that drift and
        periodic noise (garbage collection, neighbours on the machine) fall on all alike."""
        names = list(variants)
        samples: dict[str, list[float]] = {name: [] for name in names}
        self.activate(case)
        gc.collect()
        with harness.stdout_redirected():
            for _ in range(warmup):
                for name in names:
                    variants[name]()
            for round_ in range(repeats):
                shift = round_ % len(names)
                for name in names[shift:] + names[:shift]:
                    samples[name].append(variants[name]())
        return samples

    def time_real(self, case: Case, repeats: int, *, warmup: int = WARMUP) -> Summary:
        self.activate(case)
        gc.collect()
        with harness.stdout_redirected():
            for _ in range(warmup):
                self.invoke_real(case)
            return summarize([self.invoke_real(case) for _ in range(repeats)])

    def calls_per_delivery(self, case: Case) -> dict[str, int]:
        """The AWS operations one warm delivery makes (the secret is cached after the first)."""
        self.activate(case)
        with harness.stdout_redirected():
            self.invoke_real(case)
            self.stub.reset_records()
            self.invoke_real(case)
        return self.stub.calls()

    def log_bytes_per_delivery(self, case: Case, deliveries: int = 3) -> float:
        """Bytes the handler writes to stdout per delivery (JSON logs + EMF metrics -> CloudWatch Logs)."""
        self.activate(case)
        with tempfile.NamedTemporaryFile(prefix="bench-logs-") as sink:
            with harness.stdout_redirected(sink.name):
                for _ in range(deliveries):
                    self.invoke_real(case)
            sink.seek(0, io.SEEK_END)
            return sink.tell() / deliveries


def _check_accepted(response: dict[str, Any], case: Case) -> None:
    body = json.loads(response.get("body") or "{}")
    if response.get("statusCode") != 200 or body.get("status") != "accepted":
        raise BenchmarkError(
            f"the callback did not accept the {case.label} delivery: {response.get('statusCode')} {body}"
        )


# Where the time goes ---------------------------------------------------------------------------------


class _Timers:
    """Accumulated wall time per named step, for an instrumented run."""

    def __init__(self) -> None:
        self.totals: dict[str, float] = defaultdict(float)

    def wrap(self, name: str, function: Callable[..., Any]) -> Callable[..., Any]:
        totals = self.totals

        def timed(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter_ns()
            try:
                return function(*args, **kwargs)
            finally:
                totals[name] += (time.perf_counter_ns() - started) / 1e6

        return timed


@contextmanager
def _patched(target: Any, attribute: str, replacement: Any) -> Iterator[None]:
    original = getattr(target, attribute)
    setattr(target, attribute, replacement)
    try:
        yield
    finally:
        setattr(target, attribute, original)


def breakdown(bench: CallbackBench, case: Case, deliveries: int) -> dict[str, float]:
    """Milliseconds per delivery spent in each step of the real handler (instrumented run).

    Each step is timed by a thin wrapper (about a microsecond each) around the function that does
    it, so, unlike a profiler, the figures are not skewed towards Python-heavy code. Nested steps
    (gzip inside `result_storage.encode`) are reported separately and also included in their parent;
    the S3 upload, when there is one, is `aws PutObject`.
    """
    timers = _Timers()
    raw_handler = handler_module.lambda_handler.__wrapped__.__wrapped__  # type: ignore[attr-defined]
    make_api_call = BaseClient._make_api_call

    def api_call(client: Any, operation_name: str, api_params: dict[str, Any]) -> Any:
        started = time.perf_counter_ns()
        try:
            return make_api_call(client, operation_name, api_params)
        finally:
            timers.totals[f"aws {operation_name}"] += (time.perf_counter_ns() - started) / 1e6

    hashing = type("hashlib", (), {"sha256": staticmethod(timers.wrap("sha256 of the body", hashlib.sha256))})
    with ExitStack() as patches:
        patches.enter_context(_patched(BaseClient, "_make_api_call", api_call))
        patches.enter_context(_patched(gzip, "compress", timers.wrap("gzip.compress", gzip.compress)))
        patches.enter_context(_patched(logic, "hashlib", hashing))
        for module, function_name, step in (
            (handler_module, "_to_request", "event -> request (body str -> bytes)"),
            (handler_module, "_observe", "logging + metrics (handler._observe)"),
            (logic, "_parse_json_object", "json.loads of the body"),
            # `_authenticate` also parses the body: time its two checks, not it.
            (logic, "_check_headers", "authentication (dg-token, Basic, HMAC)"),
            (logic, "_check_extra", "authentication (dg-token, Basic, HMAC)"),
            (logic, "summarize", "summary of the transcript"),
            (logic, "build_notification", "notification message"),
        ):
            patches.enter_context(
                _patched(module, function_name, timers.wrap(step, getattr(module, function_name)))
            )
        patches.enter_context(
            _patched(
                result_storage,
                "encode",
                timers.wrap("result_storage.encode (gzip, inline or S3)", result_storage.encode),
            )
        )
        patches.enter_context(
            _patched(dynamodb, "_serialize", timers.wrap("DynamoDB TypeSerializer", dynamodb._serialize))
        )
        patches.enter_context(
            _patched(
                dynamodb, "_deserialize", timers.wrap("DynamoDB TypeDeserializer", dynamodb._deserialize)
            )
        )
        assert bench.handler is not None
        total = 0.0
        bench.activate(case)
        gc.collect()
        with harness.stdout_redirected():
            for _ in range(deliveries):
                context = LambdaContext("deepgram-transcription-callback", memory_limit_in_mb=512)
                started = time.perf_counter_ns()
                response = bench.handler(case.event, context)
                total += (time.perf_counter_ns() - started) / 1e6
                _check_accepted(response, case)
        per_delivery = {name: value / deliveries for name, value in sorted(timers.totals.items())}
        # Powertools' decorators: decorated and undecorated deliveries alternate, and the figure is
        # the median of the pairs' differences (two separate loops drift apart on a noisy machine).
        # Metrics the undecorated handler added are cleared outside the timing.
        differences: list[float] = []
        undecorated: list[float] = []
        with harness.stdout_redirected():
            for _ in range(deliveries):
                pair = []
                for handler in (bench.handler, raw_handler):
                    context = LambdaContext("deepgram-transcription-callback", memory_limit_in_mb=512)
                    started = time.perf_counter_ns()
                    handler(case.event, context)
                    pair.append((time.perf_counter_ns() - started) / 1e6)
                    handler_module.metrics.clear_metrics()
                differences.append(pair[0] - pair[1])
                undecorated.append(pair[1])
        # The floor, for comparison: its AWS calls and its parse.
        floor_timers = _Timers()
        assert bench.floor is not None
        floor_total = 0.0
        timers.totals.clear()
        patches.enter_context(_patched(bench.floor, "loads", floor_timers.wrap("json.loads", json.loads)))
        with harness.stdout_redirected():
            for _ in range(deliveries):
                started = time.perf_counter_ns()
                bench.floor(case.event, None)
                floor_total += (time.perf_counter_ns() - started) / 1e6
        for name, value in [*timers.totals.items(), *floor_timers.totals.items()]:
            per_delivery[f"floor: {name}"] = value / deliveries
        per_delivery["floor: total"] = floor_total / deliveries
    per_delivery["handler total (decorated)"] = total / deliveries
    per_delivery["handler without Powertools decorators (median)"] = summarize(undecorated).median
    per_delivery["Powertools decorators (inject_lambda_context, log_metrics flush)"] = max(
        0.0, summarize(differences).median
    )
    return {name: round(value, 4) for name, value in per_delivery.items()}


def cprofile_top(bench: CallbackBench, case: Case, deliveries: int, limit: int = 15) -> list[dict[str, Any]]:
    """The functions with the most own time (cProfile), for reference next to `breakdown`."""
    profiler = cProfile.Profile()
    assert bench.handler is not None
    bench.activate(case)
    with harness.stdout_redirected():
        profiler.enable()
        for _ in range(deliveries):
            bench.handler(case.event, LambdaContext("deepgram-transcription-callback"))
        profiler.disable()
    stats = pstats.Stats(profiler)
    entries = []
    for (filename, line, function), (_, calls, own, cumulative, _) in stats.stats.items():  # type: ignore[attr-defined]
        entries.append(
            {
                "function": f"{_short(filename)}:{line}({function})",
                "calls_per_delivery": round(calls / deliveries, 2),
                "own_ms_per_delivery": round(own * 1000 / deliveries, 4),
                "cumulative_ms_per_delivery": round(cumulative * 1000 / deliveries, 4),
            }
        )
    entries.sort(key=lambda entry: entry["own_ms_per_delivery"], reverse=True)
    return entries[:limit]


def _short(filename: str) -> str:
    for marker in ("site-packages/", "/work/main/", "lib/python3"):
        if marker in filename:
            return filename.split(marker, 1)[1]
    return filename


# Experiments (benchmark-only monkeypatches; functions/ is unchanged) --------------------------------
#
# Each patch is applied around one delivery and undone right after it, so the unchanged handler
# and the floor, interleaved with the experiments, always run the code as it is. `_patched` reads
# the attribute before replacing it, so a patch whose target has moved fails instead of measuring
# nothing.

PREVIOUS_GZIP_LEVEL = 6
PREVIOUS_INLINE_MAX_STORED_BYTES = 300 * KB
"""The storage settings before `functions/core/result_storage.py` (gzip 6, inline up to 300 KB)."""


@contextmanager
def gzip_level(level: int) -> Iterator[None]:
    with _patched(result_storage, "GZIP_LEVEL", level):
        yield


@contextmanager
def previous_storage() -> Iterator[None]:
    """The previous storage settings: gzip 6, and inline while the compressed body is <= 300 KB."""
    with (
        _patched(result_storage, "GZIP_LEVEL", PREVIOUS_GZIP_LEVEL),
        _patched(result_storage, "INLINE_MAX_STORED_BYTES", PREVIOUS_INLINE_MAX_STORED_BYTES),
    ):
        yield


def _repository(bench: CallbackBench) -> Any:
    with harness.stdout_redirected():
        service = handler_module.callback_service()
    return service._jobs


@contextmanager
def get_item_folded(bench: CallbackBench, case: Case) -> Iterator[None]:
    """What folding GetItem into the conditional UpdateItem would save: `get` answers from memory.

    (The UpdateItem would then carry the request-id check, `ReturnValues=ALL_NEW` for the
    notification and `ReturnValuesOnConditionCheckFailure=ALL_OLD` for duplicates: about the same
    bytes on the wire, one round trip fewer.)"""
    repository = _repository(bench)
    with harness.stdout_redirected():
        job = repository.get(case.job_id)
    with _patched(repository, "get", lambda _job_id: job):
        yield


@contextmanager
def publication_unrecorded(bench: CallbackBench) -> Iterator[None]:
    """The cost of `mark_notified` (the UpdateItem recording the publication): it does nothing."""
    repository = _repository(bench)
    with _patched(repository, "mark_notified", lambda *_args, **_kwargs: None):
        yield


@contextmanager
def uncompressed_to_s3() -> Iterator[None]:
    """Every body to S3 as it came (`COMPRESS_MAX_RAW_BYTES = 0`): the job item stays small."""
    with _patched(result_storage, "COMPRESS_MAX_RAW_BYTES", 0):
        yield


GZIP_6 = "gzip level 6 (previous default)"
PREVIOUS_STORAGE = "previous storage (gzip 6, inline <= 300 KB)"
GET_ITEM_FOLDED = "GetItem folded"
NO_PUBLICATION_RECORD = "no publication record"
RAW_TO_S3 = "body to S3 uncompressed"

EXPERIMENTS: dict[str, tuple[str, tuple[str, ...]]] = {
    GZIP_6: (
        f"functions.core.result_storage.GZIP_LEVEL = {PREVIOUS_GZIP_LEVEL} instead of "
        f"{result_storage.GZIP_LEVEL}: the level before result_storage, for comparison (output about "
        "20 % smaller, slower)",
        (GZIP_6,),
    ),
    PREVIOUS_STORAGE: (
        f"GZIP_LEVEL = {PREVIOUS_GZIP_LEVEL} and INLINE_MAX_STORED_BYTES = "
        f"{PREVIOUS_INLINE_MAX_STORED_BYTES // KB} KB instead of "
        f"{result_storage.INLINE_MAX_STORED_BYTES // KB} KB: the storage settings before result_storage, "
        "for comparison",
        (PREVIOUS_STORAGE,),
    ),
    GET_ITEM_FOLDED: (
        "the job read answered from memory: what folding GetItem into the conditional UpdateItem would save",
        (GET_ITEM_FOLDED,),
    ),
    NO_PUBLICATION_RECORD: (
        "mark_notified skipped: what recording the publication costs (a measurement, not a proposal)",
        (NO_PUBLICATION_RECORD,),
    ),
    RAW_TO_S3: (
        "functions.core.result_storage.COMPRESS_MAX_RAW_BYTES = 0: every body to S3 as it came, the job item "
        "stays small (the S3 PUT's network latency is not in this figure)",
        (RAW_TO_S3,),
    ),
    "S3 + GetItem folded": ("the storage proposal with the folded read", (RAW_TO_S3, GET_ITEM_FOLDED)),
    "GetItem folded + no record": (
        "the folded read and no publication record: what is left of the gap with today's storage",
        (GET_ITEM_FOLDED, NO_PUBLICATION_RECORD),
    ),
    "S3 + GetItem folded + no record": (
        "all three: what is left of the gap",
        (RAW_TO_S3, GET_ITEM_FOLDED, NO_PUBLICATION_RECORD),
    ),
}
"""Name -> (what it does, the patches it applies)."""


def _experiment(bench: CallbackBench, case: Case, name: str) -> Callable[[], float]:
    patches: dict[str, Callable[[], Any]] = {
        GZIP_6: functools.partial(gzip_level, PREVIOUS_GZIP_LEVEL),
        PREVIOUS_STORAGE: previous_storage,
        GET_ITEM_FOLDED: functools.partial(get_item_folded, bench, case),
        NO_PUBLICATION_RECORD: functools.partial(publication_unrecorded, bench),
        RAW_TO_S3: uncompressed_to_s3,
    }
    _, applied = EXPERIMENTS[name]

    def run() -> float:
        with ExitStack() as stack:
            for patch in applied:
                stack.enter_context(patches[patch]())
            return bench.invoke_real(case)

    return run


def run_experiments(bench: CallbackBench, cases: list[Case], repeats: Mapping[int, int]) -> dict[str, Any]:
    """Each experiment interleaved with the unchanged handler and the floor, per case."""
    results: dict[str, Any] = {}
    for case in cases:
        variants: dict[str, Callable[[], float]] = {
            "as is": functools.partial(bench.invoke_real, case),
            FLOOR_LABEL: functools.partial(bench.invoke_floor, case),
        }
        variants.update({name: _experiment(bench, case, name) for name in EXPERIMENTS})
        samples = bench.interleave(case, variants, repeats[case.nominal])
        floor = summarize(samples[FLOOR_LABEL])
        results[case.label] = {
            name: {
                "median_ms": round(summary.median, 4),
                "p95_ms": round(summary.p95, 4),
                "ratio_to_floor": round(summary.median / floor.median, 3),
                "n": summary.n,
                "body_stored": _where_stored(bench, variants[name]),
            }
            for name, summary in ((name, summarize(values)) for name, values in samples.items())
        }
    return results


def _where_stored(bench: CallbackBench, invoke: Callable[[], float]) -> str:
    """Where one delivery of a variant put the body: "S3" if it called PutObject, else "inline"."""
    bench.stub.reset_records()
    with harness.stdout_redirected():
        invoke()
    return "S3" if bench.stub.record("s3", "PutObject").calls else "inline"


# The benchmark ---------------------------------------------------------------------------------------


def run(*, quick: bool = False) -> BenchmarkResult:
    result = BenchmarkResult(NAME, TITLE)
    repeats = {size: (QUICK_REPEATS if quick else count) for size, count in REPEATS.items()}
    sizes = QUICK_SIZES if quick else SIZES
    result.inputs = {
        "sizes_bytes": dict(sizes),
        "repeats": {label: repeats[size] for label, size in sizes},
        "warmup_per_size": WARMUP,
        "event": "Lambda Function URL, payload format 2.0, application/json, Basic credentials, dg-token",
        "payload": "local.deepgram_emulator.payloads.generate_response(target_bytes=..., extra={job_id, "
        "callback_secret})",
        "stub": "ZeroLatencyAws (botocore before-send): GetItem -> awaiting job, writes -> success",
        "floor": "decode + json.loads + body stored once uncompressed (DynamoDB item <= 400 KB, else S3) "
        "+ 1 PutItem + 1 Publish",
        "storage": {
            "module": "functions.core.result_storage",
            "GZIP_LEVEL": result_storage.GZIP_LEVEL,
            "INLINE_MAX_STORED_BYTES": result_storage.INLINE_MAX_STORED_BYTES,
            "COMPRESS_MAX_RAW_BYTES": result_storage.COMPRESS_MAX_RAW_BYTES,
        },
    }
    with CallbackBench() as bench:
        cases = [bench.case(label, size, index=index) for index, (label, size) in enumerate(sizes)]
        calls: dict[str, dict[str, int]] = {}
        for case in cases:
            comparison = bench.compare(case, repeats[case.nominal])
            real, floor = comparison.real, comparison.floor
            calls[case.label] = bench.calls_per_delivery(case)
            result.rows.append(
                summary_row(
                    NAME,
                    f"{case.label} body ({case.size:,} B)",
                    real,
                    floor,
                    FLOOR_LABEL,
                    target_ratio=TARGETS.get(case.nominal),
                    note=f"paired ratio {comparison.paired_ratio:.2f}x",
                )
            )
            result.details.setdefault("summaries", {})[case.label] = {
                "real_ms": real.as_dict(),
                "floor_ms": floor.as_dict(),
                "paired_ratio_median": round(comparison.paired_ratio, 3),
            }
        result.details["aws_calls_per_delivery"] = calls
        result.details["log_bytes_per_delivery"] = {
            case.label: bench.log_bytes_per_delivery(case, 1 if quick else 3) for case in cases
        }
        profile_deliveries = 2 if quick else 20
        result.details["breakdown_ms_per_delivery"] = {
            case.label: breakdown(
                bench, case, profile_deliveries if case.nominal < 5 * MB else max(2, profile_deliveries // 3)
            )
            for case in cases
        }
        result.details["cprofile_top_own_time"] = {
            case.label: cprofile_top(bench, case, 2 if quick else 10)
            for case in cases
            if case.nominal >= 100 * KB
        }
        targeted = [case for case in cases if case.nominal in (100 * KB, MB)]
        experiment_repeats = {
            case.nominal: (QUICK_REPEATS if quick else max(20, repeats[case.nominal] // 2))
            for case in targeted
        }
        result.details["experiments"] = {
            "what": {name: description for name, (description, _) in EXPERIMENTS.items()},
            "results": run_experiments(bench, targeted, experiment_repeats),
        }
    result.notes.extend(_notes(result))
    return result


def _notes(result: BenchmarkResult) -> list[str]:
    notes = [
        "Floor = decode + json.loads + the body stored once uncompressed where it fits (in the one DynamoDB "
        "write up to 400 KB, else S3 PutObject + that write) + one SNS Publish; same stub, same clients.",
        "Ratio = median / floor median; median of the per-round ratios (real and floor back to back): "
        + ", ".join(
            row.case.split(" body")[0] + " " + row.note.removeprefix("paired ratio ") for row in result.rows
        )
        + ".",
        f"Storage (functions.core.result_storage): gzip level {result_storage.GZIP_LEVEL}, inline in the job "
        f"item while the gzip is <= {result_storage.INLINE_MAX_STORED_BYTES // KB} KB, else an S3 object "
        f"(gzip up to {result_storage.COMPRESS_MAX_RAW_BYTES // MB} MB of body, as it came beyond). "
        "AWS calls per warm delivery (real): "
        + "; ".join(
            f"{label}: " + ", ".join(f"{name} {count}" for name, count in sorted(calls.items()))
            for label, calls in result.details["aws_calls_per_delivery"].items()
        ),
    ]
    breakdowns: dict[str, dict[str, float]] = result.details["breakdown_ms_per_delivery"]
    for label in ("100 KB", "1 MB", "5 MB"):
        steps = breakdowns.get(label)
        if not steps:
            continue
        shown = sorted(
            ((name, value) for name, value in steps.items() if not name.startswith(("handler ", "floor: "))),
            key=lambda item: item[1],
            reverse=True,
        )
        notes.append(
            f"Where the time goes at {label} (ms per delivery, instrumented, total "
            f"{steps['handler total (decorated)']:.2f}): "
            + ", ".join(f"{name} {value:.2f}" for name, value in shown if value >= 0.01)
            + f". Floor total {steps['floor: total']:.2f}: "
            + ", ".join(
                f"{name.removeprefix('floor: ')} {value:.2f}"
                for name, value in steps.items()
                if name.startswith("floor: ") and name != "floor: total"
            )
        )
    experiments = result.details["experiments"]["results"]
    for label, per_case in experiments.items():
        notes.append(
            f"Experiment at {label} (benchmark-only monkeypatch; where the body went): "
            + "; ".join(
                f"{name}: {figures['median_ms']:.2f} ms = {figures['ratio_to_floor']:.2f}x floor "
                f"({figures['body_stored']})"
                for name, figures in per_case.items()
            )
        )
    return notes


def rows_by_case(result: BenchmarkResult) -> dict[str, Row]:
    return {row.case.split(" body", 1)[0]: row for row in result.rows}
