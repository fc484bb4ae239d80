"""Lambda assets built on this machine, without Docker, reproducibly.

Each function's asset is a directory holding exactly:

    functions/__init__.py
    functions/core/...          shared code
    functions/<name>/...        the function's own package (and those it runs, `RUNS_CODE_OF`)
    <third-party packages>      only when functions/<name>/requirements.txt exists (submit)

Third-party packages are installed by pip for the *Lambda's* platform, not this machine's:
`--platform manylinux..._aarch64 --implementation cp --python-version 3.X --only-binary=:all:`
picks the prebuilt wheels (pydantic-core, websockets) compiled for Graviton and the runtime's
Python. boto3 comes with the runtime and Powertools with its public layer, so neither may be
installed here (`PROVIDED_ELSEWHERE`).

Reproducibility: the asset hash is computed over the bundled *output* (`AssetHashType.OUTPUT`;
CDK fingerprints relative paths and file contents, never timestamps). The output is made
deterministic: pip runs with `--no-compile` (no .pyc files, which embed timestamps), console
scripts are dropped (their shebang names this machine's interpreter) along with their lines in
the wheels' RECORD files, and our tests and caches are never copied. Same inputs, same hash, on
any machine. Pin the transitive dependencies too in the requirements file: otherwise a new
release on PyPI changes the asset (and its hash) at the next uncached build.

Speed: the pip install of a requirements file is cached by its content, the target platform
and this module's `BUNDLER_VERSION`, in memory and in a directory (`BUNDLE_CACHE_ENV`, default
`.build/bundle-cache`), so repeated synths (tests, `cdk diff` then `cdk deploy`) install once.
`make clean` removes the cache.
"""

from __future__ import annotations

import atexit
import fnmatch
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import jsii
from aws_cdk import aws_lambda as lambda_

REPO_ROOT = Path(__file__).resolve().parent.parent
FUNCTIONS_PACKAGE = "functions"
SHARED_PACKAGE = "core"
REQUIREMENTS_FILE = "requirements.txt"

RUNS_CODE_OF = {"finisher": ("callback",), "reconciler": ("submit",)}
"""Function packages whose code another function runs, shipped with it (with their requirements
when it has none of its own): the finisher stores S3 deliveries with the callback's own service
(`CallbackService.handle_delivery`); the reconciler resubmits jobs and reads Deepgram's request log
through the submit function's Deepgram gateway (and its SDK)."""

BUNDLER_VERSION = "1"
"""Part of the dependency cache key: bump it when the install or clean-up steps change."""

BUNDLE_CACHE_ENV = "BUNDLE_CACHE_DIR"
DEFAULT_CACHE_DIR = REPO_ROOT / ".build" / "bundle-cache"

EXCLUDED = (
    "__pycache__",
    "*.pyc",
    "*.pyo",
    "tests",
    "test_*.py",
    "*_test.py",
    "conftest.py",
    "requirements*.txt",
)
"""Path components never copied from the function sources."""

PROVIDED_ELSEWHERE = {
    "boto3": "the Lambda Python runtime",
    "botocore": "the Lambda Python runtime",
    "s3transfer": "the Lambda Python runtime",
    "aws_lambda_powertools": "the Powertools public layer",
}
"""Top-level packages that must not end up in an asset, and where the function gets them."""

# Lambda's Python 3.12+ runtimes run on Amazon Linux 2023 (glibc 2.34): any manylinux wheel up
# to 2_34 works. pip prefers the first platform listed that a release has a wheel for.
_MANYLINUX = ("manylinux_2_34", "manylinux_2_28", "manylinux2014")
_MACHINE = {"arm64": "aarch64", "x86_64": "x86_64"}

_installed: dict[str, Path] = {}
"""Dependency installs done by this process, by cache key (the in-memory layer of the cache)."""


class BundlingError(RuntimeError):
    """An asset could not be built; the message says why and what to change."""


def function_code(
    name: str,
    *,
    runtime: lambda_.Runtime,
    architecture: lambda_.Architecture,
) -> lambda_.Code:
    """The asset of `functions/<name>`, bundled locally for `runtime` on `architecture`."""
    source = REPO_ROOT / FUNCTIONS_PACKAGE / name
    if not source.is_dir():
        raise BundlingError(f"no function package at {source}")
    bundler = LocalBundler(
        name,
        repo_root=REPO_ROOT,
        python_version=python_version(runtime),
        machine=machine(architecture),
        cache_dir=configured_cache_dir(),
    )
    return lambda_.Code.from_asset(
        str(source),
        asset_hash_type=cdk.AssetHashType.OUTPUT,
        bundling=cdk.BundlingOptions(
            # Only used if the local bundler declined, which it never does: Docker is not needed.
            image=runtime.bundling_image,
            local=bundler,
            output_type=cdk.BundlingOutput.NOT_ARCHIVED,
        ),
    )


def python_version(runtime: lambda_.Runtime) -> str:
    """`python3.14` -> `3.14`."""
    if runtime.family != lambda_.RuntimeFamily.PYTHON or not runtime.name.startswith("python"):
        raise BundlingError(f"{runtime.name} is not a Python runtime")
    return runtime.name.removeprefix("python")


def machine(architecture: lambda_.Architecture) -> str:
    """The wheel-tag machine name of a Lambda architecture (`arm64` -> `aarch64`)."""
    try:
        return _MACHINE[architecture.name]
    except KeyError:
        raise BundlingError(f"unsupported architecture {architecture.name}") from None


def forget_installs() -> None:
    """Drop the in-memory layer of the dependency cache (the next bundle reads the disk or pip)."""
    _installed.clear()


