"""Backend adapters: one function per modelling library, each honouring the time limit, the
thread count and the seed, and reporting status and best bound honestly.

- ``solve_pulp``: CBC (bundled with pulp) and HiGHS (highspy). MILP gap tolerances are zero:
  with the defaults CBC and HiGHS stop at different "optimal" costs on objectives of small
  magnitude. CBC's bound is read from its log; HiGHS's from ``mip_dual_bound``.
- ``solve_cpsat``: OR-Tools CP-SAT, bound from ``BestObjectiveBound``.
- ``solve_cvxpy``: Clarabel or SCS; the bound is not a certified dual bound for SCS (first-order
  accuracy), so only a status ``optimal`` from Clarabel counts as proven.

Time limits. ``registry.solve`` opens a :func:`deadline_scope` when a method starts, so the time
spent on warm starts and on building the model counts: every backend gets :func:`remaining`
seconds, not the full limit. Models call :func:`check_time` in their long loops; past the deadline
it raises :class:`TimeUp`, which the solve layer reports as ``time_limit`` (or ``feasible`` with
an accepted warm start). A solver still running :func:`hard_stop_s` after it started (its limit
plus max(HARD_STOP_S, HARD_STOP_SHARE x limit)) is stopped from a watchdog thread: CBC (a child
process) gets SIGINT (it stops and writes its incumbent), then SIGKILL ``KILL_AFTER_S`` later;
HiGHS gets ``cancelSolve``; CP-SAT ``StopSearch``. Stated overshoot: a solve returns within that
margin (+ KILL_AFTER_S for CBC, + reading the solution back) of the deadline, as long as the
model's own Python loops call check_time. cvxpy's compilation cannot be interrupted (Clarabel and
SCS get the remaining time for their iterations).

Each adapter takes ``limits``: solver options that stop the search deterministically (a node,
solution, conflict or iteration limit, e.g. CBC ``{"maxSolutions": 1}``, HiGHS
``{"mip_max_improving_sols": 1}``, CP-SAT ``{"stop_after_first_solution": True}``, SCS
``{"max_iters": 5}``). The status tests use them to stop a solve with an incumbent without
depending on the machine's speed; a stop for any reason other than proof is never ``optimal``.
"""

from __future__ import annotations

import contextlib
import contextvars
import math
import os
import re
import signal
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from optgap.solvers.result import SolveOptions, Status

MILP_BACKENDS = ("cbc", "highs")
SDP_BACKENDS = ("clarabel", "scs")


@dataclass
class Outcome:
    """What a backend says about one solve; the model reads variable values itself."""

    status: Status
    objective: float | None = None
    bound: float | None = None
    message: str = ""


# ---------------------------------------------------------------------------- time limits

HARD_STOP_S = 2.0  # a solver still running max(this, HARD_STOP_SHARE x limit) after the
HARD_STOP_SHARE = 0.25  # deadline is stopped (the margin lets it stop and report by itself)
KILL_AFTER_S = 3.0  # CBC: SIGKILL this long after SIGINT
MIN_SOLVE_S = 0.05  # a solver always gets a moment, so that it reports its own status
_DEADLINE: contextvars.ContextVar[float | None] = contextvars.ContextVar(
    "optgap_deadline", default=None
)


class TimeUp(BaseException):
    """The time limit passed before the solver could run (e.g. while building the model). A
    BaseException, so that a model's ``except Exception`` does not swallow it."""


@contextlib.contextmanager
def deadline_scope(time_limit_s: float) -> Iterator[None]:
    """Everything inside shares one deadline, ``time_limit_s`` from now (an inner scope never
    extends an outer one)."""
    outer = _DEADLINE.get()
    mine = time.monotonic() + time_limit_s
    token = _DEADLINE.set(mine if outer is None else min(outer, mine))
    try:
        yield
    finally:
        _DEADLINE.reset(token)


