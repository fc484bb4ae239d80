"""The committed API description and schemas: current, valid, and derived from the code."""

from __future__ import annotations

import json
import sys
from typing import Any, get_args

import pytest
from jsonschema import Draft202012Validator
from openapi_spec_validator import validate
from openapi_spec_validator.validation import OpenAPIV31SpecValidator

import functions.core.notifier
import functions.manage.logic
import functions.status.logic
import functions.submit.logic
from functions.core import jobs, notifications
from functions.core.contract import Api, Notification
from functions.core.jobs import Delivery, JobStatus
from functions.submit.models import TranscriptionOptions, UrlSubmission
from functions.submit.requests import DELIVERY_QUERY_PARAMETER
from schemas import DIRECTORY, generate, models
from tests.schemas.validation import load


@pytest.fixture(scope="module")
def openapi() -> dict[str, Any]:
    return load(generate.OPENAPI_FILE)


def test_the_committed_files_are_current() -> None:
    for name, text in generate.documents().items():
        committed = (DIRECTORY / name).read_text(encoding="utf-8")
        assert committed == text, f"schemas/{name} is out of date: run python -m schemas.generate"
    assert generate.stale() == []


def test_the_check_option_finds_a_stale_file(tmp_path: Any) -> None:
    assert generate.main(["--directory", str(tmp_path)]) == 0
    assert generate.main(["--check", "--directory", str(tmp_path)]) == 0
    (tmp_path / generate.JOB_VIEW_FILE).write_text("{}\n", encoding="utf-8")
    assert generate.main(["--check", "--directory", str(tmp_path)]) == 1


def test_the_openapi_description_is_valid_openapi_3_1(openapi: dict[str, Any]) -> None:
    assert openapi["openapi"].startswith("3.1.")
    OpenAPIV31SpecValidator(openapi).validate()
    validate(openapi)  # detects the version itself


@pytest.mark.parametrize("name", [generate.JOB_VIEW_FILE, generate.NOTIFICATION_FILE])
def test_the_json_schemas_are_valid_2020_12(name: str) -> None:
    schema = load(name)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    Draft202012Validator.check_schema(schema)


def test_every_operation_is_described(openapi: dict[str, Any]) -> None:
    operations = {(path, method) for path, item in openapi["paths"].items() for method in item}
    assert operations == {
        (Api.TRANSCRIPTIONS, "post"),
        (Api.TRANSCRIPTIONS, "get"),
        (Api.TRANSCRIPTION, "get"),
        (Api.TRANSCRIPTION, "delete"),
        (Api.NOTIFY, "post"),
    }
    expected = {
        (Api.TRANSCRIPTIONS, "post"): {"202", "400", "409", "413", "415", "422", "429", "502", "503", "504"},
        (Api.TRANSCRIPTIONS, "get"): {"200", "400", "429", "503"},
        (Api.TRANSCRIPTION, "get"): {"200", "404", "429", "503"},
        (Api.TRANSCRIPTION, "delete"): {"200", "404", "409", "429", "503"},
        (Api.NOTIFY, "post"): {"202", "404", "409", "429", "503"},
    }
    for (path, method), statuses in expected.items():
        responses = openapi["paths"][path][method]["responses"]
        assert statuses <= set(responses), (path, method)
        for status, answer in responses.items():
            if not status.startswith("2"):
                schema = answer["content"]["application/json"]["schema"]
                assert schema == {"$ref": "#/components/schemas/ErrorResponse"}


@pytest.mark.infra  # imports the CDK app's API construct
def test_api_gateways_own_errors_are_documented(openapi: dict[str, Any]) -> None:
    from infra.api import GATEWAY_ERRORS  # noqa: PLC0415 - slow (jsii), only for this test

    codes = {
        code
        for item in openapi["paths"].values()
        for operation in item.values()
        for answer in operation["responses"].values()
        for code in answer.get("content", {}).get("application/json", {}).get("examples", {})
    }
    assert set(GATEWAY_ERRORS.values()) - {"invalid_request"} <= codes


def test_the_security_scheme_is_api_gateways_sigv4(openapi: dict[str, Any]) -> None:
    assert openapi["security"] == [{"sigv4": []}]
    assert openapi["components"]["securitySchemes"]["sigv4"] == {
        **openapi["components"]["securitySchemes"]["sigv4"],
        "type": "apiKey",
        "name": "Authorization",
        "in": "header",
        "x-amazon-apigateway-authtype": "awsSigv4",
    }
    server = openapi["servers"][0]
    assert server["url"] == "https://{restApiId}.execute-api.{region}.amazonaws.com/{stage}"
    assert set(server["variables"]) == {"restApiId", "region", "stage"}


def test_the_request_body_is_the_submit_functions_model(openapi: dict[str, Any]) -> None:
    """The JSON body's schema is pydantic's for `UrlSubmission`, with OpenAPI's reference paths."""
    own = UrlSubmission.model_json_schema(ref_template="#/components/schemas/{model}")
    components = openapi["components"]["schemas"]
    assert components["UrlSubmission"] == {key: value for key, value in own.items() if key != "$defs"}
    for name, definition in own["$defs"].items():
        assert components[name] == definition
    body = openapi["paths"][Api.TRANSCRIPTIONS]["post"]["requestBody"]["content"]
    assert body["application/json"]["schema"] == {"$ref": "#/components/schemas/UrlSubmission"}
    assert set(body) == {"application/json", "audio/*", "video/*", "application/octet-stream"}


def test_the_upload_forms_query_parameters_are_the_options(openapi: dict[str, Any]) -> None:
    parameters = {
        parameter["name"]: parameter
        for parameter in openapi["paths"][Api.TRANSCRIPTIONS]["post"]["parameters"]
        if parameter["in"] == "query"
    }
    assert set(parameters) == {*TranscriptionOptions.model_fields, DELIVERY_QUERY_PARAMETER}
    assert parameters["smart_format"]["schema"] == {"type": "boolean"}
    assert parameters[DELIVERY_QUERY_PARAMETER]["schema"]["enum"] == [d.value for d in Delivery]
    for parameter in parameters.values():
        assert "null" not in json.dumps(parameter["schema"])


def test_the_documented_values_are_the_codes() -> None:
    assert get_args(models.StatusName) == tuple(status.value for status in JobStatus)
    assert get_args(models.DeliveryName) == tuple(delivery.value for delivery in Delivery)
    assert dict(zip(get_args(models.FinalStatusName), get_args(models.EventType), strict=True)) == {
        status.value: event for status, event in notifications.EVENT_TYPES.items()
    }
    assert jobs.JOB_ID_PATTERN.pattern == models.JOB_ID_PATTERN
    assert Notification.FORMAT_VERSION == 1  # the schema's `version` const


def test_every_job_view_producer_is_wrapped_by_the_session_hook() -> None:
    """`from ... import public_view` copies (and later imports) get the validating wrapper too."""
    for module, name in [
        (jobs, "public_view"),
        (functions.status.logic, "public_view"),
        (functions.manage.logic, "public_view"),
        (functions.submit.logic, "public_view"),
        (notifications, "build_notification"),
        (functions.core.notifier, "build_notification"),
    ]:
        assert hasattr(getattr(module, name), "__schema_checked__"), f"{module.__name__}.{name}"
    assert hasattr(functions.status.logic.JobDescription.to_json, "__schema_checked__")
    assert "schemas.generate" in sys.modules
