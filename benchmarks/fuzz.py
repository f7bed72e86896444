"""Fuzz every family's loader and evaluator with mutated shipped files; count the outcomes.

    python benchmarks/fuzz.py --n 10000 [--families dag stages] [--seed 0] [--workers 2]

Each case mutates a shipped instance file (or a heuristic's solution file of one, for about one
case in five) and runs ``optgap validate`` (or ``optgap evaluate``) in a worker process capped at
--mem-mb of address space and --timeout seconds. Outcomes: exit 0 (valid / accepted), exit 1
(solution rejected), exit 2 (one-line input error), exit 3 (internal error: a bug), timeout and
memory (a bug too). Prints counts per family and outcome, CPU time beside wall time, and the
distinct messages of the bugs.
"""

from __future__ import annotations

import argparse
import collections
import multiprocessing as mp
import random
import resource
import signal
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tests.fuzzing import FAMILIES, base_solution, mutate_text, run_cli, shipped  # noqa: E402

_TMP = Path(tempfile.mkdtemp(prefix="optgap-fuzz-"))


class _Timeout(Exception):
    pass


def _alarm(signum, frame):
    raise _Timeout


def _init(mem_mb: int) -> None:
    limit = mem_mb * 2**20
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    signal.signal(signal.SIGALRM, _alarm)


def _case(job: tuple) -> tuple[str, str, str, str]:
    family, kind, source, text, base_instance, timeout = job
    path = _TMP / f"case-{mp.current_process().pid}.json"
    path.write_text(text, encoding="utf-8", errors="surrogatepass")
    argv = ["validate", str(path)] if kind == "instance" else ["evaluate", base_instance, str(path)]
    signal.alarm(timeout)
    try:
        code, err = run_cli(argv)
        outcome = f"exit {code}"
    except _Timeout:
        outcome, err = "timeout", ""
    except MemoryError:
        outcome, err = "memory", ""
    finally:
        signal.alarm(0)
    if outcome == "exit 3" and "MemoryError" in err:
        outcome = "memory"
    return family, kind, outcome, (err.strip().splitlines() or [""])[-1][:160] + f"  [{source}]"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--families", nargs="+", default=list(FAMILIES))
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--timeout", type=int, default=30, help="seconds per case")
    ap.add_argument("--mem-mb", type=int, default=1500, help="address-space cap per worker")
    ap.add_argument("--solutions", type=float, default=0.2, help="share of solution cases")
    args = ap.parse_args()

    rng = random.Random(args.seed)
    sources: dict[str, list[tuple[Path, str]]] = {}
    solutions: dict[str, list[tuple[Path, str]]] = {}
    for fam in args.families:
        sources[fam] = [(p, p.read_text()) for p in shipped(fam)]
        solutions[fam] = []
        for p, _ in sources[fam]:
            s = base_solution(fam, p, _TMP / f"base-{fam}-{p.stem}.json")
            if s is not None:
                solutions[fam].append((p, s.read_text()))
    jobs = []
    for i in range(args.n):
        fam = args.families[i % len(args.families)]
        if solutions[fam] and rng.random() < args.solutions:
            inst, text = rng.choice(solutions[fam])
            mutated, how = mutate_text(text, rng)
            jobs.append((fam, "solution", f"{inst.name}:{how}", mutated, str(inst), args.timeout))
        else:
            p, text = rng.choice(sources[fam])
            mutated, how = mutate_text(text, rng)
            jobs.append((fam, "instance", f"{p.name}:{how}", mutated, "", args.timeout))

    counts: collections.Counter = collections.Counter()
    bugs: dict[tuple, collections.Counter] = collections.defaultdict(collections.Counter)
    wall, cpu = time.perf_counter(), time.process_time()
    with mp.get_context("fork").Pool(
        args.workers, initializer=_init, initargs=(args.mem_mb,), maxtasksperchild=200
    ) as pool:
        for fam, kind, outcome, msg in pool.imap_unordered(_case, jobs, chunksize=4):
            counts[(fam, kind, outcome)] += 1
            if outcome not in ("exit 0", "exit 1", "exit 2"):
                bugs[(fam, kind, outcome)][msg] += 1
    wall = time.perf_counter() - wall
    child = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = time.process_time() - cpu + child.ru_utime + child.ru_stime

    outcomes = ["exit 0", "exit 1", "exit 2", "exit 3", "timeout", "memory"]
    print(f"{args.n} cases, seed {args.seed}, {args.workers} workers, cap {args.mem_mb} MB")
    print(f"{'family':10} {'file':9} " + " ".join(f"{o:>8}" for o in outcomes))
    for fam in args.families:
        for kind in ("instance", "solution"):
            row = [counts[(fam, kind, o)] for o in outcomes]
            if sum(row):
                print(f"{fam:10} {kind:9} " + " ".join(f"{c:>8}" for c in row))
    total = [
        sum(counts[(f, k, o)] for f in args.families for k in ("instance", "solution"))
        for o in outcomes
    ]
    print(f"{'total':10} {'':9} " + " ".join(f"{c:>8}" for c in total))
    print(f"wall {wall:.1f} s, CPU {cpu:.1f} s (workers included), CPU/wall {cpu / wall:.2f}")
    for key, msgs in sorted(bugs.items()):
        print(f"\n{key[0]} {key[1]} {key[2]}: {sum(msgs.values())}")
        for m, c in msgs.most_common(12):
            print(f"  {c:5}  {m}")
    return 1 if sum(total[3:]) else 0


if __name__ == "__main__":
    sys.exit(main())
