"""Names shared by the functions, the CDK app (`infra/`) and the local stack (`local/`).

Everything that two of those places must agree on is defined here once: environment variable
names, table key schemas, the metric namespace and names, the notification format version.
This module imports nothing, so the CDK app can import it without pulling in boto3.
"""

from __future__ import annotations

from typing import Final

PRODUCT: Final = "deepgram-transcription"


class Env:
    """Environment variable names read by the functions' settings (see `core.settings`)."""

    JOBS_TABLE: Final = "JOBS_TABLE_NAME"
    IDEMPOTENCY_TABLE: Final = "IDEMPOTENCY_TABLE_NAME"
    RESULTS_BUCKET: Final = "RESULTS_BUCKET_NAME"
    TOPIC_ARN: Final = "NOTIFICATIONS_TOPIC_ARN"
    DEEPGRAM_API_KEY_SECRET: Final = "DEEPGRAM_API_KEY_SECRET_ID"
    CALLBACK_SIGNING_SECRET: Final = "CALLBACK_SIGNING_SECRET_ID"
    CALLBACK_URL: Final = "CALLBACK_URL"
    CALLBACK_METHOD: Final = "CALLBACK_METHOD"
    DEEPGRAM_BASE_URL: Final = "DEEPGRAM_BASE_URL"
    DEEPGRAM_API_KEY_ID: Final = "DEEPGRAM_API_KEY_ID"
    DG_TOKEN_MODE: Final = "DG_TOKEN_MODE"
    RETENTION_DAYS: Final = "JOB_RETENTION_DAYS"
    DEEPGRAM_TIMEOUT_SECONDS: Final = "DEEPGRAM_TIMEOUT_SECONDS"
    DEEPGRAM_MAX_RETRIES: Final = "DEEPGRAM_MAX_RETRIES"
    RESULT_URL_TTL_SECONDS: Final = "RESULT_URL_TTL_SECONDS"
    SECRETS_MAX_AGE_SECONDS: Final = "SECRETS_MAX_AGE_SECONDS"
    CALLBACK_DEADLINE_MINUTES: Final = "CALLBACK_DEADLINE_MINUTES"
    RECOVER_LOST_CALLBACKS: Final = "RECOVER_LOST_CALLBACKS"
    DEEPGRAM_PROJECT_ID: Final = "DEEPGRAM_PROJECT_ID"
    RECONCILE_BATCH_SIZE: Final = "RECONCILE_BATCH_SIZE"
    RESULT_DELIVERY: Final = "RESULT_DELIVERY"
    DELIVERY_ROLE_ARN: Final = "DELIVERY_SIGNER_ROLE_ARN"
    KEEP_UPLOADED_AUDIO: Final = "KEEP_UPLOADED_AUDIO"
    # Read by Powertools itself.
    POWERTOOLS_SERVICE_NAME: Final = "POWERTOOLS_SERVICE_NAME"
    POWERTOOLS_METRICS_NAMESPACE: Final = "POWERTOOLS_METRICS_NAMESPACE"
    LOG_LEVEL: Final = "POWERTOOLS_LOG_LEVEL"
    TRACE_DISABLED: Final = "POWERTOOLS_TRACE_DISABLED"
    TRACER_CAPTURE_RESPONSE: Final = "POWERTOOLS_TRACER_CAPTURE_RESPONSE"


class JobsTable:
    """Key schema of the jobs table: one item per job, keyed by the job id, and its indexes."""

    PARTITION_KEY: Final = "job_id"
    TTL_ATTRIBUTE: Final = "expires_at"

    ATTENTION_INDEX: Final = "attention"
    """Sparse: only jobs the reconciler must look at (a result overdue, a notification unsent),
    keyed by `<kind>#<shard>` and sorted by when they are due (epoch seconds)."""
    ATTENTION_KEY: Final = "attention"
    ATTENTION_SORT_KEY: Final = "due_at"
    ATTENTION_SHARDS: Final = 4
    """Jobs of one kind are spread over this many partition keys, so no index partition is hot."""

    STATUS_INDEX: Final = "by-status"
    """Listing one status, newest first."""
    STATUS_KEY: Final = "status"
    CREATED_SORT_KEY: Final = "created_at"

    MONTH_INDEX: Final = "by-month"
    """Listing every status, newest first, one month (UTC, `YYYY-MM`) per partition key."""
    MONTH_KEY: Final = "created_month"

    INDEXES: Final = (
        (ATTENTION_INDEX, ATTENTION_KEY, "S", ATTENTION_SORT_KEY, "N"),
        (STATUS_INDEX, STATUS_KEY, "S", CREATED_SORT_KEY, "S"),
        (MONTH_INDEX, MONTH_KEY, "S", CREATED_SORT_KEY, "S"),
    )
    """(index name, partition key, its type, sort key, its type) of each global secondary index;
    every index projects all attributes. The CDK app and the local stack both build from this."""


class IdempotencyTable:
    """Key schema of the table Powertools' idempotency utility writes (its own defaults)."""

    PARTITION_KEY: Final = "id"
    TTL_ATTRIBUTE: Final = "expiration"


class ResultsBucket:
    """Object key layout:

    - `results/<job id>/<sha256 of the body>.json[.gz]`: stored results (redacted);
    - `deliveries/<job id>/<attempt>.json`: a result as Deepgram PUT it to a presigned URL (S3
      delivery), until the finisher has stored it under results/ (expires after a day regardless);
    - `audio/<job id>`: an uploaded job's audio, kept (`keepUploadedAudio`) so it can be submitted again.
    """

    RESULTS_PREFIX: Final = "results/"
    DELIVERIES_PREFIX: Final = "deliveries/"
    AUDIO_PREFIX: Final = "audio/"
    DELIVERIES_EXPIRE_DAYS: Final = 1


