"""Deployment settings: every CDK context key the app reads, parsed and validated in one place.

Values come from `cdk.json`, `cdk.context.json` or the command line (`-c key=value`). The
command line always delivers strings, cdk.json delivers JSON types, so every parser accepts
both. A bad value stops the synth with one error that lists every problem, before any
construct is built.

`CONTEXT_KEYS` documents each key and its default; `describe_context_keys()` renders them as the
README's configuration table.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from functions.core.contract import PRODUCT, DgTokenMode
from functions.core.settings import (
    CALLBACK_METHODS,
    DEEPGRAM_REQUEST_BUDGET_SECONDS,
    MAX_RESULT_URL_TTL_SECONDS,
)

ContextReader = Callable[[str], Any]
"""How settings see the context: `app.node.try_get_context` or `dict.get`."""

LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")

# CloudWatch Logs accepts only these retention periods (days).
# fmt: off
LOG_RETENTION_DAYS = (
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653,
)
# fmt: on

# CALLBACK_METHODS, DEEPGRAM_REQUEST_BUDGET_SECONDS and MAX_RESULT_URL_TTL_SECONDS come from the
# functions' settings, which check the same bounds when they start. One submission's Deepgram
# requests, timeout x (retries + 1), must fit in the budget: the submit function times out at 28 s
# (infra/api.py) and API Gateway gives up at 29 s.

_SECRET_ARN = re.compile(
    r"^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:[\w/+=.@-]+-[A-Za-z0-9]{6}$"
)
_SECRET_NAME = re.compile(r"^[\w/+=.@-]{1,512}$")
_LAYER_ARN = re.compile(r"^arn:aws[a-z-]*:lambda:[a-z0-9-]+:\d{12}:layer:[\w-]+:\d+$")
_TOPIC_ARN = re.compile(r"^arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:[\w-]{1,256}$")
_STACK_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9-]{0,127}$")
_STAGE_NAME = re.compile(r"^[A-Za-z0-9_-]{1,128}$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_API_KEY_IDS = re.compile(r"^[^\s,]+(,[^\s,]+)*$")


def _default_stack_name() -> str:
    return "".join(part.title() for part in PRODUCT.split("-"))


CONTEXT_KEYS: Mapping[str, tuple[str, str]] = {
    "stackName": (
        _default_stack_name(),
        "CloudFormation stack name; deploy several copies with different names.",
    ),
    "stageName": ("v1", "API Gateway stage name (the last segment of the API URL)."),
    "deepgramApiKeySecret": (
        "(created)",
        "Name or complete ARN of an existing Secrets Manager secret holding the Deepgram API key. "
        "Unset: the stack creates a placeholder secret for you to fill.",
    ),
    "deepgramApiKeyId": (
        "(unset)",
        "`api_key_id` of the Deepgram key (not the key) for the optional `dg-token` check; a "
        "comma-separated list (`<old id>,<new id>`) while rotating the key.",
    ),
    "dgTokenMode": (
        "if-present with an API key id, else off",
        "How the callback treats Deepgram's `dg-token` header: off, if-present or required.",
    ),
    "deepgramBaseUrl": ("(unset: https://api.deepgram.com)", "Deepgram API base URL (an emulator, a proxy)."),
    "callbackMethod": ("POST", "HTTP method Deepgram uses for the callback: POST or PUT."),
    "deepgramTimeoutSeconds": ("10", "Timeout of one Deepgram submit request."),
    "deepgramMaxRetries": (
        "0",
        f"SDK retries of a failed submit request (0 or 1; timeout x (retries+1) <= "
        f"{DEEPGRAM_REQUEST_BUDGET_SECONDS} s).",
    ),
    "retentionDays": ("30", "Days a job record and its stored result are kept (DynamoDB TTL, S3 lifecycle)."),
    "resultUrlTtlSeconds": (
        "900",
        f"Lifetime of the presigned result URL returned by GET (60-{MAX_RESULT_URL_TTL_SECONDS}; "
        "the URL is signed with the function's temporary credentials, which expire).",
    ),
    "logRetentionDays": ("30", "Retention of every log group (a CloudWatch Logs retention value)."),
    "logLevel": ("INFO", "Powertools log level of the functions: DEBUG, INFO, WARNING or ERROR."),
    "tracing": ("false", "X-Ray tracing on the API stage and the functions."),
    "apiGatewayCloudWatchRole": (
        "true",
        "Set this region's API Gateway CloudWatch Logs role (account setting that REST API access logs "
        "require). false if your account already manages it.",
    ),
    "apiThrottlingRateLimit": ("10", "Stage-wide steady request rate (requests/s)."),
    "apiThrottlingBurstLimit": ("20", "Stage-wide burst of requests."),
    "callbackReservedConcurrency": (
        "0 (off)",
        "Reserved concurrency of the public callback function, a cost guard. Needs unreserved quota "
        "in the account (new accounts often have little).",
    ),
    "rejectedCallbacksThreshold": ("10", "Rejected callbacks in 5 minutes that raise the alarm."),
    "deletionProtection": (
        "false",
        "true: DynamoDB deletion protection, stack termination protection, and tables, bucket, keys "
        "and secrets retained when the stack is deleted.",
    ),
    "notifyEmail": ("(unset)", "Email address subscribed to job notifications."),
    "notifyEmailFilterPolicy": ("(unset)", "SNS filter policy (JSON) of the email subscription."),
    "notifyQueue": (
        "false",
        "true: an encrypted SQS queue (with a dead-letter queue) subscribed to notifications.",
    ),
    "notifyQueueFilterPolicy": ("(unset)", "SNS filter policy (JSON) of the queue subscription."),
    "notifyHttpsUrl": (
        "(unset)",
        "HTTPS endpoint subscribed to notifications (must confirm the subscription).",
    ),
    "notifyHttpsFilterPolicy": ("(unset)", "SNS filter policy (JSON) of the HTTPS subscription."),
    "alarmEmail": ("(unset)", "Email address told when an alarm fires (creates an encrypted alarm topic)."),
    "alarmTopicArn": ("(unset)", "Existing SNS topic that alarms notify (in addition to alarmEmail)."),
    "powertoolsLayerArn": (
        "(resolved)",
        "Explicit Powertools layer version ARN. Unset: resolved at deploy time from the public SSM "
        "parameter for the Powertools version pinned in requirements.txt.",
    ),
}


def describe_context_keys() -> str:
    """The context keys as a Markdown table (for the README)."""
    rows = ["| key | default | meaning |", "| --- | --- | --- |"]
    rows += [f"| `{key}` | {default} | {meaning} |" for key, (default, meaning) in CONTEXT_KEYS.items()]
    return "\n".join(rows)


class ConfigError(ValueError):
    """One or more context values are invalid; the message lists all of them."""


@dataclass(frozen=True)
class Subscription:
    """One optional notification subscriber and the SNS filter policy it carries.

    `endpoint` is the email address or URL; the queue subscription has none (the stack creates it).
    """

    endpoint: str = ""
    filter_policy: Mapping[str, list[Any]] = field(default_factory=dict)


@dataclass(frozen=True)
class Settings:
    """Everything the stack's constructs need to know about one deployment."""

    stack_name: str = _default_stack_name()
    stage_name: str = "v1"
    deepgram_api_key_secret: str = ""
    deepgram_api_key_id: str = ""  # Deepgram's `api_key_id`(s), comma-separated; for the dg-token check
    dg_token_mode: str = DgTokenMode.OFF
    deepgram_base_url: str = ""
    callback_method: str = "POST"
    deepgram_timeout_seconds: int = 10
    deepgram_max_retries: int = 0
    retention_days: int = 30
    result_url_ttl_seconds: int = 900
    log_retention_days: int = 30
    log_level: str = "INFO"
    tracing: bool = False
    api_gateway_cloudwatch_role: bool = True
    api_throttling_rate_limit: int = 10
    api_throttling_burst_limit: int = 20
    callback_reserved_concurrency: int = 0
    rejected_callbacks_threshold: int = 10
    deletion_protection: bool = False
    notify_email: Subscription | None = None
    notify_queue: Subscription | None = None
    notify_https: Subscription | None = None
    alarm_email: str = ""
    alarm_topic_arn: str = ""
    powertools_layer_arn: str = ""

    @classmethod
    def from_context(cls, context: ContextReader) -> Settings:
        """Read and validate every key; raise `ConfigError` naming all the bad ones."""
        default = cls()
        read = _Reader(context)
        api_key_id = read.api_key_ids("deepgramApiKeyId")
        default_mode = DgTokenMode.IF_PRESENT if api_key_id else DgTokenMode.OFF
        dg_token_mode = read.choice("dgTokenMode", DgTokenMode.ALL, default_mode, upper=False)
        if dg_token_mode != DgTokenMode.OFF and not api_key_id:
            read.problem("dgTokenMode", f"{dg_token_mode!r} needs deepgramApiKeyId")
        timeout = read.integer("deepgramTimeoutSeconds", default.deepgram_timeout_seconds, 1, 25)
        retries = read.integer("deepgramMaxRetries", default.deepgram_max_retries, 0, 1)
        if timeout * (retries + 1) > DEEPGRAM_REQUEST_BUDGET_SECONDS:
            read.problem(
                "deepgramTimeoutSeconds",
                f"{timeout} s x ({retries} retries + 1) exceeds {DEEPGRAM_REQUEST_BUDGET_SECONDS} s, "
                "beyond API Gateway's 29 s integration timeout",
            )
        settings = cls(
            stack_name=read.pattern("stackName", _STACK_NAME, default.stack_name),
            stage_name=read.pattern("stageName", _STAGE_NAME, default.stage_name),
            deepgram_api_key_secret=read.secret_reference("deepgramApiKeySecret"),
            deepgram_api_key_id=api_key_id,
            dg_token_mode=dg_token_mode,
            deepgram_base_url=read.url("deepgramBaseUrl"),
            callback_method=read.choice("callbackMethod", CALLBACK_METHODS, default.callback_method),
            deepgram_timeout_seconds=timeout,
            deepgram_max_retries=retries,
            retention_days=read.integer("retentionDays", default.retention_days, 1, 3650),
            result_url_ttl_seconds=read.integer(
                "resultUrlTtlSeconds", default.result_url_ttl_seconds, 60, MAX_RESULT_URL_TTL_SECONDS
            ),
            log_retention_days=read.log_retention("logRetentionDays", default.log_retention_days),
            log_level=read.choice("logLevel", LOG_LEVELS, default.log_level),
            tracing=read.boolean("tracing", default.tracing),
            api_gateway_cloudwatch_role=read.boolean(
                "apiGatewayCloudWatchRole", default.api_gateway_cloudwatch_role
            ),
            api_throttling_rate_limit=read.integer(
                "apiThrottlingRateLimit", default.api_throttling_rate_limit, 1, 10_000
            ),
            api_throttling_burst_limit=read.integer(
                "apiThrottlingBurstLimit", default.api_throttling_burst_limit, 1, 5_000
            ),
            callback_reserved_concurrency=read.integer(
                "callbackReservedConcurrency", default.callback_reserved_concurrency, 0, 10_000
            ),
            rejected_callbacks_threshold=read.integer(
                "rejectedCallbacksThreshold", default.rejected_callbacks_threshold, 1, 1_000_000
            ),
            deletion_protection=read.boolean("deletionProtection", default.deletion_protection),
            notify_email=read.subscription("notifyEmail", read.email("notifyEmail")),
            notify_queue=read.subscription("notifyQueue", read.boolean("notifyQueue", False)),
            notify_https=read.subscription("notifyHttps", read.url("notifyHttpsUrl", https_only=True)),
            alarm_email=read.email("alarmEmail"),
            alarm_topic_arn=read.pattern("alarmTopicArn", _TOPIC_ARN, ""),
            powertools_layer_arn=read.pattern("powertoolsLayerArn", _LAYER_ARN, ""),
        )
        read.raise_if_any()
        return settings

    @property
    def deepgram_secret_is_arn(self) -> bool:
        return self.deepgram_api_key_secret.startswith("arn:")


