"""Each port under test, once per implementation: the in-memory fake and the real adapter(s).

A fixture here yields a small harness: the implementation behind its port type, plus what a case
needs to look behind the port (read back what was stored or sent) and `fail(operation)`, which
makes the next call of a port operation fail as an outage would: through the fake's `faults`, or
through a botocore `ClientError` injected into the real client (`tests/faults.py`). The cases in
the `test_*.py` modules never know which implementation they run against.

Real adapters run on moto (one account for the suite, the pipeline's resources from
`local.aws_resources`), the jobs repository also on Amazon's DynamoDB Local (started once per
session, one table for the suite), and the Deepgram transcriber against
`tests/unit/deepgram_stub.DeepgramStub`. Cases sharing an account keep apart by random job ids,
object keys and secret names, and a topic of their own.
"""

from __future__ import annotations

import copy
import json
import uuid
from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from botocore.loaders import Loader
from moto import mock_aws

from functions.core.adapters import job_item
from functions.core.adapters.aws import client
from functions.core.adapters.dynamodb import DynamoJobRepository
from functions.core.adapters.memory import (
    FakeTranscriber,
    InMemoryBlobStore,
    InMemoryJobRepository,
    InMemoryPublisher,
    InMemorySecrets,
    _Record,
)
from functions.core.adapters.s3 import S3ResultBlobStore
from functions.core.adapters.secrets import CachedSecrets
from functions.core.adapters.sns import SnsNotificationPublisher
from functions.core.jobs import Job
from functions.core.ports import (
    DeepgramFailure,
    JobRepository,
    NotificationPublisher,
    ResultBlobStore,
    SecretSource,
    Transcriber,
)
from functions.submit.deepgram_gateway import DeepgramTranscriber
from local.aws_resources import Resources, create_resources
from tests.conftest import DEEPGRAM_API_KEY, SIGNING_KEY
from tests.dynamodb_local import LocalTable, client_for, create_jobs_table, unique_table_name
from tests.faults import AwsFaults
from tests.unit.deepgram_stub import DeepgramStub, RecordedRequest

MEMORY = "memory"
DYNAMODB_MOTO = "dynamodb-moto"
DYNAMODB_LOCAL = "dynamodb-local"
DYNAMODB = (DYNAMODB_MOTO, DYNAMODB_LOCAL)
S3_MOTO = "s3-moto"
SNS_MOTO = "sns-moto"
SECRETS_MOTO = "secretsmanager-moto"
DEEPGRAM_SDK = "deepgram-sdk"

SECRETS_MAX_AGE_SECONDS = 300

# The AWS operation behind each port operation of the real adapters.
DYNAMODB_OPERATIONS = {
    "create": "PutItem",
    "get": "GetItem",
    "record_submission": "UpdateItem",
    "mark_submit_failed": "UpdateItem",
    "finish": "UpdateItem",
    "claim_notification": "UpdateItem",
    "mark_notified": "UpdateItem",
    "release_notification": "UpdateItem",
}
S3_OPERATIONS = {"put": "PutObject", "delete": "DeleteObject", "presigned_get_url": "GetObject"}
SNS_OPERATIONS = {"publish": "Publish"}
SECRETS_OPERATIONS = {"get": "GetSecretValue"}


@dataclass
class UnderTest:
    """What every harness has: which implementation it is, and a way to flag a known drift."""

    implementation: str
    node: pytest.Item

    def known_discrepancy(self, *, on: Collection[str], reason: str) -> None:
        """This case fails on these implementations until the code is fixed: xfail, strictly."""
        if self.implementation in on:
            self.node.add_marker(pytest.mark.xfail(strict=True, reason=reason))


# --- JobRepository ----------------------------------------------------------------------------------


@dataclass
class JobsUnderTest(UnderTest):
    repo: JobRepository
    fail: Callable[[str], None]  # the next call of this port operation fails as an outage would
    seed: Callable[[Job], None]  # store a job in any state, bypassing the port's transitions


def _seed_memory(repo: InMemoryJobRepository, job: Job) -> None:
    repo._records[job.job_id] = _Record(job=copy.deepcopy(job))


