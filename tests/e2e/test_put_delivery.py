"""Deepgram delivering results with PUT (`CALLBACK_METHOD=PUT`) instead of POST."""

from __future__ import annotations

from typing import Any

import pytest

from functions.core.contract import Env
from tests.e2e.conftest import Pipeline

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def stack_options() -> dict[str, Any]:
    return {"function_environment": {Env.CALLBACK_METHOD: "PUT"}}


def test_results_delivered_with_put_complete_the_job(pipeline: Pipeline) -> None:
    pipeline.emulator.set_faults(synthetic_duration_seconds=3)
    job = pipeline.submit_audio(query="metadata.delivery=put")

    [notification] = pipeline.wait_for_notifications(1)
    assert notification["attributes"]["metadata.delivery"] == "put"
    assert pipeline.settle() == []  # the emulator records a delivery once it has the answer
    deliveries = [item for item in pipeline.emulator.deliveries() if item["request_id"] == job["request_id"]]
    assert [(item["method"], item["status_code"]) for item in deliveries] == [("PUT", 200)]
    [emulator_job] = [item for item in pipeline.emulator.jobs() if item["request_id"] == job["request_id"]]
    assert emulator_job["callback_method"] == "PUT"
    assert pipeline.job(job["id"])["status"] == "completed"
