"""`make demo`, the product's main job shown end to end, runs and ends with a real transcript."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]


def test_the_demo_transcribes_the_sample_through_the_whole_pipeline() -> None:
    completed = subprocess.run(
        [sys.executable, "-m", "local.demo", "--callback-port", "0", "--timeout", "60"],
        cwd=ROOT,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=150,
        check=False,
    )
    output = completed.stdout
    log = re.search(r"The components' logs are in (\S+)", output)
    if log:
        Path(log.group(1)).unlink(missing_ok=True)
    assert completed.returncode == 0, output + completed.stderr
    assert "A real transcript came through the whole pipeline." in output
    transcript = output.split("Transcript:", 1)[1].lower()
    assert "weather" in transcript
    assert "message" in transcript
    assert "How long each stage took" in output
    assert '"level"' not in output  # the functions' JSON logs stay out of the report
