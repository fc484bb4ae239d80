"""Offline speech recognition for the emulator: WAV in, timed and scored words out.

PocketSphinx's bundled US-English model does the recognition (no download; the model loads in
about 0.3 s, once per process). Audio goes through three steps:

1. `decode_wav` reads PCM WAV (8/16/24/32-bit, any rate, mono or stereo) with the stdlib `wave`
   module and converts it to 16 kHz mono 16-bit samples in pure Python (no numpy).
2. PocketSphinx's voice activity detector splits it into speech regions; each region is decoded
   as one utterance, which keeps long files tractable and gives natural sentence boundaries.
3. Each word gets its start and end (PocketSphinx counts 10 ms frames) and its posterior
   probability from the lattice as confidence. Silences, fillers and noise tokens are dropped.

A `Recognizer` guards its decoder with a lock: PocketSphinx decoders are not thread-safe, and
recognition is CPU-bound anyway, so concurrent jobs simply take turns. PocketSphinx also holds the
GIL while it decodes, so the emulator runs recognizers in worker processes (`pool.py`, `worker.py`)
rather than next to its HTTP threads.
"""

from __future__ import annotations

import io
import re
import sys
import threading
import wave
from array import array
from dataclasses import dataclass
from functools import cache
from itertools import accumulate
from typing import Any

from local.deepgram_emulator.payloads import Word

__all__ = [
    "SAMPLE_RATE",
    "AudioDecodeError",
    "PcmAudio",
    "Recognizer",
    "decode_wav",
    "default_recognizer",
    "punctuate",
    "resample",
]

SAMPLE_RATE = 16_000
"""The rate of the acoustic model: every input is converted to 16 kHz mono 16-bit."""

FRAMES_PER_SECOND = 100
"""PocketSphinx reports word boundaries in 10 ms frames."""

_ALTERNATE_PRONUNCIATION = re.compile(r"\(\d+\)$")
_FIRST_PERSON = re.compile(r"^i('\w+)?$")


class AudioDecodeError(ValueError):
    """The audio is not something the emulator can decode (it only reads PCM WAV)."""


@dataclass(frozen=True)
class PcmAudio:
    """Decoded audio, ready for the recogniser."""

    samples: array[int]
    """16 kHz mono signed 16-bit samples (`array("h")`)."""
    duration: float
    """Seconds, from the source's own frame count and rate (what Deepgram reports)."""
    source_rate: int
    source_channels: int
    source_sample_width: int


@dataclass(frozen=True)
class Recognition:
    """What the recogniser heard: words in order, with speech regions marked."""

    words: tuple[RecognizedWord, ...]
    duration: float


@dataclass(frozen=True)
class RecognizedWord:
    word: str
    start: float
    end: float
    confidence: float
    region: int
    """Index of the speech region (between two pauses) the word was heard in."""


def decode_wav(data: bytes) -> PcmAudio:
    """Decode a PCM WAV file and convert it to 16 kHz mono 16-bit samples.

    Raises `AudioDecodeError` for anything else (MP3, float WAV, truncated or empty data).
    """
    try:
        with wave.open(io.BytesIO(data), "rb") as reader:
            channels = reader.getnchannels()
            width = reader.getsampwidth()
            rate = reader.getframerate()
            frames = reader.getnframes()
            raw = reader.readframes(frames)
    except (wave.Error, EOFError, ValueError) as error:
        raise AudioDecodeError(f"not a PCM WAV file: {error}") from error
    if width not in (1, 2, 3, 4):
        raise AudioDecodeError(f"unsupported sample width: {width} bytes")
    if channels < 1 or rate < 1:
        raise AudioDecodeError("invalid WAV header")
    frames_read = len(raw) // (width * channels)
    raw = raw[: frames_read * width * channels]
    samples = _to_int16(raw, width)
    mono = _to_mono(samples, channels)
    return PcmAudio(
        samples=resample(mono, rate, SAMPLE_RATE),
        duration=frames_read / rate,
        source_rate=rate,
        source_channels=channels,
        source_sample_width=width,
    )


