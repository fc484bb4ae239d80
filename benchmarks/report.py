"""Benchmark results: rows for the one printed table, and everything else for results.json.

Every row compares a figure with a baseline measured in the same run and, where the issue sets
one, with a target. Where the figure and its baseline were measured in interleaved rounds, the
ratio is the *paired* ratio (the median over rounds of measured / baseline, `stats.paired_ratio`),
and the verdict uses it; the ratio of the two medians is kept beside it (`ratio_of_medians`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from benchmarks.stats import Summary


class BenchmarkError(RuntimeError):
    """A benchmark could not produce a valid figure (e.g. the handler did not accept a callback)."""


@dataclass(frozen=True)
class Row:
    """One line of the table: a median (or single figure) with its p95, against a baseline."""

    benchmark: str
    case: str
    unit: str
    value: float
    baseline: float | None
    baseline_label: str
    p95: float | None = None
    n: int | None = None
    baseline_p95: float | None = None
    target_ratio: float | None = None
    target_max: float | None = None
    """An absolute target instead, in `unit` (e.g. an asset under 100 KB)."""
    target_inclusive: bool = True
    note: str = ""
    paired_ratio: float | None = None
    """Median over interleaved rounds of value / baseline; when set, it is the row's ratio."""

    @property
    def ratio_of_medians(self) -> float | None:
        if self.baseline is None:
            return None
        return self.value / self.baseline if self.baseline else math.inf

    @property
    def ratio(self) -> float | None:
        """The paired ratio where there is one, else the ratio of the medians."""
        return self.paired_ratio if self.paired_ratio is not None else self.ratio_of_medians

    @property
    def met(self) -> bool | None:
        if self.target_max is not None:
            return self.value <= self.target_max if self.target_inclusive else self.value < self.target_max
        ratio = self.ratio
        if self.target_ratio is None or ratio is None:
            return None
        return ratio <= self.target_ratio if self.target_inclusive else ratio < self.target_ratio

    @property
    def target_text(self) -> str:
        sign = "≤" if self.target_inclusive else "<"
        if self.target_max is not None:
            return f"{sign} {format_value(self.target_max, self.unit)}"
        if self.target_ratio is None:
            return ""
        return f"{sign} {self.target_ratio:g}x"

    def as_dict(self) -> dict[str, Any]:
        return {
            "case": self.case,
            "unit": self.unit,
            "median": _round(self.value),
            "p95": _round(self.p95),
            "n": self.n,
            "baseline": self.baseline_label,
            "baseline_median": _round(self.baseline),
            "baseline_p95": _round(self.baseline_p95),
            "ratio": _round(self.ratio),
            "ratio_kind": "paired" if self.paired_ratio is not None else "of medians",
            "ratio_of_medians": _round(self.ratio_of_medians),
            "target": self.target_text or None,
            "target_met": self.met,
            "note": self.note or None,
        }


def summary_row(
    benchmark: str,
    case: str,
    measured: Summary,
    baseline: Summary | None,
    baseline_label: str,
    *,
    unit: str = "ms",
    target_ratio: float | None = None,
    target_max: float | None = None,
    paired_ratio: float | None = None,
    note: str = "",
) -> Row:
    return Row(
        benchmark=benchmark,
        case=case,
        unit=unit,
        value=measured.median,
        p95=measured.p95,
        n=measured.n,
        baseline=baseline.median if baseline else None,
        baseline_p95=baseline.p95 if baseline else None,
        baseline_label=baseline_label,
        target_ratio=target_ratio,
        target_max=target_max,
        paired_ratio=paired_ratio,
        note=note,
    )


@dataclass
class BenchmarkResult:
    name: str
    title: str
    rows: list[Row] = field(default_factory=list)
    inputs: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0
    skipped: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "title": self.title,
            "skipped": self.skipped,
            "seconds": round(self.seconds, 2),
            "inputs": self.inputs,
            "rows": [row.as_dict() for row in self.rows],
            "notes": self.notes,
            "details": self.details,
        }


