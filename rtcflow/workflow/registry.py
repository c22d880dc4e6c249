"""The node registry: built-in nodes plus ComfyUI node packs and workspaces.

A node pack is what ComfyUI loads from ``custom_nodes/``: a package folder with an
``__init__.py``, or a single ``.py`` file, exporting ``NODE_CLASS_MAPPINGS``
(``{"ClassType": NodeClass}``). A workspace is a ComfyUI checkout: its ``nodes.py`` and
``comfy_extras/*.py`` hold the core nodes, and it goes on ``sys.path`` so that packs can
``import comfy...`` and ``import nodes`` as they do inside ComfyUI.

As in ComfyUI's ``load_custom_node``, a pack that fails to import is reported (here in
:attr:`NodeRegistry.failures`, with its path) and the others still load; custom packs do
not replace core node names. Packs are imported afresh on every load, so an edited pack
is picked up when a workflow is reloaded.
"""

from __future__ import annotations

import importlib.util
import logging
import sys
import threading
from collections.abc import Iterator, Mapping
from pathlib import Path
from types import ModuleType

from pydantic import BaseModel, ConfigDict

from rtcflow.workflow.errors import WorkflowError
from rtcflow.workflow.frame_boundary import LOAD_TENSOR, SAVE_TENSOR
from rtcflow.workflow.nodes import BUILTIN_NODES
from rtcflow.workflow.nodespec import NodeSchema

logger = logging.getLogger(__name__)

#: Imports touch the process-wide ``sys.modules``; steps may load packs concurrently.
_IMPORT_LOCK = threading.Lock()
#: The engine owns the frame boundary; no pack may redefine it.
_RESERVED = frozenset({LOAD_TENSOR, SAVE_TENSOR})


class NodePackFailure(BaseModel):
    """A node pack that could not be loaded, and why."""

    model_config = ConfigDict(frozen=True)

    path: Path
    error: str

    def __str__(self) -> str:
        return f"{self.path}: {self.error}"


