"""The SecretSource contract: the in-memory fake and CachedSecrets on moto's Secrets Manager."""

from __future__ import annotations

import pytest

from functions.core.ports import DependencyError
from tests.contract.conftest import SecretsUnderTest


def test_get_reads_the_secret_string(secrets: SecretsUnderTest) -> None:
    secret_id = secrets.store("deepgram-key", "dg-key-0123456789 ünï")

    assert secrets.source.get(secret_id) == "dg-key-0123456789 ünï"
    assert secrets.source.get(secret_id) == "dg-key-0123456789 ünï"


def test_a_missing_secret_is_a_dependency_error(secrets: SecretsUnderTest) -> None:
    with pytest.raises(DependencyError, match=r"^Secrets Manager: "):
        secrets.source.get(secrets.missing_id)
