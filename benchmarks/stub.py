"""A stubbed AWS for benchmarks, at botocore's HTTP layer: zero latency, or a round-trip model.

`ZeroLatencyAws` registers a `before-send` handler on a boto3 session's event system. botocore
emits `before-send.<service>.<Operation>` after it has serialised and signed a request and just
before it would open a connection; a handler that returns an `AWSResponse` replaces the network
round trip, and botocore then parses that response exactly as it would a real one. So code under
test keeps paying every client-side cost (parameter validation, serialisation, SigV4 signing,
checksums, response parsing, retry bookkeeping) and nothing else: no sockets, no server, no
latency. The canned bodies are the documented wire formats (JSON 1.0 for DynamoDB and Secrets
Manager, the query protocol's XML for SNS, REST-XML for S3).

With a `LatencyModel` set (`stub.latency`), every answer is held back by the time the model gives
the operation (a fixed round trip per call, plus the body's transfer time for S3 `PutObject`), so
the handler and its floor pay the same modelled network time for the same kind of call. The
defaults are published same-region figures, each with its source in `LatencyModel`; every one can
be changed (`LatencyModel.from_environ`, `python -m benchmarks --latency dynamodb=6`).

Clients copy their session's event handlers when they are created, so install the stub *before*
the code under test creates its clients (the functions create theirs on first invocation).
"""

from __future__ import annotations

import io
import json
import os
import re
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, ClassVar, NamedTuple

import boto3
from botocore.awsrequest import AWSPreparedRequest, AWSResponse

CannedResponse = tuple[int, dict[str, str], bytes]
Responder = Callable[[AWSPreparedRequest], CannedResponse]

_UNIQUE_ID = "benchmarks-zero-latency-aws"
URLLIB3_BLOCKSIZE = 16384
"""How much of a streamed body urllib3 (under botocore) reads per send."""
_DYNAMODB_JSON = "application/x-amz-json-1.0"
_AWS_JSON = "application/x-amz-json-1.1"


class UnstubbedCall(RuntimeError):
    """The code under test called an operation the stub has no answer for."""


class _Body:
    """The `raw` of an `AWSResponse`: `stream()` for parsed bodies, `read()` for streaming ones."""

    __slots__ = ("_buffer", "_data")

    def __init__(self, data: bytes) -> None:
        self._data = data
        self._buffer = io.BytesIO(data)

    def stream(self, **_: Any) -> Any:
        yield self._data

    def read(self, amt: int | None = None) -> bytes:
        return self._buffer.read(amt)

    def close(self) -> None:
        self._buffer.close()


class JournalEntry(NamedTuple):
    service: str
    operation: str
    body: bytes
    """Empty for a streamed body (see `size`)."""
    size: int


@dataclass
class OperationRecord:
    """What the stub saw of one operation: how often, how many request bytes, the last body."""

    calls: int = 0
    request_bytes: int = 0
    last_body: bytes = b""