class _Reader:
    """Typed access to context values that records problems instead of failing on the first."""

    def __init__(self, context: ContextReader) -> None:
        self._context = context
        self._problems: list[str] = []

    def problem(self, key: str, message: str) -> None:
        self._problems.append(f"{key}: {message}")

    def raise_if_any(self) -> None:
        if self._problems:
            raise ConfigError("invalid CDK context:\n  - " + "\n  - ".join(self._problems))

    def raw(self, key: str) -> Any:
        value = self._context(key)
        return value.strip() if isinstance(value, str) else value

    def text(self, key: str) -> str:
        value = self.raw(key)
        if value is None:
            return ""
        if not isinstance(value, str):
            self.problem(key, f"expected a string, got {value!r}")
            return ""
        return value

    def pattern(self, key: str, regex: re.Pattern[str], default: str) -> str:
        value = self.text(key)
        if not value:
            return default
        if not regex.match(value):
            self.problem(key, f"{value!r} does not match {regex.pattern}")
            return default
        return value

    def choice(self, key: str, choices: tuple[str, ...], default: str, *, upper: bool = True) -> str:
        value = self.text(key)
        if not value:
            return default
        normalised = value.upper() if upper else value.lower()
        if normalised not in choices:
            self.problem(key, f"must be one of {', '.join(choices)}, got {value!r}")
            return default
        return normalised

    def integer(self, key: str, default: int, minimum: int, maximum: int) -> int:
        value = self.raw(key)
        if value is None or value == "":
            return default
        if isinstance(value, bool) or not isinstance(value, int | str):
            self.problem(key, f"expected an integer, got {value!r}")
            return default
        try:
            number = int(value)
        except ValueError:
            self.problem(key, f"expected an integer, got {value!r}")
            return default
        if not minimum <= number <= maximum:
            self.problem(key, f"must be between {minimum} and {maximum}, got {number}")
            return default
        return number

    def boolean(self, key: str, default: bool) -> bool:
        value = self.raw(key)
        if value is None or value == "":
            return default
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false"):
            return value.lower() == "true"
        self.problem(key, f"expected true or false, got {value!r}")
        return default

    def log_retention(self, key: str, default: int) -> int:
        days = self.integer(key, default, 1, max(LOG_RETENTION_DAYS))
        if days not in LOG_RETENTION_DAYS:
            self.problem(
                key, f"CloudWatch Logs accepts {', '.join(map(str, LOG_RETENTION_DAYS))}; got {days}"
            )
            return default
        return days

    def api_key_ids(self, key: str) -> str:
        """One Deepgram `api_key_id`, or several separated by commas, passed on unchanged."""
        value = self.text(key)
        if value and not _API_KEY_IDS.match(value):
            self.problem(
                key,
                f"give key identifiers separated by commas, with no spaces or empty entries, got {value!r}",
            )
            return ""
        return value

    def url(self, key: str, *, https_only: bool = False) -> str:
        value = self.text(key)
        schemes = ("https://",) if https_only else ("https://", "http://")
        if value and not value.startswith(schemes):
            self.problem(key, f"must start with {' or '.join(schemes)}, got {value!r}")
            return ""
        return value

    def email(self, key: str) -> str:
        value = self.text(key)
        if value and not _EMAIL.match(value):
            self.problem(key, f"not an email address: {value!r}")
            return ""
        return value

    def secret_reference(self, key: str) -> str:
        value = self.text(key)
        if not value:
            return ""
        if value.startswith("arn:"):
            if not _SECRET_ARN.match(value):
                self.problem(
                    key,
                    "give the secret's name, or its complete ARN (ending in the 6-character suffix "
                    f"Secrets Manager adds), got {value!r}",
                )
                return ""
        elif not _SECRET_NAME.match(value):
            self.problem(key, f"not a valid secret name: {value!r}")
            return ""
        return value

    def filter_policy(self, key: str) -> dict[str, list[Any]]:
        """An SNS message-attribute filter policy: a JSON object whose values are lists."""
        value = self.raw(key)
        if value is None or value == "":
            return {}
        if isinstance(value, str):
            try:
                value = json.loads(value)
            except json.JSONDecodeError as error:
                self.problem(key, f"not valid JSON ({error.msg})")
                return {}
        if not isinstance(value, dict) or not value:
            self.problem(key, 'must be a non-empty JSON object, e.g. {"status": ["completed"]}')
            return {}
        bad = [
            name for name, conditions in value.items() if not isinstance(conditions, list) or not conditions
        ]
        if bad:
            self.problem(key, f"each attribute needs a non-empty list of conditions; fix {', '.join(bad)}")
            return {}
        return value

    def subscription(self, prefix: str, endpoint: str | bool) -> Subscription | None:
        """The subscription if enabled (a non-empty endpoint, or True), with its filter policy."""
        policy_key = f"{prefix}FilterPolicy"
        policy = self.filter_policy(policy_key)
        if not endpoint:
            if policy:
                self.problem(policy_key, f"set, but the {prefix} subscription is not enabled")
            return None
        return Subscription(endpoint=endpoint if isinstance(endpoint, str) else "", filter_policy=policy)
