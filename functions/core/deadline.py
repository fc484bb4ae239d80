"""A request's deadline: one instant on a monotonic clock that every step of the request spends
from. Pure Python (standard library only); the clock is injectable, so tests run on fake time.

The submit function makes one per request (`for_invocation`): API Gateway gives up on the
integration after 29 s, counted from before the Lambda's own clock starts (a cold start's init
phase counts for API Gateway, not for the function's timeout), so the deadline is the earlier of
the two, less a safety margin for answering.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Final

Clock = Callable[[], float]
"""Seconds on a monotonic clock (`time.monotonic`)."""

API_GATEWAY_TIMEOUT_SECONDS: Final = 29.0
"""API Gateway's (REST) default and maximum integration timeout for a regional API."""

SAFETY_MARGIN_SECONDS: Final = 1.0
"""Kept back from every request's budget: building and logging the answer, flushing metrics,
the hop back to API Gateway, and clock skew between API Gateway and the function."""


@dataclass(frozen=True)
class Deadline:
    """The instant (`at`, on `clock`) by which the work must be over."""

    at: float
    clock: Clock = field(default=time.monotonic, compare=False, repr=False)

    @classmethod
    def after(cls, seconds: float, clock: Clock = time.monotonic) -> Deadline:
        return cls(at=clock() + max(0.0, seconds), clock=clock)

    def remaining(self) -> float:
        """Seconds left, never negative."""
        return max(0.0, self.at - self.clock())

    def allows(self, seconds: float) -> bool:
        """Whether `seconds` of work started now would end by the deadline."""
        return self.remaining() >= seconds

    def earlier_by(self, seconds: float) -> Deadline:
        """This deadline moved `seconds` earlier: what a step may use when `seconds` are reserved
        for the steps that must follow it."""
        return replace(self, at=self.at - seconds)


def for_invocation(
    remaining_ms: int,
    *,
    spent_before_handler: float = 0.0,
    clock: Clock = time.monotonic,
) -> Deadline:
    """The deadline of one API request handled by a Lambda invocation.

    `remaining_ms`: the invocation's `context.get_remaining_time_in_millis()`.
    `spent_before_handler`: time API Gateway has already been waiting that the function's clock
    does not count (a cold start's init phase)."""
    gateway = API_GATEWAY_TIMEOUT_SECONDS - spent_before_handler
    budget = min(remaining_ms / 1000.0, gateway) - SAFETY_MARGIN_SECONDS
    return Deadline.after(budget, clock)


MAX_INIT_SECONDS: Final = 10.0
"""Lambda's limit on an on-demand function's init phase."""


class ColdStart:
    """How long API Gateway waited for the execution environment's init phase: the time from
    `begin()` (at import, early in init) to the first invocation, for an on-demand cold start only.
    Provisioned concurrency and SnapStart initialise before any request is waiting, and outside
    Lambda (`AWS_LAMBDA_INITIALIZATION_TYPE` unset) nothing is counted."""

    def __init__(self, started: float | None, clock: Clock = time.monotonic) -> None:
        self._started = started
        self._clock = clock

    @classmethod
    def begin(cls, environ: Mapping[str, str] = os.environ, clock: Clock = time.monotonic) -> ColdStart:
        on_demand = environ.get("AWS_LAMBDA_INITIALIZATION_TYPE") == "on-demand"
        return cls(clock() if on_demand else None, clock)

    def take(self) -> float:
        """The init time the first invocation's request waited for; 0 for every later one."""
        started, self._started = self._started, None
        return 0.0 if started is None else min(self._clock() - started, MAX_INIT_SECONDS)
