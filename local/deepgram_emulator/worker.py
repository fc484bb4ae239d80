"""A recognition worker process: `python -m local.deepgram_emulator.worker` (started by `RecognitionPool`).

Loads the PocketSphinx model, says `{"ready": true}`, then answers each WAV frame read from stdin
with one JSON frame on stdout (see `local.deepgram_emulator.pool` for the framing):
`{"duration", "words": [[word, start, end, confidence, region], ...]}`, or
`{"error": "audio", "message"}` for undecodable audio, or `{"error": "internal", "message"}`.
Exits when stdin closes.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import traceback
from typing import Any

from local.deepgram_emulator.pool import read_frame, recognition_to_json, write_frame
from local.deepgram_emulator.recognizer import AudioDecodeError, Recognizer


def main() -> int:
    # The protocol owns the real stdout; anything else written to fd 1 (a C library's logging, a
    # stray print) goes to stderr instead of corrupting it.
    protocol = os.fdopen(os.dup(sys.stdout.fileno()), "wb")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    # Ctrl-C in a terminal reaches the whole process group: the pool decides when this stops.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    recognizer = Recognizer()
    recognizer.warm_up()
    write_frame(protocol, b'{"ready":true}')
    source = sys.stdin.buffer
    while True:
        try:
            audio = read_frame(source)
        except EOFError:
            return 1
        if audio is None:
            return 0
        answer: dict[str, Any]
        try:
            answer = recognition_to_json(recognizer.recognize(audio))
        except AudioDecodeError as error:
            answer = {"error": "audio", "message": str(error)}
        except Exception:
            answer = {"error": "internal", "message": traceback.format_exc()}
        try:
            write_frame(protocol, json.dumps(answer, separators=(",", ":")).encode())
        except BrokenPipeError:
            return 0  # the pool is gone


if __name__ == "__main__":
    raise SystemExit(main())
