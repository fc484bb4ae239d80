"""How a result body is kept: zstd inline in the job item when small, else an S3 object (gzip).

One module decides the encoding (the callback writes with it, the status function reads with it),
so the two can never disagree. Inline bodies use zstd level 1 (about three times faster than gzip
level 1 on Deepgram JSON, and smaller), paid before Deepgram gets its answer; objects that clients
download through presigned URLs stay gzip, which every HTTP client decodes. Items written with
gzip inline stay readable. Pure Python, no AWS.
"""

from __future__ import annotations

import gzip
from dataclasses import dataclass

try:  # the standard library from Python 3.14 (the Lambda runtime); the backport before it
    from compression import zstd  # type: ignore[import-not-found,unused-ignore]
except ImportError:  # pragma: no cover - depends on the interpreter
    from backports import zstd  # type: ignore[import-not-found,no-redef,unused-ignore]

from functions.core.contract import ResultsBucket
from functions.core.jobs import StoredResult, is_valid_job_id

INLINE_MAX_STORED_BYTES = 64 * 1024
"""Compressed bytes kept in the job item: about 35 minutes of words-only audio, 12 with diarization.

Every later update of the item (recording the notification) is billed by the item's full size, and
DynamoDB storage costs ten times S3's, so larger results are cheaper as S3 objects. The rest of
the item is bounded to a few tens of KB (options, metadata and error text are capped), far under
DynamoDB's 400 KB."""

COMPRESS_MAX_RAW_BYTES = 2 * 1024 * 1024
"""Larger bodies go to S3 as they came: they would not fit inline anyway, and compressing them
would only delay the acknowledgement Deepgram is waiting for."""

GZIP_LEVEL = 1
"""Level 1 is about 20 % larger than level 6 and several times faster: it is paid before the answer."""

ZSTD_LEVEL = 1

INLINE_CANDIDATE_MAX_RAW_BYTES = 16 * INLINE_MAX_STORED_BYTES
"""Deepgram JSON compresses about 5 to 8 times: a larger body cannot fit inline, so it is not
compressed for the item first (only gzip-compressed for S3)."""


@dataclass(frozen=True)
class EncodedResult:
    stored: StoredResult
    object_data: bytes | None  # what to upload to `stored.s3_key`; None when stored inline


def encode(job_id: str, body: bytes, sha256: str, *, allow_inline: bool = True) -> EncodedResult:
    """How to keep `body`: inline when small (unless `allow_inline` is False), else an S3 object."""
    if allow_inline and len(body) <= INLINE_CANDIDATE_MAX_RAW_BYTES:
        packed = zstd.compress(body, level=ZSTD_LEVEL)
        if len(packed) <= INLINE_MAX_STORED_BYTES:
            stored = StoredResult(
                storage="inline",
                size_bytes=len(body),
                sha256=sha256,
                content_encoding="zstd",
                inline_data=packed,
            )
            return EncodedResult(stored=stored, object_data=None)
    data, encoding = body, "identity"
    if len(body) <= COMPRESS_MAX_RAW_BYTES:
        data, encoding = gzip.compress(body, compresslevel=GZIP_LEVEL, mtime=0), "gzip"
    suffix = ".json.gz" if encoding == "gzip" else ".json"
    key = f"{ResultsBucket.RESULTS_PREFIX}{job_id}/{sha256}{suffix}"
    stored = StoredResult(
        storage="s3", size_bytes=len(body), sha256=sha256, content_encoding=encoding, s3_key=key
    )
    return EncodedResult(stored=stored, object_data=data)


def decode_inline(stored: StoredResult) -> bytes:
    """The body as Deepgram sent it, from a result kept inline."""
    if stored.inline_data is None:
        raise ValueError("result is not stored inline")
    if stored.content_encoding == "zstd":
        data: bytes = zstd.decompress(stored.inline_data)
        return data
    if stored.content_encoding == "gzip":
        return gzip.decompress(stored.inline_data)
    return stored.inline_data


def delivery_key(job_id: str, attempt: int) -> str:
    """Where Deepgram PUTs attempt `attempt` (1 for the first submission) of a job's result."""
    return f"{ResultsBucket.DELIVERIES_PREFIX}{job_id}/{attempt}.json"


def job_id_of_delivery_key(key: str) -> str | None:
    """The job a delivery object belongs to (`deliveries/<job id>/<attempt>.json`), or None."""
    prefix, _, rest = key.partition(ResultsBucket.DELIVERIES_PREFIX)
    job_id, _, name = rest.partition("/")
    attempt = name.removesuffix(".json")
    if prefix or not is_valid_job_id(job_id) or not name.endswith(".json") or not attempt.isdigit():
        return None
    return job_id


def audio_key(job_id: str) -> str:
    """Where an uploaded job's audio is kept (`keepUploadedAudio`)."""
    return f"{ResultsBucket.AUDIO_PREFIX}{job_id}"
