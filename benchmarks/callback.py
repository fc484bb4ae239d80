"""Benchmark 1: what the callback handler costs per delivery, side by side with its floor.

The real `functions.callback.handler.lambda_handler` runs in-process on Function URL events
carrying realistic Deepgram bodies (words only, and diarized with utterances and paragraphs), with
valid Basic credentials. Its service comes from the composition root, `functions.callback.wiring.
service()`, emptied (`cache_clear()`) while the functions' environment is set and the stub is
installed on boto3's default session, so it builds the real boto3 adapters over the stub; nothing
in `functions/` is patched. The stub holds the job awaiting its result on every call (the finishing
`UpdateItem` is answered with it as written, `ReturnValues=ALL_NEW`), and every delivery must
come back 200 "accepted": a figure that was not a full acceptance is never reported.

Two models of AWS, each with its own rows:

* CPU only: the stub answers at once (zero latency), so what is measured is the function's own
  work: authentication, parsing, hashing, compression, botocore's client-side work, logging, metrics;
* round trip: the stub holds every answer back by `stub.LatencyModel` (published same-region
  figures, configurable), so the figure is the acknowledgement time the cloud would see, its
  network waits included, with this machine's CPU.

The FLOOR is the least any handler must do to acknowledge durably: decode the body, parse the
JSON, compute the sha256 the project needs to tell a duplicate from a conflict, store the body
once, uncompressed, where it legally fits (inside the one DynamoDB write up to DynamoDB's 400 KB
item limit, else one S3 PutObject referenced by that write), publish one SNS message. Same process,
same stub (and the same latency for the same kind of call), same botocore clients and configuration:
both pay the same client-side costs, and the real handler's extra is exactly what its design adds.

Real and floor calls alternate (the order rotated each round) so the machine's drift affects both
alike; the ratio is the paired ratio (median over rounds of real / floor), which the verdicts use.

Experiments and the breakdown build the callback's service explicitly (`CallbackService(jobs=...,
blobs=..., publisher=..., config_source=..., clock=...)`, the same adapters the composition root
builds), wrapping ports where an experiment needs it, and call `service.handle` directly.
"""

from __future__ import annotations

import base64
import cProfile
import functools
import gc
import hashlib
import io
import json
import os
import pstats
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable, Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from typing import Any, cast

from benchmarks import harness
from benchmarks.harness import KB, MB
from benchmarks.report import BenchmarkError, BenchmarkResult, summary_row
from benchmarks.stats import Summary, paired_ratio, summarize
from benchmarks.stub import LatencyModel, ZeroLatencyAws, answer_get_item
from functions.callback import handler as handler_module
from functions.callback import wiring as callback_wiring
from functions.callback.logic import CallbackService
from functions.core import result_storage
from functions.core.adapters.aws import client
from functions.core.contract import Env
from functions.core.jobs import utc_now
from functions.core.ports import JobRepository, NotificationPublisher, ResultBlobStore
from functions.core.settings import CallbackSettings
from local.events import LambdaContext

NAME = "callback"
TITLE = "Callback handler per delivery: CPU only and with a round-trip model of AWS, against a floor"

CPU_ONLY = "CPU only"
ROUND_TRIP = "round trip"
MODES = (CPU_ONLY, ROUND_TRIP)

WORDS = "words"
DIARIZED = "diarized"


@dataclass(frozen=True)
class CaseSpec:
    label: str
    nominal: int
    payload: str


