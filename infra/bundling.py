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

Bytecode for the runtime's Python: every `.py` of an asset ships with its
`__pycache__/<module>.cpython-3XY.pyc`, compiled for the *runtime's* CPython (not this machine's)
as unchecked-hash .pyc files (PEP 552). Lambda's code directory (`/var/task`) is read-only, so
without them the runtime compiles every module of the asset on every cold start (for submit, with
the Deepgram SDK and pydantic, more than its whole cold start with bytecode: `benchmarks/README.md`)
and never keeps the result; an unchecked-hash .pyc is loaded without reading or hashing its
source. No CPython of the runtime's version need exist here: the compiler is Pyodide (CPython
compiled to WebAssembly, pinned in package.json, run by Node, which the CDK needs anyway;
`compile_bytecode.mjs`). Before anything ships, the compiler's version, cache tag and magic
number are checked against the runtime's (`BYTECODE_MAGIC`), and every .pyc header against both:
a runtime bump without a matching compiler fails the synth instead of shipping bytecode the
runtime would ignore.

Reproducibility: the asset hash is computed over the bundled *output* (`AssetHashType.OUTPUT`;
CDK fingerprints relative paths and file contents, never timestamps). The output is made
deterministic: pip runs with `--no-compile` (its .pyc would be this machine's Python's, with
timestamps), the bytecode is hash-based (no timestamps), compiled with `PYTHONHASHSEED=0` and with
the file names it will have in Lambda (`/var/task/...`), console scripts are dropped (their shebang
names this machine's interpreter) along with their lines in the wheels' RECORD files, and our tests
and caches are never copied. Same inputs, same hash, on any machine. Pin the transitive
dependencies too in the requirements file: otherwise a new release on PyPI changes the asset (and
its hash) at the next uncached build.

Speed: the pip install of a requirements file, compiled, is cached by its content, the target
platform, the compiler and this module's `BUNDLER_VERSION`, in memory and in a directory
(`BUNDLE_CACHE_ENV`, default `.build/bundle-cache`), so repeated synths (tests, `cdk diff` then
`cdk deploy`) install and compile once. This project's own modules are compiled all at once (one
Node run for every function) and cached one .pyc per source content. `make clean` removes the cache.
"""

from __future__ import annotations

import atexit
import fnmatch
import functools
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

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

BUNDLER_VERSION = "2"
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

BYTECODE_MAGIC: Final = {"3.14": "2b0e0d0a"}
"""The .pyc magic number of each Lambda Python runtime (`importlib.util.MAGIC_NUMBER.hex()` of
that CPython): a runtime missing here cannot be bundled. 3.14: magic 3627 (`_bootstrap_external.py`
of CPython 3.14.0 to 3.14.x), two bytes little-endian then `\\r\\n`. When `infra/functions.py`
moves to a new runtime, add its magic here and pin a Pyodide built on that CPython in package.json."""

PYC_FLAGS_UNCHECKED_HASH: Final = 0b01
"""The flags word of a .pyc header (PEP 552): bit 0 hash-based, bit 1 check the source's hash."""

BYTECODE_COMPILER = REPO_ROOT / "infra" / "compile_bytecode.mjs"
PYODIDE_PACKAGE = REPO_ROOT / "node_modules" / "pyodide" / "package.json"
LAMBDA_TASK_ROOT = "/var/task"
"""Where Lambda unpacks the asset: the file names compiled into the bytecode (tracebacks show the
real location anyway: the import system rewrites them to the source's path)."""
COMPILE_TIMEOUT_SECONDS = 600

# Lambda's Python 3.12+ runtimes run on Amazon Linux 2023 (glibc 2.34): any manylinux wheel up
# to 2_34 works. pip prefers the first platform listed that a release has a wheel for.
_MANYLINUX = ("manylinux_2_34", "manylinux_2_28", "manylinux2014")
_MACHINE = {"arm64": "aarch64", "x86_64": "x86_64"}

_installed: dict[str, Path] = {}
"""Dependency installs done by this process, by cache key (the in-memory layer of the cache)."""

