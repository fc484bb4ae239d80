"""Configuration read from the environment once per cold start and validated up front.

Each function builds its own settings object from `os.environ` the first time it is invoked;
a missing or malformed value fails the invocation with a `ConfigurationError` that names
every problem at once, instead of an obscure `KeyError` deep inside a request.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from functions.core.contract import DgTokenMode, Env

DEFAULT_RETENTION_DAYS = 30
DEFAULT_DEEPGRAM_BASE_URL = "https://api.deepgram.com"
DEFAULT_DEEPGRAM_TIMEOUT_SECONDS = 10.0
# The SDK honours a Retry-After of up to 60 s between retries, which would outlive API Gateway's
# 29 s: by default the client retries instead, safely, with an Idempotency-Key.
DEFAULT_DEEPGRAM_MAX_RETRIES = 0
DEFAULT_RESULT_URL_TTL_SECONDS = 900
# Presigned URLs are signed with the function role's temporary credentials, which may expire
# sooner than a longer lifetime would promise.
MAX_RESULT_URL_TTL_SECONDS = 3600
# One Deepgram submission, retries included, must end well inside API Gateway's 29 s.
DEEPGRAM_REQUEST_BUDGET_SECONDS = 27
DEFAULT_SECRETS_MAX_AGE_SECONDS = 300
CALLBACK_METHODS = ("POST", "PUT")


class ConfigurationError(RuntimeError):
    """The function's environment is incomplete or invalid; the message lists every problem."""


class _Reader:
    """Collects problems while reading variables so that one error reports all of them."""

    def __init__(self, environ: Mapping[str, str]) -> None:
        self._environ = environ
        self.problems: list[str] = []

    def required(self, name: str) -> str:
        value = self._environ.get(name, "").strip()
        if not value:
            self.problems.append(f"{name} is required but not set")
        return value

    def optional(self, name: str, default: str = "") -> str:
        return self._environ.get(name, "").strip() or default

    def choice(self, name: str, choices: tuple[str, ...], default: str) -> str:
        """A value from `choices`, matched case-insensitively and returned as spelt in `choices`."""
        value = self.optional(name, default)
        normalised = next((choice for choice in choices if choice.lower() == value.lower()), value)
        if normalised not in choices:
            self.problems.append(f"{name} must be one of {', '.join(choices)}, got {value!r}")
        return normalised

    def number(self, name: str, default: float, *, minimum: float, maximum: float) -> float:
        raw = self.optional(name)
        if not raw:
            return default
        try:
            value = float(raw)
        except ValueError:
            self.problems.append(f"{name} must be a number, got {raw!r}")
            return default
        if not minimum <= value <= maximum:
            self.problems.append(f"{name} must be between {minimum:g} and {maximum:g}, got {raw}")
        return value

    def url(self, name: str, value: str) -> str:
        if value and not value.startswith(("https://", "http://")):
            self.problems.append(f"{name} must be an http(s) URL, got {value!r}")
        return value.rstrip("/")

    def check(self, service: str) -> None:
        if self.problems:
            raise ConfigurationError(f"{service} function misconfigured: " + "; ".join(self.problems))