def _raw_item(job: Job) -> dict[str, Any]:
    """The whole job as an item, its layout taken from `job_item` (the one module that knows it)."""
    later: dict[str, Any] = {
        job_item.REQUEST_ID: job.request_id,
        job_item.SUBMITTED_AT: job.submitted_at,
        job_item.COMPLETED_AT: job.completed_at,
        job_item.ERROR: job.error.as_dict() if job.error else None,
        job_item.SUMMARY: job.summary,
        job_item.NOTIFIED_AT: job.notified_at,
        job_item.SUBMIT_ERROR_AMBIGUOUS: job.submit_error_ambiguous,
    }
    if job.result is not None:
        later[job_item.RESULT] = job_item.result_map(job.result)
        later[job_item.RESULT_DATA] = job.result.inline_data
    return job_item.new_job_item(job) | job_item.serialize(
        {name: value for name, value in later.items() if value is not None}
    )


@pytest.fixture(params=[MEMORY, DYNAMODB_MOTO, DYNAMODB_LOCAL])
def jobs(request: pytest.FixtureRequest) -> JobsUnderTest:
    implementation: str = request.param
    if implementation == MEMORY:
        memory = InMemoryJobRepository()
        return JobsUnderTest(
            implementation=implementation,
            node=request.node,
            repo=memory,
            fail=memory.faults.fail,
            seed=lambda job: _seed_memory(memory, job),
        )
    if implementation == DYNAMODB_MOTO:
        account: MotoAccount = request.getfixturevalue("moto_account")
        dynamodb, table = account.dynamodb, account.resources.names.jobs_table
    else:
        local: LocalTable = request.getfixturevalue("dynamodb_local_contract_table")
        dynamodb, table = local.client, local.table_name
    faults = _faults_on(request, dynamodb)

    return JobsUnderTest(
        implementation=implementation,
        node=request.node,
        repo=DynamoJobRepository(dynamodb, table),
        fail=_aws_fail(faults, "dynamodb", DYNAMODB_OPERATIONS, table=table),
        seed=lambda job: dynamodb.put_item(TableName=table, Item=_raw_item(job)),
    )


def _aws_fail(
    faults: AwsFaults, service: str, operations: dict[str, str], *, table: str | None = None
) -> Callable[[str], None]:
    """`fail(port operation)` for a real adapter: its AWS call answers an InternalServerError once."""

    def fail(operation: str) -> None:
        faults.fail(service, operations[operation], table=table)

    return fail


def _faults_on(request: pytest.FixtureRequest, aws_client: Any) -> AwsFaults:
    """`tests/faults.py`'s hook on one client (DynamoDB Local's is not from the default session)."""
    faults = AwsFaults()
    unique_id = f"contract-faults-{id(faults)}"
    aws_client.meta.events.register("before-parameter-build", faults, unique_id=unique_id)
    request.addfinalizer(
        lambda: aws_client.meta.events.unregister("before-parameter-build", unique_id=unique_id)
    )
    return faults


# --- ResultBlobStore --------------------------------------------------------------------------------


@dataclass(frozen=True)
class StoredBlob:
    data: bytes
    content_encoding: str  # "identity" when the object carries no Content-Encoding


@dataclass
class BlobsUnderTest(UnderTest):
    store: ResultBlobStore
    read: Callable[[str], StoredBlob | None]  # the object as stored; None: no such object
    fail: Callable[[str], None]


@pytest.fixture(params=[MEMORY, S3_MOTO])
def blobs(request: pytest.FixtureRequest) -> BlobsUnderTest:
    if request.param == MEMORY:
        memory = InMemoryBlobStore()

        def read_memory(key: str) -> StoredBlob | None:
            stored = memory.objects.get(key)
            return StoredBlob(stored.data, stored.content_encoding) if stored else None

        return BlobsUnderTest(MEMORY, request.node, store=memory, read=read_memory, fail=memory.faults.fail)

    account: MotoAccount = request.getfixturevalue("moto_account")
    s3, bucket = account.s3, account.resources.names.results_bucket
    faults = _faults_on(request, s3)

    def read_s3(key: str) -> StoredBlob | None:
        try:
            answer = s3.get_object(Bucket=bucket, Key=key)
        except s3.exceptions.NoSuchKey:
            return None
        return StoredBlob(answer["Body"].read(), answer.get("ContentEncoding") or "identity")

    return BlobsUnderTest(
        S3_MOTO,
        request.node,
        store=S3ResultBlobStore(s3, bucket),
        read=read_s3,
        fail=_aws_fail(faults, "s3", S3_OPERATIONS),
    )


# --- NotificationPublisher --------------------------------------------------------------------------


@dataclass(frozen=True)
class Delivered:
    message_id: str
    message: str
    attributes: dict[str, str]


