"""What the finisher logs and counts for each delivery object (Powertools Logger and Metrics)."""

from __future__ import annotations

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

from functions.core import contract
from functions.finisher.logic import Finished

logger = Logger(service=contract.Services.FINISHER)
metrics = Metrics(namespace=contract.Metrics.NAMESPACE, service=contract.Services.FINISHER)

_COUNTED = {
    "accepted": contract.Metrics.CALLBACKS_ACCEPTED,
    "duplicate": contract.Metrics.CALLBACKS_DUPLICATE,
    "discarded": contract.Metrics.CALLBACKS_DISCARDED,
    "rejected": contract.Metrics.CALLBACKS_REJECTED,
    "retry": contract.Metrics.CALLBACK_FAULTS,
}


def observe(finished: Finished) -> None:
    result = finished.result
    fields = {
        "key": finished.key,
        "job_id": finished.job_id,
        "request_id": result.request_id if result else None,
        "outcome": finished.outcome,
        "reason": result.reason if result else None,
        "body_bytes": finished.body_bytes,
        "job_status": result.job_status if result else None,
        "detail": finished.detail,  # names a dependency and its error code, never a secret or the body
    }
    if finished.outcome in _COUNTED:
        metrics.add_metric(name=_COUNTED[finished.outcome], unit=MetricUnit.Count, value=1)
    if result is not None and result.published:
        metrics.add_metric(name=contract.Metrics.NOTIFICATIONS_PUBLISHED, unit=MetricUnit.Count, value=1)
    if finished.retry:
        logger.error("delivery not finished; the event will be retried", extra=fields)
    elif finished.outcome == "rejected":
        logger.warning("delivery refused; not retried (the object expires with deliveries/)", extra=fields)
    else:
        logger.info("delivery handled", extra=fields)
