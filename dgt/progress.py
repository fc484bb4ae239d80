"""Waiting for a job: polling with backoff, and showing progress on stderr.

On a terminal, one line redrawn in place (a spinner, the status, the elapsed time) and a
permanent line at each status change; otherwise plain lines only: each status change, and a
reminder every `PLAIN_HEARTBEAT_SECONDS`. Ctrl-C is left to the caller (the job is untouched).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TextIO

from dgt.api import ApiError, NetworkError

TERMINAL_STATUSES = frozenset({"completed", "failed", "deleted"})
INITIAL_INTERVAL = 0.5
MAX_INTERVAL = 5.0
BACKOFF_FACTOR = 1.5
MAX_CONSECUTIVE_ERRORS = 5
SPINNER_FRAME_SECONDS = 0.1
PLAIN_HEARTBEAT_SECONDS = 30.0
UNICODE_FRAMES = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"
ASCII_FRAMES = "|/-\\"


class WaitTimeout(Exception):
    def __init__(self, job_id: str, status: str, waited: float) -> None:
        super().__init__(
            f"job {job_id} is still {status} after {waited:.0f} s; it carries on (`dgt wait {job_id}`)"
        )
        self.job_id = job_id
        self.status = status


def short_id(job_id: str) -> str:
    return job_id if len(job_id) <= 12 else job_id[:8] + "…"


def describe_outcome(view: dict[str, Any]) -> str:
    """`18 words, 6.0 s of audio` for a completed job, the error for a failed one."""
    status = view.get("status")
    if status == "failed":
        error = view.get("error") or {}
        code, message = error.get("code"), error.get("message")
        return ": ".join(str(part) for part in (code, message) if part) or "no reason given"
    summary = view.get("summary") or {}
    parts = []
    if isinstance(summary.get("words"), int):
        parts.append(f"{summary['words']} words")
    if isinstance(summary.get("duration_seconds"), int | float):
        parts.append(f"{summary['duration_seconds']:.1f} s of audio")
    return ", ".join(parts)


class Progress:
    """Renders a wait on `stream`: a spinner line when `interactive`, plain lines otherwise."""

    def __init__(self, stream: TextIO, *, interactive: bool, enabled: bool = True) -> None:
        self._stream = stream
        self._interactive = interactive and enabled
        self._enabled = enabled
        encoding = (getattr(stream, "encoding", None) or "ascii").lower()
        self._frames = UNICODE_FRAMES if encoding.startswith("utf") else ASCII_FRAMES
        self._frame = 0
        self._line_drawn = False
        self._last_heartbeat = 0.0
        self._status = ""
        self._job = ""

    @property
    def interactive(self) -> bool:
        return self._interactive

    def changed(self, job_id: str, status: str, elapsed: float) -> None:
        """The job has a new status (or is seen for the first time)."""
        self._job, self._status = short_id(job_id), status
        self._last_heartbeat = elapsed
        if status in TERMINAL_STATUSES:  # the caller says how it ended, with the outcome
            self.clear()
            return
        self.line(f"job {self._job} {status} ({elapsed:.1f} s)")
        self.tick(elapsed)

    def tick(self, elapsed: float) -> None:
        """Time passes: the next spinner frame, or (plain) a reminder now and then."""
        if not self._enabled or self._status in TERMINAL_STATUSES:
            return
        if self._interactive:
            frame = self._frames[self._frame % len(self._frames)]
            self._frame += 1
            self._stream.write(f"\r\x1b[K{frame} job {self._job} {self._status} {elapsed:.1f} s")
            self._stream.flush()
            self._line_drawn = True
        elif elapsed - self._last_heartbeat >= PLAIN_HEARTBEAT_SECONDS:
            self._last_heartbeat = elapsed
            self.line(f"job {self._job} still {self._status} after {elapsed:.0f} s")

    def line(self, text: str) -> None:
        """A permanent line (the spinner line is cleared first)."""
        if not self._enabled:
            return
        self.clear()
        self._stream.write(text + "\n")
        self._stream.flush()

    def clear(self) -> None:
        if self._line_drawn:
            self._stream.write("\r\x1b[K")
            self._stream.flush()
            self._line_drawn = False


@dataclass
class Waiter:
    """Polls `fetch` until the job reaches a final status, with backoff from 0.5 s to 5 s.

    Transient API errors (429, 5xx) and network errors are retried (up to 5 in a row); others
    raise at once. `last` is the latest view seen, for a caller interrupted by Ctrl-C.
    """

    fetch: Callable[[], dict[str, Any]]
    progress: Progress
    timeout: float | None = None
    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep
    last: dict[str, Any] | None = None
    _started: float = field(default=0.0, init=False)

    def elapsed(self) -> float:
        return self.clock() - self._started

    def wait(self, job_id: str, first: dict[str, Any] | None = None) -> dict[str, Any]:
        self._started = self.clock()
        interval, errors, status = INITIAL_INTERVAL, 0, None
        view = first
        while True:
            if view is not None:
                self.last = view
                if view.get("status") != status:
                    status = str(view.get("status"))
                    self.progress.changed(job_id, status, self.elapsed())
                if status in TERMINAL_STATUSES:
                    self.progress.clear()
                    return view
            if self.timeout is not None and self.elapsed() >= self.timeout:
                self.progress.clear()
                raise WaitTimeout(job_id, status or "unknown", self.elapsed())
            self._pause(interval)
            interval = min(interval * BACKOFF_FACTOR, MAX_INTERVAL)
            try:
                view = self.fetch()
                errors = 0
            except (ApiError, NetworkError) as error:
                if isinstance(error, ApiError) and not error.transient:
                    self.progress.clear()
                    raise
                errors += 1
                if errors >= MAX_CONSECUTIVE_ERRORS:
                    self.progress.clear()
                    raise
                self.progress.line(f"dgt: warning: {error} (retrying)")
                if isinstance(error, ApiError) and error.retry_after:
                    interval = max(interval, min(error.retry_after, 60.0))
                view = None

    def _pause(self, seconds: float) -> None:
        """Sleep, redrawing the spinner meanwhile; never past the timeout."""
        if self.timeout is not None:
            seconds = max(0.0, min(seconds, self.timeout - self.elapsed()))
        end = self.clock() + seconds
        while (remaining := end - self.clock()) > 0:
            step = min(remaining, SPINNER_FRAME_SECONDS) if self.progress.interactive else remaining
            self.sleep(step)
            self.progress.tick(self.elapsed())
