"""`npx cdk synth` with the pinned CLI works on a machine with no AWS credentials or account."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from infra.bundling import BUNDLE_CACHE_ENV, REPO_ROOT
from infra.config import Settings

pytestmark = pytest.mark.infra

SYNTH_TIMEOUT_SECONDS = 300


def offline_environment(home: Path, bundle_cache_dir: Path) -> dict[str, str]:
    """This process's environment without any AWS or CDK settings, with an empty home directory."""
    environment = {
        name: value for name, value in os.environ.items() if not name.startswith(("AWS_", "CDK_", "npm_"))
    }
    environment.update(
        {
            "HOME": str(home),
            BUNDLE_CACHE_ENV: str(bundle_cache_dir),
            "AWS_EC2_METADATA_DISABLED": "true",  # no instance-metadata probing for credentials
            "CDK_DISABLE_VERSION_CHECK": "true",
            "CDK_DISABLE_CLI_TELEMETRY": "true",
            "NPM_CONFIG_UPDATE_NOTIFIER": "false",
            "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20",
        }
    )
    return environment


def test_pinned_cli_synthesizes_without_aws(tmp_path: Path, bundle_cache_dir: Path) -> None:
    package = json.loads((REPO_ROOT / "package.json").read_text())
    assert package["devDependencies"]["aws-cdk"].startswith("2.1148.")
    if not (REPO_ROOT / "node_modules" / ".bin" / "cdk").exists():
        pytest.fail("the CDK CLI is not installed: run `make install` (npm ci)")
    home = tmp_path / "home"
    home.mkdir()
    outdir = tmp_path / "cdk.out"

    result = subprocess.run(
        ["npx", "--no-install", "cdk", "synth", "--quiet", "--no-notices", "--output", str(outdir)],
        cwd=REPO_ROOT,
        env=offline_environment(home, bundle_cache_dir),
        capture_output=True,
        text=True,
        timeout=SYNTH_TIMEOUT_SECONDS,
        check=False,
    )

    assert result.returncode == 0, result.stdout + result.stderr
    template = json.loads((outdir / f"{Settings().stack_name}.template.json").read_text())
    assert any(r["Type"] == "AWS::Lambda::Function" for r in template["Resources"].values())
    report = json.loads((outdir / "validation-report.json").read_text())
    assert all(plugin["conclusion"] == "success" for plugin in report["pluginReports"])
