"""The whole pipeline on one machine: the real handlers, moto for AWS, the Deepgram emulator.

    with LocalStack(callback_port=8080) as stack:
        ...  # POST {stack.api_url}/transcriptions, GET {stack.api_url}/transcriptions/{id}

How it maps to AWS (see local/README.md):

    API Gateway REST API  ->  `RestApi` on `api_url` (stage /v1)       -> submit, status, manage handlers
    Lambda Function URL   ->  `FunctionUrl` on `callback_url`           -> callback handler
    DynamoDB, S3, SNS, SQS, Secrets Manager  ->  moto's server on `aws_endpoint_url`
    Deepgram              ->  the Deepgram emulator, in a child process, on `deepgram_url`
                              (real offline recognition; see `local.emulator_process`)
    S3 -> EventBridge     ->  moto's S3 notifies an SQS queue of deliveries/ objects; a thread turns
                              each into EventBridge's "Object Created" event for the finisher
                              (`local.deliveries`)
    EventBridge schedule  ->  a thread invoking the reconciler every `reconcile_every_seconds`
                              (`make serve`: 10 s); `run_reconciler(at=...)` invokes it on demand,
                              optionally as of a later (simulated) moment

Each function runs in a worker process of its own (`local.function_process`), as in Lambda. The
handlers are not told about any of this: their workers start with the same environment variables
as in Lambda, and `AWS_ENDPOINT_URL` points every boto3 client at moto. This process's own boto3
clients (the stack's, the tests') reach moto the same way, through the fake credentials and the
endpoint set in `os.environ` while the stack runs; that, and moto's state (module globals), make
the stack process-wide, so only one `LocalStack` may run in a process at a time.
"""

from __future__ import annotations

import contextlib
import logging
import os
import secrets
import threading
from collections.abc import Iterator, Mapping
from contextlib import ExitStack
from datetime import datetime
from types import TracebackType
from typing import Any, TypeVar
from urllib.request import ProxyHandler, Request, build_opener

from moto.server import ThreadedMotoServer

from functions.core.contract import CALLBACK_ALLOWED_PORTS, Services
from functions.core.settings import DELIVERY_ROLE_ARN
from local.aws_resources import (
    Resources,
    create_resources,
    describe,
    function_environment,
    receive_notifications,
)
from local.deepgram_emulator import DEEPGRAM_MAX_DELIVERY_ATTEMPTS, DEEPGRAM_RETRY_INTERVAL_SECONDS
from local.deliveries import DeliveryEvents, create_signer_role
from local.emulator_process import EmulatorProcess
from local.events import scheduled_event
from local.gateway import DEFAULT_STAGE, Functions, FunctionUrl, LocalHttpServer, RestApi, build_functions

DEEPGRAM_API_KEY = "local-key"
"""The key the submit function reads from Secrets Manager and the emulator accepts."""

DEEPGRAM_API_KEY_ID = "local-key-id"
"""The key's identifier: the emulator sends it as `dg-token`, the callback function checks it."""

REGION = "us-east-1"
DEFAULT_CALLBACK_PORT = 8080
"""Deepgram only calls back to ports 80, 443, 8080 and 8443; 8080 needs no privileges."""

_FAKE_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "local",
    "AWS_SECRET_ACCESS_KEY": "local",
    "AWS_SESSION_TOKEN": "local",
}
_LOOPBACK = "127.0.0.1,localhost"

logger = logging.getLogger(__name__)
T = TypeVar("T")


