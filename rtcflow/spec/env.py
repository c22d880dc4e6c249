"""Environment interpolation in spec strings.

The syntax is the POSIX-shell subset Docker Compose uses
(https://docs.docker.com/compose/how-tos/environment-variables/variable-interpolation/):

- ``${VAR}``: the value of ``VAR``; an error when it is not set.
- ``${VAR:-default}``: ``default`` when ``VAR`` is unset or empty (``default`` may itself
  contain ``${...}``; it is interpolated only when used).
- ``${VAR:?message}``: an error saying ``message`` when ``VAR`` is unset or empty.
- ``$$``: a literal ``$``. A ``$`` followed by anything else is kept as it is.

Inside YAML flow collections (``{...}``, ``[...]``) a ``${...}`` must be quoted, because
``{`` and ``}`` are flow indicators there (YAML 1.2, section 7.4).

Variables come from the process environment, then from a ``.env`` file beside the spec
file (read with python-dotenv, taken literally, never written to ``os.environ``); the
process environment wins.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from dotenv import dotenv_values

DOTENV_NAME = ".env"

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


class InterpolationError(ValueError):
    """A ``${...}`` reference that cannot be resolved or is malformed."""


@dataclass(frozen=True)
class Environment:
    """The variables a spec file's strings are interpolated from."""

    variables: Mapping[str, str] = field(repr=False)
    dotenv_file: Path | None = None
    """The ``.env`` file that was read, if there was one."""

    @classmethod
    def for_spec(cls, spec_file: Path, environ: Mapping[str, str] | None = None) -> Environment:
        """``environ`` (default ``os.environ``) over the ``.env`` beside ``spec_file``."""
        process = os.environ if environ is None else environ
        dotenv_file = spec_file.parent / DOTENV_NAME
        if not dotenv_file.is_file():
            return cls(dict(process))
        from_file = dotenv_values(dotenv_file, interpolate=False)
        variables = {name: value for name, value in from_file.items() if value is not None}
        variables.update(process)
        return cls(variables, dotenv_file)

    def interpolate(self, text: str) -> str:
        """``text`` with every ``${...}`` replaced and ``$$`` unescaped."""
        return _Interpolator(text, self.variables).run()


class _Interpolator:
    """A single left-to-right pass over one string (recursive for nested defaults)."""

    def __init__(self, text: str, variables: Mapping[str, str]) -> None:
        self.text = text
        self.variables = variables

    def run(self) -> str:
        text, out, i = self.text, [], 0
        while i < len(text):
            dollar = text.find("$", i)
            if dollar < 0:
                out.append(text[i:])
                break
            out.append(text[i:dollar])
            following = text[dollar + 1 : dollar + 2]
            if following == "$":
                out.append("$")
                i = dollar + 2
            elif following == "{":
                end = self._closing_brace(dollar + 2)
                out.append(self._expand(text[dollar + 2 : end]))
                i = end + 1
            else:
                out.append("$")
                i = dollar + 1
        return "".join(out)

    def _closing_brace(self, start: int) -> int:
        """Index of the ``}`` closing the ``${`` that ends just before ``start``."""
        text, depth, i = self.text, 0, start
        while i < len(text):
            if text.startswith("$$", i):
                i += 2
                continue
            if text.startswith("${", i):
                depth += 1
                i += 2
                continue
            if text[i] == "}":
                if depth == 0:
                    return i
                depth -= 1
            i += 1
        raise InterpolationError(f"unterminated '${{' at character {start - 1}: missing '}}'")

    def _expand(self, body: str) -> str:
        match = _NAME.match(body)
        name = match.group() if match else ""
        operator, argument = body[len(name) : len(name) + 2], body[len(name) + 2 :]
        if not name or (operator not in (":-", ":?") and body != name):
            raise InterpolationError(
                f"invalid reference '${{{body}}}': expected ${{NAME}}, ${{NAME:-default}} "
                "or ${NAME:?message}"
            )
        value = self.variables.get(name)
        if operator == ":-":
            return value if value else _Interpolator(argument, self.variables).run()
        if operator == ":?" and not value:
            state = "empty" if value == "" else "not set"
            reason = f": {argument}" if argument else ""
            raise InterpolationError(f"environment variable {name!r} is {state}{reason}")
        if value is None:
            raise InterpolationError(f"environment variable {name!r} is not set")
        return value
