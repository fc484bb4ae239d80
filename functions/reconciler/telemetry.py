"""What the reconciler logs and counts: a line per job it touched, `JobsReconciled` by reason,
and the age of the oldest job still awaiting its result (both alarmed, see infra/monitoring.py).

`JobsReconciled`'s `reason` dimension is what the reconciler did, in few values: a job given up
counts as `callback_not_received` (the failed job's error code, and what the CallbackNotReceived
alarm watches), a job submitted again as `resubmitted`, a notification published late as
`notification_owed`. Why the result did not come (`no_callback_received`, `result_too_large`,
`deepgram_failed`, `callback_refused`) is in the job's log line and in its error message.
"""

from __future__ import annotations

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit, single_metric

from functions.core import contract
from functions.reconciler.logic import CALLBACK_NOT_RECEIVED, Reason, ReconcileReport, Touched

logger = Logger(service=contract.Services.RECONCILER)
metrics = Metrics(namespace=contract.Metrics.NAMESPACE, service=contract.Services.RECONCILER)

COUNTED_ACTIONS = ("failed", "resubmitted", "notified")
ACTIONS = (*COUNTED_ACTIONS, "skipped", "error")


def metric_reason(touched: Touched) -> str | None:
    """The `reason` dimension `touched` is counted under; None: not counted."""
    return {
        "failed": CALLBACK_NOT_RECEIVED,
        "resubmitted": "resubmitted",
        "notified": Reason.NOTIFICATION_OWED.value,
    }.get(touched.action)


def observe(report: ReconcileReport) -> None:
    for touched in report.touched:
        fields = {"job_id": touched.job_id, "reason": str(touched.reason), "action": touched.action}
        if touched.detail:
            fields["detail"] = touched.detail
        if touched.action == "error":
            logger.error("job could not be reconciled; the next run tries again", extra=fields)
        else:
            logger.info("job reconciled", extra=fields)
        reason = metric_reason(touched)
        if reason is not None:
            with single_metric(
                name=contract.Metrics.JOBS_RECONCILED,
                unit=MetricUnit.Count,
                value=1,
                namespace=contract.Metrics.NAMESPACE,
                default_dimensions={"service": contract.Services.RECONCILER},
            ) as metric:
                metric.add_dimension(name="reason", value=reason)
    if report.oldest_awaiting_age_seconds is not None:
        metrics.add_metric(
            name=contract.Metrics.OLDEST_AWAITING_JOB_AGE,
            unit=MetricUnit.Seconds,
            value=report.oldest_awaiting_age_seconds,
        )
    logger.info("reconciler run", extra={action: report.count(action) for action in ACTIONS})
