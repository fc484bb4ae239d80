"""Every function setting declared once; read and validated once per cold start.

A `Setting` declares one value: its environment variable, how it is parsed (kind, default,
bounds or choices), one line of documentation and, where a deployer may choose it, its CDK
context key. Each function has one spec: a frozen dataclass whose fields are settings
(`SubmitSettings`, `CallbackSettings`, `StatusSettings`), listed in `FUNCTION_SETTINGS`.
Everything else is derived from those declarations:

- `Spec.from_environ(os.environ)`: the function's settings, built the first time it is invoked;
  a missing or malformed value fails the invocation with a `ConfigurationError` that names every
  problem at once, instead of an obscure `KeyError` deep inside a request;
- `Spec.to_environ(values)`: the function's environment, from the resources' names and ARNs and
  the deployer's values (used by the CDK app, the local stack, the benchmarks and the tests);
- the CDK context keys a deployer may set (`infra/config.py` parses them with the same
  declarations and `Rule`s) and the README's configuration tables (`infra.config`).

A new setting: one `Setting` here and one field in each spec that reads it. A new function: a
spec class (`SERVICE` and its fields) and an entry in `FUNCTION_SETTINGS`.

This module is imported at every cold start: standard library only.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Literal, Self

from functions.core.contract import DgTokenMode, Env, Services

DEFAULT_RETENTION_DAYS = 30
DEFAULT_DEEPGRAM_BASE_URL = "https://api.deepgram.com"
# Presigned URLs are signed with the function role's temporary credentials, which may expire
# sooner than a longer lifetime would promise.
MAX_RESULT_URL_TTL_SECONDS = 3600
# One Deepgram submission, retries included, must end well inside API Gateway's 29 s (the submit
# function times out at 28 s, infra/api.py).
DEEPGRAM_REQUEST_BUDGET_SECONDS = 27
CALLBACK_METHODS = ("POST", "PUT")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")

Kind = Literal["text", "url", "integer", "number", "boolean", "list", "json"]
"""How a raw value (an environment variable, or a CDK context value: a string from the command
line, a JSON value from cdk.json) becomes a typed one, and back into an environment variable."""

_SETTING = "setting"


class ConfigurationError(RuntimeError):
    """The function's environment is incomplete or invalid; the message lists every problem."""


@dataclass(frozen=True)
class Derived:
    """A default computed from other settings' values (`value_of(setting)`)."""

    compute: Callable[[Callable[[Setting], Any]], Any]
    doc: str


