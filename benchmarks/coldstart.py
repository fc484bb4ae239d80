"""Benchmark 2: cold start of each function, side by side with the floor of importing boto3.

Each sample is a fresh `python -c <program>` (same interpreter, same flags, same environment for
every program) that imports a function's handler module and serves its first event against the
zero-latency AWS stub (set up inside the child, see `coldstart_child`); the floor programs only
`import boto3` (plus `from deepgram import DeepgramClient` for submit). Two figures per sample:

* in-process: from the program's first statement to the first answer, minus the measured
  benchmark scaffolding; this is the part a function's code controls;
* process wall: spawn to exit as the parent sees it (interpreter start-up included; the child
  leaves with `os._exit`, so interpreter teardown, which Lambda never pays, is not counted).

Bytecode. CPython looks for a module's .pyc next to its source (`__pycache__/`), unless
`PYTHONPYCACHEPREFIX` is set: then it reads and writes .pyc files only in a mirror tree under the
prefix and never consults any `__pycache__` directory. So a prefix decides, for every module
including site-packages and the standard library, whether bytecode exists:

* "with bytecode (as shipped)": a prefix warmed by one run of each program: every module has its
  .pyc. This is what Lambda runs: `infra/bundling.py` ships every module of an asset with its
  `__pycache__/<module>.cpython-314.pyc` (unchecked-hash, compiled by Pyodide for the runtime's
  CPython), boto3 (runtime) and Powertools (layer) come precompiled. The children run this
  machine's Python 3.11, which cannot load 3.14 bytecode, so the stand-in is 3.11 bytecode of the
  same modules: the cold start pays for reading and unmarshalling a .pyc instead of compiling the
  source, the same work whichever release wrote it. (The warmed .pyc are timestamp-based: the
  import system stats the source for either kind, and only compares its mtime and size here.) The
  submit target is judged on this variant (`AS_SHIPPED`);
* "asset compiled at start": the warm prefix minus the .pyc of what the function's Lambda asset
  ships (`functions/**`, and for submit the Deepgram SDK with its dependencies; the submit floor
  runs with submit's prefix, the boto3 floor with the callback's): what Lambda did while assets
  shipped without bytecode (and would do if the shipped .pyc did not match the runtime's magic
  number, which the bundling now refuses), compiling those on every cold start (the code directory
  is read-only, so the .pyc is never kept); what shipping bytecode saves;
* "nothing precompiled": a fresh, empty prefix for each sample: every module, the standard library
  and boto3 included, is compiled from source. An upper bound.

Measured runs set `PYTHONDONTWRITEBYTECODE=1` so no run changes a prefix; each child reports,
for a few probe modules, whether a .pyc was available (checked into results.json), which proves
the variant is what it claims to be. Programs are interleaved within each repetition.
"""

from __future__ import annotations

import importlib.metadata
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks import harness
from benchmarks.report import BenchmarkError, BenchmarkResult, Row, summary_row
from benchmarks.stats import Summary, paired_ratio, summarize
from benchmarks.stub import ZeroLatencyAws, answer_pipeline_writes

NAME = "coldstart"
TITLE = "Cold start: fresh process, import + first event (zero-latency AWS stub)"

TARGET_CALLBACK = 1.5
"""The callback's cold start, at most 1.5x `import boto3` (paired ratio, every bytecode variant)."""
TARGET_SUBMIT_MS = 400.0
"""The submit function's cold start as shipped (with bytecode: `AS_SHIPPED`), in ms."""
TIMEOUT_SECONDS = 120.0


@dataclass(frozen=True)
class Program:
    name: str
    body: str
    service: str | None = None
    floor: str | None = None
    """For a function: the name of the floor program it is compared with."""
    expected_status: int | None = None


FLOOR_BOTO3 = "floor: import boto3"
FLOOR_DEEPGRAM = "floor: import boto3 + deepgram"
FLOOR_CLIENTS = "floor: import boto3 + callback's 3 clients"

