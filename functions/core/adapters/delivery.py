"""Presigned S3 PUT URLs for S3 delivery, Deepgram's own pattern for results of any size.

A presigned URL is valid only while the credentials that signed it are, and a function's own
credentials rotate on their own schedule. So each URL is signed with a role session made for
that one job: `sts:AssumeRole` on the delivery role with a session policy that allows nothing but
`s3:PutObject` on the job's delivery key (`deliveries/<job id>/<attempt>.json`), for
`DeliveryTiming.URL_EXPIRES_SECONDS` (Deepgram's 10-minute processing cap plus its 5-minute retry
window, with room for queueing). The effective permission is the intersection of the role's policy
and the session policy: a leaked URL can write that one object, nothing else, for an hour.

No underscore: Deepgram refuses callback URLs containing one. The host is the bucket's (S3 bucket
names cannot contain `_`), the key is hex and digits, and the SigV4 query names use hyphens
(`X-Amz-Algorithm`, `X-Amz-Credential`, ...). One underscore is unavoidable in the *value* of
`X-Amz-Credential`: the credential scope always ends with `aws4_request`. It is sent
percent-encoded (`aws4%5Frequest`), which is the same URL to S3: S3 decodes every query value before
it rebuilds the canonical request the signature covers, where `_` is an unreserved character.
`presigned_put_url` checks the result and refuses to return a URL that still has one.
"""

from __future__ import annotations

import json
import threading
from typing import Any

import boto3
from botocore.config import Config

from functions.core.adapters.aws import CLIENT_CONFIG, call
from functions.core.contract import DeliveryTiming
from functions.core.ports import DependencyError
from functions.core.result_storage import delivery_key

SESSION_NAME_PREFIX = "delivery-"
_SIGNING_CONFIG = CLIENT_CONFIG.merge(Config(signature_version="s3v4"))


class StsDeliverySigner:
    def __init__(
        self,
        *,
        sts: Any,
        bucket: str,
        role_arn: str,
        region: str | None = None,
        expires_in: int = DeliveryTiming.URL_EXPIRES_SECONDS,
    ) -> None:
        """`sts`: a boto3 STS client (of the function's own role, which may assume `role_arn`)."""
        self._sts = sts
        self._bucket = bucket
        self._role_arn = role_arn
        self._region = region
        self._expires_in = expires_in
        self._session = boto3.session.Session()  # loads the S3 model once for every signing client
        self._lock = threading.Lock()

    def presigned_put_url(self, job_id: str, attempt: int) -> str:
        key = delivery_key(job_id, attempt)
        answer = call(
            "STS",
            self._sts.assume_role,
            RoleArn=self._role_arn,
            RoleSessionName=f"{SESSION_NAME_PREFIX}{job_id}",
            Policy=json.dumps(session_policy(self._role_arn, self._bucket, key), separators=(",", ":")),
            DurationSeconds=self._expires_in,
        )
        credentials = answer["Credentials"]
        with self._lock:  # boto3 sessions are not thread-safe when creating clients
            signer = self._session.client(
                "s3",
                region_name=self._region or self._sts.meta.region_name,
                aws_access_key_id=credentials["AccessKeyId"],
                aws_secret_access_key=credentials["SecretAccessKey"],
                aws_session_token=credentials["SessionToken"],
                config=_SIGNING_CONFIG,
            )
        url: str = call(
            "S3",
            signer.generate_presigned_url,
            ClientMethod="put_object",
            Params={"Bucket": self._bucket, "Key": key},
            ExpiresIn=self._expires_in,
        )
        return without_underscore(url)


def session_policy(role_arn: str, bucket: str, key: str) -> dict[str, Any]:
    """The session policy: `s3:PutObject` on the one delivery object, in the role's partition."""
    partition = role_arn.split(":")[1] if role_arn.startswith("arn:") else "aws"
    return {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": "s3:PutObject", "Resource": f"arn:{partition}:s3:::{bucket}/{key}"}
        ],
    }


def without_underscore(url: str) -> str:
    """`url` with every `_` of its query percent-encoded; a `DependencyError` if one remains
    (in the host or the path: a bucket or endpoint Deepgram could not call back)."""
    address, separator, query = url.partition("?")
    encoded = address + separator + query.replace("_", "%5F")
    if "_" in encoded:
        raise DependencyError(
            "S3: the presigned delivery URL contains '_', which Deepgram refuses", permanent=True
        )
    return encoded
