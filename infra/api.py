"""The public REST API: `POST /transcriptions` submits a job, `GET /transcriptions/{id}` reads it,
`GET /transcriptions` lists jobs, `DELETE /transcriptions/{id}` deletes one and
`POST /transcriptions/{id}/notify` publishes its notification again.

API Gateway (REST) rather than a second Function URL, because it gives what a paid endpoint
needs in front of the code:
- IAM (SigV4) authorization on every method: only callers holding credentials of this account
  (or ones it trusts) can spend its Deepgram credit (`curl --aws-sigv4`, any AWS SDK);
- request validation before the function runs (the JSON body's shape, the path parameter);
- stage throttling (`apiThrottlingRateLimit`, `apiThrottlingBurstLimit`);
- JSON access logs naming the IAM caller of every request. API Gateway writes them with the
  region's "CloudWatch Logs role" (an account setting, not a property of one API): the stack sets
  it unless `apiGatewayCloudWatchRole=false` says the account already has one;
- binary media types, so an audio (or video) file can be POSTed as the body (Lambda receives it
  base64-encoded; the 6 MB Lambda payload limit caps it at about 4.4 MB of audio: send a URL
  for anything larger);
- errors API Gateway answers itself (validation, authorization, throttling) in the same JSON
  shape as the functions' errors (`GATEWAY_ERRORS`).

Lambda proxy integration throughout: the functions shape their own HTTP responses. Each
integration (and API Gateway's permission to invoke) targets the function's `target`: its `live`
alias when `snapStart` names it (docs/snapstart.md), the function itself otherwise.

Sizing:
- submit: 512 MB (the Deepgram SDK and pydantic import faster with the CPU that comes with
  memory, and an uploaded body is held in memory); 28 s timeout, inside API Gateway's 29 s
  integration timeout (the Deepgram request budget, `DEEPGRAM_REQUEST_BUDGET` in
  functions/core/settings.py, is checked on the CDK context and again at cold start).
- status: 256 MB, 10 s: one GetItem and one locally computed presigned URL, or (listing) a few
  Queries of the jobs table's listing indexes. Read-only.
- manage: 256 MB, 10 s: a GetItem, at most two S3 deletes, one conditional UpdateItem and one
  SNS publish. It is the only API function that publishes.
"""

from __future__ import annotations

import json
import re

import aws_cdk as cdk
from aws_cdk import aws_apigateway as apigateway
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sns as sns
from constructs import Construct

from functions.core.contract import Api, JobsTable, ResultsBucket, Services, SubmitLimits
from functions.core.settings import (
    CALLBACK_SIGNING_SECRET,
    CALLBACK_URL,
    DEEPGRAM_API_KEY_SECRET,
    IDEMPOTENCY_TABLE,
    JOBS_TABLE,
    RESULTS_BUCKET,
    TOPIC_ARN,
)
from infra.config import Settings
from infra.functions import PipelineFunction
from infra.nag import acknowledge, arn_of
from infra.retention import log_retention, removal_policy
from infra.secrets import Secrets

SUBMIT_MEMORY_MB = 512
SUBMIT_TIMEOUT = cdk.Duration.seconds(28)
STATUS_MEMORY_MB = 256
STATUS_TIMEOUT = cdk.Duration.seconds(10)
MANAGE_MEMORY_MB = 256
MANAGE_TIMEOUT = cdk.Duration.seconds(10)

LIST_QUERY_PARAMETERS = ("status", "created_after", "limit", "cursor")
"""`GET /transcriptions`'s query string, all optional: declared so API Gateway documents them; the
status function validates their values (API Gateway can only require a parameter)."""

BINARY_MEDIA_TYPES = ["audio/*", "video/*", "application/octet-stream"]

GATEWAY_ERRORS = {
    apigateway.ResponseType.BAD_REQUEST_BODY: "invalid_request",
    apigateway.ResponseType.BAD_REQUEST_PARAMETERS: "invalid_request",
    apigateway.ResponseType.REQUEST_TOO_LARGE: "payload_too_large",
    apigateway.ResponseType.THROTTLED: "throttled",
    apigateway.ResponseType.DEFAULT_4_XX: "request_refused",
    apigateway.ResponseType.INTEGRATION_TIMEOUT: "gateway_timeout",
    apigateway.ResponseType.DEFAULT_5_XX: "gateway_error",
}
"""The `error.code` of the answers API Gateway gives itself (validation, SigV4, throttling), so
that every error has the functions' shape: `{"error": {"code": ..., "message": ...}}`."""

