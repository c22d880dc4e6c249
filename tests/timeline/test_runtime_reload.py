"""Timeline edits through the reconciler: applied in place, restarted by the token or by
``--restart-timeline``, rejected with the spec location when a target does not fit."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from rtcflow.cli import _status_line, build_parser
from rtcflow.reconcile.diff import diff
from rtcflow.reconcile.digest import flow_digests
from rtcflow.reconcile.reconciler import Reconciler
from rtcflow.runtime.build import ComponentBuilder, RuntimeOptions
from rtcflow.spec.models import Flow
from tests.components import ADJUST

SPEC = """\
apiVersion: rtcflow/v1
kind: Flow
metadata: {{name: show}}
spec:
  video: {{width: 32, height: 32, fps: 30}}
  source: {{type: testsrc}}
  steps: [{{name: fx, workflow: {{file: fx.json}}}}]
  timeline: {timeline}
"""


def flow(timeline: object, **spec: object) -> Flow:
    return Flow.model_validate(
        {
            "apiVersion": "rtcflow/v1",
            "kind": "Flow",
            "metadata": {"name": "show"},
            "spec": {"source": {"type": "testsrc"}, "timeline": timeline, **spec},
        }
    )


def test_a_timeline_edit_is_a_change_in_place_and_the_token_a_restart():
    before = flow({"cues": [{"at": 1, "set": {"x.prompt": "a"}}]}, steps=[{"name": "x"}])
    edited = flow({"cues": [{"at": 2, "set": {"x.prompt": "a"}}]}, steps=[{"name": "x"}])
    token = flow(
        {"restart": 1, "cues": [{"at": 1, "set": {"x.prompt": "a"}}]}, steps=[{"name": "x"}]
    )
    (change,) = diff({"show": flow_digests(before)}, {"show": flow_digests(edited)}).changed
    assert change.timeline and not change.timeline_restart and not change.restart
    assert change.describe() == ["~ flow show: timeline changed (origin kept)"]
    (change,) = diff({"show": flow_digests(before)}, {"show": flow_digests(token)}).changed
    assert change.timeline_restart and not change.timeline and not change.restart
    assert change.describe() == ["~ flow show: timeline restarted"]


@pytest.fixture
def spec(tmp_path: Path) -> Path:
    (tmp_path / "fx.json").write_text(json.dumps(ADJUST))
    path = tmp_path / "show.yaml"
    path.write_text(SPEC.format(timeline="[{at: 1h, set: {fx.2.brightness: 0.5}}]"))
    return path


async def running(spec: Path, **options: bool) -> Reconciler:
    builder = ComponentBuilder(RuntimeOptions(device=torch.device("cpu")))
    reconciler = Reconciler([spec], builder, **options)
    await reconciler.reconcile()
    assert reconciler.apply_errors == {}
    return reconciler


def reasons(reconciler: Reconciler) -> list[str]:
    return [event.reason for event in reconciler.events.for_flow("show")]


async def test_an_edit_updates_the_running_timeline_in_place(spec: Path):
    reconciler = await running(spec)
    try:
        graph, driver = reconciler.flows["show"].graph, reconciler.flows["show"].timeline
        spec.write_text(SPEC.format(timeline="[{at: 2h, set: {fx.2.contrast: 0.5}}]"))
        await reconciler.reconcile()
        assert reasons(reconciler) == ["Started", "TimelineUpdated"]
        running_flow = reconciler.flows["show"]
        assert running_flow.graph is graph and running_flow.timeline is driver
        assert [str(t) for t in driver.timeline.targets] == ["fx.2.contrast"]
        status = reconciler.status()[0]
        assert status.desired_digest == status.running_digest
        assert status.graph["timeline"]["next_cue"][0]["target"] == "fx.2.contrast"
        assert " timeline=0:00:0" in _status_line(status)
        assert _status_line(status).endswith(" next=fx.2.contrast@2:00:00.000")
    finally:
        await reconciler.stop_all()


async def test_restart_timeline_restarts_on_every_edit(spec: Path):
    reconciler = await running(spec, restart_timeline=True)
    try:
        spec.write_text(SPEC.format(timeline="[{at: 2h, set: {fx.2.contrast: 0.5}}]"))
        await reconciler.reconcile()
        assert reasons(reconciler) == ["Started", "TimelineRestarted"]
    finally:
        await reconciler.stop_all()
    args = build_parser().parse_args(["apply", str(spec), "--restart-timeline"])
    assert args.restart_timeline


async def test_a_target_that_does_not_fit_is_rejected_and_the_old_timeline_runs(spec: Path):
    reconciler = await running(spec)
    try:
        driver = reconciler.flows["show"].timeline
        assert driver is not None
        old = driver.timeline
        spec.write_text(SPEC.format(timeline="[{at: 2h, set: {fx.2.brightness: 7}}]"))
        await reconciler.reconcile()
        assert reasons(reconciler) == ["Started", "TimelineRejected"]
        error = reconciler.apply_errors["show"]
        assert f"{spec}:8:46: spec.timeline[0].set['fx.2.brightness']: 7 is outside" in error
        assert driver.timeline is old
        status = reconciler.status()[0]
        assert status.conditions.degraded and status.desired_digest != status.running_digest
    finally:
        await reconciler.stop_all()


async def test_a_flow_whose_timeline_does_not_fit_does_not_start(spec: Path):
    spec.write_text(SPEC.format(timeline="[{at: 1s, set: {fx.2.nope: 1}}]"))
    builder = ComponentBuilder(RuntimeOptions(device=torch.device("cpu")))
    reconciler = Reconciler([spec], builder)
    await reconciler.reconcile()
    assert "show" not in reconciler.flows
    assert (
        "spec.timeline[0].set['fx.2.nope']: node 2 (RtcflowColorAdjust): unknown input"
        in (reconciler.apply_errors["show"])
    )
