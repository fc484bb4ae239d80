"""Parsing and validation of the CDK context (infra/config.py): fast, no synthesis."""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

import pytest

import functions.core.settings as function_settings
import infra.config
from functions.core.contract import DgTokenMode
from infra.config import (
    CONTEXT_KEYS,
    LOG_RETENTION_DAYS,
    ConfigError,
    Settings,
    Subscription,
    describe_context_keys,
)
from infra.retention import RETENTION_PERIODS
from tests.infra.synthesis import FULL_CONTEXT

pytestmark = pytest.mark.infra


def settings(**context: Any) -> Settings:
    return Settings.from_context(context.get)


def test_no_context_gives_the_documented_defaults() -> None:
    assert Settings.from_context({}.get) == Settings()
    assert Settings().stack_name == "DeepgramTranscription"
    assert Settings().dg_token_mode == DgTokenMode.OFF


def test_command_line_strings_and_cdk_json_values_mean_the_same() -> None:
    from_cli = settings(retentionDays="14", tracing="true", notifyQueue="TRUE", callbackMethod="put")
    from_json = settings(retentionDays=14, tracing=True, notifyQueue=True, callbackMethod="PUT")
    assert from_cli == from_json
    assert (from_cli.retention_days, from_cli.tracing, from_cli.callback_method) == (14, True, "PUT")
    assert from_cli.notify_queue == Subscription()


def test_dg_token_mode_defaults_to_if_present_once_an_api_key_id_is_known() -> None:
    assert settings(deepgramApiKeyId="key-id").dg_token_mode == DgTokenMode.IF_PRESENT
    assert settings(deepgramApiKeyId="key-id", dgTokenMode="off").dg_token_mode == DgTokenMode.OFF


def test_several_api_key_ids_are_accepted_for_a_key_rotation_and_passed_on_unchanged() -> None:
    assert settings(deepgramApiKeyId="old-id,new-id").deepgram_api_key_id == "old-id,new-id"
    assert settings(deepgramApiKeyId=" old-id,new-id ").deepgram_api_key_id == "old-id,new-id"


@pytest.mark.parametrize("value", ["old-id, new-id", "old-id,,new-id", "old-id,", ",new-id", "old id"])
def test_api_key_ids_must_be_non_empty_and_without_spaces(value: str) -> None:
    with pytest.raises(ConfigError, match="deepgramApiKeyId: give key identifiers separated by commas"):
        settings(deepgramApiKeyId=value)


def test_bounds_shared_with_the_functions_are_defined_once() -> None:
    shared = {"CALLBACK_METHODS", "DEEPGRAM_REQUEST_BUDGET_SECONDS", "MAX_RESULT_URL_TTL_SECONDS"}
    module = ast.parse(Path(infra.config.__file__).read_text())
    assigned = {
        target.id
        for statement in module.body
        if isinstance(statement, ast.Assign | ast.AnnAssign)
        for target in (statement.targets if isinstance(statement, ast.Assign) else [statement.target])
        if isinstance(target, ast.Name)
    }
    assert not shared & assigned, "import these from functions.core.settings"
    assert all(getattr(infra.config, name) == getattr(function_settings, name) for name in shared)
    assert function_settings.MAX_RESULT_URL_TTL_SECONDS == 3600
    assert settings(resultUrlTtlSeconds="3600").result_url_ttl_seconds == 3600
    with pytest.raises(ConfigError, match="resultUrlTtlSeconds: must be between 60 and 3600"):
        settings(resultUrlTtlSeconds="3601")


def test_filter_policies_are_parsed_from_json_or_taken_as_objects() -> None:
    parsed = settings(notifyEmail="a@example.com", notifyEmailFilterPolicy='{"status": ["failed"]}')
    given = settings(notifyEmail="a@example.com", notifyEmailFilterPolicy={"status": ["failed"]})
    assert parsed.notify_email == given.notify_email == Subscription("a@example.com", {"status": ["failed"]})


def test_deepgram_secret_by_name_or_complete_arn() -> None:
    arn = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:deepgram/key-AbC123"
    assert settings(deepgramApiKeySecret=arn).deepgram_secret_is_arn
    assert not settings(deepgramApiKeySecret="deepgram/key").deepgram_secret_is_arn


@pytest.mark.parametrize(
    ("context", "message"),
    [
        ({"dgTokenMode": "required"}, "needs deepgramApiKeyId"),
        ({"dgTokenMode": "sometimes"}, "dgTokenMode: must be one of"),
        ({"callbackMethod": "GET"}, "callbackMethod: must be one of POST, PUT"),
        ({"deepgramTimeoutSeconds": "20", "deepgramMaxRetries": "1"}, "beyond API Gateway's 29 s"),
        ({"deepgramMaxRetries": "2"}, "deepgramMaxRetries: must be between 0 and 1"),
        ({"retentionDays": "forever"}, "retentionDays: expected an integer"),
        ({"logRetentionDays": "42"}, "logRetentionDays: CloudWatch Logs accepts"),
        ({"tracing": "yes"}, "tracing: expected true or false"),
        (
            {"deepgramApiKeySecret": "arn:aws:secretsmanager:eu-west-1:123456789012:secret:key"},
            "complete ARN",
        ),
        ({"deepgramBaseUrl": "api.deepgram.com"}, "deepgramBaseUrl: must start with"),
        ({"notifyHttpsUrl": "http://hooks.example.com"}, "notifyHttpsUrl: must start with https://"),
        ({"notifyEmail": "not-an-address"}, "notifyEmail: not an email address"),
        ({"notifyEmail": "a@example.com", "notifyEmailFilterPolicy": "{"}, "not valid JSON"),
        (
            {"notifyEmail": "a@example.com", "notifyEmailFilterPolicy": '{"status": "failed"}'},
            "non-empty list",
        ),
        ({"notifyQueueFilterPolicy": '{"status": ["failed"]}'}, "subscription is not enabled"),
        ({"alarmTopicArn": "ops-alarms"}, "alarmTopicArn"),
        (
            {"powertoolsLayerArn": "arn:aws:lambda:us-east-1:017000801446:layer:Powertools"},
            "powertoolsLayerArn",
        ),
        ({"stackName": "my_stack"}, "stackName"),
    ],
)
def test_invalid_values_are_rejected_with_the_key_named(context: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        Settings.from_context(context.get)


def test_all_problems_are_reported_at_once() -> None:
    with pytest.raises(ConfigError) as raised:
        settings(callbackMethod="GET", retentionDays="0", tracing="maybe")
    assert str(raised.value).count("\n  - ") == 3


def test_every_key_read_is_documented_and_every_documented_key_is_read() -> None:
    read: set[str] = set()

    def recording(key: str) -> Any:
        read.add(key)
        return FULL_CONTEXT.get(key)

    Settings.from_context(recording)
    assert read == set(CONTEXT_KEYS)
    assert set(FULL_CONTEXT) <= read
    assert all(f"`{key}`" in describe_context_keys() for key in CONTEXT_KEYS)


def test_log_retention_values_match_cloudwatch_logs() -> None:
    assert set(LOG_RETENTION_DAYS) == set(RETENTION_PERIODS)
