"""The inside of one cold-start measurement: a fresh interpreter serving a function's first event.

`benchmarks.coldstart` runs `python -c <program>` where the program records the time, imports the
function's handler module, then calls `serve_first_event` from this module, which installs the
zero-latency stub on a fresh default boto3 session (what the handler's first client would have
created anyway), reads the event the parent wrote (the Lambda runtime also decodes the event from
JSON) and invokes the handler once. This module, the stub and the stand-in context are benchmark
scaffolding: the time spent importing and preparing them is measured and subtracted. Only the
standard library is imported here at module level; the stub is imported after the handler, when
boto3 is already loaded.
"""

from __future__ import annotations

import importlib
import json
import os
import time
from types import ModuleType
from typing import Any

SCENARIO_ENV = "BENCH_COLDSTART_SCENARIO"
"""Path of the JSON scenario the parent wrote: event, job item, expected answer."""


def serve_first_event(service: str, handler_module: ModuleType, scaffold_ms: float) -> dict[str, Any]:
    """Serve the scenario's event with `handler_module.lambda_handler`; figures for the parent.

    `scaffold_ms` is what the caller spent importing this module; the scaffolding time returned
    adds the stub's import and set-up and the stand-in Lambda context."""
    with open(os.environ[SCENARIO_ENV]) as source:  # the runtime decoding the event: measured
        scenario = json.load(source)

    started = time.perf_counter()
    # Imported only now, after the handler (so boto3 is loaded), and timed as scaffolding.
    from benchmarks import stub as stub_module  # noqa: PLC0415
    from local.events import LambdaContext  # noqa: PLC0415 - a stand-in for the runtime's context

    stub = stub_module.ZeroLatencyAws()
    stub_module.answer_pipeline_writes(stub)
    stub_module.answer_secret(stub, scenario["secrets"])
    stub_module.answer_get_item(stub, scenario["item"])
    context = LambdaContext(function_name=f"deepgram-transcription-{service}", memory_limit_in_mb=512)
    scaffold_ms += (time.perf_counter() - started) * 1000

    stub.install_on_default_session(scenario["region"])  # the session the first client would create
    response = handler_module.lambda_handler(scenario["event"], context)
    return {"scaffold_ms": scaffold_ms, "status": response.get("statusCode"), "calls": stub.calls()}


COMPOSITION_ROOTS = {
    "callback": ("functions.callback.wiring", "service"),
    "status": ("functions.status.wiring", "service"),
    "submit": ("functions.submit.wiring", "submitter"),
}
"""Each function's composition root and the cached factory that builds its settings, clients,
adapters and service (in Lambda at init, `warm_up_in_lambda`; here on the first event)."""


def serve_first_event_in_phases(
    service: str, handler_module: ModuleType, phases: dict[str, float]
) -> dict[str, Any]:
    """`serve_first_event`, with the first event split into phases (milliseconds, in `phases`):
    the default session, the service (the composition root's factory, called early: what Lambda's
    init does), the first invocation."""
    with open(os.environ[SCENARIO_ENV]) as source:
        scenario = json.load(source)
    from benchmarks import stub as stub_module  # noqa: PLC0415 - after the handler, as above
    from local.events import LambdaContext  # noqa: PLC0415

    stub = stub_module.ZeroLatencyAws()
    stub_module.answer_pipeline_writes(stub)
    stub_module.answer_secret(stub, scenario["secrets"])
    stub_module.answer_get_item(stub, scenario["item"])
    context = LambdaContext(function_name=f"deepgram-transcription-{service}", memory_limit_in_mb=512)
    started = time.perf_counter()
    stub.install_on_default_session(scenario["region"])
    phases["boto3 default session"] = (time.perf_counter() - started) * 1000
    started = time.perf_counter()
    module_name, factory = COMPOSITION_ROOTS[service]
    getattr(importlib.import_module(module_name), factory)()  # imported already, by the handler
    phases["settings + clients + service (composition root)"] = (time.perf_counter() - started) * 1000
    started = time.perf_counter()
    response = handler_module.lambda_handler(scenario["event"], context)
    phases["first invocation with clients ready"] = (time.perf_counter() - started) * 1000
    return {"status": response.get("statusCode"), "phases": phases}
