"""Pydantic models of the ``rtcflow/v1`` ``Flow`` document.

These models are the contract: ``schemas/rtcflow.schema.json`` is generated from them.
Sources and sinks are tagged unions on ``type``; steps and sinks are named.
Relative paths are resolved against the spec file's folder by the loader
(validation context ``base_dir``).

Conventions for new models:

- A new source or sink type is a model with ``type: Literal["name"]`` added to the union;
  ``TypeTag`` derives the allowed types from the union for its error message.
- A path the flow reads is a ``SpecPath``; a path it writes is an ``OutputPath`` (left out
  of ``rtcflow.spec.referenced_paths``, so writing it never looks like a spec change).
- Secrets (tokens) are ``SecretStr``; validators never put input values in messages.
- A validator that points below its own field raises ``spec_error(message, at=(...))``
  (several at once: ``spec_errors``), so the problem lands on the right line.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    Discriminator,
    Field,
    SecretStr,
    Tag,
    ValidationInfo,
    field_validator,
    model_validator,
)

from rtcflow.daydream.spec import DaydreamStepSpec
from rtcflow.spec.base import (
    NAME_PATTERN,
    OutputPath,
    SpecModel,
    SpecPath,
    TypeTag,
    resolve_path,
)
from rtcflow.spec.errors import SPEC_ERROR_TYPE, spec_error, spec_errors
from rtcflow.spec.timeline import Target, TimelineSpec

# -- video -----------------------------------------------------------------------------


class VideoSpec(SpecModel):
    """Frame geometry and rate of the flow's output."""

    width: int = Field(512, ge=16, le=7680, multiple_of=2)
    height: int = Field(512, ge=16, le=4320, multiple_of=2)
    fps: float = Field(30.0, gt=0, le=240)


# -- sources ---------------------------------------------------------------------------


class FileSourceSpec(SpecModel):
    """Any file PyAV can read, scaled and cropped to ``spec.video``."""

    type: Literal["file"]
    path: SpecPath
    loop: bool = False
    realtime: bool = Field(
        True, description="Pace frames at their timestamps; false decodes as fast as possible."
    )

    _resolve = field_validator("path")(resolve_path)

    @field_validator("path")
    @classmethod
    def _exists(cls, value: Path) -> Path:
        if not value.is_file():
            raise ValueError(f"file not found: {value}")
        return value


class TestSourceSpec(SpecModel):
    """A synthetic moving pattern with a visible frame counter."""

    __test__ = False  # not a pytest class
    type: Literal["testsrc"]
    realtime: bool = True
    duration: float | None = Field(None, gt=0, description="Seconds; endless when unset.")


class WebcamSourceSpec(SpecModel):
    """A capture device read through PyAV (v4l2, avfoundation, dshow)."""

    type: Literal["webcam"]
    device: str = Field(..., min_length=1, description="e.g. /dev/video0, '0', 'video=USB Camera'")
    input_format: str | None = Field(
        None, description="PyAV input format; chosen from the platform when unset."
    )
    options: dict[str, str] = Field(default_factory=dict)


_HTTP_URL = r"^https?://[^\s/]+(/\S*)?$"


def _http_url(value: str) -> str:
    if re.match(_HTTP_URL, value) is None:
        raise ValueError("must be an http:// or https:// URL")
    return value


#: An ``http://`` or ``https://`` URL (WHIP/WHEP endpoints).
HttpURL = Annotated[str, AfterValidator(_http_url), Field(json_schema_extra={"pattern": _HTTP_URL})]


class WhepSourceSpec(SpecModel):
    """Plays a WHEP stream (draft-ietf-wish-whep); reconnects with backoff, latest frame wins."""

    type: Literal["whep"]
    url: HttpURL
    token: SecretStr | None = Field(None, description="Bearer token, e.g. ${WHEP_TOKEN}.")


class WhipIngestSourceSpec(SpecModel):
    """Frames from whoever publishes to rtcflow's WHIP endpoint ``/flows/<name>/whip``
    on the control API (OBS, a browser, ``WhipClient``); a new publisher replaces the
    current one."""

    type: Literal["whip"]
    token: SecretStr | None = Field(
        None, description="Bearer token publishers must send, e.g. ${WHIP_INGEST_TOKEN}."
    )


