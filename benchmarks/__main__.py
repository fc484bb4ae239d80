"""`python -m benchmarks`: run the benchmarks, print one table, write benchmarks/results.json.

python -m benchmarks                      # everything (`make bench`)
python -m benchmarks --quick              # tiny repetitions: checks that every benchmark runs
python -m benchmarks --only callback --only cost
python -m benchmarks --latency dynamodb=6 --latency sns=30 --s3-mb-per-s 50   # the round-trip model
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
import traceback
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from benchmarks import assets, callback, coldstart, cost, e2e
from benchmarks.report import BenchmarkResult, notes, table, targets_table
from benchmarks.stub import S3_THROUGHPUT_VARIABLE, LatencyModel, latency_variable

BENCHMARKS: dict[str, tuple[str, Callable[..., BenchmarkResult]]] = {
    callback.NAME: (callback.TITLE, callback.run),
    coldstart.NAME: (coldstart.TITLE, coldstart.run),
    assets.NAME: (assets.TITLE, assets.run),
    e2e.NAME: (e2e.TITLE, e2e.run),
    cost.NAME: (cost.TITLE, cost.run),
}
"""In the order they run: the in-process timings first, while nothing else runs in this process."""

DEFAULT_OUTPUT = Path(__file__).resolve().parent / "results.json"


def parse_arguments(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="tiny repetitions, to check the benchmarks run")
    parser.add_argument(
        "--only",
        action="append",
        choices=sorted(BENCHMARKS),
        metavar="NAME",
        help=f"run only this benchmark (repeatable): {', '.join(BENCHMARKS)}",
    )
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT, help="where to write the JSON results")
    services = ", ".join(LatencyModel().call_ms)
    parser.add_argument(
        "--latency",
        action="append",
        default=[],
        metavar="SERVICE=MS",
        help=f"the round-trip model's latency per call of one service ({services}); repeatable; "
        "default: benchmarks/stub.py LatencyModel, or BENCH_LATENCY_<SERVICE>_MS",
    )
    parser.add_argument(
        "--s3-mb-per-s",
        type=float,
        metavar="MB_PER_S",
        help=f"S3 upload throughput of the round-trip model (default 85, or {S3_THROUGHPUT_VARIABLE})",
    )
    return parser.parse_args(argv)


def latency_environment(arguments: argparse.Namespace) -> dict[str, str]:
    """The `--latency` and `--s3-mb-per-s` flags as the variables `LatencyModel.from_environ` reads."""
    known = set(LatencyModel().call_ms)
    variables: dict[str, str] = {}
    for setting in arguments.latency:
        service, _, milliseconds = setting.partition("=")
        if service not in known:
            raise SystemExit(f"--latency {setting}: the service is one of {', '.join(sorted(known))}")
        variables[latency_variable(service)] = str(float(milliseconds))
    if arguments.s3_mb_per_s is not None:
        variables[S3_THROUGHPUT_VARIABLE] = str(arguments.s3_mb_per_s)
    return variables


def run(names: Sequence[str], *, quick: bool) -> list[BenchmarkResult]:
    """Run each benchmark; one that fails is reported as failed and the others still run."""
    results = []
    for name in names:
        title, benchmark = BENCHMARKS[name]
        print(f"running {name}: {title} ...", file=sys.stderr, flush=True)
        started = time.perf_counter()
        try:
            result = benchmark(quick=quick)
        except Exception as error:  # report and carry on: one broken benchmark must not hide the rest
            traceback.print_exc()
            result = BenchmarkResult(name, title, skipped=f"FAILED: {type(error).__name__}: {error}")
        result.seconds = time.perf_counter() - started
        print(f"  {name} done in {result.seconds:.1f} s", file=sys.stderr, flush=True)
        results.append(result)
    return results


def machine() -> dict[str, Any]:
    return {
        "python": sys.version.split()[0],
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
        "load_average": os.getloadavg() if hasattr(os, "getloadavg") else None,
    }


def main(argv: Sequence[str] | None = None) -> int:
    arguments = parse_arguments(argv)
    # The CDK libraries (imported by the asset and cost benchmarks to read infra/) start Node.
    os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
    os.environ.update(latency_environment(arguments))
    names = [name for name in BENCHMARKS if not arguments.only or name in arguments.only]
    started = time.perf_counter()
    machine_before = machine()
    results = run(names, quick=arguments.quick)
    elapsed = time.perf_counter() - started
    document = {
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "quick": arguments.quick,
        "seconds": round(elapsed, 1),
        "machine": {**machine_before, "load_average_after": machine().get("load_average")},
        "latency_model": LatencyModel.from_environ().describe(),
        "benchmarks": {result.name: result.as_dict() for result in results},
    }
    arguments.output.parent.mkdir(parents=True, exist_ok=True)
    arguments.output.write_text(json.dumps(document, indent=2, ensure_ascii=False) + "\n")
    print()
    print(table(results))
    print()
    print("Targets (verdict on the paired ratio, or on the absolute figure):")
    print(targets_table(results))
    print()
    print(notes(results))
    print()
    mode = " (quick)" if arguments.quick else ""
    print(f"{len(results)} benchmark(s) in {elapsed:.0f} s{mode}; figures in {arguments.output}")
    return 1 if any(result.skipped and result.skipped.startswith("FAILED") for result in results) else 0


if __name__ == "__main__":
    raise SystemExit(main())
