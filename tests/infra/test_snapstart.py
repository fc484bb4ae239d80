"""SnapStart (`snapStart`, docs/snapstart.md): with it, each chosen function is published as a version
with SnapStart, and everything that invokes it invokes its `live` alias; without it, no version and
no alias, and everything invokes the functions themselves as before."""

from __future__ import annotations

from typing import Any

import pytest

from functions.core.contract import Env, Services
from infra.config import SNAP_START_SERVICES
from infra.functions import LIVE_ALIAS
from tests.infra.synthesis import Synthesized

pytestmark = pytest.mark.infra

BACKGROUND = {Services.RECONCILER, Services.FINISHER}
"""Functions nobody waits on: never SnapStart."""


def _function_ids(synth: Synthesized) -> dict[str, str]:
    """Function logical ids by Powertools service name."""
    return {
        r["Properties"]["Environment"]["Variables"][Env.POWERTOOLS_SERVICE_NAME]: name
        for name, r in synth.of_type("AWS::Lambda::Function").items()
    }


def _aliases(synth: Synthesized) -> dict[str, str]:
    """Alias logical ids by the service name of their function."""
    service_of = {name: service for service, name in _function_ids(synth).items()}
    return {
        service_of[alias["Properties"]["FunctionName"]["Ref"]]: name
        for name, alias in synth.of_type("AWS::Lambda::Alias").items()
    }


def _invoked(synth: Synthesized, function_name: Any) -> str:
    """What a `FunctionName` / ARN reference points at: `alias:<service>` or `function:<service>`."""
    for service, alias in _aliases(synth).items():
        if function_name == {"Ref": alias}:
            return f"alias:{service}"
    for service, function in _function_ids(synth).items():
        if function_name in ({"Ref": function}, {"Fn::GetAtt": [function, "Arn"]}):
            return f"function:{service}"
    raise AssertionError(f"unexpected invocation target {function_name}")


def _integration_targets(synth: Synthesized) -> set[str]:
    targets = set()
    for method in synth.of_type("AWS::ApiGateway::Method").values():
        parts = method["Properties"]["Integration"]["Uri"]["Fn::Join"][1]
        targets.add(_invoked(synth, [part for part in parts if isinstance(part, dict)][-1]))
    return targets


def _api_gateway_permissions(synth: Synthesized) -> set[str]:
    return {
        _invoked(synth, p["Properties"]["FunctionName"])
        for p in synth.of_type("AWS::Lambda::Permission").values()
        if p["Properties"]["Principal"] == "apigateway.amazonaws.com"
    }


# --- on -------------------------------------------------------------------------------------


def test_the_chosen_functions_have_snapstart_on_published_versions(snapstart: Synthesized) -> None:
    functions = {
        service: snapstart.resources[name]["Properties"] for service, name in _function_ids(snapstart).items()
    }
    for service in SNAP_START_SERVICES:
        assert functions[service]["SnapStart"] == {"ApplyOn": "PublishedVersions"}, service
    for service in BACKGROUND:
        assert "SnapStart" not in functions[service], service


def test_each_has_a_live_alias_on_its_current_version_without_provisioned_concurrency(
    snapstart: Synthesized,
) -> None:
    aliases = _aliases(snapstart)
    assert set(aliases) == set(SNAP_START_SERVICES)
    for alias_id in aliases.values():
        alias = snapstart.resources[alias_id]["Properties"]
        assert alias["Name"] == LIVE_ALIAS
        (version_id, attribute) = alias["FunctionVersion"]["Fn::GetAtt"]
        assert attribute == "Version"
        version = snapstart.resources[version_id]
        assert version["Type"] == "AWS::Lambda::Version"
        assert version["Properties"]["FunctionName"] == alias["FunctionName"]
        assert "ProvisionedConcurrencyConfig" not in alias  # SnapStart does not support it
        assert "ProvisionedConcurrencyConfig" not in version["Properties"]