class Services:
    """Powertools service names, one per function; also the `service` metric dimension."""

    SUBMIT: Final = "submit"
    CALLBACK: Final = "callback"
    STATUS: Final = "status"
    MANAGE: Final = "manage"
    RECONCILER: Final = "reconciler"
    FINISHER: Final = "finisher"


class Metrics:
    """CloudWatch metric namespace and names (EMF), used by the functions and the alarms."""

    NAMESPACE: Final = "DeepgramTranscription"
    JOBS_SUBMITTED: Final = "JobsSubmitted"
    JOBS_FAILED: Final = "JobsFailed"
    SUBMIT_ERRORS: Final = "SubmitErrors"
    CALLBACKS_ACCEPTED: Final = "CallbacksAccepted"
    CALLBACKS_DUPLICATE: Final = "CallbacksDuplicate"
    CALLBACKS_DISCARDED: Final = "CallbacksDiscarded"  # a result for a deleted job
    CALLBACKS_REJECTED: Final = "CallbacksRejected"
    CALLBACKS_REJECTED_BY_REASON: Final = "CallbacksRejectedByReason"  # extra `reason` dimension
    CALLBACK_FAULTS: Final = "CallbackFaults"  # a dependency failed; answered 503 so Deepgram retries
    SECONDS_TO_CALLBACK: Final = "SecondsFromSubmitToCallback"
    NOTIFICATIONS_PUBLISHED: Final = "NotificationsPublished"
    # Emitted by the reconciler (not built yet); the alarms and the dashboard already read them.
    JOBS_RECONCILED: Final = "JobsReconciled"  # extra `reason` dimension, e.g. callback_not_received
    OLDEST_AWAITING_JOB_AGE: Final = "OldestAwaitingJobAgeSeconds"  # gauge: age of the oldest awaiting job


class Notification:
    """SNS message attribute names; filter policies match on these."""

    FORMAT_VERSION: Final = 1
    ATTR_EVENT_TYPE: Final = "event_type"
    ATTR_STATUS: Final = "status"
    ATTR_METADATA_PREFIX: Final = "metadata."
    EVENT_COMPLETED: Final = "transcription.completed"
    EVENT_FAILED: Final = "transcription.failed"
    EVENT_DELETED: Final = "transcription.deleted"


class CallbackTiming:
    """Timing rules the callback's exactly-once publication relies on.

    A delivery that stores a result takes a notification lease before publishing. The lease
    must outlive the function (so two live deliveries never publish at once) and expire before
    Deepgram's next retry (30 s later), so a delivery that died holding it cannot block the retry.
    """

    FUNCTION_TIMEOUT_SECONDS: Final = 10
    NOTIFICATION_LEASE_SECONDS: Final = 20
    DEEPGRAM_RETRY_INTERVAL_SECONDS: Final = 30


class DeliveryTiming:
    """S3 delivery: Deepgram PUTs the result to a presigned URL, signed with the credentials of a
    role session made for that one job. The URL (and the session whose credentials signed it)
    must outlive Deepgram's processing (capped at 10 minutes) plus its callback retries (10 x 30 s):
    an hour leaves room for queueing. AssumeRole's default session limit is an hour as well."""

    URL_EXPIRES_SECONDS: Final = 3600
    FINISHER_TIMEOUT_SECONDS: Final = 120
    """Reading, checking and re-storing a result of up to 100 MB. The notification lease (20 s)
    covers only the conditional write and the publication that follows it, both at the end."""


DEEPGRAM_API_KEY_PLACEHOLDER: Final = "REPLACE_WITH_YOUR_DEEPGRAM_API_KEY"
"""What the stack stores in the Deepgram key secret it creates, until the user puts the real key."""


class Api:
    """Public REST API paths."""

    TRANSCRIPTIONS: Final = "/transcriptions"
    TRANSCRIPTION: Final = "/transcriptions/{id}"
    NOTIFY: Final = "/transcriptions/{id}/notify"


class DgTokenMode:
    """How the callback treats Deepgram's `dg-token` header (see README, Callback authentication)."""

    OFF: Final = "off"
    IF_PRESENT: Final = "if-present"
    REQUIRED: Final = "required"
    ALL: Final = (OFF, IF_PRESENT, REQUIRED)


HANDLERS: Final = {
    Services.SUBMIT: "functions.submit.handler.lambda_handler",
    Services.CALLBACK: "functions.callback.handler.lambda_handler",
    Services.STATUS: "functions.status.handler.lambda_handler",
    Services.RECONCILER: "functions.reconciler.handler.lambda_handler",
    Services.MANAGE: "functions.manage.handler.lambda_handler",
    Services.FINISHER: "functions.finisher.handler.lambda_handler",
}
"""Lambda handler path of each function, relative to the asset root."""

CALLBACK_ALLOWED_PORTS: Final = (80, 443, 8080, 8443)
"""The only ports Deepgram will deliver a pre-recorded callback to."""


class SubmitLimits:
    """Bounds on what a client sends to `POST /transcriptions`, each defined here once: API
    Gateway's request model (`infra/api.py`) and the function's pydantic model
    (`functions/submit/models.py`) both read them, so the two layers cannot disagree."""

    AUDIO_URL_CHARACTERS: Final = 4096
    """Deepgram takes the URL in a JSON body and documents no limit; presigned S3 URLs carrying an
    STS session token often exceed 2048 characters."""
    METADATA_PAIRS: Final = 8
    """SNS delivers at most 10 message attributes; 2 are the event type and the status."""
    METADATA_KEY_CHARACTERS: Final = 64
    METADATA_VALUE_CHARACTERS: Final = 256
    TAG_CHARACTERS: Final = 128
    """Deepgram's limit on one `tag`."""
    TAGS: Final = 20