class LocalStack:
    """Starts, wires and stops everything; a context manager. One per process at a time.

    `callback_port` 0 picks a free port; a port Deepgram would refuse is then allowed by the
    emulator (tests use free ports so they never collide with a developer's `make serve`).
    `function_environment` adds or overrides variables of the functions' environment, e.g.
    `{"CALLBACK_METHOD": "PUT"}` (each function's worker process gets it when it starts);
    `retry_interval_seconds` and `max_delivery_attempts` set the emulator's callback retries
    (Deepgram's: 30 s, 11 attempts). `reconcile_every_seconds` runs the reconciler on a schedule,
    as EventBridge does in AWS (None: only on demand, `run_reconciler`).
    """

    _active: LocalStack | None = None
    _active_lock = threading.Lock()

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        api_port: int = 0,
        callback_port: int = DEFAULT_CALLBACK_PORT,
        stage: str = DEFAULT_STAGE,
        function_environment: Mapping[str, str] | None = None,
        retry_interval_seconds: float = DEEPGRAM_RETRY_INTERVAL_SECONDS,
        max_delivery_attempts: int = DEEPGRAM_MAX_DELIVERY_ATTEMPTS,
        reconcile_every_seconds: float | None = None,
    ) -> None:
        self._host = host
        self._api_port = api_port
        self._callback_port = callback_port
        self._stage = stage
        self._environment_overrides = dict(function_environment or {})
        self._retry_interval_seconds = retry_interval_seconds
        self._max_delivery_attempts = max_delivery_attempts
        self._exit_stack = ExitStack()
        self._environ = _EnvironPatch()
        self._moto: ThreadedMotoServer | None = None
        self._emulator: EmulatorProcess | None = None
        self._api: LocalHttpServer | None = None
        self._callback: LocalHttpServer | None = None
        self._resources: Resources | None = None
        self._functions: Functions | None = None
        self._delivery_events: DeliveryEvents | None = None
        self._reconcile_every_seconds = reconcile_every_seconds
        self._schedule_stopping = threading.Event()
        self._schedule: threading.Thread | None = None
        self.scheduled_reconciler_runs: list[dict[str, Any]] = []
        """What each scheduled run of the reconciler answered (the latest 100), or its error."""
        self.environment: dict[str, str] = {}
        """The functions' environment (the union of theirs, as `aws_resources` builds it, and the
        overrides); each worker gets it on top of this process's environment, `AWS_ENDPOINT_URL` included."""

    # Lifecycle -------------------------------------------------------------------------------------

    def start(self) -> LocalStack:
        """Start everything; on any failure stop what did start and re-raise."""
        with LocalStack._active_lock:
            if LocalStack._active is not None:
                raise RuntimeError("a LocalStack is already running in this process; stop it first")
            LocalStack._active = self
        # Undone in reverse on stop: first the front doors and Deepgram, so that no request or
        # delivery is in flight, then the functions' processes, then AWS, and the environment last.
        on_stop = self._exit_stack
        on_stop.callback(self._release)
        on_stop.enter_context(_quiet_logger("werkzeug"))  # moto's server would log every AWS call
        on_stop.callback(self._environ.restore)
        on_stop.callback(self._stop_moto)
        on_stop.callback(self._stop_functions)
        on_stop.callback(self._stop_delivery_events)
        on_stop.callback(self._stop_server, "_callback")
        on_stop.callback(self._stop_emulator)
        on_stop.callback(self._stop_server, "_api")
        on_stop.callback(self._stop_schedule)
        try:
            self._start()
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """Stop everything that started and restore the environment. Idempotent."""
        self._exit_stack.close()

    def __enter__(self) -> LocalStack:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.stop()

    def _start(self) -> None:
        self._environ.set(
            {
                **_FAKE_CREDENTIALS,
                "AWS_DEFAULT_REGION": REGION,
                "AWS_REGION": REGION,
                "AWS_PROFILE": None,
                "NO_PROXY": _no_proxy(),
                "no_proxy": _no_proxy(),
            }
        )
        # Each function's process starts now and imports its handler once its environment is
        # known (below), the three in parallel, like Lambda's init phase.
        self._functions = functions = build_functions()
        functions.launch()
        # The callback port first: the emulator must know it (Deepgram checks callback ports).
        self._callback = LocalHttpServer(
            "callback",
            FunctionUrl(functions[Services.CALLBACK]),
            host=self._host,
            port=self._callback_port,
        )
        # moto next: with S3 delivery Deepgram PUTs results to presigned URLs of moto's S3, whose
        # port the emulator must accept too (real S3 URLs use 443).
        self._moto = ThreadedMotoServer(ip_address=self._host, port=0, verbose=False)
        self._moto.start()
        # The emulator's process takes about a second to start: let it boot while moto resets.
        self._emulator = EmulatorProcess(
            host=self._host,
            api_keys={DEEPGRAM_API_KEY: DEEPGRAM_API_KEY_ID},
            retry_interval_seconds=self._retry_interval_seconds,
            max_delivery_attempts=self._max_delivery_attempts,
            allowed_callback_ports=_allowed_callback_ports(
                self._callback.port, self._moto.get_host_and_port()[1]
            ),
            log_level=logging.getLevelName(logger.getEffectiveLevel()),
        )
        self._emulator.launch()

        self._environ.set({"AWS_ENDPOINT_URL": self.aws_endpoint_url})
        # moto keeps its state in module globals: start from an empty account whatever ran before.
        self._moto_reset()
        self._resources = create_resources(
            deepgram_api_key=DEEPGRAM_API_KEY, signing_key=secrets.token_hex(32), region=REGION
        )

        signer_role_arn = create_signer_role(REGION)

        self._emulator.start()
        self.environment = {
            **function_environment(
                self._resources,
                callback_url=self.callback_url,
                deepgram_base_url=self._emulator.url,
                deepgram_api_key_id=DEEPGRAM_API_KEY_ID,
                values={DELIVERY_ROLE_ARN: signer_role_arn},
            ),
            **self._environment_overrides,
        }
        functions.start({**os.environ, **self.environment})
        # S3's "Object Created" events for deliveries/, to the finisher as EventBridge would.
        self._delivery_events = DeliveryEvents(
            bucket=self._resources.names.results_bucket,
            finisher=functions[Services.FINISHER],
            region=REGION,
            retry_interval_seconds=self._retry_interval_seconds,
        ).start()

        self._callback.start()
        self._api = LocalHttpServer(
            "api",
            RestApi(
                submit=functions[Services.SUBMIT],
                status=functions[Services.STATUS],
                manage=functions[Services.MANAGE],
                stage=self._stage,
            ),
            host=self._host,
            port=self._api_port,
        )
        self._api.start()
        if self._reconcile_every_seconds:
            self._schedule = threading.Thread(
                target=self._run_schedule, name="reconciler-schedule", daemon=True
            )
            self._schedule.start()

    def _run_schedule(self) -> None:
        period = float(self._reconcile_every_seconds or 0)
        while not self._schedule_stopping.wait(period):
            try:
                answer = self.run_reconciler()
            except Exception as error:  # as in AWS, a failed run waits for the next one
                logger.warning("scheduled reconciler run failed: %s", error)
                answer = {"error": str(error)}
            self.scheduled_reconciler_runs = [*self.scheduled_reconciler_runs[-99:], answer]

    def _stop_schedule(self) -> None:
        self._schedule_stopping.set()
        if self._schedule is not None:
            self._schedule.join(timeout=60)

    def run_reconciler(self, at: datetime | None = None) -> dict[str, Any]:
        """Invoke the reconciler with a scheduled event, as EventBridge does; its answer.

        `at`: the event's time, a later moment than now to reconcile as of it (simulated time: the
        handler acts as of the event's time when it is later than its clock, by up to a day)."""
        answer = self.functions[Services.RECONCILER].invoke(scheduled_event(time=at))
        return dict(answer)

    def _stop_server(self, attribute: str) -> None:
        server: LocalHttpServer | None = getattr(self, attribute)
        if server is not None:
            server.stop()

    def _stop_functions(self) -> None:
        if self._functions is not None:
            self._functions.stop()

    def _stop_delivery_events(self) -> None:
        events, self._delivery_events = self._delivery_events, None
        if events is not None:
            events.stop()

    def _stop_emulator(self) -> None:
        if self._emulator is not None:
            self._emulator.stop()

    def _stop_moto(self) -> None:
        moto, self._moto = self._moto, None
        if moto is None:
            return
        with contextlib.suppress(OSError):  # frees moto's memory; must not mask the stop
            self._moto_reset(moto)
        moto.stop()

    def _release(self) -> None:
        with LocalStack._active_lock:
            if LocalStack._active is self:
                LocalStack._active = None

    def _moto_reset(self, moto: ThreadedMotoServer | None = None) -> None:
        host, port = (moto or _started(self._moto, "moto")).get_host_and_port()
        request = Request(f"http://{host}:{port}/moto-api/reset", method="POST")
        with build_opener(ProxyHandler({})).open(request, timeout=10) as response:
            response.read()

    # Endpoints and resources -------------------------------------------------------------------------

    @property
    def api_url(self) -> str:
        """The REST API's stage URL: POST `{api_url}/transcriptions`, GET `{api_url}/transcriptions/{id}`."""
        return f"{_started(self._api, 'api').url}/{self._stage}"

    @property
    def callback_url(self) -> str:
        """The callback Function URL (Deepgram calls it with per-job credentials added)."""
        return f"{_started(self._callback, 'callback').url}/"

    @property
    def callback_port(self) -> int:
        return _started(self._callback, "callback").port

    @property
    def deepgram_url(self) -> str:
        """The emulator's base URL: give it to the Deepgram SDK as `DeepgramClientEnvironment.base`."""
        return self.emulator.url

    @property
    def aws_endpoint_url(self) -> str:
        host, port = _started(self._moto, "moto").get_host_and_port()
        return f"http://{host}:{port}"

    @property
    def functions(self) -> Functions:
        """The functions by service name (`contract.HANDLERS`), each a `LocalFunction` in its own
        process: `stack.functions["status"].invoke(event)` invokes one directly, as `aws lambda invoke`."""
        return _started(self._functions, "functions")

    @property
    def emulator(self) -> EmulatorProcess:
        return _started(self._emulator, "Deepgram emulator")

    @property
    def resources(self) -> Resources:
        return _started(self._resources, "AWS resources")

    @property
    def region(self) -> str:
        return REGION

    def describe(self) -> dict[str, Any]:
        """Every endpoint and resource name a client needs, as `make serve` prints them."""
        return {
            "api_url": self.api_url,
            "callback_url": self.callback_url,
            "deepgram_url": self.deepgram_url,
            "deepgram_api_key": DEEPGRAM_API_KEY,
            "aws_endpoint_url": self.aws_endpoint_url,
            **describe(self.resources),
        }

    # Helpers for tests and the demo ------------------------------------------------------------------

    def receive_notifications(self, wait_seconds: int = 1) -> list[dict[str, Any]]:
        """Notifications that reached the SQS subscriber (message and attributes), deleted once read."""
        return receive_notifications(self.resources.queue_url, region=REGION, wait_seconds=wait_seconds)

    def reset(self) -> None:
        """Between tests: clear the emulator's faults and history, let the finisher handle any
        delivery still on its way, and drain the notification queue."""
        self.emulator.reset()
        if self._delivery_events is not None:
            self._delivery_events.settle()
        while self.receive_notifications(wait_seconds=0):
            pass

    def settle_deliveries(self, timeout: float = 60.0) -> bool:
        """Wait until every S3 delivery so far reached the finisher and was handled."""
        return self._delivery_events.settle(timeout) if self._delivery_events is not None else True


