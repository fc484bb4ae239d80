"""Speech recognition in worker processes, so decoding never holds the serving process's GIL.

PocketSphinx holds the GIL for as long as it decodes a speech region (seconds for a long one). Run
in a thread of the emulator's own process, it would stall the HTTP threads for as long: a callback
submission that Deepgram answers at once would wait for someone else's recognition to finish.
`RecognitionPool` keeps a few child processes (`python -m local.deepgram_emulator.worker`), each
with its own decoder, and hands each recognition to an idle one; the calling thread just waits on
a pipe, with the GIL released.

* Workers start on first use (or on `warm_up`), each loading the model once, and are reused.
  At most `size` exist; a recognition waits for an idle one.
* The protocol is two pipes, frames of an 8-byte big-endian length then the data: WAV bytes in,
  JSON out (`{"ready": true}` once the model is loaded, then one answer per recognition).
* A worker that dies (killed, out of memory, a crash in the C library) fails only the recognition
  it was running, with `RecognitionWorkerError`; the next recognition starts a fresh worker.
* `close` kills every worker at once and reaps it: a recognition still running raises
  `RecognitionPoolClosed`, and no process is left behind. Workers also exit by themselves when
  their stdin closes, so even a parent killed by SIGKILL leaves none running for long.

Subprocesses rather than `multiprocessing`: spawning through `multiprocessing` re-imports the
parent's `__main__` in every worker (fatal for scripts without a main guard or fed on stdin) and
starts a resource tracker process that outlives the pool.
"""

from __future__ import annotations

import contextlib
import json
import os
import struct
import subprocess
import sys
import threading
from pathlib import Path
from typing import IO, Any, cast

from local.deepgram_emulator.recognizer import AudioDecodeError, Recognition, RecognizedWord

__all__ = [
    "RecognitionPool",
    "RecognitionPoolClosed",
    "RecognitionWorkerError",
    "default_pool_size",
]

WORKER_MODULE = "local.deepgram_emulator.worker"
_IMPORT_ROOT = Path(__file__).resolve().parents[2]
"""The directory holding the `local` package: the workers' working directory, so `-m` finds it."""

_HEADER = struct.Struct(">Q")


class RecognitionWorkerError(RuntimeError):
    """A worker process died (or failed to start) before answering: the audio was not recognised."""


class RecognitionPoolClosed(RuntimeError):
    """The pool was closed (the emulator is stopping) before the recognition finished."""


def default_pool_size() -> int:
    """Two workers, or one on a single-CPU machine: recognition is CPU-bound."""
    return min(2, os.cpu_count() or 1)


def write_frame(stream: IO[bytes], data: bytes) -> None:
    stream.write(_HEADER.pack(len(data)))
    stream.write(data)
    stream.flush()


def read_frame(stream: IO[bytes]) -> bytes | None:
    """The next frame, or None if the stream ended cleanly before it; EOFError if it ended inside."""
    header = stream.read(_HEADER.size)
    if not header:
        return None
    if len(header) < _HEADER.size:
        raise EOFError("truncated frame header")
    (length,) = _HEADER.unpack(header)
    data = stream.read(length)
    if len(data) < length:
        raise EOFError("truncated frame")
    return data


def recognition_to_json(recognition: Recognition) -> dict[str, Any]:
    return {
        "duration": recognition.duration,
        "words": [[w.word, w.start, w.end, w.confidence, w.region] for w in recognition.words],
    }


def recognition_from_json(document: dict[str, Any]) -> Recognition:
    return Recognition(
        words=tuple(
            RecognizedWord(word=word, start=start, end=end, confidence=confidence, region=region)
            for word, start, end, confidence, region in document["words"]
        ),
        duration=float(document["duration"]),
    )


class _WorkerGone(Exception):
    """The worker's pipes broke: it exited, or was killed."""


class _Worker:
    """One child process and its pipes. Used by one thread at a time (the pool sees to it)."""

    def __init__(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", WORKER_MODULE],
            cwd=_IMPORT_ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
        )
        self.ready = False

    @property
    def pid(self) -> int:
        return self.process.pid

    def wait_ready(self) -> None:
        if not self.ready:
            answer = self._receive()
            if answer.get("ready") is not True:
                raise _WorkerGone(f"unexpected greeting {answer!r}")
            self.ready = True

    def call(self, audio: bytes) -> dict[str, Any]:
        try:
            write_frame(cast(IO[bytes], self.process.stdin), audio)
        except (OSError, ValueError) as error:  # ValueError: the pipe was closed
            raise _WorkerGone(str(error)) from error
        return self._receive()

    def _receive(self) -> dict[str, Any]:
        try:
            frame = read_frame(cast(IO[bytes], self.process.stdout))
        except (OSError, ValueError, EOFError) as error:
            raise _WorkerGone(str(error)) from error
        if frame is None:
            raise _WorkerGone("end of output")
        return cast(dict[str, Any], json.loads(frame))

    def kill(self) -> None:
        """SIGKILL: a blocked `call` in another thread then sees end of output at once."""
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):  # exited meanwhile
                self.process.kill()

    def dispose(self, timeout: float | None = 5.0) -> int | None:
        """Kill, reap and close the pipes; the exit code (None if it outlived `timeout`).

        Only the thread that owns the worker (or anyone, for an idle one) may call this: closing a
        pipe another thread is reading from would wait for that read to end.
        """
        self.kill()
        try:
            code = self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            code = None
        for stream in (self.process.stdin, self.process.stdout):
            if stream is not None:
                with contextlib.suppress(OSError):  # a broken pipe can fail to flush
                    stream.close()
        return code


