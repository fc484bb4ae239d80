"""Powertools Tracer only with `tracing=true`: it imports the X-Ray SDK even when disabled."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import pytest

from functions.core import tracing
from functions.core.contract import Env

PROBE = """
import sys
from functions.callback import handler
print("aws_xray_sdk" in sys.modules)
"""


@pytest.mark.parametrize(("disabled", "xray_loaded"), [("true", "False"), ("false", "True")])
def test_the_xray_sdk_is_imported_only_when_tracing_is_on(disabled: str, xray_loaded: str) -> None:
    environment = {
        "PATH": "",
        "PYTHONPATH": ".",
        Env.TRACE_DISABLED: disabled,
        "AWS_DEFAULT_REGION": "us-east-1",
    }
    answer = subprocess.run(
        [sys.executable, "-c", PROBE], env=environment, capture_output=True, text=True, check=True, timeout=60
    )
    assert answer.stdout.strip() == xray_loaded


def test_an_untraced_handler_is_left_unchanged(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(Env.TRACE_DISABLED, raising=False)

    def handler(event: Any, context: Any) -> str:
        return "answer"

    assert tracing.traced("callback")(handler) is handler
    tracing.annotate(job_id="x")  # no tracer: nothing to do, nothing raised


def test_a_traced_handler_is_wrapped_by_powertools_tracer(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(Env.TRACE_DISABLED, "false")
    monkeypatch.setattr(tracing, "_tracer", None)

    def handler(event: Any, context: Any) -> str:
        return "answer"

    wrapped = tracing.traced("callback")(handler)

    assert wrapped is not handler
    assert wrapped.__wrapped__ is handler  # type: ignore[attr-defined]
    assert type(tracing._tracer).__name__ == "Tracer"
    monkeypatch.setattr(tracing, "_tracer", None)
