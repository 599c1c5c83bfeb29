"""Run the benchmarks, print one table, write bench.json: `python -m benchmarks [name ...]`."""

import argparse
import json
import sys
import time
from collections.abc import Callable
from importlib import import_module
from pathlib import Path

from benchmarks.common import Result

# name → "module:function"; each function takes the parsed options and returns its Results.
BENCHMARKS: dict[str, str] = {
    "import": "benchmarks.imports:run",
    "progress": "benchmarks.progress:run",
    "exports": "benchmarks.exports:run",
    "webhooks": "benchmarks.webhooks:run",
    "rebuild": "benchmarks.rebuild:run",
}


def table(results: list[Result]) -> str:
    rows = [("what", "figure", "baseline (same run)", "ratio", "target", "")]
    for r in results:
        baseline = (
            f"{r.baseline}: {r.baseline_figure:,.1f}"
            if r.baseline_figure is not None
            else r.baseline
        )
        rows.append(
            (
                r.what,
                f"{r.figure:,.1f} {r.unit}",
                baseline,
                f"{r.ratio:.2f}",
                r.target,
                "PASS" if r.passed else "FAIL",
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)) for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="scripts/bench", description=__doc__)
    parser.add_argument(
        "names", nargs="*", help=f"which to run (default all): {', '.join(BENCHMARKS)}"
    )
    parser.add_argument("--quick", action="store_true", help="smaller sizes, to try the bench out")
    parser.add_argument("--json", default="bench.json", help="where to write the results")
    options = parser.parse_args(argv)
    unknown = [n for n in options.names if n not in BENCHMARKS]
    if unknown:
        parser.error(f"unknown benchmark(s): {', '.join(unknown)}")
    results: list[Result] = []
    started = time.time()
    for name in options.names or list(BENCHMARKS):
        module, function = BENCHMARKS[name].split(":")
        run: Callable[[argparse.Namespace], list[Result]] = getattr(import_module(module), function)
        print(f"… {name}", file=sys.stderr, flush=True)
        results.extend(run(options))
    print(table(results))
    Path(options.json).write_text(
        json.dumps(
            {
                "started": started,
                "seconds": time.time() - started,
                "results": [r.as_json() for r in results],
            },
            indent=2,
            ensure_ascii=False,
        )
        + "\n"
    )
    return 0 if all(r.passed for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
