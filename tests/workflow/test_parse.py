"""Parsing workflows: API format, UI-format conversion, frame-node conversion, bad input."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
import torch

from rtcflow.workflow import (
    DEFAULT_WORKFLOW,
    NodeLink,
    NodeRegistry,
    WorkflowFormatError,
    WorkflowValidationError,
    compile_workflow,
    parse_workflow,
)
from rtcflow.workflow.nodes.color import ImageBlend
from rtcflow.workflow.nodes.filters import ImageBlur

from .helpers import image

WORKFLOWS = Path(__file__).resolve().parents[2] / "workflows"


def test_api_format_links_constants_and_titles(registry: NodeRegistry) -> None:
    api = {
        "1": {"class_type": "LoadTensor", "inputs": {}, "_meta": {"title": "In"}},
        "2": {
            "class_type": "ImageBlur",
            "inputs": {"image": ["1", 0], "blur_radius": 2, "sigma": 1.5},
        },
        "3": {"class_type": "Custom", "inputs": {"sizes": {"__value__": [512, 512]}}},
        "4": {"class_type": "SaveTensor", "inputs": {"images": ["2", 0]}},
    }
    graph = parse_workflow(json.dumps(api), registry)
    assert graph.nodes["2"].inputs == {
        "image": NodeLink(node_id="1", slot=0),
        "blur_radius": 2,
        "sigma": 1.5,
    }
    assert graph.nodes["3"].inputs == {"sizes": [512, 512]}  # a list constant, not a link
    assert graph.nodes["1"].title == "In"
    assert graph.to_api() == api


def test_file_is_read_and_named_in_errors(tmp_path: Path, registry: NodeRegistry) -> None:
    path = tmp_path / "flow.json"
    path.write_text(json.dumps(DEFAULT_WORKFLOW))
    assert parse_workflow(path, registry).source == str(path)

    path.write_text('{"1": {"class_type": "LoadTensor",\n  "inputs": {}}\n  "2": {}}')
    with pytest.raises(WorkflowFormatError, match=rf"{path}:3:3: invalid JSON"):
        parse_workflow(path, registry)

    with pytest.raises(WorkflowFormatError, match=r"cannot read workflow .*missing\.json"):
        parse_workflow(tmp_path / "missing.json", registry)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ([1, 2], "a workflow is a JSON object, not list"),
        ({}, "the workflow has no nodes"),
        ({"5": {"inputs": {}}}, "node 5: 'class_type' is missing"),
        ({"5": ["LoadTensor"]}, "node 5: expected an object"),
        ({"5": {"class_type": "X", "inputs": [1]}}, r"node 5 \(X\): 'inputs' is not an object"),
    ],
)
def test_malformed_api_workflows(data: Any, message: str, registry: NodeRegistry) -> None:
    with pytest.raises(WorkflowFormatError, match=message):
        parse_workflow(json.dumps(data), registry)


def test_default_workflow_is_the_invert_example(registry: NodeRegistry) -> None:
    example = parse_workflow(WORKFLOWS / "invert.json", registry).to_api()
    for node in example.values():
        node.pop("_meta", None)
    assert example == DEFAULT_WORKFLOW
    frame = image()
    workflow = compile_workflow(parse_workflow(DEFAULT_WORKFLOW, registry), registry)
    assert torch.equal(workflow.run(frame), 1.0 - frame)


def test_every_example_workflow_compiles(registry: NodeRegistry) -> None:
    examples = sorted(WORKFLOWS.glob("*.json"))
    assert {path.name for path in examples} >= {"invert.json", "soft-glow.json"}
    for path in examples:
        workflow = compile_workflow(parse_workflow(path, registry), registry)
        out = workflow.run(image(24, 32))
        assert out.shape == (1, 24, 32, 3)
        assert float(out.min()) >= 0.0 and float(out.max()) <= 1.0


def test_lone_load_and_save_image_become_frame_nodes(registry: NodeRegistry) -> None:
    api = {
        "7": {"class_type": "LoadImage", "inputs": {"image": "example.png", "upload": "image"}},
        "8": {"class_type": "ImageInvert", "inputs": {"image": ["7", 0]}},
        "9": {"class_type": "PreviewImage", "inputs": {"images": ["8", 0]}},
    }
    graph = parse_workflow(api, registry)
    assert graph.nodes["7"].class_type == "LoadTensor"
    assert graph.nodes["7"].inputs == {}
    assert graph.nodes["9"].class_type == "SaveTensor"
    assert graph.nodes["9"].inputs == {"images": NodeLink(node_id="8", slot=0)}


def test_two_load_images_are_not_guessed(registry: NodeRegistry) -> None:
    api = {
        "1": {"class_type": "LoadImage", "inputs": {"image": "a.png"}},
        "2": {"class_type": "LoadImage", "inputs": {"image": "b.png"}},
        "3": {
            "class_type": "ImageBlend",
            "inputs": {
                "image1": ["1", 0],
                "image2": ["2", 0],
                "blend_factor": 0.5,
                "blend_mode": "normal",
            },
        },
        "4": {"class_type": "SaveImage", "inputs": {"images": ["3", 0], "filename_prefix": "x"}},
    }
    graph = parse_workflow(api, registry)
    assert [node.class_type for node in graph.nodes.values()][:2] == ["LoadImage", "LoadImage"]
    with pytest.raises(WorkflowValidationError) as caught:
        compile_workflow(graph, registry)
    text = str(caught.value)
    assert (
        "the workflow has no frame input: add a LoadTensor node (or exactly one LoadImage)" in text
    )
    assert "node 1 (LoadImage): unknown node class" in text


# -- the editor (UI) format ----------------------------------------------------------------


def _ui_workflow() -> dict[str, Any]:
    """An editor-format workflow using every conversion rule.

    LoadImage(10) -> TestNoise(11, seed widget + control value) -> Reroute(12) ->
    ImageBlur(13, sigma converted to an input fed by PrimitiveNode 14) ->
    ImageSharpen(15, bypassed) -> ImageBlend(16, image2 from 10) -> SaveImage(19);
    ImageInvert(17) is muted; Note(18) is editor-only.
    """

    def node(node_id, type_, inputs=(), widgets=None, mode=0):
        entry = {
            "id": node_id,
            "type": type_,
            "mode": mode,
            "pos": [0, 0],
            "inputs": [
                {
                    "name": name,
                    "type": kind,
                    "link": link,
                    **({"widget": {"name": name}} if kind in ("FLOAT", "INT") else {}),
                }
                for name, kind, link in inputs
            ],
            "outputs": [{"name": "IMAGE", "type": "IMAGE", "links": []}],
        }
        if widgets is not None:
            entry["widgets_values"] = widgets
        return entry

    return {
        "last_node_id": 19,
        "last_link_id": 9,
        "nodes": [
            node(10, "LoadImage", widgets=["example.png", "image"]),
            node(11, "TestNoise", [("image", "IMAGE", 1)], [42, "randomize", 0.25]),
            node(12, "Reroute", [("", "*", 2)]),
            node(13, "ImageBlur", [("image", "IMAGE", 3), ("sigma", "FLOAT", 4)], [3, 1.0]),
            {
                "id": 14,
                "type": "PrimitiveNode",
                "mode": 0,
                "inputs": [],
                "outputs": [
                    {"name": "FLOAT", "type": "FLOAT", "links": [4], "widget": {"name": "sigma"}}
                ],
                "widgets_values": [2.5, "fixed"],
            },
            node(15, "ImageSharpen", [("image", "IMAGE", 5)], [1, 1.0, 1.0], mode=4),
            node(
                16,
                "ImageBlend",
                [("image1", "IMAGE", 7), ("image2", "IMAGE", 6)],
                [0.5, "multiply"],
            ),
            node(17, "ImageInvert", [("image", "IMAGE", 8)], mode=2),
            {"id": 18, "type": "Note", "mode": 0, "widgets_values": ["remember the milk"]},
            node(19, "SaveImage", [("images", "IMAGE", 9)], ["ComfyUI"]),
        ],
        "links": [
            [1, 10, 0, 11, 0, "IMAGE"],
            [2, 11, 0, 12, 0, "IMAGE"],
            [3, 12, 0, 13, 0, "IMAGE"],
            [4, 14, 0, 13, 1, "FLOAT"],
            [5, 13, 0, 15, 0, "IMAGE"],
            [6, 10, 0, 16, 1, "IMAGE"],
            [7, 15, 0, 16, 0, "IMAGE"],
            [8, 16, 0, 17, 0, "IMAGE"],
            [9, 16, 0, 19, 0, "IMAGE"],
        ],
        "groups": [],
        "version": 0.4,
    }


def test_ui_format_is_converted(registry: NodeRegistry) -> None:
    graph = parse_workflow(_ui_workflow(), registry)
    assert graph.to_api() == {
        "10": {"class_type": "LoadTensor", "inputs": {}},
        "11": {
            "class_type": "TestNoise",
            "inputs": {"image": ["10", 0], "seed": 42, "amount": 0.25},
        },
        "13": {
            "class_type": "ImageBlur",
            "inputs": {"image": ["11", 0], "blur_radius": 3, "sigma": 2.5},
        },
        "16": {
            "class_type": "ImageBlend",
            "inputs": {
                "image1": ["13", 0],
                "image2": ["10", 0],
                "blend_factor": 0.5,
                "blend_mode": "multiply",
            },
        },
        "19": {"class_type": "SaveTensor", "inputs": {"images": ["16", 0]}},
    }


def test_converted_ui_workflow_runs_like_its_nodes(registry: NodeRegistry) -> None:
    workflow = compile_workflow(parse_workflow(_ui_workflow(), registry), registry)
    frame = image(16, 16)
    (noisy,) = registry["TestNoise"]().run(frame, seed=42, amount=0.25)
    (blurred,) = ImageBlur().blur(noisy, blur_radius=3, sigma=2.5)
    (expected,) = ImageBlend().blend_images(blurred, frame, 0.5, "multiply")
    assert torch.allclose(workflow.run(frame), expected)


def test_ui_format_with_link_objects_and_named_widgets(registry: NodeRegistry) -> None:
    data = {
        "nodes": [
            {"id": 1, "type": "LoadTensor", "outputs": [{"type": "IMAGE", "links": [1]}]},
            {
                "id": 2,
                "type": "ImageBlur",
                "inputs": [{"name": "image", "type": "IMAGE", "link": 1}],
                "widgets_values": {"sigma": 0.5, "blur_radius": 4},
            },
            {
                "id": 3,
                "type": "SaveTensor",
                "inputs": [{"name": "images", "type": "IMAGE", "link": 2}],
            },
        ],
        "links": [
            {"id": 1, "origin_id": 1, "origin_slot": 0, "target_id": 2, "target_slot": 0},
            {"id": 2, "origin_id": 2, "origin_slot": 0, "target_id": 3, "target_slot": 0},
        ],
    }
    assert parse_workflow(data, registry).to_api()["2"]["inputs"] == {
        "image": ["1", 0],
        "blur_radius": 4,
        "sigma": 0.5,
    }


def test_ui_format_unknown_class_is_reported_by_validation(registry: NodeRegistry) -> None:
    data = _ui_workflow()
    data["nodes"][1]["type"] = "SomeUninstalledNode"
    graph = parse_workflow(data, registry)
    assert graph.nodes["11"].inputs == {"image": NodeLink(node_id="10", slot=0)}
    with pytest.raises(
        WorkflowValidationError,
        match=r"node 11 \(SomeUninstalledNode\): "
        "unknown node class",
    ):
        compile_workflow(graph, registry)


def test_muted_source_leaves_a_missing_input(registry: NodeRegistry) -> None:
    data = _ui_workflow()
    data["nodes"][1]["mode"] = 2  # mute TestNoise: the blur loses its image
    with pytest.raises(
        WorkflowValidationError,
        match=r"node 13 \(ImageBlur\) input 'image': "
        "required input is missing",
    ):
        compile_workflow(parse_workflow(data, registry), registry)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            lambda data: data.update(definitions={"subgraphs": [{"id": "x"}]}),
            "uses subgraphs.*Save \\(API\\)",
        ),
        (
            lambda data: data.update(extra={"groupNodes": {"glow": {}}}),
            "uses group nodes.*Save \\(API\\)",
        ),
        (lambda data: data["links"].append([10, 1]), "malformed link"),
        (lambda data: data["nodes"].append({"type": "ImageBlur"}), "a node has no 'id' or 'type'"),
    ],
)
def test_unconvertible_ui_workflows(change, message: str, registry: NodeRegistry) -> None:
    data = copy.deepcopy(_ui_workflow())
    change(data)
    with pytest.raises(WorkflowFormatError, match=message):
        parse_workflow(data, registry)
