"""Deepgram `/v1/listen` response and error bodies, built from timed words.

The emulator's server turns recognised words into a response with `build_response`; tests and
benchmarks call `generate_response` for a realistic transcript of any duration or compact-JSON size.
The shapes follow real Deepgram responses: `metadata` (request id, sha256, created, duration, model
info, tags, extra) and `results` (one channel, one alternative with words, optional paragraphs,
optional utterances). Key order matches Deepgram's so that sizes and diffs look like the real thing.

This module imports only the standard library: tests and benchmarks import it directly.
"""

from __future__ import annotations

import hashlib
import json
import random
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import Enum
from itertools import islice
from typing import Any

__all__ = [
    "DEFAULT_MODEL",
    "ErrorKind",
    "ResponseOptions",
    "Word",
    "build_response",
    "compact_json",
    "error_body",
    "fit_words_to_size",
    "generate_response",
    "model_info",
    "synthetic_transcript",
    "synthetic_words",
]

DEFAULT_MODEL = "base"
"""Deepgram's default model when a request names none."""

PARAGRAPH_PAUSE_SECONDS = 1.5
"""A pause at least this long between two sentences starts a new paragraph."""

PARAGRAPH_MAX_SENTENCES = 5
"""A paragraph holds at most this many sentences (real ones hold one to five)."""

_SENTENCE_END = (".", "?", "!")
_MODEL_VERSIONS = {
    "nova-3": "2025-04-17.21547",
    "nova-2": "2024-01-09.29447",
    "nova": "2024-01-18.26916",
    "enhanced": "2022-05-18.0",
    "base": "2021-03-17.0",
}


@dataclass(frozen=True, slots=True)
class Word:
    """One recognised word, in the units Deepgram reports (seconds, confidence in [0, 1])."""

    word: str
    """Lower-case, without punctuation: what Deepgram puts in `word`."""
    start: float
    end: float
    confidence: float
    punctuated_word: str
    """Capitalised and punctuated: what Deepgram puts in `punctuated_word` with punctuate/smart_format."""
    speaker: int = 0
    speaker_confidence: float = 1.0


@dataclass(frozen=True)
class ResponseOptions:
    """The request options that change the shape of a response."""

    punctuate: bool = True
    """`punctuate` or `smart_format`: adds `punctuated_word` and punctuates the transcript."""
    diarize: bool = False
    utterances: bool = False
    paragraphs: bool = False
    utt_split: float = 0.8
    """Seconds of silence that end an utterance (Deepgram's `utt_split`, default 0.8)."""
    model: str = DEFAULT_MODEL
    tags: tuple[str, ...] = ()
    extra: Mapping[str, str] = field(default_factory=dict)


def compact_json(body: Mapping[str, Any]) -> bytes:
    """The body as Deepgram sends it on the wire: compact UTF-8 JSON."""
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()


def model_info(model: str | None) -> tuple[str, dict[str, str]]:
    """The `(uuid, {name, version, arch})` Deepgram reports for a requested model name.

    `nova-2-meeting` becomes `{"name": "2-meeting-nova", "arch": "nova-2", ...}` as in real
    responses; a name the emulator does not know is echoed as both name and arch. The uuid is
    derived from the name, so it is stable like Deepgram's.
    """
    requested = (model or DEFAULT_MODEL).strip().lower() or DEFAULT_MODEL
    arch, domain = requested, "general"
    for family in ("nova-3", "nova-2", "nova", "enhanced", "base"):
        if requested == family or requested.startswith(family + "-"):
            arch, domain = family, requested.removeprefix(family).lstrip("-") or "general"
            break
    else:
        if requested in ("meeting", "phonecall", "finance", "conversationalai", "voicemail", "video"):
            arch, domain = "base", requested
    if arch == "nova-2":
        name = f"2-{domain}-nova"
    elif arch in ("nova-3", "nova", "enhanced"):
        name = f"{domain}-{arch}"
    elif arch == "base":
        name = domain
    else:
        name = requested
    version = _MODEL_VERSIONS.get(arch, "2024-01-01.0")
    return str(_uuid4_from("model", name, version)), {"name": name, "version": version, "arch": arch}


