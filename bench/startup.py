"""Start-up cost: how long ``accord --help`` takes, and which imports it spends it on.

What it measures, each in a fresh process:

- the wall time of ``accord --help`` (the ``accord`` script next to this Python), the
  median and the slowest of ``--runs`` runs (7), after one untimed run that warms the
  file cache; beside it, for scale, the bare interpreter (``python -c pass``) and
  ``python -c "import accord.node"``;
- the ``--top`` (10) imports with the largest cumulative time in
  ``python -X importtime -c "import accord.cli"`` (one run: the order matters more
  than the exact figures, which vary from run to run by tens of milliseconds).

Run it with, for example::

    .venv/bin/python bench/startup.py
    .venv/bin/python bench/startup.py --runs 15 --top 20
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

from support import load_note, table


def accord_command() -> list[str]:
    """The ``accord`` script installed beside this interpreter, else ``python -m accord``."""
    script = Path(sys.executable).with_name("accord")
    return [str(script)] if script.exists() else [sys.executable, "-m", "accord"]


def wall_times(command: list[str], runs: int) -> list[float]:
    """Seconds each of ``runs`` runs of ``command`` took, after one untimed run."""
    subprocess.run(command, capture_output=True, check=True)
    times = []
    for _ in range(runs):
        began = time.perf_counter()
        subprocess.run(command, capture_output=True, check=True)
        times.append(time.perf_counter() - began)
    return times


def import_times(module: str) -> list[tuple[int, int, str]]:
    """(cumulative µs, self µs, module) of every import ``import module`` makes."""
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", f"import {module}"],
        capture_output=True,
        text=True,
        check=True,
    )
    found = []
    for line in done.stderr.splitlines():
        # "import time:   self [us] | cumulative | imported package", a header, then rows.
        fields = line.removeprefix("import time:").split("|")
        if len(fields) == 3 and fields[0].strip().isdigit():
            found.append((int(fields[1]), int(fields[0]), fields[2][1:].rstrip()))
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=7, help="timed runs of each command")
    parser.add_argument("--top", type=int, default=10, help="imports to list")
    args = parser.parse_args()

    print(load_note())
    commands = [
        ("python -c pass", [sys.executable, "-c", "pass"]),
        ('python -c "import accord.node"', [sys.executable, "-c", "import accord.node"]),
        ("accord --help", [*accord_command(), "--help"]),
    ]
    rows = []
    for label, command in commands:
        times = wall_times(command, args.runs)
        rows.append([label, f"{statistics.median(times):.3f}", f"{max(times):.3f}"])
    print()
    print(table(["command", "median s", "slowest s"], rows))

    imports = sorted(import_times("accord.cli"), reverse=True)[: args.top]
    print()
    print(f'the {args.top} slowest imports of "import accord.cli", by cumulative time:')
    print(
        table(
            ["module (indented by nesting)", "cumulative ms", "self ms"],
            [[name, f"{total / 1000:.1f}", f"{own / 1000:.1f}"] for total, own, name in imports],
        )
    )


if __name__ == "__main__":
    main()