@dataclass(frozen=True, eq=False, repr=False)
class Setting:
    """One configuration value, declared once.

    `env` is the environment variable a function reads it from (None: a setting of the stack
    only); `context` the CDK context key a deployer sets it with (None: the stack supplies it,
    or it keeps its default). `required` settings have no default: the stack supplies them
    (resource names and ARNs). `check` adds a validation of the parsed value: a problem, or None.
    """

    doc: str
    env: str | None = None
    context: str | None = None
    kind: Kind = "text"
    default: Any = None
    required: bool = False
    minimum: float | None = None
    maximum: float | None = None
    choices: tuple[Any, ...] = ()
    schemes: tuple[str, ...] = ("https://", "http://")
    trailing_slash: bool = True
    check: Callable[[Any], str | None] | None = None
    default_doc: str | None = None

    def __repr__(self) -> str:
        return f"Setting({self.name})"

    @property
    def name(self) -> str:
        """The environment variable, or for a setting of the stack only its context key."""
        return self.env or self.context or "?"

    @property
    def initial(self) -> Any:
        """The value when nothing is given (a derived default is computed by the reader)."""
        if self.default is not None and not isinstance(self.default, Derived):
            return self.default
        return {"text": "", "url": "", "list": (), "json": {}}.get(self.kind)

    def field(self) -> Any:
        """The dataclass field of a spec that reads this setting."""
        metadata = {_SETTING: self}
        if self.required or isinstance(self.default, Derived):
            return dataclasses.field(metadata=metadata)
        initial = self.initial
        if isinstance(initial, dict):
            return dataclasses.field(default_factory=dict, metadata=metadata)
        return dataclasses.field(default=initial, metadata=metadata)

    def parse(self, raw: object) -> tuple[Any, str | None]:
        """The typed value of a non-empty raw value, or the initial value and a problem."""
        value, problem = _PARSERS[self.kind](self, raw)
        if problem is None:
            value, problem = self._validate(value)
        return (value, None) if problem is None else (self.initial, problem)

    def _validate(self, value: Any) -> tuple[Any, str | None]:
        if self.choices:
            if isinstance(value, str):
                value = next((c for c in self.choices if str(c).lower() == value.lower()), value)
            if value not in self.choices:
                return value, f"must be one of {', '.join(map(str, self.choices))}, got {value!r}"
        if isinstance(value, int | float) and not isinstance(value, bool):
            low = -float("inf") if self.minimum is None else self.minimum
            high = float("inf") if self.maximum is None else self.maximum
            if not low <= value <= high:
                return value, f"must be between {low:g} and {high:g}, got {value:g}"
        if self.check is not None:
            return value, self.check(value)
        return value, None

    def format(self, value: Any) -> str | None:
        """The environment variable's text for a value; None when there is nothing to write."""
        if value is None or (isinstance(value, str | tuple | list | dict) and not value):
            return None
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, float):
            return f"{value:g}"
        if isinstance(value, tuple | list):
            return ",".join(map(str, value))
        if isinstance(value, dict):
            return json.dumps(value, separators=(",", ":"))
        return str(value)

    def describe_default(self) -> str:
        """The default as the README states it."""
        if self.default_doc is not None:
            return self.default_doc
        if self.required:
            return "(set by the stack)"
        if isinstance(self.default, Derived):
            return self.default.doc
        return self.format(self.initial) or "(unset)"


def _text(setting: Setting, raw: object) -> tuple[Any, str | None]:
    if not isinstance(raw, str):
        return raw, f"must be a string, got {raw!r}"
    return raw, None


def _url(setting: Setting, raw: object) -> tuple[Any, str | None]:
    if not isinstance(raw, str) or not raw.startswith(setting.schemes):
        return raw, f"must start with {' or '.join(setting.schemes)}, got {raw!r}"
    return (raw if setting.trailing_slash else raw.rstrip("/")), None


def _integer(setting: Setting, raw: object) -> tuple[Any, str | None]:
    if isinstance(raw, int) and not isinstance(raw, bool):
        return raw, None
    try:
        return int(raw) if isinstance(raw, str) else int("?"), None
    except ValueError:
        return raw, f"must be an integer, got {raw!r}"


def _number(setting: Setting, raw: object) -> tuple[Any, str | None]:
    if isinstance(raw, int | float) and not isinstance(raw, bool):
        return float(raw), None
    try:
        return float(raw) if isinstance(raw, str) else float("?"), None
    except ValueError:
        return raw, f"must be a number, got {raw!r}"


def _boolean(setting: Setting, raw: object) -> tuple[Any, str | None]:
    if isinstance(raw, bool):
        return raw, None
    if isinstance(raw, str) and raw.lower() in ("true", "false"):
        return raw.lower() == "true", None
    return raw, f"must be true or false, got {raw!r}"


def _list(setting: Setting, raw: object) -> tuple[Any, str | None]:
    items = raw.split(",") if isinstance(raw, str) else raw
    if not isinstance(items, list | tuple):
        return raw, f"must be a comma-separated list, got {raw!r}"
    entries = tuple(str(item).strip() for item in items)
    if not all(entries) or any(len(entry.split()) != 1 for entry in entries):
        return raw, f"must be identifiers separated by commas, with no spaces or empty entries, got {raw!r}"
    return entries, None


def _json(setting: Setting, raw: object) -> tuple[Any, str | None]:
    if isinstance(raw, str):
        try:
            return json.loads(raw), None
        except json.JSONDecodeError as error:
            return raw, f"is not valid JSON ({error.msg})"
    return raw, None


