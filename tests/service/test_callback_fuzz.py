"""Property-based fuzzing of the callback (Hypothesis).

Generated requests (methods, header sets, bodies, credentials, an optional fault on one port) go
through `CallbackService.handle` on the in-memory fakes, and a smaller set through the Lambda
handler on moto. Properties:

* nothing escapes `handle`, and there is no 5xx unless a dependency fault was injected;
* a request that is not authenticated and well-formed changes nothing (no job change, no blob,
  no notification);
* a well-formed, authenticated result completes its job exactly once: stored as strict JSON
  without the job's secret, one notification; delivering it again is a duplicate.

Bounded for CI (derandomized, no example database, a few thousand examples in seconds);
`FUZZ_EXAMPLES=50000` runs more (and randomized, with `FUZZ_SEED` to pick a seed).
"""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import boto3
from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st

from functions.callback import handler as callback_handler
from functions.core.adapters.dynamodb import DynamoJobRepository
from functions.core.callback_auth import callback_secret
from functions.core.jobs import new_job_id, utc_now
from local.events import LambdaContext, function_url_event
from tests.conftest import DEEPGRAM_API_KEY_ID as STACK_DG_KEY_ID
from tests.conftest import SIGNING_KEY as STACK_SIGNING_KEY
from tests.conftest import Stack
from tests.service.callback_fixtures import (
    DEEPGRAM_API_KEY_ID,
    RETRY_INTERVAL,
    SIGNING_KEY,
    Harness,
    JobRef,
    compact,
    create_job,
    failure_payload,
    is_strict_json,
    nested,
    success_payload,
)
from tests.service.conftest import basic_authorization

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "0"))
FUZZ_SEED = os.environ.get("FUZZ_SEED")


Test = TypeVar("Test", bound=Callable[..., None])


def fuzz_settings(default_examples: int) -> Callable[[Test], Test]:
    """CI: derandomized, database-less, `default_examples`; FUZZ_EXAMPLES=n: n random examples."""
    examples = EXAMPLES or default_examples
    configured = settings(
        max_examples=examples,
        deadline=None,
        database=None,
        derandomize=not EXAMPLES,
        suppress_health_check=[
            HealthCheck.too_slow,
            HealthCheck.data_too_large,
            HealthCheck.large_base_example,
            HealthCheck.filter_too_much,
            HealthCheck.function_scoped_fixture,
        ],
        print_blob=True,
    )

    def apply(test: Test) -> Test:
        test = configured(test)
        if EXAMPLES and FUZZ_SEED is not None:
            test = seed(int(FUZZ_SEED))(test)
        return test

    return apply


# --- strategies --------------------------------------------------------------------------------

# Who the target job is and which other identities a request may carry.
TARGET, OTHER, UNKNOWN = "target", "other", "unknown"  # UNKNOWN: valid HMAC, job never created

METHODS = st.one_of(
    st.sampled_from(["POST", "PUT"]),
    st.sampled_from(
        ["post", "put", "Post", "GET", "DELETE", "PATCH", "OPTIONS", "HEAD", "", "POST ", "P\u00d6ST"]
    ),
    st.text(max_size=8),
)

HUGE = 200_000
json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**50), max_value=10**50),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=20),
)
json_values = st.recursive(
    json_scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4), st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=20,
)
# Raw JSON number texts, including those no strict reader accepts.
RAW_NUMBERS = st.sampled_from(
    [
        "NaN",
        "Infinity",
        "-Infinity",
        "1e400",
        "-1e400",
        "1e-200",
        "1e-400",
        "0.0",
        "-0",
        "1" * 40,
        "9" * 4000,
        "9" * 4301,
        "9" * 5000,
        "-" + "9" * 5000,
        "1E+308",
        "2.5e-324",
    ]
)
WRONG_TYPES = st.sampled_from([None, 0, 1.5, True, "text", [], [1, 2], {}, {"a": 1}, "x" * 1000])


@dataclass(frozen=True)
class Credential:
    """A credential as the test knows it: whose it is and whether it is valid."""

    kind: str  # "none" | "valid" | "wrong-password" | "garbage"
    owner: str | None = None  # TARGET, OTHER, UNKNOWN for "valid"/"wrong-password"


