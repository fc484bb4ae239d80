"""Lambda execution environments: each function's handler in a long-lived worker process of its own.

In Lambda every function runs in its own execution environment (a process), which handles one
invocation at a time and keeps its module state (clients, Powertools Logger keys and Metrics'
metric set, caches) from one warm invocation to the next. `LocalFunction` gives each function the
same: a worker process, started once, that imports the function's handler by its path (as the
CDK app deploys it, `functions.<name>.handler.lambda_handler`) with the function's environment
already set, then runs one event at a time. Nothing is shared between functions, nor with the
gateway's process.

    python -m local.function_process <response fd> [<module to preload>...]   # the worker

Protocol: frames of an 8-byte big-endian length followed by that many bytes of JSON. The parent
writes requests to the worker's stdin and reads answers from a pipe handed over as `<response fd>`;
the worker's stdout and stderr are the parent's, so the function's logs go where the parent's
would (as Lambda's go to CloudWatch). First `{"init": {...}}` -> `{"ready": pid}` or an error;
then `{"event": ...}` -> `{"result": ...}` or Lambda's error shape `{"errorType", "errorMessage",
"stackTrace"}`. The worker exits when its stdin closes, so a parent that dies, even by SIGKILL,
cannot leave it running.

Like Lambda: the event is decoded from its JSON payload, the result must be JSON-serialisable
(Decimals become numbers, as in the Python runtime), an exception in the handler fails that
invocation only (the environment stays warm), and an environment whose process died is replaced
by a fresh one (a cold start) on the next invocation.
"""

from __future__ import annotations

import contextlib
import decimal
import importlib
import json
import os
import select
import signal
import struct
import subprocess
import sys
import threading
import time
import traceback
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import IO, Any, BinaryIO, Final, cast

from local.events import LambdaContext

REPOSITORY_ROOT = Path(__file__).resolve().parents[1]

LAMBDA_MAX_PAYLOAD_BYTES: Final = 6 * 1024 * 1024
"""Lambda refuses a synchronous invocation whose event, as JSON, is larger (6,291,456 bytes)."""

START_TIMEOUT_SECONDS: Final = 60.0
"""How long a worker may take to import its handler (the init phase) before start() gives up."""

STOP_TIMEOUT_SECONDS: Final = 5.0
"""How long a worker may take to finish its invocation and exit once told to stop; then it is killed."""

Handler = Callable[[dict[str, Any], Any], Any]

_LENGTH = struct.Struct(">Q")
_READ_SIZE = 1024 * 1024


class InvocationError(Exception):
    """Lambda could not run the invocation, or the function raised (Lambda's "Unhandled" error)."""


class PayloadTooLarge(InvocationError):
    """Lambda's `RequestEntityTooLargeException`: the event exceeds the invocation payload limit."""

    def __init__(self, size: int, *, at_least: bool = False) -> None:
        this_one = f"more than {size}" if at_least else str(size)
        super().__init__(
            f"Request must be smaller than {LAMBDA_MAX_PAYLOAD_BYTES} bytes for the InvokeFunction "
            f"operation (this one: {this_one} bytes)"
        )


class FunctionStartError(RuntimeError):
    """A worker could not start, or its handler failed to import (Lambda's init error)."""


# The parent's side ------------------------------------------------------------------------------------