_PARSERS: Mapping[Kind, Callable[[Setting, object], tuple[Any, str | None]]] = {
    "text": _text,
    "url": _url,
    "integer": _integer,
    "number": _number,
    "boolean": _boolean,
    "list": _list,
    "json": _json,
}


@dataclass(frozen=True, eq=False)
class Rule:
    """A condition on several settings, checked wherever all of them are read (the functions'
    environment, the CDK context). `message` is formatted with the settings' names (`{0}`, `{1}`)
    and their values (`{values[0]}`)."""

    settings: tuple[Setting, ...]
    holds: Callable[..., bool]
    message: str


def read_settings(
    settings: Iterable[Setting],
    rules: Iterable[Rule],
    *,
    source: Callable[[Setting], object],
    name: Callable[[Setting], str],
) -> tuple[dict[Setting, Any], list[str]]:
    """Parse every setting from `source` and check the rules: the values and every problem."""
    values: dict[Setting, Any] = {}
    problems: list[str] = []
    failed: set[Setting] = set()
    derived: list[Setting] = []
    for setting in settings:
        raw = source(setting)
        if isinstance(raw, str):
            raw = raw.strip()
        if raw is None or raw == "":
            if setting.required:
                problems.append(f"{name(setting)} is required but not set")
                failed.add(setting)
            elif isinstance(setting.default, Derived):
                derived.append(setting)
            values[setting] = setting.initial
            continue
        values[setting], problem = setting.parse(raw)
        if problem is not None:
            problems.append(f"{name(setting)} {problem}")
            failed.add(setting)
    for setting in derived:
        values[setting] = setting.default.compute(lambda other: values.get(other, other.initial))
    for rule in rules:
        if any(s not in values or s in failed for s in rule.settings):
            continue
        arguments = tuple(values[s] for s in rule.settings)
        if not rule.holds(*arguments):
            problems.append(rule.message.format(*map(name, rule.settings), values=arguments))
    return values, problems


class Spec:
    """A frozen dataclass whose fields are settings (declared with `Setting.field()`)."""

    RULES: ClassVar[tuple[Rule, ...]] = ()

    @classmethod
    def declarations(cls) -> dict[str, Setting]:
        """The settings of this spec, by attribute name."""
        return {
            field.name: field.metadata[_SETTING]
            for field in dataclasses.fields(cls)  # type: ignore[arg-type]
            if _SETTING in field.metadata
        }


# The one setting every function reads.
LOG_LEVEL = Setting(
    env=Env.LOG_LEVEL,
    context="logLevel",
    choices=LOG_LEVELS,
    default="INFO",
    doc="Log level of the functions (Lambda's application log level and Powertools'): "
    "DEBUG, INFO, WARNING or ERROR.",
)


@dataclass(frozen=True, kw_only=True)
class FunctionSettings(Spec):
    """The settings of one function; subclasses set `SERVICE` and add fields (and `RULES`)."""

    SERVICE: ClassVar[str] = ""

    log_level: str = LOG_LEVEL.field()

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> Self:
        declared = cls.declarations()
        values, problems = read_settings(
            declared.values(), cls.RULES, source=lambda s: environ.get(s.name), name=lambda s: s.name
        )
        if problems:
            raise ConfigurationError(f"{cls.SERVICE} function misconfigured: " + "; ".join(problems))
        return cls(**{attribute: values[setting] for attribute, setting in declared.items()})

    @classmethod
    def to_environ(cls, values: Mapping[Setting, object]) -> dict[str, str]:
        """This function's environment: `values` holds the resources' names and ARNs (strings,
        CDK tokens included) and any deployer's values; the other settings get their defaults.
        Values of settings this function does not read are ignored."""
        declared = list(cls.declarations().values())
        missing = [s.name for s in declared if s.required and _is_empty(values.get(s))]
        if missing:
            raise ValueError(f"the {cls.SERVICE} function's environment needs {', '.join(missing)}")
        resolved: dict[Setting, Any] = {}
        for setting in declared:
            given = values.get(setting)
            if not _is_empty(given):
                resolved[setting] = given
            elif not isinstance(setting.default, Derived):
                resolved[setting] = setting.initial
        for setting in declared:
            if setting not in resolved:
                resolved[setting] = setting.default.compute(
                    lambda other: resolved.get(other, values.get(other, other.initial))
                )
        return {
            setting.name: text
            for setting in declared
            if (text := setting.format(resolved[setting])) is not None
        }