def build_response(
    words: Sequence[Word],
    *,
    options: ResponseOptions,
    duration: float,
    request_id: str,
    sha256: str,
    created: datetime | None = None,
) -> dict[str, Any]:
    """A complete `{metadata, results}` body for one channel of `words`."""
    model_uuid, info = model_info(options.model)
    metadata: dict[str, Any] = {
        "transaction_key": "deprecated",
        "request_id": request_id,
        "sha256": sha256,
        "created": _iso8601(created or datetime.now(UTC)),
        "duration": round(duration, 6),
        "channels": 1,
        "models": [model_uuid],
        "model_info": {model_uuid: info},
    }
    if options.tags:
        metadata["tags"] = list(options.tags)
    if options.extra:
        metadata["extra"] = dict(options.extra)

    word_dicts = [_word_dict(word, options) for word in words]
    alternative: dict[str, Any] = {
        "transcript": _join(words, options.punctuate),
        "confidence": _mean_confidence(words),
        "words": word_dicts,
    }
    if options.paragraphs:
        alternative["paragraphs"] = _paragraphs(words, options)
    results: dict[str, Any] = {"channels": [{"alternatives": [alternative]}]}
    if options.utterances:
        results["utterances"] = _utterances(words, word_dicts, options, request_id)
    return {"metadata": metadata, "results": results}


def synthetic_words(
    *, seed: int, start: float = 0.0, speakers: int = 2, first_speaker: int = 0
) -> Iterator[Word]:
    """An endless, deterministic stream of realistic spoken English with Deepgram-like timings.

    Sentences come from a bank of everyday phrases; word lengths set durations; commas, sentence
    ends and the occasional long pause add silences, so utterances and paragraphs split the way
    they do on real speech (about 150 words a minute). The speaker changes now and then at a
    sentence boundary when `speakers` > 1.
    """
    rng = random.Random(seed)
    time = start
    speaker = first_speaker
    speaker_confidence = _speaker_confidence(rng)
    while True:
        tokens = rng.choice(_SENTENCES).split()
        for index, token in enumerate(tokens):
            spoken = token.strip(",.?!").lower()
            duration = (0.07 + 0.05 * len(spoken)) * rng.uniform(0.8, 1.2)
            begin = round(time, 2)
            end = round(time + duration, 2)
            yield Word(
                word=spoken,
                start=begin,
                end=max(end, begin + 0.01),
                confidence=_word_confidence(rng),
                punctuated_word=token,
                speaker=speaker,
                speaker_confidence=speaker_confidence,
            )
            time = time + duration + rng.uniform(0.0, 0.06)
            if token.endswith(","):
                time += rng.uniform(0.1, 0.3)
            elif index == len(tokens) - 1:
                time += rng.uniform(0.2, 0.9) if rng.random() > 0.08 else rng.uniform(1.5, 2.5)
        if speakers > 1 and rng.random() < 0.3:
            speaker = (speaker + rng.randrange(1, speakers)) % speakers
            speaker_confidence = _speaker_confidence(rng)