class LocalFunction:
    """One warm execution environment of one Lambda function (reserved concurrency 1), in its own process.

    `launch()` starts the worker's interpreter early (it waits for its environment);
    `start(environment)` gives it the environment and waits until the handler is imported;
    `invoke(event)` runs one event (callers take turns); `stop()` ends the process.
    `begin_start`/`finish_start` and `begin_stop`/`finish_stop` split those two so that several
    functions start and stop in parallel (`Functions` does).
    """

    def __init__(
        self,
        name: str,
        handler: str,
        *,
        timeout_seconds: float,
        memory_mb: int,
        preload: Sequence[str] = (),
        start_timeout_seconds: float = START_TIMEOUT_SECONDS,
    ) -> None:
        self.name = name
        self.handler = handler
        """The handler's path, `package.module.function`."""
        self.timeout_seconds = timeout_seconds
        self.memory_mb = memory_mb
        self.preload = tuple(preload)
        """Modules the worker imports as soon as it starts, before it has its environment."""
        self._start_timeout = start_timeout_seconds
        self._environment: dict[str, str] | None = None
        self._worker: _Worker | None = None
        self._invoke_lock = threading.Lock()  # one invocation at a time, as Lambda gives an environment
        self._state_lock = threading.Lock()
        self._stopped = False

    # Lifecycle -----------------------------------------------------------------------------------------

    def launch(self) -> None:
        """Start the worker process without waiting; it waits for `start` to send its environment."""
        with self._state_lock:
            if self._stopped:
                raise FunctionStartError(f"{self.name}: stopped")
            if self._worker is None:
                self._worker = _Worker.launch(self.name, self.preload)

    def begin_start(self, environment: Mapping[str, str]) -> None:
        """Send the worker its environment and handler (launching it if needed); `finish_start` waits."""
        self._environment = dict(environment)
        self.launch()
        self._send_init(self._current())

    def finish_start(self) -> None:
        """Wait until the handler is imported; FunctionStartError (with the worker's traceback) if not."""
        with self._invoke_lock:  # the answer is read from the pipe invocations read theirs from
            self._current().wait_ready(self._start_timeout)

    def start(self, environment: Mapping[str, str]) -> LocalFunction:
        self.begin_start(environment)
        self.finish_start()
        return self

    def begin_stop(self) -> None:
        """Tell the worker to exit once its current invocation (if any) is done. Idempotent."""
        with self._state_lock:
            self._stopped = True
            worker = self._worker
        if worker is not None:
            worker.close_requests()

    def finish_stop(self, timeout: float = STOP_TIMEOUT_SECONDS) -> None:
        """Wait for the worker to exit, killing it after `timeout` seconds; free its pipes."""
        with self._state_lock:
            worker, self._worker = self._worker, None
        if worker is None:
            return
        worker.wait_exit(timeout)
        # The process is gone, so an invocation still reading its answer gets EOF and lets go.
        with self._invoke_lock:
            worker.close()

    def stop(self) -> None:
        self.begin_stop()
        self.finish_stop()

    def __enter__(self) -> LocalFunction:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def pid(self) -> int | None:
        """The worker's process id while it runs (a new one after the worker died and was replaced)."""
        worker = self._worker
        return worker.pid if worker is not None and worker.alive() else None

    # Invocation ----------------------------------------------------------------------------------------

    def invoke(self, event: dict[str, Any]) -> Any:
        """Run the handler on `event` as Lambda would; raises `InvocationError` where Lambda fails."""
        payload = json.dumps(event).encode()
        if len(payload) > LAMBDA_MAX_PAYLOAD_BYTES:
            raise PayloadTooLarge(len(payload))
        with self._invoke_lock:
            worker = self._warm_worker()
            started = time.monotonic()
            try:
                answer = worker.call(b'{"event":' + payload + b"}")
            finally:
                elapsed = time.monotonic() - started
                if elapsed > self.timeout_seconds:
                    _log(
                        f"{self.name}: took {elapsed:.1f} s, beyond its {self.timeout_seconds:g} s "
                        "timeout: Lambda would have stopped it"
                    )
        if "result" not in answer:
            raise InvocationError(f"{answer.get('errorType')}: {answer.get('errorMessage')}")
        return answer["result"]

    def _warm_worker(self) -> _Worker:
        """The running worker; a fresh one (a cold start) if the last one died. Under the invoke lock."""
        worker = self._current()
        if not worker.init_sent:
            raise InvocationError(f"{self.name}: not started; call start() first")
        if worker.alive():
            try:
                worker.wait_ready(self._start_timeout)  # at once if `finish_start` saw it ready
            except FunctionStartError as error:
                raise InvocationError(f"Runtime.InitError: {error}") from error
            return worker
        code = worker.exit_code()
        _log(f"{self.name}: its process exited (code {code}); starting a new execution environment")
        with self._state_lock:
            if self._stopped or self._worker is not worker:
                raise InvocationError(f"{self.name}: stopped")
            worker.close()
            self._worker = worker = _Worker.launch(self.name, self.preload)
        try:
            self._send_init(worker)
            worker.wait_ready(self._start_timeout)
        except FunctionStartError as error:
            raise InvocationError(f"Runtime.InitError: {error}") from error
        return worker

    def _current(self) -> _Worker:
        worker = self._worker
        if worker is None:
            raise InvocationError(
                f"{self.name}: not started" if not self._stopped else f"{self.name}: stopped"
            )
        return worker

    def _send_init(self, worker: _Worker) -> None:
        if self._environment is None:
            raise FunctionStartError(f"{self.name}: no environment; call start() first")
        if worker.init_sent:
            return
        try:
            worker.send_init(
                {
                    "handler": self.handler,
                    "environment": self._environment,
                    "function_name": self.name,
                    "memory_mb": self.memory_mb,
                    "timeout_seconds": self.timeout_seconds,
                }
            )
        except InvocationError as error:
            raise FunctionStartError(f"{self.name}: {error}") from error


class _Worker:
    """One worker process and its two pipes (see the module docstring)."""

    def __init__(self, name: str, process: subprocess.Popen[bytes], responses: int) -> None:
        self.name = name
        self.pid = process.pid
        self._process = process
        self._responses = responses
        self._ready = False
        self.init_sent = False
        self._broken = False
        """The pipes failed (the process is exiting or gone): the worker takes no more invocations."""

    @classmethod
    def launch(cls, name: str, preload: Sequence[str]) -> _Worker:
        read_end, write_end = os.pipe()
        try:
            process = subprocess.Popen(
                [sys.executable, "-m", __name__, str(write_end), *preload],
                cwd=REPOSITORY_ROOT,
                stdin=subprocess.PIPE,
                pass_fds=(write_end,),
            )
        except BaseException:
            os.close(read_end)
            raise
        finally:
            os.close(write_end)
        return cls(name, process, read_end)

    def alive(self) -> bool:
        return not self._broken and self._responses >= 0 and self._process.poll() is None

    def exit_code(self) -> int | None:
        return self._process.poll()

    def send_init(self, init: dict[str, Any]) -> None:
        self.init_sent = True
        self._send(json.dumps({"init": init}).encode(), "start")

    def wait_ready(self, timeout: float) -> None:
        if self._ready:
            return
        try:
            answer = self._receive(time.monotonic() + timeout)
        except InvocationError as error:
            raise FunctionStartError(f"{self.name}: {error}") from None
        if "ready" not in answer:
            raise FunctionStartError(
                f"{self.name}: the handler failed to load: {answer.get('errorType')}: "
                f"{answer.get('errorMessage')}\n{''.join(answer.get('stackTrace') or [])}"
            )
        self._ready = True

    def call(self, request: bytes) -> dict[str, Any]:
        self._send(request, "invoke")
        return self._receive(None)

    def close_requests(self) -> None:
        with contextlib.suppress(OSError):
            cast(IO[bytes], self._process.stdin).close()

    def wait_exit(self, timeout: float) -> None:
        self.close_requests()
        try:
            self._process.wait(timeout)
        except subprocess.TimeoutExpired:
            _log(f"{self.name}: still running {timeout:g} s after being told to stop; killed")
            self._process.kill()
            self._process.wait()

    def close(self) -> None:
        """Free the pipes (the process must have exited, or be about to be replaced)."""
        self.close_requests()
        if self._process.poll() is None:
            self._process.kill()
            self._process.wait()
        if self._responses >= 0:
            os.close(self._responses)
            self._responses = -1

    def _send(self, frame: bytes, what: str) -> None:
        stdin = cast(IO[bytes], self._process.stdin)
        try:
            stdin.write(_LENGTH.pack(len(frame)) + frame)
            stdin.flush()
        except (OSError, ValueError) as error:  # ValueError: stdin already closed by stop()
            self._broken = True
            raise InvocationError(
                f"Runtime.ExitError: {self.name}'s process is gone ({what}: {error})"
            ) from error

    def _receive(self, deadline: float | None) -> dict[str, Any]:
        header = self._read_exact(_LENGTH.size, deadline)
        if header is not None:
            body = self._read_exact(_LENGTH.unpack(header)[0], deadline)
            if body is not None:
                return cast(dict[str, Any], json.loads(body))
        self._broken = True
        with contextlib.suppress(subprocess.TimeoutExpired):  # its exit code, for the message
            self._process.wait(1)
        code = self._process.poll()
        raise InvocationError(
            f"Runtime.ExitError: {self.name}'s process exited"
            + (f" (code {code})" if code is not None else "")
            + "; see its log above"
        )

    def _read_exact(self, size: int, deadline: float | None) -> bytes | None:
        """`size` bytes from the response pipe; None at EOF; InvocationError past the deadline."""
        if self._responses < 0:
            return None
        pieces: list[bytes] = []
        remaining = size
        while remaining > 0:
            if deadline is not None:
                ready, _, _ = select.select([self._responses], [], [], max(0.0, deadline - time.monotonic()))
                if not ready:
                    raise InvocationError(f"{self.name} did not answer in time")
            piece = os.read(self._responses, min(remaining, _READ_SIZE))
            if not piece:
                return None
            pieces.append(piece)
            remaining -= len(piece)
        return b"".join(pieces)


