"""`dgt`: submit audio to the transcription API, wait for it, and get the transcript.

    dgt --local submit local/audio/sample.wav --option smart_format=true --wait
    dgt --local result <id> --format srt --output sample.srt

Exit codes: 0 done (the job completed, or the request succeeded); 1 the job failed (or was
deleted); 2 usage error (bad arguments, unreadable file, no API or credentials configured);
3 API or network error; 4 the job is not finished (`wait` timed out, or `result`/`notify` of a
job still running); 130 interrupted (Ctrl-C; the job itself is left alone).
"""

from __future__ import annotations

import argparse
import json
import mimetypes
import os
import re
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NoReturn, TextIO

from botocore.session import Session

from dgt import __version__
from dgt.api import (
    API_URL_ENV,
    ENDPOINTS_FILE,
    ENDPOINTS_FILE_ENV,
    ApiError,
    Client,
    ConfigError,
    NetworkError,
    Target,
    download_result,
    load_credentials,
    resolve_endpoint,
)
from dgt.progress import Progress, Waiter, WaitTimeout, describe_outcome, short_id
from dgt.render import FORMATS, EmptyTranscript, render

PROG = "dgt"
EXIT_OK = 0
EXIT_JOB_FAILED = 1
EXIT_USAGE = 2
EXIT_API = 3
EXIT_NOT_FINISHED = 4
EXIT_INTERRUPTED = 130
DEFAULT_TIMEOUT_SECONDS = 1800.0
JOB_STATUSES = ("queued", "processing", "completed", "failed", "deleted")
_URL = re.compile(r"^https?://", re.IGNORECASE)
_AUDIO_TYPES = ("audio/", "video/")


class UsageError(Exception):
    """Exit 2, with the message."""


class JobFailed(Exception):
    """Exit 1: the job failed or was deleted."""


class NotFinished(Exception):
    """Exit 4."""


_EXIT_CODES: dict[type[Exception], int] = {
    UsageError: EXIT_USAGE,
    ConfigError: EXIT_USAGE,
    JobFailed: EXIT_JOB_FAILED,
    ApiError: EXIT_API,
    NetworkError: EXIT_API,
    WaitTimeout: EXIT_NOT_FINISHED,
    NotFinished: EXIT_NOT_FINISHED,
}
"""Each error the commands raise (exactly these classes, no subclasses) and its exit code."""


# Arguments ---------------------------------------------------------------------------------------


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        self.exit(EXIT_USAGE, f"{PROG}: error: {message}\n")


def _key_value(text: str) -> tuple[str, str]:
    name, separator, value = text.partition("=")
    if not separator or not name.strip():
        raise argparse.ArgumentTypeError(f"expected key=value, got {text!r}")
    return name.strip(), value