def _is_empty(value: object) -> bool:
    return value is None or (isinstance(value, str | tuple | list | dict) and not value)


# --- the declarations ---------------------------------------------------------------------------

JOBS_TABLE = Setting(env=Env.JOBS_TABLE, required=True, doc="Name of the jobs table.")
IDEMPOTENCY_TABLE = Setting(
    env=Env.IDEMPOTENCY_TABLE, required=True, doc="Name of the table of Powertools idempotency records."
)
RESULTS_BUCKET = Setting(env=Env.RESULTS_BUCKET, required=True, doc="Name of the bucket of stored results.")
TOPIC_ARN = Setting(env=Env.TOPIC_ARN, required=True, doc="ARN of the SNS topic of job notifications.")
DEEPGRAM_API_KEY_SECRET = Setting(
    env=Env.DEEPGRAM_API_KEY_SECRET,
    required=True,
    doc="Name or ARN of the Secrets Manager secret holding the Deepgram API key.",
)
CALLBACK_SIGNING_SECRET = Setting(
    env=Env.CALLBACK_SIGNING_SECRET,
    required=True,
    doc="ARN of the secret the per-job callback credentials are derived from.",
)
CALLBACK_URL = Setting(
    env=Env.CALLBACK_URL,
    kind="url",
    required=True,
    trailing_slash=False,
    doc="URL of the callback function, handed to Deepgram with every job.",
)
CALLBACK_METHOD = Setting(
    env=Env.CALLBACK_METHOD,
    context="callbackMethod",
    choices=CALLBACK_METHODS,
    default="POST",
    doc="HTTP method Deepgram uses for the callback: POST or PUT.",
)
DEEPGRAM_BASE_URL = Setting(
    env=Env.DEEPGRAM_BASE_URL,
    context="deepgramBaseUrl",
    kind="url",
    trailing_slash=False,
    default=DEFAULT_DEEPGRAM_BASE_URL,
    doc="Deepgram API base URL (an emulator, a proxy).",
)
DEEPGRAM_TIMEOUT_SECONDS = Setting(
    env=Env.DEEPGRAM_TIMEOUT_SECONDS,
    context="deepgramTimeoutSeconds",
    kind="number",
    default=10.0,
    minimum=1,
    maximum=25,
    doc="Timeout of one Deepgram submit request (seconds).",
)
# The SDK honours a Retry-After of up to 60 s between retries, which would outlive API Gateway's
# 29 s: by default the client retries instead, safely, with an Idempotency-Key.
DEEPGRAM_MAX_RETRIES = Setting(
    env=Env.DEEPGRAM_MAX_RETRIES,
    context="deepgramMaxRetries",
    kind="integer",
    default=0,
    minimum=0,
    maximum=1,
    doc="SDK retries of a failed submit request "
    f"(timeout x (retries+1) <= {DEEPGRAM_REQUEST_BUDGET_SECONDS} s).",
)
RETENTION_DAYS = Setting(
    env=Env.RETENTION_DAYS,
    context="retentionDays",
    kind="integer",
    default=DEFAULT_RETENTION_DAYS,
    minimum=1,
    maximum=3650,
    doc="Days a job record and its stored result are kept (DynamoDB TTL, S3 lifecycle).",
)
SECRETS_MAX_AGE_SECONDS = Setting(
    env=Env.SECRETS_MAX_AGE_SECONDS,
    kind="integer",
    default=300,
    minimum=0,
    maximum=86400,
    doc="Seconds a function keeps a secret it read before reading it again (0: every time).",
)
DEEPGRAM_API_KEY_ID = Setting(
    env=Env.DEEPGRAM_API_KEY_ID,
    context="deepgramApiKeyId",
    kind="list",
    doc="`api_key_id` of the Deepgram key (not the key) for the optional `dg-token` check; a "
    "comma-separated list (`<old id>,<new id>`) while rotating the key.",
)
DG_TOKEN_MODE = Setting(
    env=Env.DG_TOKEN_MODE,
    context="dgTokenMode",
    choices=DgTokenMode.ALL,
    default=Derived(
        lambda value_of: DgTokenMode.IF_PRESENT if value_of(DEEPGRAM_API_KEY_ID) else DgTokenMode.OFF,
        "if-present with an API key id, else off",
    ),
    doc="How the callback treats Deepgram's `dg-token` header: off, if-present or required.",
)
RESULT_URL_TTL_SECONDS = Setting(
    env=Env.RESULT_URL_TTL_SECONDS,
    context="resultUrlTtlSeconds",
    kind="integer",
    default=900,
    minimum=60,
    maximum=MAX_RESULT_URL_TTL_SECONDS,
    doc=f"Lifetime of the presigned result URL returned by GET (60-{MAX_RESULT_URL_TTL_SECONDS}; the URL "
    "is signed with the function's temporary credentials, which expire).",
)

