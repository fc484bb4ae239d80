"""Each function's settings: every problem reported at once, bounds enforced, sensible defaults."""

from __future__ import annotations

import pytest

from functions.core.contract import DgTokenMode, Env
from functions.core.settings import (
    DEFAULT_DEEPGRAM_BASE_URL,
    CallbackSettings,
    ConfigurationError,
    StatusSettings,
    SubmitSettings,
)

SUBMIT_ENV = {
    Env.JOBS_TABLE: "jobs",
    Env.IDEMPOTENCY_TABLE: "idempotency",
    Env.DEEPGRAM_API_KEY_SECRET: "arn:aws:secretsmanager:us-east-1:123456789012:secret:deepgram",
    Env.CALLBACK_SIGNING_SECRET: "arn:aws:secretsmanager:us-east-1:123456789012:secret:signing",
    Env.CALLBACK_URL: "https://abc123.lambda-url.us-east-1.on.aws/",
}
CALLBACK_ENV = {
    Env.JOBS_TABLE: "jobs",
    Env.RESULTS_BUCKET: "results",
    Env.TOPIC_ARN: "arn:aws:sns:us-east-1:123456789012:notifications",
    Env.CALLBACK_SIGNING_SECRET: "arn:aws:secretsmanager:us-east-1:123456789012:secret:signing",
}
STATUS_ENV = {Env.JOBS_TABLE: "jobs", Env.RESULTS_BUCKET: "results"}


def problems_of(settings_class: type, environ: dict[str, str]) -> str:
    with pytest.raises(ConfigurationError) as raised:
        settings_class.from_environ(environ)
    return str(raised.value)


# --- every missing variable at once -------------------------------------------------------------


@pytest.mark.parametrize(
    ("settings_class", "required"),
    [(SubmitSettings, SUBMIT_ENV), (CallbackSettings, CALLBACK_ENV), (StatusSettings, STATUS_ENV)],
    ids=["submit", "callback", "status"],
)
def test_every_missing_variable_is_named_in_one_error(settings_class: type, required: dict[str, str]):
    message = problems_of(settings_class, {})

    missing = [name for name in required if name not in message]
    assert missing == []


@pytest.mark.parametrize(
    ("settings_class", "required"),
    [(SubmitSettings, SUBMIT_ENV), (CallbackSettings, CALLBACK_ENV), (StatusSettings, STATUS_ENV)],
    ids=["submit", "callback", "status"],
)
def test_blank_variable_counts_as_missing(settings_class: type, required: dict[str, str]):
    name = next(iter(required))

    message = problems_of(settings_class, {**required, name: "   "})

    assert name in message


@pytest.mark.parametrize(
    ("settings_class", "required"),
    [(SubmitSettings, SUBMIT_ENV), (CallbackSettings, CALLBACK_ENV), (StatusSettings, STATUS_ENV)],
    ids=["submit", "callback", "status"],
)
def test_complete_environment_is_accepted(settings_class: type, required: dict[str, str]):
    settings_class.from_environ(required)


def test_missing_and_invalid_variables_are_reported_together():
    environ = {**SUBMIT_ENV, Env.CALLBACK_METHOD: "GET", Env.DEEPGRAM_MAX_RETRIES: "5"}
    del environ[Env.JOBS_TABLE]

    message = problems_of(SubmitSettings, environ)

    assert Env.JOBS_TABLE in message
    assert Env.CALLBACK_METHOD in message
    assert Env.DEEPGRAM_MAX_RETRIES in message


# --- submit -----------------------------------------------------------------------------------------


def test_submit_defaults():
    settings = SubmitSettings.from_environ(SUBMIT_ENV)

    assert settings.callback_method == "POST"
    assert settings.deepgram_base_url == DEFAULT_DEEPGRAM_BASE_URL
    assert settings.deepgram_timeout_seconds == 10
    assert settings.deepgram_max_retries == 0
    assert settings.retention_days == 30
    assert settings.secrets_max_age_seconds == 300


@pytest.mark.parametrize(("given", "expected"), [("PUT", "PUT"), ("put", "PUT"), ("post", "POST")])
def test_callback_method_is_case_insensitive(given: str, expected: str):
    settings = SubmitSettings.from_environ({**SUBMIT_ENV, Env.CALLBACK_METHOD: given})

    assert settings.callback_method == expected


@pytest.mark.parametrize("method", ["GET", "PATCH", "posts"])
def test_invalid_callback_method_is_refused(method: str):
    assert Env.CALLBACK_METHOD in problems_of(SubmitSettings, {**SUBMIT_ENV, Env.CALLBACK_METHOD: method})


def test_callback_url_with_an_underscore_is_refused():
    environ = {**SUBMIT_ENV, Env.CALLBACK_URL: "https://my_callback.example.com/"}

    message = problems_of(SubmitSettings, environ)

    assert Env.CALLBACK_URL in message
    assert "'_'" in message