def _positive(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError("must be greater than 0")
    return value


def _limit(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return int(text)


def build_parser() -> argparse.ArgumentParser:
    connection = _Parser(add_help=False)
    group = connection.add_argument_group("where the API is (default: $" + API_URL_ENV + ")")
    # SUPPRESS: given before or after the subcommand, an option is not reset by the other parser.
    group.add_argument("--api-url", default=argparse.SUPPRESS, help="the API's base URL (with the stage)")
    group.add_argument(
        "--stack", default=argparse.SUPPRESS, help="a deployed stack's name: its ApiUrl output is used"
    )
    group.add_argument(
        "--local",
        action="store_true",
        default=argparse.SUPPRESS,
        help=f"the local stack of `make serve` (its endpoints in {ENDPOINTS_FILE} of the repository, "
        f"or ${ENDPOINTS_FILE_ENV}); dummy credentials if none are configured",
    )
    group.add_argument(
        "--region", default=argparse.SUPPRESS, help="AWS region to sign for (default: from the URL)"
    )
    group.add_argument("--profile", default=argparse.SUPPRESS, help="AWS profile for credentials")

    waiting = _Parser(add_help=False)
    waiting.add_argument(
        "--timeout",
        type=_positive,
        default=DEFAULT_TIMEOUT_SECONDS,
        help="give up waiting after this many seconds (default: %(default).0f; exit 4)",
    )
    waiting.add_argument("-q", "--quiet", action="store_true", help="no progress on stderr")

    view = _Parser(add_help=False)
    view.add_argument(
        "--full",
        action="store_true",
        help="print the job as the API returned it, with an inline result (left out by default)",
    )

    parser = _Parser(
        prog=PROG,
        description="Client of the transcription API: submit audio, wait, get the transcript. "
        "Requests are signed with SigV4 using your AWS credentials.",
        epilog="exit codes: 0 ok, 1 job failed, 2 usage error, 3 API or network error, "
        "4 job not finished, 130 interrupted",
        parents=[connection],
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True, parser_class=_Parser)

    submit = commands.add_parser(
        "submit",
        parents=[connection, waiting, view],
        help="submit a local audio file or an http(s) URL",
        description="Submit a job: a local file is uploaded as the request body, an http(s) URL is "
        "fetched by Deepgram. Prints the job as JSON.",
    )
    submit.add_argument("source", metavar="FILE|URL")
    submit.add_argument(
        "-o",
        "--option",
        dest="options",
        action="append",
        type=_key_value,
        default=[],
        metavar="KEY=VALUE",
        help="a Deepgram option, e.g. model=nova-3 smart_format=true utt_split=0.8; values that read as "
        'JSON (numbers, true/false, "quoted") are typed; repeat a key for a list (keyterm=a keyterm=b)',
    )
    submit.add_argument(
        "-m",
        "--metadata",
        action="append",
        type=_key_value,
        default=[],
        metavar="KEY=VALUE",
        help="metadata stored with the job and carried in its notification",
    )
    submit.add_argument("--idempotency-key", help="retrying with the same key returns the same job")
    submit.add_argument(
        "--content-type",
        help="of an uploaded file (default: guessed from its name, else application/octet-stream)",
    )
    submit.add_argument("-w", "--wait", action="store_true", help="then wait until the job finishes")

    status = commands.add_parser(
        "status", parents=[connection, view], help="print a job", description="Print a job as JSON."
    )
    status.add_argument("job_id", metavar="ID")

    wait = commands.add_parser(
        "wait",
        parents=[connection, waiting, view],
        help="wait until a job finishes",
        description="Poll a job (0.5 s growing to 5 s) until it completes or fails, showing progress "
        "on stderr; then print it. Ctrl-C stops waiting and leaves the job alone.",
    )
    wait.add_argument("job_id", metavar="ID")

    result = commands.add_parser(
        "result",
        parents=[connection, waiting],
        help="print a completed job's transcript (text, json, srt, vtt)",
        description="Print a completed job's result: `text` (each channel's transcript, or the "
        "utterances with their speakers), `json` (Deepgram's response), `srt` or `vtt` captions.",
    )
    result.add_argument("job_id", metavar="ID")
    result.add_argument("-f", "--format", choices=FORMATS, default="text", help="default: %(default)s")
    result.add_argument("-O", "--output", type=Path, metavar="FILE", help="write to FILE instead of stdout")
    result.add_argument("-w", "--wait", action="store_true", help="wait for the job first if still running")

    listing = commands.add_parser(
        "list", parents=[connection], help="list jobs", description="List jobs, newest first, as JSON."
    )
    listing.add_argument("--status", choices=JOB_STATUSES)
    listing.add_argument("--created-after", metavar="TIMESTAMP", help="ISO 8601, e.g. 2026-11-22T00:00:00Z")
    listing.add_argument("--limit", type=_limit, help="jobs per page")
    listing.add_argument("--cursor", help="the next_cursor of a previous page")
    listing.add_argument("--all", action="store_true", help="follow next_cursor through every page")

    delete = commands.add_parser(
        "delete", parents=[connection], help="delete a job and its result", description="Delete a job."
    )
    delete.add_argument("job_id", metavar="ID")

    notify = commands.add_parser(
        "notify",
        parents=[connection],
        help="publish a finished job's notification again",
        description="Ask the API to publish a finished job's notification again (exit 4 if not finished).",
    )
    notify.add_argument("job_id", metavar="ID")
    return parser


# Option values -----------------------------------------------------------------------------------


def parse_value(text: str) -> Any:
    """A JSON scalar when `text` reads as one (42, 0.8, true, "quoted"), or a list of them; else `text`."""
    try:
        value = json.loads(text)
    except ValueError:
        return text
    if isinstance(value, bool | int | float | str):
        return value
    if (
        isinstance(value, list)
        and value
        and all(isinstance(item, bool | int | float | str) for item in value)
    ):
        return value
    return text


def collect_options(pairs: Sequence[tuple[str, str]]) -> dict[str, Any]:
    """`--option` pairs as a dict; a repeated key becomes a list."""
    options: dict[str, Any] = {}
    for name, text in pairs:
        value = parse_value(text)
        if name not in options:
            options[name] = value
            continue
        current = options[name] if isinstance(options[name], list) else [options[name]]
        options[name] = current + (value if isinstance(value, list) else [value])
    return options


def collect_metadata(pairs: Sequence[tuple[str, str]]) -> dict[str, str]:
    metadata: dict[str, str] = {}
    for name, value in pairs:
        if name in metadata:
            raise UsageError(f"metadata key {name!r} given twice")
        metadata[name] = value
    return metadata


def content_type_of(path: Path) -> str:
    guessed, _ = mimetypes.guess_type(path.name)
    if guessed and guessed.startswith(_AUDIO_TYPES):
        return guessed
    return "application/octet-stream"


# Commands ----------------------------------------------------------------------------------------


class App:
    """The commands, given a client factory and output streams (tests replace them)."""

    def __init__(
        self,
        arguments: argparse.Namespace,
        *,
        client: Callable[[], Client],
        stdout: TextIO,
        stderr: TextIO,
        interactive: bool,
    ) -> None:
        self.arguments = arguments
        self._client_factory = client
        self._client: Client | None = None
        self.stdout = stdout
        self.stderr = stderr
        self.interactive = interactive
        self.waiter: Waiter | None = None

    @property
    def client(self) -> Client:
        if self._client is None:
            self._client = self._client_factory()
        return self._client

    def run(self) -> int:
        command: Callable[[], int] = getattr(self, "cmd_" + self.arguments.command)
        return command()

    def cmd_submit(self) -> int:
        arguments = self.arguments
        options = collect_options(arguments.options)
        metadata = collect_metadata(arguments.metadata)
        source: str = arguments.source
        if _URL.match(source):
            if arguments.content_type:
                raise UsageError("--content-type is for uploaded files, not URLs")
            job = self.client.submit_url(source, options, metadata, arguments.idempotency_key)
        else:
            path = Path(source)
            try:
                audio = path.read_bytes()
            except OSError as error:
                raise UsageError(f"cannot read {source}: {error.strerror or error}") from None
            if not audio:
                raise UsageError(f"{source} is empty")
            content_type = arguments.content_type or content_type_of(path)
            job = self.client.submit_audio(audio, content_type, options, metadata, arguments.idempotency_key)
        if not arguments.wait:
            self._print_view(job)
            return EXIT_OK
        return self._finish(self._wait(str(job["id"]), job))

    def cmd_status(self) -> int:
        self._print_view(self.client.job(self.arguments.job_id))
        return EXIT_OK

    def cmd_wait(self) -> int:
        return self._finish(self._wait(self.arguments.job_id))

    def cmd_result(self) -> int:
        arguments = self.arguments
        job = self._wait(arguments.job_id) if arguments.wait else self.client.job(arguments.job_id)
        status = job.get("status")
        if status in ("failed", "deleted"):
            raise JobFailed(f"job {job.get('id')} {status}: {describe_outcome(job)}")
        if status != "completed":
            raise NotFinished(
                f"job {arguments.job_id} is still {status}: run `dgt wait {arguments.job_id}` or add --wait"
            )
        result = job["result"] if "result" in job else self._download(job)
        try:
            document = render(result, arguments.format)
        except EmptyTranscript as empty:
            self._warn(str(empty))
            document = "WEBVTT\n" if arguments.format == "vtt" else ""
        except ValueError as error:
            raise NetworkError(f"cannot read the result: {error}") from None
        if arguments.output is None:
            self.stdout.write(document)
            self.stdout.flush()
            return EXIT_OK
        try:
            arguments.output.write_text(document, encoding="utf-8")
        except OSError as error:
            raise UsageError(f"cannot write {arguments.output}: {error.strerror or error}") from None
        self._warn(f"wrote {arguments.output} ({arguments.format})", prefix=False)
        return EXIT_OK

    def cmd_list(self) -> int:
        arguments = self.arguments
        page = self.client.jobs(
            status=arguments.status,
            created_after=arguments.created_after,
            limit=arguments.limit,
            cursor=arguments.cursor,
        )
        if arguments.all:
            items = list(page.get("items") or [])
            while page.get("next_cursor"):
                page = self.client.jobs(
                    status=arguments.status,
                    created_after=arguments.created_after,
                    limit=arguments.limit,
                    cursor=str(page["next_cursor"]),
                )
                items += page.get("items") or []
            page = {"items": items, "next_cursor": None}
        self._print_json(page)
        return EXIT_OK

    def cmd_delete(self) -> int:
        self._print_view(self.client.delete(self.arguments.job_id))
        return EXIT_OK

    def cmd_notify(self) -> int:
        try:
            answer = self.client.notify(self.arguments.job_id)
        except ApiError as error:
            if error.status == 409:
                raise NotFinished(f"job {self.arguments.job_id} is not finished: {error.message}") from None
            raise
        self._print_json(answer)
        return EXIT_OK

    # Helpers ---------------------------------------------------------------------------------------

    def _wait(self, job_id: str, first: dict[str, Any] | None = None) -> dict[str, Any]:
        progress = Progress(self.stderr, interactive=self.interactive, enabled=not self.arguments.quiet)
        self.waiter = Waiter(
            fetch=lambda: self.client.job(job_id), progress=progress, timeout=self.arguments.timeout
        )
        view = self.waiter.wait(job_id, first if first is not None else self.client.job(job_id))
        outcome = describe_outcome(view)
        progress.line(
            f"job {short_id(job_id)} {view.get('status')} after {self.waiter.elapsed():.1f} s"
            + (f": {outcome}" if outcome else "")
        )
        return view

    def _finish(self, view: dict[str, Any]) -> int:
        self._print_view(view)
        return EXIT_OK if view.get("status") == "completed" else EXIT_JOB_FAILED

    def _download(self, job: dict[str, Any]) -> Any:
        url = job.get("result_url")
        if not isinstance(url, str):
            raise NetworkError(f"job {job.get('id')} is completed but carries neither result nor result_url")
        return download_result(url)

    def _print_view(self, view: dict[str, Any]) -> None:
        if not getattr(self.arguments, "full", False) and "result" in view:
            view = {key: value for key, value in view.items() if key != "result"}
        self._print_json(view)

    def _print_json(self, document: Any) -> None:
        self.stdout.write(json.dumps(document, indent=2, ensure_ascii=False) + "\n")
        self.stdout.flush()

    def _warn(self, message: str, *, prefix: bool = True) -> None:
        self.stderr.write(f"{PROG}: warning: {message}\n" if prefix else f"{PROG}: {message}\n")
        self.stderr.flush()


def make_client(arguments: argparse.Namespace) -> Client:
    target = Target(
        api_url=getattr(arguments, "api_url", None),
        stack=getattr(arguments, "stack", None),
        local=getattr(arguments, "local", False),
        region=getattr(arguments, "region", None),
        profile=getattr(arguments, "profile", None),
    )
    try:
        session = Session(profile=target.profile)
        endpoint = resolve_endpoint(target, session)
        credentials = load_credentials(session, local=endpoint.local)
    except ConfigError:
        raise
    except Exception as error:  # botocore's configuration errors (unknown profile, bad config file)
        raise ConfigError(str(error)) from None
    return Client(endpoint, credentials)


def main(
    argv: Sequence[str] | None = None,
    *,
    stdout: TextIO | None = None,
    stderr: TextIO | None = None,
    client: Callable[[argparse.Namespace], Client] = make_client,
) -> int:
    out, err = stdout or sys.stdout, stderr or sys.stderr
    try:
        arguments = build_parser().parse_args(argv)
    except SystemExit as exit_:  # argparse: --help, --version (0) or a usage error (2)
        return exit_.code if isinstance(exit_.code, int) else EXIT_USAGE
    app = App(
        arguments,
        client=lambda: client(arguments),
        stdout=out,
        stderr=err,
        interactive=err.isatty(),
    )
    try:
        return app.run()
    except KeyboardInterrupt:
        last = app.waiter.last if app.waiter else None
        if app.waiter is not None:
            app.waiter.progress.clear()
        where = f" (job {last.get('id')} is still {last.get('status')}; it carries on)" if last else ""
        err.write(f"\n{PROG}: interrupted{where}\n")
        return EXIT_INTERRUPTED
    except tuple(_EXIT_CODES) as error:
        err.write(f"{PROG}: error: {error}\n")
        err.flush()
        return _EXIT_CODES[type(error)]
    except BrokenPipeError:  # `dgt result ID | head`: stop quietly, as other filters do
        if out is sys.stdout:
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK
