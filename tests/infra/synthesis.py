"""The app synthesized for the tests, in three configurations (the fixtures are in conftest.py).

- `default`: no context at all, what `make deploy` builds on a first try.
- `full`: every option switched on (subscriptions with filter policies, alarm topic, tracing,
  reserved concurrency, an existing Deepgram secret by name, deletion protection).
- `snapstart`: the defaults with SnapStart on every function that may have it (`snapStart=all`):
  versions and aliases change what invokes what, so it has its own stack (tests/infra/test_snapstart.py).

The stacks live in one app with cdk-nag enabled, synthesized once into a temporary cloud
assembly without bundling (`aws:cdk:bundling-stacks: []`); tests read the templates from there.
The cdk.json feature flags are applied, so the templates are the ones `cdk synth` produces.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aws_cdk as cdk
from aws_cdk.assertions import Template

from infra.bundling import REPO_ROOT
from infra.config import Settings
from infra.nag import enable_checks
from infra.stack import TranscriptionStack

FULL_CONTEXT: Mapping[str, str] = {
    "stackName": "Full",
    "stageName": "prod",
    "deepgramApiKeySecret": "team/deepgram-api-key",
    "deepgramApiKeyId": "0b7c9e4c-old-key-id,5d2a7f1e-new-key-id",
    "dgTokenMode": "required",
    "deepgramBaseUrl": "https://deepgram-proxy.example.com",
    "callbackMethod": "put",
    "deepgramTimeoutSeconds": "12",
    "deepgramMaxRetries": "1",
    "retentionDays": "7",
    "resultUrlTtlSeconds": "3600",
    "logRetentionDays": "90",
    "logLevel": "debug",
    "tracing": "true",
    "apiGatewayCloudWatchRole": "false",
    "apiThrottlingRateLimit": "5",
    "apiThrottlingBurstLimit": "8",
    "callbackReservedConcurrency": "20",
    "rejectedCallbacksThreshold": "3",
    "deletionProtection": "true",
    "notifyEmail": "team@example.com",
    "notifyEmailFilterPolicy": '{"event_type": ["transcription.failed"]}',
    "notifyQueue": "true",
    "notifyQueueFilterPolicy": '{"status": ["completed", "failed"]}',
    "notifyHttpsUrl": "https://hooks.example.com/deepgram",
    "notifyHttpsFilterPolicy": '{"metadata.customer": ["acme"]}',
    "alarmEmail": "oncall@example.com",
    "alarmTopicArn": "arn:aws:sns:us-east-1:123456789012:ops-alarms",
}
"""Command-line style (string) values for every option; see infra/config.py."""

SNAPSTART_CONTEXT: Mapping[str, str] = {"stackName": "SnapStart", "snapStart": "all"}
"""The defaults, with SnapStart on every function that may have it."""


def cdk_json_context() -> dict[str, Any]:
    """The feature flags of cdk.json, which the CDK CLI would pass to the app."""
    context: dict[str, Any] = json.loads((REPO_ROOT / "cdk.json").read_text())["context"]
    return context


@dataclass(frozen=True)
class Synthesized:
    """One configuration of the stack, synthesized."""

    settings: Settings
    stack: cdk.Stack
    template: Template
    template_path: Path

    @property
    def resources(self) -> dict[str, dict[str, Any]]:
        resources: dict[str, dict[str, Any]] = self.template.to_json()["Resources"]
        return resources

    def of_type(self, resource_type: str) -> dict[str, dict[str, Any]]:
        return {name: r for name, r in self.resources.items() if r["Type"] == resource_type}


@dataclass(frozen=True)
class Assembly:
    """The app, its cloud assembly directory, and the outcome of its validation (cdk-nag)."""

    app: cdk.App
    outdir: Path
    validation_error: str | None
    stacks: dict[str, Synthesized]

    @property
    def validation_report(self) -> dict[str, Any]:
        report: dict[str, Any] = json.loads((self.outdir / "validation-report.json").read_text())
        return report


def synthesize_alone(settings: Settings, outdir: Path) -> dict[str, Any]:
    """One stack on its own, without cdk-nag or bundling: its template (for tests that change
    declarations and must not share the session's assembly)."""
    app = cdk.App(context={**cdk_json_context(), "aws:cdk:bundling-stacks": []}, outdir=str(outdir))
    stack = TranscriptionStack(app, settings.stack_name, settings=settings)
    return dict(Template.from_stack(stack).to_json())


def synthesize(outdir: Path) -> Assembly:
    """Every configuration in one app with cdk-nag, synthesized without bundling into `outdir`."""
    app = cdk.App(context={**cdk_json_context(), "aws:cdk:bundling-stacks": []}, outdir=str(outdir))
    configurations = {
        "default": Settings(),
        "full": Settings.from_context(FULL_CONTEXT.get),
        "snapstart": Settings.from_context(SNAPSTART_CONTEXT.get),
    }
    stacks = {
        name: TranscriptionStack(app, settings.stack_name, settings=settings)
        for name, settings in configurations.items()
    }
    enable_checks(app)
    validation_error = None
    try:
        app.synth()
    except RuntimeError as error:  # jsii raises the validation failure as a RuntimeError
        validation_error = str(error)
    synthesized = {}
    for name, stack in stacks.items():
        path = outdir / stack.template_file
        synthesized[name] = Synthesized(
            settings=configurations[name],
            stack=stack,
            template=Template.from_json(json.loads(path.read_text())),
            template_path=path,
        )
    return Assembly(app=app, outdir=outdir, validation_error=validation_error, stacks=synthesized)
