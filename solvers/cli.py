"""The `optgap` command: solve, validate, evaluate, generate, export, compare, list.

Exit codes: 0 done; 1 an evaluator rejected an answer (or disagrees with the method's
objective); 2 a user error (one line on stderr); 3 an internal error; 130 interrupted.
Results go to stdout (`--json`: one JSON document and nothing else); progress, warnings and the
solvers' own logs (`--verbose`) go to stderr.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

from optgap.solvers import registry
from optgap.solvers.errors import InputError
from optgap.solvers.fields import (
    MAX_UNITS,
    _umask,
    check_numbers,
    check_output,
    number,
    read_json,
    refuse_nonempty_dir,
    set_limits,
    write_json_new,
)
from optgap.solvers.report import pct, table
from optgap.solvers.result import Result, SolveOptions, Status, gap_to

from optgap import __version__
from optgap.api import prepare
from optgap.data import instance_path, shipped_instances, shipped_suites, suite_path


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        set_limits(args.limit)
        return args.func(args)
    except InputError as e:
        print(f"optgap: error: {e}", file=sys.stderr)
        return 2
    except OSError as e:  # a file or folder the user named (permissions, disk full, ...)
        where = f"{e.filename}: " if e.filename else ""
        print(f"optgap: error: {where}{e.strerror or e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("optgap: interrupted", file=sys.stderr)
        return 130
    except Exception as e:  # an internal failure is still one line unless asked for more
        if os.environ.get("OPTGAP_DEBUG"):
            raise
        print(
            f"optgap: internal error: {type(e).__name__}: {e} (OPTGAP_DEBUG=1 shows the traceback)",
            file=sys.stderr,
        )
        return 3


# ------------------------------------------------------------------------------ parser


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="optgap", description=__doc__.splitlines()[0])
    p.add_argument(
        "--limit",
        action="append",
        default=[],
        metavar="KEY=N",
        help="raise a size limit, e.g. --limit dag.operators=500000 (README: Limits)",
    )
    p.add_argument("--version", action="version", version=f"optgap {__version__}")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    s = sub.add_parser("list", help="families and their methods (or shipped instances, suites)")
    g = s.add_mutually_exclusive_group()
    g.add_argument("--instances", action="store_true", help="the shipped instances, by name")
    g.add_argument("--suites", action="store_true", help="the shipped suites, by name")
    _json_flag(s)
    s.set_defaults(func=cmd_list)

    s = sub.add_parser("validate", help="check an instance file")
    s.add_argument("file", help="instance file, or a shipped instance name such as dag/fork-3")
    _json_flag(s)
    s.set_defaults(func=cmd_validate)

    s = sub.add_parser("schema", help="JSON Schema (draft 2020-12) of a family's instance file")
    s.add_argument("family")
    s.add_argument("--solution", action="store_true", help="the schema of its solution files")
    s.set_defaults(func=cmd_schema)

    s = sub.add_parser("solve", help="solve an instance file with one method, or compare all")
    s.add_argument("file", help="instance file, or a shipped instance name such as dag/fork-3")
    s.add_argument("--method", default="all", help="method name, 'exact', or 'all' (default: all)")
    _solve_options(s)
    s.add_argument(
        "--out", help="write the result (solution file) here; with --method all, every result"
    )
    s.add_argument("--force", action="store_true", help="overwrite --out if it exists")
    _json_flag(s)
    s.set_defaults(func=cmd_solve)

    s = sub.add_parser("evaluate", help="check a solution file against its instance")
    s.add_argument("instance", help="instance file, or a shipped instance name")
    s.add_argument("solution")
    s.add_argument("--objective", help="the pattern to judge (default: the one the file names)")
    s.add_argument("--slo-ms", type=float, help="judge against this SLO instead of the instance's")
    s.add_argument(
        "--param",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="family limit override, repeatable (e.g. budget_mb for pipeload)",
    )
    _json_flag(s)
    s.set_defaults(func=cmd_evaluate)

    s = sub.add_parser("generate", help="write a seeded random instance")
    s.add_argument("family")
    s.add_argument("--size", type=int, required=True)
    s.add_argument("--seed", type=int, default=0)
    s.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="generator argument, repeatable; VALUE is read as JSON if it parses "
        "(e.g. --set shape=chatbot for workflow, --set 'gpu_speedup=[1,6]' for dag)",
    )
    s.add_argument("-o", "--out", required=True)
    s.add_argument("--force", action="store_true")
    s.set_defaults(func=cmd_generate)

    s = sub.add_parser("export", help="write the exact model (LP/MPS for a MILP, CP-SAT proto)")
    s.add_argument("file")
    s.add_argument("--method", default="exact")
    _solve_options(s)
    s.add_argument(
        "-o", "--out", required=True, help="model.lp, model.mps, model.pb or model.pbtxt"
    )
    s.add_argument("--force", action="store_true")
    s.set_defaults(func=cmd_export)

    s = sub.add_parser(
        "compare", help="run methods on many instances (a grid or a suite); gap to the optimum"
    )
    s.add_argument("family", nargs="?", help="family id (or give --suite)")
    s.add_argument(
        "--suite",
        help="suite file (TOML), or a shipped suite by name (quick, dag-full, ...; "
        "`optgap list --suites`)",
    )
    s.add_argument("--sizes", type=int, nargs="+")
    s.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    s.add_argument("--methods", nargs="+", help="default: every method of the family")
    _solve_options(s)
    s.add_argument(
        "--out", required=True, help="results, one JSON line per run, appended as they finish"
    )
    s.add_argument("--resume", action="store_true", help="continue --out, skipping runs it holds")
    s.add_argument(
        "--workers", type=int, default=0, help="local worker processes (default: run in-process)"
    )
    s.add_argument("--scheduler", metavar="ADDRESS", help="Dask scheduler, e.g. tcp://host:8786")
    s.add_argument(
        "--task-timeout",
        type=float,
        metavar="S",
        help="hard wall-clock limit per run in worker processes (default 2 x time limit + 60)",
    )
    s.add_argument(
        "--plugin", action="append", default=[], help="module to import first (registers methods)"
    )
    s.add_argument(
        "--retry-failed",
        action="store_true",
        help="with --resume: run again the runs whose worker died or was killed at the hard limit",
    )
    s.add_argument(
        "--allow-errors",
        action="store_true",
        help="exit 0 even if some runs ended in status error (default: exit 1 and say how many)",
    )
    s.set_defaults(func=cmd_compare)

    s = sub.add_parser("report", help="Markdown/HTML report with figures of a compare results file")
    s.add_argument("results", help="JSON lines written by optgap compare")
    s.add_argument("-o", "--out", required=True, help="directory for report.md (or .html) and PNGs")
    s.add_argument("--format", choices=("md", "html"), default="md")
    s.add_argument("--force", action="store_true", help="write into a non-empty directory")
    s.set_defaults(func=cmd_report)

    s = sub.add_parser(
        "adversary", help="search for instances where a heuristic is furthest from optimal"
    )
    s.add_argument("family")
    s.add_argument("--method", required=True, help="the heuristic to attack")
    s.add_argument("--exact", default="exact", help="exact method giving the optimum")
    s.add_argument("--sizes", type=int, nargs=2, default=[6, 12], metavar=("MIN", "MAX"))
    s.add_argument("--iterations", type=int, default=200)
    s.add_argument("--keep", type=int, default=5, help="how many worst instances to save")
    _solve_options(s)
    s.add_argument("-o", "--out", required=True, help="directory for worst-K.json files")
    s.add_argument("--force", action="store_true", help="write into a non-empty directory")
    s.set_defaults(func=cmd_adversary)

    s = sub.add_parser("import", help="import a model graph as an instance (onnx, rnn, stg)")
    s.add_argument("format", choices=("onnx", "stg"))
    s.add_argument("file", help="MODEL.onnx or GRAPH.stg")
    s.add_argument(
        "--devices", help="device profile JSON, or a shipped one: server, edge (default server)"
    )
    s.add_argument(
        "--processors", type=int, default=4, help="stg: identical processors (default 4)"
    )
    s.add_argument(
        "--measure-cpu", action="store_true", help="onnx: CPU times measured with onnxruntime here"
    )
    s.add_argument("-o", "--out", required=True)
    s.add_argument("--force", action="store_true")
    s.set_defaults(func=cmd_import)

    s = sub.add_parser("rnn", help="write an unrolled LSTM/GRU network as ONNX and import it")
    s.add_argument("cell", choices=("lstm", "gru"))
    s.add_argument("--layers", type=int, default=2)
    s.add_argument("--timesteps", type=int, default=8)
    s.add_argument("--hidden", type=int, default=256)
    s.add_argument("--input-size", type=int, default=256)
    s.add_argument("--batch", type=int, default=1)
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--devices", help="device profile (default server)")
    s.add_argument("--onnx", help="also keep the ONNX model here")
    s.add_argument("-o", "--out", required=True)
    s.add_argument("--force", action="store_true")
    s.set_defaults(func=cmd_rnn)

    s = sub.add_parser(
        "plot", help="picture of a solution file (dag: Gantt chart; pipeload: latency-memory front)"
    )
    s.add_argument("solution")
    s.add_argument("--instance", help="instance file (default: the one the solution file names)")
    s.add_argument("-o", "--out", required=True, help="out.png (or .svg, .pdf)")
    s.add_argument("--force", action="store_true")
    s.set_defaults(func=cmd_plot)
    return p


def _solve_options(s: argparse.ArgumentParser) -> None:
    s.add_argument("--backend", help="backend of the method, e.g. cbc|highs for a MILP")
    s.add_argument(
        "--time-limit",
        type=float,
        default=60.0,
        metavar="S",
        help="seconds per exact solve (default 60)",
    )
    s.add_argument("--threads", type=int, default=1, help="solver threads (default 1)")
    s.add_argument("--seed", type=int, default=0, help="solver and heuristic seed (default 0)")
    s.add_argument("--objective", help="the family's pattern, e.g. latency or memory for dag")
    s.add_argument("--slo-ms", type=float, help="latency SLO in ms (memory pattern)")
    s.add_argument("--no-hint", action="store_true", help="do not warm-start exact models")
    s.add_argument("--verbose", action="store_true", help="show the solver's own log (on stderr)")
    s.add_argument(
        "--param",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="family-specific option, repeatable (see `optgap list`)",
    )


def _json_flag(s: argparse.ArgumentParser) -> None:
    s.add_argument(
        "--json", action="store_true", help="print one JSON document on stdout, nothing else"
    )


def _print_json(doc: object) -> None:
    print(json.dumps(doc, indent=2, default=str, allow_nan=False))


@contextlib.contextmanager
def _solver_log_to_stderr(on: bool) -> Iterator[None]:
    """--verbose: solvers write their logs to file descriptor 1; send them to stderr so that
    stdout keeps only results (and stays one JSON document with --json)."""
    if not on:
        yield
        return
    sys.stdout.flush()
    saved = os.dup(1)
    try:
        os.dup2(2, 1)
        yield
    finally:
        sys.stdout.flush()
        os.dup2(saved, 1)
        os.close(saved)


def _options(args: argparse.Namespace) -> SolveOptions:
    # SolveOptions.__post_init__ and optgap.api.prepare check the values, with the same one-line
    # errors in the API and the CLI; the CLI only adds the size limit on the SLO
    if args.time_limit == 0:
        raise InputError("time limit (--time-limit) must be > 0 s, got 0")
    if args.slo_ms is not None and args.slo_ms > 0:
        number(args.slo_ms, "--slo-ms", exclusive_minimum=True, maximum=MAX_UNITS / 1000)
    return SolveOptions(
        time_limit_s=args.time_limit,
        threads=args.threads,
        seed=getattr(args, "seed", 0),
        backend=args.backend,
        objective=args.objective,
        slo_ms=args.slo_ms,
        hint=not args.no_hint,
        params=_params(getattr(args, "param", [])),
        verbose=getattr(args, "verbose", False),
    )


def _params(items: list[str]) -> tuple[tuple[str, str], ...]:
    out = []
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise InputError(f"--param {item!r}: expected KEY=VALUE")
        out.append((key.strip(), value.strip()))
    return tuple(out)


def _load(path: str):
    return registry.load_instance(read_json(instance_path(path)))


# ------------------------------------------------------------------------------ commands


def cmd_list(args: argparse.Namespace) -> int:
    if args.instances:
        names = {k: str(v) for k, v in shipped_instances().items()}
        if args.json:
            _print_json({"instances": names})
        else:
            print(table(["instance", "file"], list(names.items()), "ll"))
        return 0
    if args.suites:
        suites = {k: str(v) for k, v in shipped_suites().items()}
        if args.json:
            _print_json({"suites": suites})
        else:
            print(table(["suite", "file"], list(suites.items()), "ll"))
        return 0
    registry.family("dag")  # loads the catalogue
    if args.json:
        _print_json(
            {
                "version": __version__,
                "families": [
                    {
                        "id": fam.id,
                        "title": fam.title,
                        "objectives": list(fam.objectives),
                        "sense": fam.sense,
                        "exact": fam.exact,
                        "methods": [
                            {
                                "name": m.name,
                                "kind": m.kind,
                                "backends": list(m.backends),
                                "objectives": list(m.objectives),
                                "params": list(m.params),
                                "exports": m.export is not None,
                                "description": m.description,
                            }
                            for m in registry.methods(fam.id).values()
                        ],
                    }
                    for fam in registry.FAMILIES.values()
                ],
            }
        )
        return 0
    for fam in registry.FAMILIES.values():
        print(f"{fam.id}: {fam.title}")
        print(
            f"  objectives: {', '.join(fam.objectives)} (default {fam.objectives[0]}); exact = {fam.exact}"
        )
        rows = [
            (
                m.name,
                m.kind,
                "/".join(m.backends),
                ",".join(m.objectives),
                ",".join(m.params) or "-",
                m.description,
            )
            for m in registry.methods(fam.id).values()
        ]
        print(
            "  "
            + table(
                ["method", "kind", "backends", "objectives", "--param", "description"],
                rows,
                "llllll",
            ).replace("\n", "\n  ")
        )
    return 0


def cmd_validate(args: argparse.Namespace) -> int:
    fam, inst = _load(args.file)
    if args.json:
        _print_json(
            {"file": args.file, "valid": True, "family": fam.id, "describe": fam.describe(inst)}
        )
    else:
        print(f"{args.file}: valid {fam.id} instance: {fam.describe(inst)}")
    return 0


def cmd_schema(args: argparse.Namespace) -> int:
    from optgap.schema import schema

    registry.family(args.family)  # an unknown family is a one-line error
    _print_json(schema(args.family, solution=args.solution))
    return 0


def cmd_solve(args: argparse.Namespace) -> int:
    fam, inst = _load(args.file)
    options = _options(args)
    if args.backend and args.method == "all":
        raise InputError("--backend needs a single --method")
    names = None if args.method == "all" else [args.method]
    batch = prepare(fam.id, names, options)  # every option checked before anything runs
    if args.out:
        _refuse_existing(args.out, args.force)
    say = (lambda *a: None) if args.json else print
    say(f"instance   {args.file} ({fam.id}: {fam.describe(inst)})")
    if args.method == "all":
        return _solve_all(fam, inst, options, batch, args, say)
    ((m, routed),) = batch
    from optgap.solvers.progress import heartbeat, note

    note(f"solving with {m.name} (time limit {options.time_limit_s:g} s)")
    with heartbeat(f"solve {m.name}", options.time_limit_s), _solver_log_to_stderr(options.verbose):
        result = registry.solve(fam.id, m.name, inst, routed)
    result, verdict, code = _verdict(fam, inst, result, options)
    if args.json:
        _print_json(_solve_doc(args.file, fam, [(result, verdict, code, None)]))
    say(
        f"method     {m.name} ({m.kind}, backend {result.backend}, {options.threads} thread(s), seed {options.seed}, limit {options.time_limit_s:g} s)"
    )
    say(f"pattern    {result.stats.get('objective_pattern')}")
    say(f"status     {result.status}" + (f": {result.message}" if result.message else ""))
    say(f"objective  {_num(result.objective)}")
    say(f"bound      {_num(result.bound)}")
    say(f"gap        {pct(result.gap)}")
    say(f"time       {result.time_s:.3f} s")
    say(f"evaluator  {verdict}")
    if args.out:
        data = result.to_json() | {"instance": _instance_ref(args.file, args.out)}
        write_json_new(args.out, data, force=args.force)
        say(f"wrote      {args.out}")
    return code


def _instance_ref(given: str, out: str) -> str:
    """How a solution file names its instance: relative to the file, or a shipped name."""
    if not Path(given).exists():
        return given  # a shipped instance name (dag/fork-3): found again from anywhere
    return os.path.relpath(given, Path(out).resolve().parent)


def _solve_doc(file: str, fam, rows: list) -> dict:
    """`solve --json`: the instance, and per method its result and the evaluator's verdict."""
    return {
        "instance": file,
        "family": fam.id,
        "results": [
            r.to_json()
            | {"evaluator": {"verdict": verdict, "accepted": code == 0}, "gap_to_optimum": gap}
            for r, verdict, code, gap in rows
        ],
    }