CALLBACK_DEADLINE_MINUTES = Setting(
    env=Env.CALLBACK_DEADLINE_MINUTES,
    context="callbackDeadlineMinutes",
    kind="integer",
    default=30,
    minimum=20,
    maximum=1440,
    doc="Minutes a submitted job waits for its result before the reconciler acts (Deepgram processes "
    "for up to 10 minutes, then retries a refused callback for about 5).",
)
RECOVER_LOST_CALLBACKS = Setting(
    env=Env.RECOVER_LOST_CALLBACKS,
    context="recoverLostCallbacks",
    choices=("fail", "resubmit"),
    default="fail",
    doc="What the reconciler does with a job whose result did not come: fail it, or submit it to "
    "Deepgram once more, by S3 delivery (a URL job, or an upload whose audio was kept).",
)
DEEPGRAM_PROJECT_ID = Setting(
    env=Env.DEEPGRAM_PROJECT_ID,
    context="deepgramProjectId",
    doc="Deepgram project id: the reconciler then reads Deepgram's log of a request whose result did "
    "not come, to say why (the key must be allowed to read the project's usage).",
)
RECONCILE_BATCH_SIZE = Setting(
    env=Env.RECONCILE_BATCH_SIZE,
    kind="integer",
    default=100,
    minimum=1,
    maximum=1000,
    doc="Jobs of each kind (overdue, owed a notification) one reconciler run handles; the next run "
    "takes the rest.",
)

RESULT_DELIVERY = Setting(
    env=Env.RESULT_DELIVERY,
    context="resultDelivery",
    choices=("callback", "s3"),
    default="callback",
    doc="How Deepgram hands results over unless a job asks (`delivery`): `callback` (POST/PUT to the "
    "callback function, up to its 6 MB) or `s3` (PUT to a presigned S3 URL, any size, then the finisher "
    "function).",
)
DELIVERY_ROLE_ARN = Setting(
    env=Env.DELIVERY_ROLE_ARN,
    doc="ARN of the role assumed (one session per job, limited to that job's delivery key) to sign "
    "the presigned S3 URL of an S3 delivery. Unset: S3 delivery is unavailable.",
)
KEEP_UPLOADED_AUDIO = Setting(
    env=Env.KEEP_UPLOADED_AUDIO,
    context="keepUploadedAudio",
    kind="boolean",
    default=False,
    doc="Keep uploaded audio in the results bucket (`audio/<job id>`, until the job expires or is "
    "deleted), so the reconciler can submit an upload again.",
)

