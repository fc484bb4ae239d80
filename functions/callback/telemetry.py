"""What the callback function logs and counts for each answer (Powertools Logger and Metrics)."""

from __future__ import annotations

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit, single_metric

from functions.callback.logic import CallbackResult
from functions.core import contract
from functions.core.tracing import annotate

logger = Logger(service=contract.Services.CALLBACK)
metrics = Metrics(namespace=contract.Metrics.NAMESPACE, service=contract.Services.CALLBACK)


def observe(result: CallbackResult, body_bytes: int) -> None:
    logger.append_keys(job_id=result.job_id, request_id=result.request_id)
    annotate(job_id=result.job_id, request_id=result.request_id)
    names = contract.Metrics
    details = {"outcome": result.outcome, "status_code": result.status_code, "body_bytes": body_bytes}
    if result.outcome == "accepted":
        count(names.CALLBACKS_ACCEPTED)
        if result.seconds_since_submit is not None:
            metrics.add_metric(
                name=names.SECONDS_TO_CALLBACK, unit=MetricUnit.Seconds, value=result.seconds_since_submit
            )
        if result.job_status == "failed":
            count(names.JOBS_FAILED)
        logger.info("callback accepted", extra={**details, "job_status": result.job_status})
    elif result.outcome == "duplicate":
        count(names.CALLBACKS_DUPLICATE)
        logger.info("duplicate callback acknowledged", extra=details)
    elif result.outcome == "discarded":
        count(names.CALLBACKS_DISCARDED)
        logger.info("result for a deleted job acknowledged and discarded", extra=details)
    elif result.outcome == "retry":
        count(names.CALLBACK_FAULTS)
        # `detail` names the dependency and its error code, never a secret or the body.
        logger.error("dependency failed; asking Deepgram to retry", extra={**details, "error": result.detail})
    else:
        count(names.CALLBACKS_REJECTED)
        with single_metric(
            name=names.CALLBACKS_REJECTED_BY_REASON,
            unit=MetricUnit.Count,
            value=1,
            namespace=names.NAMESPACE,
            default_dimensions={"service": contract.Services.CALLBACK},
        ) as metric:
            metric.add_dimension(name="reason", value=result.reason or "unknown")
        logger.warning("callback rejected", extra={**details, "reason": result.reason})
    if result.published:
        count(names.NOTIFICATIONS_PUBLISHED)


def count(name: str) -> None:
    metrics.add_metric(name=name, unit=MetricUnit.Count, value=1)