PROGRAMS: tuple[Program, ...] = (
    Program(FLOOR_BOTO3, "import boto3\n_answer = {}"),
    Program(FLOOR_DEEPGRAM, "import boto3\nfrom deepgram import DeepgramClient\n_answer = {}"),
    Program(
        FLOOR_CLIENTS,
        "import boto3\n"
        "from botocore.config import Config\n"
        "_config = Config(connect_timeout=2, read_timeout=5,\n"
        "                 retries={'max_attempts': 3, 'mode': 'standard'})\n"
        "for _service in ('secretsmanager', 'dynamodb', 'sns'):\n"
        "    boto3.client(_service, config=_config)\n"
        "_answer = {}",
    ),
    *(
        Program(
            service,
            (
                "import importlib\n"
                f'_module = importlib.import_module("functions.{service}.handler")\n'
                "_imported = time.perf_counter()\n"
                "from benchmarks.coldstart_child import serve_first_event\n"
                f'_answer = serve_first_event("{service}", _module,\n'
                "                             (time.perf_counter() - _imported) * 1000)\n"
            ),
            service=service,
            floor=FLOOR_DEEPGRAM if service == "submit" else FLOOR_BOTO3,
            expected_status=status,
        )
        for service, status in (("callback", 200), ("status", 200), ("submit", 202))
    ),
)


PROGRAMS_BY_NAME = {program.name: program for program in PROGRAMS}


POWERTOOLS_MODULES = {
    "callback": ("logging", "metrics"),
    "status": ("logging", "event_handler"),
    "submit": ("logging", "metrics", "event_handler", "utilities.idempotency", "utilities.parameters"),
}
"""The Powertools modules each handler imports (Logger, Metrics, the REST event handler, the
idempotency utility, the parameters utility behind `CachedSecrets`), timed as a phase of their own."""


def phases_program(service: str) -> Program:
    """A function's cold start split into phases (import boto3, Powertools, the rest of the
    import, the session, the clients, the first invocation): where a cold start's time goes."""
    powertools = ", ".join(f"aws_lambda_powertools.{module}" for module in POWERTOOLS_MODULES[service])
    label = f"import Powertools ({', '.join(POWERTOOLS_MODULES[service])})"
    body = (
        "import boto3\n"
        "_phases = {'import boto3': (time.perf_counter() - _started) * 1000}\n"
        "_mark = time.perf_counter()\n"
        f"import {powertools}\n"
        f"_phases[{label!r}] = (time.perf_counter() - _mark) * 1000\n"
        "_mark = time.perf_counter()\n"
        "import importlib\n"
        f'_module = importlib.import_module("functions.{service}.handler")\n'
        "_phases['import the rest of the handler module'] = (time.perf_counter() - _mark) * 1000\n"
        "from benchmarks.coldstart_child import serve_first_event_in_phases\n"
        f'_answer = serve_first_event_in_phases("{service}", _module, _phases)\n'
    )
    return Program(
        f"{service} (phases)", body, service=service, expected_status=200 if service != "submit" else 202
    )


_TEMPLATE = """\
import time
_started = time.perf_counter()
{body}
_finished = time.perf_counter()
import importlib.util, json, os, sys
_bytecode = {{}}
for _name in {probes!r}:
    _origin = getattr(sys.modules.get(_name), "__file__", None)
    if _origin and _origin.endswith(".py"):
        _bytecode[_name] = os.path.exists(importlib.util.cache_from_source(_origin))
_answer.update(
    total_ms=(_finished - _started) * 1000,
    import_ms=((globals().get("_imported") or _finished) - _started) * 1000,
    bytecode=_bytecode,
    pycache_prefix=sys.pycache_prefix,
)
with open(sys.argv[1], "w") as _out:
    json.dump(_answer, _out)
sys.stdout.flush()
sys.stderr.flush()
os._exit(0)
"""

PROBES = (
    "boto3",
    "botocore.client",
    "aws_lambda_powertools.logging.logger",
    "functions.core.contract",
    "deepgram",
    "pydantic.main",
    "json.decoder",
)


@dataclass(frozen=True)
class Variant:
    name: str
    repeats: dict[str, int]
    """Samples per program; programs are interleaved, round by round, until each has its count."""

    @property
    def programs(self) -> tuple[str, ...]:
        return tuple(self.repeats)


@dataclass(frozen=True)
class Sample:
    in_process_ms: float
    wall_ms: float
    import_ms: float
    bytecode: dict[str, bool]
    answer: dict[str, Any]


# Children ----------------------------------------------------------------------------------------------


