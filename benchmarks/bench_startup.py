"""Start-up cost of the `optgap` command, as a ratio against `python -c pass`.

Each command runs REPEAT times in a fresh interpreter; we print the median wall time, the
median CPU time (user + system of the child, from getrusage) and both ratios to `python -c
pass`. For scale, the last row imports every solver library eagerly, which is what each command
paid before the catalogue became lazy. Machines are shared: read the CPU column and the ratios.

    python benchmarks/bench_startup.py [REPEAT]
"""

from __future__ import annotations

import os
import resource
import statistics
import subprocess
import sys
import time

REPEAT = int(sys.argv[1]) if len(sys.argv) > 1 else 7
PY = sys.executable
CLI = [PY, "-m", "optgap.solvers.cli"]
EAGER = "import ortools.sat.python.cp_model, pulp, cvxpy, highspy, optuna, matplotlib.pyplot, onnx"

COMMANDS = {
    "python -c pass": [PY, "-c", "pass"],
    "optgap --version": [*CLI, "--version"],
    "optgap list": [*CLI, "list"],
    "optgap validate dag/fork-3": [*CLI, "validate", "dag/fork-3"],
    "optgap validate stages/resnet50-wits-x0.3": [*CLI, "validate", "stages/resnet50-wits-x0.3"],
    "import optgap": [PY, "-c", "import optgap"],
    "(eager solver imports, for scale)": [PY, "-c", EAGER],
}


def measure(argv: list[str]) -> tuple[float, float]:
    walls, cpus = [], []
    for _ in range(REPEAT):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.perf_counter()
        subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, env={**os.environ})
        walls.append(time.perf_counter() - t0)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpus.append((after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime))
    return statistics.median(walls), statistics.median(cpus)


def main() -> None:
    rows = {name: measure(argv) for name, argv in COMMANDS.items()}
    base_wall, base_cpu = rows["python -c pass"]
    print(f"start-up, median of {REPEAT} runs (load average {os.getloadavg()[0]:.2f})")
    print(f"{'command':44} {'wall s':>8} {'cpu s':>8} {'wall x':>8} {'cpu x':>8}")
    for name, (wall, cpu) in rows.items():
        print(
            f"{name:44} {wall:8.3f} {cpu:8.3f} {wall / base_wall:8.1f} "
            f"{cpu / max(base_cpu, 1e-3):8.1f}"
        )


if __name__ == "__main__":
    main()