class NodeRegistry:
    """The node classes a workflow may use, by ComfyUI class type."""

    def __init__(self) -> None:
        self._classes: dict[str, type] = {}
        self._core: set[str] = set()
        #: Packs that failed to import, in load order.
        self.failures: list[NodePackFailure] = []

    @classmethod
    def with_builtins(cls) -> NodeRegistry:
        """A registry holding rtcflow's built-in nodes."""
        registry = cls()
        registry.register(BUILTIN_NODES, core=True)
        return registry

    def register(self, nodes: Mapping[str, type], *, core: bool = False) -> None:
        """Add node classes. Core nodes replace earlier ones; custom ones never replace core."""
        for class_type, node_class in nodes.items():
            if class_type in _RESERVED and class_type in self._classes:
                continue
            if not core and class_type in self._core:
                logger.warning("custom node %s ignored: a core node has that name", class_type)
                continue
            self._classes[class_type] = node_class
            if core:
                self._core.add(class_type)

    def load_custom_nodes(self, folder: Path) -> None:
        """Load a node pack, or every pack in a folder of packs (like ``custom_nodes/``).

        Raises :class:`WorkflowError` when the folder is missing or holds no pack; a pack
        that fails to import is recorded in :attr:`failures` and the others still load.
        """
        folder = Path(folder)
        if not folder.is_dir():
            raise WorkflowError(f"custom node folder {folder} does not exist or is not a folder")
        packs = [folder] if (folder / "__init__.py").is_file() else _packs_in(folder)
        if not packs:
            raise WorkflowError(f"custom node folder {folder} holds no node pack")
        for pack in packs:
            self._load_module(_module_name(pack), pack, core=False)

    def load_workspace(self, folder: Path) -> None:
        """Load a ComfyUI checkout: ``nodes.py``, ``comfy_extras/*.py``, ``custom_nodes/*``.

        Raises :class:`WorkflowError` when ``folder`` is not a workspace or its
        ``nodes.py`` cannot be imported; failures of extras and packs are recorded.
        """
        folder = Path(folder).resolve()
        nodes_file = folder / "nodes.py"
        if not nodes_file.is_file():
            raise WorkflowError(f"{folder} is not a ComfyUI workspace: it has no nodes.py")
        if str(folder) not in sys.path:
            sys.path.insert(0, str(folder))
        if not self._load_module("nodes", nodes_file, core=True):
            raise WorkflowError(
                f"cannot import the ComfyUI workspace {folder}: {self.failures[-1]}"
            )
        for extra in sorted((folder / "comfy_extras").glob("*.py")):
            self._load_module(f"comfy_extras.{extra.stem}", extra, core=True)
        custom_nodes = folder / "custom_nodes"
        if custom_nodes.is_dir():
            for pack in _packs_in(custom_nodes):
                self._load_module(_module_name(pack), pack, core=False)

    def _load_module(self, name: str, path: Path, *, core: bool) -> bool:
        try:
            module = _import_fresh(name, path)
        except Exception as exc:
            return self._fail(path, f"import failed: {type(exc).__name__}: {exc}")
        mappings = getattr(module, "NODE_CLASS_MAPPINGS", None)
        if mappings is None:
            if hasattr(module, "comfy_entrypoint"):
                return self._fail(path, "uses ComfyUI's V3 node API, which rtcflow does not load")
            return self._fail(path, "defines no NODE_CLASS_MAPPINGS")
        if not isinstance(mappings, Mapping):
            return self._fail(path, "NODE_CLASS_MAPPINGS is not a dict")
        self.register(mappings, core=core)
        logger.debug("loaded %d nodes from %s", len(mappings), path)
        return True

    def _fail(self, path: Path, error: str) -> bool:
        failure = NodePackFailure(path=path, error=error)
        logger.warning("node pack %s", failure)
        self.failures.append(failure)
        return False

    def schema(self, class_type: str) -> NodeSchema:
        """Read a class's protocol; raises ``KeyError`` (unknown) or ``ValueError`` (malformed)."""
        return NodeSchema.from_class(class_type, self._classes[class_type])

    def __contains__(self, class_type: object) -> bool:
        return class_type in self._classes

    def __getitem__(self, class_type: str) -> type:
        return self._classes[class_type]

    def __iter__(self) -> Iterator[str]:
        return iter(self._classes)

    def __len__(self) -> int:
        return len(self._classes)


def _packs_in(folder: Path) -> list[Path]:
    """The packs in a folder of packs, as ComfyUI finds them (``.disabled`` ones skipped)."""
    return [
        entry
        for entry in sorted(folder.iterdir())
        if not entry.name.startswith((".", "__"))
        and not entry.name.endswith(".disabled")
        and (entry.is_dir() or entry.suffix == ".py")
    ]


def _module_name(pack: Path) -> str:
    stem = pack.name if pack.is_dir() else pack.stem
    return stem.replace(".", "_")


def _import_fresh(name: str, path: Path) -> ModuleType:
    """Import ``path`` (a package folder or a ``.py`` file) as module ``name``, anew."""
    if path.is_dir():
        init = path / "__init__.py"
        if not init.is_file():
            raise ImportError("the folder has no __init__.py")
        spec = importlib.util.spec_from_file_location(
            name, init, submodule_search_locations=[str(path)]
        )
    else:
        spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot create an import spec for {path}")
    with _IMPORT_LOCK:
        previous = sys.modules.get(name)
        if previous is not None and not _is_within(previous, path):
            raise ImportError(
                f"its module name {name!r} is taken by {getattr(previous, '__file__', previous)}"
            )
        for loaded in [key for key in sys.modules if key == name or key.startswith(name + ".")]:
            del sys.modules[loaded]
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        try:
            spec.loader.exec_module(module)
        except BaseException:
            sys.modules.pop(name, None)
            raise
    return module


def _is_within(module: ModuleType, path: Path) -> bool:
    """Whether ``module`` was loaded from ``path`` (a file, or anywhere in a folder)."""
    origin = getattr(module, "__file__", None)
    if origin is None:
        return False
    origin_path = Path(origin).resolve()
    root = path.resolve()
    return origin_path == root or root in origin_path.parents