class TrickleSourceSpec(SpecModel):
    """H.264 in MPEG-TS from a trickle channel (Livepeer's segmented HTTP streaming);
    latest frame wins. ``control_url`` and ``events_url`` are the stream's side channels,
    as a Livepeer gateway hands them to a worker with the subscribe URL."""

    type: Literal["trickle"]
    url: HttpURL = Field(..., description="The channel, e.g. http://127.0.0.1:3389/stream.")
    start_seq: int = Field(
        -2,
        ge=-2,
        description="First segment: -2 the one being written (from its start), -1 the next "
        "one, or an absolute sequence number.",
    )
    reconnect: bool = Field(
        True,
        description="When the channel ends, wait for a new publisher; false ends the flow.",
    )
    control_url: HttpURL | None = Field(
        None,
        description="Trickle channel of JSON parameter updates applied live "
        "(ComfyStream's: prompt, width, height).",
    )
    events_url: HttpURL | None = Field(
        None,
        description="Trickle channel where heartbeats (fps and counters every 10 s) and "
        "errors are published.",
    )


SourceSpec = Annotated[
    FileSourceSpec
    | TestSourceSpec
    | WebcamSourceSpec
    | WhepSourceSpec
    | WhipIngestSourceSpec
    | TrickleSourceSpec,
    Field(discriminator="type"),
    TypeTag("source"),
]


# -- steps -----------------------------------------------------------------------------


class WorkflowRef(SpecModel):
    """A ComfyUI workflow: a file (API or UI format) or an inline API-format object."""

    file: SpecPath | None = None
    inline: dict[str, Any] | None = None
    custom_nodes: list[SpecPath] = Field(
        default_factory=list, description="Folders of ComfyUI custom-node packs."
    )

    @field_validator("file")
    @classmethod
    def _resolve_file(cls, value: Path | None, info: ValidationInfo) -> Path | None:
        if value is None:
            return None
        value = resolve_path(value, info)
        if not value.is_file():
            raise ValueError(f"workflow file not found: {value}")
        return value

    @field_validator("custom_nodes")
    @classmethod
    def _resolve_dirs(cls, value: list[Path], info: ValidationInfo) -> list[Path]:
        resolved = [resolve_path(p, info) for p in value]
        for path in resolved:
            if not path.is_dir():
                raise ValueError(f"custom node folder not found: {path}")
        return resolved

    @model_validator(mode="after")
    def _one_of(self) -> WorkflowRef:
        if self.file is not None and self.inline is not None:
            raise ValueError("give either 'file' or 'inline', not both")
        return self


class WorkflowStepSpec(SpecModel):
    """A step that runs a ComfyUI workflow on every frame (inversion when none is given)."""

    name: str = Field(..., pattern=NAME_PATTERN)
    workflow: WorkflowRef = Field(default_factory=WorkflowRef)


def _step_kind(value: Any) -> str | None:
    """A step is a ``daydream`` step when it has that key, else a workflow step."""
    if isinstance(value, DaydreamStepSpec):
        return "daydream"
    if isinstance(value, WorkflowStepSpec):
        return "workflow"
    if isinstance(value, dict) and "daydream" in value:
        return None if "workflow" in value else "daydream"
    return "workflow"


#: A workflow step (``workflow:``, the default) or a Daydream step (``daydream:``).
StepSpec = Annotated[
    Annotated[WorkflowStepSpec, Tag("workflow")] | Annotated[DaydreamStepSpec, Tag("daydream")],
    Discriminator(
        _step_kind,
        custom_error_type=SPEC_ERROR_TYPE,
        custom_error_message="{message}",
        custom_error_context={
            "message": "a step has either 'workflow' or 'daydream', not both",
            "at": ("daydream",),
        },
    ),
]


# -- sinks -----------------------------------------------------------------------------


class FileSinkSpec(SpecModel):
    """H.264 into a crash-safe container (Matroska or fragmented MP4)."""

    type: Literal["file"]
    name: str = Field(..., pattern=NAME_PATTERN)
    path: OutputPath
    bitrate: int = Field(2_000_000, ge=10_000, description="bits per second")
    gop: int = Field(30, ge=1, description="frames between keyframes")

    _resolve = field_validator("path")(resolve_path)

    @field_validator("path")
    @classmethod
    def _container(cls, value: Path) -> Path:
        if value.suffix.lower() not in {".mkv", ".mp4", ".mov"}:
            raise ValueError("path must end in .mkv, .mp4 or .mov")
        return value


class WhipSinkSpec(SpecModel):
    """Publishes the output to a WHIP endpoint (RFC 9725); reconnects with backoff."""

    type: Literal["whip"]
    name: str = Field(..., pattern=NAME_PATTERN)
    url: HttpURL
    token: SecretStr | None = Field(None, description="Bearer token, e.g. ${WHIP_TOKEN}.")
    codec: Literal["h264", "vp8"] = Field(
        "h264", description="h264 (constrained baseline; Livepeer takes only H.264) or vp8."
    )
    bitrate: int = Field(
        2_000_000,
        ge=100_000,
        le=50_000_000,
        description="bits per second (aiortc clamps H.264 to 0.5-3 Mbps, VP8 to 0.25-1.5)",
    )
    keyframe_interval: float = Field(2.0, gt=0, le=60, description="seconds between keyframes")