@dataclass(frozen=True)
class LatencyModel:
    """Milliseconds one call waits for its answer, by botocore service id, as seen from a Lambda
    function in the same region over a kept-alive connection; plus S3's per-connection throughput
    for the bytes an upload carries. Defaults and their sources:

    * DynamoDB, 4 ms per call (GetItem, PutItem, UpdateItem): AWS Knowledge Center, "Why is my
      Amazon DynamoDB request latency high?" (https://repost.aws/knowledge-center/dynamodb-high-latency):
      "for most atomic operations, such as GetItem and PutItem, you can expect an average latency in
      single-digit milliseconds"; 4 ms is the middle of that range.
    * S3 PutObject, 25 ms to the answer plus the body at 85 MB/s: the S3 User Guide's "Performance
      guidelines for Amazon S3" (https://docs.aws.amazon.com/AmazonS3/latest/userguide/optimizing-performance-guidelines.html)
      sizes connections at "one concurrent request for each 85-90 MB/s of desired network
      throughput"; S3 publishes no per-request latency for S3 Standard, only that S3 Express One
      Zone gives "single-digit millisecond" access, "up to 10x faster" than S3 Standard
      (https://aws.amazon.com/s3/storage-classes/express-one-zone/): tens of milliseconds, taken
      as 25 (an assumption within that bound, to check with a measurement in the account).
    * SNS Publish, 20 ms: AWS publishes no latency figure for Publish; 20 ms is the middle of the
      15-25 ms usually measured in-region for a standard topic. An assumption, stated as such.
    * Secrets Manager, 10 ms (paid once per execution environment: the secret is cached), an assumption.

    Change any of them with the environment (`BENCH_LATENCY_<SERVICE>_MS`, e.g.
    `BENCH_LATENCY_DYNAMODB_MS=6`, `BENCH_S3_MB_PER_S=50`) or `python -m benchmarks --latency
    dynamodb=6 --s3-mb-per-s 50`.
    """

    call_ms: Mapping[str, float] = field(
        default_factory=lambda: {"dynamodb": 4.0, "s3": 25.0, "sns": 20.0, "secrets-manager": 10.0}
    )
    s3_mb_per_s: float = 85.0

    SOURCES: ClassVar[dict[str, str]] = {
        "dynamodb": "https://repost.aws/knowledge-center/dynamodb-high-latency (single-digit ms)",
        "s3": "https://docs.aws.amazon.com/AmazonS3/latest/userguide/optimizing-performance-guidelines.html "
        "(85-90 MB/s per connection); first byte: assumption (S3 Express One Zone: single-digit ms, "
        "up to 10x faster than S3 Standard)",
        "sns": "assumption (no AWS-published Publish latency)",
        "secrets-manager": "assumption (cached after the first call)",
    }

    def seconds(self, service: str, operation: str, payload_bytes: int) -> float:
        milliseconds = self.call_ms.get(service, 0.0)
        if service == "s3" and operation in ("PutObject", "UploadPart") and self.s3_mb_per_s > 0:
            milliseconds += payload_bytes / (self.s3_mb_per_s * 1_000_000) * 1000
        return milliseconds / 1000

    def describe(self) -> dict[str, Any]:
        return {"call_ms": dict(self.call_ms), "s3_mb_per_s": self.s3_mb_per_s, "sources": self.SOURCES}

    @classmethod
    def from_environ(cls, environ: Mapping[str, str] | None = None) -> LatencyModel:
        """The defaults, overridden by `BENCH_LATENCY_<SERVICE>_MS` and `BENCH_S3_MB_PER_S`."""
        environ = os.environ if environ is None else environ
        model = cls()
        calls = dict(model.call_ms)
        for service in calls:
            value = environ.get(latency_variable(service))
            if value:
                calls[service] = float(value)
        throughput = environ.get(S3_THROUGHPUT_VARIABLE)
        return replace(
            model, call_ms=calls, s3_mb_per_s=float(throughput) if throughput else model.s3_mb_per_s
        )


S3_THROUGHPUT_VARIABLE = "BENCH_S3_MB_PER_S"


def latency_variable(service: str) -> str:
    """The variable of a service's latency: `BENCH_LATENCY_SECRETS_MANAGER_MS` for `secrets-manager`."""
    return f"BENCH_LATENCY_{service.upper().replace('-', '_')}_MS"