def _solve_all(fam, inst, options: SolveOptions, batch, args, say) -> int:
    from optgap.solvers.progress import bar

    objective = options.objective or fam.objectives[0]
    results = []
    with bar(len(batch), "solve", "method", every=0.0) as progress:
        for m, routed in batch:
            with _solver_log_to_stderr(options.verbose):
                r = registry.solve(fam.id, m.name, inst, routed)
            results.append(r)
            progress.set_postfix_str(f"{m.name}: {r.status}, {r.time_s:.1f} s")
            progress.update(1)
    # each result as the evaluator and its certificate support it
    from optgap.solvers.verdict import check

    checks = [check(fam, inst, r, options) for r in results]
    verdicts = [(c.result, c.verdict, c.code) for c in checks]
    results = [r for r, _, _ in verdicts]
    exact = [
        r
        for r, _, c in verdicts
        if r.stats.get("kind") == "exact" and r.status == Status.OPTIMAL and not c
    ]
    pick = min if fam.sense == "min" else max
    best = pick((r.objective for r in exact), default=None)
    rows, checked, code = [], [], 0
    for r, verdict, c in verdicts:
        code = max(code, c)
        gap = None if best is None or r.objective is None else gap_to(r.objective, best, fam.sense)
        checked.append((r, verdict, c, gap))
        rows.append(
            (
                r.method,
                r.stats.get("kind"),
                r.status,
                r.objective,
                r.bound,
                pct(gap),
                f"{r.time_s:.3f}",
                verdict,
            )
        )
    if args.json:
        _print_json(_solve_doc(args.file, fam, checked))
    # the SLO the evaluator judged against (the instance's, or --slo-ms), never a solution's claim
    slo = options.slo_ms or next(
        (
            c.evaluation.metrics["slo_ms"]
            for c in checks
            if c.evaluation is not None and c.evaluation.metrics.get("slo_ms")
        ),
        None,
    )
    say(f"pattern    {objective}" + (f" (SLO {slo:g} ms)" if slo else ""))
    say("gap        to the proven optimum" + ("" if best is not None else " (none proven)"))
    say()
    say(
        table(
            ["method", "kind", "status", "objective", "bound", "gap to opt", "time s", "evaluator"],
            rows,
            "lllrrrrl",
        )
    )
    if args.out:
        doc = _solve_doc(_instance_ref(args.file, args.out), fam, checked)
        write_json_new(args.out, doc, force=args.force)
        say(f"wrote      {args.out} ({len(results)} results)")
    return code


