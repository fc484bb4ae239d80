"""The reconciler construct: its schedule, its permissions (exactly), its environment, its alarms.

Built on a small stack of the pipeline's own storage, secrets and notifications constructs (fast,
and independent of the API's construct), with cdk-nag on, in the default configuration and with
resubmission and Deepgram's request log switched on. `test_the_stack_composes_the_reconciler`
checks the real stack wires it in.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk.assertions import Template

from functions.core.contract import HANDLERS, Env, JobsTable, Metrics, Services
from functions.core.settings import ReconcilerSettings
from infra.config import ConfigError, Settings
from infra.nag import enable_checks
from infra.notifications import Notifications
from infra.reconciler import MEMORY_MB, TIMEOUT, Reconciler
from infra.secrets import Secrets
from infra.storage import Storage
from tests.infra.synthesis import Synthesized, cdk_json_context

CALLBACK_URL = "https://callback.example.com/"
LAYER_ARN = "arn:aws:lambda:us-east-1:017000801446:layer:AWSLambdaPowertoolsPythonV3-python314-arm64:1"
RESUBMIT = {
    "recoverLostCallbacks": "resubmit",
    "deepgramProjectId": "project-1",
    "reconcilePeriodMinutes": "2",
}


class ReconcilerStack(cdk.Stack):
    def __init__(self, scope: cdk.App, construct_id: str, *, settings: Settings, with_signer: bool) -> None:
        super().__init__(scope, construct_id)
        layer = lambda_.LayerVersion.from_layer_version_arn(self, "Layer", LAYER_ARN)
        storage = Storage(self, "Storage", settings=settings)
        secrets = Secrets(self, "Secrets", settings=settings)
        notifications = Notifications(self, "Notifications", settings=settings)
        self.reconciler = Reconciler(
            self,
            "Reconciler",
            settings=settings,
            layer=layer,
            jobs_table=storage.jobs_table,
            results_bucket=storage.results_bucket,
            topic=notifications.topic,
            topic_key=notifications.key,
            secrets=secrets,
            callback_url=CALLBACK_URL,
        )
        if with_signer:
            self.signer = iam.Role(
                self, "DeliverySigner", assumed_by=iam.AccountRootPrincipal(), description="test signer"
            )
            self.reconciler.allow_resubmission(delivery_role=self.signer)


@dataclass(frozen=True)
class Built:
    stack: ReconcilerStack
    template: dict[str, Any]
    validation_error: str | None

    def logical_id(self, construct: Any) -> str:
        return self.stack.get_logical_id(construct.node.default_child)

    def of_type(self, kind: str) -> dict[str, dict[str, Any]]:
        return {name: r for name, r in self.template["Resources"].items() if r["Type"] == kind}

    @property
    def function(self) -> dict[str, Any]:
        found: dict[str, Any] = self.template["Resources"][
            self.logical_id(self.stack.reconciler.handler.function)
        ]
        return found

    @property
    def statements(self) -> list[dict[str, Any]]:
        role = self.logical_id(self.stack.reconciler.handler.role)
        policies = [
            policy
            for policy in self.of_type("AWS::IAM::Policy").values()
            if {"Ref": role} in policy["Properties"]["Roles"]
        ]
        return [s for policy in policies for s in policy["Properties"]["PolicyDocument"]["Statement"]]

    def grants(self) -> dict[str, Any]:
        """Each statement's actions (sorted, joined) -> its resources, with CloudFormation references."""
        granted: dict[str, Any] = {}
        for statement in self.statements:
            assert statement["Effect"] == "Allow"
            actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
            resources = (
                statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
            )
            granted[",".join(sorted(actions))] = sorted(resources, key=json.dumps)
        return granted


def build(context: Mapping[str, str], *, with_signer: bool = False) -> Built:
    app = cdk.App(context={**cdk_json_context(), "aws:cdk:bundling-stacks": []})
    stack = ReconcilerStack(
        app, "Reconciler", settings=Settings.from_context(context.get), with_signer=with_signer
    )
    enable_checks(app)
    error = None
    try:
        app.synth()
    except Exception as failure:
        error = str(failure)
    return Built(stack, dict(Template.from_stack(stack).to_json()), error)


@pytest.fixture(scope="module")
def default_build() -> Built:
    return build({})


@pytest.fixture(scope="module")
def resubmit_build() -> Built:
    return build(RESUBMIT, with_signer=True)


def ref(built: Built, construct: Any) -> dict[str, Any]:
    return {"Ref": built.logical_id(construct)}


