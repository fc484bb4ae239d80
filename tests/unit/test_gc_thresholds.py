"""Fewer collections during a cold start; the collector's defaults back after the first answer."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from pathlib import Path

import pytest

from functions.core import gc_thresholds
from functions.core.contract import HANDLERS

REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def cold_start_thresholds() -> Iterator[None]:
    """The thresholds a handler module's import sets; the process's own ones put back after."""
    before = gc.get_threshold()
    gc.unfreeze()  # what earlier tests froze: the freeze below must be this test's
    gc.set_threshold(*gc_thresholds.COLD_START_THRESHOLDS)
    try:
        yield
    finally:
        gc.unfreeze()
        gc.set_threshold(*before)


@pytest.mark.usefixtures("cold_start_thresholds")
def test_the_defaults_are_back_after_the_first_answer_and_what_it_made_is_frozen() -> None:
    calls: list[tuple[int, ...]] = []

    @gc_thresholds.restore_after_first_answer
    def handler(event: dict[str, int], context: object) -> int:
        calls.append(gc.get_threshold())
        return event["n"]

    assert gc.get_freeze_count() == 0
    assert handler({"n": 1}, None) == 1
    assert calls == [gc_thresholds.COLD_START_THRESHOLDS]
    assert gc.get_threshold() == gc_thresholds.DEFAULT_THRESHOLDS
    assert gc.get_freeze_count() > 0
    assert handler({"n": 2}, None) == 2
    assert calls[1] == gc_thresholds.DEFAULT_THRESHOLDS


@pytest.mark.usefixtures("cold_start_thresholds")
def test_a_first_invocation_that_raises_restores_them_too() -> None:
    @gc_thresholds.restore_after_first_answer
    def handler(event: object, context: object) -> None:
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        handler({}, None)
    assert gc.get_threshold() == gc_thresholds.DEFAULT_THRESHOLDS


@pytest.mark.parametrize("service", ["callback", "submit", "status", "manage"])
def test_each_api_handler_imports_it_first_and_restores_after_its_first_answer(service: str) -> None:
    module = HANDLERS[service].rsplit(".", 1)[0]
    lines = (REPO_ROOT / f"{module.replace('.', '/')}.py").read_text().splitlines()
    imports = [line for line in lines if line.startswith(("import ", "from "))]
    assert imports[0] == "from __future__ import annotations"
    assert imports[1].startswith("from functions.core import gc_thresholds  # isort: skip")
    decorators = lines[: lines.index(next(line for line in lines if line.startswith("def lambda_handler")))]
    assert "@gc_thresholds.restore_after_first_answer" in decorators[-5:]
