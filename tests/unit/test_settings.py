"""Each function's settings: every problem reported at once, bounds enforced, sensible defaults,
and the environment written from the same declarations that read it."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Mapping

import pytest

from functions.core.contract import HANDLERS, DgTokenMode, Env
from functions.core.settings import (
    CALLBACK_METHOD,
    CALLBACK_SIGNING_SECRET,
    CALLBACK_URL,
    DEEPGRAM_API_KEY_ID,
    DEEPGRAM_API_KEY_SECRET,
    DEEPGRAM_MAX_RETRIES,
    DEEPGRAM_TIMEOUT_SECONDS,
    DEFAULT_DEEPGRAM_BASE_URL,
    FUNCTION_SETTINGS,
    IDEMPOTENCY_TABLE,
    JOBS_TABLE,
    RESULTS_BUCKET,
    TOPIC_ARN,
    CallbackSettings,
    ConfigurationError,
    Derived,
    FunctionSettings,
    Setting,
    StatusSettings,
    SubmitSettings,
    environ_of_all,
    function_settings,
)

# The values the stack supplies: every required setting's (a new one needs an entry here).
RESOURCES: dict[Setting, str] = {
    JOBS_TABLE: "jobs",
    IDEMPOTENCY_TABLE: "idempotency",
    RESULTS_BUCKET: "results",
    TOPIC_ARN: "arn:aws:sns:us-east-1:123456789012:notifications",
    DEEPGRAM_API_KEY_SECRET: "arn:aws:secretsmanager:us-east-1:123456789012:secret:deepgram",
    CALLBACK_SIGNING_SECRET: "arn:aws:secretsmanager:us-east-1:123456789012:secret:signing",
    CALLBACK_URL: "https://abc123.lambda-url.us-east-1.on.aws/",
}


def required_environ(spec: type[FunctionSettings]) -> dict[str, str]:
    """The smallest environment the function accepts: its required settings, from RESOURCES."""
    return {setting.name: RESOURCES[setting] for setting in spec.declarations().values() if setting.required}


SUBMIT_ENV = required_environ(SubmitSettings)
CALLBACK_ENV = required_environ(CallbackSettings)
STATUS_ENV = required_environ(StatusSettings)
SPECS = list(FUNCTION_SETTINGS.values())
SERVICES = list(FUNCTION_SETTINGS)


def problems_of(settings_class: type[FunctionSettings], environ: Mapping[str, str]) -> str:
    with pytest.raises(ConfigurationError) as raised:
        settings_class.from_environ(environ)
    return str(raised.value)


# --- every missing variable at once -------------------------------------------------------------


@pytest.mark.parametrize("settings_class", SPECS, ids=SERVICES)
def test_every_missing_variable_is_named_in_one_error(settings_class: type[FunctionSettings]) -> None:
    required = required_environ(settings_class)
    assert required, "every function reads at least one resource from the stack"

    message = problems_of(settings_class, {})

    missing = [name for name in required if name not in message]
    assert missing == []


def test_the_resources_each_function_uses_are_required() -> None:
    # A floor, not the full list (the generic tests above derive that from each spec): losing one of
    # these would let a function start without a resource it cannot work without.
    uses: dict[type[FunctionSettings], set[Setting]] = {
        SubmitSettings: {
            JOBS_TABLE,
            IDEMPOTENCY_TABLE,
            RESULTS_BUCKET,
            DEEPGRAM_API_KEY_SECRET,
            CALLBACK_SIGNING_SECRET,
            CALLBACK_URL,
        },
        CallbackSettings: {JOBS_TABLE, RESULTS_BUCKET, TOPIC_ARN, CALLBACK_SIGNING_SECRET},
        StatusSettings: {JOBS_TABLE, RESULTS_BUCKET},
    }
    for spec, resources in uses.items():
        required = {setting for setting in spec.declarations().values() if setting.required}
        assert resources <= required, spec.SERVICE


@pytest.mark.parametrize("settings_class", SPECS, ids=SERVICES)
def test_blank_variable_counts_as_missing(settings_class: type[FunctionSettings]) -> None:
    required = required_environ(settings_class)
    name = next(iter(required))

    message = problems_of(settings_class, {**required, name: "   "})

    assert name in message


@pytest.mark.parametrize("settings_class", SPECS, ids=SERVICES)
def test_complete_environment_is_accepted(settings_class: type[FunctionSettings]) -> None:
    settings_class.from_environ(required_environ(settings_class))


def test_missing_and_invalid_variables_are_reported_together() -> None:
    environ = {**SUBMIT_ENV, Env.CALLBACK_METHOD: "GET", Env.DEEPGRAM_MAX_RETRIES: "5"}
    del environ[Env.JOBS_TABLE]

    message = problems_of(SubmitSettings, environ)

    assert Env.JOBS_TABLE in message
    assert Env.CALLBACK_METHOD in message
    assert Env.DEEPGRAM_MAX_RETRIES in message


# --- submit -----------------------------------------------------------------------------------------


def test_submit_defaults() -> None:
    settings = SubmitSettings.from_environ(SUBMIT_ENV)

    assert settings.callback_method == "POST"
    assert settings.deepgram_base_url == DEFAULT_DEEPGRAM_BASE_URL
    assert settings.deepgram_timeout_seconds == 10
    assert settings.deepgram_max_retries == 0
    assert settings.retention_days == 30
    assert settings.secrets_max_age_seconds == 300
    assert settings.callback_deadline_minutes == 30
    assert settings.result_delivery == "callback"
    assert settings.delivery_role_arn == ""
    assert settings.keep_uploaded_audio is False


def test_s3_delivery_needs_the_delivery_signer_role() -> None:
    environ = {**SUBMIT_ENV, Env.RESULT_DELIVERY: "s3"}
    role_arn = "arn:aws:iam::123456789012:role/delivery-signer"

    assert Env.DELIVERY_ROLE_ARN in problems_of(SubmitSettings, environ)
    settings = SubmitSettings.from_environ({**environ, Env.DELIVERY_ROLE_ARN: role_arn})
    assert (settings.result_delivery, settings.delivery_role_arn) == ("s3", role_arn)


@pytest.mark.parametrize(("given", "expected"), [("PUT", "PUT"), ("put", "PUT"), ("post", "POST")])
def test_callback_method_is_case_insensitive(given: str, expected: str) -> None:
    settings = SubmitSettings.from_environ({**SUBMIT_ENV, Env.CALLBACK_METHOD: given})

    assert settings.callback_method == expected


@pytest.mark.parametrize("method", ["GET", "PATCH", "posts"])
def test_invalid_callback_method_is_refused(method: str) -> None:
    assert Env.CALLBACK_METHOD in problems_of(SubmitSettings, {**SUBMIT_ENV, Env.CALLBACK_METHOD: method})


def test_callback_url_with_an_underscore_is_refused() -> None:
    environ = {**SUBMIT_ENV, Env.CALLBACK_URL: "https://my_callback.example.com/"}

    message = problems_of(SubmitSettings, environ)

    assert Env.CALLBACK_URL in message
    assert "'_'" in message


@pytest.mark.parametrize("url", ["ftp://callback.example.com/", "callback.example.com"])
def test_callback_url_must_be_http(url: str) -> None:
    assert Env.CALLBACK_URL in problems_of(SubmitSettings, {**SUBMIT_ENV, Env.CALLBACK_URL: url})


def test_deepgram_base_url_must_be_http() -> None:
    environ = {**SUBMIT_ENV, Env.DEEPGRAM_BASE_URL: "api.deepgram.com"}

    assert Env.DEEPGRAM_BASE_URL in problems_of(SubmitSettings, environ)


def test_deepgram_base_url_loses_its_trailing_slash() -> None:
    settings = SubmitSettings.from_environ({**SUBMIT_ENV, Env.DEEPGRAM_BASE_URL: "http://127.0.0.1:8080/"})

    assert settings.deepgram_base_url == "http://127.0.0.1:8080"


@pytest.mark.parametrize(
    ("name", "value"),
    [
        (Env.DEEPGRAM_TIMEOUT_SECONDS, "0.5"),
        (Env.DEEPGRAM_TIMEOUT_SECONDS, "26"),
        (Env.DEEPGRAM_TIMEOUT_SECONDS, "ten"),
        (Env.DEEPGRAM_MAX_RETRIES, "-1"),
        (Env.DEEPGRAM_MAX_RETRIES, "2"),  # with the default 10 s timeout, also over the 27 s budget
        (Env.RETENTION_DAYS, "0"),
        (Env.RETENTION_DAYS, "3651"),
        (Env.SECRETS_MAX_AGE_SECONDS, "-1"),
        (Env.SECRETS_MAX_AGE_SECONDS, "86401"),
    ],
)
def test_submit_number_out_of_range_is_refused(name: str, value: str) -> None:
    assert name in problems_of(SubmitSettings, {**SUBMIT_ENV, name: value})


def test_numbers_within_range_are_read() -> None:
    environ = {
        **SUBMIT_ENV,
        Env.DEEPGRAM_TIMEOUT_SECONDS: "12.5",
        Env.DEEPGRAM_MAX_RETRIES: "1",
        Env.RETENTION_DAYS: "7",
        Env.SECRETS_MAX_AGE_SECONDS: "0",
    }

    settings = SubmitSettings.from_environ(environ)

    assert settings.deepgram_timeout_seconds == 12.5
    assert settings.deepgram_max_retries == 1
    assert settings.retention_days == 7
    assert settings.secrets_max_age_seconds == 0


def test_more_than_one_retry_is_refused_even_within_the_time_budget() -> None:
    environ = {**SUBMIT_ENV, Env.DEEPGRAM_TIMEOUT_SECONDS: "1", Env.DEEPGRAM_MAX_RETRIES: "2"}

    message = problems_of(SubmitSettings, environ)

    assert f"{Env.DEEPGRAM_MAX_RETRIES} must be between 0 and 1" in message


def test_timeout_times_attempts_must_fit_in_api_gateways_timeout() -> None:
    environ = {**SUBMIT_ENV, Env.DEEPGRAM_TIMEOUT_SECONDS: "14", Env.DEEPGRAM_MAX_RETRIES: "1"}

    message = problems_of(SubmitSettings, environ)

    assert Env.DEEPGRAM_TIMEOUT_SECONDS in message
    assert Env.DEEPGRAM_MAX_RETRIES in message


# --- callback ---------------------------------------------------------------------------------------


def test_dg_token_mode_defaults_to_if_present_when_an_api_key_id_is_set() -> None:
    settings = CallbackSettings.from_environ({**CALLBACK_ENV, Env.DEEPGRAM_API_KEY_ID: "key-id"})

    assert settings.dg_token_mode == DgTokenMode.IF_PRESENT
    assert settings.deepgram_api_key_ids == ("key-id",)


def test_several_api_key_ids_may_be_configured_for_a_key_rotation() -> None:
    settings = CallbackSettings.from_environ({**CALLBACK_ENV, Env.DEEPGRAM_API_KEY_ID: "old-id, new-id"})

    assert settings.deepgram_api_key_ids == ("old-id", "new-id")


def test_dg_token_mode_defaults_to_off_without_an_api_key_id() -> None:
    assert CallbackSettings.from_environ(CALLBACK_ENV).dg_token_mode == DgTokenMode.OFF


@pytest.mark.parametrize("mode", ["sometimes", "on", "true"])
def test_invalid_dg_token_mode_is_refused(mode: str) -> None:
    environ = {**CALLBACK_ENV, Env.DEEPGRAM_API_KEY_ID: "key-id", Env.DG_TOKEN_MODE: mode}

    assert Env.DG_TOKEN_MODE in problems_of(CallbackSettings, environ)


@pytest.mark.parametrize("mode", [DgTokenMode.IF_PRESENT, DgTokenMode.REQUIRED])
def test_dg_token_mode_that_checks_needs_an_api_key_id(mode: str) -> None:
    message = problems_of(CallbackSettings, {**CALLBACK_ENV, Env.DG_TOKEN_MODE: mode})

    assert Env.DEEPGRAM_API_KEY_ID in message


@pytest.mark.parametrize("mode", ["REQUIRED", "Off", "If-Present"])
def test_dg_token_mode_is_case_insensitive(mode: str) -> None:
    environ = {**CALLBACK_ENV, Env.DEEPGRAM_API_KEY_ID: "key-id", Env.DG_TOKEN_MODE: mode}

    assert CallbackSettings.from_environ(environ).dg_token_mode == mode.lower()


def test_dg_token_mode_off_needs_no_api_key_id() -> None:
    settings = CallbackSettings.from_environ({**CALLBACK_ENV, Env.DG_TOKEN_MODE: DgTokenMode.OFF})

    assert settings.dg_token_mode == DgTokenMode.OFF


def test_callback_secrets_max_age_out_of_range_is_refused() -> None:
    environ = {**CALLBACK_ENV, Env.SECRETS_MAX_AGE_SECONDS: "100000"}

    assert Env.SECRETS_MAX_AGE_SECONDS in problems_of(CallbackSettings, environ)


# --- status -----------------------------------------------------------------------------------------


def test_status_result_url_ttl_defaults_to_15_minutes() -> None:
    assert StatusSettings.from_environ(STATUS_ENV).result_url_ttl_seconds == 900


@pytest.mark.parametrize("value", ["59", "43201", "soon"])
def test_status_result_url_ttl_out_of_range_is_refused(value: str) -> None:
    environ = {**STATUS_ENV, Env.RESULT_URL_TTL_SECONDS: value}

    assert Env.RESULT_URL_TTL_SECONDS in problems_of(StatusSettings, environ)


def test_configuration_error_names_the_function() -> None:
    assert problems_of(StatusSettings, {}).startswith("status function misconfigured")


# --- the declarations: one spec per function, the environment derived from it -------------------


def test_every_function_has_a_spec_and_every_setting_an_environment_variable() -> None:
    assert set(FUNCTION_SETTINGS) == set(HANDLERS)
    for service, spec in FUNCTION_SETTINGS.items():
        assert service == spec.SERVICE
        assert all(setting.env for setting in spec.declarations().values())
    names = [setting.env for setting in function_settings()]
    assert len(names) == len(set(names)), "two settings share an environment variable"
    contexts = [setting.context for setting in function_settings() if setting.context]
    assert len(contexts) == len(set(contexts)), "two settings share a context key"


def test_a_shared_setting_has_the_same_attribute_name_in_every_spec() -> None:
    names: dict[Setting, set[str]] = {}
    for spec in FUNCTION_SETTINGS.values():
        for attribute, setting in spec.declarations().items():
            names.setdefault(setting, set()).add(attribute)
    assert {setting: found for setting, found in names.items() if len(found) > 1} == {}


@pytest.mark.parametrize("spec", SPECS, ids=SERVICES)
def test_the_environment_written_from_the_spec_is_the_one_it_reads(spec: type[FunctionSettings]) -> None:
    settings = spec.from_environ(spec.to_environ(RESOURCES))

    for attribute, setting in spec.declarations().items():
        if setting.required:
            assert getattr(settings, attribute) == RESOURCES[setting].rstrip("/"), attribute
        elif not isinstance(setting.default, Derived):
            assert getattr(settings, attribute) == setting.initial, attribute


def test_to_environ_writes_the_deployers_values_and_every_default() -> None:
    environment = SubmitSettings.to_environ(
        {**RESOURCES, DEEPGRAM_TIMEOUT_SECONDS: 12.0, DEEPGRAM_MAX_RETRIES: 1, CALLBACK_METHOD: "PUT"}
    )

    assert environment[Env.DEEPGRAM_TIMEOUT_SECONDS] == "12"
    assert environment[Env.DEEPGRAM_MAX_RETRIES] == "1"
    assert environment[Env.CALLBACK_METHOD] == "PUT"
    assert environment[Env.DEEPGRAM_BASE_URL] == DEFAULT_DEEPGRAM_BASE_URL
    assert environment[Env.SECRETS_MAX_AGE_SECONDS] == "300"
    assert environment[Env.LOG_LEVEL] == "INFO"
    assert Env.TOPIC_ARN not in environment  # the submit function does not read it


def test_to_environ_refuses_to_leave_out_a_resource() -> None:
    with pytest.raises(ValueError, match=f"{Env.CALLBACK_URL}"):
        SubmitSettings.to_environ({**RESOURCES, CALLBACK_URL: ""})


def test_derived_default_follows_the_values_it_depends_on() -> None:
    without_key = CallbackSettings.to_environ(RESOURCES)
    with_keys = CallbackSettings.to_environ({**RESOURCES, DEEPGRAM_API_KEY_ID: ("old-id", "new-id")})

    assert without_key[Env.DG_TOKEN_MODE] == DgTokenMode.OFF
    assert Env.DEEPGRAM_API_KEY_ID not in without_key
    assert (with_keys[Env.DG_TOKEN_MODE], with_keys[Env.DEEPGRAM_API_KEY_ID]) == (
        "if-present",
        "old-id,new-id",
    )


def test_the_union_of_the_environments_serves_every_function() -> None:
    environment = environ_of_all(RESOURCES)

    for spec in FUNCTION_SETTINGS.values():
        spec.from_environ(environment)
    unset_without_default = {
        setting.env for setting in function_settings() if not setting.required and setting.default is None
    }
    assert Env.DEEPGRAM_API_KEY_ID in unset_without_default
    assert set(environment) == {setting.env for setting in function_settings()} - unset_without_default


@pytest.mark.parametrize("value", ["old-id,,new-id", "old-id,", "old id"])
def test_api_key_ids_without_empty_entries_or_spaces(value: str) -> None:
    environ = {**CALLBACK_ENV, Env.DEEPGRAM_API_KEY_ID: value}

    assert Env.DEEPGRAM_API_KEY_ID in problems_of(CallbackSettings, environ)


@pytest.mark.parametrize(("given", "expected"), [("debug", "DEBUG"), ("", "INFO")])
def test_every_function_reads_the_log_level(given: str, expected: str) -> None:
    for spec in SPECS:
        environ = required_environ(spec)
        assert spec.from_environ({**environ, Env.LOG_LEVEL: given}).log_level == expected, spec.SERVICE
        assert Env.LOG_LEVEL in problems_of(spec, {**environ, Env.LOG_LEVEL: "chatty"}), spec.SERVICE


def test_settings_import_nothing_heavy_at_cold_start() -> None:
    code = (
        "import sys, functions.core.settings; "
        "print(sorted(m for m in ('boto3', 'botocore', 'pydantic', 'aws_cdk') if m in sys.modules))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)

    assert result.stdout.strip() == "[]"
