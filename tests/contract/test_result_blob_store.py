"""The ResultBlobStore contract: the in-memory fake and S3 on moto."""

from __future__ import annotations

import gzip
import uuid

import pytest

from tests.contract.conftest import BlobsUnderTest, StoredBlob

BODY = b'{"results":{"channels":[{"alternatives":[{"transcript":"h\xc3\xa9llo"}]}]}}' + bytes(range(256))


def a_key() -> str:
    return f"results/{uuid.uuid4().hex}/{uuid.uuid4().hex}.json.gz"


@pytest.mark.parametrize(
    ("data", "encoding"),
    [(gzip.compress(BODY, mtime=0), "gzip"), (BODY, "identity")],
    ids=["gzip", "identity"],
)
def test_put_stores_the_bytes_and_their_encoding_and_delete_removes_them(
    blobs: BlobsUnderTest, data: bytes, encoding: str
) -> None:
    key = a_key()

    blobs.store.put(key, data, content_encoding=encoding)
    assert blobs.read(key) == StoredBlob(data, encoding)

    blobs.store.delete(key)
    assert blobs.read(key) is None


def test_a_second_put_to_the_same_key_replaces_the_object(blobs: BlobsUnderTest) -> None:
    key = a_key()
    blobs.store.put(key, b"first", content_encoding="identity")

    blobs.store.put(key, gzip.compress(b"second", mtime=0), content_encoding="gzip")

    assert blobs.read(key) == StoredBlob(gzip.compress(b"second", mtime=0), "gzip")


def test_deleting_a_missing_object_is_not_an_error(blobs: BlobsUnderTest) -> None:
    key = a_key()

    blobs.store.delete(key)

    assert blobs.read(key) is None


def test_a_presigned_url_names_the_key(blobs: BlobsUnderTest) -> None:
    key = a_key()
    blobs.store.put(key, BODY, content_encoding="identity")

    url = blobs.store.presigned_get_url(key, 300)

    assert isinstance(url, str)
    assert key in url