@dataclass
class PublisherUnderTest(UnderTest):
    publisher: NotificationPublisher
    delivered: Callable[[], list[Delivered]]  # what a subscriber has received so far
    fail: Callable[[str], None]


@pytest.fixture(params=[MEMORY, SNS_MOTO])
def publishers(request: pytest.FixtureRequest) -> PublisherUnderTest:
    if request.param == MEMORY:
        memory = InMemoryPublisher()
        return PublisherUnderTest(
            MEMORY,
            request.node,
            publisher=memory,
            delivered=lambda: [
                Delivered(sent.message_id, sent.notification.message, dict(sent.notification.attributes))
                for sent in memory.published
            ],
            fail=memory.faults.fail,
        )

    account: MotoAccount = request.getfixturevalue("moto_account")
    sns, sqs = account.sns, account.sqs
    faults = _faults_on(request, sns)
    # A topic and subscriber queue of this case's own, so nothing another case sent can arrive.
    name = f"contract-{uuid.uuid4().hex[:12]}"
    topic_arn = sns.create_topic(Name=name)["TopicArn"]
    queue_url = sqs.create_queue(QueueName=name)["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    sns.subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=queue_arn)
    received: list[Delivered] = []

    def delivered() -> list[Delivered]:
        """The SQS subscriber's messages, unwrapped from SNS's envelope, kept raw (no JSON decoding)."""
        answer = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10)
        for message in answer.get("Messages", []):
            envelope = json.loads(message["Body"])
            received.append(
                Delivered(
                    message_id=envelope["MessageId"],
                    message=envelope["Message"],
                    attributes={
                        name: attribute["Value"]
                        for name, attribute in envelope.get("MessageAttributes", {}).items()
                    },
                )
            )
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
        return list(received)

    return PublisherUnderTest(
        SNS_MOTO,
        request.node,
        publisher=SnsNotificationPublisher(sns, topic_arn),
        delivered=delivered,
        fail=_aws_fail(faults, "sns", SNS_OPERATIONS),
    )


# --- SecretSource -----------------------------------------------------------------------------------


@dataclass
class SecretsUnderTest(UnderTest):
    source: SecretSource
    store: Callable[[str, str], str]  # store (name, value); returns the id to read it by
    missing_id: str  # an id that names no secret
    fail: Callable[[str], None]


@pytest.fixture(params=[MEMORY, SECRETS_MOTO])
def secrets(request: pytest.FixtureRequest) -> SecretsUnderTest:
    if request.param == MEMORY:
        memory = InMemorySecrets()

        def store_memory(name: str, value: str) -> str:
            memory.values[name] = value
            return name

        return SecretsUnderTest(
            MEMORY,
            request.node,
            source=memory,
            store=store_memory,
            missing_id="no-such-secret",
            fail=memory.faults.fail,
        )

    account: MotoAccount = request.getfixturevalue("moto_account")
    manager = account.secretsmanager
    faults = _faults_on(request, manager)
    prefix = f"contract-{uuid.uuid4().hex[:12]}-"  # the account is shared by the suite

    def store_moto(name: str, value: str) -> str:
        return str(manager.create_secret(Name=prefix + name, SecretString=value)["ARN"])

    missing = account.resources.deepgram_secret_arn.replace(
        account.resources.names.deepgram_secret, prefix + "no-such-secret"
    )
    return SecretsUnderTest(
        SECRETS_MOTO,
        request.node,
        source=CachedSecrets(manager, SECRETS_MAX_AGE_SECONDS),
        store=store_moto,
        missing_id=missing,
        fail=_aws_fail(faults, "secretsmanager", SECRETS_OPERATIONS),
    )


# --- Transcriber ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Sent:
    """One request as Deepgram received it."""

    audio_url: str | None
    audio_data: bytes | None
    callback_url: str
    extra: list[str]


@dataclass
class TranscriberUnderTest(UnderTest):
    transcriber: Transcriber
    sent: Callable[[], list[Sent]]
    refuse: Callable[[int, str], None]  # Deepgram answers every following request with (status, err_msg)
    fail: Callable[[str], None]


@dataclass
class _KeySource:
    """The Deepgram key as the transcriber reads it: a constant until a test routes it through
    Secrets Manager on moto (to make that dependency fail)."""

    read: Callable[[], str] = field(default=lambda: DEEPGRAM_API_KEY)

    def __call__(self) -> str:
        return self.read()