class Functions(Mapping[str, LocalFunction]):
    """Several `LocalFunction`s by name, started and stopped together, in parallel."""

    def __init__(self, functions: Mapping[str, LocalFunction]) -> None:
        self._functions = dict(functions)

    def __getitem__(self, name: str) -> LocalFunction:
        return self._functions[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._functions)

    def __len__(self) -> int:
        return len(self._functions)

    def launch(self) -> None:
        """Start every worker's interpreter, each then waiting for its environment."""
        for function in self._functions.values():
            function.launch()

    def start(self, environment: Mapping[str, str]) -> None:
        """Give every worker its environment, then wait until all have imported their handlers.

        A function whose handler fails to load does not stop the others: as with Lambda's init
        error, its error is logged and each invocation of it fails (a 502) and tries again.
        """
        started: list[LocalFunction] = []
        for function in self._functions.values():
            try:
                function.begin_start(environment)
                started.append(function)
            except FunctionStartError as error:
                _log(f"{error}\n{_INIT_ERROR_NOTE}")
        for function in started:
            try:
                function.finish_start()
            except FunctionStartError as error:
                _log(f"{error}\n{_INIT_ERROR_NOTE}")

    def stop(self) -> None:
        for function in self._functions.values():
            function.begin_stop()
        for function in self._functions.values():
            function.finish_stop()


_INIT_ERROR_NOTE = "(Lambda's init error: every invocation of it fails with a 502 until its handler loads)"


def _log(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


# The worker ---------------------------------------------------------------------------------------------


def load_handler(path: str) -> Handler:
    """The function a handler path (`package.module.function`) names."""
    module_name, _, attribute = path.rpartition(".")
    return cast(Handler, getattr(importlib.import_module(module_name), attribute))


def _serve(response_fd: int, preload: Sequence[str]) -> int:
    # The requests arrive on fd 0; the handler gets /dev/null as stdin, like Lambda's runtime.
    requests = os.fdopen(os.dup(0), "rb")
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    responses = os.fdopen(response_fd, "wb")
    # Ctrl-C in a terminal reaches the whole process group: the parent decides when this stops.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    for stream in (sys.stdout, sys.stderr):  # each log line out as soon as it is written
        with contextlib.suppress(AttributeError, ValueError):
            cast(Any, stream).reconfigure(line_buffering=True)

    for module in preload:  # while the parent is still working out the environment
        with contextlib.suppress(ImportError):
            importlib.import_module(module)

    frame = _read_frame(requests)
    if frame is None:
        return 0
    init = json.loads(frame)["init"]
    os.environ.clear()
    os.environ.update(init["environment"])
    try:
        handler = load_handler(init["handler"])
    except Exception as error:
        _log(f"{init['function_name']}: init failed\n{traceback.format_exc()}")
        _write_frame(responses, json.dumps(_error(error)).encode())
        return 1
    _write_frame(responses, json.dumps({"ready": os.getpid()}).encode())

    while (frame := _read_frame(requests)) is not None:
        event = json.loads(frame)["event"]
        context = LambdaContext(
            function_name=init["function_name"],
            memory_limit_in_mb=init["memory_mb"],
            timeout_seconds=init["timeout_seconds"],
            log_group_name=f"/aws/lambda/{init['function_name']}",
        )
        _write_frame(responses, _invoke(handler, event, context, init["function_name"]))
    return 0


def _invoke(handler: Handler, event: dict[str, Any], context: LambdaContext, name: str) -> bytes:
    try:
        result = handler(event, context)
    except Exception as error:
        _log(f"{name}: unhandled {type(error).__name__}\n{traceback.format_exc()}")
        answer = _error(error)
    else:
        try:
            return json.dumps({"result": result}, default=_decimal_to_number).encode()
        except (TypeError, ValueError) as error:
            _log(f"{name}: unable to marshal the response: {error}")
            answer = {
                "errorType": "Runtime.MarshalError",
                "errorMessage": f"Unable to marshal response: {error}",
                "stackTrace": [],
            }
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
    return json.dumps(answer).encode()


def _error(error: BaseException) -> dict[str, Any]:
    """Lambda's shape of an unhandled error."""
    return {
        "errorType": type(error).__name__,
        "errorMessage": str(error),
        "stackTrace": traceback.format_tb(error.__traceback__),
    }


def _decimal_to_number(value: object) -> object:
    """What Lambda's Python runtime does with a Decimal in a response."""
    if isinstance(value, decimal.Decimal):
        return float(value)
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


def _read_frame(stream: BinaryIO) -> bytes | None:
    header = stream.read(_LENGTH.size)
    if len(header) < _LENGTH.size:
        return None
    (size,) = _LENGTH.unpack(header)
    body = stream.read(size)
    return body if len(body) == size else None


def _write_frame(stream: BinaryIO, body: bytes) -> None:
    stream.write(_LENGTH.pack(len(body)) + body)
    stream.flush()


def main(argv: Sequence[str]) -> None:
    code = _serve(int(argv[0]), argv[1:])
    # Like an execution environment that Lambda shuts down: no interpreter teardown (clients,
    # atexit hooks), which only slows the stack's stop; what the function logged is flushed.
    with contextlib.suppress(OSError, ValueError):
        sys.stdout.flush()
        sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    main(sys.argv[1:])
