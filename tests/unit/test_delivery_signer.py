"""The S3 delivery signer (`core.adapters.delivery`) against moto: one role session per job, a
session policy for one key, an hour-long SigV4 URL with no underscore."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import boto3
import pytest
from moto import mock_aws

from functions.core.adapters.delivery import StsDeliverySigner, session_policy, without_underscore
from functions.core.contract import DeliveryTiming
from functions.core.ports import DependencyError

JOB_ID = "0123456789abcdef0123456789abcdef"
BUCKET = "transcription-results"


@pytest.fixture
def signer() -> Iterator[tuple[StsDeliverySigner, list[dict[str, Any]]]]:
    with mock_aws():
        boto3.client("s3", region_name="us-east-1").create_bucket(Bucket=BUCKET)
        role = boto3.client("iam").create_role(RoleName="signer", AssumeRolePolicyDocument="{}")["Role"][
            "Arn"
        ]
        sts = boto3.client("sts", region_name="us-east-1")
        calls: list[dict[str, Any]] = []
        sts.meta.events.register(
            "provide-client-params.sts.AssumeRole", lambda params, **_: calls.append(params)
        )
        yield StsDeliverySigner(sts=sts, bucket=BUCKET, role_arn=role), calls


def test_the_url_puts_the_jobs_delivery_key_with_session_credentials_for_an_hour(
    signer: tuple[StsDeliverySigner, list[dict[str, Any]]],
) -> None:
    url = signer[0].presigned_put_url(JOB_ID, 2)

    parts = urlsplit(url)
    query = parse_qs(parts.query)
    assert parts.path.endswith(f"/deliveries/{JOB_ID}/2.json")
    assert query["X-Amz-Algorithm"] == ["AWS4-HMAC-SHA256"]
    assert query["X-Amz-Expires"] == [str(DeliveryTiming.URL_EXPIRES_SECONDS)]
    assert query["X-Amz-Security-Token"]  # signed with the role session's credentials
    assert query["X-Amz-Credential"][0].startswith("ASIA")


def test_the_url_has_no_underscore_but_the_same_credential_scope(
    signer: tuple[StsDeliverySigner, list[dict[str, Any]]],
) -> None:
    url = signer[0].presigned_put_url(JOB_ID, 1)

    assert "_" not in url
    assert "aws4%5Frequest" in url
    assert unquote(parse_qs(urlsplit(url).query)["X-Amz-Credential"][0]).endswith(
        "/us-east-1/s3/aws4_request"
    )


def test_each_url_comes_from_a_session_limited_to_its_one_key(
    signer: tuple[StsDeliverySigner, list[dict[str, Any]]],
) -> None:
    signing, calls = signer
    signing.presigned_put_url(JOB_ID, 1)

    [params] = calls
    assert params["RoleSessionName"] == f"delivery-{JOB_ID}"
    assert params["DurationSeconds"] >= DeliveryTiming.URL_EXPIRES_SECONDS
    assert json.loads(params["Policy"])["Statement"] == [
        {
            "Effect": "Allow",
            "Action": "s3:PutObject",
            "Resource": f"arn:aws:s3:::{BUCKET}/deliveries/{JOB_ID}/1.json",
        }
    ]


def test_the_session_policy_uses_the_roles_partition() -> None:
    policy = session_policy("arn:aws-cn:iam::123456789012:role/signer", BUCKET, "deliveries/x/1.json")

    assert policy["Statement"][0]["Resource"] == f"arn:aws-cn:s3:::{BUCKET}/deliveries/x/1.json"


def test_a_url_with_an_underscore_outside_the_query_is_refused() -> None:
    with pytest.raises(DependencyError):
        without_underscore("https://my_bucket.s3.amazonaws.com/deliveries/x/1.json?X-Amz-Credential=a_b")


def test_a_failing_assume_role_is_a_dependency_error() -> None:
    with mock_aws():
        sts = boto3.client("sts", region_name="us-east-1")
        signing = StsDeliverySigner(sts=sts, bucket=BUCKET, role_arn="not-an-arn")
        with pytest.raises(DependencyError, match="STS"):
            signing.presigned_put_url(JOB_ID, 1)
