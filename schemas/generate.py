"""Writes the committed API description and JSON Schemas: `python -m schemas.generate`.

* `openapi.json`: OpenAPI 3.1 description of the REST API. The `POST /transcriptions` body is the
  JSON Schema of the very pydantic model the submit function validates with
  (`functions.submit.models.UrlSubmission`), and the upload form's query parameters are derived
  from the fields of `TranscriptionOptions`; the answers are described by `schemas.models`.
* `job-view.schema.json`: JSON Schema 2020-12 of `GET /transcriptions/{id}`'s answer; its
  `$defs/JobView` is the job without result (the `POST` and `DELETE` answers, listing items).
* `notification.schema.json`: JSON Schema 2020-12 of the SNS notification's message, with its
  message attributes in `$defs/MessageAttributes`.

`python -m schemas.generate --check` exits 1 if a committed file is not what would be written
(the tests check the same).
"""

from __future__ import annotations

import argparse
import copy
import json
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from functions.core.contract import Api, SubmitLimits
from functions.status.logic import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE
from functions.submit.models import TranscriptionOptions, UploadParameters, UrlSubmission
from functions.submit.requests import DELIVERY_QUERY_PARAMETER, METADATA_QUERY_PREFIX
from schemas import models

DIRECTORY = Path(__file__).resolve().parent
OPENAPI_FILE = "openapi.json"
JOB_VIEW_FILE = "job-view.schema.json"
NOTIFICATION_FILE = "notification.schema.json"

JSON_SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"
SCHEMA_ID_BASE = "urn:deepgram-transcription-pipeline:schemas:"
COMPONENTS = "#/components/schemas/{model}"
DEFS = "#/$defs/{model}"

AUDIO_MEDIA_TYPES = ("audio/*", "video/*", "application/octet-stream")
"""The upload form's bodies (`functions.submit.requests.AUDIO_CONTENT_TYPES`, API Gateway's
binary media types)."""
MAX_IDEMPOTENCY_KEY_CHARACTERS = 255
DEFAULT_STAGE = "v1"

SECURITY_SCHEME = "sigv4"


# --- JSON Schemas ---------------------------------------------------------------------------------


def _definitions(schema_models: Iterable[type[BaseModel]], ref_template: str) -> dict[str, dict[str, Any]]:
    """The JSON Schemas of `schema_models` and of everything they refer to, by name."""
    mode: Literal["validation"] = "validation"
    _, top = models_json_schema([(model, mode) for model in schema_models], ref_template=ref_template)
    definitions: dict[str, dict[str, Any]] = top.get("$defs", {})
    return definitions


def _standalone(root: type[BaseModel], others: Iterable[type[BaseModel]], name: str) -> dict[str, Any]:
    """A JSON Schema document whose root is `root`'s schema; `others` go in `$defs` beside it."""
    definitions = _definitions([root, *others], DEFS)
    body = definitions.pop(root.__name__)
    return {"$schema": JSON_SCHEMA_DIALECT, "$id": SCHEMA_ID_BASE + name, **body, "$defs": definitions}


def job_view_schema() -> dict[str, Any]:
    document = _standalone(models.JobDetail, [models.JobView], "job-view")
    document["title"] = "Job"
    document["description"] = (
        "The answer of `GET /transcriptions/{id}`. `$defs/JobView` is the same job without its result "
        "(`result`, `result_url`, `result_url_expires_in`, `result_size_bytes`, `result_sha256`): the "
        "answer of `POST /transcriptions` and `DELETE /transcriptions/{id}`, and each item of "
        "`GET /transcriptions`.\n\n" + document["description"]
    )
    return document


def notification_schema() -> dict[str, Any]:
    document = _standalone(models.NotificationMessage, [models.MessageAttributes], "notification")
    document["description"] = (
        document["description"] + "\n\nMessage attributes: " + models.MESSAGE_ATTRIBUTES_DESCRIPTION
    )
    return document


# --- OpenAPI --------------------------------------------------------------------------------------


def _ref(name: str) -> dict[str, str]:
    return {"$ref": COMPONENTS.format(model=name)}


