"""Cold start: the time to ``import function_app`` against ``import azure.functions`` alone.

Each sample is a fresh ``python`` process (no ``-X importtime``) that reads ``time.perf_counter()`` just before and
just after the one import and prints the difference, so interpreter start-up is not counted. The two imports
alternate, N times each; the best of N is the figure (the median is kept too). Byte-code caches are warm, as they are
in a deployed app. The child also reports how many modules the import loaded and whether any Azure SDK beyond
``azure.functions`` came with it.

    python -m bench.cold_start [--n 15]

Figures land in ``bench/results/cold_start.json``; goal: ratio <= 1.3.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from typing import Any

from bench.throughput import ROOT, machine, markdown_table, write_results

_CHILD = """
import sys, time, json
before = set(sys.modules)
started = time.perf_counter()
import {module}
elapsed = time.perf_counter() - started
loaded = set(sys.modules) - before
sdks = sorted(m for m in loaded if m.startswith("azure.") and m.count(".") == 1 and m != "azure.functions")
print(json.dumps({{"seconds": elapsed, "modules": len(loaded), "azure_packages": sdks}}))
"""

TARGETS = {"function_app": "function_app", "azure.functions": "azure.functions"}

_EXTRA = """
import sys, json
import azure.functions
before = set(sys.modules)
import function_app
print(json.dumps(sorted(m for m in set(sys.modules) - before if not m.startswith("backup_events"))))
"""


def extra_modules() -> list[str]:
    """Modules (other than the app's own) that ``function_app`` loads beyond ``azure.functions``."""
    result = subprocess.run([sys.executable, "-c", _EXTRA], cwd=ROOT, capture_output=True, text=True, check=True)
    modules: list[str] = json.loads(result.stdout.strip().splitlines()[-1])
    return modules


def sample(module: str) -> dict[str, Any]:
    """One fresh process importing ``module``."""
    result = subprocess.run(
        [sys.executable, "-c", _CHILD.format(module=module)], cwd=ROOT, capture_output=True, text=True, check=True
    )
    loaded: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    return loaded


def heaviest_app_modules(top: int = 8) -> list[dict[str, Any]]:
    """Diagnosis only (not a figure): ``-X importtime`` of ``function_app`` after ``azure.functions``, the app's own
    modules by self time, so a miss of the goal points at what to make lazy."""
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", "import azure.functions; import function_app"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    rows = []
    for line in result.stderr.splitlines():
        parts = [p.strip() for p in line.removeprefix("import time:").split("|")]
        if len(parts) == 3 and parts[0].isdigit() and parts[2].startswith(("backup_events", "function_app")):
            rows.append({"module": parts[2], "self_ms": int(parts[0]) / 1000, "cumulative_ms": int(parts[1]) / 1000})
    return sorted(rows, key=lambda r: r["self_ms"], reverse=True)[:top]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=15, help="fresh processes per import (default 15)")
    args = parser.parse_args(argv)
    facts = machine()

    for module in TARGETS.values():  # warm the byte-code caches once, outside the samples
        sample(module)
    samples: dict[str, list[dict[str, Any]]] = {name: [] for name in TARGETS}
    for _ in range(args.n):
        for name, module in TARGETS.items():
            samples[name].append(sample(module))

    figures: dict[str, Any] = {"machine": facts, "n": args.n}
    for name, runs in samples.items():
        seconds = [r["seconds"] for r in runs]
        figures[name] = {
            "best_ms": round(1000 * min(seconds), 2),
            "median_ms": round(1000 * statistics.median(seconds), 2),
            "modules_loaded": runs[0]["modules"],
            "azure_packages_loaded": runs[0]["azure_packages"],
        }
    figures["ratio_best"] = round(figures["function_app"]["best_ms"] / figures["azure.functions"]["best_ms"], 3)
    figures["ratio_median"] = round(figures["function_app"]["median_ms"] / figures["azure.functions"]["median_ms"], 3)
    figures["goal"] = "ratio_best <= 1.3"
    figures["function_app_extra_modules"] = extra_modules()
    figures["importtime_app_modules"] = heaviest_app_modules()
    path = write_results("cold_start", figures)

    rows = [
        [
            f"`import {name}`",
            figures[name]["best_ms"],
            figures[name]["median_ms"],
            figures[name]["modules_loaded"],
            ", ".join(figures[name]["azure_packages_loaded"]) or "-",
        ]
        for name in TARGETS
    ]
    print(markdown_table(["import", f"best of {args.n} ms", "median ms", "modules", "other azure.* packages"], rows))
    print(f"\nratio (best): {figures['ratio_best']}  (median: {figures['ratio_median']}; goal <= 1.3)")
    print(f"figures: {path.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