CASES = (
    CaseSpec("1 KB", KB, WORDS),
    CaseSpec("100 KB", 100 * KB, WORDS),
    CaseSpec("100 KB", 100 * KB, DIARIZED),
    CaseSpec("1 MB", MB, WORDS),
    CaseSpec("1 MB", MB, DIARIZED),
    CaseSpec("5 MB", 5 * MB, WORDS),
    CaseSpec("5 MB", 5 * MB, DIARIZED),
)
QUICK_CASES = CASES[:3]
REPEATS = {
    CPU_ONLY: {KB: 300, 100 * KB: 300, MB: 50, 5 * MB: 24},
    ROUND_TRIP: {KB: 60, 100 * KB: 100, MB: 40, 5 * MB: 16},
}
QUICK_REPEATS = 3
WARMUP = 3
TARGETS = {
    (CPU_ONLY, 100 * KB): 1.5,
    (ROUND_TRIP, 100 * KB): 1.3,
    (ROUND_TRIP, MB): 1.15,
    (ROUND_TRIP, 5 * MB): 1.1,
}
"""The issue's targets on the paired ratio to the floor, by (model, size), for both payloads."""
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

    def __call__(self, event: dict[str, Any], _context: Any) -> dict[str, Any]:
        raw = event.get("body") or ""
        body = base64.b64decode(raw) if event.get("isBase64Encoded") else raw.encode()
        payload = json.loads(body)
        sha256 = hashlib.sha256(body).hexdigest()  # a duplicate or a conflict, on a later delivery
        job_id = str(payload["metadata"]["extra"]["job_id"])
        item: dict[str, Any] = {
            "job_id": {"S": job_id},
            "status": {"S": "completed"},
            "sha256": {"S": sha256},
        }
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
    """The job as stored before the delivery (DynamoDB JSON): awaiting its result, request id recorded."""
    payload: str = WORDS

    @property
    def name(self) -> str:
        return f"{self.label} {self.payload}"


@dataclass(frozen=True)
class Comparison:
    real: Summary
    floor: Summary
    paired_ratio: float
    """Median over rounds of real / floor measured back to back: the figure the verdicts use."""


# Ports, explicitly ------------------------------------------------------------------------------------


