"""A Deepgram result as text, JSON, SRT or WebVTT.

Captions come from `deepgram-captions` (Deepgram's library for exactly this), which reads the
response as a plain dict; it captions the first channel, preferring utterances when present.
"""

from __future__ import annotations

import json
from typing import Any

from deepgram_captions import ConverterException, DeepgramConverter, EmptyTranscriptException, srt, webvtt

FORMATS = ("text", "json", "srt", "vtt")
CAPTION_WORDS_PER_LINE = 8


class EmptyTranscript(Exception):
    """The result holds no words (silence, or audio Deepgram could not understand)."""


def render(result: Any, output_format: str) -> str:
    """The document to print or write; ends with a newline."""
    if output_format == "json":
        return json.dumps(result, indent=2, ensure_ascii=False) + "\n"
    if not isinstance(result, dict) or not isinstance(result.get("results"), dict):
        raise ValueError("the result is not a Deepgram transcription response (no `results`)")
    if output_format == "text":
        return text(result)
    if output_format in ("srt", "vtt"):
        return captions(result, output_format)
    raise ValueError(f"unknown format {output_format!r}")


def captions(result: dict[str, Any], output_format: str) -> str:
    try:
        converter = DeepgramConverter(result)
        document = (srt if output_format == "srt" else webvtt)(converter, CAPTION_WORDS_PER_LINE)
    except (ConverterException, EmptyTranscriptException):
        raise EmptyTranscript("the transcript is empty: nothing to caption") from None
    except (KeyError, IndexError, TypeError) as error:
        raise ValueError(f"the result does not have the shape of a Deepgram response ({error!r})") from None
    return document.rstrip("\n") + "\n"


def text(result: dict[str, Any]) -> str:
    """Utterances with their speakers when the result has them, else each channel's transcript."""
    results = result["results"]
    channels = results.get("channels") or []
    multichannel = len(channels) > 1
    utterances = results.get("utterances") or []
    lines: list[str] = []
    if utterances:
        for utterance in utterances:
            transcript = str(utterance.get("transcript") or "").strip()
            if not transcript:
                continue
            labels = []
            if multichannel and utterance.get("channel") is not None:
                labels.append(f"channel {utterance['channel']}")
            if utterance.get("speaker") is not None:
                labels.append(f"speaker {utterance['speaker']}")
            lines.append(f"[{', '.join(labels)}] {transcript}" if labels else transcript)
    else:
        for index, channel in enumerate(channels):
            alternatives = channel.get("alternatives") or [{}]
            transcript = _channel_text(alternatives[0])
            if multichannel:
                lines.append(f"[channel {index}]\n{transcript}" if transcript else f"[channel {index}]")
            elif transcript:
                lines.append(transcript)
    return "\n".join(lines) + "\n" if lines else ""


def _channel_text(alternative: dict[str, Any]) -> str:
    """The paragraphs' transcript when there is one (it carries speakers and breaks), else the plain one."""
    paragraphs = alternative.get("paragraphs")
    if isinstance(paragraphs, dict) and isinstance(paragraphs.get("transcript"), str):
        return str(paragraphs["transcript"]).strip()
    return str(alternative.get("transcript") or "").strip()