def _started(value: T | None, what: str) -> T:
    if value is None:
        raise RuntimeError(f"the local stack's {what} is not running; call start() first")
    return value


def _allowed_callback_ports(port: int, s3_port: int | None = None) -> list[int]:
    """Deepgram's callback ports, plus `port` (with a warning) when it is not one of them, and
    moto's (S3 delivery PUTs to moto's S3, where real presigned URLs use port 443)."""
    allowed = set(CALLBACK_ALLOWED_PORTS)
    if port not in allowed:
        logger.warning(
            "callback port %d is not one Deepgram calls back to (%s); the emulator allows it anyway",
            port,
            ", ".join(map(str, CALLBACK_ALLOWED_PORTS)),
        )
        allowed.add(port)
    if s3_port is not None:
        allowed.add(s3_port)
    return sorted(allowed)


def _no_proxy() -> str:
    """Loopback added to any NO_PROXY already set: boto3 and httpx must not send local calls to a proxy."""
    current = os.environ.get("NO_PROXY") or os.environ.get("no_proxy") or ""
    return ",".join(filter(None, (current, _LOOPBACK)))


class _EnvironPatch:
    """Changes to `os.environ` that `restore` undoes, each variable back to its original value."""

    def __init__(self) -> None:
        self._original: dict[str, str | None] = {}

    def set(self, changes: Mapping[str, str | None]) -> None:
        """Set variables, or unset those given as None."""
        for name, value in changes.items():
            self._original.setdefault(name, os.environ.get(name))
            _set_environ(name, value)

    def restore(self) -> None:
        for name, value in self._original.items():
            _set_environ(name, value)
        self._original.clear()


def _set_environ(name: str, value: str | None) -> None:
    if value is None:
        os.environ.pop(name, None)
    else:
        os.environ[name] = value


@contextlib.contextmanager
def _quiet_logger(name: str, level: int = logging.WARNING) -> Iterator[None]:
    target = logging.getLogger(name)
    saved = target.level
    target.setLevel(level)
    try:
        yield
    finally:
        target.setLevel(saved)
