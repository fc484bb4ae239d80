"""The one way this app builds a Lambda function, so that every function gets the same guard rails.

Each `PipelineFunction` has:
- the newest Python runtime Lambda offers (`RUNTIME`), on Graviton (`ARCHITECTURE`: cheaper per
  GB-second than x86, and the wheels we ship are built for it by `infra.bundling`);
- its own IAM role, starting with nothing but writing to its own log group; every other
  permission is added by the construct that owns the function, action by action (`allow`);
- an explicit log group with a retention period, and JSON logs (Lambda's `loggingFormat`), which
  Powertools' structured logger writes anyway;
- the Powertools public layer, and the Powertools service name and metric namespace from
  `functions.core.contract`;
- the environment its settings spec declares (`functions.core.settings.FUNCTION_SETTINGS`): the
  construct that owns the function gives the resources' names and ARNs, the deployer's values come
  from `Settings.function_values`, everything else keeps its declared default;
- the deployer's `logLevel` as Lambda's application log level too: with JSON logs, Lambda's level
  (`AWS_LAMBDA_LOG_LEVEL`) takes precedence over `POWERTOOLS_LOG_LEVEL` in Powertools 3;
- with `snapStart` naming it, Lambda SnapStart on published versions, a version published by every
  deployment that changes the function (`current_version`, the previous one deleted) and the
  `live` alias (`LIVE_ALIAS`) pointing at it. Whatever invokes the function must then invoke
  `target` (the alias), never the function itself: SnapStart applies to published versions only,
  and an invocation of $LATEST would cold-start the ordinary way. See docs/snapstart.md.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sns as sns
from aws_cdk import aws_ssm as ssm
from constructs import Construct

from functions.core.contract import HANDLERS, Env, Metrics
from functions.core.settings import FUNCTION_SETTINGS, Setting
from infra.bundling import REPO_ROOT, function_code
from infra.config import Settings
from infra.nag import acknowledge
from infra.retention import log_retention, removal_policy

RUNTIME = lambda_.Runtime.PYTHON_3_14
"""The newest Python runtime in aws-cdk-lib 2.275 (cdk-nag's AwsSolutions-L1 insists on it)."""

ARCHITECTURE = lambda_.Architecture.ARM_64

APPLICATION_LOG_LEVELS = {
    "DEBUG": lambda_.ApplicationLogLevel.DEBUG,
    "INFO": lambda_.ApplicationLogLevel.INFO,
    "WARNING": lambda_.ApplicationLogLevel.WARN,
    "ERROR": lambda_.ApplicationLogLevel.ERROR,
}
"""Lambda's application log level for each `logLevel` (Python's names; Lambda says WARN)."""

LIVE_ALIAS = "live"
"""The alias through which a SnapStart function is invoked (API integrations, Function URL)."""

SNAP_START_REQUIRES_PUBLISHING = "@aws-cdk/aws-lambda:snapStartRequirePublish"
"""CDK's warning that SnapStart applies to published versions only: each SnapStart function here
publishes one (`current_version`) and is invoked through the alias that points at it."""

POWERTOOLS_REQUIREMENT = re.compile(
    r"^aws-lambda-powertools(?:\[[^\]]*\])?==(?P<version>[0-9][0-9a-z.]*)\s*$", re.M
)


def powertools_version(requirements: str) -> str:
    """The Powertools version pinned in a requirements file (the one the tests run against)."""
    match = POWERTOOLS_REQUIREMENT.search(requirements)
    if match is None:
        raise ValueError("requirements.txt must pin aws-lambda-powertools==X.Y.Z (the layer matches it)")
    return match["version"]


def powertools_layer(scope: Construct, settings: Settings) -> lambda_.ILayerVersion:
    """The Powertools for AWS Lambda (Python) public layer, for the runtime, architecture and version.

    Public layer rather than bundling Powertools: the callback function then ships only our own
    code (tens of KB, fast to deploy and to cold-start), and AWS builds the layer for each
    runtime and architecture. The layer's version number differs per Powertools release, so
    unless `powertoolsLayerArn` pins one, the ARN is read at deploy time from the public SSM
    parameter Powertools publishes in every region for each release:
    `/aws/service/powertools/python/<arch>/<runtime>/<version>`.
    """
    if settings.powertools_layer_arn:
        arn = settings.powertools_layer_arn
    else:
        version = powertools_version((REPO_ROOT / "requirements.txt").read_text())
        parameter = f"/aws/service/powertools/python/{ARCHITECTURE.name}/{RUNTIME.name}/{version}"
        arn = ssm.StringParameter.value_for_string_parameter(scope, parameter)
    return lambda_.LayerVersion.from_layer_version_arn(scope, "PowertoolsLayer", arn)


class PipelineFunction(Construct):
    """One function of the pipeline: code, role, log group, layer and environment.

    `resources` gives the settings only the stack knows (names and ARNs of its resources) by their
    declaration in `functions.core.settings`; a required one missing fails the synth.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        service: str,
        description: str,
        memory_size: int,
        timeout: cdk.Duration,
        resources: Mapping[Setting, str],
        settings: Settings,
        layer: lambda_.ILayerVersion,
        reserved_concurrency: int | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        handler = HANDLERS[service]
        environment = FUNCTION_SETTINGS[service].to_environ({**settings.function_values, **resources})
        package = handler.split(".")[1]  # functions.<package>.handler.lambda_handler
        self.snap_start = settings.snap_start_for(service)

        self.log_group = logs.LogGroup(
            self,
            "Logs",
            retention=log_retention(settings.log_retention_days),
            removal_policy=removal_policy(settings),
        )
        self.role = iam.Role(
            self,
            "Role",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description=f"Runs the {service} function; only the permissions that function needs.",
        )
        self.allow(["logs:CreateLogStream", "logs:PutLogEvents"], [self.log_group.log_group_arn])

        self.function = lambda_.Function(
            self,
            "Function",
            description=description,
            runtime=RUNTIME,
            architecture=ARCHITECTURE,
            handler=handler,
            code=function_code(package, runtime=RUNTIME, architecture=ARCHITECTURE),
            layers=[layer],
            role=self.role,
            memory_size=memory_size,
            timeout=timeout,
            log_group=self.log_group,
            logging_format=lambda_.LoggingFormat.JSON,
            application_log_level_v2=APPLICATION_LOG_LEVELS[settings.log_level],
            system_log_level_v2=(
                lambda_.SystemLogLevel.DEBUG if settings.log_level == "DEBUG" else lambda_.SystemLogLevel.INFO
            ),
            tracing=lambda_.Tracing.ACTIVE if settings.tracing else None,
            reserved_concurrent_executions=reserved_concurrency or None,
            snap_start=lambda_.SnapStartConf.ON_PUBLISHED_VERSIONS if self.snap_start else None,
            # Each deployment publishes a new version and caches its snapshot, which is billed for
            # as long as the version exists: the version it replaces is deleted.
            current_version_options=(
                lambda_.VersionOptions(removal_policy=cdk.RemovalPolicy.DESTROY) if self.snap_start else None
            ),
            environment={
                Env.POWERTOOLS_SERVICE_NAME: service,
                Env.POWERTOOLS_METRICS_NAMESPACE: Metrics.NAMESPACE,
                # Powertools Tracer: on with `tracing`; never records responses (transcripts, jobs).
                Env.TRACE_DISABLED: "false" if settings.tracing else "true",
                Env.TRACER_CAPTURE_RESPONSE: "false",
                **environment,
            },
        )
        self.alias: lambda_.Alias | None = None
        if self.snap_start:
            self.alias = lambda_.Alias(
                self,
                "Live",
                alias_name=LIVE_ALIAS,
                version=self.function.current_version,
                description=f"The {service} function's current version (SnapStart): what invokes it.",
            )
            cdk.Annotations.of(self.function).acknowledge_warning(
                SNAP_START_REQUIRES_PUBLISHING,
                "Published by current_version on every change, and invoked only through the live alias.",
            )
        if settings.tracing:
            acknowledge(
                self.role,
                "AwsSolutions-IAM5[Resource::*]",
                "X-Ray's PutTraceSegments and PutTelemetryRecords have no resource-level permissions; "
                "CDK adds them with Resource * only because tracing is enabled.",
            )

    @property
    def target(self) -> lambda_.IFunction:
        """What every invoker of this function must invoke: the `live` alias with SnapStart (whose
        published version has the snapshot), otherwise the function itself."""
        return self.alias if self.alias is not None else self.function

    def allow(self, actions: Iterable[str], resources: Iterable[str]) -> None:
        """Grant exactly `actions` on exactly `resources` to this function's role."""
        self.role.add_to_principal_policy(
            iam.PolicyStatement(actions=list(actions), resources=list(resources))
        )

    def allow_publishing(self, topic: sns.ITopic, topic_key: kms.IKey) -> None:
        """Publish to the notifications topic, which is KMS-encrypted: SNS encrypts each message
        with a data key made for the publisher, so the publisher needs the key too."""
        self.allow(["sns:Publish"], [topic.topic_arn])
        self.allow(["kms:GenerateDataKey", "kms:Decrypt"], [topic_key.key_arn])
