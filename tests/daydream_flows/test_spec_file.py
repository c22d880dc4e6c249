"""``specs/daydream.yaml``: the hosted service by default, the emulator when pointed at it."""

from __future__ import annotations

from pathlib import Path

import av

from rtcflow.daydream.emulator import DaydreamEmulator
from rtcflow.daydream.spec import DaydreamStepSpec
from rtcflow.spec.loader import load_specs
from tests.daydream_flows.daydream_testing import DaydreamFlows, requests, until

SPEC = Path(__file__).resolve().parents[2] / "specs" / "daydream.yaml"


def test_the_spec_targets_the_service_unless_told_otherwise() -> None:
    (file,) = load_specs([SPEC], environ={})
    assert file.problems == []
    step = file.flows[0].flow.spec.steps[0]
    assert isinstance(step, DaydreamStepSpec)
    assert step.daydream.api_url == "https://api.daydream.live"
    assert SPEC.read_text().startswith(
        "# yaml-language-server: $schema=../schemas/rtcflow.schema.json\n"
    )
    (file,) = load_specs([SPEC], environ={"DAYDREAM_API_URL": "http://127.0.0.1:8787"})
    assert file.flows[0].flow.spec.steps[0].daydream.api_url == "http://127.0.0.1:8787"


async def test_the_spec_runs_offline_against_the_emulator(
    tmp_path: Path, emulator: DaydreamEmulator
) -> None:
    assert emulator.url is not None
    clip = SPEC.parent.parent / "examples" / "media" / "clip.mp4"
    record = tmp_path / "daydream.mkv"
    text = SPEC.read_text().replace("../examples/media/clip.mp4", str(clip))
    text = text.replace("../out/daydream.mkv", str(record))
    flows = DaydreamFlows(tmp_path, emulator.url)
    try:
        await flows.apply(text)
        assert flows.reconciler.apply_errors == {}
        step = flows.step("daydream")
        await until(lambda: step.status()["frames_received"] >= 30)
        (stream,) = emulator.streams.values()
        assert stream.params.prompt == "a watercolor painting of a sunset"
        assert requests(emulator, "POST")[0].body["params"]["seed"] == 42
    finally:
        await flows.stop()
    with av.open(str(record)) as container:
        assert sum(1 for _ in container.decode(video=0)) > 30
    assert emulator.streams == {}


def _problems(tmp_path: Path, steps: str) -> list[str]:
    spec = tmp_path / "flow.yaml"
    spec.write_text(
        "apiVersion: rtcflow/v1\nkind: Flow\nmetadata: {name: f}\nspec:\n"
        f"  source: {{type: testsrc}}\n  steps:\n{steps}"
    )
    (file,) = load_specs([spec], environ={})
    return [str(problem).removeprefix(f"{spec}:") for problem in file.problems]


def test_step_kinds_and_their_errors_are_located(tmp_path: Path) -> None:
    both = (
        "    - name: dream\n"
        "      workflow: {}\n"
        "      daydream: {params: {model_id: stabilityai/sd-turbo}}\n"
    )
    assert _problems(tmp_path, both) == [
        "9:17: spec.steps[0].daydream: a step has either 'workflow' or 'daydream', not both"
    ]
    narrow = (
        "    - {name: fx}\n"
        "    - name: dream\n"
        "      daydream:\n"
        "        params: {model_id: stabilityai/sd-turbo, width: 100}\n"
    )
    assert _problems(tmp_path, narrow) == [
        "10:57: spec.steps[1].daydream.params.width: input should be a multiple of 64"
    ]