_bytecode: dict[str, bytes] = {}
"""The .pyc of this project's modules compiled or read by this process, by `BytecodeCompiler.key`."""


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
    """Drop the in-memory layer of the caches (the next bundle reads the disk, or runs pip and
    the compiler)."""
    _installed.clear()
    _bytecode.clear()


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
        self.compiler = BytecodeCompiler.for_python(python_version)  # fails at once for an unknown runtime

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
        self.add_source_bytecode(output)
        if self.requirements is not None:
            shutil.copytree(self.dependencies(self.requirements), output, dirs_exist_ok=True)
        check_not_shipped(output)
        self.compiler.check_bytecode(output)
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

    def add_source_bytecode(self, output: Path) -> None:
        """The .pyc of each of this project's modules in the asset, from the cache when possible;
        on a miss, every module of `functions/` is compiled (one compiler run serves all assets)."""
        sources = sorted(path.relative_to(output).as_posix() for path in output.rglob("*.py"))
        if any(self.cached_bytecode(output, name) is None for name in sources):
            self.compile_repository_sources()
        missing = [name for name in sources if self.cached_bytecode(output, name) is None]
        if missing:  # a source changed while bundling: compile the asset's copy itself
            self.compiler.compile_tree(output, missing)
            for name in missing:
                self.store_bytecode(output, name)
        for name in sources:
            pyc = self.cached_bytecode(output, name)
            assert pyc is not None
            destination = output / self.compiler.pyc_path(name)
            destination.parent.mkdir(exist_ok=True)
            destination.write_bytes(pyc)

    def compile_repository_sources(self) -> None:
        """Compile every module of `functions/` (a copy, in a scratch directory) into the cache."""
        with tempfile.TemporaryDirectory(prefix="functions-bytecode-") as scratch:
            root = Path(scratch)
            names = []
            for path in _walk(self.package_root):
                if path.suffix == ".py":
                    name = (FUNCTIONS_PACKAGE / path.relative_to(self.package_root)).as_posix()
                    (root / name).parent.mkdir(parents=True, exist_ok=True)
                    shutil.copyfile(path, root / name)
                    names.append(name)
            self.compiler.compile_tree(root, names)
            for name in names:
                self.store_bytecode(root, name)

    def _bytecode_file(self, key: str) -> Path | None:
        return None if self.cache_dir is None else self.cache_dir / "bytecode" / f"{key}.pyc"

    def cached_bytecode(self, root: Path, name: str) -> bytes | None:
        key = self.compiler.key(name, (root / name).read_bytes())
        if key not in _bytecode and (stored := self._bytecode_file(key)) is not None and stored.is_file():
            _bytecode[key] = stored.read_bytes()
        return _bytecode.get(key)

    def store_bytecode(self, root: Path, name: str) -> None:
        """Remember the .pyc the compiler wrote for `root/name`, keyed by the source's content."""
        key = self.compiler.key(name, (root / name).read_bytes())
        pyc = _bytecode[key] = (root / self.compiler.pyc_path(name)).read_bytes()
        if (stored := self._bytecode_file(key)) is not None and not stored.is_file():
            stored.parent.mkdir(parents=True, exist_ok=True)
            partial = stored.with_name(f"{stored.name}.{os.getpid()}.tmp")
            partial.write_bytes(pyc)
            partial.replace(stored)  # atomic: a concurrent synth never reads half a file

    def cache_key(self, requirements: Path) -> str:
        digest = hashlib.sha256()
        for part in (
            BUNDLER_VERSION,
            self.python_version,
            *self.platforms,
            self.compiler.identity,
            requirements.read_text(),
        ):
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
                self.compiler.compile_tree(staging)
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


