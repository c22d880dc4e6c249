"""Helpers for the Daydream flow tests: specs, a solid clip, a probe sink, the reconciler."""

from __future__ import annotations

import asyncio
import io
import json
import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import torch
from ruamel.yaml import YAML

from rtcflow.daydream import parse_params
from rtcflow.daydream.emulator import DaydreamEmulator, apply_effect
from rtcflow.daydream.state import LEDGER_FOLDER
from rtcflow.daydream.step import DaydreamStep
from rtcflow.media.frame import VideoFrame
from rtcflow.reconcile.reconciler import Reconciler
from rtcflow.runtime.build import ComponentBuilder, RuntimeOptions
from rtcflow.sinks.base import Sink
from rtcflow.spec.models import VideoSpec

#: A fresh key per run, so a leak into logs or status shows up as this exact text.
API_KEY = "dd_flow_" + secrets.token_hex(16)
SIZE = 64
FPS = 30
VIDEO = VideoSpec(width=SIZE, height=SIZE, fps=FPS)
#: The clip's colour; the effect tints it toward each prompt's colour.
GREY = (120, 120, 120)
#: H.264 twice (to the emulator and back) plus YUV 4:2:0 moves a flat colour a little.
TOLERANCE = 10
SD_TURBO = "stabilityai/sd-turbo"


def write_solid_clip(path: Path, colour: tuple[int, int, int] = GREY, frames: int = 30) -> Path:
    """A one-second H.264 clip of one flat colour (for a looping file source)."""
    picture = torch.tensor(colour, dtype=torch.uint8).expand(SIZE, SIZE, 3).contiguous()
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=FPS)
        stream.width, stream.height, stream.pix_fmt = SIZE, SIZE, "yuv420p"
        for _ in range(frames):
            frame = av.VideoFrame.from_ndarray(picture.numpy(), format="rgb24")
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return path


def expected(params: Mapping[str, Any], colour: tuple[int, int, int] = GREY) -> list[int]:
    """The colour the emulator's effect gives a flat ``colour`` frame under ``params``."""
    frame = torch.tensor(colour, dtype=torch.uint8).expand(SIZE, SIZE, 3).contiguous()
    return apply_effect(frame, parse_params({"model_id": SD_TURBO, **params}))[0, 0].tolist()


def centre(frame: VideoFrame) -> list[int]:
    """The mean colour of the frame's central quarter (coding noise averages out)."""
    h, w = frame.height, frame.width
    patch = frame.data[h // 4 : 3 * h // 4, w // 4 : 3 * w // 4].to(torch.float32)
    return [round(v) for v in patch.mean(dim=(0, 1)).tolist()]


def close_to(sample: list[int] | None, colour: list[int]) -> bool:
    return sample is not None and all(
        abs(a - b) <= TOLERANCE for a, b in zip(sample, colour, strict=True)
    )


def flow_yaml(
    clip: Path,
    params: Mapping[str, Any],
    *,
    name: str = "show",
    on_cold_change: str | None = None,
    api_url: str | None = None,
    timeline: list[dict[str, Any]] | None = None,
) -> str:
    """A flow: the looping clip through a ``dream`` Daydream step (block-style YAML)."""
    daydream: dict[str, Any] = {"params": {"model_id": SD_TURBO, **params}}
    if on_cold_change is not None:
        daydream["on_cold_change"] = on_cold_change
    if api_url is not None:
        daydream["api_url"] = api_url
    body: dict[str, Any] = {
        "video": {"width": SIZE, "height": SIZE, "fps": FPS},
        "source": {"type": "file", "path": str(clip), "loop": True},
        "steps": [{"name": "dream", "daydream": daydream}],
    }
    if timeline is not None:
        body["timeline"] = timeline
    document = {
        "apiVersion": "rtcflow/v1",
        "kind": "Flow",
        "metadata": {"name": name},
        "spec": body,
    }
    out = io.StringIO()
    YAML().dump(document, out)
    return out.getvalue()


@dataclass(frozen=True)
class Sample:
    received: float  # time.monotonic()
    colour: list[int]


class ProbeSink(Sink):
    """Records when each output frame arrived and its centre colour."""

    def __init__(self) -> None:
        super().__init__(None, VIDEO)
        self.samples: list[Sample] = []

    async def write(self, frame: VideoFrame) -> None:
        self.samples.append(Sample(time.monotonic(), centre(frame)))

    def since(self, moment: float) -> list[Sample]:
        return [s for s in self.samples if s.received >= moment]


class DaydreamFlows:
    """Flows of one spec file in ``folder``, reconciled against the emulator."""

    def __init__(
        self,
        folder: Path,
        emulator_url: str,
        *,
        api_key: str = API_KEY,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        self.spec = folder / "flows.yaml"
        self.state_dir = folder / ".rtcflow"
        env = {"DAYDREAM_API_KEY": api_key, "DAYDREAM_API_URL": emulator_url}
        options = RuntimeOptions(device=torch.device("cpu"), state_dir=self.state_dir)
        self.reconciler = Reconciler(
            [self.spec], ComponentBuilder(options), environ={**env, **(environ or {})}
        )

    async def apply(self, text: str) -> None:
        """Write the spec file and reconcile (what the file watcher does)."""
        self.spec.write_text(text)
        await self.reconciler.reconcile()

    def step(self, flow: str = "show", name: str = "dream") -> DaydreamStep:
        step = self.reconciler.flows[flow].steps[name]
        assert isinstance(step, DaydreamStep)
        return step

    def probe(self, flow: str = "show") -> ProbeSink:
        probe = ProbeSink()
        self.reconciler.flows[flow].graph.add_sink("probe", probe)
        return probe

    def ledger_ids(self) -> set[str]:
        """Stream ids recorded in the state dir (every process's files)."""
        folder = self.state_dir / LEDGER_FOLDER
        return {
            record["id"]
            for path in folder.glob("*.json")
            for record in json.loads(path.read_text())
        }

    async def stop(self) -> None:
        await self.reconciler.stop_all()


def patches(emulator: DaydreamEmulator) -> list[dict[str, Any]]:
    """The ``params`` of every PATCH the emulator received, in order."""
    return [r.body["params"] for r in emulator.requests if r.method == "PATCH"]


def requests(emulator: DaydreamEmulator, method: str, path: str = "/v1/streams") -> list[Any]:
    return [r for r in emulator.requests if r.method == method and r.path == path]


async def until(predicate: Callable[[], Any], timeout: float = 30.0, interval: float = 0.05) -> Any:
    """Poll ``predicate`` until it returns something truthy; fail after ``timeout``."""
    async with asyncio.timeout(timeout):
        while not (result := predicate()):
            await asyncio.sleep(interval)
    return result


def solid_frame(colour: tuple[int, int, int], pts: int) -> VideoFrame:
    data = torch.tensor(colour, dtype=torch.uint8).expand(SIZE, SIZE, 3).contiguous()
    return VideoFrame(data, pts=pts, time_base=Fraction(1, FPS))
