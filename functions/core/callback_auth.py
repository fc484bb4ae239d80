"""Per-job callback credentials. Pure Python, no AWS.

Every job gets its own secret, derived rather than stored: `HMAC-SHA256(signing key, job id)`,
hex-encoded. The submit function puts it in the callback URL as Basic Auth credentials
(`https://<job id>:<secret>@host/`) and sends it again as `extra=callback_secret:<secret>`;
Deepgram hands back the first as an `Authorization: Basic` header and the second in
`metadata.extra`. A leaked secret therefore opens one job only, and no table holds secrets.
Every comparison uses `hmac.compare_digest` so timing reveals nothing.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from dataclasses import dataclass
from urllib.parse import quote, urlsplit, urlunsplit

from functions.core.contract import DgTokenMode

_DERIVATION_CONTEXT = b"deepgram-callback-v1:"


def callback_secret(signing_key: str, job_id: str) -> str:
    """The job's callback secret: hex, so it never contains an underscore or a URL-unsafe char."""
    return hmac.new(signing_key.encode(), _DERIVATION_CONTEXT + job_id.encode(), hashlib.sha256).hexdigest()


def is_valid_secret(signing_key: str, job_id: str, presented: str) -> bool:
    """Constant-time check; any text is compared, even text UTF-8 cannot encode (a lone surrogate
    from a JSON escape), so no input makes this raise."""
    expected = callback_secret(signing_key, job_id).encode()
    return hmac.compare_digest(expected, presented.encode("utf-8", "surrogatepass"))


def callback_url_with_credentials(base_url: str, job_id: str, secret: str) -> str:
    """`base_url` with `job_id:secret@` before the host, replacing any credentials it had.

    The host and port are kept as written (`parts.netloc` less any userinfo), so an IPv6 host
    keeps its brackets (`http://[::1]:8080/`)."""
    parts = urlsplit(base_url)
    host_and_port = parts.netloc.rpartition("@")[2]
    netloc = f"{quote(job_id, safe='')}:{quote(secret, safe='')}@{host_and_port}"
    return urlunsplit((parts.scheme, netloc, parts.path or "/", parts.query, ""))


@dataclass(frozen=True)
class BasicCredentials:
    username: str
    password: str


def parse_basic_authorization(header: str | None) -> BasicCredentials | None:
    """Credentials from an `Authorization: Basic ...` header, or None if absent or malformed."""
    if not header:
        return None
    scheme, _, encoded = header.strip().partition(" ")
    if scheme.lower() != "basic" or not encoded:
        return None
    try:
        # A non-ASCII header value makes b64decode raise ValueError, not binascii.Error.
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (binascii.Error, ValueError):
        return None
    username, separator, password = decoded.partition(":")
    if not separator:
        return None
    return BasicCredentials(username=username, password=password)


def dg_token_problem(mode: str, expected_key_ids: tuple[str, ...], presented: str | None) -> str | None:
    """Why the `dg-token` header is unacceptable under `mode`, or None if it is acceptable.

    Deepgram stopped promising the header on 2026-10-27, so `if-present` tolerates its absence
    but still rejects a wrong value; `required` is for accounts that know their traffic sends it.
    Several identifiers may be expected while a key is being rotated.
    """
    if mode == DgTokenMode.OFF:
        return None
    if not presented:
        return "dg_token_missing" if mode == DgTokenMode.REQUIRED else None
    token = presented.strip().encode("utf-8", "surrogatepass")
    matches = [hmac.compare_digest(token, expected.encode()) for expected in expected_key_ids]
    return None if any(matches) else "dg_token_mismatch"
