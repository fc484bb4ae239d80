"""Create the pipeline's AWS resources with boto3 (against moto) and the functions' environment.

Key schemas, TTL attributes and environment variable names come from `functions.core.contract`,
the same definitions the CDK app uses, so the local stack cannot drift from what `cdk deploy`
creates. Used by the local stack (`make demo`, `make serve`) and by the tests.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import boto3

from functions.core.contract import Env, IdempotencyTable, JobsTable, Metrics, Services


@dataclass(frozen=True)
class ResourceNames:
    jobs_table: str = "transcription-jobs"
    idempotency_table: str = "transcription-idempotency"
    results_bucket: str = "transcription-results"
    topic: str = "transcription-notifications"
    queue: str = "transcription-notifications-queue"
    deepgram_secret: str = "deepgram-api-key"
    signing_secret: str = "callback-signing-secret"


@dataclass(frozen=True)
class Resources:
    names: ResourceNames
    region: str
    topic_arn: str
    queue_url: str
    deepgram_secret_arn: str
    signing_secret_arn: str


def create_resources(
    *,
    deepgram_api_key: str,
    signing_key: str,
    names: ResourceNames | None = None,
    region: str = "us-east-1",
) -> Resources:
    """Tables, bucket, topic with an SQS subscriber, and both secrets. Not idempotent: run once."""
    names = names or ResourceNames()
    session = boto3.session.Session(region_name=region)
    dynamodb = session.client("dynamodb")
    for table, key, ttl in (
        (names.jobs_table, JobsTable.PARTITION_KEY, JobsTable.TTL_ATTRIBUTE),
        (names.idempotency_table, IdempotencyTable.PARTITION_KEY, IdempotencyTable.TTL_ATTRIBUTE),
    ):
        dynamodb.create_table(
            TableName=table,
            KeySchema=[{"AttributeName": key, "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": key, "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        dynamodb.update_time_to_live(
            TableName=table, TimeToLiveSpecification={"Enabled": True, "AttributeName": ttl}
        )
    session.client("s3").create_bucket(Bucket=names.results_bucket)
    sns = session.client("sns")
    topic_arn = sns.create_topic(Name=names.topic)["TopicArn"]
    sqs = session.client("sqs")
    queue_url = sqs.create_queue(QueueName=names.queue)["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    sns.subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=queue_arn)
    secrets = session.client("secretsmanager")
    deepgram_arn = secrets.create_secret(Name=names.deepgram_secret, SecretString=deepgram_api_key)["ARN"]
    signing_arn = secrets.create_secret(Name=names.signing_secret, SecretString=signing_key)["ARN"]
    return Resources(
        names=names,
        region=region,
        topic_arn=topic_arn,
        queue_url=queue_url,
        deepgram_secret_arn=deepgram_arn,
        signing_secret_arn=signing_arn,
    )


def function_environment(
    resources: Resources,
    *,
    callback_url: str,
    deepgram_base_url: str,
    deepgram_api_key_id: str = "",
    dg_token_mode: str = "",
    callback_method: str = "POST",
) -> dict[str, str]:
    """The union of the three functions' environments (one process hosts them locally)."""
    names = resources.names
    environment = {
        Env.JOBS_TABLE: names.jobs_table,
        Env.IDEMPOTENCY_TABLE: names.idempotency_table,
        Env.RESULTS_BUCKET: names.results_bucket,
        Env.TOPIC_ARN: resources.topic_arn,
        Env.DEEPGRAM_API_KEY_SECRET: resources.deepgram_secret_arn,
        Env.CALLBACK_SIGNING_SECRET: resources.signing_secret_arn,
        Env.CALLBACK_URL: callback_url,
        Env.CALLBACK_METHOD: callback_method,
        Env.DEEPGRAM_BASE_URL: deepgram_base_url,
        Env.DEEPGRAM_API_KEY_ID: deepgram_api_key_id,
        Env.DG_TOKEN_MODE: dg_token_mode,
        Env.POWERTOOLS_METRICS_NAMESPACE: Metrics.NAMESPACE,
        "AWS_DEFAULT_REGION": resources.region,
    }
    return {name: value for name, value in environment.items() if value}


def describe(resources: Resources) -> dict[str, Any]:
    return {
        "region": resources.region,
        "table_name": resources.names.jobs_table,
        "bucket_name": resources.names.results_bucket,
        "topic_arn": resources.topic_arn,
        "queue_url": resources.queue_url,
    }


def receive_notifications(queue_url: str, *, region: str, wait_seconds: int = 1) -> list[dict[str, Any]]:
    """Notifications delivered to the SQS subscriber, unwrapped from the SNS envelope, deleted once read."""
    sqs = boto3.client("sqs", region_name=region)
    response = sqs.receive_message(
        QueueUrl=queue_url,
        MaxNumberOfMessages=10,
        WaitTimeSeconds=wait_seconds,
        MessageAttributeNames=["All"],
    )
    notifications = []
    for message in response.get("Messages", []):
        envelope = json.loads(message["Body"])
        notifications.append(
            {
                "message": json.loads(envelope["Message"]),
                "attributes": {
                    name: attribute["Value"]
                    for name, attribute in envelope.get("MessageAttributes", {}).items()
                },
            }
        )
        sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
    return notifications


SERVICES = (Services.SUBMIT, Services.CALLBACK, Services.STATUS)
