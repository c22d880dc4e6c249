"""Benchmark: loading a folder of specs, against plain YAML loading + pydantic validation.

``load_specs`` adds what the plain path lacks: positions of every key and value, duplicate
key checks, ``${...}`` interpolation and cross-file name checks. This measures what that
costs: the same files, loaded both ways in the same run (ratio = ours / baseline time).

Run: ``python -m tests.spec.bench_loading [--files 100] [--repeat 5]``; the result is also
written to ``bench-results/spec_loading.json``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML

from rtcflow.spec import load_specs
from rtcflow.spec.models import Flow

RESULTS = Path("bench-results")

FLOW = """\
apiVersion: rtcflow/v1
kind: Flow
metadata:
  name: show-{index}-{part}
  labels: {{team: video, stage: "${{STAGE:-dev}}"}}
spec:
  video: {{width: 640, height: 360, fps: 30}}
  source: {{type: file, path: clip.mp4, loop: true}}
  steps:
    - name: fx
    - name: blur
      workflow: {{inline: {{"1": {{class_type: LoadTensor, inputs: {{}}}}}}}}
  sinks:
    - {{name: record, type: file, path: out/{index}-{part}.mkv, gop: 60}}
    - {{name: backup, type: file, path: out/{index}-{part}-b.mp4}}
"""


def write_specs(folder: Path, files: int) -> None:
    (folder / "clip.mp4").write_bytes(b"")
    for index in range(files):
        text = FLOW.format(index=index, part="a") + "---\n" + FLOW.format(index=index, part="b")
        (folder / f"show-{index:04d}.yaml").write_text(text)


def plain_load(folder: Path) -> int:
    """The baseline: parse with ruamel.yaml's safe loader and validate each document."""
    yaml = YAML(typ="safe", pure=True)
    context = {"base_dir": folder.absolute()}
    count = 0
    for path in sorted(folder.glob("*.yaml")):
        for data in yaml.load_all(path.read_text()):
            Flow.model_validate(data, context=context)
            count += 1
    return count


def rtcflow_load(folder: Path) -> int:
    loaded = load_specs([folder], {})
    assert not any(file.problems for file in loaded)
    return sum(len(file.flows) for file in loaded)


def median_times(repeat: int, folder: Path) -> tuple[float, float, int]:
    """Median seconds of (baseline, rtcflow), measured alternately so both see the same load."""
    base, ours, count = [], [], 0
    for _ in range(repeat):
        for load, times in ((plain_load, base), (rtcflow_load, ours)):
            start = time.perf_counter()
            count = load(folder)
            times.append(time.perf_counter() - start)
    return statistics.median(base), statistics.median(ours), count


def run(files: int = 100, repeat: int = 5) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        write_specs(folder, files)
        base_s, ours_s, flows = median_times(repeat, folder)
    assert flows == 2 * files
    result = {
        "files": files,
        "flows": flows,
        "baseline_ms_per_flow": round(1000 * base_s / flows, 3),
        "rtcflow_ms_per_flow": round(1000 * ours_s / flows, 3),
        "ratio": round(ours_s / base_s, 3),
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "spec_loading.json").write_text(json.dumps(result, indent=2))
    return result


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    print(json.dumps(run(args.files, args.repeat), indent=2))