@dataclass(frozen=True)
class Plan:
    """One generated request, with what the test knows about it."""

    method: str
    dg_token: str | None
    basic: Credential
    extra: Credential
    body_kind: str  # "success" | "failure" | a mangled or random kind
    body_recipe: Any
    fault: tuple[str, str, bool] | None  # (port, operation, permanent)
    basic_header: str | None = None  # a garbage Authorization value, for kind "garbage"
    extra_value: Any = None  # garbage metadata.extra, for kind "garbage"


GARBAGE_AUTHORIZATION = st.one_of(
    st.sampled_from(
        [
            "",
            "Basic",
            "Basic ",
            "Basic ÿÿÿÿ",
            "Basic not base64!",
            "Basic ====",
            "Bearer abc.def.ghi",
            "Token 123",
            "basic " + base64.b64encode(b"a:b").decode(),
            "Basic " + base64.b64encode(b"\xff\xfe:\xff").decode(),
            "Basic " + base64.b64encode(b"no-separator").decode(),
            "Basic " + base64.b64encode(b":").decode(),
            "Basic " + "A" * HUGE,
            "Basic \ud800",
            "\u2603 \u2603",
        ]
    ),
    st.text(max_size=40),
    st.binary(max_size=40).map(lambda raw: "Basic " + base64.b64encode(raw).decode()),
    st.text(max_size=40).map(lambda text: "Basic " + text),
)
GARBAGE_EXTRA = st.one_of(
    WRONG_TYPES,
    st.fixed_dictionaries(
        {"callback_secret": st.one_of(WRONG_TYPES, st.text(max_size=70), st.just("\ud800"))}
    ),
    st.fixed_dictionaries(
        {
            "job_id": st.one_of(WRONG_TYPES, st.text(max_size=40), st.just("\ud800"), st.just("0" * 32)),
            "callback_secret": st.one_of(st.text(max_size=70), st.just("a" * 64)),
        }
    ),
    st.fixed_dictionaries({"job_id": st.text(max_size=40)}),  # a job_id alone is no credential
)


def credentials(garbage_kind: str) -> st.SearchStrategy[Credential]:
    return st.one_of(
        st.just(Credential("none")),
        st.sampled_from([TARGET, OTHER, UNKNOWN]).map(lambda owner: Credential("valid", owner)),
        st.sampled_from([TARGET, OTHER]).map(lambda owner: Credential("wrong-password", owner)),
        st.just(Credential(garbage_kind)),
    )


WELL_FORMED = ("success", "failure")
BODY_KINDS = st.sampled_from(
    [
        "success",
        "success",
        "failure",
        "random-json",
        "wrong-types",
        "truncated",
        "non-utf8",
        "deep",
        "huge-string",
        "raw-number",
        "empty",
        "not-object",
    ]
)
FAULTS = st.one_of(
    st.none(),
    st.none(),
    st.tuples(
        st.sampled_from(
            [
                ("jobs", "finish"),
                ("jobs", "claim_notification"),
                ("jobs", "mark_notified"),
                ("jobs", "release_notification"),
                ("blobs", "put"),
                ("blobs", "delete"),
                ("publisher", "publish"),
                ("secrets", "get"),
            ]
        ),
        st.booleans(),
    ).map(lambda pair: (pair[0][0], pair[0][1], pair[1])),
)


