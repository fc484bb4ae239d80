"""Secrets Manager values, cached between invocations by Powertools' Parameters utility."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.parameters import SecretsProvider
from aws_lambda_powertools.utilities.parameters.exceptions import GetParameterError

from functions.core.ports import DependencyError


class CachedSecrets:
    def __init__(self, client: Any, max_age_seconds: int) -> None:
        self._provider = SecretsProvider(boto3_client=client)
        self._max_age = max_age_seconds

    def get(self, secret_id: str) -> str:
        try:
            value = self._provider.get(secret_id, max_age=self._max_age)
        except GetParameterError as error:
            raise DependencyError(f"Secrets Manager: cannot read secret {secret_id!r}") from error
        if not isinstance(value, str) or not value:
            raise DependencyError(f"Secrets Manager: secret {secret_id!r} has no string value")
        return value
