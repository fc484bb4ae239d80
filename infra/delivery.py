"""S3 delivery: results of any size, by Deepgram's own pattern (a presigned S3 PUT URL as the
callback, `callback_method=put`), and the finisher that stores them by the callback's rules.

    submit / reconciler ──sts:AssumeRole (session policy: one key)──▶ signer role
          │  presigned PUT URL for deliveries/<job id>/<attempt>.json (1 h)
          ▼
    Deepgram ──PUT──▶ results bucket: deliveries/… ──"Object Created" (EventBridge)──▶ finisher λ
                                                                    results/… ◀── stored, redacted

- **Signer role**: trusted by the submit function's role (and the reconciler's, when it resubmits)
  and nothing else; allowed `s3:PutObject` on `deliveries/*` only. Each job's URL is signed with a
  session of it whose session policy narrows that to the job's one key, for an hour
  (`DeliveryTiming.URL_EXPIRES_SECONDS`: Deepgram's 10-minute processing cap plus its 5-minute
  retry window, with room to spare). A Lambda role assuming another role is role chaining, which
  AWS caps at one hour: the session lasts exactly that, and so does the URL.
- **Finisher**: started by S3's "Object Created" events for `deliveries/` through EventBridge (the
  bucket sends its events to EventBridge; a rule filters the prefix). EventBridge rather than a
  bucket notification: CDK configures those through a custom-resource Lambda (the notification
  would name the function and the function's environment the bucket, a cycle), whereas the
  bucket's EventBridge switch is a plain property. 3008 MB and 120 s: it reads, parses, redacts and
  re-stores results of up to 100 MB. A failed invocation is retried twice by Lambda (asynchronous
  invocation); the object stays until then.
- **Lifecycle**: `deliveries/` objects expire after a day (each is deleted once stored; what
  remains was refused or never finished, and holds the job's unredacted secret). Kept uploads
  (`audio/`, `keepUploadedAudio`) expire with the bucket's retention rule, like the results.
"""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_secretsmanager as secretsmanager
from aws_cdk import aws_sns as sns
from constructs import Construct

from functions.core.contract import DeliveryTiming, Env, ResultsBucket, Services
from functions.core.settings import (
    CALLBACK_SIGNING_SECRET,
    JOBS_TABLE,
    KEEP_UPLOADED_AUDIO,
    RESULTS_BUCKET,
    TOPIC_ARN,
)
from infra.config import Settings
from infra.functions import PipelineFunction
from infra.nag import acknowledge, arn_of

FINISHER_MEMORY_MB = 3008
FINISHER_TIMEOUT = cdk.Duration.seconds(DeliveryTiming.FINISHER_TIMEOUT_SECONDS)
FINISHER_RETRY_ATTEMPTS = 2
FINISHER_MAX_EVENT_AGE = cdk.Duration.hours(6)
OBJECT_CREATED = "Object Created"


