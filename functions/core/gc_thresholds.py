"""Fewer garbage collections during a cold start: the handler's import, init, the first invocation.

A cold start (importing boto3, Powertools, for submit the Deepgram SDK and pydantic; building the
settings and clients, which parses botocore's JSON service models; the SDK's lazy imports on the
first call) allocates a few hundred thousand objects that live as long as the execution
environment, and almost no cyclic garbage. At CPython's default thresholds the collector walks the
young objects every few hundred allocations and, now and then, the whole growing heap, to find
nothing: about a tenth of the callback's cold start here (`benchmarks/README.md`, cold start).

Each handler module imports this module first (the import raises the thresholds to
`COLD_START_THRESHOLDS`) and wraps its `lambda_handler` in `restore_after_first_answer`, which puts
the defaults back once the first invocation has answered: warm invocations collect as before. The
collector is never switched off: a process that imports a handler and never invokes it (a test)
still collects, only less often. In Lambda, `warm_up_in_lambda` also collects and freezes what init
built. Python 3.14 (the runtime) has two generations and reads the second value as how slowly
the old one is scanned (higher: slower); the third is ignored there.

This module is imported at every cold start, first: standard library only.
"""

from __future__ import annotations

import functools
import gc
from collections.abc import Callable
from typing import Any, Final, TypeVar, cast

COLD_START_THRESHOLDS: Final = (100_000, 50, 1000)
"""A young collection every 100,000 net allocations instead of 700 (3.11) or 2,000 (3.14)."""

DEFAULT_THRESHOLDS: Final = gc.get_threshold()
"""The thresholds this process had when the first handler module was imported."""

gc.set_threshold(*COLD_START_THRESHOLDS)

Handler = TypeVar("Handler", bound=Callable[..., Any])


def restore() -> None:
    """Put the default thresholds back, after moving what the cold start made out of the
    collector's sight (`gc.freeze`): otherwise the next allocation, in the middle of returning the
    first answer, would trigger a collection of every object the cold start allocated."""
    gc.freeze()
    gc.set_threshold(*DEFAULT_THRESHOLDS)


def restore_after_first_answer(handler: Handler) -> Handler:
    """`handler`, which restores the default thresholds when its first invocation ends (answer or
    exception); later invocations only pay a flag check."""
    first = True

    @functools.wraps(handler)
    def invoke(*args: Any, **kwargs: Any) -> Any:
        nonlocal first
        if not first:
            return handler(*args, **kwargs)
        try:
            return handler(*args, **kwargs)
        finally:
            first = False
            restore()

    return cast(Handler, invoke)
