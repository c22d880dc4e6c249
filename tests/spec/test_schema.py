"""The JSON Schema: generated from the models, checked in, and what editors validate with."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator
from ruamel.yaml import YAML

from rtcflow.spec import SCHEMA_PATH, flow_json_schema, load_file, write_schema
from rtcflow.spec.schema import SCHEMA_ID, schema_text

from .conftest import WriteSpec

REPO = Path(__file__).resolve().parents[2]
MODELINE = "# yaml-language-server: $schema="
VALIDATOR = Draft202012Validator(flow_json_schema())

FLOW = """\
apiVersion: rtcflow/v1
kind: Flow
metadata: {name: show, labels: {team: video}}
spec:
  video: {width: 640, height: 360, fps: 25}
  source: {type: file, path: clip.mp4, loop: true}
  steps:
    - {name: fx}
  sinks:
    - {name: record, type: file, path: out/show.mkv, gop: 60}
"""


def schema_errors(document: Any) -> list[str]:
    return sorted(
        f"{'.'.join(map(str, error.absolute_path))}: {error.validator}"
        for error in VALIDATOR.iter_errors(document)
    )


def yaml_documents(text: str) -> list[Any]:
    return [doc for doc in YAML(typ="safe", pure=True).load_all(text) if doc is not None]


def test_checked_in_schema_matches_the_models() -> None:
    assert SCHEMA_PATH.read_text(encoding="utf-8") == schema_text(), (
        "schemas/rtcflow.schema.json is out of date with rtcflow/spec/models.py; "
        "regenerate it with: rtcflow schema > schemas/rtcflow.schema.json"
    )


def test_schema_is_a_draft_2020_12_schema_with_identity() -> None:
    schema = flow_json_schema()
    Draft202012Validator.check_schema(schema)
    assert (schema["$id"], schema["title"]) == (SCHEMA_ID, "rtcflow Flow")
    assert schema["required"] == ["apiVersion", "kind", "metadata", "spec"]


def test_write_schema(tmp_path: Path) -> None:
    write_schema(tmp_path / "schema.json")
    assert json.loads((tmp_path / "schema.json").read_text()) == flow_json_schema()


def test_schema_agrees_with_the_models(write_spec: WriteSpec, clip: Path) -> None:
    path = write_spec(FLOW)
    assert load_file(path, {}).problems == []
    (document,) = yaml_documents(FLOW)
    assert schema_errors(document) == []

    bad = FLOW.replace("type: file, path: clip", "type: webcm, path: clip").replace(
        "gop: 60", "gop: 0, colour: red"
    )
    (document,) = yaml_documents(bad)
    assert schema_errors(document) == ["spec.sinks.0: oneOf", "spec.source: oneOf"]
    assert len(load_file(write_spec(bad), {}).problems) == 3  # type, gop, colour


def example_specs() -> list[Path]:
    return sorted(
        path
        for folder in ("specs", "examples")
        for path in (REPO / folder).rglob("*")
        if path.suffix in (".yaml", ".yml") and path.is_file()
    )


@pytest.mark.parametrize("path", example_specs(), ids=lambda p: str(p.relative_to(REPO)))
def test_example_specs_name_the_schema_and_match_it(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    schema = Path(os.path.relpath(SCHEMA_PATH, path.parent)).as_posix()
    assert text.splitlines()[0] == MODELINE + schema, f"{path}: first line must be the modeline"
    for document in yaml_documents(text):
        assert schema_errors(document) == [], path