def _verdict(fam, inst, result: Result, options: SolveOptions) -> tuple[Result, str, int]:
    """The result as the evaluator and its certificate support it (solvers/verdict.py)."""
    from optgap.solvers.verdict import check

    c = check(fam, inst, result, options)
    return c.result, c.verdict, c.code


def _num(x: float | None) -> str:
    return "-" if x is None else f"{x:g}"


def cmd_evaluate(args: argparse.Namespace) -> int:
    fam, inst = _load(args.instance)
    data = read_json(args.solution)
    check_numbers(data, args.solution)  # 10**400: a clean error, not an OverflowError
    if isinstance(data, dict) and "schedule" in data:  # a bare solution object
        data = {"family": fam.id, "method": "?", "status": "feasible", "solution": data}
    result = Result.from_json(
        {k: v for k, v in data.items() if k != "instance"} if isinstance(data, dict) else data
    )
    if result.family != fam.id:
        raise InputError(
            f"{args.solution}: a {result.family} solution, but {args.instance} is a {fam.id} instance"
        )
    if result.solution is None:
        raise InputError(f"{args.solution}: holds no solution (status {result.status})")
    for key in ("objective", "bound"):
        value = getattr(result, key)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int | float)):
            raise InputError(
                f"{args.solution}: {key}: expected a number or null, got {value!r:.40}"
            )
    if args.slo_ms is not None:
        number(args.slo_ms, "--slo-ms", exclusive_minimum=True, maximum=MAX_UNITS / 1000)
    options = SolveOptions(
        objective=args.objective
        or (result.stats.get("objective_pattern") if isinstance(result.stats, dict) else None),
        slo_ms=args.slo_ms,
        params=_params(args.param),
    )
    from optgap.solvers.verdict import check

    c = check(fam, inst, result, options, from_file=True)
    ev = c.evaluation
    if args.json:
        _print_json(
            {
                "instance": args.instance,
                "solution": args.solution,
                "family": fam.id,
                "feasible": ev.feasible,
                "objective": ev.objective,
                "file_objective": result.objective,
                "accepted": c.accepted,
                "verdict": c.verdict,
                "not_supported": list(c.claims),
                "status": str(c.result.status),
                "bound": c.result.bound,
                "gap": c.result.gap,
                "violations": ev.violations,
                "metrics": ev.metrics,
                "certified_bound": ev.certified_bound,
            }
        )
        return c.strict_code if ev.feasible else 1
    print(f"evaluator  {ev.summary(limit=10)}")
    if ev.feasible:
        print(
            f"objective  {ev.objective:g}"
            + (f" (file says {result.objective:g})" if result.objective is not None else "")
        )
        for k, v in ev.metrics.items():
            print(f"  {k} = {v}")
        if not c.accepted:
            print(f"verdict    {c.verdict}")
            return 1
        # status, bound and gap as the evaluator's certificate supports them
        print(f"status     {c.result.status} (file says {result.status})")
        print(f"bound      {_num(c.result.bound)} (file says {_num(result.bound)})")
        print(f"gap        {pct(c.result.gap)}")
        for claim in c.claims:
            print(f"NOT SUPPORTED: {claim}")
    return c.strict_code


