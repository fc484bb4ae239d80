"""The emulator's building blocks without a server: the response/error body generator and the
WAV decoding and recognition. The generator's sizes are what callback tests and benchmarks rely on.
"""

from __future__ import annotations

import io
import struct
import wave
from array import array
from pathlib import Path
from typing import Any, TypedDict, cast

import pytest
from deepgram.types.listen_v1response import ListenV1Response

from functions.core.contract import CALLBACK_ALLOWED_PORTS
from local.deepgram_emulator import DEEPGRAM_CALLBACK_PORTS
from local.deepgram_emulator.payloads import (
    ErrorKind,
    ResponseOptions,
    Word,
    build_response,
    compact_json,
    error_body,
    fit_words_to_size,
    generate_response,
    model_info,
)
from local.deepgram_emulator.recognizer import AudioDecodeError, Recognizer, decode_wav, resample

SAMPLE = (Path(__file__).resolve().parents[2] / "local" / "audio" / "sample.wav").read_bytes()


class Features(TypedDict, total=False):
    """The optional sections `generate_response` adds (its keyword arguments of the same names)."""

    diarize: bool
    utterances: bool
    paragraphs: bool


WORDS_ONLY: Features = {}
FULL: Features = {"diarize": True, "utterances": True, "paragraphs": True}


def alternative(body: dict[str, Any]) -> dict[str, Any]:
    return cast(dict[str, Any], body["results"]["channels"][0]["alternatives"][0])


def assert_consistent(body: dict[str, Any]) -> None:
    """What any Deepgram response must satisfy, beyond the SDK model's field types."""
    ListenV1Response.model_validate(body)
    words = alternative(body)["words"]
    assert alternative(body)["transcript"] == " ".join(w.get("punctuated_word", w["word"]) for w in words)
    previous_end = 0.0
    for word in words:
        assert previous_end <= word["start"] < word["end"] <= body["metadata"]["duration"]
        assert 0.0 <= word["confidence"] <= 1.0
        assert word["word"] == word["word"].lower()
        previous_end = word["end"]
    if "utterances" in body["results"]:
        assert [w for u in body["results"]["utterances"] for w in u["words"]] == words
    if "paragraphs" in alternative(body):
        paragraphs = alternative(body)["paragraphs"]["paragraphs"]
        assert sum(p["num_words"] for p in paragraphs) == len(words)


def wav_bytes(samples: list[int], *, rate: int, channels: int, width: int) -> bytes:
    """A PCM WAV of interleaved `samples` given as signed 16-bit values."""
    frames = bytearray()
    for value in samples:
        if width == 1:
            frames.append((value >> 8) + 128)
        else:
            frames += (value << (8 * (width - 2))).to_bytes(width, "little", signed=True)
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as writer:
        writer.setnchannels(channels)
        writer.setsampwidth(width)
        writer.setframerate(rate)
        writer.writeframes(bytes(frames))
    return buffer.getvalue()


# The generator ------------------------------------------------------------------------------------


@pytest.mark.parametrize("target", [1_000, 100_000, 1_000_000, 5_000_000])
@pytest.mark.parametrize("features", [WORDS_ONLY, FULL], ids=["words", "full"])
def test_generate_response_hits_a_target_size(target: int, features: Features) -> None:
    body = generate_response(target_bytes=target, seed=7, **features)

    size = len(compact_json(body))
    # One word is the finest step: about 100 bytes with words only, 500 with everything on.
    tolerance = 0.12 if target < 10_000 else 0.01
    assert size == pytest.approx(target, rel=tolerance)
    assert alternative(body)["words"]
    if target <= 100_000:
        assert_consistent(body)


@pytest.mark.parametrize(
    ("features", "low", "high"), [(WORDS_ONLY, 13_000, 19_000), (FULL, 40_000, 56_000)], ids=["words", "full"]
)
def test_sizes_per_audio_minute_match_real_responses(features: Features, low: int, high: int) -> None:
    # REFERENCE.md: about 16 KB of JSON per minute with words only, 48 KB with diarize + utterances
    # + paragraphs. Ten minutes average out the sentence bank's randomness.
    body = generate_response(600, seed=3, **features)

    per_minute = len(compact_json(body)) / 10
    assert low <= per_minute <= high
    assert body["metadata"]["duration"] == 600
    assert 130 <= len(alternative(body)["words"]) / 10 <= 170
    assert_consistent(body)


def test_generated_responses_look_like_deepgram_s() -> None:
    body = generate_response(
        90, seed=1, **FULL, tags=["load-test"], extra={"job_id": "j-1"}, request_id="r-1", model="nova-2"
    )

    metadata = body["metadata"]
    assert list(metadata)[:8] == [
        "transaction_key",
        "request_id",
        "sha256",
        "created",
        "duration",
        "channels",
        "models",
        "model_info",
    ]
    assert metadata["transaction_key"] == "deprecated"
    assert metadata["request_id"] == "r-1"
    assert len(metadata["sha256"]) == 64
    assert metadata["created"].endswith("Z")
    assert metadata["tags"] == ["load-test"]
    assert metadata["extra"] == {"job_id": "j-1"}
    assert metadata["model_info"][metadata["models"][0]] == {
        "name": "2-general-nova",
        "version": "2024-01-09.29447",
        "arch": "nova-2",
    }
    word = alternative(body)["words"][0]
    assert list(word) == [
        "word",
        "start",
        "end",
        "confidence",
        "speaker",
        "speaker_confidence",
        "punctuated_word",
    ]
    assert word["punctuated_word"][0].isupper()
    paragraphs = alternative(body)["paragraphs"]
    assert paragraphs["transcript"].startswith("\nSpeaker ")
    assert "\n\nSpeaker " in paragraphs["transcript"]
    assert len(body["results"]["utterances"]) > 1
    assert all(
        set(u) == {"start", "end", "confidence", "channel", "transcript", "words", "speaker", "id"}
        for u in body["results"]["utterances"]
    )
    assert_consistent(body)


