"""Deployment settings: every CDK context key the app reads, declared once, parsed in one place.

Values come from `cdk.json`, `cdk.context.json` or the command line (`-c key=value`). The
command line always delivers strings, cdk.json delivers JSON types; `functions.core.settings`
parses both. A bad value stops the synth with one error that lists every problem, before any
construct is built.

Two kinds of keys, both declared as a `Setting` with a context key:
- the functions' settings (`functions.core.settings`, one spec per function): their context keys,
  defaults, bounds, documentation and cross-field `Rule`s come from there; `Settings.function_values`
  holds what the deployer chose and `infra.functions.PipelineFunction` turns it into each function's
  environment (`to_environ`);
- the stack's own keys (`STACK_SETTINGS` below, no environment variable).

`describe_settings()` renders both as the README's configuration tables (`python -m infra.config`
rewrites them in README.md; a test checks they are current).
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from functions.core.contract import PRODUCT, Services
from functions.core.settings import (
    LOG_LEVEL,
    RETENTION_DAYS,
    Rule,
    Setting,
    Spec,
    function_rules,
    function_settings,
    read_settings,
    readers_of,
)

ContextReader = Callable[[str], Any]
"""How settings see the context: `app.node.try_get_context` or `dict.get`."""

# CloudWatch Logs accepts only these retention periods (days).
# fmt: off
LOG_RETENTION_DAYS = (
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653,
)
# fmt: on

_SECRET_ARN = re.compile(
    r"^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:[\w/+=.@-]+-[A-Za-z0-9]{6}$"
)
_SECRET_NAME = re.compile(r"^[\w/+=.@-]{1,512}$")
_LAYER_ARN = re.compile(r"^arn:aws[a-z-]*:lambda:[a-z0-9-]+:\d{12}:layer:[\w-]+:\d+$")
_TOPIC_ARN = re.compile(r"^arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:[\w-]{1,256}$")
_STACK_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9-]{0,127}$")
_STAGE_NAME = re.compile(r"^[A-Za-z0-9_-]{1,128}$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def _default_stack_name() -> str:
    return "".join(part.title() for part in PRODUCT.split("-"))


def _matches(regex: re.Pattern[str], what: str) -> Callable[[Any], str | None]:
    def check(value: Any) -> str | None:
        return None if regex.match(value) else f"must be {what}, got {value!r} (expected {regex.pattern})"

    return check


def _secret_reference(value: Any) -> str | None:
    if value.startswith("arn:"):
        if not _SECRET_ARN.match(value):
            return (
                "must be the secret's name, or its complete ARN (ending in the 6-character suffix "
                f"Secrets Manager adds), got {value!r}"
            )
    elif not _SECRET_NAME.match(value):
        return f"must be a valid secret name, got {value!r}"
    return None


SNAP_START_SERVICES = (Services.SUBMIT, Services.STATUS, Services.MANAGE, Services.CALLBACK)
"""The functions SnapStart may be turned on for: those a caller waits on (behind the API, and the
callback behind its Function URL). The reconciler and the finisher run in the background, where a
cold start costs nothing anyone waits for, and SnapStart would only add its charges."""

SNAP_START_ALL = "all"


def _snap_start_functions(value: Any) -> str | None:
    unknown = [name for name in value if name not in (*SNAP_START_SERVICES, SNAP_START_ALL)]
    if unknown:
        return (
            f"must name functions among {', '.join(SNAP_START_SERVICES)} (or {SNAP_START_ALL}), "
            f"got {', '.join(unknown)}"
        )
    return None


def _filter_policy(value: Any) -> str | None:
    """An SNS message-attribute filter policy: a JSON object whose values are non-empty lists."""
    if not isinstance(value, dict) or not value:
        return 'must be a non-empty JSON object, e.g. {"status": ["completed"]}'
    bad = [name for name, conditions in value.items() if not isinstance(conditions, list) or not conditions]
    if bad:
        return f"needs a non-empty list of conditions for each attribute; fix {', '.join(bad)}"
    return None


# --- the stack's own keys (the functions' keys are declared in functions/core/settings.py) ---------

STACK_NAME = Setting(
    context="stackName",
    default=_default_stack_name(),
    check=_matches(_STACK_NAME, "a CloudFormation stack name"),
    doc="CloudFormation stack name; deploy several copies with different names.",
)
STAGE_NAME = Setting(
    context="stageName",
    default="v1",
    check=_matches(_STAGE_NAME, "an API Gateway stage name"),
    doc="API Gateway stage name (the last segment of the API URL).",
)
DEEPGRAM_API_KEY_SECRET_REFERENCE = Setting(
    context="deepgramApiKeySecret",
    check=_secret_reference,
    default_doc="(created)",
    doc="Name or complete ARN of an existing Secrets Manager secret holding the Deepgram API key. "
    "Unset: the stack creates a placeholder secret for you to fill.",
)
LOG_RETENTION = Setting(
    context="logRetentionDays",
    kind="integer",
    default=30,
    choices=LOG_RETENTION_DAYS,
    doc="Retention of every log group (a CloudWatch Logs retention value).",
)
TRACING = Setting(
    context="tracing", kind="boolean", default=False, doc="X-Ray tracing on the API stage and the functions."
)
API_GATEWAY_CLOUDWATCH_ROLE = Setting(
    context="apiGatewayCloudWatchRole",
    kind="boolean",
    default=True,
    doc="Set this region's API Gateway CloudWatch Logs role (account setting that REST API access logs "
    "require). false if your account already manages it.",
)
API_THROTTLING_RATE_LIMIT = Setting(
    context="apiThrottlingRateLimit",
    kind="integer",
    default=10,
    minimum=1,
    maximum=10_000,
    doc="Stage-wide steady request rate (requests/s).",
)
API_THROTTLING_BURST_LIMIT = Setting(
    context="apiThrottlingBurstLimit",
    kind="integer",
    default=20,
    minimum=1,
    maximum=5_000,
    doc="Stage-wide burst of requests.",
)
CALLBACK_RESERVED_CONCURRENCY = Setting(
    context="callbackReservedConcurrency",
    kind="integer",
    default=0,
    minimum=0,
    maximum=10_000,
    default_doc="0 (off)",
    doc="Reserved concurrency of the public callback function, a cost guard. Needs unreserved quota "
    "in the account (new accounts often have little).",
)
SNAP_START = Setting(
    context="snapStart",
    kind="list",
    check=_snap_start_functions,
    default_doc="(off)",
    doc="Lambda SnapStart for these functions (comma-separated: "
    f"{', '.join(SNAP_START_SERVICES)}, or {SNAP_START_ALL}): each is then published as a version "
    "and invoked through its `live` alias. Faster cold starts; a charge per cached snapshot and per "
    "restore; changing it for the callback changes the callback URL. See docs/snapstart.md.",
)
RECONCILE_PERIOD_MINUTES = Setting(
    context="reconcilePeriodMinutes",
    kind="integer",
    default=5,
    minimum=1,
    maximum=60,
    doc="Minutes between two runs of the reconciler (which fails or resubmits jobs whose result is "
    "overdue and publishes notifications still owed).",
)
REJECTED_CALLBACKS_THRESHOLD = Setting(
    context="rejectedCallbacksThreshold",
    kind="integer",
    default=10,
    minimum=1,
    maximum=1_000_000,
    doc="Rejected callbacks in 5 minutes that raise the alarm.",
)
DELETION_PROTECTION = Setting(
    context="deletionProtection",
    kind="boolean",
    default=False,
    doc="true: DynamoDB deletion protection, stack termination protection, and tables, bucket, keys "
    "and secrets retained when the stack is deleted.",
)
NOTIFY_EMAIL = Setting(
    context="notifyEmail",
    check=_matches(_EMAIL, "an email address"),
    doc="Email address subscribed to job notifications.",
)
NOTIFY_EMAIL_FILTER_POLICY = Setting(
    context="notifyEmailFilterPolicy",
    kind="json",
    check=_filter_policy,
    doc="SNS filter policy (JSON) of the email subscription.",
)
NOTIFY_QUEUE = Setting(
    context="notifyQueue",
    kind="boolean",
    default=False,
    doc="true: an encrypted SQS queue (with a dead-letter queue) subscribed to notifications.",
)
NOTIFY_QUEUE_FILTER_POLICY = Setting(
    context="notifyQueueFilterPolicy",
    kind="json",
    check=_filter_policy,
    doc="SNS filter policy (JSON) of the queue subscription.",
)
NOTIFY_HTTPS_URL = Setting(
    context="notifyHttpsUrl",
    kind="url",
    schemes=("https://",),
    doc="HTTPS endpoint subscribed to notifications (must confirm the subscription).",
)
NOTIFY_HTTPS_FILTER_POLICY = Setting(
    context="notifyHttpsFilterPolicy",
    kind="json",
    check=_filter_policy,
    doc="SNS filter policy (JSON) of the HTTPS subscription.",
)
ALARM_EMAIL = Setting(
    context="alarmEmail",
    check=_matches(_EMAIL, "an email address"),
    doc="Email address told when an alarm fires (creates an encrypted alarm topic).",
)
ALARM_TOPIC_ARN = Setting(
    context="alarmTopicArn",
    check=_matches(_TOPIC_ARN, "an SNS topic ARN"),
    doc="Existing SNS topic that alarms notify (in addition to alarmEmail).",
)
POWERTOOLS_LAYER_ARN = Setting(
    context="powertoolsLayerArn",
    check=_matches(_LAYER_ARN, "a Lambda layer version ARN"),
    default_doc="(resolved)",
    doc="Explicit Powertools layer version ARN. Unset: resolved at deploy time from the public SSM "
    "parameter for the Powertools version pinned in requirements.txt.",
)


def _filters_an_enabled_subscription(policy: Setting, subscription: Setting) -> Rule:
    return Rule(
        (policy, subscription),
        lambda filter_policy, enabled: not filter_policy or bool(enabled),
        "{0} is set, but the subscription is not enabled ({1} is not set)",
    )


STACK_RULES = (
    _filters_an_enabled_subscription(NOTIFY_EMAIL_FILTER_POLICY, NOTIFY_EMAIL),
    _filters_an_enabled_subscription(NOTIFY_QUEUE_FILTER_POLICY, NOTIFY_QUEUE),
    _filters_an_enabled_subscription(NOTIFY_HTTPS_FILTER_POLICY, NOTIFY_HTTPS_URL),
)


def deployable_function_settings() -> list[Setting]:
    """The functions' settings a deployer may choose (those with a context key)."""
    return [setting for setting in function_settings() if setting.context]


