"""``make bench``: run every benchmark, print its figures, save them as JSON.

Each ``bench_*`` module has ``run() -> dict``; its result is written to
``bench-results/<name>.json`` and printed. Ratios compare rtcflow against a plain
baseline measured in the same run. ``python -m tests.benchmarks NAME...`` runs a subset.
"""

from __future__ import annotations

import importlib
import json
import pkgutil
import sys
import time
from pathlib import Path

RESULTS = Path("bench-results")


def main(names: list[str]) -> int:
    package = Path(__file__).parent
    modules = sorted(
        m.name for m in pkgutil.iter_modules([str(package)]) if m.name.startswith("bench_")
    )
    selected = [m for m in modules if not names or m.removeprefix("bench_") in names or m in names]
    RESULTS.mkdir(exist_ok=True)
    summary = {}
    for name in selected:
        print(f"== {name}", flush=True)
        started = time.perf_counter()
        result = importlib.import_module(f"tests.benchmarks.{name}").run()
        result_path = RESULTS / f"{name.removeprefix('bench_')}.json"
        result_path.write_text(json.dumps(result, indent=2, default=str))
        print(json.dumps(result, indent=2, default=str))
        print(f"   ({time.perf_counter() - started:.0f} s, saved to {result_path})", flush=True)
        summary[name] = result
    (RESULTS / "summary.json").write_text(json.dumps(summary, indent=2, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