CALLBACK_URL_WITHOUT_UNDERSCORE = Rule(
    (CALLBACK_URL,), lambda url: "_" not in url, "{0} must not contain '_': Deepgram rejects such URLs"
)
DEEPGRAM_REQUEST_BUDGET = Rule(
    (DEEPGRAM_TIMEOUT_SECONDS, DEEPGRAM_MAX_RETRIES),
    lambda timeout, retries: timeout * (retries + 1) <= DEEPGRAM_REQUEST_BUDGET_SECONDS,
    f"{{0}} x ({{1}} + 1) must stay under {DEEPGRAM_REQUEST_BUDGET_SECONDS} s so a submission never "
    "outlives API Gateway's 29 s integration timeout (got {values[0]:g} s x ({values[1]} + 1))",
)
S3_DELIVERY_NEEDS_A_ROLE = Rule(
    (RESULT_DELIVERY, DELIVERY_ROLE_ARN),
    lambda delivery, role_arn: delivery != "s3" or bool(role_arn),
    "{0}=s3 needs {1} (the role that signs each job's delivery URL)",
)
DG_TOKEN_CHECK_NEEDS_KEY_IDS = Rule(
    (DG_TOKEN_MODE, DEEPGRAM_API_KEY_ID),
    lambda mode, key_ids: mode == DgTokenMode.OFF or bool(key_ids),
    "{0}={values[0]} needs {1} (the api_key_id of the Deepgram key that submits)",
)


@dataclass(frozen=True, kw_only=True)
class SubmitSettings(FunctionSettings):
    SERVICE: ClassVar[str] = Services.SUBMIT
    RULES: ClassVar[tuple[Rule, ...]] = (
        CALLBACK_URL_WITHOUT_UNDERSCORE,
        DEEPGRAM_REQUEST_BUDGET,
        S3_DELIVERY_NEEDS_A_ROLE,
    )

    jobs_table: str = JOBS_TABLE.field()
    idempotency_table: str = IDEMPOTENCY_TABLE.field()
    results_bucket: str = RESULTS_BUCKET.field()
    result_delivery: str = RESULT_DELIVERY.field()
    delivery_role_arn: str = DELIVERY_ROLE_ARN.field()
    keep_uploaded_audio: bool = KEEP_UPLOADED_AUDIO.field()
    deepgram_api_key_secret_id: str = DEEPGRAM_API_KEY_SECRET.field()
    callback_signing_secret_id: str = CALLBACK_SIGNING_SECRET.field()
    callback_url: str = CALLBACK_URL.field()
    callback_method: str = CALLBACK_METHOD.field()
    deepgram_base_url: str = DEEPGRAM_BASE_URL.field()
    deepgram_timeout_seconds: float = DEEPGRAM_TIMEOUT_SECONDS.field()
    deepgram_max_retries: int = DEEPGRAM_MAX_RETRIES.field()
    retention_days: int = RETENTION_DAYS.field()
    secrets_max_age_seconds: int = SECRETS_MAX_AGE_SECONDS.field()
    callback_deadline_minutes: int = CALLBACK_DEADLINE_MINUTES.field()


@dataclass(frozen=True, kw_only=True)
class CallbackSettings(FunctionSettings):
    SERVICE: ClassVar[str] = Services.CALLBACK
    RULES: ClassVar[tuple[Rule, ...]] = (DG_TOKEN_CHECK_NEEDS_KEY_IDS,)

    jobs_table: str = JOBS_TABLE.field()
    results_bucket: str = RESULTS_BUCKET.field()
    topic_arn: str = TOPIC_ARN.field()
    callback_signing_secret_id: str = CALLBACK_SIGNING_SECRET.field()
    # A list, so that a key rotation can accept the old and the new key's identifier at once.
    deepgram_api_key_ids: tuple[str, ...] = DEEPGRAM_API_KEY_ID.field()
    dg_token_mode: str = DG_TOKEN_MODE.field()
    secrets_max_age_seconds: int = SECRETS_MAX_AGE_SECONDS.field()


@dataclass(frozen=True, kw_only=True)
class StatusSettings(FunctionSettings):
    SERVICE: ClassVar[str] = Services.STATUS

    jobs_table: str = JOBS_TABLE.field()
    results_bucket: str = RESULTS_BUCKET.field()
    result_url_ttl_seconds: int = RESULT_URL_TTL_SECONDS.field()
    retention_days: int = RETENTION_DAYS.field()