def _no_context(key: str) -> Any:
    return None


def _function_defaults() -> Mapping[Setting, Any]:
    return Settings.from_context(_no_context).function_values


class ConfigError(ValueError):
    """One or more context values are invalid; the message lists all of them."""


@dataclass(frozen=True)
class Subscription:
    """One optional notification subscriber and the SNS filter policy it carries.

    `endpoint` is the email address or URL; the queue subscription has none (the stack creates it).
    """

    endpoint: str = ""
    filter_policy: Mapping[str, list[Any]] = field(default_factory=dict)


@dataclass(frozen=True, kw_only=True)
class Settings(Spec):
    """Everything the stack's constructs need to know about one deployment.

    The stack's own keys are fields; the functions' settings are in `function_values` (by
    `Setting`), read with `value()` (`retention_days` and `log_level` also shape the stack).
    """

    RULES = STACK_RULES

    stack_name: str = STACK_NAME.field()
    stage_name: str = STAGE_NAME.field()
    deepgram_api_key_secret: str = DEEPGRAM_API_KEY_SECRET_REFERENCE.field()
    log_retention_days: int = LOG_RETENTION.field()
    tracing: bool = TRACING.field()
    api_gateway_cloudwatch_role: bool = API_GATEWAY_CLOUDWATCH_ROLE.field()
    api_throttling_rate_limit: int = API_THROTTLING_RATE_LIMIT.field()
    api_throttling_burst_limit: int = API_THROTTLING_BURST_LIMIT.field()
    callback_reserved_concurrency: int = CALLBACK_RESERVED_CONCURRENCY.field()
    snap_start: tuple[str, ...] = SNAP_START.field()
    reconcile_period_minutes: int = RECONCILE_PERIOD_MINUTES.field()
    rejected_callbacks_threshold: int = REJECTED_CALLBACKS_THRESHOLD.field()
    deletion_protection: bool = DELETION_PROTECTION.field()
    notify_email_address: str = NOTIFY_EMAIL.field()
    notify_email_filter_policy: Mapping[str, list[Any]] = NOTIFY_EMAIL_FILTER_POLICY.field()
    notify_queue_enabled: bool = NOTIFY_QUEUE.field()
    notify_queue_filter_policy: Mapping[str, list[Any]] = NOTIFY_QUEUE_FILTER_POLICY.field()
    notify_https_url: str = NOTIFY_HTTPS_URL.field()
    notify_https_filter_policy: Mapping[str, list[Any]] = NOTIFY_HTTPS_FILTER_POLICY.field()
    alarm_email: str = ALARM_EMAIL.field()
    alarm_topic_arn: str = ALARM_TOPIC_ARN.field()
    powertools_layer_arn: str = POWERTOOLS_LAYER_ARN.field()
    function_values: Mapping[Setting, Any] = field(default_factory=_function_defaults)

    @classmethod
    def from_context(cls, context: ContextReader) -> Settings:
        """Read and validate every key; raise `ConfigError` naming all the bad ones."""
        stack = cls.declarations()
        functions = deployable_function_settings()
        rules = [
            *cls.RULES,
            *(rule for rule in function_rules() if all(s.context for s in rule.settings)),
        ]
        values, problems = read_settings(
            [*stack.values(), *functions],
            rules,
            source=lambda setting: context(str(setting.context)),
            name=lambda setting: str(setting.context),
        )
        if problems:
            raise ConfigError("invalid CDK context:\n  - " + "\n  - ".join(problems))
        return cls(
            **{attribute: values[setting] for attribute, setting in stack.items()},
            function_values={setting: values[setting] for setting in functions},
        )

    def value(self, setting: Setting) -> Any:
        """The deployer's value of one of the functions' settings (its default if unset)."""
        return self.function_values.get(setting, setting.initial)

    @property
    def retention_days(self) -> int:
        """Also the results bucket's lifecycle expiry."""
        return int(self.value(RETENTION_DAYS))

    @property
    def log_level(self) -> str:
        """Also every function's Lambda application log level."""
        return str(self.value(LOG_LEVEL))

    def snap_start_for(self, service: str) -> bool:
        """Whether `service`'s function runs with SnapStart (`snapStart` names it, or says all)."""
        chosen = set(self.snap_start)
        return service in SNAP_START_SERVICES and (service in chosen or SNAP_START_ALL in chosen)

    @property
    def deepgram_secret_is_arn(self) -> bool:
        return self.deepgram_api_key_secret.startswith("arn:")

    @property
    def notify_email(self) -> Subscription | None:
        return self._subscription(self.notify_email_address, self.notify_email_filter_policy)

    @property
    def notify_queue(self) -> Subscription | None:
        return self._subscription(self.notify_queue_enabled, self.notify_queue_filter_policy)

    @property
    def notify_https(self) -> Subscription | None:
        return self._subscription(self.notify_https_url, self.notify_https_filter_policy)

    @staticmethod
    def _subscription(endpoint: str | bool, policy: Mapping[str, list[Any]]) -> Subscription | None:
        if not endpoint:
            return None
        return Subscription(endpoint=endpoint if isinstance(endpoint, str) else "", filter_policy=policy)