@contextlib.contextmanager
def hard_deadline(time_limit_s: float) -> Iterator[None]:
    """The last resort for Python code that never calls check_time (a model's build loop, a
    heuristic's post-processing): SIGALRM raises TimeUp in the main thread once the method has
    run hard_stop_s(limit) + KILL_AFTER_S + max(5 s, 25 % of the limit), after every solver's own
    watchdog (and its incumbent) had its chance. Only in the main thread of a process with no
    other interval timer (a harness's own alarm wins); a long C call (a solver) takes it when it
    returns, which its watchdog makes happen."""
    usable = hasattr(signal, "setitimer") and threading.current_thread() is threading.main_thread()
    if not usable or signal.getitimer(signal.ITIMER_REAL)[0] > 0:
        yield
        return

    at = hard_stop_s(time_limit_s) + KILL_AFTER_S + max(5.0, HARD_STOP_SHARE * time_limit_s)

    def on_alarm(signum, frame):
        raise TimeUp(f"time limit overrun: the method was stopped {at:.3g} s after it started")

    previous = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, at)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def remaining(options: SolveOptions) -> float:
    """Seconds left for a solver: the option's limit, cut to the deadline of the scope."""
    left = float(options.time_limit_s)
    deadline = _DEADLINE.get()
    if deadline is not None:
        left = min(left, deadline - time.monotonic())
    return max(MIN_SOLVE_S, left)


def hard_stop_s(limit_s: float) -> float:
    """Seconds after which the watchdog stops a solver that was given ``limit_s`` seconds."""
    return limit_s + max(HARD_STOP_S, HARD_STOP_SHARE * limit_s)


def expired() -> bool:
    """Whether the deadline of the scope has passed: an anytime heuristic stops and returns the
    best answer it has (one that would run past the limit is no heuristic a user can budget)."""
    deadline = _DEADLINE.get()
    return deadline is not None and time.monotonic() >= deadline


def check_time(what: str = "building the model") -> None:
    """Raise TimeUp when the deadline of the scope has passed (cheap: call it in long loops)."""
    if expired():
        raise TimeUp(f"time limit reached while {what}")


@contextlib.contextmanager
def _watchdog(after_s: float, stop: Callable[[], None]) -> Iterator[threading.Event]:
    """Call ``stop`` (repeatedly, every 0.5 s) once ``after_s`` seconds have passed, until the
    block ends. Yields an Event that is set if the watchdog fired."""
    done, fired = threading.Event(), threading.Event()

    def watch() -> None:
        if done.wait(after_s):
            return
        while not done.is_set():
            fired.set()
            with contextlib.suppress(Exception):
                stop()
            done.wait(0.5)

    thread = threading.Thread(target=watch, daemon=True, name="optgap-watchdog")
    thread.start()
    try:
        yield fired
    finally:
        done.set()
        thread.join(timeout=1.0)


def _children(name: str) -> list[int]:
    """Process ids of this process's children whose command is ``name`` (Linux /proc)."""
    me, out = os.getpid(), []
    with contextlib.suppress(OSError):
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            with contextlib.suppress(OSError, ValueError, IndexError):
                with open(f"/proc/{entry}/stat", encoding="utf-8", errors="replace") as f:
                    stat = f.read()
                comm = stat[stat.index("(") + 1 : stat.rindex(")")]
                ppid = int(stat[stat.rindex(")") + 2 :].split()[1])
                if ppid == me and comm.startswith(name):
                    out.append(int(entry))
    return out


def _stop_cbc(started: float) -> None:
    """SIGINT to CBC (it stops and writes its incumbent); SIGKILL if it is still there later."""
    sig = signal.SIGKILL if time.monotonic() - started > KILL_AFTER_S else signal.SIGINT
    for pid in _children("cbc"):
        with contextlib.suppress(OSError):
            os.kill(pid, sig)


# ---------------------------------------------------------------------------- pulp