def fit_words_to_size(
    prefix: Sequence[Word],
    *,
    target_bytes: int,
    build: Callable[[Sequence[Word]], Mapping[str, Any]],
    seed: int,
    speakers: int = 2,
) -> list[Word]:
    """`prefix` followed by as many synthetic words as make `compact_json(build(words))` about
    `target_bytes` long (within about 0.5 %, or one word when the target is tiny).

    The size grows almost linearly with the number of words, so a few secant steps find the
    count without building every candidate.
    """
    continuation_start = prefix[-1].end + 0.6 if prefix else 0.08
    first_speaker = prefix[-1].speaker if prefix else 0
    stream = synthetic_words(
        seed=seed, start=continuation_start, speakers=speakers, first_speaker=first_speaker
    )
    extra_words: list[Word] = []

    def size_with(count: int) -> int:
        if count > len(extra_words):
            extra_words.extend(islice(stream, count - len(extra_words)))
        return len(compact_json(build([*prefix, *extra_words[:count]])))

    base = size_with(0)
    if base >= target_bytes:
        return list(prefix)
    count = 64
    size = size_with(count)
    tolerance = max(target_bytes // 200, 1)
    per_word = max((size - base) / count, 1.0)
    for _ in range(8):
        if abs(size - target_bytes) <= tolerance:
            break
        next_count = max(count + round((target_bytes - size) / per_word), 0)
        if next_count == count:
            break
        count, size = next_count, size_with(next_count)
        per_word = max((size - base) / count, 1.0) if count else per_word
    if per_word > tolerance:
        # One word is coarser than the tolerance (small targets): take the closest count.
        count = min((count - 1, count, count + 1), key=lambda n: abs(size_with(max(n, 0)) - target_bytes))
    return [*prefix, *extra_words[: max(count, 0)]]


def generate_response(
    duration_seconds: float | None = None,
    *,
    target_bytes: int | None = None,
    seed: int = 0,
    punctuate: bool = True,
    diarize: bool = False,
    utterances: bool = False,
    paragraphs: bool = False,
    speakers: int = 2,
    model: str = "nova-3",
    tags: Sequence[str] = (),
    extra: Mapping[str, str] | None = None,
    request_id: str | None = None,
    sha256: str | None = None,
    created: datetime | None = None,
) -> dict[str, Any]:
    """A realistic Deepgram response for `duration_seconds` of speech, or of about `target_bytes`
    of compact JSON (give exactly one of the two). The same arguments give the same body.

    Sizes are close to real responses: about 16 KB of JSON per audio minute with words only and
    about 48 KB with `diarize`, `utterances` and `paragraphs` (utterances repeat every word).
    `speakers` only matters with `diarize`.
    """
    if (duration_seconds is None) == (target_bytes is None):
        raise ValueError("give exactly one of duration_seconds and target_bytes")
    rng = random.Random(seed)
    options = ResponseOptions(
        punctuate=punctuate or paragraphs,
        diarize=diarize,
        utterances=utterances,
        paragraphs=paragraphs,
        model=model,
        tags=tuple(tags),
        extra=dict(extra or {}),
    )
    request_id = request_id or str(_uuid4_from("request", str(seed)))
    sha256 = sha256 or hashlib.sha256(f"audio-{seed}".encode()).hexdigest()
    created = created or datetime(2025, 1, 1, tzinfo=UTC) + timedelta(seconds=rng.randrange(31_536_000))
    tail = round(rng.uniform(0.3, 1.5), 2)
    speaker_count = speakers if diarize else 1

    def build(words: Sequence[Word], duration: float | None = None) -> dict[str, Any]:
        length = duration if duration is not None else (words[-1].end if words else 0.0) + tail
        return build_response(
            words, options=options, duration=length, request_id=request_id, sha256=sha256, created=created
        )

    if target_bytes is not None:
        words = fit_words_to_size(
            [], target_bytes=target_bytes, build=build, seed=seed, speakers=speaker_count
        )
        return build(words)
    assert duration_seconds is not None
    return build(synthetic_transcript(duration_seconds, seed=seed, speakers=speaker_count), duration_seconds)


def synthetic_transcript(duration_seconds: float, *, seed: int, speakers: int = 1) -> list[Word]:
    """Synthetic words that fill `duration_seconds` of audio, speech ending shortly before the end."""
    tail = min(0.5, duration_seconds / 4)
    speech_end = max(duration_seconds - tail, 0.0)
    words = []
    for word in synthetic_words(seed=seed, start=min(0.08, speech_end), speakers=speakers):
        if word.end > speech_end:
            break
        words.append(word)
    return words


class ErrorKind(Enum):
    """The failures the emulator reports, each with Deepgram's status code, `err_code` and `err_msg`."""

    INVALID_AUTH = (401, "INVALID_AUTH", "Invalid credentials.")
    INVALID_CALLBACK = (400, "INVALID_QUERY_PARAMETER", "Invalid callback url.")
    CALLBACK_UNRESOLVABLE = (400, "Bad Request", "Failed to resolve callback.")
    INVALID_QUERY_PARAMETER = (400, "INVALID_QUERY_PARAMETER", "Invalid query parameter.")
    CORRUPT_AUDIO = (400, "Bad Request", "Bad Request: failed to process audio: corrupt or unsupported data")
    REMOTE_CONTENT = (
        400,
        "REMOTE_CONTENT_ERROR",
        "The remote server hosting the media failed to return valid data.",
    )
    INVALID_JSON = (400, "INVALID_JSON", "Invalid JSON submitted.")
    INSUFFICIENT_CREDITS = (
        402,
        "ASR_PAYMENT_REQUIRED",
        "Project does not have enough credits for an ASR request and does not have an overage agreement.",
    )
    MODEL_NOT_ALLOWED = (
        403,
        "INSUFFICIENT_PERMISSIONS",
        "Project does not have access to the requested model.",
    )
    TOO_MANY_REQUESTS = (429, "TOO_MANY_REQUESTS", "Too many requests. Please try again later")
    NOT_FOUND = (404, "NOT_FOUND", "Not found.")
    INTERNAL = (500, "INTERNAL_SERVER_ERROR", "The emulator failed to process the request.")

    @property
    def status(self) -> int:
        return int(self.value[0])

    @property
    def err_code(self) -> str:
        return str(self.value[1])

    @property
    def err_msg(self) -> str:
        return str(self.value[2])


def error_body(kind: ErrorKind, *, request_id: str | None, message: str | None = None) -> dict[str, Any]:
    """Deepgram's error body for `kind`: `{"err_code", "err_msg", "request_id"}`.

    Two documented exceptions to that shape are kept: "Failed to resolve callback." has no
    `request_id`, and invalid JSON is reported as `{"category", "message", "details", "request_id"}`
    (`message` then fills `details`). Elsewhere `message` replaces the default `err_msg`.
    """
    if kind is ErrorKind.INVALID_JSON:
        return {
            "category": kind.err_code,
            "message": kind.err_msg,
            "details": message or "Json deserialize error",
            "request_id": request_id,
        }
    body: dict[str, Any] = {"err_code": kind.err_code, "err_msg": message or kind.err_msg}
    if kind is not ErrorKind.CALLBACK_UNRESOLVABLE:
        body["request_id"] = request_id
    return body


def _word_dict(word: Word, options: ResponseOptions) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "word": word.word,
        "start": word.start,
        "end": word.end,
        "confidence": word.confidence,
    }
    if options.diarize:
        entry["speaker"] = word.speaker
        entry["speaker_confidence"] = word.speaker_confidence
    if options.punctuate:
        entry["punctuated_word"] = word.punctuated_word
    return entry


