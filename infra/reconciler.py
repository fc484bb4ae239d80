"""The reconciler: a function run on a schedule that makes sure every job ends and is notified.

Every `reconcilePeriodMinutes` (default 5) an EventBridge rule invokes it. It reads only the
sparse attention index of the jobs table (never a scan): jobs whose result is overdue, which it
fails (`callback_not_received`) or, with `recoverLostCallbacks=resubmit`, submits to Deepgram
once more; and finished jobs still owed their notification, which it publishes under the same
once-only lease as the callback. See `functions/reconciler/logic.py`.

Least privilege, action by action:
- jobs table: `dynamodb:Query` on the attention index only; `GetItem` / `UpdateItem` on the table
  (every state change is a conditional UpdateItem);
- `sns:Publish` on the topic, and the topic key's `GenerateDataKey` / `Decrypt` (an encrypted topic);
- `secretsmanager:GetSecretValue` on the Deepgram API key only when the function talks to
  Deepgram (`deepgramProjectId` set: it reads Deepgram's request log; or resubmission), and on
  the callback signing secret only when it resubmits (a new request carries the job's callback
  credentials, derived from it);
- resubmission (`recoverLostCallbacks=resubmit`): `s3:GetObject` on the kept uploads (`audio/*`), to
  presign the URL Deepgram fetches them from; and, once the S3-delivery signer role exists,
  `allow_resubmission(delivery_role)` lets it assume that role (results too big for the callback).

Sizing: 512 MB and 5 minutes. A run handles up to `RECONCILE_BATCH_SIZE` jobs of each kind, each
a few DynamoDB writes, an SNS publish and perhaps two Deepgram requests (request log, resubmission)
of up to `deepgramTimeoutSeconds`; the rest waits for the next run. The target does not retry a
failed run (the next one comes within minutes) and drops an event older than one period, so runs
do not pile up. Runs that overlap anyway are safe: every write is conditional.
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
from aws_cdk import aws_sns as sns
from constructs import Construct

from functions.core.contract import Env, JobsTable, ResultsBucket, Services
from functions.core.settings import (
    CALLBACK_SIGNING_SECRET,
    CALLBACK_URL,
    DEEPGRAM_API_KEY_SECRET,
    DEEPGRAM_PROJECT_ID,
    JOBS_TABLE,
    RECOVER_LOST_CALLBACKS,
    RESULTS_BUCKET,
    TOPIC_ARN,
)
from infra.config import Settings
from infra.functions import PipelineFunction
from infra.nag import acknowledge, arn_of
from infra.secrets import Secrets

MEMORY_MB = 512
TIMEOUT = cdk.Duration.minutes(5)


class Reconciler(Construct):
    """The reconciler function and the schedule that runs it."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        settings: Settings,
        layer: lambda_.ILayerVersion,
        jobs_table: dynamodb.ITable,
        results_bucket: s3.IBucket,
        topic: sns.ITopic,
        topic_key: kms.IKey,
        secrets: Secrets,
        callback_url: str,
    ) -> None:
        super().__init__(scope, construct_id)
        self.resubmits = settings.value(RECOVER_LOST_CALLBACKS) == "resubmit"
        reads_request_log = bool(settings.value(DEEPGRAM_PROJECT_ID))
        self.handler = PipelineFunction(
            self,
            "Handler",
            service=Services.RECONCILER,
            description="Fails (or resubmits) jobs whose result is overdue; publishes owed notifications.",
            memory_size=MEMORY_MB,
            timeout=TIMEOUT,
            resources={
                JOBS_TABLE: jobs_table.table_name,
                RESULTS_BUCKET: results_bucket.bucket_name,
                TOPIC_ARN: topic.topic_arn,
                DEEPGRAM_API_KEY_SECRET: secrets.deepgram_api_key_secret_ref,
                CALLBACK_SIGNING_SECRET: secrets.callback_signing.secret_arn,
                CALLBACK_URL: callback_url,
            },
            settings=settings,
            layer=layer,
        )
        self.handler.allow(["dynamodb:Query"], [f"{jobs_table.table_arn}/index/{JobsTable.ATTENTION_INDEX}"])
        self.handler.allow(["dynamodb:GetItem", "dynamodb:UpdateItem"], [jobs_table.table_arn])
        self.handler.allow_publishing(topic, topic_key)
        secret_resources = []
        if reads_request_log or self.resubmits:
            secret_resources += secrets.deepgram_api_key_resources
        if self.resubmits:
            secret_resources.append(secrets.callback_signing.secret_arn)
        if secret_resources:
            self.handler.allow(["secretsmanager:GetSecretValue"], secret_resources)
        self._results_bucket = results_bucket
        if self.resubmits:
            self._allow_reading_kept_audio()

        period = cdk.Duration.minutes(settings.reconcile_period_minutes)
        self.schedule = events.Rule(
            self,
            "Schedule",
            description=f"Runs the reconciler every {settings.reconcile_period_minutes} minute(s).",
            schedule=events.Schedule.rate(period),
        )
        self.schedule.add_target(
            targets.LambdaFunction(
                self.handler.function,
                retry_attempts=0,
                max_event_age=cdk.Duration.minutes(max(1, settings.reconcile_period_minutes)),
            )
        )

    @property
    def function(self) -> lambda_.IFunction:
        return self.handler.function

    def allow_resubmission(self, *, delivery_role: iam.IRole) -> None:
        """Let a resubmission ask for S3 delivery: the function assumes `delivery_role` (one session
        per job, limited to that job's delivery key) to sign the presigned PUT URL Deepgram writes
        the result to. Call it where the S3-delivery signer role is created; the role's trust policy
        must name this function's role (done here for a role of this stack)."""
        self.handler.allow(["sts:AssumeRole"], [delivery_role.role_arn])
        if isinstance(delivery_role, iam.Role):
            delivery_role.assume_role_policy.add_statements(  # type: ignore[union-attr]
                iam.PolicyStatement(actions=["sts:AssumeRole"], principals=[self.handler.role])
            )
        self.handler.function.add_environment(Env.DELIVERY_ROLE_ARN, delivery_role.role_arn)

    def _allow_reading_kept_audio(self) -> None:
        kept = self._results_bucket.arn_for_objects(f"{ResultsBucket.AUDIO_PREFIX}*")
        self.handler.allow(["s3:GetObject"], [kept])
        acknowledge(
            self.handler.role,
            f"AwsSolutions-IAM5[Resource::{arn_of(self._results_bucket)}/{ResultsBucket.AUDIO_PREFIX}*]",
            "A resubmitted upload is fetched by Deepgram through a URL presigned for audio/<job id>; "
            "any job may be resubmitted, so the grant covers the audio/ prefix only, read-only.",
        )
