"""Fixtures of the infrastructure tests: the stack synthesized once per session (see synthesis.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.infra.synthesis import Assembly, Synthesized, synthesize


@pytest.fixture(scope="session")
def assembly(tmp_path_factory: pytest.TempPathFactory) -> Assembly:
    return synthesize(tmp_path_factory.mktemp("cdk.out"))


@pytest.fixture(scope="session")
def default(assembly: Assembly) -> Synthesized:
    return assembly.stacks["default"]


@pytest.fixture(scope="session")
def full(assembly: Assembly) -> Synthesized:
    return assembly.stacks["full"]


@pytest.fixture(scope="session")
def snapstart(assembly: Assembly) -> Synthesized:
    return assembly.stacks["snapstart"]


@pytest.fixture(scope="session", params=["default", "full"])
def each(request: pytest.FixtureRequest, assembly: Assembly) -> Synthesized:
    """Each configuration in turn, for properties that must hold in both."""
    return assembly.stacks[request.param]


@pytest.fixture(scope="session")
def bundle_cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A dependency cache shared by the bundling and CLI tests, so pip runs once for both."""
    return tmp_path_factory.mktemp("bundle-cache")
