"""The exact events AWS hands to the functions, built from plain HTTP request parts.

The local gateway turns real HTTP requests into these, and the tests use them to invoke the
unchanged handlers, so both exercise the shapes Lambda receives in production:

* API Gateway REST API, Lambda proxy integration (payload format 1.0), with binary media
  types `audio/*`, `video/*` and `application/octet-stream` (bodies base64-encoded);
* Lambda Function URL (payload format 2.0): lower-case headers, repeated values joined by
  commas, and any body whose content type is not text-like base64-encoded;
* EventBridge scheduled events (a schedule rule's target), which carry the scheduled `time`.
"""

from __future__ import annotations

import base64
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

ACCOUNT_ID = "123456789012"
REGION = "us-east-1"
REST_BINARY_MEDIA_TYPES = ("audio/", "video/", "application/octet-stream")
TEXT_MEDIA_TYPES = ("text/", "application/json", "application/xml", "application/javascript")


def _media_type(headers: Mapping[str, str]) -> str:
    for name, value in headers.items():
        if name.lower() == "content-type":
            return value.split(";", 1)[0].strip().lower()
    return ""


def _encode_body(body: bytes, base64_encoded: bool) -> str | None:
    if not body:
        return None
    return base64.b64encode(body).decode() if base64_encoded else body.decode("utf-8", errors="replace")


def rest_api_event(
    *,
    method: str,
    path: str,
    resource: str,
    headers: Mapping[str, str] | None = None,
    query: Mapping[str, Sequence[str]] | None = None,
    path_parameters: Mapping[str, str] | None = None,
    body: bytes = b"",
    stage: str = "v1",
    user_arn: str | None = f"arn:aws:iam::{ACCOUNT_ID}:user/local-developer",
    source_ip: str = "127.0.0.1",
) -> dict[str, Any]:
    """An API Gateway REST API proxy event (the shape `APIGatewayRestResolver` parses)."""
    headers = dict(headers or {})
    binary = _media_type(headers).startswith(REST_BINARY_MEDIA_TYPES)
    now = datetime.now(UTC)
    multi_query = {name: list(values) for name, values in (query or {}).items()}
    return {
        "resource": resource,
        "path": path,
        "httpMethod": method.upper(),
        "headers": headers or None,
        "multiValueHeaders": {name: [value] for name, value in headers.items()} or None,
        "queryStringParameters": {name: values[-1] for name, values in multi_query.items()} or None,
        "multiValueQueryStringParameters": multi_query or None,
        "pathParameters": dict(path_parameters) if path_parameters else None,
        "stageVariables": None,
        "requestContext": {
            "accountId": ACCOUNT_ID,
            "apiId": "localapi",
            "resourceId": "local",
            "resourcePath": resource,
            "httpMethod": method.upper(),
            "extendedRequestId": uuid.uuid4().hex,
            "requestTime": now.strftime("%d/%b/%Y:%H:%M:%S +0000"),
            "requestTimeEpoch": int(now.timestamp() * 1000),
            "path": f"/{stage}{path}",
            "protocol": "HTTP/1.1",
            "stage": stage,
            "domainPrefix": "localapi",
            "domainName": "localhost",
            "requestId": str(uuid.uuid4()),
            "identity": {
                "accountId": ACCOUNT_ID if user_arn else None,
                "caller": user_arn.rsplit("/", 1)[-1] if user_arn else None,
                "userArn": user_arn,
                "user": user_arn.rsplit("/", 1)[-1] if user_arn else None,
                "accessKey": None,
                "cognitoIdentityPoolId": None,
                "cognitoIdentityId": None,
                "cognitoAuthenticationType": None,
                "cognitoAuthenticationProvider": None,
                "principalOrgId": None,
                "sourceIp": source_ip,
                "userAgent": headers.get("User-Agent") or headers.get("user-agent"),
            },
        },
        "body": _encode_body(body, binary),
        "isBase64Encoded": binary and bool(body),
    }


def function_url_event(
    *,
    method: str,
    path: str = "/",
    headers: Mapping[str, str] | None = None,
    raw_query: str = "",
    body: bytes = b"",
    source_ip: str = "127.0.0.1",
    url_id: str = "localcallback",
) -> dict[str, Any]:
    """A Lambda Function URL event, payload format 2.0."""
    lowered: dict[str, str] = {}
    for name, value in (headers or {}).items():
        key = name.lower()
        lowered[key] = f"{lowered[key]},{value}" if key in lowered else value
    media_type = _media_type(lowered)
    text = media_type.startswith(TEXT_MEDIA_TYPES) or media_type.endswith(("+json", "+xml"))
    query: dict[str, str] = {}
    for pair in filter(None, raw_query.split("&")):
        name, _, value = pair.partition("=")
        query[name] = f"{query[name]},{value}" if name in query else value
    now = datetime.now(UTC)
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": raw_query,
        "headers": lowered,
        "requestContext": {
            "accountId": "anonymous",
            "apiId": url_id,
            "domainName": f"{url_id}.lambda-url.{REGION}.on.aws",
            "domainPrefix": url_id,
            "http": {
                "method": method.upper(),
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": source_ip,
                "userAgent": lowered.get("user-agent", ""),
            },
            "requestId": str(uuid.uuid4()),
            "routeKey": "$default",
            "stage": "$default",
            "time": now.strftime("%d/%b/%Y:%H:%M:%S +0000"),
            "timeEpoch": int(now.timestamp() * 1000),
        },
        "isBase64Encoded": bool(body) and not text,
    }
    if query:
        event["queryStringParameters"] = query
    encoded = _encode_body(body, bool(body) and not text)
    if encoded is not None:
        event["body"] = encoded
    return event


def scheduled_event(*, time: datetime | None = None, rule: str = "local-schedule") -> dict[str, Any]:
    """An EventBridge scheduled event (`Scheduled Event` from `aws.events`) of `rule`, for `time`
    (default now): what a schedule rule's Lambda target receives."""
    moment = (time or datetime.now(UTC)).astimezone(UTC)
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": ACCOUNT_ID,
        "time": moment.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": REGION,
        "resources": [f"arn:aws:events:{REGION}:{ACCOUNT_ID}:rule/{rule}"],
        "detail": {},
    }


@dataclass
class LambdaContext:
    """What the Lambda runtime passes as `context`, enough for Powertools and the handlers."""

    function_name: str
    memory_limit_in_mb: int = 256
    timeout_seconds: float = 30.0
    function_version: str = "$LATEST"
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    log_group_name: str = ""
    log_stream_name: str = "local"
    _started: float = field(default_factory=time.monotonic)

    @property
    def invoked_function_arn(self) -> str:
        return f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:{self.function_name}"

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self.timeout_seconds - (time.monotonic() - self._started)) * 1000))
