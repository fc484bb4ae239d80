"""Lambda entry point of the reconciler: a scheduled EventBridge event in, a summary out.

`ReconcilerService` (`logic.py`) does the work; `wiring.py` builds it; `telemetry.py` logs a
line per job it touched and the metrics the alarms watch.

**Reconciling "as of" the event's time.** A scheduled event carries the moment it was scheduled
for (`time`, ISO-8601). When that moment is *later* than the function's clock, the run acts as of
it: this is how the local stack simulates half an hour passing in a test without waiting for it.
In AWS it changes nothing: EventBridge's `time` is the scheduled moment, which is already past
when the function runs. It is safe to honour because only two kinds of callers can invoke this
function at all: the schedule rule (EventBridge, through the resource policy CDK adds for that
one rule) and principals the account has granted `lambda:InvokeFunction` on it; the function has
no URL and no API in front of it. Even such a principal can only move the clock forward, by at
most `MAX_AHEAD`: jobs are then given up early, which is ambiguous and recoverable (a result that
still arrives completes the job and is published too), and notification leases look expired early
(at worst one extra publication of a notification, which SNS's at-least-once delivery means
subscribers handle anyway). An event without a usable `time`, or one in the past, runs on the clock.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from functions.core import contract
from functions.core.tracing import traced
from functions.reconciler import wiring
from functions.reconciler.telemetry import logger, metrics, observe

MAX_AHEAD = timedelta(days=1)
"""How far an event's `time` may put the run ahead of the clock; a later one is not honoured."""


def event_time(event: dict[str, Any], *, now: datetime) -> datetime | None:
    """The event's `time` if it is a later moment than `now` by at most `MAX_AHEAD`; else None."""
    value = event.get("time") if isinstance(event, dict) else None
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    if moment <= now or moment - now > MAX_AHEAD:
        return None
    return moment


@traced(contract.Services.RECONCILER)
@metrics.log_metrics
@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    as_of = event_time(event, now=datetime.now(UTC))
    if as_of is not None:
        logger.info("reconciling as of the event's time", extra={"as_of": as_of.isoformat()})
    report = wiring.service().run(as_of=as_of)
    observe(report)
    return {
        "touched": len(report.touched),
        **{
            action: report.count(action)
            for action in ("failed", "resubmitted", "notified", "skipped", "error")
        },
        "oldest_awaiting_age_seconds": report.oldest_awaiting_age_seconds,
        "as_of": as_of.isoformat() if as_of is not None else None,
    }
