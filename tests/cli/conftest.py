"""Fixtures of the `dgt` tests: a fake API on loopback, and a way to run the CLI in-process."""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from dgt.cli import main
from tests.cli.fake_api import FakeApi, running
from tests.e2e.conftest import pipeline, stack, stack_options  # noqa: F401  (the local stack, for e2e)


@dataclass(frozen=True)
class Run:
    code: int
    stdout: str
    stderr: str


def dgt(*argv: str) -> Run:
    """`dgt ARGV...` in this process; its exit code and what it printed."""
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), stdout=out, stderr=err)
    return Run(code, out.getvalue(), err.getvalue())


@pytest.fixture
def fake_api(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeApi]:
    """The fake API, with credentials in the environment and nothing else configured."""
    for name in ("DGT_API_URL", "DGT_ENDPOINTS_FILE", "AWS_PROFILE", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY")
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    with running() as api:
        yield api
