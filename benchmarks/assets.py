"""Benchmark 3: the size of each function's Lambda asset, zipped and unzipped.

The assets are built into a temporary directory by `infra.bundling.LocalBundler`, the bundler the
CDK app uses (without Docker), for the runtime and architecture `infra.functions` deploys: what is
measured is what ships. Its pip install is cached on disk (`.build/bundle-cache`), so a second run
costs seconds.

Zipped = every file deflated at level 9 into one archive, entries in a stable order (what the CDK
CLI uploads is a zip of the same directory). Baseline: the code every asset shares
(`functions/__init__.py` + `functions/core/`), zipped the same way.
"""

from __future__ import annotations

import fnmatch
import io
import shutil
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks import harness
from benchmarks.report import BenchmarkError, BenchmarkResult, Row

NAME = "assets"
TITLE = "Lambda asset size per function (zipped, unzipped)"

FUNCTIONS = ("callback", "status", "submit")
QUICK_FUNCTIONS = ("callback", "status")
CALLBACK_TARGET_KB = 100.0
EXCLUDED = ("__pycache__", "*.pyc", "*.pyo", "tests", "test_*.py", "conftest.py", "requirements*.txt")
LAMBDA_ZIP_LIMIT_MB = 50
LAMBDA_UNZIPPED_LIMIT_MB = 250


@dataclass(frozen=True)
class AssetSize:
    files: int
    unzipped_bytes: int
    zipped_bytes: int
    largest: list[tuple[str, int]]
    """Top-level entries by unzipped size."""


def measure(directory: Path) -> AssetSize:
    files = sorted(path for path in directory.rglob("*") if path.is_file())
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        for path in files:
            info = zipfile.ZipInfo(path.relative_to(directory).as_posix(), date_time=(1980, 1, 1, 0, 0, 0))
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, path.read_bytes(), compresslevel=9)
    by_top: dict[str, int] = {}
    for path in files:
        top = path.relative_to(directory).parts[0]
        by_top[top] = by_top.get(top, 0) + path.stat().st_size
    largest = sorted(by_top.items(), key=lambda item: item[1], reverse=True)[:8]
    return AssetSize(
        files=len(files),
        unzipped_bytes=sum(path.stat().st_size for path in files),
        zipped_bytes=len(buffer.getvalue()),
        largest=largest,
    )


# Building ----------------------------------------------------------------------------------------------


def build_with_infra(name: str, output: Path) -> dict[str, str]:
    """The asset as `infra.bundling` builds it for the deployed runtime and architecture."""
    # Lazily: importing infra/ starts the CDK's Node process (jsii), and infra/ may be absent.
    from infra import bundling  # noqa: PLC0415
    from infra.functions import ARCHITECTURE, RUNTIME  # noqa: PLC0415

    bundler = bundling.LocalBundler(
        name,
        repo_root=harness.REPO_ROOT,
        python_version=bundling.python_version(RUNTIME),
        machine=bundling.machine(ARCHITECTURE),
        cache_dir=bundling.configured_cache_dir(),
    )
    if not bundler.try_bundle(str(output), image=RUNTIME.bundling_image):
        raise BenchmarkError(f"infra.bundling declined to bundle {name}")
    return {
        "builder": "infra.bundling.LocalBundler",
        "python": bundling.python_version(RUNTIME),
        "platforms": ", ".join(bundler.platforms),
    }


def _copy_tree(source: Path, destination: Path) -> None:
    for path in sorted(source.rglob("*")):
        relative = path.relative_to(source)
        if any(fnmatch.fnmatch(part, pattern) for part in relative.parts for pattern in EXCLUDED):
            continue
        if path.is_file():
            (destination / relative).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, destination / relative)


# The benchmark ---------------------------------------------------------------------------------------


def run(*, quick: bool = False) -> BenchmarkResult:
    result = BenchmarkResult(NAME, TITLE)
    names = QUICK_FUNCTIONS if quick else FUNCTIONS
    sizes: dict[str, AssetSize] = {}
    builders: dict[str, dict[str, str]] = {}
    with tempfile.TemporaryDirectory(prefix="bench-assets-") as scratch:
        root = Path(scratch)
        for name in names:
            output = root / name
            output.mkdir()
            builders[name] = build_with_infra(name, output)
            sizes[name] = measure(output)
        shared = root / "shared"
        (shared / "functions").mkdir(parents=True)
        shutil.copyfile(harness.REPO_ROOT / "functions" / "__init__.py", shared / "functions" / "__init__.py")
        _copy_tree(harness.REPO_ROOT / "functions" / "core", shared / "functions" / "core")
        baseline = measure(shared)
    result.inputs = {
        "builder": next(iter(builders.values())),
        "zip": "deflate level 9, sorted entries, fixed timestamps",
        "baseline": "functions/__init__.py + functions/core/ (shared by every asset)",
    }
    for name in names:
        size = sizes[name]
        result.rows.append(
            Row(
                benchmark=NAME,
                case=f"{name} asset, zipped ({size.files} files)",
                unit="KB",
                value=size.zipped_bytes / 1024,
                baseline=baseline.zipped_bytes / 1024,
                baseline_label="shared core",
                target_max=CALLBACK_TARGET_KB if name == "callback" else None,
                target_inclusive=False,
            )
        )
        result.rows.append(
            Row(
                benchmark=NAME,
                case=f"{name} asset, unzipped",
                unit="KB",
                value=size.unzipped_bytes / 1024,
                baseline=baseline.unzipped_bytes / 1024,
                baseline_label="shared core",
            )
        )
    result.details = {
        "bytes": {
            name: {
                "files": size.files,
                "unzipped": size.unzipped_bytes,
                "zipped": size.zipped_bytes,
                "largest_top_level_entries": dict(size.largest),
            }
            for name, size in sizes.items()
        },
        "baseline_bytes": {"unzipped": baseline.unzipped_bytes, "zipped": baseline.zipped_bytes},
        "builders": builders,
    }
    result.notes.extend(_notes(result, sizes))
    return result


def _notes(result: BenchmarkResult, sizes: dict[str, AssetSize]) -> list[str]:
    builder = result.inputs["builder"]
    notes = [
        f"Built by {builder['builder']} for Python {builder['python']} on {builder['platforms']}"
        + "; boto3 (runtime) and Powertools (public layer) are not in any asset.",
    ]
    if "submit" in sizes:
        submit = sizes["submit"]
        notes.append(
            "submit's largest entries (unzipped): "
            + ", ".join(f"{name} {size / 1024:,.0f} KB" for name, size in submit.largest[:6])
            + f"; Lambda limits: {LAMBDA_ZIP_LIMIT_MB} MB zipped upload, "
            f"{LAMBDA_UNZIPPED_LIMIT_MB} MB unzipped with layers."
        )
    return notes


def describe(result: BenchmarkResult) -> dict[str, Any]:
    """Sizes by function, for the cost benchmark's notes."""
    return dict(result.details.get("bytes", {}))
