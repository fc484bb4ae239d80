"""SnapStart runtime hooks (functions/core/snapstart.py): registered in Lambda's runtime only, and
after a restore each environment draws its own `random` sequence."""

from __future__ import annotations

import random
import sys
import types
from collections.abc import Callable

import pytest

from functions.core import snapstart


class FakeRuntimeHooks(types.ModuleType):
    """Stands in for `snapshot_restore_py`, which only Lambda's Python runtimes provide."""

    def __init__(self) -> None:
        super().__init__(snapstart.RUNTIME_HOOKS_MODULE)
        self.after: list[Callable[[], object]] = []

    def register_after_restore(self, hook: Callable[[], object]) -> None:
        self.after.append(hook)

    def restore(self) -> None:
        """What Lambda does on resuming an environment: the hooks, in the order of registration."""
        for hook in self.after:
            hook()


@pytest.fixture(autouse=True)
def _not_installed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(snapstart, "_registered", set())


@pytest.fixture
def runtime(monkeypatch: pytest.MonkeyPatch) -> FakeRuntimeHooks:
    hooks = FakeRuntimeHooks()
    monkeypatch.setitem(sys.modules, snapstart.RUNTIME_HOOKS_MODULE, hooks)
    return hooks


def test_outside_lambda_nothing_is_registered(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, snapstart.RUNTIME_HOOKS_MODULE, None)  # import fails

    assert snapstart.after_restore(lambda: None) is False
    assert snapstart.install() is False


def test_in_lambda_install_registers_the_reseeding_once(runtime: FakeRuntimeHooks) -> None:
    assert snapstart.install() is True
    assert snapstart.install() is True

    assert runtime.after == [snapstart.reseed_random]


def test_environments_resumed_from_one_snapshot_draw_different_random_sequences(
    runtime: FakeRuntimeHooks,
) -> None:
    saved = random.getstate()
    try:
        random.seed(20241118)
        snapshot = random.getstate()  # what every restored environment starts from

        def first_draws(*, restored: Callable[[], None]) -> list[float]:
            random.setstate(snapshot)
            restored()
            return [random.random() for _ in range(4)]

        # Without the hook, two environments make the same "random" draws (retry jitter in step).
        assert first_draws(restored=lambda: None) == first_draws(restored=lambda: None)

        snapstart.install()
        assert first_draws(restored=runtime.restore) != first_draws(restored=runtime.restore)
    finally:
        random.setstate(saved)
