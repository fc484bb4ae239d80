"""Every job ends, and its subscribers are told: the reconciler closes what the callback cannot.

Run on a schedule (every few minutes), it looks only at the jobs the sparse attention index
holds (never a table scan):

* **a result overdue** — Deepgram never called back, every one of its 10 deliveries failed, or
  the result was too big for the callback URL (which answers 413 before any code runs). If a
  Deepgram project is configured, Deepgram's request log says which. Then, with
  `recoverLostCallbacks=resubmit` and once per job, the job is submitted again — by S3 delivery
  whenever the stack has it (a result too big for the callback URL needs it, and a result lost for
  a reason nobody could learn is safest where neither size nor the callback endpoint can stop it);
  otherwise it fails with `error.code = "callback_not_received"`
  and the reason, and `transcription.failed` is published. The failure is *ambiguous*: a result
  that still arrives later completes the job (and is published too).
* **a notification owed** — a final state whose publisher died or met an SNS outage longer than
  Deepgram's retry window: claimed and published under the same once-only lease as the callback.

One job's failure never stops the others; the run reports what it did, job by job.

A run may be made *as of* a later moment than the clock (`run(as_of=...)`): the scheduled event's
time, which lets the local stack simulate the passing of minutes without waiting for them (see
`handler.py` for why honouring it is safe). The whole run, and every write it makes, then sees
that moment moved on by however long the run takes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum

from functions.core.jobs import (
    AWAITING_STATUSES,
    Delivery,
    FinalState,
    Job,
    JobError,
    JobStatus,
    isoformat,
    parse_isoformat,
)
from functions.core.notifier import Notifier, new_lease
from functions.core.ports import (
    DeepgramFailure,
    DeepgramRecord,
    DeepgramRequestLog,
    DependencyError,
    JobRepository,
    NotificationPublisher,
    Resubmitter,
)

CALLBACK_NOT_RECEIVED = "callback_not_received"
PAYLOAD_TOO_LARGE = 413
FAR_FUTURE = datetime(9999, 1, 1, tzinfo=UTC)


class Reason(StrEnum):
    """Why a job's result did not come, as far as can be learned."""

    NO_CALLBACK = "no_callback_received"  # nothing else known (no project id, or no record)
    CALLBACK_REFUSED = "callback_refused"  # Deepgram's log shows the callback URL refused it
    RESULT_TOO_LARGE = "result_too_large"  # ... with 413: too big for a Function URL
    DEEPGRAM_FAILED = "deepgram_failed"  # Deepgram's log shows the request itself failed
    NOTIFICATION_OWED = "notification_owed"


class RecoveryMode(StrEnum):
    FAIL = "fail"
    RESUBMIT = "resubmit"


@dataclass(frozen=True)
class ReconcilerConfig:
    result_deadline: timedelta  # how long a (re)submitted job may wait for its result
    recovery: RecoveryMode
    batch_size: int = 100  # jobs of each kind per run; the next run takes the rest
    s3_delivery: bool = False  # the stack can deliver results through S3 (a signer role exists)


@dataclass(frozen=True)
class Touched:
    job_id: str
    reason: str
    action: str  # "failed" | "resubmitted" | "notified" | "skipped" | "error"
    detail: str = ""


@dataclass
class ReconcileReport:
    touched: list[Touched] = field(default_factory=list)
    oldest_awaiting_age_seconds: float | None = None

    def count(self, action: str) -> int:
        return sum(1 for entry in self.touched if entry.action == action)


