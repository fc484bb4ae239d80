"""`parse_body`: the C parser alone (fast path) unless a number may not fit a float (slow path).

The fast path is what keeps a large delivery close to plain `json.loads`; the slow path is what
keeps every stored body strict JSON. These cases pin which body takes which, and that both agree."""

from __future__ import annotations

import json
import uuid

import pytest

from functions.callback import logic
from functions.callback.logic import EXPONENT_MATCHES_CHECKED, FLOAT_OVERFLOW_DIGITS, parse_body

OVERFLOWING = {
    "exponent": b'{"a":1e400}',
    "signed exponent": b'{"a": -1E+400}',
    "exponent with zeros": b'{"a":0.5E+0999}',
    "in an array after a newline": b'{"a":[1,\n 9e999]}',
    "long mantissa, two-digit exponent": b'{"a":' + b"9" * FLOAT_OVERFLOW_DIGITS + b"e99}",
    "300 digits and e10": b'{"a":1' + b"0" * 299 + b"e10}",
    "a decimal point in the middle": b'{"a":1' + b"0" * 250 + b"." + b"0" * 250 + b"e60}",
    "negative, after a tab": b'{"a":\n\t-1' + b"0" * 300 + b"e+10}",
    "long mantissa, no exponent": b'{"a":' + b"9" * 400 + b".5}",
}
CHECKED_AND_FINE = {
    "largest exponent": b'{"a":1.7e308}',
    "long mantissa that fits": b'{"a":' + b"1" * FLOAT_OVERFLOW_DIGITS + b".5e98}",
    "long integer": b'{"a":' + b"1" * FLOAT_OVERFLOW_DIGITS + b"}",
}
FINE = {
    "negative exponent": b'{"a":1e-400}',
    "hex id with e and digits": b'{"request_id":"3e123f0e999","b":1.5e10}',
    "exponent-like text": b'{"a":"bee123","b":"1e999"}',
    "the longest run that always fits": b'{"a":' + b"9" * (FLOAT_OVERFLOW_DIGITS - 1) + b"e99}",
}


@pytest.mark.parametrize("body", OVERFLOWING.values(), ids=OVERFLOWING.keys())
def test_a_number_no_float_holds_takes_the_slow_path_and_makes_the_body_lenient(body: bytes) -> None:
    assert logic._may_overflow(body)
    parsed = parse_body(body)
    assert parsed is not None
    assert not parsed.strict
    assert parsed.payload["a"] in (None, [1, None])


@pytest.mark.parametrize("body", FINE.values(), ids=FINE.keys())
def test_ordinary_numbers_and_ids_stay_on_the_fast_path_and_strict(body: bytes) -> None:
    assert not logic._may_overflow(body)
    parsed = parse_body(body)
    assert parsed is not None
    assert parsed.strict
    assert parsed.payload == json.loads(body)


@pytest.mark.parametrize("body", CHECKED_AND_FINE.values(), ids=CHECKED_AND_FINE.keys())
def test_a_number_that_may_not_fit_takes_the_slow_path_which_finds_it_fits(body: bytes) -> None:
    assert logic._may_overflow(body)
    parsed = parse_body(body)
    assert parsed is not None
    assert parsed.strict
    assert parsed.payload == json.loads(body)


def test_a_diarized_results_many_utterance_ids_stay_on_the_fast_path() -> None:
    """Utterance UUIDs look like exponents (`1e149`) more than `EXPONENT_MATCHES_CHECKED` times
    in a large result; each is told apart by what precedes it."""
    ids = [
        f"{index:04d}e{index % 1000:03d}-{uuid.UUID(int=index)}"
        for index in range(3 * EXPONENT_MATCHES_CHECKED)
    ]
    body = json.dumps(
        {"utterances": [{"id": id_, "start": 1.25} for id_ in ids], "pad": "x" * 200_000}
    ).encode()

    assert not logic._may_overflow(body)
    assert parse_body(body) is not None


def test_a_body_of_nothing_but_exponent_lookalikes_gives_up_looking_and_takes_the_slow_path() -> None:
    body = b'{"a":"' + b"3e123," * (EXPONENT_MATCHES_CHECKED * 10) + b'"}'

    assert logic._may_overflow(body)  # bounded work, then the slow path, which is always right
    parsed = parse_body(body)
    assert parsed is not None
    assert parsed.strict