def cmd_generate(args: argparse.Namespace) -> int:
    from optgap.solvers.suite import generate_instance

    fam = registry.family(args.family)
    if args.size < 1:
        raise InputError("--size must be >= 1")
    kwargs = {}
    for key, value in _params(args.set):
        try:
            kwargs[key] = json.loads(value)
        except json.JSONDecodeError:
            kwargs[key] = value
    _refuse_existing(args.out, args.force)
    inst = generate_instance(fam.id, args.size, args.seed, kwargs)
    return _write_instance(fam.dump(inst), args.out, args.force)


def cmd_export(args: argparse.Namespace) -> int:
    fam, inst = _load(args.file)
    m = registry.method(fam.id, args.method)
    if m.export is None:
        raise InputError(f"method {m.name!r} has no model to export (it is a {m.kind})")
    _refuse_existing(args.out, args.force)
    options = _options(args)
    options = SolveOptions(
        **{
            **options.__dict__,
            "objective": options.objective or fam.objectives[0],
            "backend": options.backend or m.backends[0],
        }
    )
    _export_through_temp(m, inst, options, args.out, args.force)
    print(f"wrote {args.out}: {m.name} model of {args.file}")
    return 0


def cmd_compare(args: argparse.Namespace) -> int:
    from optgap.solvers.compare import run, summarise
    from optgap.solvers.suite import grid_tasks, load_plugins, read_suite

    load_plugins(args.plugin)
    timeout = args.task_timeout
    if args.workers < 0:
        raise InputError("--workers must be >= 0")
    if args.suite:
        if args.family or args.sizes or args.methods:
            raise InputError("--suite names families, sizes and methods itself; drop the others")
        suite = read_suite(suite_path(args.suite))
        tasks, timeout = suite.tasks, timeout or suite.task_timeout_s
    else:
        if not args.family or not args.sizes:
            raise InputError("compare: give FAMILY --sizes N.. (or --suite FILE)")
        fam = registry.family(args.family)
        names = args.methods or [
            n
            for n, m in registry.methods(fam.id).items()
            if (args.objective or fam.objectives[0]) in m.objectives
        ]
        tasks = grid_tasks(fam.id, args.sizes, args.seeds, names, _options(args))
        plugins = tuple(args.plugin)
        tasks = [replace(t, plugins=plugins) for t in tasks]
    records = run(
        tasks,
        args.out,
        resume=args.resume,
        workers=args.workers,
        scheduler=args.scheduler,
        task_timeout_s=timeout,
        retry_failed=args.retry_failed,
    )
    print(summarise(records))
    code = 1 if any(r["evaluation"]["verdict"] == "rejected" for r in records) else 0
    errors = sum(r["status"] == Status.ERROR for r in records)
    if errors:
        print(
            f"optgap: {errors} of {len(records)} runs ended in status error"
            + (" (--allow-errors: exit status unaffected)" if args.allow_errors else ""),
            file=sys.stderr,
        )
        code = code if args.allow_errors else 1
    return code


