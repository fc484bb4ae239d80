"""Injecting AWS failures through botocore's own event hooks, without touching production code.

A handler registered for `before-call` runs inside every client call; raising there surfaces
exactly as a service error would (a `ClientError`), after the client's retries are bypassed.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import boto3
from botocore.exceptions import ClientError


class AwsFaults:
    def __init__(self) -> None:
        self._pending: dict[tuple[str, str], int] = {}
        self._skips: dict[tuple[str, str], int] = {}
        self.injected: list[tuple[str, str]] = []

    def fail(self, service: str, operation: str, *, times: int = 1, after: int = 0) -> None:
        """Make `times` calls of `operation` (e.g. "dynamodb", "UpdateItem") fail, once `after`
        calls have gone through."""
        self._pending[(service, operation)] = self._pending.get((service, operation), 0) + times
        self._skips[(service, operation)] = after

    def __call__(self, model: Any, **_: Any) -> None:
        key = (model.service_model.service_name, model.name)
        if self._skips.get(key, 0) > 0:
            self._skips[key] -= 1
            return
        if self._pending.get(key, 0) > 0:
            self._pending[key] -= 1
            self.injected.append(key)
            raise ClientError(
                {"Error": {"Code": "InternalServerError", "Message": "injected fault"}}, model.name
            )


@contextmanager
def injected_aws_faults() -> Iterator[AwsFaults]:
    """Faults for clients created from the default boto3 session after this starts."""
    boto3.setup_default_session()
    faults = AwsFaults()
    assert boto3.DEFAULT_SESSION is not None
    events = boto3.DEFAULT_SESSION.events
    events.register("before-call", faults, unique_id="test-aws-faults")
    yield faults
    events.unregister("before-call", unique_id="test-aws-faults")