def configured_cache_dir() -> Path | None:
    """The dependency cache directory; `BUNDLE_CACHE_DIR=` (empty) turns the disk cache off."""
    value = os.environ.get(BUNDLE_CACHE_ENV)
    if value is None:
        return DEFAULT_CACHE_DIR
    return Path(value) if value else None


@jsii.implements(cdk.ILocalBundling)
class LocalBundler:
    """Copies one function's code and, if it has a requirements file, its dependencies."""

    def __init__(
        self, name: str, *, repo_root: Path, python_version: str, machine: str, cache_dir: Path | None
    ) -> None:
        self.name = name
        self.package_root = repo_root / FUNCTIONS_PACKAGE
        self.python_version = python_version
        self.platforms = tuple(f"{tag}_{machine}" for tag in _MANYLINUX)
        self.cache_dir = cache_dir

    @property
    def packages(self) -> tuple[str, ...]:
        """The function packages shipped: the shared code, those whose code it runs, its own."""
        return (SHARED_PACKAGE, *RUNS_CODE_OF.get(self.name, ()), self.name)

    @property
    def requirements(self) -> Path | None:
        for package in (self.name, *RUNS_CODE_OF.get(self.name, ())):
            path: Path = self.package_root / package / REQUIREMENTS_FILE
            if path.is_file():
                return path
        return None

    def try_bundle(self, output_dir: str, *, image: cdk.DockerImage, **_options: Any) -> bool:
        """Called by CDK instead of running `image`; always bundles, so Docker is never used."""
        output = Path(output_dir)
        self.copy_sources(output)
        if self.requirements is not None:
            shutil.copytree(self.dependencies(self.requirements), output, dirs_exist_ok=True)
        check_not_shipped(output)
        normalise_permissions(output)
        return True

    def copy_sources(self, output: Path) -> None:
        target = output / FUNCTIONS_PACKAGE
        target.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(self.package_root / "__init__.py", target / "__init__.py")
        for package in self.packages:
            for path in _walk(self.package_root / package):
                destination = target / path.relative_to(self.package_root)
                destination.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(path, destination)

    def cache_key(self, requirements: Path) -> str:
        digest = hashlib.sha256()
        for part in (BUNDLER_VERSION, self.python_version, *self.platforms, requirements.read_text()):
            digest.update(part.encode())
            digest.update(b"\0")
        return digest.hexdigest()[:32]

    def dependencies(self, requirements: Path) -> Path:
        """A directory holding the installed requirements, from the cache when possible."""
        key = self.cache_key(requirements)
        if key in _installed and _installed[key].is_dir():
            return _installed[key]
        if self.cache_dir is None:
            scratch = tempfile.mkdtemp(prefix="deps-")
            atexit.register(shutil.rmtree, scratch, ignore_errors=True)
            destination = Path(scratch) / key
        else:
            destination = self.cache_dir / key
        if not destination.is_dir():
            destination.parent.mkdir(parents=True, exist_ok=True)
            staging = Path(tempfile.mkdtemp(prefix=f"{key}.", dir=destination.parent))
            try:
                self.pip_install(requirements, staging)
                make_deterministic(staging)
                staging.rename(destination)
            except OSError:
                if not destination.is_dir():  # not a concurrent build that finished first
                    raise
            finally:
                shutil.rmtree(staging, ignore_errors=True)
        _installed[key] = destination
        return destination

    def pip_install(self, requirements: Path, target: Path) -> None:
        command = [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "--no-input",
            "--no-compile",
            "--only-binary=:all:",
            "--implementation",
            "cp",
            "--python-version",
            self.python_version,
            *(option for platform in self.platforms for option in ("--platform", platform)),
            "--target",
            str(target),
            "--requirement",
            str(requirements),
        ]
        # The command is built from constants and paths of this repository, not from user input.
        result = subprocess.run(command, capture_output=True, text=True, check=False)  # noqa: S603
        if result.returncode != 0:
            raise BundlingError(
                f"pip could not install {requirements} for Python {self.python_version} on "
                f"{self.platforms[0]} (a dependency without a wheel for that platform?):\n{result.stderr}"
            )


def _walk(directory: Path) -> Iterator[Path]:
    """Files under `directory` in a stable order, skipping `EXCLUDED` names."""
    for path in sorted(directory.iterdir()):
        if any(fnmatch.fnmatch(path.name, pattern) for pattern in EXCLUDED):
            continue
        if path.is_dir():
            yield from _walk(path)
        elif path.is_file():
            yield path


def make_deterministic(target: Path) -> None:
    """Remove what would differ between two installs of the same wheels on different machines."""
    shutil.rmtree(target / "bin", ignore_errors=True)
    for record in target.glob("*.dist-info/RECORD"):
        lines = record.read_text().splitlines(keepends=True)
        record.write_text("".join(line for line in lines if not line.startswith("../")))
    for cache in sorted(target.rglob("__pycache__"), reverse=True):
        shutil.rmtree(cache, ignore_errors=True)


def check_not_shipped(output: Path) -> None:
    """Fail if a package the runtime or the layer provides found its way into the asset."""
    found = [name for name in PROVIDED_ELSEWHERE if (output / name).exists()]
    if found:
        raise BundlingError(
            "the asset must not contain "
            + ", ".join(f"{name} (provided by {PROVIDED_ELSEWHERE[name]})" for name in found)
            + ": remove it from the function's requirements"
        )


def normalise_permissions(output: Path) -> None:
    """World-readable files and directories: Lambda runs the code as a different user."""
    for path in output.rglob("*"):
        path.chmod(0o755 if path.is_dir() else 0o644)