# --- the README's configuration tables ---------------------------------------------------------

README = Path(__file__).resolve().parent.parent / "README.md"
README_BEGIN = "<!-- configuration tables: generated by `python -m infra.config` from the declarations -->"
README_END = "<!-- end of generated configuration tables -->"


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def describe_settings() -> str:
    """The configuration tables (Markdown): the stack's context keys, then the functions' settings."""
    lines = [
        "Stack:",
        "",
        "| key | default | meaning |",
        "| --- | --- | --- |",
        *(
            f"| `{s.context}` | {_cell(s.describe_default())} | {_cell(s.doc)} |"
            for s in Settings.declarations().values()
        ),
        "",
        "Functions (each reads its settings from its environment, which the stack writes; a setting "
        "with a key can be chosen with `-c key=value`):",
        "",
        "| key | variable | read by | default | meaning |",
        "| --- | --- | --- | --- | --- |",
        *(
            f"| {f'`{s.context}`' if s.context else '-'} | `{s.env}` | {', '.join(readers_of(s))} "
            f"| {_cell(s.describe_default())} | {_cell(s.doc)} |"
            for s in function_settings()
        ),
    ]
    return "\n".join(lines)


def readme_with_current_tables(readme: str) -> str:
    """`readme` with the text between the markers replaced by `describe_settings()`."""
    before, found, rest = readme.partition(README_BEGIN)
    _, found_end, after = rest.partition(README_END)
    if not (found and found_end):
        raise ValueError(f"README.md lacks the markers {README_BEGIN!r} ... {README_END!r}")
    return f"{before}{README_BEGIN}\n{describe_settings()}\n{README_END}{after}"


if __name__ == "__main__":
    current = README.read_text()
    README.write_text(readme_with_current_tables(current))
    sys.exit(0)