def resample(samples: array[int], source_rate: int, target_rate: int = SAMPLE_RATE) -> array[int]:
    """Resample 16-bit samples: linear interpolation up, area averaging down.

    Averaging every output sample over the input span it covers is a crude low-pass filter, good
    enough to keep aliasing from hurting recognition when 44.1 or 48 kHz audio comes in.
    """
    if source_rate == target_rate or not samples:
        return array("h", samples)
    count = max(int(len(samples) * target_rate / source_rate), 1)
    step = source_rate / target_rate
    last = len(samples) - 1
    if step < 1.0:
        output = []
        for index in range(count):
            position = index * step
            left = int(position)
            right = min(left + 1, last)
            fraction = position - left
            output.append(round(samples[left] + (samples[right] - samples[left]) * fraction))
        return array("h", output)
    prefix = [0, *accumulate(samples)]
    output = []
    for index in range(count):
        begin = int(index * step)
        end = min(max(int((index + 1) * step), begin + 1), len(samples))
        output.append((prefix[end] - prefix[begin]) // (end - begin))
    return array("h", output)


def punctuate(recognition: Recognition) -> list[Word]:
    """Deepgram-style words from recognised ones, with punctuation guessed from pauses.

    PocketSphinx has no punctuation; a speech region (speech between two pauses) is taken as a
    sentence: its first word is capitalised and its last one gets a period. "i" and its
    contractions are capitalised as `smart_format` would.
    """
    words: list[Word] = []
    for index, heard in enumerate(recognition.words):
        first = index == 0 or recognition.words[index - 1].region != heard.region
        last = index == len(recognition.words) - 1 or recognition.words[index + 1].region != heard.region
        text = heard.word
        if first or _FIRST_PERSON.match(text):
            text = text[:1].upper() + text[1:]
        if last:
            text += "."
        words.append(
            Word(
                word=heard.word,
                start=heard.start,
                end=heard.end,
                confidence=heard.confidence,
                punctuated_word=text,
            )
        )
    return words


class Recognizer:
    """Thread-safe PocketSphinx recognition of WAV audio; the model loads on first use."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._decoder: Any = None

    def warm_up(self) -> None:
        """Load the acoustic and language models now rather than on the first request."""
        with self._lock:
            self._load()

    def recognize(self, audio: bytes) -> Recognition:
        """Recognise the speech in a WAV file. Raises `AudioDecodeError` for undecodable audio."""
        pcm = decode_wav(audio)
        regions = _speech_regions(pcm.samples)
        words: list[RecognizedWord] = []
        with self._lock:
            decoder = self._load()
            for region_index, (offset_seconds, region) in enumerate(regions):
                words.extend(self._decode_region(decoder, region, offset_seconds, region_index))
        return Recognition(words=tuple(words), duration=pcm.duration)

    def _load(self) -> Any:
        if self._decoder is None:
            from pocketsphinx import Decoder  # noqa: PLC0415 - keeps importing this package cheap

            self._decoder = Decoder(loglevel="FATAL")
        return self._decoder

    @staticmethod
    def _decode_region(decoder: Any, pcm: bytes, offset_seconds: float, region: int) -> list[RecognizedWord]:
        decoder.start_utt()
        decoder.process_raw(pcm, full_utt=True)
        decoder.end_utt()
        if decoder.hyp() is None:
            return []
        # Computing the utterance's posterior fills in each segment's posterior probability.
        decoder.get_prob()
        offset_frames = round(offset_seconds * FRAMES_PER_SECOND)
        words = []
        for segment in decoder.seg():
            token = _ALTERNATE_PRONUNCIATION.sub("", segment.word)
            if not token or token[0] in "<[+" or token.startswith("++"):
                continue
            words.append(
                RecognizedWord(
                    word=token.lower(),
                    start=(offset_frames + segment.start_frame) / FRAMES_PER_SECOND,
                    end=(offset_frames + segment.end_frame + 1) / FRAMES_PER_SECOND,
                    confidence=round(min(max(float(segment.prob), 0.0), 1.0), 6),
                    region=region,
                )
            )
        return words


@cache
def default_recognizer() -> Recognizer:
    """The process-wide recogniser (for in-thread recognition): one loaded model per process."""
    return Recognizer()


def _speech_regions(samples: array[int]) -> list[tuple[float, bytes]]:
    """Split audio into `(start seconds, pcm)` speech regions with PocketSphinx's endpointer."""
    from pocketsphinx import Endpointer  # noqa: PLC0415 - keeps importing this package cheap

    endpointer = Endpointer(sample_rate=SAMPLE_RATE)
    frame_bytes: int = endpointer.frame_bytes
    pcm = _little_endian_bytes(samples)
    regions: list[tuple[float, bytes]] = []
    pending: list[bytes] = []
    for offset in range(0, len(pcm), frame_bytes):
        frame = pcm[offset : offset + frame_bytes]
        final = offset + frame_bytes >= len(pcm)
        if final and endpointer.in_speech:
            speech = endpointer.end_stream(frame)
        elif len(frame) == frame_bytes:
            speech = endpointer.process(frame)
        else:
            speech = None
        if speech is not None:
            pending.append(speech)
            if not endpointer.in_speech:
                regions.append((float(endpointer.speech_start), b"".join(pending)))
                pending.clear()
    return regions


def _to_int16(raw: bytes, width: int) -> array[int]:
    """Signed 16-bit samples from little-endian PCM of `width` bytes (8-bit WAV is unsigned)."""
    if width == 1:
        return array("h", ((byte - 128) << 8 for byte in raw))
    if width == 2:
        samples = array("h")
        samples.frombytes(raw)
    else:
        # Keep the two most significant bytes of each 24- or 32-bit sample.
        high = bytearray(len(raw) // width * 2)
        high[0::2] = raw[width - 2 :: width]
        high[1::2] = raw[width - 1 :: width]
        samples = array("h")
        samples.frombytes(bytes(high))
    if sys.byteorder == "big":
        samples.byteswap()
    return samples


def _to_mono(samples: array[int], channels: int) -> array[int]:
    if channels == 1:
        return samples
    lanes = [samples[channel::channels] for channel in range(channels)]
    return array("h", (sum(frame) // channels for frame in zip(*lanes, strict=True)))


def _little_endian_bytes(samples: array[int]) -> bytes:
    if sys.byteorder == "big":
        swapped = array("h", samples)
        swapped.byteswap()
        return swapped.tobytes()
    return samples.tobytes()