def _child_environment(
    scenario: Path, prefix: Path, *, write_bytecode: bool, deepgram_url: str
) -> dict[str, str]:
    environment = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("PYTHONPYCACHEPREFIX", "AWS_"))
    }
    environment.pop("PYTHONDONTWRITEBYTECODE", None)
    environment.update(harness.function_environment(deepgram_url))
    environment["PYTHONPYCACHEPREFIX"] = str(prefix)
    environment["BENCH_COLDSTART_SCENARIO"] = str(scenario)
    if not write_bytecode:
        environment["PYTHONDONTWRITEBYTECODE"] = "1"
    return environment


def run_child(
    program: Program, environment: dict[str, str], workdir: Path, *, keep_answer: bool = False
) -> Sample:
    """One fresh interpreter running `program`; raises unless it served the expected answer."""
    code = _TEMPLATE.format(body=program.body, probes=PROBES)
    output = workdir / "answer.json"
    output.unlink(missing_ok=True)
    if program.service:
        environment = {**environment, "POWERTOOLS_SERVICE_NAME": program.service}
    started = time.perf_counter()
    process = subprocess.run(
        [sys.executable, "-c", code, str(output)],
        cwd=harness.REPO_ROOT,
        env=environment,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        timeout=TIMEOUT_SECONDS,
        check=False,
    )
    wall_ms = (time.perf_counter() - started) * 1000
    if process.returncode != 0 or not output.exists():
        raise BenchmarkError(f"cold start of {program.name!r} failed:\n{process.stderr.decode()[-3000:]}")
    answer: dict[str, Any] = json.loads(output.read_text())
    if program.expected_status is not None and answer.get("status") != program.expected_status:
        raise BenchmarkError(
            f"{program.name}: first event answered {answer.get('status')}, expected {program.expected_status}"
        )
    scaffold = float(answer.get("scaffold_ms", 0.0))
    return Sample(
        in_process_ms=float(answer["total_ms"]) - scaffold,
        wall_ms=wall_ms - scaffold,
        import_ms=float(answer["import_ms"]),
        bytecode=dict(answer["bytecode"]),
        answer=answer if keep_answer else {},
    )


# Scenarios ---------------------------------------------------------------------------------------------


def write_scenarios(directory: Path) -> dict[str, Path]:
    """The first event of each function and what GetItem answers, as JSON files for the children."""
    stub = ZeroLatencyAws()
    answer_pipeline_writes(stub)
    scenarios: dict[str, Path] = {}
    with harness.environment(harness.function_environment()):
        stub.install_on_default_session(harness.REGION)
        try:
            callback_job = harness.new_job_id(0xC0)
            status_job = harness.new_job_id(0xC1)
            minute = harness.callback_body_for_duration(1, status_job, diarized=False)
            documents: dict[str, dict[str, Any]] = {
                "callback": {
                    "event": harness.callback_event(
                        harness.callback_body(16 * harness.KB, callback_job), callback_job
                    ),
                    "item": harness.job_item(stub, callback_job, harness.request_id_for(callback_job)),
                },
                "status": {
                    "event": harness.status_event(status_job),
                    "item": harness.completed_job_item(stub, status_job, minute),
                },
                "submit": {"event": harness.submit_event(), "item": None},
            }
        finally:
            stub.uninstall()
    secrets = {
        harness.SIGNING_SECRET_ID: harness.SIGNING_KEY,
        harness.DEEPGRAM_SECRET_ID: harness.DEEPGRAM_API_KEY,
    }
    for service, document in documents.items():
        path = directory / f"{service}.json"
        path.write_text(json.dumps({**document, "secrets": secrets, "region": harness.REGION}))
        scenarios[service] = path
    scenarios[FLOOR_BOTO3] = scenarios[FLOOR_DEEPGRAM] = scenarios[FLOOR_CLIENTS] = scenarios["callback"]
    return scenarios


# Bytecode prefixes ---------------------------------------------------------------------------------------


def asset_sources(requirements: Path) -> list[Path]:
    """Source trees a function's asset ships: `functions/` and the installed closure of its
    requirements (top-level packages and modules, as installed for this interpreter)."""
    sources = [harness.REPO_ROOT / "functions"]
    if not requirements.is_file():
        return sources
    pending = [
        re.split(r"[<>=!~;\[ ]", line.strip(), maxsplit=1)[0]
        for line in requirements.read_text().splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]
    seen: set[str] = set()
    while pending:
        name = pending.pop().lower().replace("_", "-")
        if name in seen:
            continue
        seen.add(name)
        try:
            distribution = importlib.metadata.distribution(name)
        except importlib.metadata.PackageNotFoundError:
            continue  # a dependency for another Python version or platform
        for requirement in distribution.requires or []:
            if "extra ==" not in requirement:
                pending.append(re.split(r"[<>=!~;\[ (]", requirement.strip(), maxsplit=1)[0])
        for top in {file.parts[0] for file in distribution.files or [] if file.parts}:
            if top.endswith((".dist-info", ".data")) or top in ("..", "__pycache__"):
                continue
            sources.append(Path(str(distribution.locate_file(top))))
    return sorted(set(sources))


