"""`make serve`: the whole pipeline on this machine, in the foreground, until Ctrl-C or SIGTERM.

Prints exactly one line on stdout, a JSON object with every endpoint and resource a client needs
(so a script can read it), writes the same object to `.local/endpoints.json` in the repository
(where the `dgt --local` client finds it; removed again on exit), then serves. Everything else,
the functions' structured logs, one line per HTTP request and the Deepgram emulator's log
included, goes to stderr.

    python -m local.serve [--callback-port 8080] [--api-port 0] [--callback-method POST]
                          [--endpoints-file .local/endpoints.json]
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from types import FrameType
from typing import Any, TextIO

from functions.core.contract import Env
from functions.core.settings import CALLBACK_METHODS
from local.stack import DEFAULT_CALLBACK_PORT, LocalStack

RECONCILE_EVERY_SECONDS = 10.0
"""How often `make serve` runs the reconciler (EventBridge: every `reconcilePeriodMinutes`); locally
more often, so that owed notifications go out within seconds."""

ENDPOINTS_FILE = Path(__file__).resolve().parents[1] / ".local" / "endpoints.json"
"""Where the endpoints are written for clients (`dgt --local`); gitignored."""


def parse_arguments(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m local.serve",
        description="Run the transcription pipeline locally: API, callback, Deepgram emulator, moto.",
    )
    parser.add_argument(
        "--callback-port",
        type=int,
        default=DEFAULT_CALLBACK_PORT,
        help="port of the callback Function URL; Deepgram only calls back to 80, 443, 8080 and 8443 "
        "(default: %(default)s; 0 picks a free one, which the emulator then allows)",
    )
    parser.add_argument(
        "--api-port", type=int, default=0, help="port of the REST API (default: 0, a free one)"
    )
    parser.add_argument(
        "--callback-method",
        choices=CALLBACK_METHODS,
        type=str.upper,
        default="POST",
        help="how Deepgram delivers results (default: %(default)s)",
    )
    parser.add_argument("--log-level", default="INFO", help="stderr log level (default: %(default)s)")
    parser.add_argument(
        "--endpoints-file",
        type=Path,
        default=ENDPOINTS_FILE,
        help="also write the endpoints here, for `dgt --local`; removed on exit; '' for none "
        "(default: .local/endpoints.json in the repository)",
    )
    return parser.parse_args(argv)


def reserve_stdout() -> TextIO:
    """A stream on the real stdout; from now on anything else written to stdout goes to stderr.

    Works at the file descriptor level, so the functions' loggers (bound to `sys.stdout` when
    they were imported), metrics printed with `print` and child processes all follow.
    """
    sys.stdout.flush()
    reserved = os.fdopen(os.dup(sys.stdout.fileno()), "w", buffering=1)
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    return reserved


def main(argv: Sequence[str] | None = None) -> int:
    arguments = parse_arguments(argv)
    output = reserve_stdout()
    _log_to_stderr(arguments.log_level)
    stopping = threading.Event()

    def request_stop(signal_number: int, _frame: FrameType | None) -> None:
        logging.getLogger("local.serve").info("%s received: stopping", signal.Signals(signal_number).name)
        stopping.set()

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)

    stack = LocalStack(
        api_port=arguments.api_port,
        callback_port=arguments.callback_port,
        function_environment={Env.CALLBACK_METHOD: arguments.callback_method},
        reconcile_every_seconds=RECONCILE_EVERY_SECONDS,
    )
    try:
        stack.start()
    except OSError as error:
        print(f"cannot start the local stack: {error}", file=sys.stderr)
        return 1
    written: tuple[Path, str] | None = None
    try:
        endpoints = stack.describe()
        written = _write_endpoints(arguments.endpoints_file, endpoints)  # before the line: it means ready
        output.write(json.dumps(endpoints) + "\n")
        output.flush()
        print(_banner(endpoints), file=sys.stderr, flush=True)
        stopping.wait()
    finally:
        if written is not None:
            _remove_endpoints(*written)
        started = time.monotonic()
        stack.stop()
        logging.getLogger("local.serve").info("stopped in %.1f s", time.monotonic() - started)
    return 0


def _write_endpoints(path: Path, endpoints: dict[str, Any]) -> tuple[Path, str] | None:
    """Write the endpoints to `path` atomically; (path, text) to remove later, None if not written."""
    if not str(path) or str(path) == ".":
        return None
    text = json.dumps(endpoints, indent=2) + "\n"
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(f".{path.name}.{os.getpid()}")
        partial.write_text(text)
        partial.replace(path)
    except OSError as error:
        logging.getLogger("local.serve").warning("cannot write the endpoints to %s: %s", path, error)
        return None
    return path, text


def _remove_endpoints(path: Path, text: str) -> None:
    """Remove the endpoints file, unless another `make serve` has replaced it since."""
    try:
        if path.read_text() == text:
            path.unlink()
    except OSError:
        pass


def _log_to_stderr(level: str) -> None:
    """The local stack's own loggers (`local.*`) to stderr at `level`.

    The root logger is left alone: the functions' Powertools loggers print their own JSON lines
    and would be printed twice through it, and botocore and httpx would add a line per request.
    """
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    local = logging.getLogger("local")
    local.addHandler(handler)
    local.setLevel(level.upper())


def _banner(endpoints: dict[str, Any]) -> str:
    api, key = endpoints["api_url"], endpoints["deepgram_api_key"]
    return "\n".join(
        [
            "",
            "Local transcription pipeline ready (Ctrl-C to stop)",
            f"  REST API (API Gateway)      {api}",
            f"  callback (Function URL)     {endpoints['callback_url']}",
            f"  Deepgram (emulator)         {endpoints['deepgram_url']}   API key: {key}",
            f"  AWS (moto)                  {endpoints['aws_endpoint_url']}   region {endpoints['region']}",
            "",
            "Try:",
            "  .venv/bin/dgt --local submit local/audio/sample.wav --option smart_format=true --wait",
            "  .venv/bin/dgt --local result <id> --format srt",
            "or:",
            f"  curl -s -X POST '{api}/transcriptions?smart_format=true' \\",
            "       -H 'Content-Type: audio/wav' --data-binary @local/audio/sample.wav",
            f"  curl -s {api}/transcriptions/<id>",
            "",
        ]
    )


if __name__ == "__main__":
    raise SystemExit(main())