def _json(schema: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"content": {"application/json": {"schema": schema, **extra}}}


RETRY_AFTER = {
    "Retry-After": {
        "description": "Seconds to wait before retrying.",
        "schema": {"type": "string", "pattern": r"^\d+$"},
    }
}


def _error(description: str, codes: dict[str, str], *, retry_after: bool = False) -> dict[str, Any]:
    """An error answer: its `error.code`s, each with an example."""
    listed = ", ".join(f"`{code}`" for code in codes)
    examples = {
        code: {"value": {"error": {"code": code, "message": message}}} for code, message in codes.items()
    }
    answer: dict[str, Any] = {
        "description": f"{description} `error.code`: {listed}.",
        **_json(_ref("ErrorResponse"), examples=examples),
    }
    if retry_after:
        answer["headers"] = copy.deepcopy(RETRY_AFTER)
    return answer


# API Gateway's own answers (`infra.api.GATEWAY_ERRORS`), possible on every operation.
GATEWAY_RESPONSES: dict[str, dict[str, Any]] = {
    "403": _error(
        "API Gateway refused the request: no or an invalid SigV4 signature, or the caller's IAM "
        "policy does not allow `execute-api:Invoke` on this method.",
        {"request_refused": "Missing Authentication Token"},
    ),
    "429": _error(
        "The stage's throttling limit was reached.", {"throttled": "Too Many Requests"}, retry_after=False
    ),
    "502": _error(
        "API Gateway could not get a valid answer from the function.",
        {"gateway_error": "Internal server error"},
    ),
    "504": _error(
        "The function did not answer within API Gateway's 29 seconds.",
        {"gateway_timeout": "Endpoint request timed out"},
    ),
}

SERVICE_UNAVAILABLE = _error(
    "A backing service (DynamoDB, S3, SNS, Secrets Manager) failed; retry shortly.",
    {"service_unavailable": "a backing service failed; retry shortly"},
    retry_after=True,
)
JOB_NOT_FOUND = _error("No such job, or it expired.", {"job_not_found": "no transcription job with this id"})


