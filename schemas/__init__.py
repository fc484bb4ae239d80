"""The API's OpenAPI description and the JSON Schemas of its job view and notification.

`schemas.models` describes the answers and the notification; `python -m schemas.generate`
writes the committed files next to this module (see `schemas/README.md`)."""

from __future__ import annotations

from pathlib import Path

DIRECTORY = Path(__file__).resolve().parent