@st.composite
def body_recipes(draw: st.DrawFn, kind: str) -> Any:  # noqa: PLR0911 (one branch per kind)
    """What varies in a body of `kind` (the credentials are filled in later)."""
    if kind == "random-json":
        return draw(json_values)
    if kind == "wrong-types":
        return draw(
            st.fixed_dictionaries(
                {},
                optional={
                    "metadata": st.one_of(WRONG_TYPES, st.fixed_dictionaries({"request_id": WRONG_TYPES})),
                    "results": WRONG_TYPES,
                    "request_id": WRONG_TYPES,
                    "err_code": WRONG_TYPES,
                    "err_msg": WRONG_TYPES,
                },
            )
        )
    if kind == "truncated":
        return draw(st.floats(min_value=0.0, max_value=0.999))
    if kind == "non-utf8":
        return draw(
            st.one_of(st.binary(max_size=64), st.sampled_from([b"\xff", b"\xc3", b"\xed\xa0\x80", b"\x00"]))
        )
    if kind == "deep":
        return draw(st.sampled_from([10, 100, 400, 600, 900, 1000, 5000, 50_000]))
    if kind == "huge-string":
        return draw(st.sampled_from(["transcript", "detected_language", "err_msg", "request_id", "key"]))
    if kind == "raw-number":
        return (
            draw(RAW_NUMBERS),
            draw(st.sampled_from(["duration", "channels", "confidence", "deep", "extra", "top"])),
        )
    if kind == "not-object":
        return draw(
            st.sampled_from([b"[]", b"null", b"1", b'"x"', b"NaN", b"[{}]", b"\xef\xbb\xbf{}", b" {} "])
        )
    return None


@st.composite
def plans(draw: st.DrawFn) -> Plan:
    basic = draw(credentials("garbage"))
    extra = draw(credentials("garbage"))
    kind = draw(BODY_KINDS)
    return Plan(
        method=draw(METHODS),
        dg_token=draw(
            st.one_of(
                st.just(DEEPGRAM_API_KEY_ID),
                st.none(),
                st.just(""),
                st.text(max_size=30),
                st.just("\ud800"),
                st.just(DEEPGRAM_API_KEY_ID + " "),
            )
        ),
        basic=basic,
        extra=extra,
        body_kind=kind,
        body_recipe=draw(body_recipes(kind)),
        fault=draw(FAULTS),
        basic_header=draw(GARBAGE_AUTHORIZATION) if basic.kind == "garbage" else None,
        extra_value=draw(GARBAGE_EXTRA) if extra.kind == "garbage" else None,
    )


# --- building the request ----------------------------------------------------------------------


@dataclass(frozen=True)
class World:
    target: JobRef
    other: JobRef
    unknown: JobRef  # never created
    signing_key: str

    def job(self, owner: str) -> JobRef:
        return {TARGET: self.target, OTHER: self.other, UNKNOWN: self.unknown}[owner]

    def secret(self, job: JobRef) -> str:
        return callback_secret(self.signing_key, job.job_id)


def authorization_of(plan: Plan, world: World) -> str | None:
    credential = plan.basic
    if credential.kind == "none":
        return None
    if credential.kind == "garbage":
        return plan.basic_header
    assert credential.owner is not None
    job = world.job(credential.owner)
    password = world.secret(job) if credential.kind == "valid" else world.secret(job)[::-1]
    return basic_authorization(job.job_id, password)


def extra_of(plan: Plan, world: World) -> Any:
    credential = plan.extra
    if credential.kind == "none":
        return None
    if credential.kind == "garbage":
        return plan.extra_value
    assert credential.owner is not None
    job = world.job(credential.owner)
    secret = world.secret(job) if credential.kind == "valid" else "f" * 64
    return {"job_id": job.job_id, "callback_secret": secret, "other": "kept"}


