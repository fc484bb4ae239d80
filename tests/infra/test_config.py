"""Parsing and validation of the CDK context (infra/config.py): fast, no synthesis."""

from __future__ import annotations

from typing import Any

import pytest

from functions.core.contract import DgTokenMode, Services
from functions.core.settings import (
    CALLBACK_METHOD,
    DEEPGRAM_API_KEY_ID,
    DG_TOKEN_MODE,
    RESULT_URL_TTL_SECONDS,
    function_settings,
)
from infra.config import (
    LOG_RETENTION_DAYS,
    README,
    SNAP_START_SERVICES,
    ConfigError,
    Settings,
    Subscription,
    deployable_function_settings,
    readme_with_current_tables,
)
from infra.retention import RETENTION_PERIODS
from tests.infra.synthesis import FULL_CONTEXT

pytestmark = pytest.mark.infra


def settings(**context: Any) -> Settings:
    return Settings.from_context(context.get)


def test_no_context_gives_the_documented_defaults() -> None:
    no_context: dict[str, Any] = {}
    assert Settings.from_context(no_context.get) == Settings()
    assert Settings().stack_name == "DeepgramTranscription"
    assert Settings().value(DG_TOKEN_MODE) == DgTokenMode.OFF
    assert Settings().value(RESULT_URL_TTL_SECONDS) == RESULT_URL_TTL_SECONDS.default


def test_command_line_strings_and_cdk_json_values_mean_the_same() -> None:
    from_cli = settings(retentionDays="14", tracing="true", notifyQueue="TRUE", callbackMethod="put")
    from_json = settings(retentionDays=14, tracing=True, notifyQueue=True, callbackMethod="PUT")
    assert from_cli == from_json
    assert (from_cli.retention_days, from_cli.tracing, from_cli.value(CALLBACK_METHOD)) == (14, True, "PUT")
    assert from_cli.notify_queue == Subscription()


def test_dg_token_mode_defaults_to_if_present_once_an_api_key_id_is_known() -> None:
    assert settings(deepgramApiKeyId="key-id").value(DG_TOKEN_MODE) == DgTokenMode.IF_PRESENT
    assert settings(deepgramApiKeyId="key-id", dgTokenMode="off").value(DG_TOKEN_MODE) == DgTokenMode.OFF


@pytest.mark.parametrize("value", ["old-id,new-id", " old-id, new-id ", ["old-id", "new-id"]])
def test_several_api_key_ids_are_accepted_for_a_key_rotation(value: Any) -> None:
    assert settings(deepgramApiKeyId=value).value(DEEPGRAM_API_KEY_ID) == ("old-id", "new-id")


@pytest.mark.parametrize("value", ["old-id,,new-id", "old-id,", ",new-id", "old id"])
def test_api_key_ids_must_be_non_empty_and_without_spaces(value: str) -> None:
    with pytest.raises(ConfigError, match="deepgramApiKeyId must be identifiers separated by commas"):
        settings(deepgramApiKeyId=value)


def test_the_functions_bounds_apply_to_the_context() -> None:
    assert settings(resultUrlTtlSeconds="3600").value(RESULT_URL_TTL_SECONDS) == 3600
    with pytest.raises(ConfigError, match="resultUrlTtlSeconds must be between 60 and 3600"):
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
        ({"dgTokenMode": "sometimes"}, "dgTokenMode must be one of"),
        ({"callbackMethod": "GET"}, "callbackMethod must be one of POST, PUT"),
        ({"deepgramTimeoutSeconds": "20", "deepgramMaxRetries": "1"}, "outlives API Gateway's 29 s"),
        ({"deepgramMaxRetries": "2"}, "deepgramMaxRetries must be between 0 and 1"),
        ({"retentionDays": "forever"}, "retentionDays must be an integer"),
        ({"logRetentionDays": "42"}, "logRetentionDays must be one of 1, 3, 5"),
        ({"logLevel": "chatty"}, "logLevel must be one of DEBUG, INFO, WARNING, ERROR"),
        ({"tracing": "yes"}, "tracing must be true or false"),
        (
            {"deepgramApiKeySecret": "arn:aws:secretsmanager:eu-west-1:123456789012:secret:key"},
            "complete ARN",
        ),
        ({"deepgramBaseUrl": "api.deepgram.com"}, "deepgramBaseUrl must start with"),
        ({"notifyHttpsUrl": "http://hooks.example.com"}, "notifyHttpsUrl must start with https://"),
        ({"notifyEmail": "not-an-address"}, "notifyEmail must be an email address"),
        ({"notifyEmail": "a@example.com", "notifyEmailFilterPolicy": "{"}, "not valid JSON"),
        (
            {"notifyEmail": "a@example.com", "notifyEmailFilterPolicy": '{"status": "failed"}'},
            "non-empty list",
        ),
        ({"notifyQueueFilterPolicy": '{"status": ["failed"]}'}, "subscription is not enabled"),
        ({"alarmTopicArn": "ops-alarms"}, "alarmTopicArn"),
        ({"stackName": 42}, "stackName must be a string"),
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


def test_every_key_read_is_declared_and_every_declared_key_is_read() -> None:
    read: set[str] = set()

    def recording(key: str) -> Any:
        read.add(key)
        return FULL_CONTEXT.get(key)

    Settings.from_context(recording)
    declared = [s.context for s in [*Settings.declarations().values(), *deployable_function_settings()]]
    assert len(declared) == len(set(declared)), "two settings share a context key"
    assert read == set(declared)
    assert set(FULL_CONTEXT) <= read


def test_the_functions_context_keys_are_exactly_those_they_declare() -> None:
    assert set(Settings().function_values) == {s for s in function_settings() if s.context}
    assert not any(s.env for s in Settings.declarations().values()), "a function setting belongs in its spec"


def test_the_readme_tables_are_generated_from_the_declarations() -> None:
    readme = README.read_text()
    assert readme == readme_with_current_tables(readme), "run: python -m infra.config"


def test_log_retention_values_match_cloudwatch_logs() -> None:
    assert set(LOG_RETENTION_DAYS) == set(RETENTION_PERIODS)


def test_snap_start_names_functions_or_all_and_is_off_by_default() -> None:
    assert Settings().snap_start == ()
    assert not any(Settings().snap_start_for(service) for service in SNAP_START_SERVICES)
    chosen = settings(snapStart="submit,callback")
    assert [s for s in SNAP_START_SERVICES if chosen.snap_start_for(s)] == ["submit", "callback"]
    assert settings(snapStart=["submit", "callback"]) == chosen  # cdk.json: a JSON list
    every = settings(snapStart="all")
    assert all(every.snap_start_for(service) for service in SNAP_START_SERVICES)
    assert not every.snap_start_for(Services.RECONCILER)
    assert not every.snap_start_for(Services.FINISHER)


@pytest.mark.parametrize("value", ["reconciler", "submit,finisher", "Submit"])
def test_snap_start_refuses_functions_nobody_waits_on_and_unknown_names(value: str) -> None:
    with pytest.raises(ConfigError, match="snapStart must name functions among submit, status, manage"):
        settings(snapStart=value)