GATEWAY_ERROR_TEMPLATE = '{"error": {"code": "CODE", "message": $context.error.messageString}}'
"""`$context.error.messageString` is API Gateway's message, already quoted as a JSON string."""

SUBMIT_REQUEST_SCHEMA = apigateway.JsonSchema(
    schema=apigateway.JsonSchemaVersion.DRAFT4,
    title="SubmitTranscription",
    type=apigateway.JsonSchemaType.OBJECT,
    required=["url"],
    properties={
        "url": apigateway.JsonSchema(
            type=apigateway.JsonSchemaType.STRING, min_length=1, max_length=SubmitLimits.AUDIO_URL_CHARACTERS
        ),
        "options": apigateway.JsonSchema(type=apigateway.JsonSchemaType.OBJECT),
        "metadata": apigateway.JsonSchema(type=apigateway.JsonSchemaType.OBJECT),
        "delivery": apigateway.JsonSchema(type=apigateway.JsonSchemaType.STRING, enum=["callback", "s3"]),
    },
)
"""The JSON body of POST /transcriptions, checked by API Gateway; the function checks the details."""


def path_parameter(path: str) -> str:
    """The single `{name}` parameter of an API path (`/transcriptions/{id}` -> `id`)."""
    names = re.findall(r"\{(\w+)\}", path)
    if len(names) != 1:
        raise ValueError(f"expected one path parameter in {path!r}, found {names}")
    return str(names[0])


def access_log_format() -> apigateway.AccessLogFormat:
    """One JSON object per request, with the IAM caller and the integration's latency and error."""
    field = apigateway.AccessLogField
    return apigateway.AccessLogFormat.custom(
        json.dumps(
            {
                "requestId": field.context_request_id(),
                "requestTime": field.context_request_time(),
                "httpMethod": field.context_http_method(),
                "resourcePath": field.context_resource_path(),
                "status": field.context_status(),
                "responseLength": field.context_response_length(),
                "sourceIp": field.context_identity_source_ip(),
                "caller": field.context_identity_caller(),
                "userArn": field.context_identity_user_arn(),
                "integrationLatency": field.context_integration_latency(),
                "integrationError": field.context_integration_error_message(),
                "error": field.context_error_message(),
                "validationError": field.context_error_validation_error_string(),
            }
        )
    )