def cmd_adversary(args: argparse.Namespace) -> int:
    from optgap.solvers.adversary import save, search

    if args.iterations < 1 or args.keep < 1:
        raise InputError("--iterations and --keep must be >= 1")
    out = Path(args.out)
    refuse_nonempty_dir(out, args.force)  # before the search, not after it
    found = search(
        args.family,
        args.method,
        sizes=tuple(args.sizes),
        iterations=args.iterations,
        keep=args.keep,
        seed=args.seed,
        options=_options(args),
        exact=args.exact,
    )
    save(found, out, args.family, args.method, force=True)
    rows = [
        (f"worst-{k}.json", f.ratio, f.heuristic, f.optimum, f.iteration)
        for k, f in enumerate(found, 1)
    ]
    print(table(["file", "ratio", args.method, "optimum", "found at"], rows, "lrrrr"))
    print(f"wrote {out}/ (instances and adversary.json)")
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from optgap.solvers.results_report import write_report

    path = write_report(args.results, args.out, fmt=args.format, force=args.force)
    print(
        f"wrote {path}" + (" (figures embedded)" if args.format == "html" else " and its figures")
    )
    return 0


def _export_through_temp(m, inst, options: SolveOptions, out: str, force: bool) -> None:
    """The exporters write to a path; give them a unique temporary one (same folder, same
    extension, which picks the format) and rename it into place, so a failed export leaves
    nothing behind and never touches a file of the user's."""
    import tempfile

    target = Path(out)
    try:
        fd, tmp = tempfile.mkstemp(
            dir=target.parent, prefix=f".{target.name}.", suffix=target.suffix
        )
    except OSError as e:
        raise InputError(f"{out}: cannot write ({e.strerror})") from None
    os.close(fd)
    try:
        m.export(inst, options, tmp)
        os.chmod(tmp, 0o666 & ~_umask())
        if not force and target.exists():  # appeared while we exported: do not replace it
            raise InputError(f"{out}: already exists; choose another name or pass --force")
        os.replace(tmp, target)
    except ValueError as e:  # an extension that does not match the format, and the like
        raise InputError(str(e).replace(tmp, out)) from None
    except OSError as e:
        raise InputError(f"{out}: cannot write ({e.strerror})") from None
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def _refuse_existing(path: str, force: bool) -> None:
    check_output(path, force)  # exists, a directory, or an unwritable folder: before any work


