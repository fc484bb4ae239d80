"""Publishing a job's notification exactly once per final state, whoever finished the job.

The write that gives a job its final state (a result, a give-up, a deletion) also takes a short
*notification lease*; only the lease holder publishes, and it records the publication
(`notified_at`). If it dies or SNS fails, the lease runs out and whoever comes next — Deepgram's
retry of the callback, or the reconciler — claims it and publishes. Pure logic over the ports.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from contextlib import suppress
from datetime import datetime, timedelta

from functions.core.contract import CallbackTiming
from functions.core.jobs import Job
from functions.core.notifications import build_notification
from functions.core.ports import DependencyError, JobRepository, NotificationPublisher

NOTIFICATION_LEASE = timedelta(seconds=CallbackTiming.NOTIFICATION_LEASE_SECONDS)


def new_lease(now: datetime) -> tuple[str, datetime]:
    """A fresh lease token and when the lease runs out."""
    return uuid.uuid4().hex, now + NOTIFICATION_LEASE


class Notifier:
    def __init__(
        self, *, jobs: JobRepository, publisher: NotificationPublisher, clock: Callable[[], datetime]
    ) -> None:
        self._jobs = jobs
        self._publisher = publisher
        self._clock = clock

    def publish_under_lease(self, job: Job, lease_token: str) -> bool:
        """Publish `job`'s notification under the lease it holds; True once published.

        On a transient failure the lease is given back (so the next attempt can publish at once)
        and the failure raised. A refusal no retry can cure returns False: the job stays owed
        its notification, which the reconciler retries later."""
        try:
            message_id = self._publisher.publish(build_notification(job))
        except DependencyError as failure:
            with suppress(DependencyError):  # if this fails too, the lease simply runs out
                self._jobs.release_notification(job.job_id, lease_token)
            if failure.permanent:
                return False
            raise
        # Published: failing now would only make the next attempt publish twice.
        with suppress(DependencyError):
            self._jobs.mark_notified(job.job_id, message_id, self._clock(), lease_token=lease_token)
        return True

    def publish_if_owed(self, job: Job) -> bool:
        """Claim and publish the notification of a finished job that has none yet (an earlier
        publisher died, or SNS was failing); False when nothing is owed or another holds the lease."""
        if job.notified_at is not None:
            return False
        now = self._clock()
        lease_token, until = new_lease(now)
        if not self._jobs.claim_notification(job.job_id, lease_token, now=now, until=until):
            return False
        return self.publish_under_lease(job, lease_token)

    def redeliver(self, job: Job) -> str:
        """Publish a finished job's notification again, marked as a redelivery; the message id."""
        return self._publisher.publish(build_notification(job, redelivery=True))