@dataclass(frozen=True)
class BytecodeCompiler:
    """Compiles sources for one Lambda Python runtime with Pyodide (`compile_bytecode.mjs`), and
    checks that what it wrote is bytecode that runtime will load."""

    python_version: str
    magic: str
    """The runtime's magic number, hex (`BYTECODE_MAGIC`)."""

    @classmethod
    def for_python(cls, python_version: str) -> BytecodeCompiler:
        try:
            return cls(python_version, BYTECODE_MAGIC[python_version])
        except KeyError:
            raise BundlingError(
                f"no bytecode magic number known for Python {python_version}: add it to "
                "infra/bundling.py BYTECODE_MAGIC and pin a Pyodide built on that CPython in package.json"
            ) from None

    @property
    def cache_tag(self) -> str:
        return "cpython-" + self.python_version.replace(".", "")

    @property
    def identity(self) -> str:
        """What the compiled bytes depend on besides the source: part of every cache key."""
        return f"pyodide {pyodide_version()}, magic {self.magic}, {BYTECODE_COMPILER.name}"

    def pyc_path(self, name: str) -> str:
        """`a/b.py` -> `a/__pycache__/b.cpython-314.pyc` (`importlib.util.cache_from_source`)."""
        parent, _, file = name.rpartition("/")
        pyc = f"__pycache__/{file.removesuffix('.py')}.{self.cache_tag}.pyc"
        return f"{parent}/{pyc}" if parent else pyc

    def key(self, name: str, source: bytes) -> str:
        digest = hashlib.sha256()
        for part in (BUNDLER_VERSION.encode(), self.identity.encode(), name.encode(), source):
            digest.update(part)
            digest.update(b"\0")
        return digest.hexdigest()[:40]

    def compile_tree(self, root: Path, names: Sequence[str] | None = None) -> None:
        """Write the .pyc of `names` (paths relative to `root`; default: every .py under it)."""
        if names is None:
            names = sorted(path.relative_to(root).as_posix() for path in root.rglob("*.py"))
        node = shutil.which("node")
        if node is None:
            raise BundlingError("Node.js is needed to compile the assets' bytecode (and by the CDK)")
        with tempfile.TemporaryDirectory(prefix="compile-") as scratch:
            request, answer = Path(scratch) / "request.json", Path(scratch) / "result.json"
            request.write_text(
                json.dumps(
                    {"root": str(root.resolve()), "files": list(names), "dfile_root": LAMBDA_TASK_ROOT}
                )
            )
            # Arguments are this repository's script and scratch files, not user input.
            result = subprocess.run(  # noqa: S603
                [node, str(BYTECODE_COMPILER), str(request), str(answer)],
                capture_output=True,
                text=True,
                check=False,
                timeout=COMPILE_TIMEOUT_SECONDS,
            )
            if result.returncode != 0 or not answer.is_file():
                raise BundlingError(
                    f"the bytecode compiler failed ({BYTECODE_COMPILER.name}):\n{result.stderr}"
                )
            compiled = json.loads(answer.read_text())
        self.check_compiler(compiled)
        if compiled["failures"]:
            listed = "\n".join(f"  {failure['file']}: {failure['error']}" for failure in compiled["failures"])
            raise BundlingError(f"Python {self.python_version} cannot compile:\n{listed}")

    def check_compiler(self, compiled: dict[str, Any]) -> None:
        """The compiler that ran is the runtime's CPython: release line, cache tag, magic number."""
        found = (str(compiled["version"]).rsplit(".", 1)[0], compiled["cache_tag"], compiled["magic"])
        if found != (self.python_version, self.cache_tag, self.magic):
            raise BundlingError(
                f"the bytecode compiler is CPython {compiled['version']} ({compiled['cache_tag']}, magic "
                f"{compiled['magic']}), the runtime is Python {self.python_version} ({self.cache_tag}, magic "
                f"{self.magic}): pin a Pyodide built on CPython {self.python_version} in package.json, "
                "or correct infra/bundling.py BYTECODE_MAGIC"
            )

    def check_bytecode(self, output: Path) -> None:
        """Every module of the asset has its .pyc: the runtime's magic, unchecked hash."""
        expected = bytes.fromhex(self.magic) + PYC_FLAGS_UNCHECKED_HASH.to_bytes(4, "little")
        wrong = []
        for source in sorted(output.rglob("*.py")):
            pyc = output / self.pyc_path(source.relative_to(output).as_posix())
            if not pyc.is_file():
                wrong.append(f"{source.relative_to(output)}: no {pyc.name}")
            elif (header := pyc.read_bytes()[:8]) != expected:
                wrong.append(f"{pyc.relative_to(output)}: header {header.hex()}, expected {expected.hex()}")
        if wrong:
            raise BundlingError("bytecode missing or not for the runtime:\n  " + "\n  ".join(wrong[:20]))


@functools.cache
def pyodide_version() -> str:
    """The installed Pyodide's version (package.json pins it; `make install` runs `npm ci`)."""
    try:
        version: str = json.loads(PYODIDE_PACKAGE.read_text())["version"]
    except (OSError, ValueError, KeyError):
        raise BundlingError(
            f"{PYODIDE_PACKAGE.parent} is missing: run `make install` (npm ci), which installs the "
            "bytecode compiler pinned in package.json"
        ) from None
    return version


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