class _Port:
    """A port that forwards to `inner`, except for the methods in `overrides`; with `timers`,
    each forwarded call also adds its wall time to `timers["<name>.<method>"]`."""

    def __init__(
        self,
        name: str,
        inner: object,
        overrides: Mapping[str, Callable[..., Any]] | None = None,
        timers: dict[str, float] | None = None,
    ) -> None:
        self._name = name
        self._inner = inner
        self._overrides = dict(overrides or {})
        self._timers = timers

    def __getattr__(self, method: str) -> Any:
        target = self._overrides.get(method) or getattr(self._inner, method)
        timers = self._timers
        if timers is None or not callable(target):
            return target
        key = f"{self._name}.{method}"

        def timed(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter_ns()
            try:
                return target(*args, **kwargs)
            finally:
                timers[key] += (time.perf_counter_ns() - started) / 1e6

        return timed


def build_service(
    *,
    jobs_overrides: Mapping[str, Callable[..., Any]] | None = None,
    timers: dict[str, float] | None = None,
) -> CallbackService:
    """The callback's service with explicit ports: the adapters `functions.callback.wiring.ports`
    builds (the same settings, the same clients), each behind a `_Port` that can time its calls or
    replace a method (an experiment). Call inside `CallbackBench` (environment and stub set)."""
    built = callback_wiring.ports(CallbackSettings.from_environ(os.environ))
    return CallbackService(
        jobs=cast(JobRepository, _Port("jobs", built.jobs, jobs_overrides, timers)),
        blobs=cast(ResultBlobStore, _Port("blobs", built.blobs, None, timers)),
        publisher=cast(NotificationPublisher, _Port("publisher", built.publisher, None, timers)),
        config_source=built.config_source,
        clock=utc_now,
    )


# The bench -------------------------------------------------------------------------------------------


class CallbackBench:
    """The real handler and the floor, wired to one stub inside the functions' environment.

    Use as a context manager; `case()` prepares a delivery, `invoke_real`/`invoke_floor` time one,
    `latency()` switches the stub to the round-trip model for a block.
    """

    def __init__(self, *, deepgram_base_url: str | None = None) -> None:
        self.stub: ZeroLatencyAws = harness.pipeline_stub()
        self._deepgram_base_url = deepgram_base_url
        self._exit = ExitStack()
        self.handler: Handler = handler_module.lambda_handler
        self.floor: FloorHandler | None = None

    def __enter__(self) -> CallbackBench:
        environment = harness.function_environment(*filter(None, [self._deepgram_base_url]))
        self._exit.enter_context(harness.environment(environment))
        self.stub.install_on_default_session(harness.REGION)
        # The composition roots build their services anew, over the stub, on the next invocation.
        harness.reset_function_caches()
        self._exit.callback(harness.reset_function_caches)
        self._exit.callback(self.stub.uninstall)
        self.floor = FloorHandler(
            table=environment[Env.JOBS_TABLE],
            bucket=environment[Env.RESULTS_BUCKET],
            topic_arn=environment[Env.TOPIC_ARN],
        )
        return self

    def __exit__(self, *_: object) -> None:
        self._exit.close()

    @contextmanager
    def latency(self, model: LatencyModel | None) -> Iterator[None]:
        """The stub answers with `model`'s latency (None: at once) inside the block."""
        previous, self.stub.latency = self.stub.latency, model
        try:
            yield
        finally:
            self.stub.latency = previous

    def case(
        self,
        label: str,
        size: int,
        *,
        index: int = 0,
        payload: str = WORDS,
        body: bytes | None = None,
        job_id: str | None = None,
    ) -> Case:
        """A delivery of about `size` bytes (or of `body`, made for `job_id`) for a job the stub
        reports as awaiting its result."""
        job_id = job_id or harness.new_job_id(0xB0000 + index)
        if body is None:
            body = harness.callback_body(size, job_id, diarized=payload == DIARIZED)
        item = harness.job_item(self.stub, job_id, harness.request_id_for(job_id))
        return Case(
            label=label,
            nominal=size,
            size=len(body),
            job_id=job_id,
            body=body,
            event=harness.callback_event(body, job_id),
            item=item,
            payload=payload,
        )

    def activate(self, case: Case) -> None:
        """Make the stub hold `case`'s job (one at a time keeps the stub O(1))."""
        answer_get_item(self.stub, case.item)

    def invoke_real(self, case: Case) -> float:
        """One delivery to the real handler; milliseconds. Raises unless it was accepted."""
        context = LambdaContext("deepgram-transcription-callback", memory_limit_in_mb=512)
        started = time.perf_counter_ns()
        response = self.handler(case.event, context)
        elapsed = (time.perf_counter_ns() - started) / 1e6
        _check_accepted(response, case)
        return elapsed

    def invoke_service(self, service: CallbackService, case: Case) -> float:
        """One delivery to `service.handle` (the handler's translation of the event included, not
        its logging, metrics and Powertools decorators); milliseconds."""
        started = time.perf_counter_ns()
        result = service.handle(handler_module.to_request(case.event))
        elapsed = (time.perf_counter_ns() - started) / 1e6
        if result.outcome != "accepted":
            raise BenchmarkError(
                f"the service did not accept the {case.name} delivery: {result.status_code} {result.reason} "
                f"{result.detail}"
            )
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
        """Real and floor deliveries, alternating: their summaries (ms) and the paired ratio."""
        samples = self.interleave(
            case,
            {
                "real": functools.partial(self.invoke_real, case),
                FLOOR_LABEL: functools.partial(self.invoke_floor, case),
            },
            repeats,
            warmup=warmup,
        )
        return Comparison(
            summarize(samples["real"]),
            summarize(samples[FLOOR_LABEL]),
            paired_ratio(samples["real"], samples[FLOOR_LABEL]),
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

    def calls_per_delivery(self, case: Case, invoke: Callable[[], object] | None = None) -> dict[str, int]:
        """The AWS operations one warm delivery makes (the secret is cached after the first)."""
        invoke = invoke or functools.partial(self.invoke_real, case)
        self.activate(case)
        with harness.stdout_redirected():
            invoke()
            self.stub.reset_records()
            invoke()
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
            f"the callback did not accept the {case.name} delivery: {response.get('statusCode')} {body}"
        )


# Where the time goes ---------------------------------------------------------------------------------


def breakdown(bench: CallbackBench, case: Case, deliveries: int) -> dict[str, float]:
    """Milliseconds per delivery: the handler, the service (`handle`) with timed ports, each port
    call (adapter + botocore, and the modelled wait when the stub has latency), and what is left.

    Handler, timed service and floor deliveries alternate; port figures are means per delivery."""
    timers: dict[str, float] = defaultdict(float)
    service = build_service(timers=timers)
    samples = bench.interleave(
        case,
        {
            "handler": functools.partial(bench.invoke_real, case),
            "service": functools.partial(bench.invoke_service, service, case),
            FLOOR_LABEL: functools.partial(bench.invoke_floor, case),
        },
        deliveries,
        warmup=1,
    )
    timers.clear()  # the warm-up's calls
    with harness.stdout_redirected():
        service_total = sum(bench.invoke_service(service, case) for _ in range(deliveries))
    ports = {name: value / deliveries for name, value in sorted(timers.items())}
    handler, service_median = summarize(samples["handler"]).median, summarize(samples["service"]).median
    figures = {
        "handler (lambda_handler), median": handler,
        "floor, median": summarize(samples[FLOOR_LABEL]).median,
        "service.handle (with to_request), median": service_median,
        # Median of the per-round differences: steadier than the difference of the two medians.
        "handler - service: logging, metrics, Powertools decorators, answer": summarize(
            [real - bare for real, bare in zip(samples["handler"], samples["service"], strict=True)]
        ).median,
        **{f"port {name}": value for name, value in ports.items()},
        "service outside its ports: authentication, parse, sha256, gzip, summary": service_total / deliveries
        - sum(ports.values()),
    }
    return {name: round(value, 4) for name, value in figures.items()}


PROFILED = (
    ("logic.py", "parse_body", "json.loads of the body (parse_body)"),
    ("logic.py", "authenticate", "authenticate (dg-token, Basic, HMAC, parse)"),
    ("result_storage.py", "encode", "result_storage.encode (gzip)"),
    ("~", "<built-in method _hashlib.openssl_sha256>", "sha256"),
    ("transcript.py", "summarize", "summary of the transcript"),
    ("dynamodb.py", "finish", "jobs.finish (UpdateItem)"),
    ("dynamodb.py", "mark_notified", "jobs.mark_notified (UpdateItem)"),
    ("sns.py", "publish", "publisher.publish (Publish)"),
    ("s3.py", "put", "blobs.put (PutObject)"),
    ("telemetry.py", "observe", "logging + metrics (telemetry.observe)"),
    ("client.py", "_make_api_call", "botocore, all calls"),
)
"""Functions whose cumulative time the profile reports: (file name, function name, label)."""


def profile(bench: CallbackBench, case: Case, deliveries: int, limit: int = 15) -> dict[str, Any]:
    """cProfile of `deliveries` handler deliveries: the top `limit` by own time, and the cumulative
    time of the `PROFILED` functions (ms per delivery; cProfile inflates Python-heavy code)."""
    profiler = cProfile.Profile()
    bench.activate(case)
    with harness.stdout_redirected():
        bench.invoke_real(case)
        profiler.enable()
        for _ in range(deliveries):
            bench.handler(case.event, LambdaContext("deepgram-transcription-callback"))
        profiler.disable()
    stats = pstats.Stats(profiler)
    entries: list[dict[str, Any]] = []
    cumulative: dict[str, float] = defaultdict(float)
    raw: dict[tuple[str, int, str], tuple[int, int, float, float, Any]] = stats.stats  # type: ignore[attr-defined]
    total = 0.0
    for (filename, line, function), (_, calls, own, inclusive, _) in raw.items():
        total += own
        entries.append(
            {
                "function": f"{_short(filename)}:{line}({function})",
                "calls_per_delivery": round(calls / deliveries, 2),
                "own_ms_per_delivery": round(own * 1000 / deliveries, 4),
                "cumulative_ms_per_delivery": round(inclusive * 1000 / deliveries, 4),
            }
        )
        for file_suffix, name, label in PROFILED:
            if function == name and filename.endswith(file_suffix):
                cumulative[label] += inclusive * 1000 / deliveries
    entries.sort(key=lambda entry: entry["own_ms_per_delivery"], reverse=True)
    return {
        "profiled_ms_per_delivery": round(total * 1000 / deliveries, 4),
        "cumulative_ms_per_delivery": {label: round(value, 4) for label, value in cumulative.items()},
        "top_own_time": entries[:limit],
    }


def _short(filename: str) -> str:
    for marker in ("site-packages/", "/work/main/", "lib/python3"):
        if marker in filename:
            return filename.split(marker, 1)[1]
    return filename


# Experiments ---------------------------------------------------------------------------------------
#
# Port experiments replace one method of one port of an explicitly built service; storage
# experiments set a constant of `functions.core.result_storage` around one delivery and put it back
# right after, so the unchanged service and the floor, interleaved with them, always run the code
# as it is. `_patched` reads the constant before replacing it, so a constant that no longer exists
# fails the benchmark instead of measuring nothing.

PREVIOUS_GZIP_LEVEL = 6
PREVIOUS_INLINE_MAX_STORED_BYTES = 300 * KB
"""The storage settings before `functions/core/result_storage.py` (gzip 6, inline up to 300 KB)."""


@contextmanager
def _patched(target: Any, attribute: str, replacement: Any) -> Iterator[None]:
    original = getattr(target, attribute)
    setattr(target, attribute, replacement)
    try:
        yield
    finally:
        setattr(target, attribute, original)


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


@contextmanager
def uncompressed_to_s3() -> Iterator[None]:
    """Every body to S3 as it came (nothing inline, nothing compressed): the job item stays small."""
    with (
        _patched(result_storage, "COMPRESS_MAX_RAW_BYTES", 0),
        _patched(result_storage, "INLINE_CANDIDATE_MAX_RAW_BYTES", 0),
    ):
        yield


AS_IS = "service as is"
GZIP_6 = "gzip level 6 (previous default)"
PREVIOUS_STORAGE = "previous storage (gzip 6, inline <= 300 KB)"
NO_PUBLICATION_RECORD = "no publication record"
PUBLICATION_ITEM = "publication record as a tiny item"
RAW_TO_S3 = "body to S3 uncompressed"

EXPERIMENTS: dict[str, tuple[str, tuple[str, ...]]] = {
    GZIP_6: (
        f"result_storage.GZIP_LEVEL = {PREVIOUS_GZIP_LEVEL} instead of {result_storage.GZIP_LEVEL}: the "
        "level before result_storage, for comparison (output about 20 % smaller, slower)",
        (GZIP_6,),
    ),
    PREVIOUS_STORAGE: (
        f"GZIP_LEVEL = {PREVIOUS_GZIP_LEVEL} and INLINE_MAX_STORED_BYTES = "
        f"{PREVIOUS_INLINE_MAX_STORED_BYTES // KB} KB instead of "
        f"{result_storage.INLINE_MAX_STORED_BYTES // KB} KB: the storage settings before result_storage",
        (PREVIOUS_STORAGE,),
    ),
    NO_PUBLICATION_RECORD: (
        "the jobs port's `mark_notified` does nothing: what recording the publication costs (a "
        "measurement, not a proposal: without it the reconciler would publish again)",
        (NO_PUBLICATION_RECORD,),
    ),
    PUBLICATION_ITEM: (
        "`mark_notified` as one PutItem of a tiny item of its own (key, message id, time) instead of "
        "the UpdateItem of the job item: 1 WRU instead of the job item's size (see the cost "
        "benchmark), one round trip either way",
        (PUBLICATION_ITEM,),
    ),
    RAW_TO_S3: (
        "result_storage.COMPRESS_MAX_RAW_BYTES = 0: every body to S3 as it came, the job item stays small",
        (RAW_TO_S3,),
    ),
}
"""Name -> (what it does, the changes it applies)."""

_STORAGE_PATCHES: dict[str, Callable[[], Any]] = {
    GZIP_6: functools.partial(gzip_level, PREVIOUS_GZIP_LEVEL),
    PREVIOUS_STORAGE: previous_storage,
    RAW_TO_S3: uncompressed_to_s3,
}


def _experiment(bench: CallbackBench, case: Case, name: str) -> Callable[[], float]:
    _, applied = EXPERIMENTS[name]
    overrides: dict[str, Callable[..., Any]] = {}
    if NO_PUBLICATION_RECORD in applied:
        overrides["mark_notified"] = lambda *_args, **_kwargs: None
    if PUBLICATION_ITEM in applied:
        dynamodb, table = client("dynamodb"), os.environ[Env.JOBS_TABLE]

        def record_in_a_tiny_item(job_id: str, message_id: str, at: Any, **_kwargs: Any) -> None:
            item = {"job_id": {"S": f"{job_id}#notified"}, "message_id": {"S": message_id}}
            dynamodb.put_item(TableName=table, Item=item | {"at": {"S": str(at)}})

        overrides["mark_notified"] = record_in_a_tiny_item
    service = build_service(jobs_overrides=overrides)
    patches = [_STORAGE_PATCHES[change] for change in applied if change in _STORAGE_PATCHES]

    def run() -> float:
        with ExitStack() as stack:
            for patch in patches:
                stack.enter_context(patch())
            return bench.invoke_service(service, case)

    return run


def run_experiments(
    bench: CallbackBench, cases: list[Case], repeats: Mapping[int, int]
) -> dict[str, dict[str, Any]]:
    """Each experiment interleaved with the unchanged service and the floor, per case; ratios are
    paired (per round) with the floor."""
    results: dict[str, dict[str, Any]] = {}
    for case in cases:
        variants: dict[str, Callable[[], float]] = {
            AS_IS: functools.partial(bench.invoke_service, build_service(), case),
            FLOOR_LABEL: functools.partial(bench.invoke_floor, case),
        }
        variants.update({name: _experiment(bench, case, name) for name in EXPERIMENTS})
        samples = bench.interleave(case, variants, repeats[case.nominal])
        results[case.name] = {
            name: {
                "median_ms": round(summarize(values).median, 4),
                "p95_ms": round(summarize(values).p95, 4),
                "paired_ratio_to_floor": round(paired_ratio(values, samples[FLOOR_LABEL]), 3),
                "n": len(values),
                "body_stored": _where_stored(bench, case, variants[name]),
            }
            for name, values in samples.items()
        }
    return results


def modelled_wait_ms(
    bench: CallbackBench, case: Case, invoke: Callable[[], float], model: LatencyModel
) -> float:
    """What `model` makes one delivery of `invoke` wait for AWS, from the calls it makes (at zero latency)."""
    bench.activate(case)
    with harness.stdout_redirected():
        invoke()  # the secret is cached from here on
        bench.stub.reset_records()
        invoke()
    return 1000 * sum(
        record.calls * model.seconds(service, operation, record.request_bytes // max(record.calls, 1))
        for (service, operation), record in bench.stub.records.items()
    )


def _where_stored(bench: CallbackBench, case: Case, invoke: Callable[[], float]) -> str:
    """Where one delivery of a variant put the body: "S3" if it called PutObject, else "inline"."""
    bench.activate(case)
    bench.stub.reset_records()
    with harness.stdout_redirected():
        invoke()
    return "S3" if bench.stub.record("s3", "PutObject").calls else "inline"


# The benchmark ---------------------------------------------------------------------------------------


def run(*, quick: bool = False, latency: LatencyModel | None = None) -> BenchmarkResult:
    result = BenchmarkResult(NAME, TITLE)
    model = latency or LatencyModel.from_environ()
    specs = QUICK_CASES if quick else CASES
    repeats = {
        mode: {size: (QUICK_REPEATS if quick else count) for size, count in counts.items()}
        for mode, counts in REPEATS.items()
    }
    result.inputs = {
        "cases": [f"{spec.label} {spec.payload}" for spec in specs],
        "repeats": repeats,
        "warmup_per_case": WARMUP,
        "event": "Lambda Function URL, payload format 2.0, application/json, Basic credentials, dg-token",
        "payload": "local.deepgram_emulator.payloads.generate_response(target_bytes=..., extra={job_id, "
        "callback_secret}); diarized: diarize + utterances + paragraphs",
        "stub": "botocore before-send: UpdateItem ALL_NEW -> the awaiting job as written; other writes -> ok",
        "latency_model": model.describe(),
        "floor": "decode + json.loads + sha256 + body stored once uncompressed (DynamoDB item <= 400 KB, "
        "else S3) + 1 PutItem + 1 Publish",
        "storage": {
            "module": "functions.core.result_storage",
            "GZIP_LEVEL": result_storage.GZIP_LEVEL,
            "INLINE_MAX_STORED_BYTES": result_storage.INLINE_MAX_STORED_BYTES,
            "COMPRESS_MAX_RAW_BYTES": result_storage.COMPRESS_MAX_RAW_BYTES,
        },
    }
    with CallbackBench() as bench:
        cases = [
            bench.case(spec.label, spec.nominal, index=index, payload=spec.payload)
            for index, spec in enumerate(specs)
        ]
        for mode in MODES:
            with bench.latency(model if mode == ROUND_TRIP else None):
                for case in cases:
                    comparison = bench.compare(case, repeats[mode][case.nominal])
                    result.rows.append(
                        summary_row(
                            NAME,
                            f"{mode}: {case.name} ({case.size:,} B)",
                            comparison.real,
                            comparison.floor,
                            FLOOR_LABEL,
                            target_ratio=TARGETS.get((mode, case.nominal)),
                            paired_ratio=comparison.paired_ratio,
                        )
                    )
                    result.details.setdefault("summaries", {}).setdefault(mode, {})[case.name] = {
                        "real_ms": comparison.real.as_dict(),
                        "floor_ms": comparison.floor.as_dict(),
                        "paired_ratio": round(comparison.paired_ratio, 3),
                    }
        result.details["aws_calls_per_delivery"] = {
            case.name: bench.calls_per_delivery(case) for case in cases
        }
        first = cases[1]
        explicit = bench.calls_per_delivery(
            first, functools.partial(bench.invoke_service, build_service(), first)
        )
        if explicit != result.details["aws_calls_per_delivery"][first.name]:
            raise BenchmarkError(
                f"the explicitly built service makes other AWS calls than the wired one: {explicit}"
            )
        result.details["where_stored"] = {
            case.name: _where_stored(bench, case, functools.partial(bench.invoke_real, case))
            for case in cases
        }
        result.details["modelled_wait_ms"] = {
            case.name: {
                "real": round(
                    modelled_wait_ms(bench, case, functools.partial(bench.invoke_real, case), model), 2
                ),
                FLOOR_LABEL: round(
                    modelled_wait_ms(bench, case, functools.partial(bench.invoke_floor, case), model), 2
                ),
            }
            for case in cases
        }
        result.details["log_bytes_per_delivery"] = {
            case.name: bench.log_bytes_per_delivery(case, 1 if quick else 3) for case in cases
        }
        deliveries = 2 if quick else 20
        focus = [case for case in cases if case.nominal >= 100 * KB]
        result.details["breakdown_ms_per_delivery"] = {}
        for mode in MODES:
            with bench.latency(model if mode == ROUND_TRIP else None):
                result.details["breakdown_ms_per_delivery"][mode] = {
                    case.name: breakdown(
                        bench, case, deliveries if case.nominal < 5 * MB else max(2, deliveries // 3)
                    )
                    for case in focus
                }
        result.details["profile"] = {
            case.name: profile(bench, case, 2 if quick else 20)
            for case in focus
            if case.nominal == 100 * KB or not quick
        }
        targeted = [case for case in cases if case.payload == WORDS and case.nominal in (100 * KB, MB)]
        experiment_repeats = {
            size: (QUICK_REPEATS if quick else max(20, count // 4))
            for size, count in REPEATS[CPU_ONLY].items()
        }
        result.details["experiments"] = {
            "what": {name: description for name, (description, _) in EXPERIMENTS.items()},
            "results": {CPU_ONLY: run_experiments(bench, targeted, experiment_repeats)},
        }
        with bench.latency(model):
            round_trip_repeats = dict.fromkeys(REPEATS[ROUND_TRIP], QUICK_REPEATS if quick else 30)
            result.details["experiments"]["results"][ROUND_TRIP] = run_experiments(
                bench, targeted[:1], round_trip_repeats
            )
    result.notes.extend(_notes(result, model))
    return result


def _notes(result: BenchmarkResult, model: LatencyModel) -> list[str]:
    details = result.details
    notes = [
        "Floor = decode + json.loads + sha256 + the body stored once uncompressed where it fits (in the one "
        "DynamoDB write up to 400 KB, else S3 PutObject + that write) + one SNS Publish; same stub, same "
        "clients, same modelled latency per kind of call.",
        "Ratio = paired ratio (median over interleaved rounds of real / floor); the verdicts use it. "
        "Round-trip model (ms per call): "
        + ", ".join(f"{service} {value:g}" for service, value in model.call_ms.items())
        + f"; S3 PutObject adds the body at {model.s3_mb_per_s:g} MB/s. Sources in benchmarks/stub.py "
        "(LatencyModel) and the README; change with --latency SERVICE=MS / BENCH_LATENCY_<SERVICE>_MS.",
        f"Storage (functions.core.result_storage): zstd level {result_storage.ZSTD_LEVEL} inline in the job "
        f"item while that is <= {result_storage.INLINE_MAX_STORED_BYTES // KB} KB, else an S3 object "
        f"(gzip up to {result_storage.COMPRESS_MAX_RAW_BYTES // MB} MB of body, as it came beyond). Where "
        "each body went and the AWS calls per warm delivery: "
        + "; ".join(
            f"{name}: {details['where_stored'][name]}, "
            + ", ".join(f"{operation} {count}" for operation, count in sorted(calls.items()))
            for name, calls in details["aws_calls_per_delivery"].items()
        ),
    ]
    notes.append(
        "Modelled AWS wait per delivery, handler / floor (ms, from the calls each makes): "
        + "; ".join(
            f"{name} {waits['real']:.1f} / {waits[FLOOR_LABEL]:.1f}"
            for name, waits in details["modelled_wait_ms"].items()
        )
    )
    for mode, per_case in details["breakdown_ms_per_delivery"].items():
        for name, steps in per_case.items():
            if not name.startswith(("100 KB", "5 MB")):
                continue
            notes.append(
                f"Where the time goes, {mode}, {name} (ms per delivery): "
                + ", ".join(f"{step} {value:.2f}" for step, value in steps.items())
            )
    for name, figures in details["profile"].items():
        if not name.startswith("100 KB"):
            continue
        notes.append(
            f"cProfile, {name} (ms per delivery, {figures['profiled_ms_per_delivery']:.2f} profiled; "
            "cumulative): "
            + ", ".join(
                f"{label} {value:.2f}" for label, value in figures["cumulative_ms_per_delivery"].items()
            )
            + ". Top own time: "
            + ", ".join(
                f"{entry['function']} {entry['own_ms_per_delivery']:.2f}"
                for entry in figures["top_own_time"][:6]
            )
        )
    for mode, per_case in details["experiments"]["results"].items():
        for name, variants in per_case.items():
            notes.append(
                f"Experiments, {mode}, {name} (service.handle; paired ratio to the floor; where the body "
                "went): "
                + "; ".join(
                    f"{variant}: {figures['median_ms']:.2f} ms = {figures['paired_ratio_to_floor']:.2f}x "
                    f"({figures['body_stored']})"
                    for variant, figures in variants.items()
                )
            )
    return notes
