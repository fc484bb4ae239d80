"""Reading jobs back: one job's state and, once completed, its result (Deepgram has no polling
API); and the list of jobs, newest first, page by page (`GET /transcriptions`)."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from functions.core import result_storage
from functions.core.api_errors import ApiError
from functions.core.jobs import JobStatus, is_valid_job_id, isoformat, public_view
from functions.core.ports import InvalidCursor, JobRepository, ResultBlobStore

DEFAULT_PAGE_SIZE = 20
MAX_PAGE_SIZE = 100


@dataclass(frozen=True)
class StatusConfig:
    result_url_ttl_seconds: int
    retention_days: int = 30  # no job is kept longer: a listing need not look further back


class JobNotFound(ApiError):
    def __init__(self) -> None:
        super().__init__(404, "job_not_found", "no transcription job with this id")


class InvalidListing(ApiError):
    def __init__(self, message: str) -> None:
        super().__init__(400, "invalid_request", message)


class InvalidListingCursor(ApiError):
    def __init__(self) -> None:
        super().__init__(400, "invalid_cursor", "cursor is not a next_cursor this API gave")


@dataclass(frozen=True)
class ListQuery:
    """`GET /transcriptions`'s query, validated: `created_after` in the stored timestamp format."""

    status: JobStatus | None = None
    created_after: str | None = None
    limit: int = DEFAULT_PAGE_SIZE
    cursor: str | None = None

    @classmethod
    def parse(cls, query: Mapping[str, str | None]) -> ListQuery:
        """From the query string's values (the last of a repeated key); `InvalidListing` if invalid."""
        unknown = sorted(set(query) - {"status", "created_after", "limit", "cursor"})
        if unknown:
            raise InvalidListing(f"unknown query parameter {unknown[0]!r}")
        status = query.get("status") or None
        if status is not None and status not in {s.value for s in JobStatus}:
            raise InvalidListing(f"status must be one of {', '.join(s.value for s in JobStatus)}")
        limit_text = query.get("limit") or None
        limit = DEFAULT_PAGE_SIZE
        if limit_text is not None:
            valid = limit_text.isascii() and limit_text.isdigit()
            if not valid or not 1 <= int(limit_text) <= MAX_PAGE_SIZE:
                raise InvalidListing(f"limit must be an integer from 1 to {MAX_PAGE_SIZE}")
            limit = int(limit_text)
        created_after = query.get("created_after") or None
        return cls(
            status=JobStatus(status) if status is not None else None,
            created_after=_stored_timestamp(created_after) if created_after is not None else None,
            limit=limit,
            cursor=query.get("cursor") or None,
        )


def _stored_timestamp(text: str) -> str:
    """An ISO-8601 date or timestamp as the jobs store theirs (UTC, milliseconds, `Z`); a time
    without an offset is UTC. Truncating to milliseconds keeps `created_at > created_after` exact."""
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        example = "2026-11-22T14:00:00Z"
        raise InvalidListing(f"created_after must be an ISO-8601 timestamp, e.g. {example}") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return isoformat(moment)


@dataclass(frozen=True)
class JobListing:
    """One page of jobs (their views, without results) and where the next page starts."""

    items: list[dict[str, Any]]
    next_cursor: str | None

    def as_dict(self) -> dict[str, Any]:
        return {"items": self.items, "next_cursor": self.next_cursor}


class StatusService:
    def __init__(
        self,
        *,
        jobs: JobRepository,
        blobs: ResultBlobStore,
        config: StatusConfig,
        clock: Callable[[], datetime],
    ) -> None:
        self._jobs = jobs
        self._blobs = blobs
        self._config = config
        self._clock = clock

    def describe(self, job_id: str) -> JobDescription:
        """The job's public view; a completed job's result inline when stored inline, else a
        short-lived presigned S3 URL. Raises `JobNotFound`."""
        job = self._jobs.get(job_id) if is_valid_job_id(job_id) else None
        # DynamoDB's TTL deletes expired items days late, the results' lifecycle rule on time.
        if job is None or job.expires_at <= self._clock().timestamp():
            raise JobNotFound()
        view = public_view(job)
        stored = job.result
        if job.status is not JobStatus.COMPLETED or stored is None:
            return JobDescription(view)
        view["result_size_bytes"] = stored.size_bytes
        view["result_sha256"] = stored.sha256
        if stored.inline_data is not None:
            return JobDescription(view, result_json=result_storage.decode_inline(stored))
        if stored.s3_key:
            ttl = self._config.result_url_ttl_seconds
            view["result_url"] = self._blobs.presigned_get_url(stored.s3_key, ttl)
            view["result_url_expires_in"] = ttl
        return JobDescription(view)

    def list(self, query: ListQuery) -> JobListing:
        """A page of jobs, newest first, from the repository's listing indexes (never a scan).
        Jobs past their expiry (which DynamoDB's TTL deletes days late) are left out, so a page
        may hold fewer than `limit` jobs while `next_cursor` still says there are more."""
        # Nothing older than the retention exists: the bound spares the month-by-month index walk.
        oldest = isoformat(self._clock() - timedelta(days=self._config.retention_days + 1))
        created_after = max(query.created_after or oldest, oldest)
        try:
            page = self._jobs.list_jobs(
                status=query.status, created_after=created_after, limit=query.limit, cursor=query.cursor
            )
        except InvalidCursor:
            raise InvalidListingCursor() from None
        now = self._clock().timestamp()
        items = [public_view(job) for job in page.jobs if job.expires_at > now]
        return JobListing(items=items, next_cursor=page.next_cursor)


@dataclass(frozen=True)
class JobDescription:
    """A job's view, and its result as stored (JSON text the callback checked), if inline."""

    view: dict[str, Any]
    result_json: bytes | None = None

    def to_json(self) -> str:
        """The API's answer: the view, with the stored result spliced in as `result` unparsed, so
        that no result, however large or deeply nested, has to be parsed again to be served."""
        text = json.dumps(self.view, ensure_ascii=False, allow_nan=False)
        if self.result_json is None:
            return text
        return f'{text[:-1]}, "result": {self.result_json.decode()}}}'

    def as_dict(self) -> dict[str, Any]:
        """The same answer as a dict (parses the result: for tests and small results only)."""
        document: dict[str, Any] = json.loads(self.to_json())
        return document
