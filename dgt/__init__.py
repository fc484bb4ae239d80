"""`dgt`: a command-line client of the transcription API (submit, wait, results as text, SRT, WebVTT)."""

import sys

__version__ = "0.1.0"


def run() -> int:
    """The console script: `dgt.cli.main`, with Ctrl-C during start-up handled too (exit 130)."""
    try:
        from dgt.cli import main  # noqa: PLC0415  (imported here so that Ctrl-C while importing is caught)

        return main()
    except KeyboardInterrupt:
        sys.stderr.write("\ndgt: interrupted\n")
        return 130
