"""The one way a job's `/v1/listen` request is put together: by the submit function, and by the
reconciler when it submits a job again. Pure Python; the signer is a port.

Every request carries the job's credentials (`core.callback_auth`): `extra=job_id:<id>` and
`extra=callback_secret:<secret>`, which Deepgram echoes in the result's `metadata.extra`. Where the
result goes depends on the job's delivery:

- `callback`: the callback function's URL with the job's Basic Auth credentials in it, by the
  configured method (POST or PUT);
- `s3`: a presigned S3 PUT URL for the job's delivery key of this attempt, `callback_method=put`
  (Deepgram's documented pattern for results of any size); the finisher takes it from there.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from functions.core.callback_auth import callback_secret, callback_url_with_credentials
from functions.core.deadline import Deadline
from functions.core.jobs import Delivery
from functions.core.ports import AudioUpload, AudioUrl, DeepgramCall, DeliverySigner

S3_DELIVERY_METHOD = "PUT"


@dataclass(frozen=True)
class CallbackTarget:
    """Where callbacks go and how they are authenticated."""

    signing_key: str
    callback_url: str
    callback_method: str


def deepgram_call(
    job_id: str,
    audio: AudioUrl | AudioUpload,
    options: dict[str, Any],
    *,
    target: CallbackTarget,
    delivery: Delivery,
    signer: DeliverySigner | None,
    attempt: int,
    deadline: Deadline | None = None,
) -> DeepgramCall:
    """The request for attempt `attempt` (1: the first submission) of job `job_id`.

    With S3 delivery the URL is signed here (`signer`, one AWS call; `DependencyError` if it fails).
    """
    secret = callback_secret(target.signing_key, job_id)
    if delivery is Delivery.S3:
        if signer is None:
            raise ValueError("S3 delivery needs a delivery signer")
        url, method = signer.presigned_put_url(job_id, attempt), S3_DELIVERY_METHOD
    else:
        url = callback_url_with_credentials(target.callback_url, job_id, secret)
        method = target.callback_method
    return DeepgramCall(
        audio=audio,
        options=options,
        callback_url=url,
        callback_method=method,
        extra=[f"job_id:{job_id}", f"callback_secret:{secret}"],
        deadline=deadline,
    )