def solve_pulp(
    prob,
    options: SolveOptions,
    backend: str | None = None,
    *,
    warm_start: bool = False,
    limits: dict[str, Any] | None = None,
) -> Outcome:
    """Solve a pulp minimisation problem with CBC or HiGHS.

    ``warm_start``: CBC starts from the variables' initial values (``setInitialValue``); pulp's
    HiGHS interface has no warm start, so HiGHS ignores it.
    """
    import pulp

    backend = backend or options.backend or "cbc"
    if prob.sense != pulp.LpMinimize:
        raise ValueError("solve_pulp expects a minimisation problem")
    if backend not in MILP_BACKENDS:
        raise ValueError(f"unknown MILP backend {backend!r}")
    # Scale the objective by a power of ten so its largest coefficient lies in [1, 10): below
    # ~1e-7, CBC reads cost coefficients as zero whatever gap tolerance is set.
    original = prob.objective
    scale = _objective_scale(original)
    if scale != 1.0:
        prob.objective = original * scale
    try:
        if backend == "cbc":
            out = _solve_cbc(prob, options, warm_start, limits or {})
        else:
            out = _solve_highs(prob, options, limits or {})
    finally:
        prob.objective = original
    if out.bound is not None:
        # pulp hands CBC and HiGHS the objective without its constant, so their bound lacks it
        # (pulp.value adds it back to the objective only): without this, a `feasible` answer of a
        # model with a constant reported a bound off by that constant (F2 found it)
        out.bound += float(getattr(original, "constant", 0.0) or 0.0) * scale
    if out.status in (Status.OPTIMAL, Status.FEASIBLE) and out.objective is None:
        # an objective without terms: pulp gives no value, but every solution costs its constant
        out.objective = float(getattr(original, "constant", 0.0) or 0.0)
        if out.status == Status.OPTIMAL:
            out.bound = out.objective
    if scale != 1.0:
        out.objective = None if out.objective is None else pulp.value(original)
        out.bound = None if out.bound is None else out.bound / scale
        if out.status == Status.OPTIMAL:
            out.bound = out.objective
    return out


def _objective_scale(objective) -> float:
    coefs = [abs(c) for c in objective.values() if c != 0]
    if not coefs:
        return 1.0
    return 10.0 ** -math.floor(math.log10(max(coefs)))


def _solve_cbc(
    prob, options: SolveOptions, warm_start: bool = False, limits: dict[str, Any] | None = None
) -> Outcome:
    import pulp

    fd, log_path = tempfile.mkstemp(suffix=".cbc.log")
    os.close(fd)
    limit = remaining(options)
    first_stop: list[float] = []

    def stop() -> None:
        first_stop.append(first_stop[0] if first_stop else time.monotonic())
        _stop_cbc(first_stop[0])

    try:
        solver = pulp.PULP_CBC_CMD(
            msg=options.verbose,  # --verbose: CBC's own log
            timeLimit=limit,
            # one thread: CBC's serial code (no "-threads"); "-threads 1" runs the threaded code
            # with one worker, which now and then deadlocks until the time limit (F3 found it)
            threads=options.threads if options.threads > 1 else None,
            gapRel=0.0,
            gapAbs=0.0,
            logPath=log_path,
            warmStart=warm_start,
            options=[f"randomCbcSeed {options.seed + 1}", f"randomSeed {options.seed + 1}"]
            + [f"{k} {v}" for k, v in (limits or {}).items()],
        )
        with _watchdog(hard_stop_s(limit), stop) as fired:
            try:
                prob.solve(solver)
            except TimeUp:  # the method's hard deadline: no CBC may outlive it
                for pid in _children("cbc"):
                    with contextlib.suppress(OSError):
                        os.kill(pid, signal.SIGKILL)
                raise
            except pulp.PulpSolverError:
                if not fired.is_set():
                    raise
                return Outcome(
                    Status.TIME_LIMIT,
                    message=f"CBC overran its time limit and was stopped ({limit:.3g} s given)",
                )
        with open(log_path, encoding="utf-8", errors="replace") as f:
            log = f.read()
    finally:
        os.unlink(log_path)
    objective = pulp.value(prob.objective)
    if prob.status == pulp.LpStatusInfeasible:
        return Outcome(Status.INFEASIBLE, message="CBC proved the model infeasible")
    if prob.status == pulp.LpStatusUnbounded:
        return Outcome(Status.ERROR, message="CBC reports the model unbounded")
    if prob.sol_status == pulp.LpSolutionOptimal:
        return Outcome(Status.OPTIMAL, objective, objective)
    if prob.sol_status == pulp.LpSolutionIntegerFeasible:
        m = re.search(r"^Lower bound:\s+(\S+)", log, re.MULTILINE)
        bound = float(m.group(1)) if m else None
        return Outcome(Status.FEASIBLE, objective, bound)
    if "Stopped on time" in log or "time limit" in log.lower():
        return Outcome(Status.TIME_LIMIT, message="CBC found no solution within the time limit")
    if re.search(r"^Result - Stopped on (node|solutions|iterations)", log, re.MULTILINE):
        # a node, solution or iteration limit before any solution: a time-out, not an error
        return Outcome(Status.TIME_LIMIT, message="CBC stopped by a limit before any solution")
    if "infeasible" in log.lower():
        return Outcome(Status.INFEASIBLE, message="CBC proved the model infeasible")
    return Outcome(Status.ERROR, message=f"CBC status {pulp.LpStatus[prob.status]}")