def test_generation_is_deterministic_per_seed() -> None:
    assert generate_response(30, seed=5, **FULL) == generate_response(30, seed=5, **FULL)
    assert generate_response(30, seed=5) != generate_response(30, seed=6)
    with pytest.raises(ValueError, match="exactly one"):
        generate_response()
    with pytest.raises(ValueError, match="exactly one"):
        generate_response(10, target_bytes=1000)


def test_without_punctuation_words_carry_no_punctuated_word() -> None:
    body = generate_response(20, seed=2, punctuate=False)

    assert all("punctuated_word" not in word for word in alternative(body)["words"])
    assert alternative(body)["transcript"] == alternative(body)["transcript"].lower()
    assert_consistent(body)


def test_fit_words_to_size_keeps_the_prefix() -> None:
    prefix = [Word("hello", 0.1, 0.5, 0.9, "Hello."), Word("world", 0.6, 1.0, 0.8, "World.")]
    options = ResponseOptions()

    def build(words: Any) -> dict[str, Any]:
        return build_response(words, options=options, duration=words[-1].end + 1, request_id="r", sha256="0")

    words = fit_words_to_size(prefix, target_bytes=50_000, build=build, seed=1)

    assert words[:2] == prefix
    assert words[2].start > prefix[-1].end
    assert len(compact_json(build(words))) == pytest.approx(50_000, rel=0.01)


@pytest.mark.parametrize(
    ("model", "name", "arch"),
    [
        ("nova-3", "general-nova-3", "nova-3"),
        ("nova-3-medical", "medical-nova-3", "nova-3"),
        ("nova-2-meeting", "2-meeting-nova", "nova-2"),
        (None, "general", "base"),
        ("whisper-large", "whisper-large", "whisper-large"),
    ],
)
def test_model_info_echoes_the_requested_model(model: str | None, name: str, arch: str) -> None:
    model_uuid, info = model_info(model)

    assert (info["name"], info["arch"]) == (name, arch)
    assert model_info(model)[0] == model_uuid


@pytest.mark.parametrize("kind", list(ErrorKind))
def test_error_bodies_have_deepgram_s_shapes(kind: ErrorKind) -> None:
    body = error_body(kind, request_id="req-1")

    if kind is ErrorKind.INVALID_JSON:
        assert set(body) == {"category", "message", "details", "request_id"}
    elif kind is ErrorKind.CALLBACK_UNRESOLVABLE:
        assert body == {"err_code": "Bad Request", "err_msg": "Failed to resolve callback."}
    else:
        assert body == {"err_code": kind.err_code, "err_msg": kind.err_msg, "request_id": "req-1"}
    assert 400 <= kind.status < 600


def test_emulated_callback_ports_match_the_project_contract() -> None:
    assert DEEPGRAM_CALLBACK_PORTS == CALLBACK_ALLOWED_PORTS


# WAV decoding and recognition --------------------------------------------------------------------


@pytest.mark.parametrize("width", [1, 2, 3, 4])
def test_decode_wav_converts_every_sample_width_to_16_bit(width: int) -> None:
    values = [0, 256, -256, 32512, -32768, 12800]

    pcm = decode_wav(wav_bytes(values, rate=16_000, channels=1, width=width))

    assert list(pcm.samples) == values
    assert pcm.source_sample_width == width
    assert pcm.duration == pytest.approx(len(values) / 16_000)


def test_decode_wav_mixes_stereo_and_resamples() -> None:
    left_right = [1000, 3000] * 8000  # one second at 8 kHz

    pcm = decode_wav(wav_bytes(left_right, rate=8_000, channels=2, width=2))

    assert pcm.duration == pytest.approx(1.0)
    assert len(pcm.samples) == 16_000
    assert set(pcm.samples) == {2000}
    assert (pcm.source_rate, pcm.source_channels) == (8_000, 2)


def test_resample_down_averages_and_up_interpolates() -> None:
    assert list(resample(array("h", [0, 100, 200, 300]), 32_000, 16_000)) == [50, 250]
    assert list(resample(array("h", [0, 100]), 8_000, 16_000)) == [0, 50, 100, 100]


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"ID3\x03\x00 an mp3, not a wav" * 20,
        SAMPLE[:30],
        # A 32-bit IEEE float WAV: a valid file, but not PCM.
        SAMPLE[:20] + struct.pack("<H", 3) + SAMPLE[22:],
    ],
    ids=["empty", "mp3", "truncated", "float"],
)
def test_undecodable_audio_raises(data: bytes) -> None:
    with pytest.raises(AudioDecodeError):
        decode_wav(data)


def test_recognizer_hears_the_sample_at_8_khz_stereo_8_bit() -> None:
    samples = decode_wav(SAMPLE).samples
    narrowband = resample(samples, 16_000, 8_000)
    stereo = [value for value in narrowband for _ in range(2)]

    recognition = Recognizer().recognize(wav_bytes(stereo, rate=8_000, channels=2, width=1))

    heard = {word.word for word in recognition.words}
    assert len(heard & {"please", "message", "call", "back", "today"}) >= 4
    assert recognition.duration == pytest.approx(decode_wav(SAMPLE).duration, abs=0.01)
    assert all(0.0 <= word.confidence <= 1.0 and word.start < word.end for word in recognition.words)
