"""A Deepgram-compatible speech-to-text emulator: real offline recognition, callbacks, fault controls.

    from local.deepgram_emulator import DeepgramEmulator

    with DeepgramEmulator(api_keys={"local-key": "local-key-id"}) as emulator:
        ...  # point the Deepgram SDK at emulator.url

See README.md in this package for what is emulated and how faithfully.
"""

from local.deepgram_emulator.server import (
    DEEPGRAM_CALLBACK_PORTS,
    DEEPGRAM_MAX_DELIVERY_ATTEMPTS,
    DEEPGRAM_RETRY_INTERVAL_SECONDS,
    DeepgramEmulator,
    DeliveryRecord,
    Faults,
    JobRecord,
)

__all__ = [
    "DEEPGRAM_CALLBACK_PORTS",
    "DEEPGRAM_MAX_DELIVERY_ATTEMPTS",
    "DEEPGRAM_RETRY_INTERVAL_SECONDS",
    "DeepgramEmulator",
    "DeliveryRecord",
    "Faults",
    "JobRecord",
]
