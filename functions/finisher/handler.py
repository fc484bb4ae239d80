"""Lambda entry point of the finisher: S3 "Object Created" events for `deliveries/` in (routed by
EventBridge), each result finished by the callback's rules (`logic.py`). A delivery that met a
failing dependency raises, so Lambda retries the event; a refused one is logged, not retried."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from functions.core import contract
from functions.core.tracing import traced
from functions.finisher import wiring
from functions.finisher.events import created_objects
from functions.finisher.telemetry import logger, metrics, observe


class RetryLater(RuntimeError):
    """A delivery could not be finished now; raising makes Lambda retry the event."""


@traced(contract.Services.FINISHER)
@metrics.log_metrics
@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    finished = [wiring.finisher().finish(created) for created in created_objects(event)]
    for each in finished:
        observe(each)
    if retry := [each.key for each in finished if each.retry]:
        raise RetryLater(f"delivery not finished, to be retried: {', '.join(retry)}")
    return {"finished": [{"key": each.key, "outcome": each.outcome} for each in finished]}