def test_a_replaced_version_is_deleted_so_its_snapshot_stops_being_billed(snapstart: Synthesized) -> None:
    versions = snapstart.of_type("AWS::Lambda::Version").values()
    assert len(versions) == len(SNAP_START_SERVICES)
    policies = {(v.get("DeletionPolicy"), v.get("UpdateReplacePolicy")) for v in versions}
    assert policies == {("Delete", "Delete")}


def test_the_api_integrations_invoke_the_aliases(snapstart: Synthesized) -> None:
    assert _integration_targets(snapstart) == {
        f"alias:{service}" for service in (Services.SUBMIT, Services.STATUS, Services.MANAGE)
    }


def test_api_gateway_may_invoke_the_aliases_only(snapstart: Synthesized) -> None:
    assert _api_gateway_permissions(snapstart) == {
        f"alias:{service}" for service in (Services.SUBMIT, Services.STATUS, Services.MANAGE)
    }


def test_the_function_url_is_on_the_callback_alias(snapstart: Synthesized) -> None:
    (url,) = snapstart.of_type("AWS::Lambda::Url").values()
    assert url["Properties"]["Qualifier"] == LIVE_ALIAS
    assert url["Properties"]["AuthType"] == "NONE"
    callback = _function_ids(snapstart)[Services.CALLBACK]
    assert url["Properties"]["TargetFunctionArn"] == {"Fn::GetAtt": [callback, "Arn"]}


def test_the_public_url_permissions_are_on_the_callback_alias(snapstart: Synthesized) -> None:
    public = [p["Properties"] for p in snapstart.of_type("AWS::Lambda::Permission").values()]
    public = [p for p in public if p["Principal"] == "*"]
    assert {p["Action"] for p in public} == {"lambda:InvokeFunctionUrl", "lambda:InvokeFunction"}
    assert {_invoked(snapstart, p["FunctionName"]) for p in public} == {f"alias:{Services.CALLBACK}"}


def test_deepgram_is_given_the_alias_url(snapstart: Synthesized) -> None:
    (url_id,) = snapstart.of_type("AWS::Lambda::Url")
    for service in (Services.SUBMIT, Services.RECONCILER):
        function = snapstart.resources[_function_ids(snapstart)[service]]
        variables = function["Properties"]["Environment"]["Variables"]
        assert variables[Env.CALLBACK_URL] == {"Fn::GetAtt": [url_id, "FunctionUrl"]}, service


def test_background_functions_are_still_invoked_directly(snapstart: Synthesized) -> None:
    events = {
        _invoked(snapstart, p["Properties"]["FunctionName"])
        for p in snapstart.of_type("AWS::Lambda::Permission").values()
        if p["Properties"]["Principal"] == "events.amazonaws.com"
    }
    assert events == {f"function:{service}" for service in BACKGROUND}


def test_callback_alarms_read_the_function_wide_metrics(snapstart: Synthesized) -> None:
    """Lambda's FunctionName dimension aggregates every version and alias: the alarms need no change."""
    callback = _function_ids(snapstart)[Services.CALLBACK]
    lambda_alarms = [
        a["Properties"]
        for a in snapstart.of_type("AWS::CloudWatch::Alarm").values()
        if a["Properties"].get("Namespace") == "AWS/Lambda"
    ]
    assert lambda_alarms
    for alarm in lambda_alarms:
        assert alarm["Dimensions"] == [{"Name": "FunctionName", "Value": {"Ref": callback}}]


# --- off ------------------------------------------------------------------------------------


def test_without_the_setting_there_is_no_version_alias_or_snapstart(each: Synthesized) -> None:
    assert each.settings.snap_start == ()
    assert each.of_type("AWS::Lambda::Version") == {}
    assert each.of_type("AWS::Lambda::Alias") == {}
    assert not any("SnapStart" in f["Properties"] for f in each.of_type("AWS::Lambda::Function").values())


def test_without_the_setting_everything_invokes_the_functions(each: Synthesized) -> None:
    api = {f"function:{service}" for service in (Services.SUBMIT, Services.STATUS, Services.MANAGE)}
    assert _integration_targets(each) == api
    assert _api_gateway_permissions(each) == api
    (url,) = each.of_type("AWS::Lambda::Url").values()
    assert "Qualifier" not in url["Properties"]
