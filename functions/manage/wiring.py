"""The manage function's composition root, built once per execution environment."""

from __future__ import annotations

import functools
import os

from aws_lambda_powertools import Logger

from functions.core import contract
from functions.core.adapters.aws import LazyClient, client, warm_up_in_lambda
from functions.core.adapters.dynamodb import DynamoJobRepository
from functions.core.adapters.s3 import S3ResultBlobStore
from functions.core.adapters.sns import SnsNotificationPublisher
from functions.core.jobs import Job, utc_now
from functions.core.notifier import Notifier
from functions.core.ports import DependencyError
from functions.core.settings import ManageSettings
from functions.manage.logic import ManageService

logger = Logger(service=contract.Services.MANAGE, child=True)


def _publish_failed(job: Job, failure: DependencyError) -> None:
    logger.warning(
        "deleted notification not published; the reconciler publishes it",
        extra={"job_id": job.job_id, "error": str(failure)},
    )


@functools.cache
def service() -> ManageService:
    settings = ManageSettings.from_environ(os.environ)
    jobs = DynamoJobRepository(client("dynamodb"), settings.jobs_table)
    return ManageService(
        jobs=jobs,
        blobs=S3ResultBlobStore(LazyClient("s3"), settings.results_bucket),
        notifier=Notifier(
            jobs=jobs, publisher=SnsNotificationPublisher(client("sns"), settings.topic_arn), clock=utc_now
        ),
        clock=utc_now,
        on_publish_failure=_publish_failed,
    )


warm_up_in_lambda(service)