def remove_bytecode(prefix: Path, sources: list[Path]) -> int:
    """Delete the .pyc mirrored under `prefix` for each source file or tree; how many were removed."""
    removed = 0
    for source in sources:
        mirrored = prefix / source.resolve().relative_to(source.resolve().anchor)
        if source.is_dir() and mirrored.is_dir():
            removed += sum(1 for _ in mirrored.rglob("*.pyc"))
            shutil.rmtree(mirrored)
        elif source.suffix == ".py":
            for pyc in mirrored.parent.glob(f"{source.stem}.*.pyc"):
                pyc.unlink()
                removed += 1
    return removed


@contextmanager
def _workspace() -> Iterator[Path]:
    root = Path(tempfile.mkdtemp(prefix="bench-coldstart-"))
    try:
        yield root
    finally:
        shutil.rmtree(root, ignore_errors=True)


# The benchmark ---------------------------------------------------------------------------------------


WITH_BYTECODE = "with bytecode (as shipped)"
ASSET_COMPILED = "asset compiled at start"
NOTHING_PRECOMPILED = "nothing precompiled"
AS_SHIPPED = WITH_BYTECODE
"""The variant that matches what `infra/bundling.py` ships (bytecode for every module of an asset:
`infra.bundling.BYTECODE_MAGIC`; tests/infra/test_bundling.py keeps the two in step)."""
FULL_VARIANTS = (
    Variant(
        WITH_BYTECODE,
        {FLOOR_BOTO3: 15, FLOOR_CLIENTS: 15, "callback": 15, "status": 15, FLOOR_DEEPGRAM: 15, "submit": 15},
    ),
    Variant(ASSET_COMPILED, {FLOOR_BOTO3: 15, "callback": 15, "status": 15, FLOOR_DEEPGRAM: 8, "submit": 8}),
    Variant(NOTHING_PRECOMPILED, {FLOOR_BOTO3: 15, "callback": 15}),
)
"""15 samples where the target is judged (callback against its floor, in every variant: with 8,
the nothing-precompiled ratio swung between 1.05x and 1.48x from one run to the next); fewer where
a sample costs seconds and no target is judged (submit compiling the SDK)."""
QUICK_VARIANTS = (Variant(WITH_BYTECODE, {FLOOR_BOTO3: 1, "callback": 1}),)


def run(*, quick: bool = False) -> BenchmarkResult:
    result = BenchmarkResult(NAME, TITLE)
    variants = QUICK_VARIANTS if quick else FULL_VARIANTS
    result.inputs = {
        "interpreter": f"{sys.executable} (Python {sys.version.split()[0]}), flags: -c, cwd: repository root",
        "variants": {variant.name: variant.repeats for variant in variants},
        "first_events": {
            "callback": "Function URL POST, 16 KB body (1 min of words), Basic credentials -> 200",
            "status": "REST GET /transcriptions/{id}, completed job, 1-min result inline (gzip) -> 200",
            "submit": "REST POST /transcriptions, JSON {url}, Idempotency-Key, Deepgram on loopback -> 202",
        },
        "floors": {FLOOR_BOTO3: "callback, status", FLOOR_DEEPGRAM: "submit"},
    }
    with _workspace() as root, harness.AcceptingDeepgram() as deepgram:
        runner = _Runner(root, deepgram.url)
        runner.prepare(variants, result.details)
        samples = {variant.name: runner.sample(variant) for variant in variants}
        if not quick:
            result.details["phases_ms_with_bytecode"] = runner.phases()
    _check_bytecode(samples)
    for variant in variants:
        result.rows.extend(_rows(variant, samples[variant.name]))
        result.details.setdefault("samples", {})[variant.name] = {
            name: {
                "in_process_ms": summarize([sample.in_process_ms for sample in values]).as_dict(),
                "process_wall_ms": summarize([sample.wall_ms for sample in values]).as_dict(),
                "import_ms": summarize([sample.import_ms for sample in values]).as_dict(),
                "bytecode_available": values[0].bytecode,
            }
            for name, values in samples[variant.name].items()
        }
    result.notes.extend(_notes(result))
    return result