def body_of(plan: Plan, world: World) -> bytes:  # noqa: PLR0911, PLR0912 (one branch per kind)
    extra = extra_of(plan, world)
    request_id = world.target.request_id

    def base() -> dict[str, Any]:
        payload = success_payload(request_id=request_id)
        if plan.extra.kind != "none":
            payload["metadata"]["extra"] = extra
        return payload

    kind, recipe = plan.body_kind, plan.body_recipe
    if kind == "success":
        return compact(base())
    if kind == "failure":
        return compact(
            failure_payload(request_id=request_id, extra=extra if plan.extra.kind != "none" else None)
        )
    if kind == "random-json":
        return (
            compact(recipe)
            if not isinstance(recipe, dict)
            else compact({**recipe, **_with_extra(plan, extra)})
        )
    if kind == "wrong-types":
        document = dict(recipe)
        metadata = document.get("metadata")
        if plan.extra.kind != "none" and isinstance(metadata, dict):
            metadata = {**metadata, "extra": extra}
            document["metadata"] = metadata
        return compact(document)
    if kind == "truncated":
        whole = compact(base())
        return whole[: int(len(whole) * float(recipe))]
    if kind == "non-utf8":
        whole = compact(base())
        return whole[:20] + bytes(recipe) + whole[20:]
    if kind == "deep":
        return compact(base())[:-1] + b',"deep":' + nested(int(recipe)).encode() + b"}"
    if kind == "huge-string":
        payload = base()
        big = "x" * HUGE
        if recipe == "transcript":
            payload["results"]["channels"][0]["alternatives"][0]["transcript"] = big
        elif recipe == "detected_language":
            payload["results"]["channels"][0]["detected_language"] = big
        elif recipe == "err_msg":
            payload = failure_payload(
                request_id=request_id, extra=extra if plan.extra.kind != "none" else None
            )
            payload["err_msg"] = big
        elif recipe == "request_id":
            payload["metadata"]["request_id"] = big
        else:
            payload["results"][big] = 1
        return compact(payload)
    if kind == "raw-number":
        text, place = str(recipe[0]), str(recipe[1])
        whole = compact(base())
        marker = b'"duration":3.25'
        if place == "duration":
            return whole.replace(marker, b'"duration":' + text.encode())
        if place == "channels":
            return whole.replace(b'"channels":1,', b'"channels":' + text.encode() + b",")
        if place == "confidence":
            return whole.replace(b'"confidence":0.93', b'"confidence":' + text.encode())
        if place == "extra" and plan.extra.kind != "none":
            return whole.replace(b'"other":"kept"', b'"other":' + text.encode())
        if place == "top":
            return whole[:-1] + b',"n":' + text.encode() + b"}"
        return whole[:-1] + b',"deep":[[{"n":[' + text.encode() + b"]}]]}"
    if kind == "empty":
        return b""
    assert kind == "not-object"
    return bytes(recipe)


def _with_extra(plan: Plan, extra: Any) -> dict[str, Any]:
    return {"metadata": {"extra": extra}} if plan.extra.kind != "none" else {}


def proves(credential: Credential, owner: str) -> bool:
    return credential.kind == "valid" and credential.owner == owner


def expectation(plan: Plan) -> str:  # noqa: PLR0911 (one branch per kind)
    """What the service must do with `plan`, from what the test knows of its credentials:
    "reject" (4xx, or 503 on a fault; nothing changes), "complete" (the target job completes
    exactly once) or "either" (no crash, no 5xx without a fault, a 4xx changes nothing)."""
    if plan.method not in ("POST", "PUT"):
        return "reject"
    if plan.dg_token not in (None, "", DEEPGRAM_API_KEY_ID, DEEPGRAM_API_KEY_ID + " "):
        return "reject"
    if plan.basic.kind not in ("none", "valid"):
        return "reject"  # presented Basic credentials must be valid
    basic_owner = plan.basic.owner if plan.basic.kind == "valid" else None
    extra_owner = plan.extra.owner if plan.extra.kind == "valid" else None
    if basic_owner is None and extra_owner is None:
        return "reject"  # no valid proof for any job anywhere in the request
    if basic_owner == UNKNOWN:
        return "reject"  # 401 or 404: there is no such job to change
    if plan.body_kind not in WELL_FORMED:
        return "either"
    if plan.extra.kind == "wrong-password" or (
        plan.extra.kind == "garbage" and _garbage_is_a_credential(plan)
    ):
        return "reject"  # presented extra credentials must be valid
    if basic_owner and extra_owner and basic_owner != extra_owner:
        return "reject"  # credentials naming two jobs
    owner = basic_owner or extra_owner
    # UNKNOWN: no such job (404); OTHER: the body names the target's request_id (403).
    return "complete" if owner == TARGET else "reject"


def _garbage_is_a_credential(plan: Plan) -> bool:
    """Garbage `metadata.extra` is a (bad) credential when it holds a `callback_secret`."""
    return isinstance(plan.extra_value, dict) and "callback_secret" in plan.extra_value