@pytest.mark.parametrize("url", ["ftp://callback.example.com/", "callback.example.com"])
def test_callback_url_must_be_http(url: str):
    assert Env.CALLBACK_URL in problems_of(SubmitSettings, {**SUBMIT_ENV, Env.CALLBACK_URL: url})


def test_deepgram_base_url_must_be_http():
    environ = {**SUBMIT_ENV, Env.DEEPGRAM_BASE_URL: "api.deepgram.com"}

    assert Env.DEEPGRAM_BASE_URL in problems_of(SubmitSettings, environ)


def test_deepgram_base_url_loses_its_trailing_slash():
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
def test_submit_number_out_of_range_is_refused(name: str, value: str):
    assert name in problems_of(SubmitSettings, {**SUBMIT_ENV, name: value})


def test_numbers_within_range_are_read():
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


def test_more_than_one_retry_is_refused_even_within_the_time_budget():
    environ = {**SUBMIT_ENV, Env.DEEPGRAM_TIMEOUT_SECONDS: "1", Env.DEEPGRAM_MAX_RETRIES: "2"}

    message = problems_of(SubmitSettings, environ)

    assert f"{Env.DEEPGRAM_MAX_RETRIES} must be between 0 and 1" in message


def test_timeout_times_attempts_must_fit_in_api_gateways_timeout():
    environ = {**SUBMIT_ENV, Env.DEEPGRAM_TIMEOUT_SECONDS: "14", Env.DEEPGRAM_MAX_RETRIES: "1"}

    message = problems_of(SubmitSettings, environ)

    assert Env.DEEPGRAM_TIMEOUT_SECONDS in message
    assert Env.DEEPGRAM_MAX_RETRIES in message


# --- callback ---------------------------------------------------------------------------------------


def test_dg_token_mode_defaults_to_if_present_when_an_api_key_id_is_set():
    settings = CallbackSettings.from_environ({**CALLBACK_ENV, Env.DEEPGRAM_API_KEY_ID: "key-id"})

    assert settings.dg_token_mode == DgTokenMode.IF_PRESENT
    assert settings.deepgram_api_key_ids == ("key-id",)


def test_several_api_key_ids_may_be_configured_for_a_key_rotation():
    settings = CallbackSettings.from_environ({**CALLBACK_ENV, Env.DEEPGRAM_API_KEY_ID: "old-id, new-id"})

    assert settings.deepgram_api_key_ids == ("old-id", "new-id")


def test_dg_token_mode_defaults_to_off_without_an_api_key_id():
    assert CallbackSettings.from_environ(CALLBACK_ENV).dg_token_mode == DgTokenMode.OFF


@pytest.mark.parametrize("mode", ["sometimes", "on", "true"])
def test_invalid_dg_token_mode_is_refused(mode: str):
    environ = {**CALLBACK_ENV, Env.DEEPGRAM_API_KEY_ID: "key-id", Env.DG_TOKEN_MODE: mode}

    assert Env.DG_TOKEN_MODE in problems_of(CallbackSettings, environ)


@pytest.mark.parametrize("mode", [DgTokenMode.IF_PRESENT, DgTokenMode.REQUIRED])
def test_dg_token_mode_that_checks_needs_an_api_key_id(mode: str):
    message = problems_of(CallbackSettings, {**CALLBACK_ENV, Env.DG_TOKEN_MODE: mode})

    assert Env.DEEPGRAM_API_KEY_ID in message


@pytest.mark.parametrize("mode", ["REQUIRED", "Off", "If-Present"])
def test_dg_token_mode_is_case_insensitive(mode: str):
    environ = {**CALLBACK_ENV, Env.DEEPGRAM_API_KEY_ID: "key-id", Env.DG_TOKEN_MODE: mode}

    assert CallbackSettings.from_environ(environ).dg_token_mode == mode.lower()


def test_dg_token_mode_off_needs_no_api_key_id():
    settings = CallbackSettings.from_environ({**CALLBACK_ENV, Env.DG_TOKEN_MODE: DgTokenMode.OFF})

    assert settings.dg_token_mode == DgTokenMode.OFF


def test_callback_secrets_max_age_out_of_range_is_refused():
    environ = {**CALLBACK_ENV, Env.SECRETS_MAX_AGE_SECONDS: "100000"}

    assert Env.SECRETS_MAX_AGE_SECONDS in problems_of(CallbackSettings, environ)


# --- status -----------------------------------------------------------------------------------------


def test_status_result_url_ttl_defaults_to_15_minutes():
    assert StatusSettings.from_environ(STATUS_ENV).result_url_ttl_seconds == 900


@pytest.mark.parametrize("value", ["59", "43201", "soon"])
def test_status_result_url_ttl_out_of_range_is_refused(value: str):
    environ = {**STATUS_ENV, Env.RESULT_URL_TTL_SECONDS: value}

    assert Env.RESULT_URL_TTL_SECONDS in problems_of(StatusSettings, environ)


def test_configuration_error_names_the_function():
    assert problems_of(StatusSettings, {}).startswith("status function misconfigured")