def arn(built: Built, construct: Any, attribute: str = "Arn") -> dict[str, Any]:
    return {"Fn::GetAtt": [built.logical_id(construct), attribute]}


def table_of(built: Built) -> Any:
    return built.stack.node.find_child("Storage").node.find_child("JobsTable")


def topic_of(built: Built) -> Any:
    return built.stack.node.find_child("Notifications").node.find_child("Topic")


def key_of(built: Built) -> Any:
    return built.stack.node.find_child("Notifications").node.find_child("Key")


def secrets_of(built: Built) -> Secrets:
    found = built.stack.node.find_child("Secrets")
    assert isinstance(found, Secrets)
    return found


# --- the function --------------------------------------------------------------------------------


def test_the_function_runs_the_reconciler_handler_with_its_size(default_build: Built) -> None:
    properties = default_build.function["Properties"]

    assert (
        properties["Handler"]
        == HANDLERS[Services.RECONCILER]
        == "functions.reconciler.handler.lambda_handler"
    )
    assert properties["MemorySize"] == MEMORY_MB == 512
    assert properties["Timeout"] == TIMEOUT.to_seconds() == 300
    assert properties["Architectures"] == ["arm64"]


def test_the_environment_is_exactly_what_the_spec_declares(default_build: Built) -> None:
    environment = default_build.function["Properties"]["Environment"]["Variables"]
    declared = {setting.env for setting in ReconcilerSettings.declarations().values()}
    powertools = {
        Env.POWERTOOLS_SERVICE_NAME,
        Env.POWERTOOLS_METRICS_NAMESPACE,
        Env.TRACE_DISABLED,
        Env.TRACER_CAPTURE_RESPONSE,
    }

    assert set(environment) <= declared | powertools
    assert environment[Env.POWERTOOLS_SERVICE_NAME] == Services.RECONCILER
    assert environment[Env.POWERTOOLS_METRICS_NAMESPACE] == Metrics.NAMESPACE
    built = default_build
    assert environment[Env.JOBS_TABLE] == ref(built, table_of(built))
    assert environment[Env.TOPIC_ARN] == ref(built, topic_of(built))
    assert environment[Env.CALLBACK_URL] == CALLBACK_URL
    assert environment[Env.CALLBACK_SIGNING_SECRET] == ref(built, secrets_of(built).callback_signing)
    assert environment[Env.RECOVER_LOST_CALLBACKS] == "fail"
    assert environment[Env.CALLBACK_DEADLINE_MINUTES] == "30"
    assert Env.DELIVERY_ROLE_ARN not in environment
    # Every setting the function requires is there: it parses.
    values = {name: value if isinstance(value, str) else "x" for name, value in environment.items()}
    assert ReconcilerSettings.from_environ(values).recover_lost_callbacks == "fail"


def test_the_deployers_choices_reach_the_environment(resubmit_build: Built) -> None:
    environment = resubmit_build.function["Properties"]["Environment"]["Variables"]

    assert environment[Env.RECOVER_LOST_CALLBACKS] == "resubmit"
    assert environment[Env.DEEPGRAM_PROJECT_ID] == "project-1"
    assert environment[Env.DELIVERY_ROLE_ARN] == arn(resubmit_build, resubmit_build.stack.signer)


# --- the schedule -----------------------------------------------------------------------------------


@pytest.mark.parametrize(("fixture", "minutes"), [("default_build", 5), ("resubmit_build", 2)])
def test_a_rule_runs_it_every_period(request: pytest.FixtureRequest, fixture: str, minutes: int) -> None:
    built: Built = request.getfixturevalue(fixture)
    rules = built.of_type("AWS::Events::Rule")

    assert len(rules) == 1
    (rule,) = rules.values()
    expected = f"rate({minutes} minutes)"
    assert rule["Properties"]["ScheduleExpression"] == expected
    assert rule["Properties"]["State"] == "ENABLED"
    (target,) = rule["Properties"]["Targets"]
    assert target["Arn"] == arn(built, built.stack.reconciler.handler.function)
    assert target["RetryPolicy"] == {"MaximumRetryAttempts": 0, "MaximumEventAgeInSeconds": minutes * 60}
    permissions = built.of_type("AWS::Lambda::Permission")
    (permission,) = permissions.values()
    assert permission["Properties"]["Principal"] == "events.amazonaws.com"
    assert permission["Properties"]["SourceArn"] == arn(built, built.stack.reconciler.schedule)


