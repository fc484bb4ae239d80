"""cdk-nag (v3) wiring: the AwsSolutions rule pack and how findings are acknowledged.

cdk-nag v3 plugs into CDK's policy validation (`Validations.of(app).add_plugins`): a finding
that is not acknowledged makes `cdk synth` fail. An acknowledgment names one finding on one
construct (and its children) and must say why the finding does not apply: acknowledgments live
next to the resource they excuse, so the reason is read together with the code.
"""

from __future__ import annotations

import aws_cdk as cdk
from cdk_nag import AwsSolutionsChecks
from constructs import IConstruct

PACK = "AwsSolutions"


def enable_checks(app: cdk.App) -> None:
    """Run the AwsSolutions rules on everything in `app` at synth time."""
    cdk.Validations.of(app).add_plugins(AwsSolutionsChecks(app))


def acknowledge(scope: IConstruct, finding: str, reason: str) -> None:
    """Accept one finding (`AwsSolutions-IAM5[Resource::*]`) on `scope`, for `reason`."""
    if not finding.startswith(f"{PACK}-"):
        raise ValueError(f"expected an {PACK} finding id, got {finding!r}")
    cdk.Validations.of(scope).acknowledge(cdk.Acknowledgment(id=f"{PACK}::{finding}", reason=reason))


def arn_of(resource: IConstruct) -> str:
    """How cdk-nag spells the ARN of a resource of this stack in a finding id (`<LogicalId.Arn>`)."""
    default_child = resource.node.default_child
    if not isinstance(default_child, cdk.CfnElement):
        raise TypeError(f"{resource.node.path} has no CloudFormation resource")
    return f"<{cdk.Stack.of(resource).get_logical_id(default_child)}.Arn>"
