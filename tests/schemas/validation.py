"""Validating what the code produces against the committed schemas (`schemas/*.json`).

`Validators` holds one compiled jsonschema validator per document kind. `SchemaRecorder` wraps the
functions and methods that produce those documents so that every value produced while the tests
run is validated; `tests/conftest.py` installs it for the whole session and fails the test during
which a value did not match (see the block at its end).

Wrapping a module-level function must reach every copy of it: `from functions.core.jobs import
public_view` binds the function into the importing module. So the defining module's attribute is
replaced first (every later `from ... import` gets the wrapper), then every already imported project
module that holds the original gets the wrapper too. Methods are replaced on their class.
"""

from __future__ import annotations

import functools
import importlib
import json
import sys
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import best_match

from schemas import DIRECTORY
from schemas.generate import JOB_VIEW_FILE, NOTIFICATION_FILE, OPENAPI_FILE

PROJECT_PACKAGES = ("functions", "local", "tests", "benchmarks", "dgt", "infra")
"""Modules whose imported copies of a wrapped function are replaced."""


def load(name: str) -> dict[str, Any]:
    document: dict[str, Any] = json.loads((DIRECTORY / name).read_text(encoding="utf-8"))
    return document


def _validator(schema: dict[str, Any]) -> Draft202012Validator:
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema)


class Validators:
    """Compiled validators for each kind of document, from the committed files."""

    def __init__(self) -> None:
        job = load(JOB_VIEW_FILE)
        notification = load(NOTIFICATION_FILE)
        openapi = load(OPENAPI_FILE)
        self.job_detail = _validator(job)
        self.job_view = _validator({"$defs": job["$defs"], "$ref": "#/$defs/JobView"})
        self.notification = _validator(notification)
        self.message_attributes = _validator(
            {"$defs": notification["$defs"], "$ref": "#/$defs/MessageAttributes"}
        )
        components = {"components": openapi["components"]}
        self.job_list = _validator({**components, "$ref": "#/components/schemas/JobList"})
        self.redelivery = _validator({**components, "$ref": "#/components/schemas/Redelivery"})
        self.error = _validator({**components, "$ref": "#/components/schemas/ErrorResponse"})

    @staticmethod
    def problems(validator: Draft202012Validator, document: Any) -> list[str]:
        """Why `document` does not match, most relevant first; empty when it matches."""
        errors = list(validator.iter_errors(document))
        if not errors:
            return []
        first = best_match(errors)
        rest = [error for error in errors if error is not first]
        return [_describe(error) for error in (first, *rest)]


def _describe(error: Any) -> str:
    where = "/".join(str(part) for part in error.absolute_path) or "(root)"
    rule = "/".join(str(part) for part in error.absolute_schema_path)
    message = error.message if len(error.message) <= 300 else error.message[:300] + "…"
    return f"at {where} (schema {rule}): {message}"


@dataclass(frozen=True)
class Violation:
    kind: str
    problems: list[str]
    document: Any

    def __str__(self) -> str:
        shown = json.dumps(self.document, ensure_ascii=False, default=str)
        if len(shown) > 2000:
            shown = shown[:2000] + "…"
        return f"{self.kind} does not match its schema: " + "; ".join(self.problems[:5]) + f"\n  {shown}"


