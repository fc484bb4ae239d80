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
    # Read by Powertools itself.
    POWERTOOLS_SERVICE_NAME: Final = "POWERTOOLS_SERVICE_NAME"
    POWERTOOLS_METRICS_NAMESPACE: Final = "POWERTOOLS_METRICS_NAMESPACE"
    LOG_LEVEL: Final = "POWERTOOLS_LOG_LEVEL"


class JobsTable:
    """Key schema of the jobs table: one item per job, keyed by the job id."""

    PARTITION_KEY: Final = "job_id"
    TTL_ATTRIBUTE: Final = "expires_at"


class IdempotencyTable:
    """Key schema of the table Powertools' idempotency utility writes (its own defaults)."""

    PARTITION_KEY: Final = "id"
    TTL_ATTRIBUTE: Final = "expiration"


class ResultsBucket:
    """Object key layout: results/<job id>/<sha256 of the body>.json[.gz]."""

    RESULTS_PREFIX: Final = "results/"


class Services:
    """Powertools service names, one per function; also the `service` metric dimension."""

    SUBMIT: Final = "submit"
    CALLBACK: Final = "callback"
    STATUS: Final = "status"


class Metrics:
    """CloudWatch metric namespace and names (EMF), used by the functions and the alarms."""

    NAMESPACE: Final = "DeepgramTranscription"
    JOBS_SUBMITTED: Final = "JobsSubmitted"
    JOBS_FAILED: Final = "JobsFailed"
    SUBMIT_ERRORS: Final = "SubmitErrors"
    CALLBACKS_ACCEPTED: Final = "CallbacksAccepted"
    CALLBACKS_DUPLICATE: Final = "CallbacksDuplicate"
    CALLBACKS_REJECTED: Final = "CallbacksRejected"
    CALLBACKS_REJECTED_BY_REASON: Final = "CallbacksRejectedByReason"  # extra `reason` dimension
    CALLBACK_FAULTS: Final = "CallbackFaults"  # a dependency failed; answered 503 so Deepgram retries
    SECONDS_TO_CALLBACK: Final = "SecondsFromSubmitToCallback"
    NOTIFICATIONS_PUBLISHED: Final = "NotificationsPublished"


class Notification:
    """SNS message attribute names; filter policies match on these."""

    FORMAT_VERSION: Final = 1
    ATTR_EVENT_TYPE: Final = "event_type"
    ATTR_STATUS: Final = "status"
    ATTR_METADATA_PREFIX: Final = "metadata."
    EVENT_COMPLETED: Final = "transcription.completed"
    EVENT_FAILED: Final = "transcription.failed"


class CallbackTiming:
    """Timing rules the callback's exactly-once publication relies on.

    A delivery that stores a result takes a notification lease before publishing. The lease
    must outlive the function (so two live deliveries never publish at once) and expire before
    Deepgram's next retry (30 s later), so a delivery that died holding it cannot block the retry.
    """

    FUNCTION_TIMEOUT_SECONDS: Final = 10
    NOTIFICATION_LEASE_SECONDS: Final = 20
    DEEPGRAM_RETRY_INTERVAL_SECONDS: Final = 30


DEEPGRAM_API_KEY_PLACEHOLDER: Final = "REPLACE_WITH_YOUR_DEEPGRAM_API_KEY"
"""What the stack stores in the Deepgram key secret it creates, until the user puts the real key."""


class Api:
    """Public REST API paths."""

    TRANSCRIPTIONS: Final = "/transcriptions"
    TRANSCRIPTION: Final = "/transcriptions/{id}"


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
}
"""Lambda handler path of each function, relative to the asset root."""

CALLBACK_ALLOWED_PORTS: Final = (80, 443, 8080, 8443)
"""The only ports Deepgram will deliver a pre-recorded callback to."""
