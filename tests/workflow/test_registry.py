"""Loading real ComfyUI nodes: custom node packs, folders of packs, and a workspace."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
import torch

from rtcflow.workflow import NodeRegistry, WorkflowError, WorkflowValidationError
from rtcflow.workflow.nodes import BUILTIN_NODES

from .helpers import NODEPACKS, chain, compile_api, image


def write(path: Path, source: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(source))


def test_a_pack_folder_is_loaded(registry: NodeRegistry) -> None:
    assert "TestGainLoader" in registry and "TestChannel" in registry
    assert registry.failures == []
    # A custom pack cannot replace a core node (the pack maps ImageInvert to another class).
    assert registry["ImageInvert"] is BUILTIN_NODES["ImageInvert"]
    workflow = compile_api(chain(("TestChannel", {"channel": "green"})), registry)
    frame = image()
    assert torch.equal(workflow.run(frame), frame * torch.tensor([0.0, 1.0, 0.0]))


def test_a_folder_of_packs_survives_a_broken_pack() -> None:
    registry = NodeRegistry.with_builtins()
    registry.load_custom_nodes(NODEPACKS)
    assert "TestGainLoader" in registry  # package pack
    assert "TestOffset" in registry  # single-file pack
    assert [failure.path for failure in registry.failures] == [NODEPACKS / "broken_pack"]
    assert "No module named 'rtcflow_missing_dependency'" in registry.failures[0].error

    frame = image()
    workflow = compile_api(chain(("TestOffset", {"offset": 0.25})), registry)
    assert torch.equal(workflow.run(frame), (frame + 0.25).clamp(0, 1))

    with pytest.raises(WorkflowValidationError) as caught:
        compile_api(chain(("BrokenPackNode", {})), registry)
    message = caught.value.problems[0].message
    assert message.startswith("unknown node class (node packs that failed to load: ")
    assert str(NODEPACKS / "broken_pack") in message


def test_bad_custom_node_folders(tmp_path: Path) -> None:
    registry = NodeRegistry.with_builtins()
    with pytest.raises(WorkflowError, match=f"custom node folder {tmp_path / 'nope'} does not"):
        registry.load_custom_nodes(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(WorkflowError, match="holds no node pack"):
        registry.load_custom_nodes(tmp_path / "empty")


def test_pack_problems_are_recorded(tmp_path: Path) -> None:
    write(tmp_path / "packs" / "json" / "__init__.py", "NODE_CLASS_MAPPINGS = {}\n")
    write(tmp_path / "packs" / "no_mappings.py", "X = 1\n")
    write(tmp_path / "packs" / "v3_pack.py", "async def comfy_entrypoint():\n    return None\n")
    write(tmp_path / "packs" / "old.py.disabled", "raise SystemExit\n")
    (tmp_path / "packs" / "no_init").mkdir()
    registry = NodeRegistry.with_builtins()
    registry.load_custom_nodes(tmp_path / "packs")
    errors = {failure.path.name: failure.error for failure in registry.failures}
    assert errors.keys() == {"json", "no_init", "no_mappings.py", "v3_pack.py"}
    assert "module name 'json' is taken" in errors["json"]
    assert "no __init__.py" in errors["no_init"]
    assert errors["no_mappings.py"] == "defines no NODE_CLASS_MAPPINGS"
    assert errors["v3_pack.py"] == "uses ComfyUI's V3 node API, which rtcflow does not load"


def test_an_edited_pack_is_reloaded(tmp_path: Path) -> None:
    pack = tmp_path / "reload_pack" / "__init__.py"
    node = """
        from .values import OFFSET

        class Shift:
            RETURN_TYPES = ("IMAGE",)
            FUNCTION = "run"

            @classmethod
            def INPUT_TYPES(cls):
                return {{"required": {{"image": ("IMAGE",)}}}}

            def run(self, image):
                return (image + OFFSET,)

        NODE_CLASS_MAPPINGS = {{"Shift": Shift}}
    """
    write(pack, node.format())
    frame = torch.zeros((1, 2, 2, 3))
    for offset in (0.25, 0.5):
        write(tmp_path / "reload_pack" / "values.py", f"OFFSET = {offset}\n")
        registry = NodeRegistry.with_builtins()
        registry.load_custom_nodes(tmp_path / "reload_pack")
        workflow = compile_api(chain(("Shift", {})), registry)
        assert float(workflow.run(frame).max()) == offset


def make_workspace(root: Path) -> Path:
    """A small ComfyUI checkout: nodes.py, a comfy package, comfy_extras, custom_nodes."""
    write(root / "comfy" / "__init__.py", "")
    write(root / "comfy" / "ops.py", "def brighten(image, amount):\n    return image + amount\n")
    write(
        root / "nodes.py",
        """
        import comfy.ops

        MAX_RESOLUTION = 16384

        class ImageInvert:
            ORIGIN = "workspace"
            RETURN_TYPES = ("IMAGE",)
            FUNCTION = "invert"

            @classmethod
            def INPUT_TYPES(cls):
                return {"required": {"image": ("IMAGE",)}}

            def invert(self, image):
                return (1.0 - image,)

        class LoadTensor(ImageInvert):
            pass

        class Brighten:
            RETURN_TYPES = ("IMAGE",)
            FUNCTION = "run"

            @classmethod
            def INPUT_TYPES(cls):
                return {"required": {"image": ("IMAGE",),
                                     "amount": ("FLOAT", {"default": 0.1, "max": 1.0})}}

            def run(self, image, amount):
                return (comfy.ops.brighten(image, amount),)

        NODE_CLASS_MAPPINGS = {"ImageInvert": ImageInvert, "LoadTensor": LoadTensor,
                               "Brighten": Brighten}
        """,
    )
    write(
        root / "comfy_extras" / "nodes_halve.py",
        """
        import nodes

        class Halve(nodes.Brighten):
            def run(self, image, amount):
                return (image * 0.5 + amount,)

        NODE_CLASS_MAPPINGS = {"Halve": Halve}
        """,
    )
    write(root / "comfy_extras" / "nodes_v3.py", "async def comfy_entrypoint():\n    pass\n")
    write(
        root / "custom_nodes" / "shout_pack" / "__init__.py",
        """
        from nodes import MAX_RESOLUTION, Brighten

        class Shout(Brighten):
            pass

        NODE_CLASS_MAPPINGS = {"Shout": Shout, "Brighten": Shout}
        """,
    )
    write(root / "custom_nodes" / "crashing.py", "raise RuntimeError('pack bug')\n")
    return root


@pytest.mark.usefixtures("isolated_imports")
def test_a_workspace_is_loaded(tmp_path: Path) -> None:
    workspace = make_workspace(tmp_path / "ComfyUI")
    registry = NodeRegistry.with_builtins()
    registry.load_workspace(workspace)

    assert registry["ImageInvert"].ORIGIN == "workspace"  # core nodes replace built-ins
    assert registry["LoadTensor"] is BUILTIN_NODES["LoadTensor"]  # the frame boundary stays
    assert registry["Brighten"].__module__ == "nodes"  # a pack cannot replace a core node
    assert {"Halve", "Shout"} <= set(registry)
    errors = {failure.path.name: failure.error for failure in registry.failures}
    assert errors == {
        "nodes_v3.py": "uses ComfyUI's V3 node API, which rtcflow does not load",
        "crashing.py": "import failed: RuntimeError: pack bug",
    }

    api = chain(
        ("ImageInvert", {}),
        ("Brighten", {"amount": 0.25}),
        ("Halve", {"amount": 0.0}),
        ("Shout", {"amount": 0.125}),
    )
    frame = image()
    expected = (1.0 - frame + 0.25) * 0.5 + 0.125
    assert torch.allclose(compile_api(api, registry).run(frame), expected)


def test_a_folder_without_nodes_py_is_not_a_workspace(tmp_path: Path) -> None:
    with pytest.raises(WorkflowError, match=r"is not a ComfyUI workspace: it has no nodes\.py"):
        NodeRegistry.with_builtins().load_workspace(tmp_path)


@pytest.mark.usefixtures("isolated_imports")
def test_a_workspace_whose_nodes_py_fails(tmp_path: Path) -> None:
    write(tmp_path / "nodes.py", "import comfy.model_management\n")
    with pytest.raises(WorkflowError, match=r"cannot import the ComfyUI workspace .*comfy"):
        NodeRegistry.with_builtins().load_workspace(tmp_path)


def test_builtins_are_the_documented_set() -> None:
    assert set(NodeRegistry.with_builtins()) == {
        "LoadTensor",
        "SaveTensor",
        "ImageInvert",
        "ImageBlur",
        "ImageSharpen",
        "ImageBlend",
        "ImageScale",
        "ImageScaleBy",
        "ImageCrop",
        "RtcflowColorAdjust",
    }
