"""A clip through a Daydream step against the emulator (real WHIP/WHEP on loopback), edited live.

The emulator tints each frame by its prompt, so the output's colour says which params
the stream has; every spec edit goes through the reconciler as the file watcher sends it.
"""

from __future__ import annotations

import asyncio
import logging
import time
from pathlib import Path

import pytest

from rtcflow.daydream.emulator import DaydreamEmulator, WebRTCMedia
from tests.daydream_flows.daydream_testing import (
    API_KEY,
    DaydreamFlows,
    close_to,
    expected,
    flow_yaml,
    patches,
    requests,
    until,
)

SUNSET = {"prompt": "a sunset", "guidance_scale": 4.0}
NEON = {"prompt": "neon city", "guidance_scale": 4.0}
#: Output frames (30 per second) from a PATCH being sent to the first frame showing it.
MAX_FRAMES_TO_SHOW_A_PATCH = 60


async def test_output_shows_the_params_and_an_edit_patches_the_running_stream(
    flows: DaydreamFlows, emulator: DaydreamEmulator, clip: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    assert expected(SUNSET) != expected(NEON)
    await flows.apply(flow_yaml(clip, SUNSET))
    step = flows.step()
    probe = flows.probe()
    await until(lambda: any(close_to(s.colour, expected(SUNSET)) for s in probe.samples))
    (stream_id,) = emulator.streams
    assert flows.ledger_ids() == {stream_id}

    edited = time.monotonic()
    await flows.apply(flow_yaml(clip, NEON))
    assert flows.step() is step  # the running step took the edit; nothing was rebuilt
    await until(lambda: any(close_to(s.colour, expected(NEON)) for s in probe.since(edited)))
    after = probe.since(edited)
    shown = next(i for i, s in enumerate(after) if close_to(s.colour, expected(NEON)))
    assert shown <= MAX_FRAMES_TO_SHOW_A_PATCH
    assert patches(emulator) == [{"model_id": "stabilityai/sd-turbo", "prompt": "neon city"}]
    assert list(emulator.streams) == [stream_id]  # the same stream, patched
    status = flows.reconciler.flows["show"].graph.status()["steps"]["dream"]
    assert status["params"]["prompt"] == "neon city"
    assert status["params_applied_at"] is not None
    assert status["state"] == "live"
    assert API_KEY not in repr(flows.reconciler.status())
    assert API_KEY not in caplog.text and "daydream" in caplog.text


async def test_a_burst_of_edits_is_one_patch_with_the_last_values(
    flows: DaydreamFlows, emulator: DaydreamEmulator, clip: Path
) -> None:
    await flows.apply(flow_yaml(clip, SUNSET))
    await flows.apply(flow_yaml(clip, {**SUNSET, "guidance_scale": 2.0}))
    await flows.apply(flow_yaml(clip, {**SUNSET, "guidance_scale": 3.0, "seed": 7}))
    await until(lambda: patches(emulator))
    await asyncio.sleep(0.6)  # longer than the coalescing window: nothing else comes
    assert patches(emulator) == [
        {"model_id": "stabilityai/sd-turbo", "guidance_scale": 3.0, "seed": 7}
    ]


async def test_a_cold_change_is_rejected_at_its_line_and_the_stream_kept(
    flows: DaydreamFlows, emulator: DaydreamEmulator, clip: Path
) -> None:
    await flows.apply(flow_yaml(clip, SUNSET))
    step = flows.step()
    probe = flows.probe()
    await until(lambda: any(close_to(s.colour, expected(SUNSET)) for s in probe.samples))

    text = flow_yaml(clip, {**NEON, "width": 512})
    await flows.apply(text)
    error = flows.reconciler.apply_errors["show"]
    line = text.splitlines().index("        width: 512") + 1
    assert f"{flows.spec}:{line}:" in error
    assert "spec.steps[0].daydream.params.width" in error
    assert "on_cold_change" in error
    assert flows.step() is step
    assert patches(emulator) == []  # not even the hot part of the edit went out
    edited = time.monotonic()
    await asyncio.sleep(0.5)
    assert all(close_to(s.colour, expected(SUNSET)) for s in probe.since(edited))

    await flows.apply(flow_yaml(clip, NEON))  # fixed: the hot edit applies
    assert "show" not in flows.reconciler.apply_errors
    await until(lambda: patches(emulator))


async def test_reload_patches_a_cold_change_anyway(
    flows: DaydreamFlows, emulator: DaydreamEmulator, clip: Path
) -> None:
    await flows.apply(flow_yaml(clip, SUNSET))  # reject, until the edit that says reload
    (stream_id,) = emulator.streams
    await flows.apply(flow_yaml(clip, {**SUNSET, "width": 512}, on_cold_change="reload"))
    await until(lambda: patches(emulator))
    assert patches(emulator) == [{"model_id": "stabilityai/sd-turbo", "width": 512}]
    assert emulator.streams[stream_id].restart_count == 1  # the service reloaded


async def test_recreate_swaps_in_a_new_stream_once_it_has_output(
    flows: DaydreamFlows, emulator: DaydreamEmulator, clip: Path
) -> None:
    await flows.apply(flow_yaml(clip, SUNSET, on_cold_change="recreate"))
    probe = flows.probe()
    await until(lambda: any(close_to(s.colour, expected(SUNSET)) for s in probe.samples))
    (old,) = emulator.streams

    edited = time.monotonic()
    await flows.apply(flow_yaml(clip, {**NEON, "width": 512}, on_cold_change="recreate"))
    assert len(emulator.streams) == 2  # the new stream runs beside the old one
    await until(lambda: list(emulator.streams) != [old] and len(emulator.streams) == 1)
    (new,) = emulator.streams
    assert new != old and patches(emulator) == []
    assert emulator.streams[new].params.width == 512
    await until(lambda: any(close_to(s.colour, expected(NEON)) for s in probe.since(edited)))
    after = probe.since(edited)
    first_new = next(i for i, s in enumerate(after) if close_to(s.colour, expected(NEON)))
    # Until the new stream had output, the old one's kept coming: no gap, no raw input.
    assert all(close_to(s.colour, expected(SUNSET)) for s in after[:first_new])
    assert flows.ledger_ids() == {new}


async def test_removing_the_flow_deletes_its_stream(
    flows: DaydreamFlows, emulator: DaydreamEmulator, clip: Path
) -> None:
    await flows.apply(flow_yaml(clip, SUNSET))
    (stream_id,) = emulator.streams
    await flows.apply(flow_yaml(clip, SUNSET, name="other"))
    assert "show" not in flows.reconciler.flows
    assert stream_id not in emulator.streams
    assert [r.query for r in requests(emulator, "DELETE")] == [{"id": stream_id}]
    await flows.stop()
    assert emulator.streams == {} and flows.ledger_ids() == set()
    assert not any((flows.state_dir / "daydream-streams").iterdir())


async def test_another_api_url_rebuilds_the_step_on_the_new_service(
    flows: DaydreamFlows, emulator: DaydreamEmulator, clip: Path
) -> None:
    await flows.apply(flow_yaml(clip, SUNSET))
    step = flows.step()
    (old,) = emulator.streams
    async with DaydreamEmulator(api_key=API_KEY, media=WebRTCMedia()) as other:
        assert other.url is not None
        await flows.apply(flow_yaml(clip, SUNSET, api_url=other.url))
        assert flows.step() is not step
        assert emulator.streams == {} and [r.query for r in requests(emulator, "DELETE")] == [
            {"id": old}
        ]
        (new,) = other.streams
        assert flows.ledger_ids() == {new}
        await flows.stop()
