"""The REST API's routes for listing, deleting and redelivering (`GET /transcriptions`,
`DELETE /transcriptions/{id}`, `POST /transcriptions/{id}/notify`), and the least-privilege roles
of the functions behind them: the status function lists from the two listing indexes only, the
manage function deletes only results and kept audio and is the only API function that publishes."""

from __future__ import annotations

from typing import Any

import pytest

from functions.core.contract import HANDLERS, Api, Env, JobsTable, Services
from infra.api import LIST_QUERY_PARAMETERS
from tests.infra.synthesis import Synthesized
from tests.infra.test_stack import functions, permissions

pytestmark = pytest.mark.infra


def routes(synth: Synthesized) -> dict[tuple[str, str], dict[str, Any]]:
    """Every API method's properties by (HTTP method, resource path)."""
    resources = synth.of_type("AWS::ApiGateway::Resource")

    def path_of(reference: Any) -> str:
        if not isinstance(reference, dict) or "Ref" not in reference:
            return ""  # the API's root resource (Fn::GetAtt RootResourceId)
        resource = resources[reference["Ref"]]["Properties"]
        return f"{path_of(resource['ParentId'])}/{resource['PathPart']}"

    return {
        (m["Properties"]["HttpMethod"], path_of(m["Properties"]["ResourceId"])): m["Properties"]
        for m in synth.of_type("AWS::ApiGateway::Method").values()
    }


def integration_target(synth: Synthesized, method: dict[str, Any]) -> str:
    """The Powertools service name of the function a method's proxy integration invokes."""
    uri = method["Integration"]["Uri"]["Fn::Join"][1]
    (function,) = [part["Fn::GetAtt"][0] for part in uri if isinstance(part, dict) and "Fn::GetAtt" in part]
    variables = synth.resources[function]["Properties"]["Environment"]["Variables"]
    return str(variables[Env.POWERTOOLS_SERVICE_NAME])


def validator(synth: Synthesized, method: dict[str, Any]) -> dict[str, Any]:
    validators = synth.of_type("AWS::ApiGateway::RequestValidator")
    return dict(validators[method["RequestValidatorId"]["Ref"]]["Properties"])


def test_every_route_goes_to_its_function(each: Synthesized) -> None:
    targets = {route: integration_target(each, method) for route, method in routes(each).items()}

    assert targets == {
        ("POST", Api.TRANSCRIPTIONS): Services.SUBMIT,
        ("GET", Api.TRANSCRIPTIONS): Services.STATUS,
        ("GET", Api.TRANSCRIPTION): Services.STATUS,
        ("DELETE", Api.TRANSCRIPTION): Services.MANAGE,
        ("POST", Api.NOTIFY): Services.MANAGE,
    }


@pytest.mark.parametrize(
    "route", [("GET", Api.TRANSCRIPTIONS), ("DELETE", Api.TRANSCRIPTION), ("POST", Api.NOTIFY)]
)
def test_the_new_routes_require_iam_and_proxy_to_lambda(each: Synthesized, route: tuple[str, str]) -> None:
    method = routes(each)[route]

    assert method["AuthorizationType"] == "AWS_IAM"
    assert method["Integration"]["Type"] == "AWS_PROXY"
    assert method["Integration"]["IntegrationHttpMethod"] == "POST"


def test_listing_declares_its_optional_query_parameters_and_validates_them(each: Synthesized) -> None:
    method = routes(each)[("GET", Api.TRANSCRIPTIONS)]

    assert set(LIST_QUERY_PARAMETERS) == {"status", "created_after", "limit", "cursor"}
    assert method["RequestParameters"] == {
        f"method.request.querystring.{name}": False for name in LIST_QUERY_PARAMETERS
    }
    assert validator(each, method)["ValidateRequestParameters"] is True


