"""Properties of the synthesized stack that matter for security, cost and the functions' contract."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import pytest
from aws_cdk import aws_lambda as lambda_
from cfnlint.api import ManualArgs, lint_file

from benchmarks import harness
from functions.core.contract import (
    HANDLERS,
    CallbackTiming,
    Env,
    IdempotencyTable,
    JobsTable,
    Metrics,
    Services,
)
from functions.core.settings import (
    FUNCTION_SETTINGS,
    LOG_LEVELS,
    Rule,
    Setting,
    StatusSettings,
)
from infra.bundling import REPO_ROOT
from infra.config import ConfigError, Settings, describe_settings
from infra.functions import APPLICATION_LOG_LEVELS, ARCHITECTURE, RUNTIME, powertools_version
from infra.secrets import Secrets
from local.aws_resources import ResourceNames, Resources, function_environment
from tests.infra.synthesis import Assembly, Synthesized, synthesize_alone

pytestmark = pytest.mark.infra

PLATFORM_ENV = {
    Env.POWERTOOLS_SERVICE_NAME,
    Env.POWERTOOLS_METRICS_NAMESPACE,
    Env.TRACE_DISABLED,
    Env.TRACER_CAPTURE_RESPONSE,
}
"""Variables every function gets that are no setting of it (Powertools reads them)."""


def _target(resource: Any) -> str:
    """A readable name for an IAM statement's resource: logical id without its hash, plus any path."""
    if isinstance(resource, str):
        return resource
    if "Ref" in resource:
        return re.sub(r"[0-9A-F]{8}$", "", resource["Ref"])
    if "Fn::GetAtt" in resource:
        return re.sub(r"[0-9A-F]{8}$", "", resource["Fn::GetAtt"][0])
    if "Fn::Join" in resource:
        return "".join(_target(part) for part in resource["Fn::Join"][1])
    raise AssertionError(f"unexpected resource {resource}")


def functions(synth: Synthesized) -> dict[str, dict[str, Any]]:
    """The Lambda functions' properties, by Powertools service name."""
    return {
        r["Properties"]["Environment"]["Variables"][Env.POWERTOOLS_SERVICE_NAME]: r["Properties"]
        for r in synth.of_type("AWS::Lambda::Function").values()
    }


def permissions(synth: Synthesized, service: str) -> set[tuple[str, str]]:
    """Every (action, resource) pair granted to a function's role."""
    role = functions(synth)[service]["Role"]["Fn::GetAtt"][0]
    granted = set()
    for policy in synth.of_type("AWS::IAM::Policy").values():
        if {"Ref": role} not in policy["Properties"]["Roles"]:
            continue
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            assert statement["Effect"] == "Allow"
            actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
            resources = (
                statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
            )
            granted |= {(action, _target(resource)) for action in actions for resource in resources}
    return granted


def _grants(resource: str, *actions: str) -> set[tuple[str, str]]:
    return {(action, resource) for action in actions}


LOGS = ("logs:CreateLogStream", "logs:PutLogEvents")
EXPECTED_PERMISSIONS = {
    Services.SUBMIT: _grants("ApiSubmitLogs", *LOGS)
    | _grants("StorageJobsTable", "dynamodb:PutItem", "dynamodb:UpdateItem")
    | _grants(
        "StorageIdempotencyTable",
        "dynamodb:GetItem",
        "dynamodb:PutItem",
        "dynamodb:UpdateItem",
        "dynamodb:DeleteItem",
    )
    | _grants("SecretsDeepgramApiKey", "secretsmanager:GetSecretValue")
    | _grants("SecretsCallbackSigningSecret", "secretsmanager:GetSecretValue")
    | _grants("DeliverySignerRole", "sts:AssumeRole"),
    Services.CALLBACK: _grants("CallbackHandlerLogs", *LOGS)
    | _grants("StorageJobsTable", "dynamodb:GetItem", "dynamodb:UpdateItem")
    | _grants("StorageResultsBucket/results/*", "s3:PutObject", "s3:DeleteObject")
    | _grants("NotificationsTopic", "sns:Publish")
    | _grants("NotificationsKey", "kms:GenerateDataKey", "kms:Decrypt")
    | _grants("SecretsCallbackSigningSecret", "secretsmanager:GetSecretValue"),
    Services.STATUS: _grants("ApiStatusLogs", *LOGS)
    | _grants("StorageJobsTable", "dynamodb:GetItem")
    | _grants(f"StorageJobsTable/index/{JobsTable.STATUS_INDEX}", "dynamodb:Query")
    | _grants(f"StorageJobsTable/index/{JobsTable.MONTH_INDEX}", "dynamodb:Query")
    | _grants("StorageResultsBucket/results/*", "s3:GetObject"),
    Services.MANAGE: _grants("ApiManageLogs", *LOGS)
    | _grants("StorageJobsTable", "dynamodb:GetItem", "dynamodb:UpdateItem")
    | _grants("StorageResultsBucket/results/*", "s3:DeleteObject")
    | _grants("StorageResultsBucket/audio/*", "s3:DeleteObject")
    | _grants("NotificationsTopic", "sns:Publish")
    | _grants("NotificationsKey", "kms:GenerateDataKey", "kms:Decrypt"),
}