def _write_instance(data: dict, out: str, force: bool) -> int:
    """Validate what an importer or generator made (as if read from a file), then write it."""
    fam, inst = registry.load_instance(data)
    write_json_new(out, data, force=force)
    print(f"wrote {out}: {fam.id} instance, {fam.describe(inst)}")
    return 0


def cmd_import(args: argparse.Namespace) -> int:
    _refuse_existing(args.out, args.force)
    if args.format == "onnx":
        from optgap.instances.dag.onnx_import import import_onnx_with_report as import_onnx

        data, report = import_onnx(args.file, args.devices, measure_cpu=args.measure_cpu)
        for line in report.lines():
            print(line)
    else:
        from optgap.instances.dag.stg import import_stg

        data = import_stg(args.file, processors=args.processors)
    return _write_instance(data, args.out, args.force)


def cmd_rnn(args: argparse.Namespace) -> int:
    from optgap.instances.dag.rnn import rnn_instance, rnn_model

    _refuse_existing(args.out, args.force)
    spec = dict(
        cell=args.cell,
        layers=args.layers,
        timesteps=args.timesteps,
        hidden=args.hidden,
        input_size=args.input_size,
        batch=args.batch,
        seed=args.seed,
    )
    for key in ("layers", "timesteps", "hidden", "input_size", "batch"):
        if spec[key] < 1:
            raise InputError(f"--{key.replace('_', '-')} must be >= 1")
    if args.onnx:
        import onnx

        _refuse_existing(args.onnx, args.force)
        onnx.save(rnn_model(**spec), args.onnx)
        print(f"wrote {args.onnx}")
    data, report = rnn_instance(**spec, devices=args.devices)
    return _write_instance(data, args.out, args.force)


def cmd_plot(args: argparse.Namespace) -> int:
    _refuse_existing(args.out, args.force)
    data = read_json(args.solution)
    if not isinstance(data, dict) or not isinstance(data.get("solution"), dict):
        raise InputError(f"{args.solution}: not a solution file (no 'solution' object)")
    instance_file = args.instance
    if instance_file is None:
        if "instance" not in data:
            raise InputError(f"{args.solution}: names no instance; pass --instance FILE")
        near = Path(args.solution).resolve().parent / str(data["instance"])
        # relative to the solution file, or a shipped instance's name
        instance_file = str(near.resolve()) if near.exists() else str(data["instance"])
    fam, inst = _load(instance_file)
    if fam.plot is None:
        raise InputError(f"family {fam.id!r} has no plot")
    fam.plot(inst, data, args.out)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