class RecognitionPool:
    """Recognises WAV audio in up to `size` worker processes (see the module docstring)."""

    def __init__(self, size: int | None = None) -> None:
        self._size = default_pool_size() if size is None else size
        if self._size < 1:
            raise ValueError("a recognition pool needs at least one worker")
        self._changed = threading.Condition()
        self._workers: set[_Worker] = set()
        """Every live worker: idle, busy or starting."""
        self._idle: list[_Worker] = []
        self._starting = 0
        """Slots reserved by threads about to start a worker."""
        self._closed = False

    @property
    def size(self) -> int:
        return self._size

    @property
    def closed(self) -> bool:
        return self._closed

    def pids(self) -> list[int]:
        """The process ids of the live workers."""
        with self._changed:
            return sorted(worker.pid for worker in self._workers)

    def warm_up(self) -> None:
        """Start every missing worker now, in parallel, and wait until each has loaded the model."""
        with self._changed:
            self._raise_if_closed()
            missing = max(self._size - len(self._workers) - self._starting, 0)
            self._starting += missing
        started: list[_Worker] = []
        failure: BaseException | None = None
        for _ in range(missing):
            try:
                started.append(self._start_reserved())
            except (RecognitionWorkerError, RecognitionPoolClosed) as error:
                failure = failure or error
        for worker in started:
            try:
                self._wait_ready(worker)
            except (RecognitionWorkerError, RecognitionPoolClosed) as error:
                failure = failure or error
                continue
            self._release(worker)
        if failure is not None:
            raise failure

    def recognize(self, audio: bytes) -> Recognition:
        """Recognise a WAV file in a worker.

        Raises `AudioDecodeError` for undecodable audio, `RecognitionWorkerError` if the worker
        died or failed, and `RecognitionPoolClosed` if the pool was closed meanwhile.
        """
        worker = self._acquire()
        self._wait_ready(worker)
        try:
            answer = worker.call(audio)
        except _WorkerGone as gone:
            raise self._lost(worker, "while recognising", gone) from gone
        except BaseException:
            self._discard(worker)
            raise
        self._release(worker)
        error = answer.get("error")
        if error == "audio":
            raise AudioDecodeError(str(answer.get("message")))
        if error is not None:
            raise RecognitionWorkerError(f"recognition failed in the worker: {answer.get('message')}")
        return recognition_from_json(answer)

    def close(self, timeout: float = 5.0) -> None:
        """Kill every worker now (running recognitions raise `RecognitionPoolClosed`). Idempotent."""
        with self._changed:
            if self._closed:
                return
            self._closed = True
            workers = list(self._workers)
            idle = list(self._idle)
            self._idle.clear()
            self._changed.notify_all()
        for worker in workers:
            worker.kill()
        # Busy workers are reaped by the threads using them, which now see the end of their output.
        for worker in idle:
            worker.dispose(timeout)
            self._forget(worker)
        for worker in workers:
            with contextlib.suppress(subprocess.TimeoutExpired):
                worker.process.wait(timeout)

    # Internals ------------------------------------------------------------------------------------

    def _acquire(self) -> _Worker:
        """An idle worker, or a new one if fewer than `size` exist; waits for one otherwise."""
        with self._changed:
            while True:
                self._raise_if_closed()
                while self._idle:
                    worker = self._idle.pop()  # the most recently used: its pages are warm
                    if worker.process.poll() is None:
                        return worker
                    self._workers.discard(worker)  # died while idle
                    worker.dispose(0)
                if len(self._workers) + self._starting < self._size:
                    self._starting += 1
                    break
                self._changed.wait()
        return self._start_reserved()

    def _start_reserved(self) -> _Worker:
        """Start a worker in a slot reserved by incrementing `_starting` (does not wait for it)."""
        try:
            worker = _Worker()
        except OSError as error:
            with self._changed:
                self._starting -= 1
                self._changed.notify_all()
            raise RecognitionWorkerError(f"could not start a recognition worker: {error}") from error
        with self._changed:
            self._starting -= 1
            self._workers.add(worker)
            closed = self._closed
        if closed:
            self._discard(worker)
            raise RecognitionPoolClosed("the recognition pool is closed")
        return worker

    def _wait_ready(self, worker: _Worker) -> None:
        try:
            worker.wait_ready()
        except _WorkerGone as gone:
            raise self._lost(worker, "while loading the model", gone) from gone

    def _lost(self, worker: _Worker, when: str, gone: _WorkerGone) -> Exception:
        code = worker.dispose()
        self._forget(worker)
        if self._closed:
            return RecognitionPoolClosed("the recognition pool was closed")
        return RecognitionWorkerError(
            f"the recognition worker (pid {worker.pid}) exited {when} (exit code {code}; {gone})"
        )

    def _release(self, worker: _Worker) -> None:
        with self._changed:
            if not self._closed:
                self._idle.append(worker)
                self._changed.notify()
                return
        self._discard(worker)

    def _discard(self, worker: _Worker) -> None:
        worker.dispose()
        self._forget(worker)

    def _forget(self, worker: _Worker) -> None:
        with self._changed:
            self._workers.discard(worker)
            self._changed.notify_all()

    def _raise_if_closed(self) -> None:
        if self._closed:
            raise RecognitionPoolClosed("the recognition pool is closed")
