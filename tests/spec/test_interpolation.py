"""``${...}`` interpolation and the variables it reads (process environment, ``.env``)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from rtcflow.spec.env import Environment, InterpolationError

VARIABLES = {"A": "a", "EMPTY": "", "PORT": "8080"}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("${A}", "a"),
        ("x-${A}-${PORT}/y", "x-a-8080/y"),
        ("${EMPTY}", ""),
        ("${MISSING:-fallback}", "fallback"),
        ("${EMPTY:-fallback}", "fallback"),
        ("${A:-fallback}", "a"),
        ("${MISSING:-}", ""),
        ("${MISSING:-${A}}", "a"),
        ("${MISSING:-http://${A}:${PORT}/x}", "http://a:8080/x"),
        ("${A:-${MISSING}}", "a"),  # a default is only interpolated when used
        ("${A:?needed}", "a"),
        ("$$", "$"),
        ("$${A}", "${A}"),
        ("$$$${A}", "$${A}"),
        ("$$${A}", "$a"),
        ("costs $5", "costs $5"),
        ("ends with $", "ends with $"),
        ("no references", "no references"),
    ],
)
def test_interpolates(text: str, expected: str) -> None:
    assert Environment(VARIABLES).interpolate(text) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("${MISSING}", "environment variable 'MISSING' is not set"),
        (
            "${MISSING:?set MISSING to the API key}",
            ("environment variable 'MISSING' is not set: set MISSING to the API key"),
        ),
        ("${EMPTY:?must not be empty}", "environment variable 'EMPTY' is empty: must not be empty"),
        ("${MISSING:?}", "environment variable 'MISSING' is not set"),
        ("${MISSING:-${OTHER}}", "environment variable 'OTHER' is not set"),
        ("x ${A", "unterminated '${' at character 3: missing '}'"),
        ("${A:-${B}", "unterminated '${' at character 1: missing '}'"),
        (
            "${1A}",
            ("invalid reference '${1A}': expected ${NAME}, ${NAME:-default} or ${NAME:?message}"),
        ),
        (
            "${A-x}",
            ("invalid reference '${A-x}': expected ${NAME}, ${NAME:-default} or ${NAME:?message}"),
        ),
        ("${}", "invalid reference '${}': expected ${NAME}, ${NAME:-default} or ${NAME:?message}"),
    ],
)
def test_reports_bad_references(text: str, message: str) -> None:
    with pytest.raises(InterpolationError) as raised:
        Environment(VARIABLES).interpolate(text)
    assert str(raised.value) == message


def test_dotenv_beside_the_spec_fills_in_and_process_environment_wins(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text(
        "# comment\nFROM_FILE=file value\nBOTH=from file\nQUOTED='a ${NOT_EXPANDED}'\n"
    )
    environment = Environment.for_spec(tmp_path / "show.yaml", {"BOTH": "from process"})

    assert environment.dotenv_file == tmp_path / ".env"
    assert environment.interpolate("${FROM_FILE}|${BOTH}|${QUOTED}") == (
        "file value|from process|a ${NOT_EXPANDED}"
    )
    assert "FROM_FILE" not in os.environ


def test_without_dotenv_uses_os_environ(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RTCFLOW_TEST_VARIABLE", "from os")
    environment = Environment.for_spec(tmp_path / "show.yaml")

    assert environment.dotenv_file is None
    assert environment.interpolate("${RTCFLOW_TEST_VARIABLE}") == "from os"


def test_repr_does_not_show_values() -> None:
    assert "hunter2" not in repr(Environment({"TOKEN": "hunter2"}))
