"""The infrastructure code's own text: no stray string literals, documentation that holds."""

from __future__ import annotations

import ast

import pytest

import infra.secrets
from infra.bundling import REPO_ROOT

pytestmark = pytest.mark.infra


def _stray_strings(tree: ast.Module) -> list[int]:
    """Lines of bare string literals that document nothing: not the first statement of a module,
    class or function, and not right after an assignment (an attribute docstring)."""
    stray = []
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if not isinstance(body, list):
            continue
        for index, statement in enumerate(body):
            if not (
                isinstance(statement, ast.Expr)
                and isinstance(statement.value, ast.Constant)
                and isinstance(statement.value.value, str)
            ):
                continue
            documents = index == 0 or isinstance(body[index - 1], ast.Assign | ast.AnnAssign)
            if not documents:
                stray.append(statement.lineno)
    return stray


def test_every_string_literal_statement_documents_something() -> None:
    sources = [*(REPO_ROOT / "infra").glob("*.py"), REPO_ROOT / "app.py"]
    stray = {
        path.name: lines
        for path in sources
        if (lines := _stray_strings(ast.parse(path.read_text(), filename=str(path))))
    }
    assert stray == {}


def test_secrets_document_the_key_rotation_and_where_the_signing_key_goes() -> None:
    doc = infra.secrets.__doc__ or ""
    assert "deepgramApiKeyId=<old id>,<new id>" in " ".join(doc.split())
    assert "It never leaves AWS" in doc