class _Runner:
    """Scenarios, bytecode prefixes and the children of one benchmark run, in a scratch directory."""

    def __init__(self, root: Path, deepgram_url: str) -> None:
        self.root = root
        self.deepgram_url = deepgram_url
        self.scenarios = write_scenarios(root)
        self.warm = root / "warm"
        self.asset_prefixes: dict[str, Path] = {}

    def environment(self, program: str, prefix: Path, *, write_bytecode: bool = False) -> dict[str, str]:
        return _child_environment(
            self.scenarios[program], prefix, write_bytecode=write_bytecode, deepgram_url=self.deepgram_url
        )

    def prepare(self, variants: Sequence[Variant], details: dict[str, Any]) -> None:
        """Warm the bytecode prefix (one run of each program, writing), then derive the asset ones."""
        needed = sorted({name for variant in variants for name in variant.programs})
        self.warm.mkdir()
        for name in needed:
            environment = self.environment(name, self.warm, write_bytecode=True)
            run_child(PROGRAMS_BY_NAME[name], environment, self.root)
        if not any(variant.name == ASSET_COMPILED for variant in variants):
            return
        for asset_name in sorted({_asset_of(name) for name in needed}):
            prefix = self.asset_prefixes[asset_name] = self.root / f"asset-{asset_name}"
            shutil.copytree(self.warm, prefix)
            sources = asset_sources(harness.REPO_ROOT / "functions" / asset_name / "requirements.txt")
            details.setdefault("asset_compiled_at_start", {})[asset_name] = {
                "sources": [str(source) for source in sources],
                "pyc_removed": remove_bytecode(prefix, sources),
            }

    def sample(self, variant: Variant) -> dict[str, list[Sample]]:
        """The variant's samples, programs interleaved round by round (rotated each round)."""
        per_program: dict[str, list[Sample]] = {name: [] for name in variant.programs}
        fresh = variant.name == NOTHING_PRECOMPILED
        for repetition in range(max(variant.repeats.values())):
            order = [name for name in variant.programs if repetition < variant.repeats[name]]
            shift = repetition % len(order)
            for name in order[shift:] + order[:shift]:
                prefix = self._fresh_prefix() if fresh else self.prefix(variant, name)
                sample = run_child(PROGRAMS_BY_NAME[name], self.environment(name, prefix), self.root)
                per_program[name].append(sample)
                if fresh:
                    shutil.rmtree(prefix, ignore_errors=True)
        return per_program

    def prefix(self, variant: Variant, program: str) -> Path:
        return self.warm if variant.name == WITH_BYTECODE else self.asset_prefixes[_asset_of(program)]

    def _fresh_prefix(self) -> Path:
        return Path(tempfile.mkdtemp(prefix="empty-", dir=self.root))

    def phases(self) -> dict[str, dict[str, float]]:
        """Median milliseconds per phase of each function's cold start, with bytecode."""
        medians: dict[str, dict[str, float]] = {}
        for service in ("callback", "status", "submit"):
            program = phases_program(service)
            environment = self.environment(service, self.warm)
            runs = [
                run_child(program, environment, self.root, keep_answer=True) for _ in range(PHASE_REPEATS)
            ]
            medians[service] = {
                name: round(summarize([float(run.answer["phases"][name]) for run in runs]).median, 2)
                for name in runs[0].answer["phases"]
            }
        return medians


def _rows(variant: Variant, per_program: dict[str, list[Sample]]) -> list[Row]:
    def figures(name: str | None, attribute: str = "in_process_ms") -> Summary | None:
        values = per_program.get(name) if name else None
        return summarize([getattr(sample, attribute) for sample in values]) if values else None

    rows = []
    for name in variant.programs:
        program = PROGRAMS_BY_NAME[name]
        measured, wall = figures(name), figures(name, "wall_ms")
        if program.floor is None or measured is None or wall is None:
            continue
        floor = figures(program.floor)
        rows.append(
            summary_row(
                NAME,
                f"{name}, {variant.name}",
                measured,
                floor,
                program.floor.removeprefix("floor: ") if floor else "no floor run",
                target_ratio=TARGET_CALLBACK if name == "callback" else None,
                target_max=TARGET_SUBMIT_MS if name == "submit" and variant.name == AS_SHIPPED else None,
                paired_ratio=_paired(per_program, name, program.floor),
                note=_wall_note(wall, figures(program.floor, "wall_ms")),
            )
        )
    callback, clients = figures("callback"), figures(FLOOR_CLIENTS)
    if callback and clients:
        case = f"callback, {variant.name}, vs boto3 + its clients"
        rows.append(
            summary_row(
                NAME,
                case,
                callback,
                clients,
                "boto3 + 3 clients",
                paired_ratio=_paired(per_program, "callback", FLOOR_CLIENTS),
            )
        )
    return rows