class TranscriptionApi(Construct):
    """The REST API with the submit, status and manage functions behind it."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        settings: Settings,
        layer: lambda_.ILayerVersion,
        jobs_table: dynamodb.ITable,
        idempotency_table: dynamodb.ITable,
        results_bucket: s3.IBucket,
        secrets: Secrets,
        callback_url: str,
        topic: sns.ITopic,
        topic_key: kms.IKey,
    ) -> None:
        super().__init__(scope, construct_id)
        self.submit = self._submit_function(
            settings=settings,
            layer=layer,
            jobs_table=jobs_table,
            idempotency_table=idempotency_table,
            results_bucket=results_bucket,
            secrets=secrets,
            callback_url=callback_url,
        )
        self.status = self._status_function(
            settings=settings, layer=layer, jobs_table=jobs_table, results_bucket=results_bucket
        )
        self.manage = self._manage_function(
            settings=settings,
            layer=layer,
            jobs_table=jobs_table,
            results_bucket=results_bucket,
            topic=topic,
            topic_key=topic_key,
        )

        access_logs = logs.LogGroup(
            self,
            "AccessLogs",
            retention=log_retention(settings.log_retention_days),
            removal_policy=removal_policy(settings),
        )
        self.rest_api = apigateway.RestApi(
            self,
            "RestApi",
            rest_api_name=f"{settings.stack_name}-transcriptions",
            description="Submit speech-to-text jobs to Deepgram and read their results.",
            endpoint_types=[apigateway.EndpointType.REGIONAL],
            binary_media_types=BINARY_MEDIA_TYPES,
            cloud_watch_role=settings.api_gateway_cloudwatch_role,
            # The role stays when the stack goes: other APIs in the region may rely on the setting.
            cloud_watch_role_removal_policy=(
                cdk.RemovalPolicy.RETAIN if settings.api_gateway_cloudwatch_role else None
            ),
            default_method_options=apigateway.MethodOptions(
                authorization_type=apigateway.AuthorizationType.IAM
            ),
            deploy_options=apigateway.StageOptions(
                stage_name=settings.stage_name,
                access_log_destination=apigateway.LogGroupLogDestination(access_logs),
                access_log_format=access_log_format(),
                throttling_rate_limit=settings.api_throttling_rate_limit,
                throttling_burst_limit=settings.api_throttling_burst_limit,
                tracing_enabled=settings.tracing,
            ),
        )
        # The stack has its own, readably named output for the URL (ApiUrl).
        self.rest_api.node.try_remove_child("Endpoint")
        self._add_routes()
        self._add_gateway_responses()
        self._acknowledge_findings(settings)

    @property
    def stage(self) -> apigateway.Stage:
        return self.rest_api.deployment_stage

    def _submit_function(
        self,
        *,
        settings: Settings,
        layer: lambda_.ILayerVersion,
        jobs_table: dynamodb.ITable,
        idempotency_table: dynamodb.ITable,
        results_bucket: s3.IBucket,
        secrets: Secrets,
        callback_url: str,
    ) -> PipelineFunction:
        # S3 delivery and kept uploads (the bucket's deliveries/ and audio/): see infra/delivery.py.
        submit = PipelineFunction(
            self,
            "Submit",
            service=Services.SUBMIT,
            description="Validates a transcription request, records the job, submits it to Deepgram.",
            memory_size=SUBMIT_MEMORY_MB,
            timeout=SUBMIT_TIMEOUT,
            resources={
                JOBS_TABLE: jobs_table.table_name,
                IDEMPOTENCY_TABLE: idempotency_table.table_name,
                RESULTS_BUCKET: results_bucket.bucket_name,
                DEEPGRAM_API_KEY_SECRET: secrets.deepgram_api_key_secret_ref,
                CALLBACK_SIGNING_SECRET: secrets.callback_signing.secret_arn,
                CALLBACK_URL: callback_url,
            },
            settings=settings,
            layer=layer,
        )
        # The submit function writes the job record and never reads it back.
        submit.allow(["dynamodb:PutItem", "dynamodb:UpdateItem"], [jobs_table.table_arn])
        submit.allow(
            ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"],
            [idempotency_table.table_arn],
        )
        submit.allow(
            ["secretsmanager:GetSecretValue"],
            [*secrets.deepgram_api_key_resources, secrets.callback_signing.secret_arn],
        )
        return submit

    def _status_function(
        self,
        *,
        settings: Settings,
        layer: lambda_.ILayerVersion,
        jobs_table: dynamodb.ITable,
        results_bucket: s3.IBucket,
    ) -> PipelineFunction:
        status = PipelineFunction(
            self,
            "Status",
            service=Services.STATUS,
            description="Reads a job and presigns the URL of its stored result.",
            memory_size=STATUS_MEMORY_MB,
            timeout=STATUS_TIMEOUT,
            resources={JOBS_TABLE: jobs_table.table_name, RESULTS_BUCKET: results_bucket.bucket_name},
            settings=settings,
            layer=layer,
        )
        results = results_bucket.arn_for_objects(f"{ResultsBucket.RESULTS_PREFIX}*")
        status.allow(["dynamodb:GetItem"], [jobs_table.table_arn])
        # Listing reads the two listing indexes only (never a Scan, never the attention index).
        status.allow(
            ["dynamodb:Query"],
            [
                f"{jobs_table.table_arn}/index/{index}"
                for index in (JobsTable.STATUS_INDEX, JobsTable.MONTH_INDEX)
            ],
        )
        # A presigned URL carries the signer's permissions: the status role must be able to read.
        status.allow(["s3:GetObject"], [results])
        acknowledge(
            status.role,
            f"AwsSolutions-IAM5[Resource::{arn_of(results_bucket)}/{ResultsBucket.RESULTS_PREFIX}*]",
            "The status function presigns GET URLs for results/<job id>/...; any job's key is "
            "possible, so the grant covers the results/ prefix only.",
        )
        return status

    def _manage_function(
        self,
        *,
        settings: Settings,
        layer: lambda_.ILayerVersion,
        jobs_table: dynamodb.ITable,
        results_bucket: s3.IBucket,
        topic: sns.ITopic,
        topic_key: kms.IKey,
    ) -> PipelineFunction:
        manage = PipelineFunction(
            self,
            "Manage",
            service=Services.MANAGE,
            description="Deletes a job (its result and kept audio) or publishes its notification again.",
            memory_size=MANAGE_MEMORY_MB,
            timeout=MANAGE_TIMEOUT,
            resources={
                JOBS_TABLE: jobs_table.table_name,
                RESULTS_BUCKET: results_bucket.bucket_name,
                TOPIC_ARN: topic.topic_arn,
            },
            settings=settings,
            layer=layer,
        )
        manage.allow(["dynamodb:GetItem", "dynamodb:UpdateItem"], [jobs_table.table_arn])
        prefixes = (ResultsBucket.RESULTS_PREFIX, ResultsBucket.AUDIO_PREFIX)
        manage.allow(
            ["s3:DeleteObject"], [results_bucket.arn_for_objects(f"{prefix}*") for prefix in prefixes]
        )
        manage.allow_publishing(topic, topic_key)
        for prefix in prefixes:
            acknowledge(
                manage.role,
                f"AwsSolutions-IAM5[Resource::{arn_of(results_bucket)}/{prefix}*]",
                f"Deleting a job deletes what it stored under {prefix}<job id>...; any job may be "
                f"deleted, so the grant covers the {prefix} prefix only, and only s3:DeleteObject.",
            )
        return manage

    def _add_routes(self) -> None:
        api = self.rest_api
        body_validator = api.add_request_validator(
            "BodyValidator", validate_request_body=True, validate_request_parameters=True
        )
        parameters_validator = api.add_request_validator(
            "ParametersValidator", validate_request_body=False, validate_request_parameters=True
        )
        submit_model = api.add_model(
            "SubmitRequest", content_type="application/json", schema=SUBMIT_REQUEST_SCHEMA
        )

        api.root.resource_for_path(Api.TRANSCRIPTIONS).add_method(
            "POST",
            apigateway.LambdaIntegration(self.submit.target, allow_test_invoke=False),
            request_validator=body_validator,
            request_models={"application/json": submit_model},
        )
        api.root.resource_for_path(Api.TRANSCRIPTIONS).add_method(
            "GET",
            apigateway.LambdaIntegration(self.status.target, allow_test_invoke=False),
            request_validator=parameters_validator,
            request_parameters={
                f"method.request.querystring.{name}": False for name in LIST_QUERY_PARAMETERS
            },
        )
        job_path = {f"method.request.path.{path_parameter(Api.TRANSCRIPTION)}": True}
        api.root.resource_for_path(Api.TRANSCRIPTION).add_method(
            "GET",
            apigateway.LambdaIntegration(self.status.target, allow_test_invoke=False),
            request_validator=parameters_validator,
            request_parameters=job_path,
        )
        manage = apigateway.LambdaIntegration(self.manage.target, allow_test_invoke=False)
        api.root.resource_for_path(Api.TRANSCRIPTION).add_method(
            "DELETE", manage, request_validator=parameters_validator, request_parameters=job_path
        )
        api.root.resource_for_path(Api.NOTIFY).add_method(
            "POST", manage, request_validator=parameters_validator, request_parameters=job_path
        )

    def _add_gateway_responses(self) -> None:
        for response_type, code in GATEWAY_ERRORS.items():
            self.rest_api.add_gateway_response(
                response_type.response_type,
                type=response_type,
                templates={"application/json": GATEWAY_ERROR_TEMPLATE.replace("CODE", code)},
            )

    def _acknowledge_findings(self, settings: Settings) -> None:
        if settings.api_gateway_cloudwatch_role:
            acknowledge(
                self.rest_api,
                "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/"
                "AmazonAPIGatewayPushToCloudWatchLogs]",
                "The region's API Gateway CloudWatch Logs role serves every REST API of the region, "
                "whose log groups are not known here; AWS's managed policy for exactly that purpose is "
                "the documented way to grant it.",
            )
        acknowledge(
            self.rest_api,
            "AwsSolutions-APIG3",
            "No WAF web ACL: every method requires IAM (SigV4) authorization and the stage is "
            "throttled; a web ACL would add a fixed monthly cost for callers that are already "
            "authenticated.",
        )
        acknowledge(
            self.rest_api,
            "AwsSolutions-APIG6",
            "Execution logs would go to a log group that API Gateway creates outside this stack, "
            "kept forever; the JSON access logs (status, integration and validation errors of every "
            "request) and the functions' own logs say what went wrong.",
        )
        acknowledge(
            self.rest_api,
            "AwsSolutions-COG4",
            "The API uses IAM (SigV4) authorization, not a Cognito user pool: its callers are "
            "AWS principals (services, CI, operators), not end users.",
        )
