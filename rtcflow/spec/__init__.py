"""Flow specs: pydantic models, YAML loading with file:line:col errors, interpolation."""

from rtcflow.spec.errors import SpecError, SpecProblem
from rtcflow.spec.loader import (
    LoadedFile,
    LoadedFlow,
    discover_spec_files,
    load_file,
    load_specs,
    referenced_paths,
    validate_paths,
)
from rtcflow.spec.models import Flow
from rtcflow.spec.schema import SCHEMA_PATH, flow_json_schema, write_schema

__all__ = [
    "SCHEMA_PATH",
    "Flow",
    "LoadedFile",
    "LoadedFlow",
    "SpecError",
    "SpecProblem",
    "discover_spec_files",
    "flow_json_schema",
    "load_file",
    "load_specs",
    "referenced_paths",
    "validate_paths",
    "write_schema",
]
