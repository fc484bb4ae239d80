"""The Deepgram emulator in a child process, driven from the parent with the emulator's own methods.

Deepgram is another service, so the local stack runs its stand-in in a process of its own. It has
to, too: PocketSphinx holds the GIL while it decodes (close to a second at a time on this kind of
machine), which in the stack's process would freeze the gateway, the handlers and moto for as
long, distorting every latency and risking the handlers' short AWS timeouts.

`EmulatorProcess` offers the methods of `DeepgramEmulator` that the stack, the tests and the demo
use (`url`, `deliveries`, `jobs`, `faults`, `set_faults`, `reset`, `wait_idle`). Under the hood
the child prints one JSON line with its URL, then answers one JSON line per call read from its
stdin: `{"method": ..., "kwargs": {...}}` -> `{"result": ...}` or `{"error": ...}`. Closing its
stdin stops it, so a parent that dies, even by SIGKILL, cannot leave it running.

    python -m local.emulator_process '<DeepgramEmulator keyword arguments as JSON>'   # the child
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import queue
import signal
import subprocess
import sys
import threading
from collections.abc import Iterable, Mapping
from dataclasses import asdict
from pathlib import Path
from typing import IO, Any, cast

from local.deepgram_emulator import DeepgramEmulator, DeliveryRecord, Faults, JobRecord

REPOSITORY_ROOT = Path(__file__).resolve().parents[1]
CALLS = frozenset({"deliveries", "jobs", "faults", "set_faults", "reset", "wait_idle"})
"""The `DeepgramEmulator` methods the parent may call."""


class EmulatorProcessError(RuntimeError):
    """The child failed to start, died, or a call failed inside it."""


class EmulatorProcess:
    """A `DeepgramEmulator` running in a child Python process (see the module docstring)."""

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        api_keys: Mapping[str, str],
        retry_interval_seconds: float,
        max_delivery_attempts: int,
        allowed_callback_ports: Iterable[int] | None,
        log_level: str = "INFO",
        startup_timeout_seconds: float = 30.0,
    ) -> None:
        self._options: dict[str, Any] = {
            "host": host,
            "port": port,
            "api_keys": dict(api_keys),
            "retry_interval_seconds": retry_interval_seconds,
            "max_delivery_attempts": max_delivery_attempts,
            "allowed_callback_ports": (
                sorted(allowed_callback_ports) if allowed_callback_ports is not None else None
            ),
        }
        self._log_level = log_level
        self._startup_timeout = startup_timeout_seconds
        self._process: subprocess.Popen[str] | None = None
        self._lines: queue.Queue[str | None] = queue.Queue()
        self._reader: threading.Thread | None = None
        self._call_lock = threading.Lock()
        self._url: str | None = None

    def launch(self) -> None:
        """Start the child without waiting for it (`start` waits): other work can overlap its startup."""
        if self._process is not None:
            return
        self._process = subprocess.Popen(
            [sys.executable, "-m", __name__, json.dumps(self._options), self._log_level],
            cwd=REPOSITORY_ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            bufsize=1,
        )
        stdout = cast(IO[str], self._process.stdout)
        self._reader = threading.Thread(
            target=self._read_lines, args=(stdout,), name="deepgram-emulator-reader", daemon=True
        )
        self._reader.start()

    def start(self) -> EmulatorProcess:
        """Start the child (if `launch` did not) and wait until it serves."""
        self.launch()
        if self._url is None:
            self._url = str(self._receive(self._startup_timeout, "start")["url"])
        return self

    def stop(self, timeout: float = 5.0) -> None:
        """Close the child's stdin (it stops its emulator and exits); kill it if it lingers. Idempotent."""
        process = self._process
        if process is None or process.returncode is not None:
            return
        with contextlib.suppress(OSError):
            cast(IO[str], process.stdin).close()
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if self._reader is not None:
            self._reader.join(timeout)

    @property
    def url(self) -> str:
        if self._url is None:
            raise EmulatorProcessError("the Deepgram emulator is not started")
        return self._url

    # DeepgramEmulator's methods -------------------------------------------------------------------

    def deliveries(self) -> list[DeliveryRecord]:
        """Every delivery attempt so far, oldest first."""
        return cast(list[DeliveryRecord], self._call("deliveries"))

    def jobs(self) -> list[JobRecord]:
        """Every `/v1/listen` request accepted so far, oldest first."""
        return cast(list[JobRecord], self._call("jobs"))

    def faults(self) -> Faults:
        return Faults(**self._call("faults"))

    def set_faults(
        self,
        fail_next_deliveries: int = 0,
        duplicate_deliveries: bool = False,
        pad_result_to_bytes: int | None = None,
        synthetic_duration_seconds: float | None = None,
    ) -> None:
        """Replace the injected faults (arguments left out go back to "no fault")."""
        self._call(
            "set_faults",
            fail_next_deliveries=fail_next_deliveries,
            duplicate_deliveries=duplicate_deliveries,
            pad_result_to_bytes=pad_result_to_bytes,
            synthetic_duration_seconds=synthetic_duration_seconds,
        )

    def reset(self) -> None:
        """Clear faults and the job and delivery history."""
        self._call("reset")

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Block until no job is transcribing or delivering; False if `timeout` seconds passed first."""
        return bool(self._call("wait_idle", timeout=timeout))

    # Protocol -------------------------------------------------------------------------------------

    def _call(self, method: str, **kwargs: Any) -> Any:
        process = self._process
        if process is None or self._url is None:
            raise EmulatorProcessError("the Deepgram emulator is not started")
        wait = kwargs.get("timeout")
        with self._call_lock:
            try:
                stdin = cast(IO[str], process.stdin)
                stdin.write(json.dumps({"method": method, "kwargs": kwargs}) + "\n")
                stdin.flush()
            except (OSError, ValueError) as error:
                raise EmulatorProcessError(f"the Deepgram emulator is gone ({error})") from error
            answer = self._receive(30.0 + (wait or 0.0) if wait is not None else None, method)
        if "error" in answer:
            raise EmulatorProcessError(f"{method}: {answer['error']}")
        return answer["result"]

    def _receive(self, timeout: float | None, what: str) -> dict[str, Any]:
        try:
            line = self._lines.get(timeout=timeout)
        except queue.Empty:
            raise EmulatorProcessError(f"the Deepgram emulator did not answer {what} in time") from None
        if line is None:
            code = self._process.wait() if self._process is not None else None
            raise EmulatorProcessError(f"the Deepgram emulator exited (code {code}); see its log above")
        return cast(dict[str, Any], json.loads(line))

    def _read_lines(self, stdout: IO[str]) -> None:
        for line in stdout:
            self._lines.put(line)
        self._lines.put(None)


# The child ---------------------------------------------------------------------------------------


def _serve(options: dict[str, Any], log_level: str) -> int:
    # The protocol owns the real stdout; anything else written to fd 1 (a stray print, a C library)
    # goes to stderr instead of corrupting it.
    protocol = os.fdopen(os.dup(sys.stdout.fileno()), "w", buffering=1)
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    # Ctrl-C in a terminal reaches the whole process group: the parent decides when this stops.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    logging.basicConfig(
        level=log_level.upper(),
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s deepgram-emulator: %(message)s",
    )
    emulator = DeepgramEmulator(**options)
    emulator.warm_up()  # start the recognition workers before serving, not on the first request
    emulator.start()
    try:
        protocol.write(json.dumps({"url": emulator.url}) + "\n")
        for line in sys.stdin:
            protocol.write(json.dumps(_answer(emulator, line)) + "\n")
    finally:
        emulator.stop()
    return 0


def _answer(emulator: DeepgramEmulator, line: str) -> dict[str, Any]:
    try:
        request = json.loads(line)
        method = request["method"]
        if method not in CALLS:
            raise ValueError(f"unknown method {method!r}")
        result = getattr(emulator, method)(**request.get("kwargs", {}))
    except Exception as error:  # reported to the caller, which raises it
        return {"error": f"{type(error).__name__}: {error}"}
    return {"result": asdict(result) if isinstance(result, Faults) else result}


if __name__ == "__main__":
    raise SystemExit(_serve(json.loads(sys.argv[1]), sys.argv[2] if len(sys.argv) > 2 else "INFO"))