# --- compliance -----------------------------------------------------------------------------


def test_cdk_nag_finds_nothing_unacknowledged(assembly: Assembly) -> None:
    assert assembly.validation_error is None, assembly.validation_error
    for report in assembly.validation_report["pluginReports"]:
        assert report["conclusion"] == "success", report["violations"]


def test_every_acknowledgment_has_a_specific_reason_and_is_used(assembly: Assembly) -> None:
    acknowledged = set()
    for construct in assembly.app.node.find_all():
        for entry in construct.node.metadata:
            if entry.type == "aws:cdk:acknowledged-rules":
                for rule, reason in entry.data.items():
                    assert len(reason) > 60, f"{construct.node.path} {rule}: say why, specifically"
                    acknowledged.add((construct.node.path, rule))
    used = {
        (violation["acknowledgedAt"], violation["acknowledgedId"])
        for report in assembly.validation_report["pluginReports"]
        for violation in report["suppressedViolations"]
    }
    assert acknowledged == used, "an acknowledgment matches no finding: remove it"


def test_cfn_lint_is_clean(assembly: Assembly) -> None:
    """`cfn-lint --ignore-checks W3005` (W3005: CDK's redundant DependsOn, always present)."""
    for synth in assembly.stacks.values():
        matches = lint_file(synth.template_path, config=ManualArgs(ignore_checks=["W3005"]))
        assert [str(match) for match in matches] == [], synth.template_path.name


# --- storage --------------------------------------------------------------------------------


def test_tables_use_the_contract_key_schemas_and_ttl(each: Synthesized) -> None:
    tables = {
        r["Properties"]["KeySchema"][0]["AttributeName"]: r["Properties"]
        for r in each.of_type("AWS::DynamoDB::Table").values()
    }
    assert set(tables) == {JobsTable.PARTITION_KEY, IdempotencyTable.PARTITION_KEY}
    assert tables[JobsTable.PARTITION_KEY]["TimeToLiveSpecification"] == {
        "AttributeName": JobsTable.TTL_ATTRIBUTE,
        "Enabled": True,
    }
    assert tables[IdempotencyTable.PARTITION_KEY]["TimeToLiveSpecification"] == {
        "AttributeName": IdempotencyTable.TTL_ATTRIBUTE,
        "Enabled": True,
    }


def test_tables_are_on_demand_encrypted_and_recoverable(each: Synthesized) -> None:
    for table in each.of_type("AWS::DynamoDB::Table").values():
        properties = table["Properties"]
        assert properties["BillingMode"] == "PAY_PER_REQUEST"
        assert properties["SSESpecification"]["SSEEnabled"] is True
        assert properties["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"] is True


def test_deletion_protection_follows_the_setting(default: Synthesized, full: Synthesized) -> None:
    assert any(name.startswith("MonitoringAlarmTopicKey") for name in full.of_type("AWS::KMS::Key"))
    for key in default.of_type("AWS::KMS::Key").values():
        assert key["DeletionPolicy"] == "Delete"
    for key in full.of_type("AWS::KMS::Key").values():  # the alarm topic's key among them
        assert key["DeletionPolicy"] == "Retain"
    for table in default.of_type("AWS::DynamoDB::Table").values():
        assert table["Properties"]["DeletionProtectionEnabled"] is False
        assert table["DeletionPolicy"] == "Delete"
    for table in full.of_type("AWS::DynamoDB::Table").values():
        assert table["Properties"]["DeletionProtectionEnabled"] is True
        assert table["DeletionPolicy"] == "Retain"
    for bucket in full.of_type("AWS::S3::Bucket").values():
        assert bucket["DeletionPolicy"] == "Retain"


def test_results_bucket_is_private_encrypted_and_expires_with_the_jobs(each: Synthesized) -> None:
    (bucket,) = each.of_type("AWS::S3::Bucket").values()
    properties = bucket["Properties"]
    assert properties["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True,
        "BlockPublicPolicy": True,
        "IgnorePublicAcls": True,
        "RestrictPublicBuckets": True,
    }
    (encryption,) = properties["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert encryption["ServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
    rules = properties["LifecycleConfiguration"]["Rules"]
    [rule] = [rule for rule in rules if "Prefix" not in rule]  # the deliveries/ rule: test_delivery.py
    assert rule["ExpirationInDays"] == each.settings.retention_days
    assert rule["AbortIncompleteMultipartUpload"]["DaysAfterInitiation"] == 1


def _denies_plain_http(statements: list[dict[str, Any]]) -> bool:
    return any(
        statement["Effect"] == "Deny" and statement["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
        for statement in statements
    )


def test_bucket_policy_denies_requests_without_tls(each: Synthesized) -> None:
    (policy,) = each.of_type("AWS::S3::BucketPolicy").values()
    assert _denies_plain_http(policy["Properties"]["PolicyDocument"]["Statement"])


# --- notifications --------------------------------------------------------------------------


def test_every_topic_and_queue_is_kms_encrypted_with_a_customer_key(each: Synthesized) -> None:
    keys = set(each.of_type("AWS::KMS::Key"))
    for resource in {**each.of_type("AWS::SNS::Topic"), **each.of_type("AWS::SQS::Queue")}.values():
        key = resource["Properties"]["KmsMasterKeyId"]
        assert key["Fn::GetAtt"][0] in keys
    for key in each.of_type("AWS::KMS::Key").values():
        assert key["Properties"]["EnableKeyRotation"] is True


def test_every_topic_and_queue_policy_denies_requests_without_tls(each: Synthesized) -> None:
    topics = set(each.of_type("AWS::SNS::Topic"))
    protected = set()
    for policy in each.of_type("AWS::SNS::TopicPolicy").values():
        if _denies_plain_http(policy["Properties"]["PolicyDocument"]["Statement"]):
            protected |= {topic["Ref"] for topic in policy["Properties"]["Topics"]}
    assert protected == topics
    queues = set(each.of_type("AWS::SQS::Queue"))
    protected = set()
    for policy in each.of_type("AWS::SQS::QueuePolicy").values():
        if _denies_plain_http(policy["Properties"]["PolicyDocument"]["Statement"]):
            protected |= {queue["Ref"] for queue in policy["Properties"]["Queues"]}
    assert protected == queues


def test_optional_subscriptions_carry_their_filter_policies(default: Synthesized, full: Synthesized) -> None:
    assert default.of_type("AWS::SNS::Subscription") == {}
    notifications = {
        r["Properties"]["Protocol"]: r["Properties"]
        for r in full.of_type("AWS::SNS::Subscription").values()
        if r["Properties"]["TopicArn"]["Ref"].startswith("NotificationsTopic")
    }
    assert set(notifications) == {"email", "sqs", "https"}
    assert notifications["email"]["FilterPolicy"] == {"event_type": ["transcription.failed"]}
    assert notifications["sqs"]["FilterPolicy"] == {"status": ["completed", "failed"]}
    assert notifications["https"]["FilterPolicy"] == {"metadata.customer": ["acme"]}
    assert notifications["https"]["Endpoint"] == "https://hooks.example.com/deepgram"
    assert "RedrivePolicy" in notifications["sqs"]


def test_queue_redrives_to_its_dead_letter_queue(full: Synthesized) -> None:
    queues = full.of_type("AWS::SQS::Queue")
    redriven = [
        q["Properties"]["RedrivePolicy"] for q in queues.values() if "RedrivePolicy" in q["Properties"]
    ]
    assert len(queues) == 2
    assert len(redriven) == 1
    assert redriven[0]["maxReceiveCount"] == 5


# --- functions ------------------------------------------------------------------------------


def test_runtime_is_the_newest_python_and_arm64(each: Synthesized) -> None:
    def version(runtime: lambda_.Runtime) -> tuple[int, ...]:
        return tuple(int(part) for part in runtime.name.removeprefix("python").split("."))

    pythons = [
        getattr(lambda_.Runtime, name)
        for name in dir(lambda_.Runtime)
        if re.fullmatch(r"PYTHON_\d+_\d+", name)
    ]
    assert RUNTIME.name == max(pythons, key=version).name
    assert ARCHITECTURE.name == "arm64"
    for properties in functions(each).values():
        assert properties["Runtime"] == RUNTIME.name
        assert properties["Architectures"] == ["arm64"]


def test_handlers_come_from_the_contract(each: Synthesized) -> None:
    assert {service: properties["Handler"] for service, properties in functions(each).items()} == HANDLERS


def test_each_function_has_its_own_role_without_managed_policies(each: Synthesized) -> None:
    roles = [properties["Role"]["Fn::GetAtt"][0] for properties in functions(each).values()]
    assert len(set(roles)) == len(HANDLERS)
    for role in roles:
        assert "ManagedPolicyArns" not in each.resources[role]["Properties"]


def test_each_role_has_exactly_the_permissions_its_function_needs(default: Synthesized) -> None:
    for service, expected in EXPECTED_PERMISSIONS.items():
        assert permissions(default, service) == expected, service


def test_submit_writes_jobs_but_never_reads_them(each: Synthesized) -> None:
    on_jobs = {
        action for action, resource in permissions(each, Services.SUBMIT) if resource == "StorageJobsTable"
    }
    assert on_jobs == {"dynamodb:PutItem", "dynamodb:UpdateItem"}


def test_callback_cannot_read_the_deepgram_key_and_status_cannot_publish(each: Synthesized) -> None:
    callback = permissions(each, Services.CALLBACK)
    assert not any("deepgram" in resource.lower() for _, resource in callback)
    assert {resource for action, resource in callback if action == "secretsmanager:GetSecretValue"} == {
        "SecretsCallbackSigningSecret"
    }
    status = permissions(each, Services.STATUS)
    assert not any(action.startswith(("sns:", "kms:", "secretsmanager:")) for action, _ in status)
    assert not any(action.startswith("s3:") and action != "s3:GetObject" for action, _ in status)


def test_a_named_existing_deepgram_secret_is_granted_by_its_arn_pattern(full: Synthesized) -> None:
    secrets = {
        resource for action, resource in permissions(full, Services.SUBMIT) if action.startswith("secrets")
    }
    assert secrets == {
        "arn:AWS::Partition:secretsmanager:AWS::Region:AWS::AccountId:secret:team/deepgram-api-key-??????",
        "SecretsCallbackSigningSecret",
    }
    assert full.of_type("AWS::SecretsManager::Secret").keys() == {
        key for key in full.of_type("AWS::SecretsManager::Secret") if key.startswith("SecretsCallbackSigning")
    }


def test_the_deepgram_secret_reference_is_not_called_a_key_id(full: Synthesized) -> None:
    """`deepgram_api_key_id` means Deepgram's key identifier (the dg-token check), never the secret."""
    secrets = full.stack.node.find_child("Secrets")
    assert isinstance(secrets, Secrets)
    assert secrets.deepgram_api_key_secret_ref == "team/deepgram-api-key"
    assert not hasattr(secrets, "deepgram_api_key_id")


def _as_deployed(variables: dict[str, Any]) -> dict[str, str]:
    """The environment as the function will see it: CDK tokens (Ref, GetAtt) become plain values."""
    return {
        name: value if isinstance(value, str) else "https://resolved.example.com/"
        for name, value in variables.items()
    }


def test_each_function_gets_the_environment_its_settings_spec_reads(each: Synthesized) -> None:
    for service, properties in functions(each).items():
        spec = FUNCTION_SETTINGS[service]
        variables = properties["Environment"]["Variables"]
        declared = {setting.env for setting in spec.declarations().values()}
        assert set(variables) <= declared | PLATFORM_ENV, service
        settings = spec.from_environ(_as_deployed(variables))  # every problem would raise here
        for attribute, setting in spec.declarations().items():
            if setting.context:
                assert getattr(settings, attribute) == each.settings.value(setting), (service, attribute)


def test_environment_values_follow_the_settings(default: Synthesized, full: Synthesized) -> None:
    submit = functions(full)[Services.SUBMIT]["Environment"]["Variables"]
    assert submit[Env.CALLBACK_METHOD] == "PUT"
    assert submit[Env.DEEPGRAM_BASE_URL] == "https://deepgram-proxy.example.com"
    assert (submit[Env.DEEPGRAM_TIMEOUT_SECONDS], submit[Env.DEEPGRAM_MAX_RETRIES]) == ("12", "1")
    assert submit[Env.RETENTION_DAYS] == "7"
    assert submit[Env.DEEPGRAM_API_KEY_SECRET] == "team/deepgram-api-key"
    assert submit[Env.CALLBACK_URL] == {"Fn::GetAtt": [_function_url_id(full), "FunctionUrl"]}
    callback = functions(full)[Services.CALLBACK]["Environment"]["Variables"]
    assert (callback[Env.DG_TOKEN_MODE], callback[Env.DEEPGRAM_API_KEY_ID]) == (
        "required",
        "0b7c9e4c-old-key-id,5d2a7f1e-new-key-id",  # a rotation's two key ids, passed on unchanged
    )
    assert functions(default)[Services.CALLBACK]["Environment"]["Variables"][Env.DG_TOKEN_MODE] == "off"
    status = functions(full)[Services.STATUS]["Environment"]["Variables"]
    assert status[Env.RESULT_URL_TTL_SECONDS] == "3600"
    for service, properties in functions(full).items():
        variables = properties["Environment"]["Variables"]
        assert variables[Env.POWERTOOLS_SERVICE_NAME] == service
        assert variables[Env.POWERTOOLS_METRICS_NAMESPACE] == Metrics.NAMESPACE
        assert variables[Env.LOG_LEVEL] == "DEBUG"


def test_submit_finishes_within_the_api_gateway_integration_timeout(each: Synthesized) -> None:
    submit = functions(each)[Services.SUBMIT]
    assert submit["Timeout"] <= 28
    variables = submit["Environment"]["Variables"]
    budget = int(variables[Env.DEEPGRAM_TIMEOUT_SECONDS]) * (int(variables[Env.DEEPGRAM_MAX_RETRIES]) + 1)
    assert budget < submit["Timeout"]


def test_callback_timeout_fits_inside_the_notification_lease_and_deepgrams_retry(each: Synthesized) -> None:
    assert functions(each)[Services.CALLBACK]["Timeout"] == CallbackTiming.FUNCTION_TIMEOUT_SECONDS
    assert (
        CallbackTiming.FUNCTION_TIMEOUT_SECONDS
        < CallbackTiming.NOTIFICATION_LEASE_SECONDS
        < CallbackTiming.DEEPGRAM_RETRY_INTERVAL_SECONDS
    )


def test_log_level_sets_lambdas_application_log_level_on_every_function(
    default: Synthesized, full: Synthesized
) -> None:
    """With JSON logs, Lambda's level (AWS_LAMBDA_LOG_LEVEL) wins over POWERTOOLS_LOG_LEVEL."""
    assert set(APPLICATION_LOG_LEVELS) == set(LOG_LEVELS)
    assert full.settings.log_level == "DEBUG"  # -c logLevel=debug
    for synth, level in ((default, "INFO"), (full, "DEBUG")):
        assert len(functions(synth)) == len(HANDLERS)
        for properties in functions(synth).values():
            assert properties["LoggingConfig"]["ApplicationLogLevel"] == level
            assert properties["LoggingConfig"]["SystemLogLevel"] == level
            assert properties["Environment"]["Variables"][Env.LOG_LEVEL] == level


def test_functions_log_json_to_their_own_log_group(each: Synthesized) -> None:
    log_groups = set(each.of_type("AWS::Logs::LogGroup"))
    used = [properties["LoggingConfig"] for properties in functions(each).values()]
    assert all(config["LogFormat"] == "JSON" for config in used)
    assert len({config["LogGroup"]["Ref"] for config in used}) == len(used)
    assert {config["LogGroup"]["Ref"] for config in used} <= log_groups


def test_every_log_group_has_the_configured_retention(each: Synthesized) -> None:
    log_groups = each.of_type("AWS::Logs::LogGroup")
    assert len(log_groups) == len(HANDLERS) + 1  # the functions' and the API's access logs
    for log_group in log_groups.values():
        assert log_group["Properties"]["RetentionInDays"] == each.settings.log_retention_days


def test_functions_use_the_powertools_layer_of_the_pinned_version(
    default: Synthesized, full: Synthesized
) -> None:
    (parameter,) = [
        p
        for name, p in default.template.to_json()["Parameters"].items()
        if name.startswith("SsmParameterValue")
    ]
    version = powertools_version((REPO_ROOT / "requirements.txt").read_text())
    assert parameter["Type"] == "AWS::SSM::Parameter::Value<String>"
    assert parameter["Default"] == f"/aws/service/powertools/python/arm64/{RUNTIME.name}/{version}"
    for properties in functions(default).values():
        assert len(properties["Layers"]) == 1
    for properties in functions(full).values():
        assert properties["TracingConfig"] == {"Mode": "Active"}


def test_reserved_concurrency_only_when_configured_and_only_on_the_callback(
    default: Synthesized, full: Synthesized
) -> None:
    assert not any("ReservedConcurrentExecutions" in p for p in functions(default).values())
    reserved = {
        s: p["ReservedConcurrentExecutions"]
        for s, p in functions(full).items()
        if "ReservedConcurrentExecutions" in p
    }
    assert reserved == {Services.CALLBACK: 20}


# --- endpoints ------------------------------------------------------------------------------


def _function_url_id(synth: Synthesized) -> str:
    (url_id,) = synth.of_type("AWS::Lambda::Url")
    return url_id


def test_only_the_callback_function_has_a_public_function_url(each: Synthesized) -> None:
    (url,) = each.of_type("AWS::Lambda::Url").values()
    assert url["Properties"]["AuthType"] == "NONE"
    callback = next(
        name
        for name, r in each.of_type("AWS::Lambda::Function").items()
        if r["Properties"]["Environment"]["Variables"][Env.POWERTOOLS_SERVICE_NAME] == Services.CALLBACK
    )
    assert url["Properties"]["TargetFunctionArn"] == {"Fn::GetAtt": [callback, "Arn"]}


def test_every_api_method_requires_iam_authorization(each: Synthesized) -> None:
    methods = each.of_type("AWS::ApiGateway::Method")
    assert {m["Properties"]["HttpMethod"] for m in methods.values()} == {"POST", "GET", "DELETE"}
    for method in methods.values():
        assert method["Properties"]["AuthorizationType"] == "AWS_IAM"
        assert method["Properties"]["Integration"]["Type"] == "AWS_PROXY"


def test_api_requests_are_validated(each: Synthesized) -> None:
    validators = {
        name: r["Properties"] for name, r in each.of_type("AWS::ApiGateway::RequestValidator").items()
    }
    methods = [m["Properties"] for m in each.of_type("AWS::ApiGateway::Method").values()]
    # POST /transcriptions and GET /transcriptions/{id}; the other routes: tests/infra/test_api_routes.py.
    submit = next(m for m in methods if m["HttpMethod"] == "POST" and "RequestModels" in m)
    read = next(
        m for m in methods if m["HttpMethod"] == "GET" and "method.request.path.id" in m["RequestParameters"]
    )
    post = validators[submit["RequestValidatorId"]["Ref"]]
    assert post["ValidateRequestBody"] is True
    assert "application/json" in submit["RequestModels"]
    get = validators[read["RequestValidatorId"]["Ref"]]
    assert get["ValidateRequestParameters"] is True
    assert read["RequestParameters"] == {"method.request.path.id": True}


def test_api_stage_throttles_logs_and_accepts_audio(each: Synthesized) -> None:
    (stage,) = each.of_type("AWS::ApiGateway::Stage").values()
    properties = stage["Properties"]
    assert properties["StageName"] == each.settings.stage_name
    (settings,) = properties["MethodSettings"]
    assert settings["ThrottlingRateLimit"] == each.settings.api_throttling_rate_limit
    assert settings["ThrottlingBurstLimit"] == each.settings.api_throttling_burst_limit
    access_log = json.loads(properties["AccessLogSetting"]["Format"])
    assert {"requestId", "status", "userArn", "integrationError"} <= set(access_log)
    (api,) = each.of_type("AWS::ApiGateway::RestApi").values()
    assert set(api["Properties"]["BinaryMediaTypes"]) == {"audio/*", "video/*", "application/octet-stream"}
    assert properties.get("TracingEnabled", False) is each.settings.tracing


def test_errors_api_gateway_answers_itself_have_the_functions_json_shape(each: Synthesized) -> None:
    responses = {
        r["Properties"]["ResponseType"]: r["Properties"]
        for r in each.of_type("AWS::ApiGateway::GatewayResponse").values()
    }
    assert {"BAD_REQUEST_BODY", "BAD_REQUEST_PARAMETERS", "DEFAULT_4XX", "DEFAULT_5XX"} <= set(responses)
    for response in responses.values():
        rendered = response["ResponseTemplates"]["application/json"].replace(
            "$context.error.messageString", '"Invalid request body"'
        )
        error = json.loads(rendered)["error"]
        assert set(error) == {"code", "message"}
        assert re.fullmatch(r"[a-z_]+", error["code"])
    assert (
        json.loads(
            responses["BAD_REQUEST_BODY"]["ResponseTemplates"]["application/json"].replace(
                "$context.error.messageString", '""'
            )
        )["error"]["code"]
        == "invalid_request"
    )


# --- monitoring and outputs -----------------------------------------------------------------


def test_alarms_watch_what_loses_transcripts(default: Synthesized, full: Synthesized) -> None:
    def alarm_names(synth: Synthesized) -> set[str]:
        return {
            re.sub(r"[0-9A-F]{8}$", "", name).removeprefix("Monitoring")
            for name in synth.of_type("AWS::CloudWatch::Alarm")
        }

    watched = {
        "CallbackErrors",
        "CallbackThrottles",
        "CallbackFaults",
        "CallbacksRejected",
        "Submit5xx",
        "JobsFailed",
        "CallbackNotReceived",  # the reconciler's metrics (tests/infra/test_monitoring.py)
        "OldestAwaitingJobAge",
    }
    assert alarm_names(default) == watched
    assert alarm_names(full) == watched | {"NotificationsDlq"}
    for alarm in default.of_type("AWS::CloudWatch::Alarm").values():
        assert "AlarmActions" not in alarm["Properties"]
    for alarm in full.of_type("AWS::CloudWatch::Alarm").values():
        assert len(alarm["Properties"]["AlarmActions"]) == 2  # the alarm topic and the existing one


def test_rejected_callbacks_alarm_reads_the_callback_metric(full: Synthesized) -> None:
    (rejected,) = [
        a["Properties"]
        for name, a in full.of_type("AWS::CloudWatch::Alarm").items()
        if "CallbacksRejected" in name
    ]
    assert rejected["Namespace"] == Metrics.NAMESPACE
    assert rejected["MetricName"] == Metrics.CALLBACKS_REJECTED
    assert rejected["Dimensions"] == [{"Name": "service", "Value": Services.CALLBACK}]
    assert rejected["Threshold"] == 3


def test_callback_faults_alarm_fires_on_the_first_fault(each: Synthesized) -> None:
    """Handled faults (answered 503) never reach Lambda's Errors metric; this alarm sees them."""
    (faults,) = [
        a["Properties"]
        for name, a in each.of_type("AWS::CloudWatch::Alarm").items()
        if "CallbackFaults" in name
    ]
    assert faults["Namespace"] == Metrics.NAMESPACE
    assert faults["MetricName"] == Metrics.CALLBACK_FAULTS
    assert faults["Dimensions"] == [{"Name": "service", "Value": Services.CALLBACK}]
    assert (faults["Statistic"], faults["Period"], faults["EvaluationPeriods"]) == ("Sum", 300, 1)
    assert (faults["Threshold"], faults["ComparisonOperator"]) == (1, "GreaterThanOrEqualToThreshold")
    assert faults["TreatMissingData"] == "notBreaching"


def test_outputs_tell_the_user_where_everything_is(default: Synthesized, full: Synthesized) -> None:
    expected = {
        "ApiUrl",
        "TranscriptionsUrl",
        "CallbackUrl",
        "NotificationsTopicArn",
        "JobsTableName",
        "IdempotencyTableName",
        "ResultsBucketName",
        "DeepgramApiKeySecret",
        "DashboardUrl",
    }
    assert set(default.template.to_json()["Outputs"]) == expected
    assert set(full.template.to_json()["Outputs"]) == expected | {
        "NotificationsQueueUrl",
        "NotificationsQueueKeyArn",
    }


def test_the_region_gets_an_api_gateway_logging_role_unless_it_has_one(
    default: Synthesized, full: Synthesized
) -> None:
    (account,) = default.of_type("AWS::ApiGateway::Account").values()
    role = default.resources[account["Properties"]["CloudWatchRoleArn"]["Fn::GetAtt"][0]]
    assert role["DeletionPolicy"] == "Retain"
    assert full.of_type("AWS::ApiGateway::Account") == {}


# --- one source of truth --------------------------------------------------------------------

GREETING = Setting(
    env="GREETING_TEXT",
    context="greetingText",
    default="hello",
    choices=("hello", "bonjour", "salut"),
    doc="How the status function would greet (a setting that exists only in this test).",
)
GREETING_IS_POLITE = Rule((GREETING,), lambda greeting: greeting != "salut", "{0} must not be {values[0]}")


@dataclass(frozen=True, kw_only=True)
class GreetingStatusSettings(StatusSettings):
    RULES: ClassVar[tuple[Rule, ...]] = (*StatusSettings.RULES, GREETING_IS_POLITE)

    greeting: str = GREETING.field()


def test_a_setting_declared_once_reaches_every_environment_and_the_readme(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """No setting is written twice: one new field in one spec, and nothing else edited."""
    monkeypatch.setitem(FUNCTION_SETTINGS, Services.STATUS, GreetingStatusSettings)

    # The CDK context: parsed, bounded and checked by the rule, from the declaration.
    with pytest.raises(ConfigError, match="greetingText must be one of hello, bonjour, salut"):
        Settings.from_context({"greetingText": "hi"}.get)
    with pytest.raises(ConfigError, match="greetingText must not be salut"):
        Settings.from_context({"greetingText": "salut"}.get)
    settings = Settings.from_context({"greetingText": "Bonjour"}.get)

    # The deployed function's environment, and only that function's.
    template = synthesize_alone(settings, tmp_path)
    environments = {
        r["Properties"]["Environment"]["Variables"][Env.POWERTOOLS_SERVICE_NAME]: r["Properties"][
            "Environment"
        ]["Variables"]
        for r in template["Resources"].values()
        if r["Type"] == "AWS::Lambda::Function"
    }
    assert environments[Services.STATUS]["GREETING_TEXT"] == "bonjour"
    assert not any("GREETING_TEXT" in environments[s] for s in (Services.SUBMIT, Services.CALLBACK))
    status = GreetingStatusSettings.from_environ(_as_deployed(environments[Services.STATUS]))
    assert status.greeting == "bonjour"

    # The local stack's and the benchmarks' environments (the default: nobody chose a value).
    resources = Resources(
        names=ResourceNames(),
        region="us-east-1",
        topic_arn="arn:aws:sns:us-east-1:123456789012:topic",
        queue_url="http://127.0.0.1:1/queue",
        deepgram_secret_arn="arn:aws:secretsmanager:us-east-1:123456789012:secret:deepgram",
        signing_secret_arn="arn:aws:secretsmanager:us-east-1:123456789012:secret:signing",
    )
    local = function_environment(
        resources, callback_url="https://callback.example.com/", deepgram_base_url="http://127.0.0.1:9"
    )
    assert local["GREETING_TEXT"] == "hello"
    assert harness.function_environment()["GREETING_TEXT"] == "hello"

    # The README's tables.
    (row,) = [line for line in describe_settings().splitlines() if "`greetingText`" in line]
    assert "`GREETING_TEXT`" in row
    assert "| status |" in row
    assert GREETING.doc in row


def test_powertools_tracer_is_on_exactly_when_tracing_is(each: Synthesized) -> None:
    """The functions create Powertools' Tracer (and import the X-Ray SDK) only when told to."""
    for function in each.of_type("AWS::Lambda::Function").values():
        variables = function["Properties"]["Environment"]["Variables"]
        assert variables[Env.TRACE_DISABLED] == ("false" if each.settings.tracing else "true")
        assert variables[Env.TRACER_CAPTURE_RESPONSE] == "false"
        assert ("TracingConfig" in function["Properties"]) is each.settings.tracing