def _solve_highs(prob, options: SolveOptions, limits: dict[str, Any] | None = None) -> Outcome:
    import highspy
    import pulp

    # HiGHS keeps one global thread pool; a new thread count needs a fresh one.
    highspy.Highs.resetGlobalScheduler(True)
    limit = remaining(options)
    solver = pulp.HiGHS(  # looked up now: tests wrap pulp.HiGHS to add callbacks
        msg=options.verbose,  # --verbose: HiGHS's own log
        timeLimit=limit,
        threads=options.threads,
        gapRel=0.0,
        gapAbs=0.0,
        random_seed=options.seed,
        # HiGHS 1.14's MIP presolve returns wrong "optimal" answers on rare models (F1: an xfail
        # no longer; F3: 2 % too costly, even on a 2-variable MIP). Correctness first: off.
        **({"presolve": "off"} if prob.isMIP() else {}),
        **(limits or {}),
    )
    _interruptible(solver, hard_stop_s(limit))
    # pulp's status table lacks some HiGHS statuses (kSolutionLimit: a node or solution limit)
    # and raises KeyError; it has copied the variable values by then, and the status is read below
    with contextlib.suppress(KeyError):
        prob.solve(solver)
    h = prob.solverModel
    ms = h.getModelStatus()
    info = h.getInfo()
    has_solution = info.primal_solution_status == 2  # kSolutionStatusFeasible
    objective = pulp.value(prob.objective) if has_solution else None
    bound = info.mip_dual_bound if math.isfinite(info.mip_dual_bound) else None
    if ms == highspy.HighsModelStatus.kOptimal:
        return Outcome(Status.OPTIMAL, objective, objective)
    if ms == highspy.HighsModelStatus.kInfeasible:
        return Outcome(Status.INFEASIBLE, message="HiGHS proved the model infeasible")
    if ms in (highspy.HighsModelStatus.kUnbounded, highspy.HighsModelStatus.kUnboundedOrInfeasible):
        return Outcome(Status.ERROR, message=f"HiGHS: {h.modelStatusToString(ms)}")
    if has_solution:
        return Outcome(Status.FEASIBLE, objective, bound)
    if ms in (highspy.HighsModelStatus.kTimeLimit, highspy.HighsModelStatus.kInterrupt):
        return Outcome(Status.TIME_LIMIT, bound=bound, message="HiGHS found no solution in time")
    if ms in (highspy.HighsModelStatus.kSolutionLimit, highspy.HighsModelStatus.kIterationLimit):
        # a node, solution or iteration limit: stopped before any solution, like a time-out
        return Outcome(
            Status.TIME_LIMIT,
            bound=bound,
            message=f"HiGHS stopped by a limit before any solution ({h.modelStatusToString(ms)})",
        )
    return Outcome(Status.ERROR, message=f"HiGHS: {h.modelStatusToString(ms)}")


