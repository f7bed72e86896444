"""Independent evaluator for F3: the definition of a feasible plan, of its cost, and its simulation.

It imports no model, no heuristic and no part of the planning model (``StagesInstance.plan``,
``erlang_c``, ``utilisation_cap`` ...): every derived quantity is recomputed here, in code written
separately (Erlang C from the log-sum of its Poisson terms, not the Erlang-B recursion; its own
search for the utilisation cap), and a property test (tests/test_stages_trust.py) checks the two
implementations agree over the whole parameter space.

**Trusted from the loader** (``formulations/stages/instance.load``): the parsed fields as they
are -- each stage's ``vm_ms``, ``fn_ms``, ``exit_prob``, ``activation_bytes``, ``vm_type``,
``vm_ms_on``; the VM types (price, workers, cold start, max utilisation, the quota); function
prices, cold start and keep-alive; network latency and bandwidth; SLO and percentile;
``service_cv``; ``overhead_ms``; the per-second arrival counts and ``window_s``; ``sim_seed``.
**Recomputed here**: window rates, reach, transfers, the lognormal quantile factor, SLO shares,
which stages may use VMs, the queueing cap, which memories fit, every cost, and the whole-model
view (exit-weighted service, the mixture's cv).

**Limits in force** come from the instance or from what the user typed (``options.slo_ms``:
``--slo-ms``; ``--param fallback=on|off`` for the simulation), never from the solution. A solution
that states a different ``slo_ms`` or ``window_s`` is rejected naming the field. The metrics
report the limits used (``slo_ms``, ``percentile``, ``max_total``, ``fallback``).

Solution (the ``solution`` object of a result)::

    {"mode": "stages" (default) | "whole", "vms": [[int per window] per unit],
     "memory_mb": [int | null per unit], "vm_type": str (whole mode; default "default"),
     "fn_share": [[float per window] per unit] (optional, checked), "slo_ms", "window_s"
     (optional, must equal the limits in force), "policy": str (free)}

A *unit* is a stage (mode "stages") or the whole model served as one unit (mode "whole": one
row; a query holds its worker through every stage until it exits; work = exit-weighted mean of
the stage times on ``vm_type`` with ``overhead_ms`` paid once, service cv = the mixture's; no
transfers; functions at the memories every stage offers).

Violation kinds (each message names its field):

- ``slo_ms`` / ``window_s``: the solution states a limit other than the one in force;
- ``mode`` / ``vm_type``: unknown mode, or a VM type on which some stage has no time;
- SLO infeasible: some unit can use neither VMs nor a function (the message names it and why);
- ``vms``: not one row per unit, a row not one count per window, a count that is not a
  non-negative integer (bools, NaN, infinities, strings, above 10^9 are refused);
- ``vms[s]`` at a unit that *cannot serve on VMs*: its VM service p-quantile exceeds its SLO
  share (1e-9 ms tolerance);
- ``memory_mb[s]``: not a memory of the unit, or one whose cold start + service p-quantile
  misses its share (1e-9 ms tolerance);
- *over a capacity*: a window's traffic above what its VMs carry at the utilisation cap
  (relative 1e-9) at a unit with no (fitting) function memory;
- ``max_total``: more VMs in a window, all types together, than the quota;
- ``fn_share[s][t]``: a given share that differs from the implied one by more than 1e-6.

Objective -- the **plan cost** (deterministic, what the MILP minimises), in $::

    sum_s,t  p_s (W v[s,t] + k_s max(0, v[s,t] - v[s,t-1]))
           + fn_cost_s(memory_s) W max(0, lambda_t reach_s - cap_s v[s,t])

with v[s,-1] = 0, p_s and k_s the price per second and cold start of unit s's VM type, lambda_t
the window's mean arrival rate, cap_s the utilisation-capped capacity of one VM: the largest
rho <= max_utilisation whose p-quantile wait in M/M/c (c = the type's workers; Erlang C tail
P(W > t) = C e^{-(c mu - lambda) t}, times (1 + cv^2) / 2) fits the unit's allowance (its SLO
share less its VM service p-quantile), times c 1000 / vm_ms.

Metrics -- the **simulation** of the plan (:mod:`optgap.formulations.stages.simulate`):
``sim_cost``, latency p50/p95/p99, SLO violation rate, per-unit function shares. Pass
``simulate=False`` to skip it (tests of the cost alone).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from statistics import NormalDist
from typing import Any

from optgap.formulations.stages.simulate import Unit
from optgap.formulations.stages.simulate import simulate as run_simulation
from optgap.solvers.errors import InputError
from optgap.solvers.result import Evaluation, SolveOptions

MS_TOL = 1e-9  # ms: a latency within this of a share fits
MAX_VMS = 10**9


# -- queueing, written for the evaluator --------------------------------------------------------


def prob_wait(n: int, a: float) -> float:
    """Erlang C: P(wait) in M/M/n with offered load a < n, from the Poisson terms in log space:
    C = T_n n/(n-a) / (sum_{k<n} T_k + T_n n/(n-a)), T_k = a^k / k!."""
    if a <= 0.0:
        return 0.0
    logs = [k * math.log(a) - math.lgamma(k + 1) for k in range(n)]
    top = n * math.log(a) - math.lgamma(n + 1) + math.log(n / (n - a))
    hi = max(max(logs), top)
    below = sum(math.exp(x - hi) for x in logs)
    last = math.exp(top - hi)
    return last / (below + last)


def wait_p_ms(n: int, rho: float, mean_ms: float, p: float, cv: float) -> float:
    """p-quantile of the wait (ms) in M/M/n at utilisation rho, Allen-Cunneen scaled."""
    if rho <= 0.0:
        return 0.0
    if rho >= 1.0:
        return math.inf
    c = prob_wait(n, rho * n)
    if c <= 1.0 - p:
        return 0.0
    rate = n * (1.0 - rho) / mean_ms  # per ms: n mu - lambda
    return math.log(c / (1.0 - p)) / rate * (1.0 + cv * cv) / 2.0


def max_rho(n: int, mean_ms: float, allowance_ms: float, p: float, cv: float, top: float) -> float:
    """The largest rho <= top with wait_p_ms <= allowance (wait_p_ms grows with rho)."""
    if wait_p_ms(n, top, mean_ms, p, cv) <= allowance_ms:
        return top
    lo, hi = 0.0, top
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        if mid in (lo, hi):
            break
        if wait_p_ms(n, mid, mean_ms, p, cv) <= allowance_ms:
            lo = mid
        else:
            hi = mid
    return lo


def lognormal_qf(percentile: float, cv: float) -> float:
    """p-quantile / mean of a lognormal with this cv."""
    sigma2 = math.log1p(cv * cv)
    z = NormalDist().inv_cdf(percentile / 100.0)
    return math.exp(z * math.sqrt(sigma2) - 0.5 * sigma2)


def latency_quantile_ms(
    n: int, rho: float, mean_ms: float, p: float, cv: float, grid: int = 4000
) -> float:
    """p-quantile of wait + service at one pool of n workers (M/M/n wait, Allen-Cunneen scaled;
    lognormal service of this mean and cv): the prediction the simulator's pooled queue is held
    to (tests/test_stages_trust.py and benchmarks/stages_report.py)."""
    c = prob_wait(n, rho * n) if rho > 0 else 0.0
    theta = n * (1.0 - rho) / mean_ms * 2.0 / (1.0 + cv * cv)  # rate of the wait's tail, per ms
    s2 = math.log1p(cv * cv)
    mu, sig = math.log(mean_ms) - s2 / 2, math.sqrt(s2)
    nd = NormalDist()

    def cdf_s(x: float) -> float:
        if x <= 0:
            return 0.0
        if sig == 0:
            return 1.0 if x >= mean_ms else 0.0
        return nd.cdf((math.log(x) - mu) / sig)

    def cdf(t: float) -> float:
        # P(W + S <= t) = (1 - C) F_S(t) + C int_0^t F_S(t - w) theta e^{-theta w} dw
        if c == 0:
            return cdf_s(t)
        h = t / grid
        acc = 0.0
        for i in range(grid):
            w = (i + 0.5) * h
            acc += cdf_s(t - w) * theta * math.exp(-theta * w) * h
        return (1 - c) * cdf_s(t) + c * acc

    lo, hi = 0.0, mean_ms * 50 + 50 / theta
    for _ in range(60):
        mid = 0.5 * (lo + hi)
        if cdf(mid) >= p:
            hi = mid
        else:
            lo = mid
    return hi


# -- the units a plan provisions ----------------------------------------------------------------


@dataclass
class _UnitDef:
    name: str
    vm_ms: float
    fn_ms: dict[int, float]
    visits: float  # fraction of queries that reach the unit
    price_s: float
    cold_start_s: float
    workers: int
    max_util: float


def _reach(inst) -> list[float]:
    out, r = [], 1.0
    for st in inst.stages:
        out.append(r)
        r *= 1.0 - st.exit_prob
    return out


def _vm_type(inst, name: str):
    return inst.vm if name == "default" else inst.vm_types.get(name)


def _stage_units(inst) -> tuple[list[_UnitDef], list[float], float]:
    reach = _reach(inst)
    units = []
    for s, st in enumerate(inst.stages):
        vt = _vm_type(inst, st.vm_type)
        units.append(
            _UnitDef(
                f"stage {st.id}",
                st.vm_ms,
                dict(st.fn_ms),
                reach[s],
                vt.price_per_hour / 3600.0,
                vt.cold_start_s,
                vt.workers,
                vt.max_utilisation,
            )
        )
    transfers = []
    for s in range(len(inst.stages) - 1):
        bw = inst.bandwidth_mb_s
        extra = 0.0 if bw is None else inst.stages[s].activation_bytes / (bw * 1e6) * 1e3
        transfers.append(inst.network_latency_ms + extra)
    return units, transfers, inst.service_cv


def whole_model(inst, type_name: str) -> tuple[_UnitDef, float] | str:
    """The whole early-exit model as one unit on a VM type: (unit, mixture cv), or why not.

    A query exiting after stage e holds its worker for sum_{s<=e} x_s LN_s (x_0 = the first
    stage's time, x_s = stage s's time less the per-query overhead, paid once; LN_s independent
    lognormal factors of mean 1 and the instance's cv). Mean = sum_s reach_s x_s; the cv is the
    mixture's over exits: E[T^2] = sum_e P(e) (cv^2 sum_{s<=e} x_s^2 + (sum_{s<=e} x_s)^2)."""
    vt = _vm_type(inst, type_name)
    if vt is None:
        return f"VM type {type_name!r} is not defined"
    xs = []
    for s, st in enumerate(inst.stages):
        ms = st.vm_ms if st.vm_type == type_name else st.vm_ms_on.get(type_name)
        if ms is None:
            return f"stage {st.id} has no time on VM type {type_name!r}"
        xs.append(ms if s == 0 else ms - inst.overhead_vm_ms)
    reach = _reach(inst)
    cv = inst.service_cv
    mean = sum(r * x for r, x in zip(reach, xs, strict=True))
    m1 = sq = e2 = 0.0
    for s, st in enumerate(inst.stages):
        m1 += xs[s]
        sq += xs[s] * xs[s]
        e2 += reach[s] * st.exit_prob * (cv * cv * sq + m1 * m1)
    mix_cv = math.sqrt(max(0.0, e2 - mean * mean)) / mean
    mems = set(inst.stages[0].fn_ms)
    for st in inst.stages[1:]:
        mems &= set(st.fn_ms)
    fn = {}
    for m in sorted(mems):
        fn[m] = sum(
            r * (st.fn_ms[m] if s == 0 else st.fn_ms[m] - inst.overhead_fn_ms)
            for s, (r, st) in enumerate(zip(reach, inst.stages, strict=True))
        )
    if not fn:
        return "no function memory is offered by every stage"
    unit = _UnitDef(
        "the whole model",
        mean,
        fn,
        1.0,
        vt.price_per_hour / 3600.0,
        vt.cold_start_s,
        vt.workers,
        vt.max_utilisation,
    )
    return unit, mix_cv


@dataclass
class _Judged:
    share_ms: float
    vm_q_ms: float
    vm_ok: bool
    allowance_ms: float
    cap: float  # req/s per VM (0 if VMs cannot serve)
    fits: tuple[int, ...]
    why: str


def _judge_units(
    units: list[_UnitDef], transfers: list[float], cv: float, inst, slo: float
) -> list[_Judged]:
    pct = inst.percentile
    qf = lognormal_qf(pct, cv)
    S = len(units)
    net = slo - sum(transfers)
    qs = [u.vm_ms * qf for u in units]
    total = sum(qs)
    vm_ok_all = net > 0 and net - total >= -MS_TOL
    out = []
    for u, q in zip(units, qs, strict=True):
        share = q + (net - total) / S if vm_ok_all else max(0.0, net) * q / total
        allowance = max(0.0, share - q)
        cap = 0.0
        if vm_ok_all:
            rho = max_rho(u.workers, u.vm_ms, allowance, pct / 100.0, cv, u.max_util)
            cap = rho * u.workers * 1000.0 / u.vm_ms
        cold = inst.functions.cold_start_ms
        fits = tuple(m for m, ms in u.fn_ms.items() if cold + ms * qf <= share + MS_TOL)
        why = ""
        if not vm_ok_all and not fits:
            why = (
                f"SLO {slo:g} ms (p{pct:g}) cannot be met: {u.name}'s share is {share:.4g} ms, "
                f"below its VM service p{pct:g} {q:.4g} ms (the VM p{pct:g}s sum to {total:.4g} ms "
                f"against {net:.4g} ms net of transfers) and below every function's cold start + "
                f"service p{pct:g} (fastest {cold + min(u.fn_ms.values()) * qf:.4g} ms)"
            )
        out.append(_Judged(share, q, vm_ok_all, allowance if vm_ok_all else 0.0, cap, fits, why))
    return out


# -- reading the solution -----------------------------------------------------------------------


def _count(x: Any) -> int | None:
    """A non-negative integer count, or None (bools, non-numbers, NaN, inf, fractions, > 1e9)."""
    if isinstance(x, bool):
        return None
    if isinstance(x, int):
        return x if 0 <= x <= MAX_VMS else None
    if isinstance(x, float) and math.isfinite(x) and x >= 0 and x <= MAX_VMS and x == int(x):
        return int(x)
    return None


def _real(x: Any) -> float | None:
    if isinstance(x, bool) or not isinstance(x, int | float):
        return None
    try:
        f = float(x)
    except OverflowError:
        return None
    return f if math.isfinite(f) else None


def _fallback(options: SolveOptions | None) -> bool:
    raw = options.param("fallback", "on") if options is not None else "on"
    if raw not in ("on", "off"):
        raise InputError(f"--param fallback={raw}: expected on or off")
    return raw == "on"


def _slo_in_force(instance, options: SolveOptions | None) -> float:
    if options is not None and options.slo_ms is not None:
        slo = _real(options.slo_ms)
        if slo is None or slo <= 0:
            raise InputError(f"--slo-ms: expected a positive number, got {options.slo_ms!r}")
        return slo
    return float(instance.slo_ms)


def _reject(msg: str, limits: dict[str, Any]) -> Evaluation:
    return Evaluation(False, None, [msg], dict(limits))


def evaluate(
    instance: Any, solution: Any, options: SolveOptions | None = None, simulate: bool = True
) -> Evaluation:
    slo = _slo_in_force(instance, options)
    fallback = _fallback(options)
    limits: dict[str, Any] = {
        "slo_ms": slo,
        "percentile": instance.percentile,
        "max_total": instance.vm.max_total,
        "fallback": "on" if fallback else "off",
    }
    if not isinstance(solution, dict) or not isinstance(solution.get("vms"), list):
        return _reject("solution: expected an object with a 'vms' array", limits)
    for key, want in (("slo_ms", slo), ("window_s", float(instance.window_s))):
        if key in solution and solution[key] is not None:
            got = _real(solution[key])
            if got is None or not math.isclose(got, want, rel_tol=1e-12, abs_tol=1e-12):
                return _reject(
                    f"solution.{key}: states {solution[key]!r}, but the {key} in force is {want:g} "
                    f"(from the instance or the command line; a solution cannot set it)",
                    limits,
                )
    mode = solution.get("mode", "stages")
    if mode not in ("stages", "whole"):
        return _reject(f"solution.mode: {mode!r} is not 'stages' or 'whole'", limits)
    vm_type = None
    if mode == "stages":
        units, transfers, cv = _stage_units(instance)
    else:
        vm_type = solution.get("vm_type", "default")
        if not isinstance(vm_type, str):
            return _reject(f"solution.vm_type: expected a VM type name, got {vm_type!r}", limits)
        got = whole_model(instance, vm_type)
        if isinstance(got, str):
            return _reject(f"solution.vm_type: {got}", limits)
        units, transfers, cv = [got[0]], [], got[1]
        limits["vm_type"] = vm_type
        limits["whole_vm_ms"] = units[0].vm_ms
        limits["whole_service_cv"] = cv
    judged = _judge_units(units, transfers, cv, instance, slo)
    bad = [j.why for j in judged if j.why]
    if bad:
        more = f" (and {len(bad) - 1} more)" if len(bad) > 1 else ""
        return _reject(bad[0] + more, limits)
    S, T, W = len(units), instance.n_windows, instance.window_s
    raw = solution["vms"]
    if len(raw) != S:
        return _reject(
            f"vms: {len(raw)} rows, expected one per {'stage' if mode == 'stages' else 'unit'} ({S})",
            limits,
        )
    vms: list[list[int]] = []
    for s, row in enumerate(raw):
        if not isinstance(row, list) or len(row) != T:
            return _reject(f"vms[{s}]: expected {T} counts, one per window", limits)
        out = []
        for t, x in enumerate(row):
            n = _count(x)
            if n is None:
                shown = repr(x) if len(repr(x)) < 40 else repr(x)[:37] + "..."
                return _reject(
                    f"vms[{s}][{t}]: expected a non-negative integer (at most {MAX_VMS}), "
                    f"got {shown}",
                    limits,
                )
            out.append(n)
        vms.append(out)
    memory = solution.get("memory_mb")
    if not isinstance(memory, list) or len(memory) != S:
        return _reject(f"memory_mb: expected one entry (MB or null) per unit ({S})", limits)

    counts = instance.per_second
    rates = [float(counts[t * W : (t + 1) * W].sum()) / W for t in range(T)]
    fn = instance.functions
    v: list[str] = []
    vm_cost = fn_cost = 0.0
    shares: list[list[float]] = []
    mems: list[int | None] = []
    for s, (u, j) in enumerate(zip(units, judged, strict=True)):
        mem = memory[s]
        mems.append(None)
        if mem is not None:
            size = _count(mem)
            if size is None or size not in u.fn_ms:
                shown = repr(mem) if len(repr(mem)) < 40 else repr(mem)[:37] + "..."
                v.append(f"memory_mb[{s}]: {shown} is not a memory size of {u.name}")
                continue
            mem = size
        if mem is not None and mem not in j.fits:
            v.append(
                f"memory_mb[{s}]: {mem} MB misses {u.name}'s SLO share {j.share_ms:.4g} ms "
                f"(cold start + p{instance.percentile:g} service)"
            )
            continue
        mems[s] = mem
        if not j.vm_ok and any(vms[s]):
            v.append(
                f"vms[{s}]: {u.name} cannot serve on VMs: their service "
                f"p{instance.percentile:g} {j.vm_q_ms:.4g} ms exceeds its SLO share "
                f"{j.share_ms:.4g} ms"
            )
            continue
        unit_cost = (
            fn.price_per_request + fn.price_per_gb_s * mem / 1024.0 * u.fn_ms[mem] / 1000.0
            if mem is not None
            else 0.0
        )
        prev = 0
        row_share = []
        for t in range(T):
            n = vms[s][t]
            vm_cost += u.price_s * (W * n + u.cold_start_s * max(0, n - prev))
            prev = n
            lam = rates[t] * u.visits
            x = max(0.0, lam - j.cap * n)
            row_share.append(x / lam if lam > 0 else 0.0)
            if x > 1e-9 * max(1.0, lam):
                if mem is None:
                    why = "has no memory_mb" if j.fits else "cannot meet its SLO share"
                    v.append(
                        f"vms[{s}][{t}]: over capacity: {u.name} gets {lam:.6g} req/s, more "
                        f"than {n} VM(s) carry at the utilisation cap ({j.cap * n:.6g} req/s), and "
                        f"its function {why}"
                    )
                    break
                fn_cost += unit_cost * W * x
        shares.append(row_share)
    mt = instance.vm.max_total
    if mt is not None:
        for t in range(T):
            tot = sum(vms[s][t] for s in range(S))
            if tot > mt:
                v.append(f"vms: window {t} runs {tot} VMs, more than vm.max_total = {mt}")
                break
    given = solution.get("fn_share")
    if given is not None and not v:
        ok = isinstance(given, list) and len(given) == S
        for s in range(S):
            if not ok:
                break
            row = given[s]
            ok = isinstance(row, list) and len(row) == T
            if ok:
                for t in range(T):
                    g = _real(row[t])
                    if g is None:
                        ok = False
                        break
                    if abs(g - shares[s][t]) > 1e-6:
                        v.append(
                            f"fn_share[{s}][{t}]: {g:g}, but {vms[s][t]} VM(s) leave "
                            f"{shares[s][t]:.6g} of the traffic to functions"
                        )
                        break
        if not ok:
            v.append("fn_share: expected one finite share per unit and window")
    if v:
        return Evaluation(False, None, v, dict(limits))
    cost = float(vm_cost + fn_cost)
    total_rate = sum(rates)
    metrics: dict[str, Any] = {
        **limits,
        "plan_cost": cost,
        "plan_vm_cost": vm_cost,
        "plan_fn_cost": fn_cost,
        "vm_hours": sum(map(sum, vms)) * W / 3600.0,
        "fn_share_planned": [
            float(
                sum(rates[t] * u.visits * shares[s][t] for t in range(T))
                / max(1e-300, total_rate * u.visits)
            )
            for s, u in enumerate(units)
        ],
    }
    if simulate:
        sim_units = [
            Unit(
                workers=u.workers,
                allowance_s=j.allowance_ms / 1000.0,
                cap=j.cap,
                memory=mems[s],
                vm_share=[min(1.0, 1.0 - shares[s][t]) for t in range(T)],
            )
            for s, (u, j) in enumerate(zip(units, judged, strict=True))
        ]
        metrics |= run_simulation(
            instance, vms, sim_units, slo, mode=mode, vm_type=vm_type, fallback=fallback
        )
    return Evaluation(True, cost, [], metrics)


def evaluate_plan(instance: Any, solution: Any, options: SolveOptions | None = None) -> Evaluation:
    """`evaluate` without the request simulation: the same verdict and objective (the plan's
    cost; the simulation only adds metrics), in milliseconds rather than seconds on long traces.
    The solve layer checks warm starts with it, inside a method's time limit."""
    return evaluate(instance, solution, options, simulate=False)