# --- the properties ----------------------------------------------------------------------------


def new_world(harness: Harness) -> World:
    target = harness.job()
    other = harness.job()
    unknown = JobRef(new_job_id(), "00000000-0000-0000-0000-000000000000")
    return World(target=target, other=other, unknown=unknown, signing_key=SIGNING_KEY)


def inject(harness: Harness, fault: tuple[str, str, bool] | None) -> Any:
    if fault is None:
        return None
    port, operation, permanent = fault
    faults = getattr(harness, port).faults
    faults.fail(operation, permanent=permanent)
    return faults


def assert_completed_once(harness: Harness, world: World, job_id: str, *, notifications: range) -> None:
    """`job_id` has its final state and a strict, secret-free result; nothing else changed."""
    [ref] = [job for job in (world.target, world.other) if job.job_id == job_id]
    job = harness.stored(ref)
    assert not job.awaiting_result, job.status
    assert job.result is not None
    stored_body = harness.stored_body(ref)
    assert is_strict_json(stored_body), stored_body[:200]
    assert ref.secret.encode() not in stored_body
    text = harness.status().describe(job_id).to_json()
    assert is_strict_json(text)
    assert ref.secret not in text
    published = harness.notifications()
    assert len(published) in notifications, published
    for message in published:
        assert is_strict_json(message)
        assert ref.secret not in message
    for untouched in (world.target, world.other):
        if untouched.job_id != job_id:
            assert harness.stored(untouched).result is None


def expected_notifications(fault: tuple[str, str, bool] | None) -> range:
    """A permanent publish refusal leaves the job unnotified (for the reconciler); a later
    duplicate delivery may publish it then. A failed `mark_notified` after a successful publish
    leaves the job looking unnotified once the lease runs out, so a duplicate delivery after
    that publishes again: at-least-once by design (see `notifier.publish_under_lease`)."""
    if fault is not None and fault[:2] == ("publisher", "publish") and fault[2]:
        return range(2)
    if fault is not None and fault[:2] == ("jobs", "mark_notified"):
        return range(1, 3)
    return range(1, 2)


@fuzz_settings(1000)
@given(plan=plans())
def test_fuzzed_requests_never_crash_and_only_authenticated_well_formed_results_change_state(
    plan: Plan,
) -> None:
    harness = Harness()
    world = new_world(harness)
    request_body = body_of(plan, world)
    authorization = authorization_of(plan, world)
    faults = inject(harness, plan.fault)
    before = harness.snapshot()
    expected = expectation(plan)

    result = harness.deliver(
        request_body, authorization=authorization, method=plan.method, dg_token=plan.dg_token
    )

    injected = bool(faults and faults.injected)
    assert result.status_code != 500, (result.reason, result.detail)
    assert result.status_code < 500 or injected, (result.status_code, result.reason, result.detail)
    if result.status_code == 503:
        assert result.headers.get("Retry-After") == str(RETRY_INTERVAL)
    if 400 <= result.status_code < 500:
        assert harness.snapshot() == before, (result.status_code, result.reason)
    if expected == "reject":
        assert 400 <= result.status_code < 500 or (injected and result.status_code == 503), (
            result.status_code,
            result.reason,
            result.detail,
        )
        assert harness.snapshot() == before
        return
    if expected == "either":
        if result.outcome == "accepted":
            assert result.job_id is not None
            assert_completed_once(
                harness, world, result.job_id, notifications=expected_notifications(plan.fault)
            )
        return

    # A well-formed result for the target, properly authenticated: completes exactly once.
    attempts = 1
    while result.status_code == 503 and attempts < 3:
        harness.clock.advance(RETRY_INTERVAL)
        result = harness.deliver(
            request_body, authorization=authorization, method=plan.method, dg_token=plan.dg_token
        )
        attempts += 1
    assert result.status_code == 200, (result.status_code, result.reason, result.detail, plan.fault)
    assert_completed_once(
        harness, world, world.target.job_id, notifications=expected_notifications(plan.fault)
    )
    harness.clock.advance(RETRY_INTERVAL)
    again = harness.deliver(
        request_body, authorization=authorization, method=plan.method, dg_token=plan.dg_token
    )
    assert (again.status_code, again.outcome) == (200, "duplicate"), (again.reason, again.detail)
    assert_completed_once(
        harness, world, world.target.job_id, notifications=expected_notifications(plan.fault)
    )


