"""The callback endpoint: the function Deepgram calls when a transcript is ready, and its URL.

Deepgram cannot sign requests with SigV4, so the endpoint is a Lambda Function URL with auth
type NONE and the function authenticates every request itself (per-job credentials derived
from the signing secret; optionally Deepgram's `dg-token` header). A public URL has no WAF,
throttling or request validation in front of it, hence:
- a least-privilege role: it can update jobs, write results, publish notifications and read
  the signing secret, and nothing else (it cannot read the Deepgram API key);
- optional reserved concurrency (`callbackReservedConcurrency`) that caps what a flood of
  forged requests can cost;
- an alarm on rejected callbacks (infra/monitoring.py).

Sizing: 512 MB, because the callback parses, compresses and stores payloads of several MB
(about 48 KB per audio minute with diarization; a Function URL accepts up to 6 MB) and Lambda
gives CPU in proportion to memory. 10 s timeout (`contract.CallbackTiming`): a normal callback
takes well under a second, and the timeout must stay below the 20 s notification lease, which in
turn expires before Deepgram's next retry 30 s later.
"""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_secretsmanager as secretsmanager
from aws_cdk import aws_sns as sns
from constructs import Construct

from functions.core.contract import CallbackTiming, ResultsBucket, Services
from functions.core.settings import CALLBACK_SIGNING_SECRET, JOBS_TABLE, RESULTS_BUCKET, TOPIC_ARN
from infra.config import Settings
from infra.functions import PipelineFunction
from infra.nag import acknowledge, arn_of

MEMORY_MB = 512
TIMEOUT = cdk.Duration.seconds(CallbackTiming.FUNCTION_TIMEOUT_SECONDS)


class CallbackEndpoint(Construct):
    """The callback function and its public Function URL."""

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
        signing_secret: secretsmanager.ISecret,
    ) -> None:
        super().__init__(scope, construct_id)
        self.handler = PipelineFunction(
            self,
            "Handler",
            service=Services.CALLBACK,
            description="Receives Deepgram's transcription callbacks, stores the result, notifies.",
            memory_size=MEMORY_MB,
            timeout=TIMEOUT,
            resources={
                JOBS_TABLE: jobs_table.table_name,
                RESULTS_BUCKET: results_bucket.bucket_name,
                TOPIC_ARN: topic.topic_arn,
                CALLBACK_SIGNING_SECRET: signing_secret.secret_arn,
            },
            settings=settings,
            layer=layer,
            reserved_concurrency=settings.callback_reserved_concurrency,
        )
        results = results_bucket.arn_for_objects(f"{ResultsBucket.RESULTS_PREFIX}*")
        self.handler.allow(["dynamodb:GetItem", "dynamodb:UpdateItem"], [jobs_table.table_arn])
        self.handler.allow(["s3:PutObject", "s3:DeleteObject"], [results])
        self.handler.allow_publishing(topic, topic_key)
        self.handler.allow(["secretsmanager:GetSecretValue"], [signing_secret.secret_arn])
        acknowledge(
            self.handler.role,
            f"AwsSolutions-IAM5[Resource::{arn_of(results_bucket)}/{ResultsBucket.RESULTS_PREFIX}*]",
            "Results are stored under one key per job (results/<job id>/...), unknown until the "
            "callback arrives; the grant is limited to the results/ prefix.",
        )

        # With SnapStart the URL belongs to the `live` alias (a URL of its own: switching SnapStart
        # on or off for the callback changes the callback URL, see docs/snapstart.md).
        self.function_url = self.handler.target.add_function_url(
            auth_type=lambda_.FunctionUrlAuthType.NONE,
            invoke_mode=lambda_.InvokeMode.BUFFERED,
        )

    @property
    def url(self) -> str:
        """The callback URL (a token until deploy time)."""
        return self.function_url.url