def _responses(own: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The operation's own answers, then API Gateway's (merged where both give a status)."""
    merged: dict[str, Any] = copy.deepcopy(own)
    for status, gateway in GATEWAY_RESPONSES.items():
        if status not in merged:
            merged[status] = copy.deepcopy(gateway)
            continue
        answer = merged[status]
        answer["description"] += " Or, from API Gateway: " + gateway["description"]
        answer["content"]["application/json"]["examples"].update(
            gateway["content"]["application/json"]["examples"]
        )
    return dict(sorted(merged.items()))


def _query_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """A field's JSON Schema as a query parameter's: never null, no default."""
    schema = {key: value for key, value in schema.items() if key not in ("default", "title")}
    variants = [variant for variant in schema.pop("anyOf", []) if variant != {"type": "null"}]
    if len(variants) == 1:
        schema.update(variants[0])
    elif variants:
        schema["anyOf"] = variants
    return schema


def upload_query_parameters(options_schema: dict[str, Any]) -> list[dict[str, Any]]:
    """The upload form's query string: one parameter per `TranscriptionOptions` field, and
    `delivery`. A list is given by repeating the key (`keyterm=a&keyterm=b`)."""
    parameters = []
    for name in TranscriptionOptions.model_fields:
        parameters.append(
            {
                "name": name,
                "in": "query",
                "required": False,
                "style": "form",
                "explode": True,
                "description": f"Deepgram option `{name}` (audio bodies only; in the JSON body, "
                "it goes in `options`). Repeat the key for a list.",
                "schema": _query_schema(options_schema["properties"][name]),
            }
        )
    delivery = UploadParameters.model_json_schema()["properties"][DELIVERY_QUERY_PARAMETER]
    parameters.append(
        {
            "name": DELIVERY_QUERY_PARAMETER,
            "in": "query",
            "required": False,
            "description": "How Deepgram hands the result over (audio bodies only); default: the "
            "deployment's `resultDelivery`.",
            "schema": _query_schema(delivery),
        }
    )
    return parameters


JOB_ID_PARAMETER = {
    "name": "id",
    "in": "path",
    "required": True,
    "description": "The job's id (the `id` of the `POST` answer).",
    "schema": {"type": "string", "pattern": models.JOB_ID_PATTERN},
}


def _submit_operation(options_schema: dict[str, Any]) -> dict[str, Any]:
    upload_parameters = upload_query_parameters(options_schema)
    return {
        "operationId": "submitTranscription",
        "summary": "Submit a transcription job",
        "description": (
            "Two forms. A JSON body names audio Deepgram fetches itself (`url`), with `options`, "
            "`metadata` and `delivery`; the query string must then be empty. Or the audio itself is the "
            "body (`audio/*`, `video/*`, `application/octet-stream`; at most about 4.4 MB, Lambda's 6 MB "
            "payload after base64), with the Deepgram options as query parameters, each metadata pair "
            f"as `{METADATA_QUERY_PREFIX}<key>=<value>` (at most {SubmitLimits.METADATA_PAIRS}) and "
            f"`{DELIVERY_QUERY_PARAMETER}`. The answer is `202` once Deepgram accepted the job; the "
            "result comes later (poll `GET /transcriptions/{id}`, or subscribe to the notifications)."
        ),
        "parameters": [
            {
                "name": "Idempotency-Key",
                "in": "header",
                "required": False,
                "description": (
                    "A retry with the same key and request returns the same job without a second "
                    "Deepgram call (scoped to the calling IAM identity, kept 24 h)."
                ),
                "schema": {"type": "string", "minLength": 1, "maxLength": MAX_IDEMPOTENCY_KEY_CHARACTERS},
            },
            *upload_parameters,
        ],
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {"schema": _ref("UrlSubmission")},
                **{media_type: {} for media_type in AUDIO_MEDIA_TYPES},
            },
        },
        "responses": _responses(
            {
                "202": {
                    "description": "Deepgram accepted the job.",
                    "headers": {
                        "Location": {
                            "description": "The job's path, relative to the API's base URL.",
                            "schema": {"type": "string"},
                        }
                    },
                    **_json(_ref("JobView")),
                },
                "400": _error(
                    "The request is invalid (the message names what), or Deepgram refused it.",
                    {
                        "invalid_json": "body is not valid JSON",
                        "invalid_request": "options.punctuate: Input should be a valid boolean",
                        "empty_audio": "the request body holds no audio",
                        "deepgram_rejected": "Deepgram refused the request: ...",
                    },
                ),
                "409": _error(
                    "A request with the same `Idempotency-Key` is still running.",
                    {"request_in_progress": "a request with this Idempotency-Key is in progress"},
                    retry_after=True,
                ),
                "413": _error(
                    "The body is larger than API Gateway or Lambda accept; send a URL instead.",
                    {"payload_too_large": "Request Too Long"},
                ),
                "415": _error(
                    "Unsupported `Content-Type`.",
                    {"unsupported_media_type": "send application/json with an audio URL, or the audio"},
                ),
                "422": _error(
                    "The `Idempotency-Key` was used with a different request.",
                    {"idempotency_key_reused": "this Idempotency-Key was used with another request"},
                ),
                "429": _error(
                    "Deepgram's rate limit was reached.",
                    {"deepgram_rate_limited": "Deepgram's rate limit was reached"},
                    retry_after=True,
                ),
                "502": _error(
                    "Deepgram refused our key, credit or permissions, failed, or was unreachable. After "
                    "`deepgram_unavailable` the job may still complete (the answer carries `job_id`).",
                    {
                        "deepgram_auth_failed": "Deepgram refused the service's API key",
                        "deepgram_payment_required": "the Deepgram project is out of credit",
                        "deepgram_forbidden": "the Deepgram key may not do this",
                        "deepgram_unavailable": "Deepgram failed; the job may still complete",
                        "deepgram_unreachable": "Deepgram could not be reached",
                    },
                ),
                "503": _error(
                    "A backing service failed, or too little time was left to call Deepgram; retry.",
                    {
                        "service_unavailable": "a backing service failed; retry shortly",
                        "deadline_exceeded": "the request ran out of time before Deepgram could be called",
                    },
                    retry_after=True,
                ),
                "504": _error(
                    "Deepgram did not answer in time; the job may still complete (the answer carries "
                    "`job_id`).",
                    {"deepgram_timeout": "Deepgram did not answer in time"},
                ),
            }
        ),
    }


def _list_operation() -> dict[str, Any]:
    statuses = list(models.STATUSES)
    return {
        "operationId": "listTranscriptions",
        "summary": "List jobs, newest first",
        "description": (
            "A page at a time. A page can hold fewer than `limit` jobs while `next_cursor` is not "
            "`null` (expired jobs are left out)."
        ),
        "parameters": [
            {
                "name": "status",
                "in": "query",
                "required": False,
                "description": "Only jobs in this state.",
                "schema": {"type": "string", "enum": statuses},
            },
            {
                "name": "created_after",
                "in": "query",
                "required": False,
                "description": "Only jobs created strictly after this ISO-8601 date or timestamp "
                "(without an offset: UTC), e.g. `2026-11-22`, `2026-11-22T14:00:00Z`.",
                "schema": {"type": "string", "minLength": 1},
            },
            {
                "name": "limit",
                "in": "query",
                "required": False,
                "description": "Jobs per page.",
                "schema": {
                    "type": "integer",
                    "minimum": 1,
                    "maximum": MAX_PAGE_SIZE,
                    "default": DEFAULT_PAGE_SIZE,
                },
            },
            {
                "name": "cursor",
                "in": "query",
                "required": False,
                "description": "The previous page's `next_cursor`, with the same `status` and "
                "`created_after`.",
                "schema": {"type": "string", "minLength": 1},
            },
        ],
        "responses": _responses(
            {
                "200": {"description": "A page of jobs.", **_json(_ref("JobList"))},
                "400": _error(
                    "An unknown parameter or an invalid value, or a cursor this API did not give.",
                    {
                        "invalid_request": "limit must be an integer from 1 to 100",
                        "invalid_cursor": "cursor is not a next_cursor this API gave",
                    },
                ),
                "503": SERVICE_UNAVAILABLE,
            }
        ),
    }


def _get_operation() -> dict[str, Any]:
    return {
        "operationId": "getTranscription",
        "summary": "Read a job and, once completed, its result",
        "parameters": [JOB_ID_PARAMETER],
        "responses": _responses(
            {
                "200": {
                    "description": "The job; completed: with `result` inline, or `result_url`.",
                    **_json(_ref("JobDetail")),
                },
                "404": JOB_NOT_FOUND,
                "503": SERVICE_UNAVAILABLE,
            }
        ),
    }


def _delete_operation() -> dict[str, Any]:
    return {
        "operationId": "deleteTranscription",
        "summary": "Delete a job's result and kept audio, leaving a tombstone",
        "description": (
            "Idempotent: deleting a deleted job answers the same tombstone. Subscribers get one "
            "`transcription.deleted` notification."
        ),
        "parameters": [JOB_ID_PARAMETER],
        "responses": _responses(
            {
                "200": {
                    "description": "The tombstone, as `GET` now shows it (`status` is `deleted`).",
                    **_json(_ref("JobView")),
                },
                "404": JOB_NOT_FOUND,
                "409": _error(
                    "The job kept changing while it was being deleted; retry.",
                    {"job_changed": "the job changed while it was being deleted; retry"},
                    retry_after=True,
                ),
                "503": SERVICE_UNAVAILABLE,
            }
        ),
    }


def _notify_operation() -> dict[str, Any]:
    return {
        "operationId": "redeliverNotification",
        "summary": "Publish a finished job's notification again",
        "description": 'The message is marked `"redelivery": true`; every call publishes a new one.',
        "parameters": [JOB_ID_PARAMETER],
        "responses": _responses(
            {
                "202": {"description": "Published.", **_json(_ref("Redelivery"))},
                "404": JOB_NOT_FOUND,
                "409": _error(
                    "The job is still awaiting its result (`queued`, `processing`): no notification yet. "
                    "The answer carries `job_id`.",
                    {"job_not_finished": "the job is processing: it has no notification yet"},
                ),
                "503": _error(
                    "SNS (or DynamoDB) failed; retry shortly.",
                    {"service_unavailable": "a backing service failed; retry shortly"},
                    retry_after=True,
                ),
            }
        ),
    }


def openapi_document() -> dict[str, Any]:
    components = _definitions(
        [
            UrlSubmission,
            *models.RESPONSE_MODELS,
            models.NotificationMessage,
            models.MessageAttributes,
        ],
        COMPONENTS,
    )
    components["MessageAttributes"]["description"] = models.MESSAGE_ATTRIBUTES_DESCRIPTION
    return {
        "openapi": "3.1.0",
        "jsonSchemaDialect": JSON_SCHEMA_DIALECT,
        "info": {
            "title": "Deepgram transcription pipeline",
            "version": "1",
            "summary": "Asynchronous speech-to-text: submit audio, get notified, read the transcript.",
            "description": (
                "Every operation needs AWS SigV4 authorization (IAM). Errors always have the shape "
                '`{"error": {"code", "message"[, "job_id"]}}`, API Gateway\'s own included. '
                "Notifications are published to an SNS topic, not called back: their message is "
                "`components/schemas/NotificationMessage` and their message attributes "
                "`components/schemas/MessageAttributes` (see also `notification.schema.json`)."
            ),
        },
        "servers": [
            {
                "url": "https://{restApiId}.execute-api.{region}.amazonaws.com/{stage}",
                "description": "The deployed REST API (the stack's `ApiUrl` output).",
                "variables": {
                    "restApiId": {"default": "abcdef1234", "description": "The REST API's id."},
                    "region": {"default": "us-east-1", "description": "The stack's region."},
                    "stage": {"default": DEFAULT_STAGE, "description": "The `stageName` context value."},
                },
            },
            {
                "url": "http://127.0.0.1:{port}/" + DEFAULT_STAGE,
                "description": "The local stack (`make serve`; `api_url` of its endpoints), unsigned.",
                "variables": {"port": {"default": "8000"}},
            },
        ],
        "security": [{SECURITY_SCHEME: []}],
        "paths": {
            Api.TRANSCRIPTIONS: {
                "post": _submit_operation(components["TranscriptionOptions"]),
                "get": _list_operation(),
            },
            Api.TRANSCRIPTION: {"get": _get_operation(), "delete": _delete_operation()},
            Api.NOTIFY: {"post": _notify_operation()},
        },
        "components": {
            "schemas": dict(sorted(components.items())),
            "securitySchemes": {
                SECURITY_SCHEME: {
                    "type": "apiKey",
                    "name": "Authorization",
                    "in": "header",
                    "description": "AWS Signature Version 4 (IAM): sign with the caller's AWS credentials "
                    "for the service `execute-api` (any AWS SDK, `curl --aws-sigv4`, the `dgt` client).",
                    "x-amazon-apigateway-authtype": "awsSigv4",
                }
            },
        },
    }


# --- files ----------------------------------------------------------------------------------------


def render(document: dict[str, Any]) -> str:
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def documents() -> dict[str, str]:
    """Each committed file's name and its current content."""
    return {
        OPENAPI_FILE: render(openapi_document()),
        JOB_VIEW_FILE: render(job_view_schema()),
        NOTIFICATION_FILE: render(notification_schema()),
    }


def stale(directory: Path = DIRECTORY) -> list[str]:
    """The committed files that differ from what `documents()` gives."""
    return [
        name
        for name, text in documents().items()
        if not (directory / name).is_file() or (directory / name).read_text(encoding="utf-8") != text
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m schemas.generate", description=__doc__.split("\n")[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if a committed file is out of date")
    parser.add_argument("--directory", type=Path, default=DIRECTORY)
    arguments = parser.parse_args(argv)
    if arguments.check:
        outdated = stale(arguments.directory)
        for name in outdated:
            print(f"{name} is out of date: run python -m schemas.generate", file=sys.stderr)
        return 1 if outdated else 0
    for name, text in documents().items():
        (arguments.directory / name).write_text(text, encoding="utf-8")
        print(f"wrote {arguments.directory / name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
