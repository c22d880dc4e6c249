"""The compiled plan: constant-subgraph caching, per-frame execution, set_input, errors."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest
import torch

from rtcflow.workflow import NodeExecutionError, NodeRegistry, WorkflowValidationError

from .helpers import compile_api, image


def gain_workflow(loader: dict[str, Any]) -> dict[str, Any]:
    """LoadTensor 1 -> TestApplyGain 2 (gain from node 5) -> SaveTensor 9."""
    return {
        "1": {"class_type": "LoadTensor", "inputs": {}},
        "5": loader,
        "2": {"class_type": "TestApplyGain", "inputs": {"image": ["1", 0], "gain": ["5", 0]}},
        "9": {"class_type": "SaveTensor", "inputs": {"images": ["2", 0]}},
    }


def test_constant_nodes_run_once(registry: NodeRegistry) -> None:
    loader = registry["TestGainLoader"]
    workflow = compile_api(
        gain_workflow({"class_type": "TestGainLoader", "inputs": {"gain": 0.5}}), registry
    )
    assert workflow.constant_nodes == ("5",)
    assert workflow.frame_nodes == ("2",)
    for seed in range(10):
        frame = image(seed=seed)
        assert torch.allclose(workflow.run(frame), frame * 0.5)
    assert loader.calls == 1
    assert registry["TestApplyGain"].calls == 10


def test_set_input_reruns_the_constant_and_its_constant_consumers(
    registry: NodeRegistry,
) -> None:
    loader, product = registry["TestGainLoader"], registry["TestGainProduct"]
    api = gain_workflow(
        {"class_type": "TestGainProduct", "inputs": {"gain": ["6", 0], "factor": 2.0}}
    )
    api["6"] = {"class_type": "TestGainLoader", "inputs": {"gain": 0.25}}
    workflow = compile_api(api, registry)
    assert workflow.constant_nodes == ("6", "5")
    frame = image()
    assert torch.allclose(workflow.run(frame), frame * 0.5)

    workflow.set_input("6", "gain", 0.125)
    assert (loader.calls, product.calls) == (1, 1)  # nothing happens before the next frame
    for _ in range(3):
        assert torch.allclose(workflow.run(frame), frame * 0.25)
    assert (loader.calls, product.calls) == (2, 2)

    workflow.set_input("5", "factor", 4.0)  # only the product re-runs
    assert torch.allclose(workflow.run(frame), frame * 0.5)
    assert (loader.calls, product.calls) == (2, 3)

    workflow.set_input("5", "factor", 4)  # the same value: nothing to redo
    workflow.run(frame)
    assert (loader.calls, product.calls) == (2, 3)


def test_is_changed_reruns_a_constant_node(tmp_path: Path, registry: NodeRegistry) -> None:
    reader = registry["TestGainFromFile"]
    gain_file = tmp_path / "gain.txt"
    gain_file.write_text("0.5")
    workflow = compile_api(
        gain_workflow({"class_type": "TestGainFromFile", "inputs": {"path": str(gain_file)}}),
        registry,
    )
    frame = image()
    for _ in range(5):
        assert torch.allclose(workflow.run(frame), frame * 0.5)
    assert reader.calls == 1

    gain_file.write_text("0.25")
    for _ in range(5):
        assert torch.allclose(workflow.run(frame), frame * 0.25)
    assert reader.calls == 2


def test_is_changed_nan_means_every_frame(registry: NodeRegistry) -> None:
    noisy = registry["TestNoisyGain"]
    workflow = compile_api(
        gain_workflow({"class_type": "TestNoisyGain", "inputs": {"seed": 1, "scale": 0.1}}),
        registry,
    )
    frame = torch.ones((1, 4, 4, 3))
    means = [float(workflow.run(frame).mean()) for _ in range(4)]
    assert noisy.calls == 4
    assert means == pytest.approx([0.2, 0.3, 0.4, 0.5])
    assert workflow.constant_nodes == ("5",)  # still cached between IS_CHANGED checks


def test_output_nodes_run_and_unused_nodes_do_not(registry: NodeRegistry) -> None:
    api = {
        "1": {"class_type": "LoadTensor", "inputs": {}},
        "2": {"class_type": "ImageInvert", "inputs": {"image": ["1", 0]}},
        "3": {"class_type": "TestFrameStats", "inputs": {"image": ["2", 0]}},
        "4": {"class_type": "TestUnusedCounter", "inputs": {"image": ["1", 0]}},
        "9": {"class_type": "SaveTensor", "inputs": {"images": ["1", 0]}},
    }
    workflow = compile_api(api, registry)
    assert workflow.frame_nodes == ("2", "3")
    frames = [torch.full((1, 2, 2, 3), value) for value in (0.25, 0.5)]
    for frame in frames:
        assert torch.equal(workflow.run(frame), frame)
    assert registry["TestFrameStats"].seen == [("3", 0.75), ("3", 0.5)]
    assert registry["TestUnusedCounter"].calls == 0


class Gate:
    """A ComfyUI-protocol node that blocks mid-frame until released (for threading tests)."""

    entered = threading.Event()
    release = threading.Event()
    RETURN_TYPES = ("IMAGE",)
    FUNCTION = "wait"

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"image": ("IMAGE",)}}

    def wait(self, image):
        type(self).entered.set()
        assert type(self).release.wait(10)
        return (image,)


def test_set_input_from_another_thread_waits_for_the_frame_boundary(
    registry: NodeRegistry,
) -> None:
    registry.register({"Gate": Gate})
    api = {
        "1": {"class_type": "LoadTensor", "inputs": {}},
        "2": {"class_type": "Gate", "inputs": {"image": ["1", 0]}},
        "3": {
            "class_type": "RtcflowColorAdjust",
            "inputs": {"image": ["2", 0], "brightness": 1.0, "contrast": 1.0, "saturation": 1.0},
        },
        "9": {"class_type": "SaveTensor", "inputs": {"images": ["3", 0]}},
    }
    workflow = compile_api(api, registry)
    frame = torch.full((1, 2, 2, 3), 0.4)
    outputs: list[torch.Tensor] = []
    runner = threading.Thread(target=lambda: outputs.append(workflow.run(frame)))
    runner.start()
    assert Gate.entered.wait(10)
    workflow.set_input("3", "brightness", 2.0)  # mid-frame, from this (another) thread
    Gate.release.set()
    runner.join(10)
    assert torch.allclose(outputs[0], frame)  # the frame in flight keeps the old value
    assert torch.allclose(workflow.run(frame), frame * 2.0)


@pytest.mark.parametrize(
    ("node_id", "input_name", "value", "message"),
    [
        (
            "3",
            "brightness",
            5.0,
            "node 3 (RtcflowColorAdjust) input 'brightness': value 5.0 is above the maximum 3.0",
        ),
        ("3", "brightness", "bright", "expected a FLOAT, got str"),
        ("3", "image", 1.0, "the input is linked to node 1; only constants can be set"),
        (
            "3",
            "hue",
            1.0,
            "unknown input (the class takes: image, brightness, contrast, saturation)",
        ),
        ("7", "gain", 1.0, "node 7 input 'gain': no such node in the workflow"),
        ("4", "sigma", 2.0, "the node does not run in this workflow"),
        ("5", "channel", "cyan", "value 'cyan' is not one of: 'red', 'green', 'blue'"),
    ],
)
def test_set_input_is_validated(
    node_id: str, input_name: str, value: Any, message: str, registry: NodeRegistry
) -> None:
    api = {
        "1": {"class_type": "LoadTensor", "inputs": {}},
        "3": {
            "class_type": "RtcflowColorAdjust",
            "inputs": {"image": ["1", 0], "brightness": 1.0, "contrast": 1.0, "saturation": 1.0},
        },
        "4": {
            "class_type": "ImageBlur",
            "inputs": {"image": ["1", 0], "blur_radius": 1, "sigma": 1.0},
        },
        "5": {"class_type": "TestChannel", "inputs": {"image": ["3", 0], "channel": "red"}},
        "9": {"class_type": "SaveTensor", "inputs": {"images": ["5", 0]}},
    }
    workflow = compile_api(api, registry)
    with pytest.raises(WorkflowValidationError) as caught:
        workflow.set_input(node_id, input_name, value)
    assert message in str(caught.value)
    frame = image()
    expected = frame * torch.tensor([1.0, 0.0, 0.0])
    assert torch.allclose(workflow.run(frame), expected)  # a refused value changes nothing


def test_input_spec_describes_inputs(registry: NodeRegistry) -> None:
    api = {
        "1": {"class_type": "LoadTensor", "inputs": {}},
        "2": {
            "class_type": "ImageBlend",
            "inputs": {
                "image1": ["1", 0],
                "image2": ["1", 0],
                "blend_factor": 0.5,
                "blend_mode": "screen",
            },
        },
        "9": {"class_type": "SaveTensor", "inputs": {"images": ["2", 0]}},
    }
    workflow = compile_api(api, registry)
    factor = workflow.input_spec("2", "blend_factor")
    assert (factor.type, factor.min, factor.max, factor.default) == ("FLOAT", 0.0, 1.0, 0.5)
    mode = workflow.input_spec("2", "blend_mode")
    assert mode.type == "COMBO"
    assert mode.choices == ("normal", "multiply", "screen", "overlay", "soft_light", "difference")
    assert workflow.input_spec("2", "image1").type == "IMAGE"
    with pytest.raises(WorkflowValidationError, match="unknown input"):
        workflow.input_spec("2", "opacity")


def test_node_errors_name_the_node_and_keep_the_cause(registry: NodeRegistry) -> None:
    api = {
        "1": {"class_type": "LoadTensor", "inputs": {}},
        "4": {"class_type": "TestExplode", "inputs": {"image": ["1", 0]}},
        "9": {"class_type": "SaveTensor", "inputs": {"images": ["4", 0]}},
    }
    workflow = compile_api(api, registry)
    with pytest.raises(NodeExecutionError) as caught:
        workflow.run(image())
    assert str(caught.value) == "node 4 (TestExplode): RuntimeError: kaboom"
    assert (caught.value.node_id, caught.value.class_type) == ("4", "TestExplode")
    assert isinstance(caught.value.__cause__, RuntimeError)


def test_a_node_breaking_the_output_protocol_is_named(registry: NodeRegistry) -> None:
    class ReturnsBare:
        RETURN_TYPES = ("IMAGE",)
        FUNCTION = "run"

        @classmethod
        def INPUT_TYPES(cls):
            return {"required": {"image": ("IMAGE",)}}

        def run(self, image):
            return image  # not a tuple

    registry.register({"ReturnsBare": ReturnsBare})
    api = {
        "1": {"class_type": "LoadTensor", "inputs": {}},
        "2": {"class_type": "ReturnsBare", "inputs": {"image": ["1", 0]}},
        "9": {"class_type": "SaveTensor", "inputs": {"images": ["2", 0]}},
    }
    with pytest.raises(NodeExecutionError, match=r"node 2 \(ReturnsBare\): returned tensor"):
        compile_api(api, registry).run(image())


class OddNames:
    """Input names that are Python keywords or not identifiers, and an optional input."""

    RETURN_TYPES = ("IMAGE",)
    FUNCTION = "run"

    @classmethod
    def INPUT_TYPES(cls):
        number = ("FLOAT", {"default": 0.0, "min": -4.0, "max": 4.0})
        return {
            "required": {"image": ("IMAGE",), "from": number, "two words": number},
            "optional": {"bias": number},
        }

    def run(self, image, **inputs):
        return (image * inputs["from"] + inputs["two words"] + inputs.get("bias", 0.0),)


def test_any_input_name_and_late_optional_inputs(registry: NodeRegistry) -> None:
    registry.register({"OddNames": OddNames})
    api = {
        "1": {"class_type": "LoadTensor", "inputs": {}},
        "2": {
            "class_type": "OddNames",
            "inputs": {"image": ["1", 0], "from": 2.0, "two words": 0.5},
        },
        "9": {"class_type": "SaveTensor", "inputs": {"images": ["2", 0]}},
    }
    workflow = compile_api(api, registry)
    frame = image()
    assert torch.allclose(workflow.run(frame), frame * 2.0 + 0.5)
    workflow.set_input("2", "two words", -1.0)
    assert torch.allclose(workflow.run(frame), frame * 2.0 - 1.0)
    workflow.set_input("2", "bias", 0.25)  # not in the workflow before: a new binding
    assert torch.allclose(workflow.run(frame), frame * 2.0 - 0.75)