@pytest.fixture(params=[MEMORY, DEEPGRAM_SDK])
def transcribers(request: pytest.FixtureRequest) -> Iterator[TranscriberUnderTest]:
    if request.param == MEMORY:
        fake = FakeTranscriber()

        def refuse_fake(status: int, message: str) -> None:
            fake.refuse_with = DeepgramFailure(http_status=status, code="deepgram_rejected", message=message)

        yield TranscriberUnderTest(
            MEMORY,
            request.node,
            transcriber=fake,
            sent=lambda: [
                Sent(
                    audio_url=getattr(call.audio, "url", None),
                    audio_data=getattr(call.audio, "data", None),
                    callback_url=call.callback_url,
                    extra=list(call.extra),
                )
                for call in fake.calls
            ],
            refuse=refuse_fake,
            fail=fake.faults.fail,
        )
        return

    stub = DeepgramStub()
    stub.start()
    key_source = _KeySource()

    def sent_to_stub() -> list[Sent]:
        requests = [request for request in stub.requests if request.path == "/v1/listen"]
        return [
            Sent(
                audio_url=sent.json()["url"] if _is_json(sent) else None,
                audio_data=None if _is_json(sent) else sent.body,
                callback_url=sent.params["callback"][0],
                extra=sent.params.get("extra", []),
            )
            for sent in requests
        ]

    def refuse_stub(status: int, message: str) -> None:
        stub.respond(status, {"err_code": "Bad Request", "err_msg": message})

    def fail(operation: str) -> None:
        """The transcriber's only AWS dependency is the key's secret: make reading it fail."""
        assert operation == "submit", operation
        account: MotoAccount = request.getfixturevalue("moto_account")
        faults = _faults_on(request, account.secretsmanager)
        source = CachedSecrets(account.secretsmanager, SECRETS_MAX_AGE_SECONDS)
        key_source.read = lambda: source.get(account.resources.deepgram_secret_arn)
        faults.fail("secretsmanager", "GetSecretValue")

    transcriber = DeepgramTranscriber(
        api_key_source=key_source, base_url=stub.url, timeout_seconds=5.0, max_retries=0
    )
    try:
        yield TranscriberUnderTest(
            DEEPGRAM_SDK,
            request.node,
            transcriber=transcriber,
            sent=sent_to_stub,
            refuse=refuse_stub,
            fail=fail,
        )
    finally:
        stub.close()


def _is_json(request: RecordedRequest) -> bool:
    return request.headers.get("content-type", "").startswith("application/json")


# --- moto -------------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def _shared_botocore_models() -> Iterator[None]:
    """Parse botocore's service models once per session, not once per moto account (speed only).

    `mock_aws` resets the default boto3 session, and each new session's loader would parse the
    models again (~0.3 s a case); a shared cache makes them behave like one session's loader."""
    shared: dict[Any, Any] = {}
    original_init = Loader.__init__

    def init(self: Loader, *args: Any, **kwargs: Any) -> None:
        original_init(self, *args, **kwargs)
        self._cache = shared

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(Loader, "__init__", init)
        yield


@dataclass(frozen=True)
class MotoAccount:
    """One moto account for the contract suite, with the pipeline's resources and the functions' own
    clients (`core.adapters.aws.client`). Cases share it and keep apart by unique ids and names."""

    resources: Resources
    dynamodb: Any
    s3: Any
    sns: Any
    sqs: Any
    secretsmanager: Any


@pytest.fixture(scope="package")
def moto_account(_shared_botocore_models: None) -> Iterator[MotoAccount]:
    """One for the contract suite, not one per case (building one costs ~0.3 s). Not for the whole
    session either: moto resets every account whenever a `mock_aws` starts (`tests/conftest.aws`)."""
    with mock_aws():
        resources = create_resources(deepgram_api_key=DEEPGRAM_API_KEY, signing_key=SIGNING_KEY)
        yield MotoAccount(
            resources=resources,
            dynamodb=client("dynamodb"),
            s3=client("s3"),
            sns=client("sns"),
            sqs=client("sqs"),
            secretsmanager=client("secretsmanager"),
        )


# --- DynamoDB Local ---------------------------------------------------------------------------------


@pytest.fixture(scope="package")
def dynamodb_local_contract_table(dynamodb_local: str) -> Iterator[LocalTable]:
    """One jobs table on DynamoDB Local for the suite (job ids are random, so cases keep apart)."""
    local_client = client_for(dynamodb_local)
    table_name = unique_table_name("contract-jobs")
    create_jobs_table(local_client, table_name)
    yield LocalTable(endpoint_url=dynamodb_local, table_name=table_name, client=local_client)
    local_client.delete_table(TableName=table_name)
