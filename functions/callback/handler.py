"""Lambda entry point for Deepgram's callback: a Function URL event (payload format 2.0) in,
an HTTP answer out. The service (`logic.py`) decides; `wiring.py` builds it; `telemetry.py`
logs and counts. This module only translates.

Import cost matters here (the callback must acknowledge fast, cold or warm): no Deepgram SDK,
no pydantic, clients created once per execution environment.
"""

from __future__ import annotations

from functions.core import gc_thresholds  # isort: skip  (first: fewer collections in the cold start)

import base64
import binascii
import json
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from functions.callback import wiring
from functions.callback.logic import CallbackRequest
from functions.callback.telemetry import logger, metrics, observe
from functions.core import contract
from functions.core.tracing import traced


@gc_thresholds.restore_after_first_answer
@traced(contract.Services.CALLBACK)
@metrics.log_metrics
@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    request = to_request(event)
    result = wiring.service().handle(request)
    observe(result, len(request.body))
    return {
        "statusCode": result.status_code,
        "headers": {"Content-Type": "application/json", **result.headers},
        "body": json.dumps(result.body),
    }


def to_request(event: dict[str, Any]) -> CallbackRequest:
    http = event.get("requestContext", {}).get("http", {})
    raw = event.get("body") or ""
    try:
        # Function URLs base64-encode bodies they do not consider text.
        body = base64.b64decode(raw) if event.get("isBase64Encoded") else raw.encode("utf-8", "surrogatepass")
    except (binascii.Error, ValueError):
        body = b""
    headers = {name.lower(): value for name, value in (event.get("headers") or {}).items()}
    return CallbackRequest(method=str(http.get("method", "")).upper(), headers=headers, body=body)
