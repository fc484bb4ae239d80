"""`Idempotency-Key` for `POST /transcriptions`, with Powertools' idempotency utility.

The key belongs to its caller (the IAM principal) and to one request's content (`fingerprint`):
the same key with another body is a 422. What is remembered under a key:
- an accepted job, and an *ambiguous* Deepgram failure (Deepgram may have the job: a retry must
  not start a second one; the client reads the job instead);
- not a clear refusal: a retry with the same key submits again (a `deadline_exceeded`
  refusal among them: Deepgram was not called).
A replayed answer is marked `replayed`, so it is neither counted nor logged as a new job.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.idempotency import (
    BasePersistenceLayer,
    IdempotencyConfig,
    idempotent_function,
)
from aws_lambda_powertools.utilities.idempotency.exceptions import (
    IdempotencyAlreadyInProgressError,
    IdempotencyPersistenceLayerError,
    IdempotencyValidationError,
)

from functions.core.api_errors import ApiError
from functions.core.deadline import Deadline
from functions.core.ports import DependencyError
from functions.submit.logic import SubmitService
from functions.submit.types import ParsedSubmission, Submitted

TTL_SECONDS = 24 * 3600
MAX_KEY_LENGTH = 255

CONFIG = IdempotencyConfig(
    event_key_jmespath="[caller, key]",
    payload_validation_jmespath="fingerprint",
    expires_after_seconds=TTL_SECONDS,
)
"""Module-wide, like the invocation it follows: the handler registers each invocation's context
(`CONFIG.register_lambda_context`), so an in-progress record expires with the invocation that wrote it."""


class _Refused(Exception):
    """Raised inside the idempotent section so that a clear refusal is not remembered."""

    def __init__(self, submitted: Submitted) -> None:
        super().__init__("refused")
        self.submitted = submitted


class IdempotentSubmitter:
    def __init__(self, service: SubmitService, persistence: BasePersistenceLayer) -> None:
        self._service = service
        self._submit_once = idempotent_function(
            self._run, data_keyword_argument="idempotency", persistence_store=persistence, config=CONFIG
        )
        self._executed = False

    def submit(
        self,
        parsed: ParsedSubmission,
        *,
        idempotency_key: str | None,
        caller: str,
        deadline: Deadline | None = None,
    ) -> Submitted:
        if idempotency_key is None:
            return self._service.submit(parsed.request, deadline=deadline)
        if not 0 < len(idempotency_key) <= MAX_KEY_LENGTH:
            raise ApiError(400, "invalid_idempotency_key", "Idempotency-Key must be 1 to 255 characters")
        idempotency = {"caller": caller, "key": idempotency_key, "fingerprint": parsed.fingerprint}
        self._executed = False
        try:
            document = self._submit_once(idempotency=idempotency, parsed=parsed, deadline=deadline)
        except _Refused as refused:
            return refused.submitted
        except IdempotencyValidationError:
            raise ApiError(
                422, "idempotency_key_reused", "this Idempotency-Key was used with a different request"
            ) from None
        except IdempotencyAlreadyInProgressError:
            raise ApiError(
                409,
                "request_in_progress",
                "a request with this Idempotency-Key is in progress",
                retry_after="1",
            ) from None
        except IdempotencyPersistenceLayerError as error:
            raise DependencyError(f"DynamoDB (idempotency): {type(error).__name__}") from error
        return Submitted.from_json(document, replayed=not self._executed)

    def _run(
        self, *, idempotency: dict[str, str], parsed: ParsedSubmission, deadline: Deadline | None
    ) -> dict[str, Any]:
        self._executed = True
        submitted = self._service.submit(parsed.request, deadline=deadline)
        if submitted.failure is not None and not submitted.failure.ambiguous:
            raise _Refused(submitted)
        return submitted.to_json()


def caller_of(user_arn: str | None, caller: str | None) -> str:
    """Who an Idempotency-Key belongs to: the IAM principal, without an assumed role's session
    name (each retry may come from a new session of the same role)."""
    arn = user_arn or caller or "anonymous"
    if ":assumed-role/" in arn:
        arn = arn.rsplit("/", 1)[0]
    return arn
