"""Order statistics for benchmark samples: median, p95, p99, and the paired ratio of two series.

Percentiles interpolate linearly between closest ranks (numpy's default, "type 7"), so a p95 of
20 samples is meaningful but coarse: the benchmarks say how many samples each figure rests on.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
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


def paired_ratio(measured: Sequence[float], baseline: Sequence[float]) -> float:
    """The median over pairs of `measured[i] / baseline[i]`: the two series were measured back to
    back, round by round, so each pair saw the same machine. Steadier than the ratio of the two
    medians when the machine's speed drifts during a run; it is the figure the verdicts use."""
    if len(measured) != len(baseline):
        raise ValueError(f"{len(measured)} measured samples for {len(baseline)} baseline samples")
    return percentile([ratio(value, floor) for value, floor in zip(measured, baseline, strict=True)], 0.5)
