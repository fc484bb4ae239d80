"""Order statistics for benchmark samples: median, p95, p99 and the ratio of two medians.

Percentiles interpolate linearly between closest ranks (numpy's default, "type 7"), so a p95 of
20 samples is meaningful but coarse: the benchmarks say how many samples each figure rests on.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class Summary:
    """Samples in one unit (milliseconds unless said otherwise)."""

    n: int
    median: float
    p95: float
    p99: float
    minimum: float
    maximum: float
    mean: float

    def as_dict(self) -> dict[str, Any]:
        return {
            key: round(value, 4) if isinstance(value, float) else value for key, value in asdict(self).items()
        }


def percentile(samples: Sequence[float], fraction: float) -> float:
    """The `fraction` quantile (0..1) of `samples`, interpolating between closest ranks."""
    if not samples:
        raise ValueError("no samples")
    if not 0.0 <= fraction <= 1.0:
        raise ValueError("fraction must be within [0, 1]")
    ordered = sorted(samples)
    position = fraction * (len(ordered) - 1)
    lower = math.floor(position)
    upper = min(lower + 1, len(ordered) - 1)
    weight = position - lower
    return ordered[lower] + (ordered[upper] - ordered[lower]) * weight


def summarize(samples: Sequence[float]) -> Summary:
    if not samples:
        raise ValueError("no samples")
    return Summary(
        n=len(samples),
        median=percentile(samples, 0.5),
        p95=percentile(samples, 0.95),
        p99=percentile(samples, 0.99),
        minimum=min(samples),
        maximum=max(samples),
        mean=sum(samples) / len(samples),
    )


def ratio(value: float, baseline: float) -> float:
    """`value / baseline`; infinite when the baseline is zero (never silently 0)."""
    return value / baseline if baseline else math.inf


def elapsed_ms(started_ns: int) -> float:
    """Milliseconds since `started_ns` (a `time.perf_counter_ns()` reading)."""
    return (time.perf_counter_ns() - started_ns) / 1e6


def timed_ms(action: Callable[[], object]) -> tuple[float, object]:
    """Run `action` once; its wall time in milliseconds and its result."""
    started = time.perf_counter_ns()
    result = action()
    return elapsed_ms(started), result
