"""In Lambda, a function's settings and clients are built in the init phase, then frozen for the GC."""

from __future__ import annotations

import gc

import pytest

from functions.core import snapstart
from functions.core.adapters.aws import warm_up_in_lambda


def test_outside_lambda_nothing_is_built_at_import(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AWS_LAMBDA_FUNCTION_NAME", raising=False)
    built: list[bool] = []

    warm_up_in_lambda(lambda: built.append(True))

    assert built == []


def test_in_lambda_the_factory_runs_at_init_and_what_it_made_is_frozen(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "callback")
    monkeypatch.setenv("AWS_EXECUTION_ENV", "AWS_Lambda_python3.14")
    built: list[object] = []
    gc.unfreeze()  # what earlier tests froze: the freeze below must be this one's
    try:
        warm_up_in_lambda(lambda: built.append(object()))

        assert len(built) == 1
        assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()


def test_in_lambda_the_snapstart_hooks_are_registered_before_the_factory_runs(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Registered during init (SnapStart takes its snapshot after it); a no-op without the runtime's
    `snapshot_restore_py`, which `tests/unit/test_snapstart.py` covers."""
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "callback")
    monkeypatch.setenv("AWS_EXECUTION_ENV", "AWS_Lambda_python3.14")
    order: list[str] = []

    def install() -> bool:
        order.append("hooks")
        return True

    monkeypatch.setattr(snapstart, "install", install)
    try:
        warm_up_in_lambda(lambda: order.append("factory"))
    finally:
        gc.unfreeze()

    assert order == ["hooks", "factory"]
