"""What the submit function logs and counts (Powertools Logger and Metrics)."""

from __future__ import annotations

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

from functions.core import contract
from functions.core.api_errors import ApiError
from functions.core.tracing import annotate
from functions.submit.types import Submitted

logger = Logger(service=contract.Services.SUBMIT)
metrics = Metrics(namespace=contract.Metrics.NAMESPACE, service=contract.Services.SUBMIT)


def observe(submitted: Submitted) -> None:
    """Log and count a submission; a replay under an Idempotency-Key is neither a new job nor a
    new failure (it would re-fire the failed-jobs alarm)."""
    job, failure = submitted.job, submitted.failure
    logger.append_keys(job_id=job["id"], request_id=job.get("request_id"))
    annotate(job_id=job["id"], request_id=job.get("request_id"))
    if submitted.replayed:
        logger.info("idempotent replay", extra={"status": job["status"], "failed": failure is not None})
        return
    if not submitted.request_id_stored:
        logger.warning("request_id not stored; the callback will record it")
    if failure is not None:
        metrics.add_metric(name=contract.Metrics.JOBS_FAILED, unit=MetricUnit.Count, value=1)
        logger.warning(
            "Deepgram did not take the job", extra={"code": failure.code, "ambiguous": failure.ambiguous}
        )
        return
    metrics.add_metric(name=contract.Metrics.JOBS_SUBMITTED, unit=MetricUnit.Count, value=1)
    logger.info("job submitted", extra={"status": job["status"], "source_type": job["source"]["type"]})


def count_error(_: ApiError) -> None:
    metrics.add_metric(name=contract.Metrics.SUBMIT_ERRORS, unit=MetricUnit.Count, value=1)