def _interruptible(solver, hard_s: float) -> None:
    """Give pulp's HiGHS a watchdog that cancels the solve ``hard_s`` seconds after it starts
    (HiGHS checks its own limit, but not everywhere: a 300-operator F1 model ran 29 s of 5)."""
    call = solver.callSolver

    def call_with_watchdog(lp):
        h = lp.solverModel
        h.HandleUserInterrupt = True  # cancelSolve interrupts at HiGHS's next interrupt check
        with _watchdog(hard_s, h.cancelSolve):
            call(lp)

    solver.callSolver = call_with_watchdog


def export_header(
    family: str, method: str, objective: str, unit: str, legend: list[str], sense: str = "min"
) -> list[str]:
    """The comment lines every exported model starts with: what it is, the objective's unit, and
    how its variables map back to the family's decisions."""
    return [
        f"optgap export: family {family}, method {method}, objective {objective}",
        f"{'minimise' if sense == 'min' else 'maximise'}; objective value in {unit}, "
        "the same number `optgap solve` reports (constant and scaling are in the file)",
        "variables:",
        *(f"  {line}" for line in legend),
    ]


def write_pulp(prob, path: str, *, factor: float = 1.0, header: list[str] = ()) -> None:
    """Write a pulp model as LP (.lp) or MPS (.mps); any other extension is refused.

    The objective written is ``factor`` x the model's, its constant included as a variable fixed
    at 1 (``objective_constant``), so another solver reports the optimum `optgap solve` does
    (LP and MPS have no portable objective offset). ``header`` becomes comment lines.
    """
    import pulp

    ext = os.path.splitext(path)[1].lower()
    if ext not in (".lp", ".mps"):
        raise ValueError(
            f"{path}: a MILP is exported as .lp or .mps, not {ext or 'no extension'!r}"
        )
    original = prob.objective
    constant = float(original.constant or 0.0)
    expr = pulp.LpAffineExpression({v: c * factor for v, c in original.items()})
    if constant:
        one = pulp.LpVariable("objective_constant", lowBound=1, upBound=1)
        expr += constant * factor * one
    prob.objective = expr
    try:
        if ext == ".mps":
            prob.writeMPS(path)
        else:
            prob.writeLP(path)
    finally:
        prob.objective = original
    if header:
        lead = "\\ " if ext == ".lp" else "* "
        with open(path, encoding="utf-8") as f:
            body = f.read()
        with open(path, "w", encoding="utf-8") as f:
            f.write("".join(f"{lead}{line}\n" for line in header) + body)


# ---------------------------------------------------------------------------- CP-SAT


def solve_cpsat(
    model,
    options: SolveOptions,
    *,
    scale: float = 1.0,
    limits: dict[str, Any] | None = None,
    parameters: dict[str, Any] | None = None,
):
    """Solve a CP-SAT model (minimisation). Returns (Outcome, solver).

    ``scale`` divides objective and bound, for models written in integer units. ``limits`` and
    ``parameters`` (dicts of SatParameters fields) are set after the defaults: a stated gap
    limit, or a solution limit in a test. With a gap limit, OPTIMAL means "within the gap": the caller
    reads the solver's bound and decides.
    """
    from ortools.sat.python import cp_model

    solver = cp_model.CpSolver()
    p = solver.parameters
    limit = remaining(options)
    p.max_time_in_seconds = limit
    p.num_workers = int(options.threads)
    p.random_seed = int(options.seed)
    p.relative_gap_limit = 0.0
    p.absolute_gap_limit = 0.0
    p.log_search_progress = bool(options.verbose)  # --verbose: CP-SAT's own log
    for key, value in {**(limits or {}), **(parameters or {})}.items():
        if isinstance(value, (list, tuple)):  # a repeated field (e.g. subsolvers)
            getattr(p, key).clear()
            getattr(p, key).extend(value)
        else:
            setattr(p, key, value)
    with _watchdog(hard_stop_s(limit), solver.StopSearch):
        code = solver.Solve(model)
    has_objective = model.HasObjective()
    if code == cp_model.OPTIMAL:
        obj = solver.ObjectiveValue() / scale if has_objective else 0.0
        return Outcome(Status.OPTIMAL, obj, obj), solver
    if code == cp_model.FEASIBLE:
        obj = solver.ObjectiveValue() / scale
        return Outcome(Status.FEASIBLE, obj, solver.BestObjectiveBound() / scale), solver
    if code == cp_model.INFEASIBLE:
        return Outcome(Status.INFEASIBLE, message="CP-SAT proved the model infeasible"), solver
    if code == cp_model.MODEL_INVALID:
        return Outcome(Status.ERROR, message=f"invalid model: {model.Validate()}"), solver
    bound = solver.BestObjectiveBound() / scale if has_objective else None
    return (
        Outcome(Status.TIME_LIMIT, bound=bound, message="CP-SAT found no solution in time"),
        solver,
    )


