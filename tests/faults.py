"""Injecting AWS failures through botocore's own event hooks, without touching production code.

A handler registered for `before-parameter-build` runs inside every client call, before anything
is sent; raising there surfaces exactly as a service error would (a `ClientError`), and the
client's retries are bypassed. The hook sees the call's parameters, so a fault can target one table.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import boto3
from botocore.exceptions import ClientError


@dataclass
class Fault:
    service: str  # botocore's service name: "dynamodb", "s3", "sns", "secretsmanager"
    operation: str  # e.g. "UpdateItem"
    table: str | None  # only calls naming this TableName, when set
    remaining: int | None  # failures left; None: until stopped
    skip: int  # calls to let through first
    code: str = "InternalServerError"  # the error code of the injected `ClientError`
    message: str = "injected fault"
    calls: int = 0  # failures injected so far

    def stop(self) -> None:
        self.remaining = 0

    def applies_to(self, service: str, operation: str, params: dict[str, Any]) -> bool:
        return (
            (self.service, self.operation) == (service, operation)
            and (self.table is None or params.get("TableName") == self.table)
            and self.remaining != 0
        )


class AwsFaults:
    def __init__(self) -> None:
        self._faults: list[Fault] = []
        self.injected: list[tuple[str, str]] = []

    def fail(
        self,
        service: str,
        operation: str,
        *,
        times: int | None = 1,
        after: int = 0,
        table: str | None = None,
        code: str = "InternalServerError",
        message: str = "injected fault",
    ) -> Fault:
        """Make `times` calls of `operation` fail (None: every call until `stop()`), once `after`
        matching calls have gone through, with a `ClientError` of `code`: a transient error by
        default, or e.g. `ValidationException` for a refusal no retry cures (a permanent fault)."""
        fault = Fault(
            service=service,
            operation=operation,
            table=table,
            remaining=times,
            skip=after,
            code=code,
            message=message,
        )
        self._faults.append(fault)
        return fault

    def __call__(self, params: dict[str, Any], model: Any, **_: Any) -> None:
        service, operation = model.service_model.service_name, model.name
        for fault in self._faults:
            if not fault.applies_to(service, operation, params):
                continue
            if fault.skip > 0:
                fault.skip -= 1
                return
            if fault.remaining is not None:
                fault.remaining -= 1
            fault.calls += 1
            self.injected.append((service, operation))
            raise ClientError({"Error": {"Code": fault.code, "Message": fault.message}}, operation)


@contextmanager
def injected_aws_faults() -> Iterator[AwsFaults]:
    """Faults for clients created from the default boto3 session after this starts."""
    boto3.setup_default_session()
    faults = AwsFaults()
    assert boto3.DEFAULT_SESSION is not None
    events = boto3.DEFAULT_SESSION.events
    events.register("before-parameter-build", faults, unique_id="test-aws-faults")
    yield faults
    events.unregister("before-parameter-build", unique_id="test-aws-faults")