class PreviewSinkSpec(SpecModel):
    """Serves the output over WHEP and a player page at ``/flows/<name>`` on the control API."""

    type: Literal["preview"]
    name: str = Field(..., pattern=NAME_PATTERN)


class TrickleSinkSpec(SpecModel):
    """Publishes H.264 in MPEG-TS to a trickle channel, one segment per GOP."""

    type: Literal["trickle"]
    name: str = Field(..., pattern=NAME_PATTERN)
    url: HttpURL = Field(..., description="The channel, e.g. http://127.0.0.1:3389/stream-out.")
    bitrate: int = Field(2_000_000, ge=10_000, le=50_000_000, description="bits per second")
    gop: int = Field(
        60, ge=1, le=600, description="frames between keyframes; each GOP is one segment"
    )


SinkSpec = Annotated[
    FileSinkSpec | WhipSinkSpec | PreviewSinkSpec | TrickleSinkSpec,
    Field(discriminator="type"),
    TypeTag("sink"),
]


# -- timeline --------------------------------------------------------------------------


class FlowTimelineSpec(TimelineSpec):
    """A flow's timeline (see ``rtcflow.spec.timeline``) and the token that restarts it.

    Editing a running timeline keeps its time origin; changing ``restart`` starts it over.
    """

    restart: str | int | None = Field(
        None,
        description="Change this token to restart the timeline from 0; other edits keep "
        "its time origin.",
    )


# -- flow ------------------------------------------------------------------------------


class FlowBody(SpecModel):
    """What a flow does: source → steps → sinks, and a timeline of parameter changes."""

    video: VideoSpec = Field(default_factory=VideoSpec)
    source: SourceSpec
    steps: list[StepSpec] = Field(default_factory=list)
    sinks: list[SinkSpec] = Field(default_factory=list)
    warmup_frames: int = Field(
        0, ge=0, le=1000, description="Frames run through each new workflow before it goes live."
    )
    timeline: FlowTimelineSpec = Field(
        default_factory=FlowTimelineSpec,
        description="Scheduled parameter changes: cues and keyframe tracks.",
    )

    @field_validator("steps", "sinks")
    @classmethod
    def _unique_names(cls, items: list[Any], info: ValidationInfo) -> list[Any]:
        first: dict[str, int] = {}
        duplicates = []
        for index, item in enumerate(items):
            if item.name in first:
                duplicates.append(
                    spec_error(
                        f"duplicate name {item.name!r}; "
                        f"{info.field_name}[{first[item.name]}] already uses it",
                        at=(index, "name"),
                    )
                )
            first.setdefault(item.name, index)
        if duplicates:
            raise spec_errors(f"FlowBody.{info.field_name}", duplicates)
        return items

    @field_validator("timeline")
    @classmethod
    def _targets_name_steps(
        cls, timeline: FlowTimelineSpec, info: ValidationInfo
    ) -> FlowTimelineSpec:
        """Each target names a step; what the step takes is checked where it compiles."""
        if "steps" not in info.data:  # invalid steps are reported already
            return timeline
        names = [step.name for step in info.data["steps"]]
        unknown = [
            spec_error(
                f"no step named {target.step!r} (steps: {', '.join(names) or 'none'})", at=at
            )
            for target, at in _timeline_targets(timeline)
            if target.step not in names
        ]
        if unknown:
            raise spec_errors("FlowBody.timeline", unknown)
        return timeline


class Metadata(SpecModel):
    """Identity of a flow."""

    name: str = Field(..., pattern=NAME_PATTERN, description="The flow's identity.")
    labels: dict[str, str] = Field(default_factory=dict)


class Flow(SpecModel):
    """One ``kind: Flow`` document."""

    apiVersion: Literal["rtcflow/v1"]  # camelCase: the field name is fixed by the format
    kind: Literal["Flow"]
    metadata: Metadata
    spec: FlowBody

    @property
    def name(self) -> str:
        return self.metadata.name


def _timeline_targets(timeline: TimelineSpec) -> list[tuple[Target, tuple[str | int, ...]]]:
    """Every target of ``timeline`` with its field path inside the timeline."""
    found = [
        (Target.parse(key), (*timeline.loc("cues", index), "set", key))
        for index, cue in enumerate(timeline.cues)
        for key in cue.set
    ]
    found += [
        (Target.parse(track.track), (*timeline.loc("tracks", index), "track"))
        for index, track in enumerate(timeline.tracks)
    ]
    return found


def is_valid_name(name: str) -> bool:
    return re.match(NAME_PATTERN, name) is not None
