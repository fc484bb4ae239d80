"""Where jobs and transcripts live: two DynamoDB tables and an S3 bucket.

- The jobs table holds one small item per job (`contract.JobsTable`); items expire through
  DynamoDB TTL after the retention period.
- The idempotency table belongs to Powertools' idempotency utility (`contract.IdempotencyTable`
  is its default schema): it stops a retried submit from creating a second Deepgram job.
- The results bucket holds the transcripts (`results/<job id>/...`), which outgrow DynamoDB's
  400 KB items and SNS's 256 KB messages after a few minutes of audio. Objects expire after
  the same retention as the job items, so a job and its result go away together.

Both tables are on-demand (traffic is bursty and small), encrypted with the AWS managed key,
and have point-in-time recovery. The bucket uses S3-managed keys (SSE-S3): results are read
through presigned URLs, and with SSE-KMS every download would also need `kms:Decrypt` for the
signer and a KMS request per object, for no gain in who can read the data (the bucket policy
and IAM already decide that).
"""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_s3 as s3
from constructs import Construct

from functions.core.contract import IdempotencyTable, JobsTable
from infra.config import Settings
from infra.nag import acknowledge
from infra.retention import removal_policy

_ATTRIBUTE_TYPES = {"S": dynamodb.AttributeType.STRING, "N": dynamodb.AttributeType.NUMBER}


class Storage(Construct):
    """The jobs table, the idempotency table and the results bucket."""

    def __init__(self, scope: Construct, construct_id: str, *, settings: Settings) -> None:
        super().__init__(scope, construct_id)
        self._settings = settings
        self.jobs_table = self._table("JobsTable", JobsTable.PARTITION_KEY, JobsTable.TTL_ATTRIBUTE)
        for name, partition, partition_type, sort, sort_type in JobsTable.INDEXES:
            self.jobs_table.add_global_secondary_index(
                index_name=name,
                partition_key=dynamodb.Attribute(name=partition, type=_ATTRIBUTE_TYPES[partition_type]),
                sort_key=dynamodb.Attribute(name=sort, type=_ATTRIBUTE_TYPES[sort_type]),
                projection_type=dynamodb.ProjectionType.ALL,
            )
        self.idempotency_table = self._table(
            "IdempotencyTable", IdempotencyTable.PARTITION_KEY, IdempotencyTable.TTL_ATTRIBUTE
        )
        self.results_bucket = s3.Bucket(
            self,
            "ResultsBucket",
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            encryption=s3.BucketEncryption.S3_MANAGED,
            enforce_ssl=True,
            minimum_tls_version=1.2,
            lifecycle_rules=[
                s3.LifecycleRule(
                    id="expire-with-the-job",
                    expiration=cdk.Duration.days(settings.retention_days),
                    abort_incomplete_multipart_upload_after=cdk.Duration.days(1),
                )
            ],
            removal_policy=removal_policy(self._settings),
        )
        acknowledge(
            self.results_bucket,
            "AwsSolutions-S1",
            "Every object is written by the callback function and read only through presigned URLs "
            "that the status function issues; both log each job id, so the functions' logs already "
            "say who stored and who was given each result. Enable CloudTrail S3 data events if "
            "every download must be recorded.",
        )

    def _table(self, construct_id: str, partition_key: str, ttl_attribute: str) -> dynamodb.Table:
        return dynamodb.Table(
            self,
            construct_id,
            partition_key=dynamodb.Attribute(name=partition_key, type=dynamodb.AttributeType.STRING),
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            encryption=dynamodb.TableEncryption.AWS_MANAGED,
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True
            ),
            time_to_live_attribute=ttl_attribute,
            deletion_protection=self._settings.deletion_protection,
            removal_policy=removal_policy(self._settings),
        )
