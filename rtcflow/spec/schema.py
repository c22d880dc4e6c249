"""The JSON Schema of a ``Flow`` document, generated from the models.

``schemas/rtcflow.schema.json`` is this schema, checked in so editors can validate specs
(a spec's first line: ``# yaml-language-server: $schema=../schemas/rtcflow.schema.json``);
a test fails when it drifts from the models. Regenerate it with
``rtcflow schema > schemas/rtcflow.schema.json`` or
``python -c "from rtcflow.spec import write_schema; write_schema()"``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from rtcflow.spec.models import Flow

JSON_SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"
SCHEMA_ID = "urn:rtcflow:schema:flow:v1"
SCHEMA_PATH = Path(__file__).resolve().parents[2] / "schemas" / "rtcflow.schema.json"
"""The checked-in schema in a source checkout."""


def flow_json_schema() -> dict[str, Any]:
    """JSON Schema (draft 2020-12) of one ``kind: Flow`` document."""
    schema = Flow.model_json_schema(mode="validation")
    schema.pop("title", None)
    return {
        "$schema": JSON_SCHEMA_DIALECT,
        "$id": SCHEMA_ID,
        "title": "rtcflow Flow",
        **schema,
    }


def schema_text() -> str:
    """The schema as the checked-in file holds it (2-space indent, final newline)."""
    return json.dumps(flow_json_schema(), indent=2) + "\n"


def write_schema(path: Path = SCHEMA_PATH) -> None:
    """Write :func:`schema_text` to ``path``."""
    path.write_text(schema_text(), encoding="utf-8")