class ReconcilerService:
    def __init__(
        self,
        *,
        jobs: JobRepository,
        publisher: NotificationPublisher,
        request_log: DeepgramRequestLog | None,
        resubmitter: Resubmitter | None,
        config: ReconcilerConfig,
        clock: Callable[[], datetime],
    ) -> None:
        self._jobs = jobs
        self._real_clock = clock
        self._ahead = timedelta(0)  # how far this run's clock is ahead of the real one (`as_of`)
        self._notifier = Notifier(jobs=jobs, publisher=publisher, clock=self._clock)
        self._request_log = request_log
        self._resubmitter = resubmitter
        self._config = config

    def _clock(self) -> datetime:
        return self._real_clock() + self._ahead

    def run(self, *, as_of: datetime | None = None) -> ReconcileReport:
        """Reconcile now, or as of `as_of` if that is later (never earlier: time does not go back).

        One run at a time per service (a Lambda execution environment handles one event at a time)."""
        real_now = self._real_clock()
        self._ahead = max(as_of - real_now, timedelta(0)) if as_of is not None else timedelta(0)
        try:
            return self._run()
        finally:
            self._ahead = timedelta(0)

    def _run(self) -> ReconcileReport:
        report = ReconcileReport()
        now = self._clock()
        for job in self._jobs.due_for_attention("awaiting", now=now, limit=self._config.batch_size):
            report.touched.append(self._guarded(job, self._overdue))
        for job in self._jobs.due_for_attention("notify", now=now, limit=self._config.batch_size):
            report.touched.append(self._guarded(job, self._owed))
        report.oldest_awaiting_age_seconds = self._oldest_awaiting_age(now)
        return report

    def _guarded(self, job: Job, step: Callable[[Job], Touched]) -> Touched:
        try:
            return step(job)
        except DependencyError as error:
            return Touched(job.job_id, "dependency_unavailable", "error", str(error))

    def _overdue(self, job: Job) -> Touched:
        if job.status not in AWAITING_STATUSES:
            return Touched(job.job_id, "not_awaiting", "skipped")  # the index lags a write
        reason, record = self._reason(job)
        if self._may_resubmit(job):
            delivery = Delivery.S3 if self._config.s3_delivery else job.delivery
            resubmitted = self._resubmit(job, reason, delivery)
            if resubmitted is not None:
                return resubmitted
        return self._give_up(job, reason, record)

    def _reason(self, job: Job) -> tuple[Reason, DeepgramRecord | None]:
        record = None
        if self._request_log is not None and job.request_id:
            record = self._request_log.lookup(job.request_id)
        if record is None:
            return Reason.NO_CALLBACK, None
        if record.code is not None and record.code >= 400:
            return Reason.DEEPGRAM_FAILED, record
        if record.callback_code == PAYLOAD_TOO_LARGE:
            return Reason.RESULT_TOO_LARGE, record
        if record.callback_code is not None and not 200 <= record.callback_code < 300:
            return Reason.CALLBACK_REFUSED, record
        return Reason.NO_CALLBACK, record

    def _may_resubmit(self, job: Job) -> bool:
        """Once per job, and only if Deepgram can get the audio again (a URL, or kept audio)."""
        return (
            self._config.recovery is RecoveryMode.RESUBMIT
            and self._resubmitter is not None
            and not job.attempts
            and (job.source.get("type") == "url" or job.audio_key is not None)
        )

    def _resubmit(self, job: Job, reason: Reason, delivery: Delivery) -> Touched | None:
        assert self._resubmitter is not None
        try:
            request_id = self._resubmitter.resubmit(job, delivery=delivery)
        except DeepgramFailure:
            return None  # the job fails instead; a result of this attempt, if any, is still refused
        now = self._clock()
        recorded = self._jobs.record_resubmission(
            job,
            request_id=request_id,
            at=now,
            result_due_at=now + self._config.result_deadline,
            delivery=delivery,
            outcome=reason.value,
        )
        # Not recorded: the job changed meanwhile (its result came); the new request's result,
        # if any, is then refused as another request's.
        return Touched(job.job_id, reason, "resubmitted" if recorded else "skipped", f"delivery={delivery}")

    def _give_up(self, job: Job, reason: Reason, record: DeepgramRecord | None) -> Touched:
        now = self._clock()
        message = f"no result from Deepgram by the deadline ({reason.value})"
        if record is not None:
            message += (
                f"; Deepgram's request log: code {record.code}, callback answered {record.callback_code}"
            )
        failed = FinalState(
            job_id=job.job_id,
            status=JobStatus.FAILED,
            completed_at=isoformat(now),
            request_id=job.request_id,
            error=JobError(code=CALLBACK_NOT_RECEIVED, message=message),
            submit_error_ambiguous=True,  # a result that still arrives completes the job
        )
        lease_token, until = new_lease(now)
        written = self._jobs.finish(failed, lease_token=lease_token, lease_until=until)
        if not written.applied or written.current is None:
            return Touched(job.job_id, reason, "skipped", "the job changed meanwhile")
        try:
            published = self._notifier.publish_under_lease(written.current, lease_token)
        except DependencyError as error:
            # The job has failed all the same (and is counted so): its notification is owed, and
            # the next run publishes it.
            return Touched(job.job_id, reason, "failed", f"notification pending: {error}")
        return Touched(job.job_id, reason, "failed", "" if published else "notification pending")

    def _owed(self, job: Job) -> Touched:
        published = self._notifier.publish_if_owed(job)
        return Touched(job.job_id, Reason.NOTIFICATION_OWED, "notified" if published else "skipped")

    def _oldest_awaiting_age(self, now: datetime) -> float | None:
        try:
            oldest = self._jobs.due_for_attention("awaiting", now=FAR_FUTURE, limit=1)
        except DependencyError:
            return None  # a gauge missing for one run; the jobs were reconciled all the same
        if not oldest:
            return None
        started = parse_isoformat(oldest[0].submitted_at or oldest[0].created_at)
        return max(0.0, (now - started).total_seconds())