@pytest.mark.parametrize("period", ["0", "61", "five"])
def test_the_period_is_bounded(period: str) -> None:
    with pytest.raises(ConfigError, match="reconcilePeriodMinutes"):
        Settings.from_context({"reconcilePeriodMinutes": period}.get)


# --- permissions, exactly ---------------------------------------------------------------------------


def _common_grants(built: Built) -> dict[str, Any]:
    reconciler = built.stack.reconciler
    table = table_of(built)
    return {
        "logs:CreateLogStream,logs:PutLogEvents": [arn(built, reconciler.handler.log_group)],
        "dynamodb:Query": [{"Fn::Join": ["", [arn(built, table), f"/index/{JobsTable.ATTENTION_INDEX}"]]}],
        "dynamodb:GetItem,dynamodb:UpdateItem": [arn(built, table)],
        "sns:Publish": [ref(built, topic_of(built))],
        "kms:Decrypt,kms:GenerateDataKey": [arn(built, key_of(built))],
    }


def test_by_default_it_can_touch_the_jobs_and_publish_and_nothing_else(default_build: Built) -> None:
    assert default_build.grants() == _common_grants(default_build)


def test_resubmitting_adds_the_secrets_the_kept_audio_and_the_signer(resubmit_build: Built) -> None:
    built = resubmit_build
    secrets = secrets_of(built)
    bucket = built.stack.node.find_child("Storage").node.find_child("ResultsBucket")

    assert built.grants() == {
        **_common_grants(built),
        "secretsmanager:GetSecretValue": sorted(
            [ref(built, secrets.deepgram_api_key), ref(built, secrets.callback_signing)], key=json.dumps
        ),
        "s3:GetObject": [{"Fn::Join": ["", [arn(built, bucket), "/audio/*"]]}],
        "sts:AssumeRole": [arn(built, built.stack.signer)],
    }
    trust = built.template["Resources"][built.logical_id(built.stack.signer)]["Properties"][
        "AssumeRolePolicyDocument"
    ]
    reconciler_role = arn(built, built.stack.reconciler.handler.role)
    trusted = [s["Principal"].get("AWS") for s in trust["Statement"] if s["Action"] == "sts:AssumeRole"]
    assert any(reconciler_role == p or reconciler_role in p for p in trusted)


def test_reading_deepgrams_request_log_alone_needs_only_the_api_key() -> None:
    built = build({"deepgramProjectId": "project-1"})
    secrets = secrets_of(built)

    assert built.grants() == {
        **_common_grants(built),
        "secretsmanager:GetSecretValue": [ref(built, secrets.deepgram_api_key)],
    }


def test_the_function_has_no_url_and_no_other_invoker(default_build: Built) -> None:
    assert default_build.of_type("AWS::Lambda::Url") == {}
    assert len(default_build.of_type("AWS::Lambda::Permission")) == 1


@pytest.mark.parametrize("fixture", ["default_build", "resubmit_build"])
def test_cdk_nag_finds_nothing_unacknowledged(request: pytest.FixtureRequest, fixture: str) -> None:
    built: Built = request.getfixturevalue(fixture)

    assert built.validation_error is None


# --- in the stack -----------------------------------------------------------------------------------


def test_the_stack_composes_the_reconciler_and_alarms_on_its_metrics(default: Synthesized) -> None:
    functions = default.of_type("AWS::Lambda::Function")
    handlers = [f["Properties"]["Handler"] for f in functions.values()]
    assert HANDLERS[Services.RECONCILER] in handlers
    rules = default.of_type("AWS::Events::Rule")
    schedules = [
        r["Properties"]["ScheduleExpression"]
        for r in rules.values()
        if "ScheduleExpression" in r["Properties"]
    ]
    assert schedules == ["rate(5 minutes)"]
    alarms = default.of_type("AWS::CloudWatch::Alarm").values()
    watched = [
        (
            alarm["Properties"].get("MetricName"),
            alarm["Properties"].get("Namespace"),
            alarm["Properties"].get("Dimensions"),
        )
        for alarm in alarms
    ]
    reconciler = {"Name": "service", "Value": Services.RECONCILER}
    assert (
        Metrics.JOBS_RECONCILED,
        Metrics.NAMESPACE,
        [{"Name": "reason", "Value": "callback_not_received"}, reconciler],
    ) in watched or (
        Metrics.JOBS_RECONCILED,
        Metrics.NAMESPACE,
        [reconciler, {"Name": "reason", "Value": "callback_not_received"}],
    ) in watched
    assert (Metrics.OLDEST_AWAITING_JOB_AGE, Metrics.NAMESPACE, [reconciler]) in watched
