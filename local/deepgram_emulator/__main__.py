"""Run the Deepgram emulator in the foreground until Ctrl-C (or SIGTERM).

python -m local.deepgram_emulator --host 127.0.0.1 --port 8090 --api-key KEY --api-key-id ID
"""

from __future__ import annotations

import argparse
import logging
import signal
import threading
from collections.abc import Sequence
from types import FrameType

from local.deepgram_emulator.server import (
    DEEPGRAM_CALLBACK_PORTS,
    DEEPGRAM_MAX_DELIVERY_ATTEMPTS,
    DEEPGRAM_RETRY_INTERVAL_SECONDS,
    DeepgramEmulator,
)


def parse_arguments(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m local.deepgram_emulator",
        description="A Deepgram-compatible pre-recorded speech-to-text API with callbacks, offline.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default: %(default)s)")
    parser.add_argument(
        "--port", type=int, default=8090, help="port to bind, 0 for any (default: %(default)s)"
    )
    parser.add_argument(
        "--api-key",
        action="append",
        dest="api_keys",
        metavar="KEY",
        help="an accepted API key (repeatable; default: local-key)",
    )
    parser.add_argument(
        "--api-key-id",
        action="append",
        dest="api_key_ids",
        metavar="ID",
        help="the key identifier sent as dg-token for the --api-key in the same position",
    )
    parser.add_argument(
        "--retry-interval",
        type=float,
        default=DEEPGRAM_RETRY_INTERVAL_SECONDS,
        help="seconds between callback delivery attempts (default: %(default)s, as Deepgram)",
    )
    parser.add_argument(
        "--max-delivery-attempts",
        type=int,
        default=DEEPGRAM_MAX_DELIVERY_ATTEMPTS,
        help="delivery attempts in all, first included (default: %(default)s, as Deepgram)",
    )
    parser.add_argument(
        "--callback-port",
        type=int,
        action="append",
        dest="callback_ports",
        metavar="PORT",
        help="allow callbacks to this port (repeatable; default: Deepgram's "
        + ", ".join(map(str, DEEPGRAM_CALLBACK_PORTS))
        + ")",
    )
    parser.add_argument(
        "--any-callback-port", action="store_true", help="allow callbacks to any port (not like Deepgram)"
    )
    parser.add_argument(
        "--no-dg-token", action="store_true", help="do not send the dg-token header with callbacks"
    )
    parser.add_argument("--log-level", default="INFO", help="logging level (default: %(default)s)")
    arguments = parser.parse_args(argv)
    keys = arguments.api_keys or ["local-key"]
    ids = arguments.api_key_ids or [f"{key}-id" for key in keys]
    if len(ids) != len(keys):
        parser.error("give one --api-key-id for each --api-key")
    arguments.key_map = dict(zip(keys, ids, strict=True))
    return arguments


def main(argv: Sequence[str] | None = None) -> int:
    arguments = parse_arguments(argv)
    logging.basicConfig(
        level=arguments.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    ports = None if arguments.any_callback_port else (arguments.callback_ports or DEEPGRAM_CALLBACK_PORTS)
    emulator = DeepgramEmulator(
        host=arguments.host,
        port=arguments.port,
        api_keys=arguments.key_map,
        retry_interval_seconds=arguments.retry_interval,
        max_delivery_attempts=arguments.max_delivery_attempts,
        allowed_callback_ports=ports,
        send_dg_token=not arguments.no_dg_token,
    )
    stopping = threading.Event()

    def request_stop(_signal: int, _frame: FrameType | None) -> None:
        stopping.set()

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    emulator.warm_up()  # start the recognition workers before serving, not on the first request
    emulator.start()
    print(f"Deepgram emulator listening on {emulator.url} (Ctrl-C to stop)", flush=True)
    try:
        stopping.wait()
    finally:
        emulator.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