def _join(words: Sequence[Word], punctuate: bool) -> str:
    return " ".join(word.punctuated_word if punctuate else word.word for word in words)


def _mean_confidence(words: Sequence[Word]) -> float:
    if not words:
        return 0.0
    return round(sum(word.confidence for word in words) / len(words), 8)


def _utterances(
    words: Sequence[Word], word_dicts: Sequence[dict[str, Any]], options: ResponseOptions, request_id: str
) -> list[dict[str, Any]]:
    utterances: list[dict[str, Any]] = []
    begin = 0
    for index in range(1, len(words) + 1):
        at_end = index == len(words)
        if not at_end:
            gap = words[index].start - words[index - 1].end
            speaker_changed = options.diarize and words[index].speaker != words[index - 1].speaker
            if gap < options.utt_split and not speaker_changed:
                continue
        group = words[begin:index]
        utterance: dict[str, Any] = {
            "start": group[0].start,
            "end": group[-1].end,
            "confidence": _mean_confidence(group),
            "channel": 0,
            "transcript": _join(group, options.punctuate),
            "words": list(word_dicts[begin:index]),
        }
        if options.diarize:
            utterance["speaker"] = group[0].speaker
        utterance["id"] = str(_uuid4_from("utterance", request_id, str(len(utterances))))
        utterances.append(utterance)
        begin = index
    return utterances


def _sentences(words: Sequence[Word], diarize: bool) -> list[Sequence[Word]]:
    sentences: list[Sequence[Word]] = []
    begin = 0
    for index, word in enumerate(words):
        last = index == len(words) - 1
        speaker_changes = not last and diarize and words[index + 1].speaker != word.speaker
        if last or speaker_changes or word.punctuated_word.endswith(_SENTENCE_END):
            sentences.append(words[begin : index + 1])
            begin = index + 1
    return sentences


