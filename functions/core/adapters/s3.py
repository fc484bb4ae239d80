"""Result bodies too large for the job item live in the results bucket."""

from __future__ import annotations

from typing import Any

from functions.core.adapters.aws import call, dependency


class S3ResultBlobStore:
    def __init__(self, client: Any, bucket: str) -> None:
        self._client = client
        self._bucket = bucket

    def put(
        self, key: str, data: bytes, *, content_encoding: str, content_type: str = "application/json"
    ) -> None:
        extra = {"ContentEncoding": "gzip"} if content_encoding == "gzip" else {}
        call(
            "S3",
            self._client.put_object,
            Bucket=self._bucket,
            Key=key,
            Body=data,
            ContentType=content_type,
            **extra,
        )

    def get(self, key: str) -> bytes:
        response = call("S3", self._client.get_object, Bucket=self._bucket, Key=key)
        with dependency("S3"):
            data: bytes = response["Body"].read()
        return data

    def delete(self, key: str) -> None:
        call("S3", self._client.delete_object, Bucket=self._bucket, Key=key)

    def presigned_get_url(self, key: str, expires_in: int) -> str:
        url: str = call(
            "S3",
            self._client.generate_presigned_url,
            ClientMethod="get_object",
            Params={"Bucket": self._bucket, "Key": key},
            ExpiresIn=expires_in,
        )
        return url
