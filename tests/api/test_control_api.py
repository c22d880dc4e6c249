"""The control API over real HTTP, and flows declared through the reconciler's API."""

from __future__ import annotations

import asyncio

import httpx
import torch

from rtcflow.api.server import ControlServer, create_app
from rtcflow.reconcile.reconciler import Reconciler
from rtcflow.runtime.build import ComponentBuilder, RuntimeOptions
from rtcflow.spec.models import Flow


def live_flow(name: str) -> Flow:
    return Flow.model_validate(
        {
            "apiVersion": "rtcflow/v1",
            "kind": "Flow",
            "metadata": {"name": name},
            "spec": {
                "video": {"width": 64, "height": 64, "fps": 30},
                "source": {"type": "testsrc"},
                "steps": [{"name": "fx"}],
            },
        }
    )


async def test_declared_flow_runs_and_is_reported_over_http(tmp_path):
    reconciler = Reconciler([], ComponentBuilder(RuntimeOptions(device=torch.device("cpu"))))
    server = ControlServer(create_app(reconciler), port=0)
    await server.start()
    try:
        await reconciler.declare(live_flow("api-flow"), origin="test")
        await asyncio.sleep(0.5)
        async with httpx.AsyncClient(base_url=server.url) as client:
            flows = (await client.get("/flows")).json()
            assert [f["name"] for f in flows] == ["api-flow"]
            status = (await client.get("/flows/api-flow/status")).json()
            assert status["phase"] == "Running"
            assert status["conditions"]["ready"] is True
            assert status["graph"]["counters"]["frames_out"] > 0
            assert status["file"] is None
            missing = await client.get("/flows/nope/status")
            assert missing.status_code == 404
            events = (await client.get("/events")).json()
            assert any(e["reason"] == "Started" and e["flow"] == "api-flow" for e in events)

            await reconciler.withdraw("api-flow")
            assert (await client.get("/flows")).json() == []
    finally:
        await reconciler.stop_all()
        await server.stop()


async def test_declaring_a_file_flow_name_is_refused(tmp_path):
    spec = tmp_path / "f.yaml"
    spec.write_text(live_flow("taken").model_dump_json())
    reconciler = Reconciler([spec], ComponentBuilder(RuntimeOptions(device=torch.device("cpu"))))
    await reconciler.reconcile()
    try:
        try:
            await reconciler.declare(live_flow("taken"), origin="test")
        except ValueError as exc:
            assert str(spec) in str(exc)
        else:
            raise AssertionError("declaring over a file flow must fail")
    finally:
        await reconciler.stop_all()