def _paragraphs(words: Sequence[Word], options: ResponseOptions) -> dict[str, Any]:
    groups: list[list[Sequence[Word]]] = []
    for sentence in _sentences(words, options.diarize):
        if groups:
            previous = groups[-1][-1]
            pause = sentence[0].start - previous[-1].end
            same_speaker = not options.diarize or sentence[0].speaker == previous[0].speaker
            if same_speaker and pause < PARAGRAPH_PAUSE_SECONDS and len(groups[-1]) < PARAGRAPH_MAX_SENTENCES:
                groups[-1].append(sentence)
                continue
        groups.append([sentence])

    paragraphs: list[dict[str, Any]] = []
    texts: list[str] = []
    for group in groups:
        sentence_texts = [_join(sentence, True) for sentence in group]
        sentences = [
            {"text": sentence_text, "start": sentence[0].start, "end": sentence[-1].end}
            for sentence_text, sentence in zip(sentence_texts, group, strict=True)
        ]
        paragraph: dict[str, Any] = {"sentences": sentences}
        text = " ".join(sentence_texts)
        if options.diarize:
            paragraph["speaker"] = group[0][0].speaker
            text = f"Speaker {group[0][0].speaker}: {text}"
        paragraph["num_words"] = sum(len(sentence) for sentence in group)
        paragraph["start"] = group[0][0].start
        paragraph["end"] = group[-1][-1].end
        paragraphs.append(paragraph)
        texts.append(text)
    return {"transcript": "\n" + "\n\n".join(texts) if texts else "", "paragraphs": paragraphs}


def _iso8601(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def _uuid4_from(*parts: str) -> uuid.UUID:
    """A version-4-shaped uuid derived from `parts`, so generated ids are deterministic."""
    digest = hashlib.sha256("\x1f".join(parts).encode()).digest()
    return uuid.UUID(bytes=digest[:16], version=4)


def _word_confidence(rng: random.Random) -> float:
    # Real word confidences cluster near 1 with a long tail of doubtful words.
    return round(min(max(1.0 - rng.betavariate(1.0, 14.0), 0.3), 1.0), 8)


def _speaker_confidence(rng: random.Random) -> float:
    return round(rng.uniform(0.35, 0.99), 7)


_SENTENCES: tuple[str, ...] = (
    "Thanks for calling, how can I help you today?",
    "I'd like to check the status of my order, please.",
    "Sure, can I have your account number?",
    "It's the one that ends in four, five, six.",
    "Let me pull that up for you.",
    "Okay, I can see the package left our warehouse yesterday afternoon.",
    "It should arrive by Thursday at the latest.",
    "That's great news, thank you.",
    "Is there anything else I can help you with?",
    "No, that's everything for now.",
    "Good morning everyone, let's get started.",
    "First, a quick update on the project timeline.",
    "We finished the design review last week and the feedback was mostly positive.",
    "The main open question is how we handle larger files.",
    "I think we should test with a few real recordings before we decide.",
    "Can someone take the action item to collect samples?",
    "I can do that, I'll share them by Friday.",
    "Perfect, then let's move on to the budget.",
    "We're a little ahead of schedule, which is nice to see.",
    "Does anyone have questions before we wrap up?",
    "The weather has been lovely this week.",
    "We went for a long walk by the river on Sunday.",
    "The kids loved feeding the ducks near the old bridge.",
    "Afterwards we had lunch at the little cafe on the corner.",
    "They make the best soup I've had in years.",
    "Honestly, I could eat there every day.",
    "Please leave a message after the tone and we'll call you back.",
    "Hi, it's Sam, just returning your call from this morning.",
    "Give me a ring when you get a chance.",
    "I'll be in the office until about five.",
    "So, what do you think about the new schedule?",
    "It works for me, as long as we keep Mondays free.",
    "Right, that makes sense.",
    "We should probably write that down somewhere.",
    "I'll send a summary to the whole team after this call.",
    "Yeah.",
    "Okay.",
    "Exactly, that's what I was thinking too.",
    "Let's plan to meet again next Tuesday at ten.",
    "Thanks everyone, have a good rest of your day.",
)
