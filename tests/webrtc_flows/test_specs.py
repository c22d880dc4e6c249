"""The WebRTC spec types: validation messages, secrets, and token changes in the diff."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from rtcflow.reconcile.digest import component_digest
from rtcflow.spec.loader import load_specs
from rtcflow.spec.models import WhepSourceSpec, WhipSinkSpec

FLOW = """
    apiVersion: rtcflow/v1
    kind: Flow
    metadata: {{name: out}}
    spec:
      source: {{type: testsrc}}
      sinks:
        - {{name: gateway, type: whip, url: "http://127.0.0.1:9/whip", token: "{token}"}}
        - {{name: preview, type: preview}}
"""


def test_a_token_only_change_changes_the_component_digest() -> None:
    one = WhipSinkSpec(type="whip", name="g", url="http://h/whip", token="one")
    same = WhipSinkSpec(type="whip", name="g", url="http://h/whip", token="one")
    two = WhipSinkSpec(type="whip", name="g", url="http://h/whip", token="two")
    assert one.model_dump_json() == two.model_dump_json()  # the secret is masked
    assert component_digest(one) == component_digest(same)
    assert component_digest(one) != component_digest(two)
    source = WhepSourceSpec(type="whep", url="http://h/whep", token="one")
    assert component_digest(source) != component_digest(source.model_copy(update={"token": None}))


async def test_reloading_a_new_token_restarts_only_that_sink(run_flows) -> None:
    flows = await run_flows(textwrap.dedent(FLOW.format(token="first-token")))
    preview = flows.graph("out").sinks["preview"]
    flows.spec.write_text(textwrap.dedent(FLOW.format(token="second-token")))
    change = await flows.reconciler.reconcile()
    assert [c.name for c in change.changed] == ["out"]
    assert change.changed[0].sinks.changed == ("gateway",)
    assert flows.graph("out").sinks["preview"] is preview  # untouched
    status = flows.reconciler.status()[0].model_dump_json()
    assert "first-token" not in status and "second-token" not in status


@pytest.mark.parametrize(
    ("entry", "where", "message"),
    [
        ("source: {type: whep, url: ftp://h/x}", "5:29", "spec.source.url: must be an http://"),
        ("source: {type: whep}", "5:11", "spec.source.url: missing required field"),
        ("source: {type: whip, url: http://h/x}", "5:24", "spec.source.url: unknown field"),
        (
            "sinks: [{name: g, type: whip, url: 'http://h/x', codec: h265}]",
            "6:59",
            "spec.sinks[0].codec: expected 'h264' or 'vp8'",
        ),
        (
            "sinks: [{name: g, type: whip, url: 'http://h/x', keyframe_interval: 0}]",
            "6:71",
            "spec.sinks[0].keyframe_interval: input should be greater than 0",
        ),
        (
            "sinks: [{name: p, type: previw}]",
            "6:27",
            "unknown sink type 'previw'; expected one of: file, whip, preview",
        ),
    ],
)
def test_bad_entries_are_reported_at_their_line(
    tmp_path: Path, entry: str, where: str, message: str
) -> None:
    spec = tmp_path / "flow.yaml"
    source = "" if entry.startswith("source") else "  source: {type: testsrc}\n"
    spec.write_text(
        "apiVersion: rtcflow/v1\nkind: Flow\nmetadata: {name: f}\nspec:\n" + source + f"  {entry}\n"
    )
    (loaded,) = load_specs([spec])
    problems = [str(p) for p in loaded.problems]
    assert len(problems) == 1, problems
    assert problems[0].startswith(f"{spec}:{where}: ") and message in problems[0], problems