def _paired(per_program: dict[str, list[Sample]], name: str, floor: str) -> float | None:
    """The paired ratio of `name` to `floor` (samples of one repetition are interleaved), when
    both have as many samples; else None (the row then shows the ratio of medians)."""
    measured, baseline = per_program.get(name), per_program.get(floor)
    if not measured or not baseline or len(measured) != len(baseline):
        return None
    return paired_ratio([s.in_process_ms for s in measured], [s.in_process_ms for s in baseline])


PHASE_REPEATS = 3


def _asset_of(program: str) -> str:
    """Whose asset a program stands for: submit's (with the SDK) or the SDK-free functions'."""
    return "submit" if program in ("submit", FLOOR_DEEPGRAM) else "callback"


def _wall_note(wall: Summary, floor: Summary | None) -> str:
    if floor is None:
        return f"process wall {wall.median:.0f} ms"
    return f"process wall {wall.median:.0f} ms vs {floor.median:.0f} ms ({wall.median / floor.median:.2f}x)"


def _check_bytecode(samples: dict[str, dict[str, list[Sample]]]) -> None:
    """Every sample saw the bytecode its variant promises (see the module docstring)."""
    for variant, per_program in samples.items():
        for name, values in per_program.items():
            for sample in values:
                present = sample.bytecode
                if variant == WITH_BYTECODE and not all(present.values()):
                    raise BenchmarkError(f"{name}: a .pyc was missing in the warmed prefix: {present}")
                if variant == NOTHING_PRECOMPILED and any(present.values()):
                    raise BenchmarkError(f"{name}: a .pyc was found in an empty prefix: {present}")
                if variant == ASSET_COMPILED:
                    shipped = [
                        module
                        for module in ("functions.core.contract", "deepgram", "pydantic.main")
                        if module in present
                    ]
                    provided = [
                        module for module in ("boto3", "botocore.client", "json.decoder") if module in present
                    ]
                    if any(present[module] for module in shipped) or not all(
                        present[module] for module in provided
                    ):
                        raise BenchmarkError(f"{name}: unexpected bytecode for the asset variant: {present}")


def _notes(result: BenchmarkResult) -> list[str]:
    notes = [
        "Figure = in-process time from the program's first statement to the first answer (scaffolding "
        "subtracted); floor = the same for `import boto3` (+ `from deepgram import DeepgramClient` for "
        "submit), in a fresh process with the same flags and environment.",
        "Bytecode method: PYTHONPYCACHEPREFIX makes CPython read and write .pyc only under the prefix, never "
        "in __pycache__ next to the sources, so site-packages' own .pyc cannot hide compilation. 'with "
        "bytecode (as shipped)' = a warmed prefix: infra/bundling.py ships a cpython-314 .pyc with every "
        "module, and this machine's 3.11 bytecode stands in for it (same work: unmarshal, not compile); "
        "'asset compiled at start' = the warmed prefix minus the .pyc of what the function's zip ships "
        "(functions/**; for submit also its requirements' closure: deepgram, pydantic, httpx, ...), what "
        "Lambda did before the assets shipped bytecode; 'nothing precompiled' = a fresh empty prefix per "
        "run (stdlib and boto3 compiled too: an upper bound). PYTHONDONTWRITEBYTECODE=1 in measured runs; "
        "each child reports which probe modules had a .pyc, checked against its variant.",
    ]
    for row in result.rows:
        if row.note:
            notes.append(f"{row.case}: {row.note}")
    for service, phases in result.details.get("phases_ms_with_bytecode", {}).items():
        notes.append(
            f"{service} cold start by phase (with bytecode, median ms of {PHASE_REPEATS}): "
            + ", ".join(f"{name} {value:.0f}" for name, value in phases.items())
        )
    return notes