@dataclass
class SchemaRecorder:
    """Validates documents as the code produces them; counts them and keeps the violations."""

    validators: Validators = field(default_factory=Validators)
    counts: Counter[str] = field(default_factory=Counter)
    violations: list[Violation] = field(default_factory=list)
    missing_targets: list[str] = field(default_factory=list)

    def check(self, kind: str, validator: Draft202012Validator, document: Any) -> None:
        """Never raises: the code under test must behave exactly as without the recorder."""
        self.counts[kind] += 1
        try:
            problems = Validators.problems(validator, document)
        except Exception as failure:  # a bug here must not change what the code under test does
            problems = [f"could not be validated: {failure!r}"]
        if problems:
            self.violations.append(Violation(kind, problems, document))

    def take(self) -> list[Violation]:
        taken, self.violations = self.violations, []
        return taken

    # --- what is checked ----------------------------------------------------------------------

    def on_notification(self, outgoing: Any, *_: Any) -> None:
        try:
            message = json.loads(outgoing.message)
        except (TypeError, ValueError) as failure:
            self.counts["notification"] += 1
            self.violations.append(Violation("notification", [f"message is not JSON: {failure}"], outgoing))
            return
        self.check("notification", self.validators.notification, message)
        self.check("notification attributes", self.validators.message_attributes, outgoing.attributes)

    def on_job_view(self, view: Any, *_: Any) -> None:
        self.check("job view", self.validators.job_view, view)

    def on_job_detail(self, text: Any, description: Any) -> None:
        try:
            document = json.loads(text)
        except RecursionError:
            # A result nested deeper than Python's parser goes (the service never parses it): the
            # view is validated with the result as an opaque object, if it is one.
            document = json.loads(json.dumps(description.view))
            document["result"] = {} if description.result_json.lstrip().startswith(b"{") else None
        except (TypeError, ValueError) as failure:
            self.counts["job detail"] += 1
            self.violations.append(Violation("job detail", [f"not JSON: {failure}"], str(text)[:500]))
            return
        self.check("job detail", self.validators.job_detail, document)

    def on_job_list(self, document: Any, *_: Any) -> None:
        self.check("job list", self.validators.job_list, document)

    def on_redelivery(self, document: Any, *_: Any) -> None:
        self.check("redelivery", self.validators.redelivery, document)

    def on_error_response(self, response: Any, *_: Any) -> None:
        body = getattr(response, "body", None)
        if isinstance(body, str | bytes):
            body = json.loads(body)
        self.check("error answer", self.validators.error, body)

    # --- wiring -------------------------------------------------------------------------------

    def _targets(self) -> list[tuple[str, str, str | None, Callable[..., None]]]:
        """(module, function or class, method or None, what checks its return value)."""
        return [
            ("functions.core.notifications", "build_notification", None, self.on_notification),
            ("functions.core.jobs", "public_view", None, self.on_job_view),
            ("functions.status.logic", "JobDescription", "to_json", self.on_job_detail),
            ("functions.status.logic", "JobListing", "as_dict", self.on_job_list),
            ("functions.manage.logic", "Redelivery", "as_dict", self.on_redelivery),
            ("functions.core.api_responses", "error_response", None, self.on_error_response),
        ]

    @contextmanager
    def installed(self) -> Iterator[SchemaRecorder]:
        undo: list[Callable[[], None]] = []
        try:
            for module_name, name, method, on_result in self._targets():
                try:
                    owner = getattr(importlib.import_module(module_name), name)
                    if method is not None:
                        getattr(owner, method)
                except (ImportError, AttributeError):
                    self.missing_targets.append(f"{module_name}.{name}" + (f".{method}" if method else ""))
                    continue
                if method is None:
                    undo.extend(_replace_function(module_name, name, on_result, self))
                else:
                    undo.append(_replace_method(owner, method, on_result, self))
            yield self
        finally:
            for restore in reversed(undo):
                restore()

    def summary(self) -> str:
        counted = ", ".join(f"{count} {kind}" for kind, count in sorted(self.counts.items())) or "nothing"
        line = f"schemas: validated {counted}"
        if self.missing_targets:
            line += f" (not wrapped, not found: {', '.join(self.missing_targets)})"
        return line


def _checked(
    original: Callable[..., Any], on_result: Callable[..., None], recorder: SchemaRecorder
) -> Callable[..., Any]:
    @functools.wraps(original)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        result = original(*args, **kwargs)
        try:
            on_result(result, *args)
        except Exception as failure:  # never into the code under test: reported as a violation
            problem = f"could not be validated: {failure!r}"
            recorder.violations.append(Violation(on_result.__name__, [problem], None))
        return result

    wrapper.__schema_checked__ = original  # type: ignore[attr-defined]
    return wrapper


def _replace_function(
    module_name: str, name: str, on_result: Callable[..., None], recorder: SchemaRecorder
) -> list[Callable[[], None]]:
    """Replace `module_name.name`, then every copy of it a project module imported (under any name)."""
    original = getattr(sys.modules[module_name], name)
    wrapper = _checked(original, on_result, recorder)
    undo: list[Callable[[], None]] = []
    holders: list[tuple[Any, str]] = [(sys.modules[module_name], name)]
    for imported_name, module in list(sys.modules.items()):
        if module is None or imported_name.split(".")[0] not in PROJECT_PACKAGES:
            continue
        holders.extend(
            (module, attribute)
            for attribute, value in list(vars(module).items())
            if value is original and (module, attribute) != holders[0]
        )
    for holder, attribute in holders:
        setattr(holder, attribute, wrapper)
        undo.append(functools.partial(setattr, holder, attribute, original))
    return undo


def _replace_method(
    owner: type, method: str, on_result: Callable[..., None], recorder: SchemaRecorder
) -> Callable[[], None]:
    original = owner.__dict__[method]
    setattr(owner, method, _checked(original, on_result, recorder))
    return functools.partial(setattr, owner, method, original)
