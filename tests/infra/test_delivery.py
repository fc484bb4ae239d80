"""S3 delivery in the stack (`infra/delivery.py`): the signer role, the finisher, its trigger and
the lifecycle of deliveries/, one property per test. `default` is the session's stack; `options`
switches on what S3 delivery interacts with (resubmission, kept uploads), with cdk-nag."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk.assertions import Template

from functions.core.contract import HANDLERS, DeliveryTiming, Env, ResultsBucket, Services
from infra.config import Settings
from infra.delivery import FINISHER_MEMORY_MB
from infra.nag import enable_checks
from infra.stack import TranscriptionStack
from tests.infra.synthesis import Synthesized, cdk_json_context
from tests.infra.test_stack import _target, functions, permissions

DEEPGRAM_PROCESSING_CAP_SECONDS = 600
DEEPGRAM_RETRY_WINDOW_SECONDS = 10 * 30


@pytest.fixture(scope="module")
def options(tmp_path_factory: pytest.TempPathFactory) -> Synthesized:
    """Resubmission and kept uploads on, cdk-nag enabled."""
    outdir: Path = tmp_path_factory.mktemp("cdk.out")
    app = cdk.App(context={**cdk_json_context(), "aws:cdk:bundling-stacks": []}, outdir=str(outdir))
    settings = Settings.from_context(
        {"stackName": "Options", "recoverLostCallbacks": "resubmit", "keepUploadedAudio": "true"}.get
    )
    stack = TranscriptionStack(app, settings.stack_name, settings=settings)
    enable_checks(app)
    app.synth()  # an unacknowledged cdk-nag finding raises here
    template = json.loads((outdir / stack.template_file).read_text())
    return Synthesized(settings, stack, Template.from_json(template), outdir / stack.template_file)


def signer_role(synth: Synthesized) -> tuple[str, dict[str, Any]]:
    [(name, role)] = [
        (n, r) for n, r in synth.of_type("AWS::IAM::Role").items() if n.startswith("DeliverySignerRole")
    ]
    return name, role


def trusted_roles(synth: Synthesized) -> set[str]:
    """The roles the signer role's trust policy names (logical ids without their hash)."""
    _, role = signer_role(synth)
    trusted = set()
    for statement in role["Properties"]["AssumeRolePolicyDocument"]["Statement"]:
        principals = statement["Principal"]["AWS"]
        trusted |= {_target(p) for p in (principals if isinstance(principals, list) else [principals])}
    return trusted


def function_role(synth: Synthesized, service: str) -> str:
    """The function's role (logical id without its hash)."""
    return _target({"Ref": functions(synth)[service]["Role"]["Fn::GetAtt"][0]})


def short(name: str) -> str:
    return _target({"Ref": name})


def role_permissions(synth: Synthesized, role: str) -> set[tuple[str, str]]:
    granted = set()
    for policy in synth.of_type("AWS::IAM::Policy").values():
        if {"Ref": role} in policy["Properties"]["Roles"]:
            for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
                actions = (
                    statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
                )
                granted |= {(action, _target(statement["Resource"])) for action in actions}
    return granted


def test_the_url_outlives_deepgrams_processing_and_retries() -> None:
    assert (
        DeliveryTiming.URL_EXPIRES_SECONDS >= DEEPGRAM_PROCESSING_CAP_SECONDS + DEEPGRAM_RETRY_WINDOW_SECONDS
    )


def test_the_signer_role_sessions_last_as_long_as_the_url(default: Synthesized) -> None:
    _, role = signer_role(default)
    assert role["Properties"]["MaxSessionDuration"] >= DeliveryTiming.URL_EXPIRES_SECONDS


def test_the_signer_role_may_only_put_deliveries(default: Synthesized) -> None:
    name, _ = signer_role(default)
    assert role_permissions(default, name) == {("s3:PutObject", "StorageResultsBucket/deliveries/*")}


def test_only_the_submit_function_may_assume_the_signer_role_by_default(default: Synthesized) -> None:
    assert trusted_roles(default) == {function_role(default, Services.SUBMIT)}


def test_the_reconciler_may_assume_it_too_when_it_resubmits(options: Synthesized) -> None:
    expected = {function_role(options, Services.SUBMIT), function_role(options, Services.RECONCILER)}
    assert trusted_roles(options) == expected
    name, _ = signer_role(options)
    assert ("sts:AssumeRole", short(name)) in permissions(options, Services.RECONCILER)
    variables = functions(options)[Services.RECONCILER]["Environment"]["Variables"]
    assert _target(variables[Env.DELIVERY_ROLE_ARN]) == short(name)


def test_the_submit_function_knows_the_role_and_the_bucket(default: Synthesized) -> None:
    variables = functions(default)[Services.SUBMIT]["Environment"]["Variables"]
    name, _ = signer_role(default)
    assert _target(variables[Env.DELIVERY_ROLE_ARN]) == short(name)
    assert _target(variables[Env.RESULTS_BUCKET]) == "StorageResultsBucket"


def test_the_submit_function_writes_kept_audio_only_when_asked(
    default: Synthesized, options: Synthesized
) -> None:
    audio = ("s3:PutObject", f"StorageResultsBucket/{ResultsBucket.AUDIO_PREFIX}*")
    assert audio not in permissions(default, Services.SUBMIT)
    assert audio in permissions(options, Services.SUBMIT)
    assert functions(options)[Services.SUBMIT]["Environment"]["Variables"][Env.KEEP_UPLOADED_AUDIO] == "true"


def test_the_finisher_is_sized_for_100_mb_results(default: Synthesized) -> None:
    finisher = functions(default)[Services.FINISHER]
    assert finisher["Handler"] == HANDLERS[Services.FINISHER]
    assert finisher["MemorySize"] == FINISHER_MEMORY_MB >= 3008
    assert finisher["Timeout"] == DeliveryTiming.FINISHER_TIMEOUT_SECONDS >= 60


def test_the_finisher_has_exactly_the_permissions_it_needs(default: Synthesized) -> None:
    assert permissions(default, Services.FINISHER) == {
        ("logs:CreateLogStream", "DeliveryFinisherLogs"),
        ("logs:PutLogEvents", "DeliveryFinisherLogs"),
        ("s3:GetObject", "StorageResultsBucket/deliveries/*"),
        ("s3:DeleteObject", "StorageResultsBucket/deliveries/*"),
        ("s3:ListBucket", "StorageResultsBucket"),
        ("s3:PutObject", "StorageResultsBucket/results/*"),
        ("s3:DeleteObject", "StorageResultsBucket/results/*"),
        ("dynamodb:GetItem", "StorageJobsTable"),
        ("dynamodb:UpdateItem", "StorageJobsTable"),
        ("sns:Publish", "NotificationsTopic"),
        ("kms:GenerateDataKey", "NotificationsKey"),
        ("kms:Decrypt", "NotificationsKey"),
        ("secretsmanager:GetSecretValue", "SecretsCallbackSigningSecret"),
    }


def test_the_finishers_list_permission_is_limited_to_deliveries(default: Synthesized) -> None:
    role = functions(default)[Services.FINISHER]["Role"]["Fn::GetAtt"][0]
    [condition] = [
        statement["Condition"]
        for policy in default.of_type("AWS::IAM::Policy").values()
        if {"Ref": role} in policy["Properties"]["Roles"]
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
        if statement["Action"] == "s3:ListBucket"
    ]
    assert condition == {"StringLike": {"s3:prefix": [f"{ResultsBucket.DELIVERIES_PREFIX}*"]}}


def test_the_bucket_sends_its_events_to_eventbridge(default: Synthesized) -> None:
    (bucket,) = default.of_type("AWS::S3::Bucket").values()
    notification = bucket["Properties"]["NotificationConfiguration"]
    assert notification == {"EventBridgeConfiguration": {"EventBridgeEnabled": True}}


def test_objects_created_under_deliveries_start_the_finisher(default: Synthesized) -> None:
    [rule] = [r for r in default.of_type("AWS::Events::Rule").values() if "EventPattern" in r["Properties"]]
    pattern = rule["Properties"]["EventPattern"]
    assert pattern["source"] == ["aws.s3"]
    assert pattern["detail-type"] == ["Object Created"]
    assert pattern["detail"]["object"] == {"key": [{"prefix": ResultsBucket.DELIVERIES_PREFIX}]}
    assert [_target(name) for name in pattern["detail"]["bucket"]["name"]] == ["StorageResultsBucket"]
    [target] = rule["Properties"]["Targets"]
    assert _target(target["Arn"]) == functions_logical_id(default, Services.FINISHER)


def functions_logical_id(synth: Synthesized, service: str) -> str:
    [name] = [
        n
        for n, r in synth.of_type("AWS::Lambda::Function").items()
        if r["Properties"]["Environment"]["Variables"].get(Env.POWERTOOLS_SERVICE_NAME) == service
    ]
    return _target({"Ref": name})


def test_a_failed_finish_is_retried_by_lambda(default: Synthesized) -> None:
    [config] = default.of_type("AWS::Lambda::EventInvokeConfig").values()
    assert config["Properties"]["MaximumRetryAttempts"] == 2
    assert _target(config["Properties"]["FunctionName"]) == functions_logical_id(default, Services.FINISHER)


def test_deliveries_expire_after_a_day_and_kept_audio_with_the_jobs(each: Synthesized) -> None:
    (bucket,) = each.of_type("AWS::S3::Bucket").values()
    rules = bucket["Properties"]["LifecycleConfiguration"]["Rules"]
    [deliveries] = [rule for rule in rules if rule.get("Prefix") == ResultsBucket.DELIVERIES_PREFIX]
    assert deliveries["ExpirationInDays"] == ResultsBucket.DELIVERIES_EXPIRE_DAYS == 1
    # audio/ has no rule of its own: the bucket-wide rule expires it with the job records.
    [everything] = [rule for rule in rules if "Prefix" not in rule and "Filter" not in rule]
    assert everything["ExpirationInDays"] == each.settings.retention_days


def test_the_options_stack_passes_cdk_nag(options: Synthesized) -> None:
    assert len(functions(options)) == len(HANDLERS)
