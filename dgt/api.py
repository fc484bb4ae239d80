"""Talking to the transcription API: finding it, signing requests with SigV4, HTTP.

Signing is botocore's (`SigV4Auth`, service `execute-api`) with botocore's credential chain
(environment, profile, SSO, container and instance roles); nothing is hand-written. Requests are
sent with the standard library, so the client needs nothing beyond botocore.
"""

from __future__ import annotations

import gzip
import http.client
import json
import os
import re
import socket
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.error import HTTPError, URLError
from urllib.parse import quote, urlencode, urlsplit
from urllib.request import OpenerDirector, ProxyHandler, Request, build_opener

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials, ReadOnlyCredentials
from botocore.exceptions import BotoCoreError, ClientError
from botocore.session import Session

from dgt import __version__

SERVICE = "execute-api"
USER_AGENT = f"dgt/{__version__}"
API_URL_ENV = "DGT_API_URL"
ENDPOINTS_FILE_ENV = "DGT_ENDPOINTS_FILE"
ENDPOINTS_FILE = Path(".local") / "endpoints.json"
"""Where `make serve` writes its endpoints, relative to the repository root."""
STACK_OUTPUT = "ApiUrl"
TRANSCRIPTIONS = "/transcriptions"
LOCAL_CREDENTIALS = Credentials("local", "local")
"""The local gateway does not check signatures; requests are signed all the same."""

_EXECUTE_API_HOST = re.compile(r"\.execute-api\.([a-z0-9-]+)\.amazonaws\.com(\.cn)?$")
_LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})
_GZIP_MAGIC = b"\x1f\x8b"


class ConfigError(Exception):
    """The API or credentials cannot be determined from the command line and environment (exit 2)."""


class NetworkError(Exception):
    """The API could not be reached, or answered something unreadable (exit 3)."""


