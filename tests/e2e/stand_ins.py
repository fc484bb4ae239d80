"""A stand-in Lambda handler for the gateway's tests, run in a worker process by its path.

It does what the request asks in its `x-stand-in` header (both front doors' events carry the
headers): `answer` returns the JSON in `x-answer` as is, `raise` raises, `exit` kills its own
process, `state` reports the process and its module state, `sleep` reports when it ran, `event`
returns the event it was given.
"""

from __future__ import annotations

import json
import os
import time
from typing import Any

HANDLER = f"{__name__}.handler"
"""The handler path to give a `LocalFunction`."""

ENVIRONMENT_VARIABLE = "STAND_IN_VALUE"

_invocations = 0
"""Module state, as the real handlers keep (Powertools' metric set, cached clients)."""


def handler(event: dict[str, Any], context: Any) -> Any:
    global _invocations  # noqa: PLW0603 - module state is what the tests look at
    _invocations += 1
    headers = {name.lower(): value for name, value in (event.get("headers") or {}).items()}
    action = headers.get("x-stand-in", "answer")
    if action == "raise":
        raise RuntimeError("boom")
    if action == "exit":
        os._exit(3)
    if action == "answer":
        return json.loads(headers["x-answer"])
    if action == "state":
        document: Any = {
            "pid": os.getpid(),
            "invocations": _invocations,
            "environment": os.environ.get(ENVIRONMENT_VARIABLE),
            "function_name": context.function_name,
            "remaining_ms": context.get_remaining_time_in_millis(),
        }
    elif action == "sleep":
        started = time.time()
        time.sleep(0.02)
        document = [started, time.time()]
    elif action == "event":
        document = event
    else:
        raise ValueError(f"unknown action {action!r}")
    return {"statusCode": 200, "headers": {"Content-Type": "application/json"}, "body": json.dumps(document)}
