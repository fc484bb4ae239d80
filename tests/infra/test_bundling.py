"""The real Lambda assets, built by infra/bundling.py (pip installs from PyPI; ~30 s the first time)."""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import aws_cdk as cdk
import pytest

from benchmarks import coldstart
from functions.core.contract import HANDLERS, Env, Services
from infra import bundling
from infra.bundling import (
    BUNDLE_CACHE_ENV,
    BYTECODE_MAGIC,
    PROVIDED_ELSEWHERE,
    PYC_FLAGS_UNCHECKED_HASH,
    RUNS_CODE_OF,
    BundlingError,
    BytecodeCompiler,
    check_not_shipped,
    make_deterministic,
)
from infra.config import Settings
from infra.functions import RUNTIME
from infra.stack import TranscriptionStack
from tests.infra.synthesis import cdk_json_context

pytestmark = pytest.mark.infra

ELF_MACHINE_AARCH64 = 183
CALLBACK_ZIP_LIMIT = 100_000
"""The callback's code, zipped (the issue's target, set when assets held sources only)."""
CALLBACK_ZIP_LIMIT_WITH_BYTECODE = 300_000
"""With its bytecode (about 2.2x the sources zipped: 3.14's line and position tables)."""


@dataclass(frozen=True)
class Assets:
    """The asset directory of each function, by service name, in one cloud assembly."""

    directories: dict[str, Path]

    @property
    def hashes(self) -> dict[str, str]:
        return {service: path.name.removeprefix("asset.") for service, path in self.directories.items()}


def synthesize_with_bundling(outdir: Path) -> Assets:
    app = cdk.App(context=cdk_json_context(), outdir=str(outdir))
    stack = TranscriptionStack(app, "Bundled", settings=Settings())
    app.synth()
    template = json.loads((outdir / stack.template_file).read_text())
    directories = {}
    for resource in template["Resources"].values():
        if resource["Type"] == "AWS::Lambda::Function":
            properties = resource["Properties"]
            service = properties["Environment"]["Variables"][Env.POWERTOOLS_SERVICE_NAME]
            directories[service] = outdir / f"asset.{properties['Code']['S3Key'].removesuffix('.zip')}"
    return Assets(directories)


@pytest.fixture(scope="session")
def assets(tmp_path_factory: pytest.TempPathFactory, bundle_cache_dir: Path) -> Iterator[Assets]:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(BUNDLE_CACHE_ENV, str(bundle_cache_dir))
        yield synthesize_with_bundling(tmp_path_factory.mktemp("bundled"))


def files(directory: Path) -> set[str]:
    return {str(path.relative_to(directory)) for path in directory.rglob("*") if path.is_file()}


def zipped_size(directory: Path, include: Callable[[str], bool] = lambda _: True) -> int:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name in sorted(filter(include, files(directory))):
            archive.write(directory / name, name)
    return len(buffer.getvalue())


def package_of(service: str) -> str:
    return HANDLERS[service].split(".")[1]


def test_every_asset_holds_only_the_shared_code_and_its_own_package(assets: Assets) -> None:
    for service, directory in assets.directories.items():
        assert {p.name for p in (directory / "functions").iterdir()} == {
            "__init__.py",
            "__pycache__",
            "core",
            package_of(service),
            *RUNS_CODE_OF.get(package_of(service), ()),
        }
        assert f"functions/{package_of(service)}/handler.py" in files(directory)
        assert "functions/core/contract.py" in files(directory)
        shipped = files(directory)
        assert not [name for name in shipped if name.endswith("requirements.txt")]
        ours = [name for name in shipped if name.startswith("functions/")]
        assert not [name for name in ours if "/tests/" in name or Path(name).name.startswith("test_")]


def test_callback_and_status_ship_no_third_party_packages(assets: Assets) -> None:
    for service in (Services.CALLBACK, Services.STATUS):
        assert {p.name for p in assets.directories[service].iterdir()} == {"functions"}
    callback = assets.directories[Services.CALLBACK]
    assert zipped_size(callback, include=lambda name: not name.endswith(".pyc")) < CALLBACK_ZIP_LIMIT
    assert zipped_size(callback) < CALLBACK_ZIP_LIMIT_WITH_BYTECODE


def test_every_module_ships_bytecode_for_the_runtime_unchecked_hash(assets: Assets) -> None:
    """What Lambda's read-only /var/task needs: `__pycache__/<module>.cpython-3XY.pyc` beside each
    module, for the runtime's magic number, unchecked-hash (PEP 552 flags 0b01: no source check)."""
    version = RUNTIME.name.removeprefix("python")
    tag = "cpython-" + version.replace(".", "")
    magic = bytes.fromhex(BYTECODE_MAGIC[version])
    for service, directory in assets.directories.items():
        modules = sorted(directory.rglob("*.py"))
        assert modules, service
        for module in modules:
            pyc = module.parent / "__pycache__" / f"{module.stem}.{tag}.pyc"
            header = pyc.read_bytes()[:16]
            assert header[:4] == magic, pyc
            assert int.from_bytes(header[4:8], "little") == 0b01, pyc
        assert len(list(directory.rglob("*.pyc"))) == len(modules), service


