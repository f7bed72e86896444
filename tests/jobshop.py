"""Classic job-shop instances as F1 instances, with their published optima.

With one slot per machine, every operation pinned to its machine, a chain per job and free
transfers, a job shop is an F1 instance. Data in OR-Library's format (machine, time) per job.
- ft06: Fisher & Thompson (1963), 6x6, optimum 55.
- la01: Lawrence (1984), 10x5, optimum 666.
(Both from J.E. Beasley's OR-Library, jobshop1.txt, whose header gives these optima.)
"""

from __future__ import annotations

from optgap.formulations.dag.instance import load

FT06 = """
2 1 0 3 1 6 3 7 5 3 4 6
1 8 2 5 4 10 5 10 0 10 3 4
2 5 3 4 5 8 0 9 1 1 4 7
1 5 0 5 2 5 3 3 4 8 5 9
2 9 1 3 4 5 5 4 0 3 3 1
1 3 3 3 5 9 0 10 4 4 2 1
"""

LA01 = """
1 21 0 53 4 95 3 55 2 34
0 21 3 52 4 16 2 26 1 71
3 39 4 98 1 42 2 31 0 12
1 77 0 55 4 79 2 66 3 77
0 83 3 34 2 64 1 19 4 37
1 54 2 43 4 79 0 92 3 62
3 69 4 77 1 87 2 87 0 93
2 38 0 60 1 41 3 24 4 83
3 17 1 49 4 25 0 44 2 98
4 77 3 79 2 43 1 75 0 96
"""

# Two jobs, two machines. J0: m0 3 then m1 2; J1: m1 4 then m0 1.
# By hand: m1 must run J1 first (else J1 ends at 10), so J0's m1 step waits until 4: optimum 6,
# which equals machine m1's load (4 + 2), a lower bound.
TINY = """
0 3 1 2
1 4 0 1
"""

OPTIMA = {"ft06": 55, "la01": 666, "tiny": 6}
TEXT = {"ft06": FT06, "la01": LA01, "tiny": TINY}


def jobshop_json(text: str, name: str) -> dict:
    jobs = [[int(v) for v in line.split()] for line in text.strip().splitlines()]
    n_machines = len(jobs[0]) // 2
    ops, edges = [], []
    for j, row in enumerate(jobs):
        for k in range(n_machines):
            machine, t = row[2 * k], row[2 * k + 1]
            ops.append({"id": f"j{j}o{k}", "time_ms": {"cpu": t}, "devices": [f"m{machine}"]})
            if k:
                edges.append({"src": f"j{j}o{k - 1}", "dst": f"j{j}o{k}"})
    return {
        "family": "dag",
        "version": 1,
        "name": name,
        "devices": [{"id": f"m{m}", "kind": "cpu"} for m in range(n_machines)],
        "operators": ops,
        "edges": edges,
        "meta": {"source": "OR-Library jobshop1.txt", "optimum_ms": OPTIMA[name]},
    }


def jobshop(name: str):
    return load(jobshop_json(TEXT[name], name))