class ZeroLatencyAws:
    """Canned answers per (service id, operation), served without any network; held back by
    `latency` when one is set (None: zero latency)."""

    def __init__(self) -> None:
        self.latency: LatencyModel | None = None
        self._responders: dict[tuple[str, str], Responder] = {}
        self.records: dict[tuple[str, str], OperationRecord] = {}
        self.journal: list[JournalEntry] | None = None
        """Every request in order, as (service, operation, body), while set to a list."""
        self.job_item: dict[str, Any] = {}
        """The one job item (DynamoDB JSON) `GetItem` answers and `UpdateItem` updates."""
        self._session: boto3.session.Session | None = None
        self._replaced_default: tuple[boto3.session.Session | None] | None = None

    # Answers ---------------------------------------------------------------------------------

    def respond(self, service: str, operation: str, responder: Responder) -> None:
        """Answer `operation` of `service` (botocore's hyphenised service id, e.g. `secrets-manager`)."""
        self._responders[(service, operation)] = responder

    def answer(self, service: str, operation: str, status: int, headers: dict[str, str], body: bytes) -> None:
        """Answer with one fixed response (built once: the stub itself costs next to nothing)."""
        canned: CannedResponse = (status, headers, body)
        self.respond(service, operation, lambda _request: canned)

    def answer_json(self, service: str, operation: str, document: dict[str, Any]) -> None:
        content_type = _DYNAMODB_JSON if service == "dynamodb" else _AWS_JSON
        body = json.dumps(document, separators=(",", ":")).encode()
        self.answer(service, operation, 200, _headers(content_type, len(body)), body)

    def answer_query(self, service: str, operation: str, result_xml: str, namespace: str) -> None:
        """A query-protocol (XML) answer: `<OpResponse><OpResult>result_xml</OpResult>...`."""
        body = (
            f'<{operation}Response xmlns="{namespace}"><{operation}Result>{result_xml}</{operation}Result>'
            f"<ResponseMetadata><RequestId>{uuid.uuid4()}</RequestId></ResponseMetadata>"
            f"</{operation}Response>"
        ).encode()
        self.answer(service, operation, 200, _headers("text/xml", len(body)), body)

    # Installation ----------------------------------------------------------------------------

    def install(self, session: boto3.session.Session) -> None:
        """Serve every client created from `session` from now on."""
        self._detach()
        session.events.register("before-send", self._on_send, unique_id=_UNIQUE_ID)
        self._session = session

    def install_on_default_session(self, region: str) -> boto3.session.Session:
        """A fresh default boto3 session (what `boto3.client` uses), stubbed; `uninstall` puts the
        previous default session back."""
        if self._replaced_default is None:
            self._replaced_default = (boto3.DEFAULT_SESSION,)
        boto3.setup_default_session(region_name=region)
        session = boto3.DEFAULT_SESSION
        assert session is not None
        self.install(session)
        return session

    def uninstall(self) -> None:
        """Stop serving, and put back the default session `install_on_default_session` replaced."""
        self._detach()
        if self._replaced_default is not None:
            (boto3.DEFAULT_SESSION,) = self._replaced_default
            self._replaced_default = None

    def _detach(self) -> None:
        if self._session is not None:
            self._session.events.unregister("before-send", unique_id=_UNIQUE_ID)
            self._session = None

    # Records ---------------------------------------------------------------------------------

    def record(self, service: str, operation: str) -> OperationRecord:
        return self.records.get((service, operation), OperationRecord())

    def calls(self) -> dict[str, int]:
        """Calls per `service.Operation` so far."""
        return {
            f"{service}.{operation}": record.calls for (service, operation), record in self.records.items()
        }

    def reset_records(self) -> None:
        self.records.clear()

    def _on_send(self, request: AWSPreparedRequest, event_name: str, **_kwargs: Any) -> AWSResponse:
        _event, service, operation = event_name.split(".", 2)
        responder = self._responders.get((service, operation))
        if responder is None:
            raise UnstubbedCall(f"no canned answer for {service}.{operation}")
        record = self.records.get((service, operation))
        if record is None:
            record = self.records[(service, operation)] = OperationRecord()
        body, size = _consume(request)
        record.calls += 1
        record.request_bytes += size
        record.last_body = body
        if self.journal is not None:
            self.journal.append(JournalEntry(service, operation, body, size))
        status, headers, payload = responder(request)
        if self.latency is not None:
            _wait(self.latency.seconds(service, operation, size))
        return AWSResponse(request.url, status, headers, _Body(payload))


SPIN_SECONDS = 0.0015
"""The end of a modelled wait is spun, not slept: `time.sleep` overshoots by up to a millisecond or
two on a busy machine, and the handler (more calls) would pay that more often than its floor."""


def _wait(seconds: float) -> None:
    deadline = time.perf_counter() + seconds
    if seconds > SPIN_SECONDS:
        time.sleep(seconds - SPIN_SECONDS)
    while time.perf_counter() < deadline:
        pass


def _consume(request: AWSPreparedRequest) -> tuple[bytes, int]:
    """The request body and its payload size. A streamed body (S3 PutObject: aws-chunked with a
    CRC32 trailer) is read to the end in urllib3's 16 KB blocks, as sending it would, so the
    checksum and chunk framing are paid as in production; its bytes are not kept."""
    body = request.body
    if body is None:
        return b"", 0
    if isinstance(body, bytes | bytearray):
        return bytes(body), len(body)
    if isinstance(body, str):
        return body.encode(), len(body.encode())
    sent = 0
    while chunk := body.read(URLLIB3_BLOCKSIZE):
        sent += len(chunk)
    decoded = request.headers.get("X-Amz-Decoded-Content-Length")
    return b"", int(decoded) if decoded is not None else sent


def _headers(content_type: str, length: int) -> dict[str, str]:
    return {
        "content-type": content_type,
        "content-length": str(length),
        "x-amzn-requestid": "00000000-0000-4000-8000-000000000000",
    }


