"""Lambda entry point for Deepgram's callback: a Function URL event (payload format 2.0) in,
an HTTP answer out. Everything else lives in `logic.py`; this module only translates.

Import cost matters here (the callback must acknowledge fast, cold or warm): no Deepgram SDK,
no pydantic, clients created once per execution environment.
"""

from __future__ import annotations

import base64
import functools
import json
import os
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit, single_metric
from aws_lambda_powertools.utilities.typing import LambdaContext

from functions.callback.logic import CallbackConfig, CallbackRequest, CallbackResult, CallbackService
from functions.core import contract
from functions.core.adapters.aws import LazyClient, client, warm_up_in_lambda
from functions.core.adapters.dynamodb import DynamoJobRepository
from functions.core.adapters.s3 import S3ResultBlobStore
from functions.core.adapters.secrets import CachedSecrets
from functions.core.adapters.sns import SnsNotificationPublisher
from functions.core.jobs import utc_now
from functions.core.settings import CallbackSettings

logger = Logger(service=contract.Services.CALLBACK)
metrics = Metrics(namespace=contract.Metrics.NAMESPACE, service=contract.Services.CALLBACK)


@functools.cache
def callback_service() -> CallbackService:
    """Settings and clients, built once per execution environment (on the first invocation)."""
    settings = CallbackSettings.from_environ(os.environ)
    secrets = CachedSecrets(client("secretsmanager"), settings.secrets_max_age_seconds)

    def config() -> CallbackConfig:
        return CallbackConfig(
            signing_key=secrets.get(settings.callback_signing_secret_id),
            dg_token_mode=settings.dg_token_mode,
            deepgram_api_key_ids=settings.deepgram_api_key_ids,
        )

    return CallbackService(
        jobs=DynamoJobRepository(client("dynamodb"), settings.jobs_table),
        blobs=S3ResultBlobStore(LazyClient("s3"), settings.results_bucket),
        publisher=SnsNotificationPublisher(client("sns"), settings.topic_arn),
        config_source=config,
        clock=utc_now,
    )


@metrics.log_metrics
@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    request = _to_request(event)
    result = callback_service().handle(request)
    _observe(result, len(request.body))
    return {
        "statusCode": result.status_code,
        "headers": {"Content-Type": "application/json", **result.headers},
        "body": json.dumps(result.body),
    }


def _to_request(event: dict[str, Any]) -> CallbackRequest:
    http = event.get("requestContext", {}).get("http", {})
    raw = event.get("body") or ""
    # Function URLs base64-encode bodies they do not consider text; what they encode is valid base64.
    body = base64.b64decode(raw) if event.get("isBase64Encoded") else raw.encode()
    headers = {name.lower(): value for name, value in (event.get("headers") or {}).items()}
    return CallbackRequest(method=str(http.get("method", "")).upper(), headers=headers, body=body)


def _observe(result: CallbackResult, body_bytes: int) -> None:
    logger.append_keys(job_id=result.job_id, request_id=result.request_id)
    names = contract.Metrics
    details = {"outcome": result.outcome, "status_code": result.status_code, "body_bytes": body_bytes}
    if result.outcome == "accepted":
        metrics.add_metric(name=names.CALLBACKS_ACCEPTED, unit=MetricUnit.Count, value=1)
        if result.seconds_since_submit is not None:
            metrics.add_metric(
                name=names.SECONDS_TO_CALLBACK, unit=MetricUnit.Seconds, value=result.seconds_since_submit
            )
        if result.job_status == "failed":
            metrics.add_metric(name=names.JOBS_FAILED, unit=MetricUnit.Count, value=1)
        logger.info("callback accepted", extra={**details, "job_status": result.job_status})
    elif result.outcome == "duplicate":
        metrics.add_metric(name=names.CALLBACKS_DUPLICATE, unit=MetricUnit.Count, value=1)
        logger.info("duplicate callback acknowledged", extra=details)
    elif result.outcome == "retry":
        metrics.add_metric(name=names.CALLBACK_FAULTS, unit=MetricUnit.Count, value=1)
        logger.error("dependency failed; asking Deepgram to retry", extra={**details, "error": result.body})
    else:
        metrics.add_metric(name=names.CALLBACKS_REJECTED, unit=MetricUnit.Count, value=1)
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
        metrics.add_metric(name=names.NOTIFICATIONS_PUBLISHED, unit=MetricUnit.Count, value=1)


warm_up_in_lambda(callback_service)
