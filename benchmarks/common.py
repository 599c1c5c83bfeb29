"""What every benchmark shares: its result row, a throw-away PostgreSQL database, a child process
whose peak memory is its own."""

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import psycopg

ROOT = Path(__file__).resolve().parent.parent
POSTGRES_ADMIN_URL = os.environ.get(
    "LEDGER_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)


@dataclass
class Result:
    """One line of the table. `ratio` is figure ÷ baseline (or as stated in `what`); the target
    is met when ratio >= `at_least` or ratio <= `at_most` (whichever is given). A figure with an
    absolute limit and no baseline (peak memory) sets `ratio` to the figure itself."""

    what: str
    figure: float
    unit: str
    baseline: str
    baseline_figure: float | None
    ratio: float
    at_least: float | None = None
    at_most: float | None = None
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def target(self) -> str:
        return f"≥ {self.at_least:g}" if self.at_least is not None else f"≤ {self.at_most:g}"

    @property
    def passed(self) -> bool:
        if self.at_least is not None:
            return self.ratio >= self.at_least
        return self.at_most is not None and self.ratio <= self.at_most

    def as_json(self) -> dict[str, Any]:
        return asdict(self) | {"target": self.target, "passed": self.passed}


@contextmanager
def postgres_database(prefix: str = "fondo_bench") -> Iterator[str]:
    """A fresh, uniquely named database on the local server; dropped afterwards."""
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield POSTGRES_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


CHILD = """
import json, resource, sys
sys.path.insert(0, {root!r})
from importlib import import_module
module, function = {target!r}.split(":")
result = getattr(import_module(module), function)(*json.loads(sys.argv[1]))
# Linux keeps ru_maxrss across exec (the parent's size at the fork would count): VmHWM is
# this program's own peak.
try:
    with open("/proc/self/status") as status:
        peak_kb = next(int(line.split()[1]) for line in status if line.startswith("VmHWM:"))
except (OSError, StopIteration):
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
result["peak_rss_mb"] = peak_kb / 1024
print("BENCH-RESULT " + json.dumps(result))
"""


def in_child(target: str, *args: Any, env: dict[str, str] | None = None) -> dict[str, Any]:
    """Run `module:function(*args)` in a fresh interpreter and return its dict result plus
    `peak_rss_mb`, the peak resident memory of that process alone."""
    code = CHILD.format(root=str(ROOT), target=target)
    done = subprocess.run(
        [sys.executable, "-c", code, json.dumps(args)],
        cwd=ROOT,
        env={**os.environ, **(env or {})},
        check=True,
        capture_output=True,
        text=True,
    )
    line = next(ln for ln in reversed(done.stdout.splitlines()) if ln.startswith("BENCH-RESULT "))
    result: dict[str, Any] = json.loads(line.removeprefix("BENCH-RESULT "))
    return result
