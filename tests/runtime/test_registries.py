"""Every source and sink type the spec accepts has a class that builds it."""

from __future__ import annotations

import pkgutil
from typing import get_args

import pytest

from rtcflow.sinks import SINK_CLASSES, Sink
from rtcflow.sources import SOURCE_CLASSES, Source
from rtcflow.spec.models import SinkSpec, SourceSpec


def spec_types(union) -> set[str]:
    members = get_args(get_args(union)[0])
    return {tag for member in members for tag in get_args(member.model_fields["type"].annotation)}


@pytest.mark.parametrize(
    ("union", "registry", "base"),
    [(SourceSpec, SOURCE_CLASSES, Source), (SinkSpec, SINK_CLASSES, Sink)],
)
def test_each_spec_type_resolves_to_its_component_class(union, registry, base):
    assert spec_types(union) == set(registry)
    for path in registry.values():
        assert issubclass(pkgutil.resolve_name(path), base)