@fuzz_settings(300)
@given(
    first=st.sampled_from(["success", "failure"]),
    second_same=st.booleans(),
    both_auth=st.sampled_from(["basic", "extra", "both"]),
    deliveries=st.integers(min_value=2, max_value=5),
    fault=FAULTS,
)
def test_well_formed_result_completes_exactly_once_however_often_delivered(
    first: str, second_same: bool, both_auth: str, deliveries: int, fault: tuple[str, str, bool] | None
) -> None:
    harness = Harness()
    job = harness.job()
    extra = job.extra if both_auth in ("extra", "both") else None
    authorization = job.basic if both_auth in ("basic", "both") else None
    if first == "success":
        body = compact(success_payload(request_id=job.request_id, extra=extra))
    else:
        body = compact(failure_payload(request_id=job.request_id, extra=extra))
    inject(harness, fault)
    answers = []
    for _ in range(deliveries):
        answers.append(harness.deliver(body, authorization=authorization))
        harness.clock.advance(RETRY_INTERVAL)
    codes = [answer.status_code for answer in answers]
    assert 500 not in codes
    assert 200 in codes, [(a.status_code, a.reason, a.detail) for a in answers]
    assert [a.outcome for a in answers].count("accepted") <= 1
    assert not harness.stored(job).awaiting_result
    assert len(harness.notifications()) in expected_notifications(fault)
    if not second_same:
        # A different body for the finished job is a conflict and changes nothing.
        before = harness.snapshot()
        other = compact(success_payload(request_id=job.request_id, extra=extra, transcript="something else"))
        conflict = harness.deliver(other, authorization=authorization)
        assert conflict.status_code == 409, (conflict.reason, conflict.detail)
        assert harness.snapshot() == before


# --- through the Lambda handler on moto --------------------------------------------------------


@st.composite
def handler_events(draw: st.DrawFn) -> tuple[Plan, bool, str | None]:
    plan = draw(plans())
    base64_mode = draw(st.sampled_from(["auto", "forced", "broken"]))
    broken = (
        draw(st.sampled_from(["!!!not base64!!!", "YQ", "\u00e9", "===="]))
        if base64_mode == "broken"
        else None
    )
    return plan, base64_mode == "forced", broken


@fuzz_settings(150)
@given(generated=handler_events())
def test_fuzzed_events_through_the_lambda_handler(
    aws: Stack, generated: tuple[Plan, bool, str | None]
) -> None:
    plan, force_base64, broken_base64 = generated
    repository = DynamoJobRepository(boto3.client("dynamodb"), aws.resources.names.jobs_table)
    target = create_job(repository, utc_now())
    other = create_job(repository, utc_now())
    world = World(
        target=target,
        other=other,
        unknown=JobRef(new_job_id(), "00000000-0000-0000-0000-000000000000"),
        signing_key=STACK_SIGNING_KEY,
    )
    body = body_of(plan, world)
    headers = {"content-type": "application/json"}
    if plan.dg_token is not None:
        headers["dg-token"] = STACK_DG_KEY_ID if plan.dg_token == DEEPGRAM_API_KEY_ID else plan.dg_token
    authorization = authorization_of(plan, world)
    if authorization is not None:
        headers["authorization"] = authorization
    event = function_url_event(method=plan.method or "POST", headers=headers, body=body)
    if force_base64:
        event["body"], event["isBase64Encoded"] = base64.b64encode(body).decode(), True
    if broken_base64 is not None:
        event["body"], event["isBase64Encoded"] = broken_base64, True

    response = callback_handler.lambda_handler(event, LambdaContext("callback"))

    assert response["statusCode"] < 500, response
    json.loads(response["body"])
    stored_other = repository.get(other.job_id)
    assert stored_other is not None
    assert stored_other.result is None