def _round(value: float | None) -> float | None:
    if value is None or math.isinf(value):
        return value
    return round(value, 4 if abs(value) < 10 else 2)


# Rendering ----------------------------------------------------------------------------------------

_HEADERS = ("benchmark", "case", "median", "p95", "n", "baseline (median)", "ratio", "target", "")
_TARGET_HEADERS = ("benchmark", "case", "measured", "target", "verdict", "margin")


def format_value(value: float | None, unit: str) -> str:
    if value is None:
        return "-"
    if unit == "$":
        return f"${value:,.4f}" if value < 10 else f"${value:,.2f}"
    if unit == "KB":
        return f"{value:,.1f} KB"
    if unit == "ms":
        return f"{value:,.2f} ms" if value < 100 else f"{value:,.0f} ms"
    return f"{value:,.3g} {unit}".strip()


def table(results: Sequence[BenchmarkResult]) -> str:
    """The one table: every row of every benchmark, aligned, with the target verdicts."""
    lines: list[tuple[str, ...]] = []
    for result in results:
        if result.skipped:
            lines.append((result.name, f"skipped: {result.skipped}", "", "", "", "", "", "", ""))
            continue
        for row in result.rows:
            verdict = {True: "met", False: "MISSED", None: ""}[row.met]
            baseline = (
                f"{format_value(row.baseline, row.unit)} {row.baseline_label}".strip()
                if row.baseline is not None
                else row.baseline_label
            )
            lines.append(
                (
                    result.name,
                    row.case,
                    format_value(row.value, row.unit),
                    format_value(row.p95, row.unit) if row.p95 is not None else "",
                    str(row.n) if row.n is not None else "",
                    baseline,
                    _ratio_text(row),
                    row.target_text,
                    verdict,
                )
            )
    return _render(_HEADERS, lines, numeric={2, 3, 4, 6})


def _ratio_text(row: Row) -> str:
    """`1.23x` (paired) or `1.23x m` (ratio of medians: the two were not measured in pairs)."""
    ratio = row.ratio
    if ratio is None or math.isinf(ratio):
        return ""
    return f"{ratio:.2f}x" if row.paired_ratio is not None else f"{ratio:.2f}x m"


def targets_table(results: Sequence[BenchmarkResult]) -> str:
    """Every row with a target: the figure the verdict is on (the paired ratio, or the absolute
    value for an absolute target), the target, met or MISSED, and by how much."""
    lines: list[tuple[str, ...]] = []
    for result in results:
        for row in result.rows:
            if row.met is None:
                continue
            if row.target_max is not None:
                measured, limit = row.value, row.target_max
                shown = format_value(row.value, row.unit)
            else:
                assert row.ratio is not None
                assert row.target_ratio is not None
                measured, limit = row.ratio, row.target_ratio
                shown = _ratio_text(row)
            margin = measured / limit - 1 if limit else math.inf
            lines.append(
                (
                    result.name,
                    row.case,
                    shown,
                    row.target_text,
                    "met" if row.met else "MISSED",
                    f"{margin:+.0%} of the target",
                )
            )
    if not lines:
        return "(no targets)"
    return _render(_TARGET_HEADERS, lines, numeric={2})


def _render(headers: Sequence[str], lines: Sequence[Sequence[str]], *, numeric: set[int]) -> str:
    widths = [max(len(header), *(len(line[index]) for line in lines)) for index, header in enumerate(headers)]

    def render(cells: Sequence[str]) -> str:
        parts = [
            cell.rjust(widths[index]) if index in numeric else cell.ljust(widths[index])
            for index, cell in enumerate(cells)
        ]
        return " | ".join(parts).rstrip()

    rule = "-+-".join("-" * width for width in widths)
    return "\n".join([render(headers), rule, *(render(line) for line in lines)])


def notes(results: Sequence[BenchmarkResult]) -> str:
    blocks = []
    for result in results:
        if result.notes:
            blocks.append(
                f"[{result.name}] {result.title}\n" + "\n".join(f"  {note}" for note in result.notes)
            )
    return "\n\n".join(blocks)
