"""Loading spec files: documents, folders, paths, interpolation, and located errors."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from rtcflow.spec import (
    SpecError,
    discover_spec_files,
    load_file,
    load_specs,
    referenced_paths,
    validate_paths,
)
from rtcflow.spec.models import FileSourceSpec, WebcamSourceSpec

from .conftest import WriteSpec

TWO_FLOWS = """\
# yaml-language-server: $schema=../schemas/rtcflow.schema.json
apiVersion: rtcflow/v1
kind: Flow
metadata:
  name: first
spec:
  source: {type: file, path: clip.mp4, loop: true}
---
apiVersion: rtcflow/v1
kind: Flow
metadata: {name: second}
spec:
  video: {width: 640, height: 360, fps: 25}
  source: {type: testsrc}
  sinks:
    - {name: record, type: file, path: out/second.mkv}
"""


def problem_lines(path: Path, environ: dict[str, str] | None = None) -> list[str]:
    loaded = load_file(path, environ or {})
    assert loaded.flows == []
    return [str(problem) for problem in loaded.problems]


# -- valid specs -----------------------------------------------------------------------


def test_loads_every_document_of_a_file(write_spec: WriteSpec, clip: Path) -> None:
    path = write_spec(TWO_FLOWS)

    loaded = load_file(path, {})

    assert loaded.problems == []
    assert [(f.flow.name, f.file, f.line) for f in loaded.flows] == [
        ("first", path, 2),
        ("second", path, 9),
    ]
    first, second = (f.flow.spec for f in loaded.flows)
    assert first.source == FileSourceSpec(type="file", path=clip, loop=True)
    assert (second.video.width, second.video.height, second.video.fps) == (640, 360, 25.0)
    assert second.sinks[0].path == path.parent / "out" / "second.mkv"


def test_relative_paths_resolve_against_the_spec_folder(
    write_spec: WriteSpec, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "media").mkdir()
    (tmp_path / "media" / "clip.mp4").write_bytes(b"")
    (tmp_path / "workflows").mkdir()
    (tmp_path / "workflows" / "invert.json").write_text("{}")
    path = write_spec(
        """
        apiVersion: rtcflow/v1
        kind: Flow
        metadata: {name: show}
        spec:
          source: {type: file, path: ../media/clip.mp4}
          steps:
            - name: fx
              workflow: {file: ../workflows/invert.json, custom_nodes: [../workflows]}
        """,
        name="specs/show.yaml",
    )
    monkeypatch.chdir(path.parent.parent.parent)  # somewhere else: the cwd must not matter

    (loaded,) = load_file(path, {}).flows

    body = loaded.flow.spec
    assert body.source.path == tmp_path / "media" / "clip.mp4"
    assert body.steps[0].workflow.file == tmp_path / "workflows" / "invert.json"
    assert body.steps[0].workflow.custom_nodes == [tmp_path / "workflows"]


def test_interpolates_environment_and_dotenv(write_spec: WriteSpec, tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("WIDTH=640\nDEVICE=from-dotenv\nCAMERA=cam\n")
    path = write_spec(
        """
        apiVersion: rtcflow/v1
        kind: Flow
        metadata:
          name: ${NAME:-show}
        spec:
          video:
            width: ${WIDTH}
            height: ${HEIGHT:-360}
          source:
            type: webcam
            device: ${DEVICE}
            options: {price: "$$5 ${CAMERA}"}
        """
    )

    loaded = load_file(path, {"DEVICE": "/dev/video2"})

    assert loaded.problems == []
    assert loaded.env_file == tmp_path / ".env"
    (flow,) = loaded.flows
    assert flow.flow.name == "show"
    assert (flow.flow.spec.video.width, flow.flow.spec.video.height) == (640, 360)
    assert flow.flow.spec.source == WebcamSourceSpec(
        type="webcam", device="/dev/video2", options={"price": "$5 cam"}
    )


def test_anchors_and_merge_keys(write_spec: WriteSpec) -> None:
    path = write_spec(
        """
        apiVersion: rtcflow/v1
        kind: Flow
        metadata: {name: show}
        spec:
          source: {type: testsrc}
          sinks:
            - &record {name: a, type: file, path: a.mkv, gop: 60}
            - <<: *record
              name: b
              path: b.mkv
              bitrate: bad
        """
    )

    assert problem_lines(path) == [
        f"{path}:11:16: spec.sinks[1].bitrate: "
        + ("input should be a valid integer, unable to parse string as an integer")
    ]

    path.write_text(path.read_text().replace("bitrate: bad", "bitrate: 500000"))
    sinks = load_file(path, {}).flows[0].flow.spec.sinks
    assert [(s.name, s.gop, s.bitrate) for s in sinks] == [("a", 60, 2_000_000), ("b", 60, 500_000)]


# -- located errors ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param(
            """
            apiVersion: rtcflow/v1
            kind: Flow
            metadata: {name: show}
            spec:
              source: {type: webcm, device: x}
            """,
            [
                "5:18: spec.source.type: unknown source type 'webcm'; "
                "expected one of: file, testsrc, webcam, whep, whip, trickle"
            ],
            id="unknown-source-type",
        ),
        pytest.param(
            """
            apiVersion: rtcflow/v1
            kind: Flow
            metadata: {name: show}
            spec:
              source: {type: testsrc}
              sinks:
                - {name: out, type: pigeon}
            """,
            [
                "7:25: spec.sinks[0].type: unknown sink type 'pigeon'; "
                "expected one of: file, whip, preview, trickle"
            ],
            id="unknown-sink-type",
        ),
        pytest.param(
            """
            apiVersion: rtcflow/v1
            kind: Flow
            metadata: {name: show}
            spec:
              source:
                device: /dev/video0
            """,
            [
                "6:5: spec.source.type: missing source type; "
                "expected one of: file, testsrc, webcam, whep, whip, trickle"
            ],
            id="missing-type",
        ),
        pytest.param(
            """
            apiVersion: rtcflow/v1
            kind: Flow
            metadata: {name: show}
            spec:
              source: {type: testsrc, duraton: 3}
              warmup: 2
              sinks:
                - {name: out, type: file, path: out.mkv, gop: 5, colour: red}
            """,
            [
                "5:27: spec.source.duraton: unknown field; did you mean 'duration'?",
                "6:3: spec.warmup: unknown field; did you mean 'warmup_frames'?",
                "8:54: spec.sinks[0].colour: unknown field; "
                "expected one of: type, name, path, bitrate, gop",
            ],
            id="unknown-fields",
        ),
        pytest.param(
            """
            apiVersion: rtcflow/v1
            kind: Flow
            metadata:
              labels: {team: video}
            spec:
              video:
                width: 640
              sinks:
                - {type: file, name: out}
            """,
            [
                "4:3: metadata.name: missing required field",
                "6:3: spec.source: missing required field",
                "9:7: spec.sinks[0].path: missing required field",
            ],
            id="missing-fields-at-parent-mapping",
        ),
        pytest.param(
            """
            apiVersion: rtcflow/v2
            kind: Pipeline
            metadata: {name: show}
            spec: {source: {type: testsrc}}
            """,
            ["1:13: apiVersion: expected 'rtcflow/v1'", "2:7: kind: expected 'Flow'"],
            id="wrong-api-version-and-kind",
        ),
        pytest.param(
            """
            apiVersion: rtcflow/v1
            kind: Flow
            metadata: {name: Show_1}
            spec:
              video: {width: 641, fps: -1}
              source: {type: testsrc, duration: soon}
            """,
            [
                "3:18: metadata.name: string should match pattern "
                "'^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$'",
                "5:18: spec.video.width: input should be a multiple of 2",
                "5:28: spec.video.fps: input should be greater than 0",
                "6:37: spec.source.duration: input should be a valid number, "
                "unable to parse string as a number",
            ],
            id="constraints-inside-tagged-union",
        ),
        pytest.param(
            """
            apiVersion: rtcflow/v1
            kind: Flow
            metadata: {name: show}
            spec:
              source: {type: file, path: missing.mp4}
              steps: [{name: fx}, {name: fx}, {name: other}, {name: fx}]
              sinks:
                - {name: out, type: file, path: out.avi}
            """,
            [
                "5:30: spec.source.path: file not found: {dir}/missing.mp4",
                "6:30: spec.steps[1].name: duplicate name 'fx'; steps[0] already uses it",
                "6:57: spec.steps[3].name: duplicate name 'fx'; steps[0] already uses it",
                "8:37: spec.sinks[0].path: path must end in .mkv, .mp4 or .mov",
            ],
            id="validator-errors",
        ),
        pytest.param(
            """
            apiVersion: rtcflow/v1
            kind: Flow
            metadata:
              name: show
              labels: {team: a, 7: b, team: c}
            spec:
              source: {type: testsrc}
              source: {type: webcam}
            """,
            [
                "5:21: metadata.labels[7]: input should be a valid string",
                "5:27: metadata.labels.team: duplicate key 'team' (first at line 5, column 12)",
                "8:3: spec.source: duplicate key 'source' (first at line 7, column 3)",
            ],
            id="duplicate-keys",
        ),
        pytest.param(
            """
            apiVersion: rtcflow/v1
            kind: Flow
            metadata: {name: show}
            spec:
              source:
                type: webcam
                device: ${CAMERA}
                input_format: ${FORMAT:?set FORMAT to v4l2 or avfoundation}
              warmup_frames: ${WARMUP}
            """,
            [
                "7:13: spec.source.device: environment variable 'CAMERA' is not set",
                "8:19: spec.source.input_format: environment variable 'FORMAT' is not set: "
                "set FORMAT to v4l2 or avfoundation",
                "9:18: spec.warmup_frames: environment variable 'WARMUP' is not set",
            ],
            id="missing-environment-variables",
        ),
        pytest.param(
            """
            apiVersion: rtcflow/v1
            kind: Flow
            metadata: {name: show}
            spec:
              source: {type: testsrc
            """,
            [
                "6:1: invalid YAML: expected ',' or '}', but got '<stream end>' "
                "(while parsing a flow mapping started at line 5, column 11)"
            ],
            id="yaml-syntax",
        ),
        pytest.param(
            """
            - apiVersion: rtcflow/v1
            ---
            just text
            """,
            [
                "1:1: a document must be a mapping (a Flow), not a sequence",
                "3:1: a document must be a mapping (a Flow), not a scalar (str)",
            ],
            id="not-a-mapping",
        ),
    ],
)
def test_reports_every_problem_with_its_location(
    write_spec: WriteSpec, text: str, expected: list[str]
) -> None:
    path = write_spec(text)
    assert problem_lines(path) == [
        f"{path}:{line.replace('{dir}', str(path.parent))}" for line in expected
    ]


def test_reports_problems_of_all_documents_and_keeps_the_valid_ones(
    write_spec: WriteSpec,
) -> None:
    path = write_spec(
        """
        apiVersion: rtcflow/v1
        kind: Flow
        metadata: {name: good}
        spec: {source: {type: testsrc}}
        ---
        apiVersion: rtcflow/v1
        kind: Flow
        metadata: {name: bad}
        spec: {source: {type: testsrc, realtime: maybe}}
        ---
        apiVersion: rtcflow/v1
        kind: Flow
        metadata: {name: also-bad}
        spec: {source: {type: testsrc}, sinks: 3}
        ---
        apiVersion: [rtcflow/v1
        """
    )

    loaded = load_file(path, {})

    assert [f.flow.name for f in loaded.flows] == ["good"]
    assert [str(p) for p in loaded.problems] == [
        f"{path}:9:42: spec.source.realtime: input should be a valid boolean, "
        "unable to interpret input",
        f"{path}:14:40: spec.sinks: input should be a valid list",
        f"{path}:17:1: invalid YAML: expected ',' or ']', but got '<stream end>' "
        "(while parsing a flow sequence started at line 16, column 13)",
    ]


def test_duplicate_flow_names_across_files(write_spec: WriteSpec, tmp_path: Path) -> None:
    flow = (
        "apiVersion: rtcflow/v1\nkind: Flow\nmetadata: {{name: {}}}\n"
        "spec: {{source: {{type: testsrc}}}}\n"
    )
    first = write_spec(flow.format("show") + "---\n" + flow.format("other"), name="a.yaml")
    second = write_spec(
        "# again\n" + flow.format("show") + "---\n" + flow.format("other"), "b.yaml"
    )

    loaded = load_specs([tmp_path], {})

    assert [(f.path, [x.flow.name for x in f.flows]) for f in loaded] == [
        (first, ["show", "other"]),
        (second, []),
    ]
    assert loaded[0].problems == []
    assert [str(p) for p in loaded[1].problems] == [
        f"{second}:4:18: metadata.name: duplicate flow name 'show'; first defined at {first}:3:18",
        f"{second}:9:18: metadata.name: duplicate flow name 'other'; first defined at {first}:8:18",
    ]


def test_duplicate_flow_names_in_one_file(write_spec: WriteSpec) -> None:
    flow = "apiVersion: rtcflow/v1\nkind: Flow\nmetadata: {name: show}\n"
    flow += "spec: {source: {type: testsrc}}\n"
    path = write_spec(flow + "---\n" + flow)

    (loaded,) = load_specs([path], {})

    assert [f.line for f in loaded.flows] == [1]
    assert [str(p) for p in loaded.problems] == [
        f"{path}:8:18: metadata.name: duplicate flow name 'show'; first defined at {path}:3:18"
    ]


def test_loaded_flow_locates_its_fields(write_spec: WriteSpec) -> None:
    path = write_spec(TWO_FLOWS.replace("path: clip.mp4", "path: clip.mkv"))
    (path.parent / "clip.mkv").write_bytes(b"")
    second = load_file(path, {}).flows[1]

    assert str(second.problem(("spec", "sinks", 0), "sink failed to start")) == (
        f"{path}:16:7: spec.sinks[0]: sink failed to start"
    )


# -- discovery ---------------------------------------------------------------------------


def test_discovers_yaml_files_in_folders_sorted_and_not_recursive(tmp_path: Path) -> None:
    for name in ["b.yml", "a.yaml", "C.YAML", ".hidden.yaml", "notes.txt", "sub/d.yaml"]:
        (tmp_path / name).parent.mkdir(exist_ok=True)
        (tmp_path / name).write_text("")
    explicit = tmp_path / "notes.txt"

    files = discover_spec_files([tmp_path, explicit, tmp_path / "a.yaml"])

    assert files == [tmp_path / "C.YAML", tmp_path / "a.yaml", tmp_path / "b.yml", explicit]


def test_missing_paths_are_errors(tmp_path: Path) -> None:
    with pytest.raises(SpecError) as raised:
        discover_spec_files([tmp_path / "nope.yaml", tmp_path, tmp_path / "gone"])

    assert str(raised.value) == (
        f"{tmp_path}/nope.yaml: no such file or folder\n{tmp_path}/gone: no such file or folder"
    )
    (loaded,) = load_specs([tmp_path / "nope.yaml"])
    assert (loaded.path, loaded.flows) == (tmp_path / "nope.yaml", [])
    assert [str(p) for p in loaded.problems] == [f"{tmp_path}/nope.yaml: no such file or folder"]


# -- referenced paths ----------------------------------------------------------------------


def test_referenced_paths_are_the_inputs_not_the_outputs(
    write_spec: WriteSpec, tmp_path: Path, clip: Path
) -> None:
    (tmp_path / "fx.json").write_text("{}")
    (tmp_path / "nodes").mkdir()
    path = write_spec(
        """
        apiVersion: rtcflow/v1
        kind: Flow
        metadata: {name: show}
        spec:
          source: {type: file, path: clip.mp4}
          steps:
            - {name: fx, workflow: {file: fx.json, custom_nodes: [nodes]}}
            - {name: plain}
          sinks:
            - {name: record, type: file, path: out.mkv}
        """
    )
    (loaded,) = load_file(path, {}).flows

    assert referenced_paths(loaded.flow) == {clip, tmp_path / "fx.json", tmp_path / "nodes"}
    assert loaded.watched_paths == {
        path,
        tmp_path / ".env",
        clip,
        tmp_path / "fx.json",
        tmp_path / "nodes",
    }


# -- rtcflow validate ------------------------------------------------------------------------


def test_validate_paths_prints_ok_lines_or_problems(write_spec: WriteSpec, clip: Path) -> None:
    good = write_spec(TWO_FLOWS, name="good.yaml")
    out = io.StringIO()
    assert validate_paths([good], out) == 0
    assert out.getvalue() == (
        f"{good}:2: flow 'first' is valid\n{good}:9: flow 'second' is valid\n"
    )

    bad = write_spec(TWO_FLOWS.replace("type: testsrc", "type: testsrc, fps: 3"), "bad.yaml")
    out = io.StringIO()
    assert validate_paths([good, bad], out) == 1
    assert out.getvalue() == (
        f"{bad}:5:9: metadata.name: duplicate flow name 'first'; first defined at {good}:5:9\n"
        f"{bad}:14:27: spec.source.fps: unknown field; expected one of: type, realtime, duration\n"
    )


def test_validate_paths_fails_when_there_is_nothing_to_validate(tmp_path: Path) -> None:
    out = io.StringIO()
    assert validate_paths([tmp_path], out) == 1
    assert out.getvalue() == f"no Flow documents in {tmp_path}\n"
