"""AWS X-Ray through Powertools Tracer, only when the stack's `tracing` setting is on.

Powertools' Tracer imports the X-Ray SDK even when tracing is disabled (several hundred ms of
cold start), so it is created only when `POWERTOOLS_TRACE_DISABLED` is "false", which the CDK app
sets with `-c tracing=true`. Traced, each invocation records its AWS calls (Tracer patches
botocore) and is annotated with the job id and Deepgram's request id, so a job's submit and its
callback are found together in X-Ray with `annotation.job_id = "..."`.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any, TypeVar

from functions.core.contract import Env

Handler = TypeVar("Handler", bound=Callable[..., Any])

_tracer: Any = None


def enabled() -> bool:
    return os.environ.get(Env.TRACE_DISABLED, "true").strip().lower() == "false"


def traced(service: str) -> Callable[[Handler], Handler]:
    """A decorator tracing a Lambda handler when tracing is on; the handler unchanged otherwise."""
    global _tracer  # noqa: PLW0603 (one tracer per execution environment, as Powertools intends)
    if not enabled():
        return lambda handler: handler
    from aws_lambda_powertools import Tracer  # noqa: PLC0415 (imported only when tracing is on)

    _tracer = Tracer(service=service)
    decorator: Callable[[Handler], Handler] = _tracer.capture_lambda_handler
    return decorator


def annotate(**keys: str | None) -> None:
    """Searchable X-Ray annotations on the current invocation (when traced)."""
    if _tracer is None:
        return
    for name, value in keys.items():
        if value:
            _tracer.put_annotation(key=name, value=value)