@dataclass(frozen=True)
class SubmitSettings:
    jobs_table: str
    idempotency_table: str
    deepgram_api_key_secret_id: str
    callback_signing_secret_id: str
    callback_url: str
    callback_method: str
    deepgram_base_url: str
    deepgram_timeout_seconds: float
    deepgram_max_retries: int
    retention_days: int
    secrets_max_age_seconds: int

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> SubmitSettings:
        read = _Reader(environ)
        settings = cls(
            jobs_table=read.required(Env.JOBS_TABLE),
            idempotency_table=read.required(Env.IDEMPOTENCY_TABLE),
            deepgram_api_key_secret_id=read.required(Env.DEEPGRAM_API_KEY_SECRET),
            callback_signing_secret_id=read.required(Env.CALLBACK_SIGNING_SECRET),
            callback_url=read.url(Env.CALLBACK_URL, read.required(Env.CALLBACK_URL)),
            callback_method=read.choice(Env.CALLBACK_METHOD, CALLBACK_METHODS, "POST"),
            deepgram_base_url=read.url(
                Env.DEEPGRAM_BASE_URL, read.optional(Env.DEEPGRAM_BASE_URL, DEFAULT_DEEPGRAM_BASE_URL)
            ),
            deepgram_timeout_seconds=read.number(
                Env.DEEPGRAM_TIMEOUT_SECONDS, DEFAULT_DEEPGRAM_TIMEOUT_SECONDS, minimum=1, maximum=25
            ),
            deepgram_max_retries=int(
                read.number(Env.DEEPGRAM_MAX_RETRIES, DEFAULT_DEEPGRAM_MAX_RETRIES, minimum=0, maximum=1)
            ),
            retention_days=int(
                read.number(Env.RETENTION_DAYS, DEFAULT_RETENTION_DAYS, minimum=1, maximum=3650)
            ),
            secrets_max_age_seconds=int(
                read.number(
                    Env.SECRETS_MAX_AGE_SECONDS, DEFAULT_SECRETS_MAX_AGE_SECONDS, minimum=0, maximum=86400
                )
            ),
        )
        if "_" in settings.callback_url:
            read.problems.append(f"{Env.CALLBACK_URL} must not contain '_': Deepgram rejects such URLs")
        attempts = settings.deepgram_max_retries + 1
        if settings.deepgram_timeout_seconds * attempts > DEEPGRAM_REQUEST_BUDGET_SECONDS:
            read.problems.append(
                f"{Env.DEEPGRAM_TIMEOUT_SECONDS} x ({Env.DEEPGRAM_MAX_RETRIES} + 1) must stay under "
                f"{DEEPGRAM_REQUEST_BUDGET_SECONDS} s "
                "so a submission never outlives API Gateway's 29 s integration timeout"
            )
        read.check("submit")
        return settings


@dataclass(frozen=True)
class CallbackSettings:
    jobs_table: str
    results_bucket: str
    topic_arn: str
    callback_signing_secret_id: str
    deepgram_api_key_ids: tuple[str, ...]
    dg_token_mode: str
    secrets_max_age_seconds: int

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> CallbackSettings:
        read = _Reader(environ)
        # A list, so that a key rotation can accept the old and the new key's identifier at once.
        api_key_ids = tuple(
            filter(None, (part.strip() for part in read.optional(Env.DEEPGRAM_API_KEY_ID).split(",")))
        )
        default_mode = DgTokenMode.IF_PRESENT if api_key_ids else DgTokenMode.OFF
        settings = cls(
            jobs_table=read.required(Env.JOBS_TABLE),
            results_bucket=read.required(Env.RESULTS_BUCKET),
            topic_arn=read.required(Env.TOPIC_ARN),
            callback_signing_secret_id=read.required(Env.CALLBACK_SIGNING_SECRET),
            deepgram_api_key_ids=api_key_ids,
            dg_token_mode=read.choice(Env.DG_TOKEN_MODE, DgTokenMode.ALL, default_mode),
            secrets_max_age_seconds=int(
                read.number(
                    Env.SECRETS_MAX_AGE_SECONDS, DEFAULT_SECRETS_MAX_AGE_SECONDS, minimum=0, maximum=86400
                )
            ),
        )
        if settings.dg_token_mode != DgTokenMode.OFF and not api_key_ids:
            read.problems.append(
                f"{Env.DG_TOKEN_MODE}={settings.dg_token_mode} needs {Env.DEEPGRAM_API_KEY_ID} "
                "(the api_key_id of the Deepgram key that submits)"
            )
        read.check("callback")
        return settings


@dataclass(frozen=True)
class StatusSettings:
    jobs_table: str
    results_bucket: str
    result_url_ttl_seconds: int

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> StatusSettings:
        read = _Reader(environ)
        settings = cls(
            jobs_table=read.required(Env.JOBS_TABLE),
            results_bucket=read.required(Env.RESULTS_BUCKET),
            result_url_ttl_seconds=int(
                read.number(
                    Env.RESULT_URL_TTL_SECONDS,
                    DEFAULT_RESULT_URL_TTL_SECONDS,
                    minimum=60,
                    maximum=MAX_RESULT_URL_TTL_SECONDS,
                )
            ),
        )
        read.check("status")
        return settings
