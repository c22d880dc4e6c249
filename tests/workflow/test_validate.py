"""Validation: every error kind, named by node id, class and input, all reported at once."""

from __future__ import annotations

from typing import Any

import pytest

from rtcflow.workflow import NodeRegistry, WorkflowProblem, WorkflowValidationError

from .helpers import chain, compile_api


def problems_of(api: dict[str, Any], registry: NodeRegistry) -> list[WorkflowProblem]:
    with pytest.raises(WorkflowValidationError) as caught:
        compile_api(api, registry)
    return caught.value.problems


def only_problem(api: dict[str, Any], registry: NodeRegistry) -> WorkflowProblem:
    problems = problems_of(api, registry)
    assert len(problems) == 1, problems
    return problems[0]


def test_unknown_node_class(registry: NodeRegistry) -> None:
    problem = only_problem(chain(("ImageInvertt", {})), registry)
    assert (problem.node_id, problem.class_type, problem.input) == ("2", "ImageInvertt", None)
    assert problem.message == "unknown node class"


def test_missing_required_input_names_spec(registry: NodeRegistry) -> None:
    problem = only_problem(chain(("ImageBlur", {"blur_radius": 2})), registry)
    assert (problem.node_id, problem.class_type, problem.input) == ("2", "ImageBlur", "sigma")
    assert "required input is missing (FLOAT, range 0.1..10.0, default 1.0)" in problem.message


def test_unknown_input(registry: NodeRegistry) -> None:
    problem = only_problem(chain(("ImageInvert", {"strength": 1})), registry)
    assert problem.input == "strength"
    assert "unknown input (the class takes: image)" in problem.message


def test_cycle(registry: NodeRegistry) -> None:
    api = chain(("ImageInvert", {}), ("ImageInvert", {}))
    api["2"]["inputs"]["image"] = ["3", 0]
    problem = only_problem(api, registry)
    assert "the workflow has a cycle" in problem.message
    assert {"2", "3"} <= set(problem.message.split(": ")[1].split(" -> "))


def test_wrong_link_type(registry: NodeRegistry) -> None:
    api = chain(("TestApplyGain", {}))
    api["2"]["inputs"]["gain"] = ["1", 0]  # an IMAGE where a GAIN belongs
    problem = only_problem(api, registry)
    assert (problem.node_id, problem.input) == ("2", "gain")
    assert problem.message == "takes GAIN, but output 0 of node 1 (LoadTensor) is IMAGE"


def test_link_to_missing_node_and_output(registry: NodeRegistry) -> None:
    api = chain(("ImageBlend", {"blend_factor": 0.5, "blend_mode": "normal"}))
    api["2"]["inputs"]["image1"] = api["2"]["inputs"].pop("image")
    api["2"]["inputs"]["image2"] = ["42", 0]
    api["99"]["inputs"]["images"] = ["2", 1]
    problems = {(p.node_id, p.input): p.message for p in problems_of(api, registry)}
    assert problems == {
        ("2", "image2"): "links to node 42, which does not exist",
        ("99", "images"): "links to output 1 of node 2 (ImageBlend), which has 1 output",
    }


@pytest.mark.parametrize(
    ("constants", "input_name", "message"),
    [
        ({"blur_radius": 40, "sigma": 1.0}, "blur_radius", "value 40 is above the maximum 31"),
        ({"blur_radius": 0, "sigma": 1.0}, "blur_radius", "value 0 is below the minimum 1"),
        ({"blur_radius": 2, "sigma": 0.0}, "sigma", "value 0.0 is below the minimum 0.1"),
        ({"blur_radius": 1.5, "sigma": 1.0}, "blur_radius", "expected an INT, got the fractional"),
        ({"blur_radius": "3", "sigma": 1.0}, "blur_radius", "expected an INT, got str '3'"),
        ({"blur_radius": True, "sigma": 1.0}, "blur_radius", "expected an INT, got bool"),
        ({"blur_radius": 2, "sigma": [1.0, 2.0]}, "sigma", "expected a FLOAT, got list"),
    ],
)
def test_bad_constants(
    constants: dict[str, Any], input_name: str, message: str, registry: NodeRegistry
) -> None:
    problem = only_problem(chain(("ImageBlur", constants)), registry)
    assert (problem.node_id, problem.class_type, problem.input) == ("2", "ImageBlur", input_name)
    assert message in problem.message


def test_integral_float_is_accepted_for_int(registry: NodeRegistry) -> None:
    workflow = compile_api(chain(("ImageBlur", {"blur_radius": 2.0, "sigma": 1})), registry)
    assert workflow.frame_nodes == ("2",)