@dataclass(frozen=True, kw_only=True)
class ManageSettings(FunctionSettings):
    """The manage function deletes jobs (their results and kept audio) and redelivers notifications."""

    SERVICE: ClassVar[str] = Services.MANAGE

    jobs_table: str = JOBS_TABLE.field()
    results_bucket: str = RESULTS_BUCKET.field()
    topic_arn: str = TOPIC_ARN.field()


@dataclass(frozen=True, kw_only=True)
class ReconcilerSettings(FunctionSettings):
    SERVICE: ClassVar[str] = Services.RECONCILER
    RULES: ClassVar[tuple[Rule, ...]] = (CALLBACK_URL_WITHOUT_UNDERSCORE,)

    jobs_table: str = JOBS_TABLE.field()
    results_bucket: str = RESULTS_BUCKET.field()
    topic_arn: str = TOPIC_ARN.field()
    delivery_role_arn: str = DELIVERY_ROLE_ARN.field()
    deepgram_api_key_secret_id: str = DEEPGRAM_API_KEY_SECRET.field()
    callback_signing_secret_id: str = CALLBACK_SIGNING_SECRET.field()
    callback_url: str = CALLBACK_URL.field()
    callback_method: str = CALLBACK_METHOD.field()
    deepgram_base_url: str = DEEPGRAM_BASE_URL.field()
    deepgram_timeout_seconds: float = DEEPGRAM_TIMEOUT_SECONDS.field()
    deepgram_project_id: str = DEEPGRAM_PROJECT_ID.field()
    callback_deadline_minutes: int = CALLBACK_DEADLINE_MINUTES.field()
    recover_lost_callbacks: str = RECOVER_LOST_CALLBACKS.field()
    batch_size: int = RECONCILE_BATCH_SIZE.field()
    secrets_max_age_seconds: int = SECRETS_MAX_AGE_SECONDS.field()


@dataclass(frozen=True, kw_only=True)
class FinisherSettings(FunctionSettings):
    """The finisher stores results Deepgram PUT to S3 (`resultDelivery=s3`), by the callback's rules."""

    SERVICE: ClassVar[str] = Services.FINISHER

    jobs_table: str = JOBS_TABLE.field()
    results_bucket: str = RESULTS_BUCKET.field()
    topic_arn: str = TOPIC_ARN.field()
    callback_signing_secret_id: str = CALLBACK_SIGNING_SECRET.field()
    secrets_max_age_seconds: int = SECRETS_MAX_AGE_SECONDS.field()


FUNCTION_SETTINGS: dict[str, type[FunctionSettings]] = {
    spec.SERVICE: spec
    for spec in (
        SubmitSettings,
        CallbackSettings,
        StatusSettings,
        ManageSettings,
        ReconcilerSettings,
        FinisherSettings,
    )
}
"""Each function's spec by service name: the CDK app, the local stack and the README read it."""


def function_settings() -> list[Setting]:
    """Every setting some function reads, once each, in declaration order."""
    return list({s: None for spec in FUNCTION_SETTINGS.values() for s in spec.declarations().values()})


def function_rules() -> list[Rule]:
    return list({rule: None for spec in FUNCTION_SETTINGS.values() for rule in spec.RULES})


def readers_of(setting: Setting) -> list[str]:
    """The services whose functions read `setting`."""
    return [service for service, spec in FUNCTION_SETTINGS.items() if setting in spec.declarations().values()]


def environ_of_all(values: Mapping[Setting, object]) -> dict[str, str]:
    """The union of every function's environment, for a process that hosts them all (the local
    stack, the benchmarks)."""
    environment: dict[str, str] = {}
    for spec in FUNCTION_SETTINGS.values():
        for name, text in spec.to_environ(values).items():
            if environment.setdefault(name, text) != text:
                raise ValueError(f"{name} would differ between functions: {environment[name]!r}, {text!r}")
    return environment