@pytest.mark.parametrize("route", [("DELETE", Api.TRANSCRIPTION), ("POST", Api.NOTIFY)])
def test_delete_and_notify_require_the_job_id(each: Synthesized, route: tuple[str, str]) -> None:
    method = routes(each)[route]

    assert method["RequestParameters"] == {"method.request.path.id": True}
    assert validator(each, method)["ValidateRequestParameters"] is True
    assert "RequestModels" not in method  # no body


def test_api_gateway_may_invoke_the_manage_function_for_its_two_routes_only(each: Synthesized) -> None:
    manage = next(
        name
        for name, r in each.of_type("AWS::Lambda::Function").items()
        if r["Properties"]["Environment"]["Variables"][Env.POWERTOOLS_SERVICE_NAME] == Services.MANAGE
    )
    permissions_ = [
        p["Properties"]
        for p in each.of_type("AWS::Lambda::Permission").values()
        if p["Properties"]["FunctionName"] == {"Fn::GetAtt": [manage, "Arn"]}
    ]

    assert {p["Principal"] for p in permissions_} == {"apigateway.amazonaws.com"}
    source_paths = {"".join(str(part) for part in p["SourceArn"]["Fn::Join"][1][-1:]) for p in permissions_}
    assert source_paths == {"/DELETE/transcriptions/*", "/POST/transcriptions/*/notify"}


def test_the_status_function_lists_from_the_listing_indexes_only(each: Synthesized) -> None:
    status = permissions(each, Services.STATUS)

    queried = {resource for action, resource in status if action == "dynamodb:Query"}
    assert queried == {
        f"StorageJobsTable/index/{JobsTable.STATUS_INDEX}",
        f"StorageJobsTable/index/{JobsTable.MONTH_INDEX}",
    }
    assert not any(action == "dynamodb:Scan" for action, _ in status)
    assert not any(
        action.startswith(("sns:", "kms:", "secretsmanager:"))
        or action in {"dynamodb:UpdateItem", "dynamodb:PutItem", "dynamodb:DeleteItem", "s3:DeleteObject"}
        for action, _ in status
    )


def test_the_manage_function_has_exactly_the_permissions_it_needs(each: Synthesized) -> None:
    assert permissions(each, Services.MANAGE) == {
        ("logs:CreateLogStream", "ApiManageLogs"),
        ("logs:PutLogEvents", "ApiManageLogs"),
        ("dynamodb:GetItem", "StorageJobsTable"),
        ("dynamodb:UpdateItem", "StorageJobsTable"),
        ("s3:DeleteObject", "StorageResultsBucket/results/*"),
        ("s3:DeleteObject", "StorageResultsBucket/audio/*"),
        ("sns:Publish", "NotificationsTopic"),
        ("kms:GenerateDataKey", "NotificationsKey"),
        ("kms:Decrypt", "NotificationsKey"),
    } | (
        {("xray:PutTraceSegments", "*"), ("xray:PutTelemetryRecords", "*")}
        if each.settings.tracing
        else set()
    )


def test_the_manage_function_is_configured_like_the_others(each: Synthesized) -> None:
    manage = functions(each)[Services.MANAGE]

    assert manage["Handler"] == HANDLERS[Services.MANAGE]
    assert manage["MemorySize"] == 256
    assert manage["Timeout"] == 10
    assert manage["Architectures"] == ["arm64"]
    variables = manage["Environment"]["Variables"]
    assert {Env.JOBS_TABLE, Env.RESULTS_BUCKET, Env.TOPIC_ARN} <= set(variables)
    assert Env.DEEPGRAM_API_KEY_SECRET not in variables
    assert Env.CALLBACK_SIGNING_SECRET not in variables
    log_group = manage["LoggingConfig"]["LogGroup"]["Ref"]
    assert each.resources[log_group]["Type"] == "AWS::Logs::LogGroup"


def test_the_new_function_adds_no_output(each: Synthesized) -> None:
    outputs = each.template.to_json()["Outputs"]

    assert {"ApiUrl", "TranscriptionsUrl"} <= set(outputs)
    assert not any("manage" in name.lower() for name in outputs)
