"""Validation errors as located problems: secrets never printed, union tags stripped."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import pytest
from pydantic import BaseModel, ConfigDict, Discriminator, Field, SecretStr, Tag, ValidationError

from rtcflow.spec.document import parse_documents
from rtcflow.spec.env import Environment
from rtcflow.spec.errors import format_field_path
from rtcflow.spec.validation import validate_document

from .conftest import WriteSpec


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Remote(Strict):
    url: str
    token: SecretStr = Field(min_length=20)


class Remotes(Strict):
    remotes: list[Remote]


class DaydreamParams(Strict):
    prompt: str
    steps: int = 1


class WorkflowStep(Strict):
    name: str
    workflow: dict[str, Any] = {}


class DaydreamStep(Strict):
    name: str
    daydream: DaydreamParams


def _step_kind(value: Any) -> str:
    return "daydream" if isinstance(value, dict) and "daydream" in value else "workflow"


Step = Annotated[
    Annotated[WorkflowStep, Tag("workflow")] | Annotated[DaydreamStep, Tag("daydream")],
    Discriminator(_step_kind),
]


class Chain(Strict):
    steps: list[Step]
    fallback: DaydreamParams | int = 0


def validate(model: type[BaseModel], path: Path, environ: dict[str, str]) -> list[str]:
    documents, problems = parse_documents(path.read_text(), path, Environment(environ))
    assert problems == []
    (document,) = documents
    result, problems = validate_document(model, document, path)
    assert result is None
    return [str(problem) for problem in problems]


def test_secret_values_are_never_in_messages(write_spec: WriteSpec) -> None:
    secrets = ["sk-live-short", "sk-live-typo-0123456789", "sk-env-short", "1234567"]
    path = write_spec(
        """
        remotes:
          - url: http://127.0.0.1:9/a
            token: sk-live-short
          - url: http://127.0.0.1:9/b
            tokn: sk-live-typo-0123456789
          - url: http://127.0.0.1:9/c
            token: ${TOKEN}
          - url: http://127.0.0.1:9/d
            token: 1234567
        """
    )
    environ = {"TOKEN": "sk-env-short"}

    lines = validate(Remotes, path, environ)

    assert lines == [
        f"{path}:3:12: remotes[0].token: "
        "value should have at least 20 items after validation, not 13",
        f"{path}:4:5: remotes[1].token: missing required field",
        f"{path}:5:5: remotes[1].tokn: unknown field; did you mean 'token'?",
        f"{path}:7:12: remotes[2].token: "
        "value should have at least 20 items after validation, not 12",
        f"{path}:9:12: remotes[3].token: input should be a valid string",
    ]
    printed = "\n".join(lines)
    assert not any(secret in printed for secret in secrets)
    # pydantic's own message would have printed them: the check above is not vacuous.
    with pytest.raises(ValidationError) as raised:
        Remotes.model_validate(
            {"remotes": [{"url": "u", "token": "sk-live-short"}, {"url": "u", "tokn": secrets[1]}]}
        )
    assert secrets[0] in str(raised.value) and secrets[1] in str(raised.value)


def test_tags_of_callable_discriminators_and_smart_unions_are_stripped(
    write_spec: WriteSpec,
) -> None:
    # The "daydream" tag equals a field name of its member: only the schema tells them apart.
    path = write_spec(
        """
        steps:
          - name: plain
            workflow: {}
            daydream: oops
          - name: dream
            daydream: {prompt: 5, steps: many}
            bogus: 1
          - {name: dream2, daydream: {steps: 2}}
        fallback: {prompt: [a]}
        """
    )

    assert validate(Chain, path, {}) == [
        f"{path}:3:5: steps[0].workflow: unknown field; expected one of: name, daydream",
        f"{path}:4:15: steps[0].daydream: "
        "input should be a valid dictionary or instance of DaydreamParams",
        f"{path}:6:24: steps[1].daydream.prompt: input should be a valid string",
        f"{path}:6:34: steps[1].daydream.steps: input should be a valid integer, "
        "unable to parse string as an integer",
        f"{path}:7:5: steps[1].bogus: unknown field; expected one of: name, daydream",
        f"{path}:8:30: steps[2].daydream.prompt: missing required field",
        f"{path}:9:11: fallback: input should be a valid integer",
        f"{path}:9:20: fallback.prompt: input should be a valid string",
    ]


@pytest.mark.parametrize(
    ("path", "text"),
    [
        (("spec", "sinks", 1, "path"), "spec.sinks[1].path"),
        (
            ("metadata", "labels", "app.kubernetes.io/name"),
            "metadata.labels['app.kubernetes.io/name']",
        ),
        ((0, "name"), "[0].name"),
        ((), ""),
    ],
)
def test_field_paths(path: tuple[str | int, ...], text: str) -> None:
    assert format_field_path(path) == text