class ApiError(Exception):
    """The API answered with an error status (exit 3)."""

    def __init__(self, status: int, code: str, message: str, headers: Mapping[str, str]) -> None:
        super().__init__(f"{status} {code}: {message}" if code else f"{status}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.headers = dict(headers)

    @property
    def transient(self) -> bool:
        """Worth retrying later: throttling, or a server-side fault."""
        return self.status == 429 or self.status >= 500

    @property
    def retry_after(self) -> float | None:
        value = self.headers.get("retry-after", "")
        return float(value) if value.replace(".", "", 1).isdigit() else None


@dataclass(frozen=True)
class Response:
    status: int
    headers: dict[str, str]
    """Lower-case names."""
    body: bytes

    def json(self) -> Any:
        try:
            return json.loads(self.body)
        except ValueError:
            raise NetworkError(f"the API answered {self.status} with a body that is not JSON") from None


@dataclass(frozen=True)
class Endpoint:
    """Where the API is: its base URL (with the stage, no trailing slash) and its region."""

    api_url: str
    region: str
    local: bool = False


@dataclass(frozen=True)
class Target:
    """The connection options of the command line."""

    api_url: str | None = None
    stack: str | None = None
    local: bool = False
    region: str | None = None
    profile: str | None = None
    environ: Mapping[str, str] = field(default_factory=lambda: dict(os.environ))
    cwd: Path = field(default_factory=Path.cwd)


def normalize_api_url(url: str) -> str:
    """The base URL: no trailing slash, and `/transcriptions` dropped if the output of that name was given."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"the API URL must be an absolute http(s) URL, not {url!r}")
    base = url.strip().rstrip("/")
    return base.removesuffix(TRANSCRIPTIONS)


def region_from_url(url: str) -> str | None:
    """The region of an `https://<id>.execute-api.<region>.amazonaws.com/...` URL, else None."""
    match = _EXECUTE_API_HOST.search(urlsplit(url).hostname or "")
    return match.group(1) if match else None


def find_endpoints_file(target: Target) -> Path:
    """`$DGT_ENDPOINTS_FILE`, else `.local/endpoints.json` in the working directory or a parent,
    else next to this package (an editable install in the repository)."""
    explicit = target.environ.get(ENDPOINTS_FILE_ENV)
    if explicit:
        return Path(explicit)
    for directory in (target.cwd, *target.cwd.parents, Path(__file__).resolve().parents[1]):
        candidate = directory / ENDPOINTS_FILE
        if candidate.is_file():
            return candidate
    raise ConfigError(
        f"no local stack found: start one with `make serve` (it writes {ENDPOINTS_FILE}), "
        f"or set {ENDPOINTS_FILE_ENV}"
    )


def read_local_endpoints(path: Path) -> dict[str, Any]:
    try:
        document = json.loads(path.read_text())
    except (OSError, ValueError) as error:
        raise ConfigError(f"cannot read the local stack's endpoints from {path}: {error}") from None
    if not isinstance(document, dict) or not isinstance(document.get("api_url"), str):
        raise ConfigError(f"{path} does not name an api_url; is `make serve` running?")
    return document


def resolve_endpoint(target: Target, session: Session) -> Endpoint:
    """The API to talk to: `--api-url`, `--local`, `--stack`, then `$DGT_API_URL`, in that order."""
    if target.local and not target.api_url:
        endpoints = read_local_endpoints(find_endpoints_file(target))
        region = target.region or str(endpoints.get("region") or "us-east-1")
        return Endpoint(normalize_api_url(endpoints["api_url"]), region, local=True)
    if target.api_url:
        url = normalize_api_url(target.api_url)
    elif target.stack:
        url = normalize_api_url(stack_api_url(session, target.stack, _configured_region(target, session)))
    elif target.environ.get(API_URL_ENV):
        url = normalize_api_url(target.environ[API_URL_ENV])
    else:
        raise ConfigError(f"which API? Give --api-url URL, --stack NAME or --local, or set {API_URL_ENV}")
    signing_region = target.region or region_from_url(url) or _configured_region(target, session)
    if not signing_region:
        raise ConfigError("cannot tell the API's region from its URL: give --region or set AWS_REGION")
    return Endpoint(url, signing_region, local=target.local)


def _configured_region(target: Target, session: Session) -> str | None:
    return (
        target.region
        or target.environ.get("AWS_REGION")
        or target.environ.get("AWS_DEFAULT_REGION")
        or session.get_config_variable("region")
    )


def stack_api_url(session: Session, stack: str, region: str | None) -> str:
    """The `ApiUrl` output of a deployed stack (CloudFormation `DescribeStacks`)."""
    try:
        client = session.create_client("cloudformation", region_name=region)
        stacks = client.describe_stacks(StackName=stack)["Stacks"]
    except ClientError as error:
        raise NetworkError(f"cannot read stack {stack!r}: {error.response['Error']['Message']}") from None
    except BotoCoreError as error:
        raise NetworkError(f"cannot read stack {stack!r}: {error}") from None
    outputs = {o["OutputKey"]: o["OutputValue"] for s in stacks for o in s.get("Outputs", [])}
    if STACK_OUTPUT in outputs:
        return str(outputs[STACK_OUTPUT])
    if "TranscriptionsUrl" in outputs:
        return str(outputs["TranscriptionsUrl"])
    raise ConfigError(f"stack {stack!r} has no {STACK_OUTPUT} output: is it this project's stack?")


def load_credentials(session: Session, *, local: bool) -> ReadOnlyCredentials:
    """botocore's credential chain; for the local stack, dummy credentials when none are configured."""
    if local:
        # Do not wait for instance or container metadata endpoints that are not there.
        resolver = session.get_component("credential_provider")
        for name in ("iam-role", "container-role"):
            resolver.remove(name)
    try:
        credentials = session.get_credentials()
    except BotoCoreError as error:
        if local:
            return LOCAL_CREDENTIALS.get_frozen_credentials()
        raise ConfigError(f"cannot load AWS credentials: {error}") from None
    if credentials is None:
        if local:
            return LOCAL_CREDENTIALS.get_frozen_credentials()
        raise ConfigError(
            "no AWS credentials found: configure a profile (aws configure, aws sso login) "
            "or set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"
        )
    return credentials.get_frozen_credentials()


def sign(
    method: str,
    url: str,
    *,
    body: bytes | None,
    headers: Mapping[str, str],
    credentials: ReadOnlyCredentials,
    region: str,
) -> dict[str, str]:
    """The headers to send: `headers` plus SigV4's (`Authorization`, `X-Amz-Date`, and the token)."""
    request = AWSRequest(method=method, url=url, data=body or b"", headers=dict(headers))
    frozen = Credentials(credentials.access_key, credentials.secret_key, credentials.token)
    SigV4Auth(frozen, SERVICE, region).add_auth(request)
    return {name: str(value) for name, value in request.headers.items()}


def query_string(pairs: Sequence[tuple[str, str]]) -> str:
    """Percent-encoded as SigV4 canonicalizes it (spaces as %20, not +)."""
    return urlencode(list(pairs), quote_via=quote, safe="-_.~")


def _opener_for(url: str) -> OpenerDirector:
    """No proxy for loopback (the local stack), the environment's proxies otherwise."""
    if (urlsplit(url).hostname or "") in _LOOPBACK:
        return build_opener(ProxyHandler({}))
    return build_opener()


def send(
    method: str,
    url: str,
    *,
    body: bytes | None = None,
    headers: Mapping[str, str] | None = None,
    timeout: float = 60.0,
) -> Response:
    """One HTTP request; an error status is returned, not raised; unreachable is a `NetworkError`."""
    request = Request(url, data=body, headers=dict(headers or {}), method=method)  # noqa: S310
    try:
        with _opener_for(url).open(request, timeout=timeout) as answer:
            return Response(answer.status, _lower(answer.headers.items()), answer.read())
    except HTTPError as error:
        with error:
            return Response(error.code, _lower(error.headers.items()), error.read())
    except (URLError, OSError, http.client.HTTPException) as error:
        reason = error.reason if isinstance(error, URLError) else error
        if isinstance(reason, socket.timeout | TimeoutError):
            reason = f"no answer within {timeout:g} s"
        raise NetworkError(f"cannot reach {_without_query(url)}: {reason}") from None


def _lower(items: Iterator[tuple[str, str]] | Any) -> dict[str, str]:
    return {name.lower(): value for name, value in items}


def _without_query(url: str) -> str:
    return url.split("?", 1)[0]


def error_from(response: Response) -> ApiError:
    """The API's `{"error": {"code", "message"}}` (or API Gateway's `{"message"}`) as an exception."""
    code, message = "", ""
    try:
        document = json.loads(response.body)
    except ValueError:
        document = None
    if isinstance(document, dict):
        error = document.get("error")
        if isinstance(error, dict):
            code, message = str(error.get("code") or ""), str(error.get("message") or "")
        elif isinstance(document.get("message"), str):
            message = document["message"]
    if not message:
        text = response.body.decode("utf-8", "replace").strip()
        message = " ".join(text.split())[:200] or http.client.responses.get(response.status, "error")
    return ApiError(response.status, code, message, response.headers)


class Client:
    """The transcription API, every request signed."""

    def __init__(
        self, endpoint: Endpoint, credentials: ReadOnlyCredentials, *, timeout: float = 60.0
    ) -> None:
        self.endpoint = endpoint
        self._credentials = credentials
        self._timeout = timeout

    def request(
        self,
        method: str,
        path: str,
        *,
        query: Sequence[tuple[str, str]] = (),
        body: bytes | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Response:
        url = self.endpoint.api_url + path + (f"?{query_string(query)}" if query else "")
        signed = sign(
            method,
            url,
            body=body,
            headers={"User-Agent": USER_AGENT, "Accept": "application/json", **(headers or {})},
            credentials=self._credentials,
            region=self.endpoint.region,
        )
        return send(method, url, body=body, headers=signed, timeout=self._timeout)

    def call(
        self,
        method: str,
        path: str,
        *,
        query: Sequence[tuple[str, str]] = (),
        body: bytes | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> dict[str, Any]:
        """A request whose 2xx answer is a JSON object; any other answer raises `ApiError`."""
        response = self.request(method, path, query=query, body=body, headers=headers)
        if not 200 <= response.status < 300:
            raise error_from(response)
        document = response.json()
        if not isinstance(document, dict):
            raise NetworkError(f"the API answered {response.status} with JSON that is not an object")
        return document

    # The endpoints ---------------------------------------------------------------------------------

    def submit_url(
        self, url: str, options: Mapping[str, Any], metadata: Mapping[str, str], idempotency_key: str | None
    ) -> dict[str, Any]:
        document: dict[str, Any] = {"url": url}
        if options:
            document["options"] = dict(options)
        if metadata:
            document["metadata"] = dict(metadata)
        headers = {"Content-Type": "application/json", **_idempotency(idempotency_key)}
        return self.call("POST", TRANSCRIPTIONS, body=json.dumps(document).encode(), headers=headers)

    def submit_audio(
        self,
        audio: bytes,
        content_type: str,
        options: Mapping[str, Any],
        metadata: Mapping[str, str],
        idempotency_key: str | None,
    ) -> dict[str, Any]:
        query: list[tuple[str, str]] = []
        for name, value in options.items():
            for item in value if isinstance(value, list) else [value]:
                query.append((name, _query_value(item)))
        query += [(f"metadata.{name}", value) for name, value in metadata.items()]
        headers = {"Content-Type": content_type, **_idempotency(idempotency_key)}
        return self.call("POST", TRANSCRIPTIONS, query=query, body=audio, headers=headers)

    def job(self, job_id: str) -> dict[str, Any]:
        return self.call("GET", _job_path(job_id))

    def jobs(
        self,
        *,
        status: str | None = None,
        created_after: str | None = None,
        limit: int | None = None,
        cursor: str | None = None,
    ) -> dict[str, Any]:
        query = [
            (name, str(value))
            for name, value in (
                ("status", status),
                ("created_after", created_after),
                ("limit", limit),
                ("cursor", cursor),
            )
            if value is not None
        ]
        return self.call("GET", TRANSCRIPTIONS, query=query)

    def delete(self, job_id: str) -> dict[str, Any]:
        return self.call("DELETE", _job_path(job_id))

    def notify(self, job_id: str) -> dict[str, Any]:
        return self.call("POST", _job_path(job_id) + "/notify")


def _job_path(job_id: str) -> str:
    return f"{TRANSCRIPTIONS}/{quote(job_id, safe='')}"


def _idempotency(key: str | None) -> dict[str, str]:
    return {"Idempotency-Key": key} if key else {}


def _query_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def download_result(url: str, *, timeout: float = 120.0) -> Any:
    """A result stored in S3, from its presigned URL (not signed again); gzip undone; parsed."""
    response = send("GET", url, timeout=timeout)
    if response.status != 200:
        raise NetworkError(
            f"cannot download the result: {response.status} from its URL"
            + (" (presigned URLs expire: read the job again)" if response.status == 403 else "")
        )
    body = response.body
    if response.headers.get("content-encoding", "").lower() == "gzip" or body.startswith(_GZIP_MAGIC):
        try:
            body = gzip.decompress(body)
        except (OSError, EOFError) as error:
            raise NetworkError(f"the downloaded result is not valid gzip: {error}") from None
    try:
        return json.loads(body)
    except ValueError:
        raise NetworkError("the downloaded result is not JSON") from None