# Answers for the pipeline's operations ------------------------------------------------------------

SNS_NAMESPACE = "http://sns.amazonaws.com/doc/2010-03-31/"


def answer_pipeline_writes(stub: ZeroLatencyAws) -> None:
    """Successful answers to every write the functions make (the reads are the caller's to set).

    An `UpdateItem` that asks for `ReturnValues=ALL_NEW` (the callback's finishing write) is
    answered with the job item `answer_get_item` set, the update applied (`apply_update`), as
    DynamoDB would: so botocore parses a reply as big as the real one, the result included."""
    for operation in ("PutItem", "DeleteItem"):
        stub.answer_json("dynamodb", operation, {})
    empty = json.dumps({}).encode()
    plain: CannedResponse = (200, _headers(_DYNAMODB_JSON, len(empty)), empty)

    def update_item(request: AWSPreparedRequest) -> CannedResponse:
        body = request.body
        if not isinstance(body, bytes) or b'"ALL_NEW"' not in body:
            return plain
        request_document = json.loads(body)
        attributes = apply_update({**stub.job_item, **request_document["Key"]}, request_document)
        written = json.dumps({"Attributes": attributes}).encode()
        return 200, _headers(_DYNAMODB_JSON, len(written)), written

    stub.respond("dynamodb", "UpdateItem", update_item)
    stub.answer(
        "s3", "PutObject", 200, {"etag": '"0123456789abcdef0123456789abcdef"', "content-length": "0"}, b""
    )
    stub.answer("s3", "DeleteObject", 204, {"content-length": "0"}, b"")
    stub.answer_query("sns", "Publish", f"<MessageId>{uuid.uuid4()}</MessageId>", SNS_NAMESPACE)


def answer_secret(stub: ZeroLatencyAws, secrets: dict[str, str]) -> None:
    """`GetSecretValue` for each secret id (ARN or name) in `secrets`."""
    answers = {
        secret_id: json.dumps(
            {
                "ARN": secret_id,
                "Name": secret_id.rsplit(":", 1)[-1],
                "SecretString": value,
                "VersionId": str(uuid.uuid4()),
                "VersionStages": ["AWSCURRENT"],
                "CreatedDate": 1.7e9,
            }
        ).encode()
        for secret_id, value in secrets.items()
    }

    def get_secret_value(request: AWSPreparedRequest) -> CannedResponse:
        body = request.body if isinstance(request.body, bytes) else b"{}"
        answer = answers.get(str(json.loads(body).get("SecretId")))
        if answer is None:
            error = b'{"__type":"ResourceNotFoundException","message":"no such secret"}'
            return 400, _headers(_AWS_JSON, len(error)), error
        return 200, _headers(_AWS_JSON, len(answer)), answer

    stub.respond("secrets-manager", "GetSecretValue", get_secret_value)


def answer_get_item(stub: ZeroLatencyAws, item: dict[str, Any] | None) -> None:
    """`GetItem` always returns `item` (DynamoDB JSON), or no item when None; an `UpdateItem`
    asking for the item as written applies its update to `item` (never stored: every delivery
    finds the job as `item` has it)."""
    stub.job_item = item or {}
    stub.answer_json("dynamodb", "GetItem", {"Item": item} if item is not None else {})


_ASSIGNMENT = re.compile(r"(#?\w+)\s*=\s*(if_not_exists\(\s*#?\w+\s*,\s*)?(:\w+)")


def apply_update(item: dict[str, Any], request: Mapping[str, Any]) -> dict[str, Any]:
    """The item after an UpdateItem request (SET name = :value, if_not_exists, REMOVE): enough of
    DynamoDB's update expressions for the pipeline's writes."""
    names = request.get("ExpressionAttributeNames", {})
    values = request.get("ExpressionAttributeValues", {})
    expression = str(request["UpdateExpression"])
    set_part, _, remove_part = expression.partition(" REMOVE ")
    updated = dict(item)
    for name, if_not_exists, placeholder in _ASSIGNMENT.findall(set_part.removeprefix("SET ")):
        attribute = names.get(name, name)
        if if_not_exists and attribute in updated:
            continue
        updated[attribute] = values[placeholder]
    for name in filter(None, (part.strip() for part in remove_part.split(","))):
        updated.pop(names.get(name, name), None)
    return updated