def write_cpsat(model, path: str, *, scale: float = 1.0, header: list[str] = ()) -> None:
    """Write a CP-SAT model proto: text for .pbtxt, binary for .pb; other extensions refused.

    The proto's objective carries ``scaling_factor`` = 1/scale (times any factor it had), so
    CP-SAT on the file reports the objective in the units `optgap solve` does (its offset is
    already in the proto). ``header`` goes into the model's name and, for text, into comments.
    """
    ext = os.path.splitext(path)[1].lower()
    if ext not in (".pb", ".pbtxt"):
        raise ValueError(
            f"{path}: a CP-SAT model is exported as .pb (binary) or .pbtxt (text), "
            f"not {ext or 'no extension'!r}"
        )
    m = model.clone()
    proto = m.proto
    if proto.has_objective():
        obj = proto.objective
        obj.scaling_factor = (obj.scaling_factor or 1.0) / scale
    if header:
        proto.name = "\n".join(header)
    # ExportToFile writes text when the name ends with "txt", binary otherwise
    if not m.export_to_file(path):
        raise OSError(f"could not write {path}")
    if header and ext == ".pbtxt":
        with open(path, encoding="utf-8") as f:
            body = f.read()
        with open(path, "w", encoding="utf-8") as f:
            f.write("".join(f"# {line}\n" for line in header) + body)


# ---------------------------------------------------------------------------- cvxpy


def solve_cvxpy(
    problem,
    options: SolveOptions,
    backend: str | None = None,
    *,
    limits: dict[str, Any] | None = None,
) -> Outcome:
    """Solve a cvxpy problem with Clarabel or SCS.

    For a minimisation the dual value is a lower bound; for a maximisation an upper bound. The
    adapter reports ``bound`` in the problem's own sense. Threads do not apply to either solver.
    """
    import cvxpy as cp

    backend = backend or options.backend or "clarabel"
    if backend == "clarabel":
        kwargs = {"solver": cp.CLARABEL, "time_limit": remaining(options)}
    elif backend == "scs":
        kwargs = {
            "solver": cp.SCS,
            "time_limit_secs": remaining(options),
            "eps_abs": 1e-9,
            "eps_rel": 1e-9,
            "max_iters": 200_000,
        }
    else:
        raise ValueError(f"unknown SDP backend {backend!r}")
    kwargs.update(limits or {})
    try:
        problem.solve(verbose=bool(options.verbose), **kwargs)
    except cp.error.SolverError as e:
        return Outcome(Status.ERROR, message=f"{backend}: {e}")
    st = problem.status
    if st == cp.OPTIMAL:
        return Outcome(Status.OPTIMAL, float(problem.value), float(problem.value))
    if st == cp.OPTIMAL_INACCURATE:
        return Outcome(Status.FEASIBLE, float(problem.value), None, "solver reports inaccurate")
    if st in (cp.INFEASIBLE, cp.INFEASIBLE_INACCURATE):
        return Outcome(Status.INFEASIBLE, message=f"{backend}: {st}")
    if st == cp.USER_LIMIT:
        return Outcome(Status.TIME_LIMIT, message=f"{backend}: stopped by a limit")
    return Outcome(Status.ERROR, message=f"{backend}: {st}")