def test_the_compiler_is_the_runtimes_python(tmp_path: Path) -> None:
    """Pyodide compiles a module into the runtime's cache tag and magic (`compile_tree` checks the
    compiler's version and magic; reproducibility is `test_bundling_is_reproducible`'s)."""
    compiler = BytecodeCompiler.for_python(RUNTIME.name.removeprefix("python"))
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "mod.py").write_text("VALUE = {'a', 'b', 'c'}\n")
    compiler.compile_tree(tmp_path)
    header = (tmp_path / "pkg" / "__pycache__" / f"mod.{compiler.cache_tag}.pyc").read_bytes()[:8]
    assert header == bytes.fromhex(compiler.magic) + PYC_FLAGS_UNCHECKED_HASH.to_bytes(4, "little")


def test_the_coldstart_benchmark_judges_submit_on_what_the_bundling_ships() -> None:
    """Every asset ships bytecode for the runtime, so "as shipped" is the benchmark's bytecode variant."""
    assert RUNTIME.name.removeprefix("python") in BYTECODE_MAGIC
    assert coldstart.AS_SHIPPED == coldstart.WITH_BYTECODE


def test_a_compiler_for_another_python_is_refused() -> None:
    compiler = BytecodeCompiler.for_python("3.14")
    answer = {"version": "3.13.9", "cache_tag": "cpython-313", "magic": "f30d0d0a", "failures": []}
    with pytest.raises(BundlingError, match=r"pin a Pyodide built on CPython 3\.14"):
        compiler.check_compiler(answer)
    with pytest.raises(BundlingError, match=r"no bytecode magic number known for Python 3\.99"):
        BytecodeCompiler.for_python("3.99")


def test_bytecode_of_the_wrong_kind_is_refused(tmp_path: Path) -> None:
    compiler = BytecodeCompiler.for_python("3.14")
    (tmp_path / "mod.py").write_text("")
    (tmp_path / "__pycache__").mkdir()
    with pytest.raises(BundlingError, match=r"mod\.py: no mod\.cpython-314\.pyc"):
        compiler.check_bytecode(tmp_path)
    checked = bytes.fromhex(compiler.magic) + (0b11).to_bytes(4, "little") + bytes(8)
    (tmp_path / "__pycache__" / "mod.cpython-314.pyc").write_bytes(checked)
    with pytest.raises(BundlingError, match="header"):
        compiler.check_bytecode(tmp_path)


def test_submit_ships_wheels_built_for_lambda_arm64_and_its_python(assets: Assets) -> None:
    submit = assets.directories[Services.SUBMIT]
    assert (submit / "deepgram").is_dir()
    abi = "cpython-" + RUNTIME.name.removeprefix("python").replace(".", "")
    (extension,) = (submit / "pydantic_core").glob("_pydantic_core.*.so")
    assert extension.name == f"_pydantic_core.{abi}-aarch64-linux-gnu.so"
    for shared_object in submit.rglob("*.so"):
        header = shared_object.read_bytes()[:20]
        assert header[:4] == b"\x7fELF"
        assert int.from_bytes(header[18:20], "little") == ELF_MACHINE_AARCH64, shared_object.name
    (wheel,) = submit.glob("pydantic_core-*.dist-info/WHEEL")
    assert "manylinux" in wheel.read_text()
    assert "aarch64" in wheel.read_text()


def test_submit_ships_nothing_the_runtime_or_the_layer_provides(assets: Assets) -> None:
    submit = assets.directories[Services.SUBMIT]
    assert not [name for name in PROVIDED_ELSEWHERE if (submit / name).exists()]
    assert not (submit / "bin").exists()


def test_bundling_is_reproducible(
    assets: Assets, tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A fresh pip install (no bundle cache) into another assembly yields the same asset hashes."""
    monkeypatch.setenv(BUNDLE_CACHE_ENV, "")
    bundling.forget_installs()
    again = synthesize_with_bundling(tmp_path_factory.mktemp("bundled-again"))
    assert again.hashes == assets.hashes


def test_clean_up_removes_what_differs_between_machines(tmp_path: Path) -> None:
    (tmp_path / "bin").mkdir()
    (tmp_path / "bin" / "httpx").write_text("#!/home/someone/.venv/bin/python\n")
    record = tmp_path / "httpx-1.0.dist-info" / "RECORD"
    record.parent.mkdir()
    record.write_text("httpx/__init__.py,sha256=abc,10\n../../bin/httpx,sha256=def,20\n")
    (tmp_path / "httpx" / "__pycache__").mkdir(parents=True)
    make_deterministic(tmp_path)
    assert not (tmp_path / "bin").exists()
    assert not (tmp_path / "httpx" / "__pycache__").exists()
    assert record.read_text() == "httpx/__init__.py,sha256=abc,10\n"


def test_packages_provided_elsewhere_are_refused(tmp_path: Path) -> None:
    (tmp_path / "boto3").mkdir()
    with pytest.raises(BundlingError, match="boto3 \\(provided by the Lambda Python runtime\\)"):
        check_not_shipped(tmp_path)