class ResultDelivery(Construct):
    """The signer role, the finisher function and its trigger, and the deliveries/ lifecycle."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        settings: Settings,
        layer: lambda_.ILayerVersion,
        results_bucket: s3.Bucket,
        jobs_table: dynamodb.ITable,
        topic: sns.ITopic,
        topic_key: kms.IKey,
        signing_secret: secretsmanager.ISecret,
        submit: PipelineFunction,
    ) -> None:
        super().__init__(scope, construct_id)
        self._bucket = results_bucket
        deliveries = results_bucket.arn_for_objects(f"{ResultsBucket.DELIVERIES_PREFIX}*")
        self._deliveries_finding = (
            f"AwsSolutions-IAM5[Resource::{arn_of(results_bucket)}/{ResultsBucket.DELIVERIES_PREFIX}*]"
        )

        self.signer_role = iam.Role(
            self,
            "SignerRole",
            assumed_by=iam.ArnPrincipal(submit.role.role_arn),
            max_session_duration=cdk.Duration.seconds(DeliveryTiming.URL_EXPIRES_SECONDS),
            description="Signs Deepgram's presigned S3 PUT URLs: one session per job, narrowed to its key.",
        )
        self.signer_role.add_to_policy(iam.PolicyStatement(actions=["s3:PutObject"], resources=[deliveries]))
        acknowledge(
            self.signer_role,
            self._deliveries_finding,
            "Each job's URL is signed by a session of this role whose session policy allows only "
            "s3:PutObject on that job's key (deliveries/<job id>/<attempt>.json); the role itself "
            "can write nothing outside the deliveries/ prefix.",
        )
        self._allow_signing(submit)
        if settings.value(KEEP_UPLOADED_AUDIO):
            audio = results_bucket.arn_for_objects(f"{ResultsBucket.AUDIO_PREFIX}*")
            submit.allow(["s3:PutObject"], [audio])
            acknowledge(
                submit.role,
                f"AwsSolutions-IAM5[Resource::{arn_of(results_bucket)}/{ResultsBucket.AUDIO_PREFIX}*]",
                "With keepUploadedAudio the submit function stores each upload as audio/<job id>, a key "
                "unknown before the job exists; the grant is write-only and limited to the audio/ prefix.",
            )

        self.finisher = self._finisher(
            settings=settings,
            layer=layer,
            jobs_table=jobs_table,
            topic=topic,
            topic_key=topic_key,
            signing_secret=signing_secret,
        )
        self._route_deliveries_to(self.finisher.function)
        results_bucket.add_lifecycle_rule(
            id="expire-deliveries",
            prefix=ResultsBucket.DELIVERIES_PREFIX,
            expiration=cdk.Duration.days(ResultsBucket.DELIVERIES_EXPIRE_DAYS),
        )

    def _allow_signing(self, function: PipelineFunction) -> None:
        function.allow(["sts:AssumeRole"], [self.signer_role.role_arn])
        function.function.add_environment(Env.DELIVERY_ROLE_ARN, self.signer_role.role_arn)

    def _finisher(
        self,
        *,
        settings: Settings,
        layer: lambda_.ILayerVersion,
        jobs_table: dynamodb.ITable,
        topic: sns.ITopic,
        topic_key: kms.IKey,
        signing_secret: secretsmanager.ISecret,
    ) -> PipelineFunction:
        bucket = self._bucket
        finisher = PipelineFunction(
            self,
            "Finisher",
            service=Services.FINISHER,
            description="Stores results Deepgram PUT to S3 (S3 delivery) by the callback's rules, notifies.",
            memory_size=FINISHER_MEMORY_MB,
            timeout=FINISHER_TIMEOUT,
            resources={
                JOBS_TABLE: jobs_table.table_name,
                RESULTS_BUCKET: bucket.bucket_name,
                TOPIC_ARN: topic.topic_arn,
                CALLBACK_SIGNING_SECRET: signing_secret.secret_arn,
            },
            settings=settings,
            layer=layer,
        )
        deliveries = bucket.arn_for_objects(f"{ResultsBucket.DELIVERIES_PREFIX}*")
        results = bucket.arn_for_objects(f"{ResultsBucket.RESULTS_PREFIX}*")
        finisher.allow(["s3:GetObject", "s3:DeleteObject"], [deliveries])
        # Without ListBucket, S3 answers a missing object with 403 instead of 404, and a repeated
        # event for a delivery already handled (and deleted) would look like an outage.
        finisher.role.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["s3:ListBucket"],
                resources=[bucket.bucket_arn],
                conditions={"StringLike": {"s3:prefix": [f"{ResultsBucket.DELIVERIES_PREFIX}*"]}},
            )
        )
        finisher.allow(["s3:PutObject", "s3:DeleteObject"], [results])
        finisher.allow(["dynamodb:GetItem", "dynamodb:UpdateItem"], [jobs_table.table_arn])
        finisher.allow_publishing(topic, topic_key)
        finisher.allow(["secretsmanager:GetSecretValue"], [signing_secret.secret_arn])
        finisher.function.configure_async_invoke(
            retry_attempts=FINISHER_RETRY_ATTEMPTS, max_event_age=FINISHER_MAX_EVENT_AGE
        )
        acknowledge(
            finisher.role,
            self._deliveries_finding,
            "Deliveries arrive under deliveries/<job id>/<attempt>.json for any job; the finisher reads "
            "and then deletes each one, and can touch nothing else under that prefix's siblings.",
        )
        acknowledge(
            finisher.role,
            f"AwsSolutions-IAM5[Resource::{arn_of(bucket)}/{ResultsBucket.RESULTS_PREFIX}*]",
            "Results are stored under one key per job (results/<job id>/...), known only once the "
            "delivered body is read; the grant is limited to the results/ prefix, as the callback's.",
        )
        return finisher

    def _route_deliveries_to(self, function: lambda_.IFunction) -> None:
        bucket = self._bucket.node.default_child
        assert isinstance(bucket, s3.CfnBucket)
        bucket.add_property_override(
            "NotificationConfiguration.EventBridgeConfiguration.EventBridgeEnabled", True
        )
        self.rule = events.Rule(
            self,
            "Delivered",
            description="Results Deepgram PUT under deliveries/ go to the finisher.",
            event_pattern=events.EventPattern(
                source=["aws.s3"],
                detail_type=[OBJECT_CREATED],
                detail={
                    "bucket": {"name": [self._bucket.bucket_name]},
                    "object": {"key": [{"prefix": ResultsBucket.DELIVERIES_PREFIX}]},
                },
            ),
        )
        self.rule.add_target(
            targets.LambdaFunction(
                function, retry_attempts=FINISHER_RETRY_ATTEMPTS, max_event_age=FINISHER_MAX_EVENT_AGE
            )
        )
