"""How a callback body is kept: gzip inline in the job item when small, else an S3 object.

One module decides the encoding (the callback writes with it, the status function reads with it),
so the two can never disagree. Pure Python, no AWS.
"""

from __future__ import annotations

import gzip
from dataclasses import dataclass

from functions.core.contract import ResultsBucket
from functions.core.jobs import StoredResult

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


@dataclass(frozen=True)
class EncodedResult:
    stored: StoredResult
    object_data: bytes | None  # what to upload to `stored.s3_key`; None when stored inline


def encode(job_id: str, body: bytes, sha256: str) -> EncodedResult:
    data, encoding = body, "identity"
    if len(body) <= COMPRESS_MAX_RAW_BYTES:
        data, encoding = gzip.compress(body, compresslevel=GZIP_LEVEL, mtime=0), "gzip"
        if len(data) <= INLINE_MAX_STORED_BYTES:
            stored = StoredResult(
                storage="inline",
                size_bytes=len(body),
                sha256=sha256,
                content_encoding=encoding,
                inline_data=data,
            )
            return EncodedResult(stored=stored, object_data=None)
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
    if stored.content_encoding == "gzip":
        return gzip.decompress(stored.inline_data)
    return stored.inline_data