def test_bad_combo_lists_choices(registry: NodeRegistry) -> None:
    problem = only_problem(chain(("TestChannel", {"channel": "purple"})), registry)
    assert problem.input == "channel"
    assert problem.message == "value 'purple' is not one of: 'red', 'green', 'blue'"


def test_constant_for_a_link_only_input(registry: NodeRegistry) -> None:
    api = chain(("ImageBlend", {"image2": 0.5, "blend_factor": 0.5, "blend_mode": "normal"}))
    api["2"]["inputs"]["image1"] = api["2"]["inputs"].pop("image")
    problem = only_problem(api, registry)
    assert problem.input == "image2"
    assert "expects a link from a node that outputs IMAGE" in problem.message


def test_no_frame_input(registry: NodeRegistry) -> None:
    api = {
        "3": {"class_type": "ImageInvert", "inputs": {"image": ["8", 0]}},
        "9": {"class_type": "SaveTensor", "inputs": {"images": ["3", 0]}},
    }
    assert [str(problem) for problem in problems_of(api, registry)] == [
        "(LoadTensor): the workflow has no frame input: add a LoadTensor node"
        " (or exactly one LoadImage)",
        "node 3 (ImageInvert) input 'image': links to node 8, which does not exist",
    ]


def test_two_frame_inputs(registry: NodeRegistry) -> None:
    api = chain(("ImageInvert", {}))
    api["5"] = {"class_type": "LoadTensor", "inputs": {}}
    assert [str(problem) for problem in problems_of(api, registry)] == [
        "(LoadTensor): 2 LoadTensor nodes (1, 5): a workflow has exactly one frame input"
    ]


def test_no_frame_output(registry: NodeRegistry) -> None:
    api = chain(("ImageInvert", {}))
    del api["99"]
    assert [p.message for p in problems_of(api, registry)] == [
        "the workflow has no frame output: add a SaveTensor node"
        " (or exactly one SaveImage or PreviewImage)"
    ]


def test_all_problems_are_reported_at_once(registry: NodeRegistry) -> None:
    api = chain(
        ("ImageBlur", {"blur_radius": 99, "sigma": 1.0}),
        ("NoSuchNode", {}),
        ("TestChannel", {"channel": "cyan"}),
        ("ImageSharpen", {"sharpen_radius": 1, "alpha": 1.0}),
    )
    with pytest.raises(WorkflowValidationError) as caught:
        compile_api(api, registry)
    located = [(p.node_id, p.class_type, p.input) for p in caught.value.problems]
    assert located == [
        ("2", "ImageBlur", "blur_radius"),
        ("3", "NoSuchNode", None),
        ("4", "TestChannel", "channel"),
        ("5", "ImageSharpen", "sigma"),
    ]
    text = str(caught.value)
    assert text.startswith("workflow is invalid (4 problems):")
    assert "node 3 (NoSuchNode): unknown node class" in text


def test_nodes_that_feed_no_output_are_not_checked(registry: NodeRegistry) -> None:
    api = chain(("ImageInvert", {}))
    api["50"] = {"class_type": "ImageBlur", "inputs": {"image": ["1", 0], "blur_radius": 999}}
    workflow = compile_api(api, registry)  # as in ComfyUI: only outputs' ancestors validate
    assert "50" not in workflow.frame_nodes + workflow.constant_nodes


def test_validate_inputs_takes_over_its_inputs(registry: NodeRegistry) -> None:
    compile_api(chain(("TestEvenOnly", {"size": 4})), registry)
    compile_api(chain(("TestEvenOnly", {"size": 10})), registry)  # max 8 is left to it
    problem = only_problem(chain(("TestEvenOnly", {"size": 3})), registry)
    assert problem.message == "VALIDATE_INPUTS rejected the inputs: size must be even, got 3"


def test_list_nodes_are_reported_unsupported(registry: NodeRegistry) -> None:
    problem = only_problem(chain(("TestListInput", {})), registry)
    assert problem.message == "INPUT_IS_LIST / OUTPUT_IS_LIST nodes are not supported by rtcflow"


def test_malformed_node_class(registry: NodeRegistry) -> None:
    class NoFunction:
        RETURN_TYPES = ("IMAGE",)
        FUNCTION = "missing"

        @classmethod
        def INPUT_TYPES(cls):
            return {"required": {"image": ("IMAGE",)}}

    registry.register({"NoFunction": NoFunction})
    problem = only_problem(chain(("NoFunction", {})), registry)
    assert "FUNCTION 'missing' does not name a method" in problem.message
