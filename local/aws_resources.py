"""Create the pipeline's AWS resources with boto3 (against moto) and the functions' environment.

Key schemas and TTL attributes come from `functions.core.contract`, and the functions' environment
from their settings specs (`functions.core.settings.to_environ`), the same definitions the CDK app
uses, so the local stack cannot drift from what `cdk deploy` creates. Used by the local stack
(`make demo`, `make serve`) and by the tests.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import boto3

from functions.core import settings as spec
from functions.core.contract import Env, IdempotencyTable, JobsTable, Metrics


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
    create_jobs_table(dynamodb, names.jobs_table)
    _create_table(
        dynamodb, names.idempotency_table, IdempotencyTable.PARTITION_KEY, IdempotencyTable.TTL_ATTRIBUTE
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


def create_jobs_table(client: Any, table_name: str) -> None:
    """The jobs table as the stack defines it (`contract.JobsTable`): key, TTL and indexes."""
    _create_table(client, table_name, JobsTable.PARTITION_KEY, JobsTable.TTL_ATTRIBUTE, JobsTable.INDEXES)


def _create_table(
    client: Any,
    table_name: str,
    key: str,
    ttl_attribute: str,
    indexes: tuple[tuple[str, str, str, str, str], ...] = (),
) -> None:
    attributes = {key: "S"}
    for _, partition, partition_type, sort, sort_type in indexes:
        attributes |= {partition: partition_type, sort: sort_type}
    request: dict[str, Any] = {
        "TableName": table_name,
        "KeySchema": [{"AttributeName": key, "KeyType": "HASH"}],
        "AttributeDefinitions": [
            {"AttributeName": name, "AttributeType": kind} for name, kind in attributes.items()
        ],
        "BillingMode": "PAY_PER_REQUEST",
    }
    if indexes:
        request["GlobalSecondaryIndexes"] = [
            {
                "IndexName": name,
                "KeySchema": [
                    {"AttributeName": partition, "KeyType": "HASH"},
                    {"AttributeName": sort, "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "ALL"},
            }
            for name, partition, _, sort, _ in indexes
        ]
    client.create_table(**request)
    client.update_time_to_live(
        TableName=table_name, TimeToLiveSpecification={"Enabled": True, "AttributeName": ttl_attribute}
    )


def function_environment(
    resources: Resources,
    *,
    callback_url: str,
    deepgram_base_url: str,
    deepgram_api_key_id: str = "",
    dg_token_mode: str = "",
    callback_method: str = "POST",
    values: Mapping[spec.Setting, object] | None = None,
) -> dict[str, str]:
    """The union of the three functions' environments (one process hosts them locally).

    `values` sets any other declared setting; empty values keep the declared defaults.
    """
    names = resources.names
    environment = spec.environ_of_all(
        {
            spec.JOBS_TABLE: names.jobs_table,
            spec.IDEMPOTENCY_TABLE: names.idempotency_table,
            spec.RESULTS_BUCKET: names.results_bucket,
            spec.TOPIC_ARN: resources.topic_arn,
            spec.DEEPGRAM_API_KEY_SECRET: resources.deepgram_secret_arn,
            spec.CALLBACK_SIGNING_SECRET: resources.signing_secret_arn,
            spec.CALLBACK_URL: callback_url,
            spec.CALLBACK_METHOD: callback_method,
            spec.DEEPGRAM_BASE_URL: deepgram_base_url,
            spec.DEEPGRAM_API_KEY_ID: deepgram_api_key_id,
            spec.DG_TOKEN_MODE: dg_token_mode,
            **(values or {}),
        }
    )
    return {
        **environment,
        Env.POWERTOOLS_METRICS_NAMESPACE: Metrics.NAMESPACE,
        "AWS_DEFAULT_REGION": resources.region,
    }


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
