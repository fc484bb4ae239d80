"""The Transcriber contract: FakeTranscriber and DeepgramTranscriber (the real SDK) against a local
stub of Deepgram's /v1/listen."""

from __future__ import annotations

import pytest

from functions.core.ports import AudioUpload, AudioUrl, DeepgramCall, DeepgramFailure
from tests.contract.conftest import Sent, TranscriberUnderTest

AUDIO_URL = "https://media.example.com/calls/call-1.wav"
AUDIO_BYTES = b"RIFF\x24\x08\x00\x00WAVEfmt " + bytes(range(256)) * 4  # not UTF-8: no text decoding allowed
CALLBACK_URL = "https://job:secret@abc123.lambda-url.us-east-1.on.aws/"
EXTRA = ["job_id:0123456789abcdef0123456789abcdef", "callback_secret:abcdef"]


def a_call(audio: AudioUrl | AudioUpload) -> DeepgramCall:
    return DeepgramCall(
        audio=audio,
        options={"model": "nova-3", "smart_format": True},
        callback_url=CALLBACK_URL,
        callback_method="POST",
        extra=list(EXTRA),
    )


@pytest.mark.parametrize(
    "audio", [AudioUrl(AUDIO_URL), AudioUpload(AUDIO_BYTES, "audio/wav")], ids=["url", "upload"]
)
def test_submit_sends_one_request_with_the_audio_and_returns_a_request_id(
    transcribers: TranscriberUnderTest, audio: AudioUrl | AudioUpload
) -> None:
    request_id = transcribers.transcriber.submit(a_call(audio))

    assert isinstance(request_id, str)
    assert request_id
    url = audio.url if isinstance(audio, AudioUrl) else None
    data = audio.data if isinstance(audio, AudioUpload) else None
    assert transcribers.sent() == [
        Sent(audio_url=url, audio_data=data, callback_url=CALLBACK_URL, extra=EXTRA)
    ]


def test_each_submission_gets_its_own_request_id(transcribers: TranscriberUnderTest) -> None:
    first = transcribers.transcriber.submit(a_call(AudioUrl(AUDIO_URL)))
    second = transcribers.transcriber.submit(a_call(AudioUrl(AUDIO_URL)))

    assert first != second


def test_a_refusal_raises_deepgram_failure(transcribers: TranscriberUnderTest) -> None:
    transcribers.refuse(400, "Bad Request: failed to process audio")

    with pytest.raises(DeepgramFailure) as refused:
        transcribers.transcriber.submit(a_call(AudioUrl(AUDIO_URL)))

    failure = refused.value
    assert (failure.http_status, failure.code, failure.ambiguous) == (400, "deepgram_rejected", False)
    assert failure.message == "Bad Request: failed to process audio"
    assert len(transcribers.sent()) == 1
