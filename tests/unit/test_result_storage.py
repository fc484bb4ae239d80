"""How a result body is kept: zstd inline when it fits the item, gzip objects in S3 otherwise."""

from __future__ import annotations

import gzip
import hashlib

import pytest

from functions.core import result_storage
from functions.core.jobs import StoredResult
from local.deepgram_emulator.payloads import compact_json, generate_response

KB = 1024


def body_of(size: int) -> bytes:
    return compact_json(generate_response(target_bytes=size, request_id="r", seed=3))


@pytest.mark.parametrize("size", [1 * KB, 100 * KB, 300 * KB])
def test_a_body_that_fits_the_item_is_kept_inline_with_zstd(size: int) -> None:
    body = body_of(size)
    digest = hashlib.sha256(body).hexdigest()

    encoded = result_storage.encode("a" * 32, body, digest)

    assert encoded.object_data is None
    assert encoded.stored.storage == "inline"
    assert encoded.stored.content_encoding == "zstd"
    assert len(encoded.stored.inline_data or b"") <= result_storage.INLINE_MAX_STORED_BYTES
    assert result_storage.decode_inline(encoded.stored) == body


@pytest.mark.parametrize("size", [1100 * KB, 3 * 1024 * KB])
def test_a_larger_body_becomes_an_s3_object_gzip_when_small_enough_to_compress(size: int) -> None:
    body = body_of(size)
    digest = hashlib.sha256(body).hexdigest()

    encoded = result_storage.encode("a" * 32, body, digest)

    assert encoded.stored.storage == "s3"
    assert encoded.object_data is not None
    if len(body) <= result_storage.COMPRESS_MAX_RAW_BYTES:
        assert encoded.stored.content_encoding == "gzip"
        assert encoded.stored.s3_key == f"results/{'a' * 32}/{digest}.json.gz"
        assert gzip.decompress(encoded.object_data) == body
    else:
        assert encoded.stored.content_encoding == "identity"
        assert encoded.object_data == body


def test_a_small_body_goes_to_s3_when_inline_is_not_allowed() -> None:
    body = body_of(1 * KB)

    encoded = result_storage.encode("a" * 32, body, "0" * 64, allow_inline=False)

    assert encoded.stored.storage == "s3"
    assert encoded.stored.content_encoding == "gzip"


def test_results_kept_inline_with_gzip_before_zstd_stay_readable() -> None:
    body = body_of(2 * KB)
    stored = StoredResult(
        storage="inline",
        size_bytes=len(body),
        sha256="0" * 64,
        content_encoding="gzip",
        inline_data=gzip.compress(body, mtime=0),
    )

    assert result_storage.decode_inline(stored) == body
