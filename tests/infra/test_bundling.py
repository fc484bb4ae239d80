"""The real Lambda assets, built by infra/bundling.py (pip installs from PyPI; ~30 s the first time)."""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import aws_cdk as cdk
import pytest

from functions.core.contract import HANDLERS, Env, Services
from infra import bundling
from infra.bundling import (
    BUNDLE_CACHE_ENV,
    PROVIDED_ELSEWHERE,
    RUNS_CODE_OF,
    BundlingError,
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


def zipped_size(directory: Path) -> int:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name in sorted(files(directory)):
            archive.write(directory / name, name)
    return len(buffer.getvalue())


def package_of(service: str) -> str:
    return HANDLERS[service].split(".")[1]


def test_every_asset_holds_only_the_shared_code_and_its_own_package(assets: Assets) -> None:
    for service, directory in assets.directories.items():
        assert {p.name for p in (directory / "functions").iterdir()} == {
            "__init__.py",
            "core",
            package_of(service),
            *RUNS_CODE_OF.get(package_of(service), ()),
        }
        assert f"functions/{package_of(service)}/handler.py" in files(directory)
        assert "functions/core/contract.py" in files(directory)
        shipped = files(directory)
        assert not [
            name for name in shipped if "__pycache__" in name or name.endswith((".pyc", "requirements.txt"))
        ]
        ours = [name for name in shipped if name.startswith("functions/")]
        assert not [name for name in ours if "/tests/" in name or Path(name).name.startswith("test_")]


def test_callback_and_status_ship_no_third_party_packages(assets: Assets) -> None:
    for service in (Services.CALLBACK, Services.STATUS):
        assert {p.name for p in assets.directories[service].iterdir()} == {"functions"}
    assert zipped_size(assets.directories[Services.CALLBACK]) < CALLBACK_ZIP_LIMIT


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
