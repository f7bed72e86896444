"""F3 instance: an early-exit model's stages, an arrival trace in windows, a VM type, serverless
functions and a latency SLO (SERFLOW, arXiv 2510.27182).

File format (JSON, ``"family": "stages"``, ``"version": 1``)::

    stages:    [{id, vm_ms, fn_ms: {memory_mb: ms}, exit_prob, activation_bytes = 0,
                 vm_type = "default", vm_ms_on: {type: ms} = {}}]
    arrivals:  {window_s, one of: trace: "wits"|"sine" (+ scale = 1, start_s = 0, duration_s),
                per_second: [counts], rates: [req/s per window] (+ seed = 0)}
    vm:        {price_per_hour, workers, cold_start_s, max_utilisation = 0.9, max_total = null}
    vm_types:  {name: {price_per_hour, workers, cold_start_s, max_utilisation = 0.9}} (optional)
    overhead_ms: {vm = 0, fn = 0}: per-query overhead included in every stage's vm_ms / fn_ms,
               paid once when the model is served as one unit (the whole-model baselines)
    functions: {price_per_gb_s, price_per_request, cold_start_ms, keep_alive_s = 600}
    network:   {latency_ms = 0, bandwidth_mb_s = null}
    slo:       {latency_ms, percentile = 95}
    service_cv: coefficient of variation of the lognormal service times (default 1)
    sim_seed:  seed of the simulator (exits, arrival instants, service times; default 0)
    name, meta: free text / free object (source, derivation)

A query enters stage 0 and, after stage s's classifier, exits with probability ``exit_prob[s]``
(the last stage's must be 1). ``vm_ms`` is the mean service time of one query on one VM worker
(a VM has ``workers`` of them) on the stage's VM type: ``vm_type`` names one of ``vm_types``
("default", the default, is ``vm``); ``vm_ms_on`` optionally gives the stage's time on other
types (only the whole-model baselines use them). ``vm.max_total`` caps the VMs of all types
together. ``fn_ms[m]`` is the mean on a function with ``m`` MB. Activations go
to the next stage in ``latency_ms + activation_bytes / bandwidth``.

Arrivals: every source becomes per-second counts (the simulator's input); the planning rate of
window t is their mean over the window. ``trace`` names a shipped per-second trace
(``instances/stages/traces/<name>.txt.gz``) read from ``start_s`` for ``duration_s`` seconds
(wrapping round), its counts multiplied by ``scale`` with carried rounding (totals preserved);
``rates`` draws Poisson counts per second with ``seed``.

The planning quantities every model, heuristic and the evaluator share are defined here, in
:meth:`StagesInstance.plan` -- they *are* the problem:

- percentile p of the SLO; a lognormal service time of mean m and cv has p-quantile m * qf;
- SLO share of stage s: the SLO less the transfers (net) is split into the VM service
  p-quantiles q_s plus an equal part of the slack: b_s = q_s + (net - sum q) / |S|; if
  net < sum q, VMs cannot meet the SLO anywhere and b_s = net q_s / sum q;
- VMs are usable at s iff q_s <= b_s; their queueing allowance is b_s - q_s, and the utilisation
  cap the largest rho <= max_utilisation whose p-quantile wait in M/M/c (c = workers of the
  stage's VM type, Erlang C tail, Allen-Cunneen factor (1 + cv^2)/2) fits that allowance;
  cap_s = rho workers 1000 / vm_ms (each VM its own queue: see the README for why not pooled);
- a function memory m is usable at s iff cold_start_ms + fn_ms[m] qf <= b_s, and the stage uses
  the cheapest usable one per query (price_per_request + price_per_gb_s m/1024 fn_ms/1000);
- the SLO is infeasible iff some stage can use neither (the message names it and why).
"""

from __future__ import annotations

import gzip
import math
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from statistics import NormalDist
from typing import Any

import numpy as np
from optgap.solvers import fields as F
from optgap.solvers.errors import InputError

FAMILY = "stages"
VERSION = 1
TRACES_DIR = Path(__file__).resolve().parents[2] / "instances" / "stages" / "traces"
TRACE_NAMES = ("wits", "sine")
F.define_limit("stages.stages", 100, "stages")
F.define_limit("stages.seconds", 10_000_000, "seconds of arrivals")
F.define_limit("stages.windows", 10_000, "windows")
F.define_limit("stages.requests", 100_000_000, "requests in the trace")
F.define_limit("stages.workers", 10_000, "workers per VM")
F.define_limit("stages.memories", 1_000, "function memory sizes")


@dataclass(frozen=True)
class Stage:
    id: str
    vm_ms: float
    fn_ms: dict[int, float]  # memory MB -> mean service ms, sorted by memory
    exit_prob: float
    activation_bytes: int = 0
    vm_type: str = "default"
    vm_ms_on: dict[str, float] = field(default_factory=dict)  # times on other VM types


@dataclass(frozen=True)
class VmType:
    price_per_hour: float
    workers: int
    cold_start_s: float
    max_utilisation: float = 0.9
    max_total: int | None = None


@dataclass(frozen=True)
class Functions:
    price_per_gb_s: float
    price_per_request: float
    cold_start_ms: float
    keep_alive_s: float = 600.0


@dataclass(frozen=True)
class StagePlan:
    """What the problem allows and costs at one stage, for one SLO."""

    budget_ms: float  # the stage's share of the SLO (net of transfers)
    vm_quantile_ms: float  # percentile of one VM service time
    vm_ok: bool  # the VM service percentile fits the budget
    wait_budget_ms: float  # budget - VM service percentile (the queueing allowance)
    cap: float  # req/s one VM may carry (utilisation cap x workers x service rate); 0 if not vm_ok
    utilisation_cap: float
    fn_ok_memories: tuple[int, ...]  # memories whose cold start + service percentile fit
    fn_memory: int | None  # the cheapest of them per query
    fn_cost: float  # $ per query at fn_memory (0 if none)
    reason: str = ""  # why the stage can use neither, if so


@dataclass(frozen=True)
class Plan:
    """The planning model of one SLO (documented in formulations/stages/__init__.py).

    ``infeasible``: a one-line reason when some stage can use neither VMs nor functions.
    """

    slo_ms: float
    percentile: float
    stages: tuple[StagePlan, ...]
    infeasible: str = ""


@dataclass(frozen=True)
class StagesInstance:
    stages: tuple[Stage, ...]
    arrivals: dict[str, Any]  # the normalised source, dumped as read
    window_s: int
    per_second: np.ndarray = field(repr=False, compare=False)  # int64 counts, one per second
    vm: VmType = VmType(0.17, 4, 90.0)
    functions: Functions = Functions(0.0000166667, 2e-7, 250.0)
    network_latency_ms: float = 0.0
    bandwidth_mb_s: float | None = None
    slo_ms: float = 1000.0
    percentile: float = 95.0
    service_cv: float = 1.0
    sim_seed: int = 0
    name: str = ""
    meta: dict[str, Any] = field(default_factory=dict)
    vm_types: dict[str, VmType] = field(default_factory=dict)  # named types beside "default"
    overhead_vm_ms: float = 0.0
    overhead_fn_ms: float = 0.0

    # -- derived views

    def vm_type(self, name: str) -> VmType:
        return self.vm if name == "default" else self.vm_types[name]

    def stage_vm(self, s: int) -> VmType:
        """The VM type stage s runs on."""
        return self.vm_type(self.stages[s].vm_type)

    def stage_vm_ms(self, s: int, type_name: str) -> float | None:
        """Mean time of stage s on a VM type (None if the instance does not give it)."""
        st = self.stages[s]
        return st.vm_ms if type_name == st.vm_type else st.vm_ms_on.get(type_name)

    @property
    def n_windows(self) -> int:
        return len(self.per_second) // self.window_s

    @cached_property
    def rates(self) -> np.ndarray:
        """Mean arrival rate (req/s) of each window."""
        return self.per_second.reshape(self.n_windows, self.window_s).mean(axis=1)

    @cached_property
    def reach(self) -> tuple[float, ...]:
        """Fraction of queries that reach each stage."""
        out, r = [], 1.0
        for s in self.stages:
            out.append(r)
            r *= 1.0 - s.exit_prob
        return tuple(out)

    def stage_rates(self, s: int) -> np.ndarray:
        return self.rates * self.reach[s]

    def transfer_ms(self, s: int) -> float:
        """Delay of passing stage s's activations to stage s+1."""
        nbytes = self.stages[s].activation_bytes
        bw = self.bandwidth_mb_s
        return self.network_latency_ms + (0.0 if bw is None else nbytes / (bw * 1e6) * 1e3)

    def vm_price_s(self, s: int) -> float:
        """$ per VM-second at stage s (its VM type)."""
        return self.stage_vm(s).price_per_hour / 3600.0

    def fn_cost_per_query(self, s: int, memory: int) -> float:
        ms = self.stages[s].fn_ms[memory]
        return self.functions.price_per_request + self.functions.price_per_gb_s * (
            memory / 1024.0
        ) * (ms / 1000.0)

    def quantile_factor(self, percentile: float | None = None) -> float:
        """percentile-quantile / mean of a lognormal with this instance's cv."""
        p = (self.percentile if percentile is None else percentile) / 100.0
        s2 = math.log(1.0 + self.service_cv**2)
        return math.exp(math.sqrt(s2) * NormalDist().inv_cdf(p) - s2 / 2.0)

    def plan(self, slo_ms: float | None = None) -> Plan:
        """The planning model for an SLO (the instance's unless given); cached per SLO."""
        slo = self.slo_ms if slo_ms is None else float(slo_ms)
        cache = self._plans
        if slo not in cache:
            cache[slo] = _make_plan(self, slo)
        return cache[slo]

    @cached_property
    def _plans(self) -> dict[float, Plan]:
        return {}


# -- the planning model ---------------------------------------------------------------------------


def erlang_c(c: int, a: float) -> float:
    """Probability of waiting in M/M/c with offered load a = lambda/mu (< c), via Erlang B."""
    b = 1.0
    for k in range(1, c + 1):
        b = a * b / (k + a * b)
    rho = a / c
    return b / (1.0 - rho * (1.0 - b))


def wait_quantile_ms(c: int, rho: float, mean_ms: float, p: float, cv: float) -> float:
    """p-quantile of the waiting time at one VM: M/M/c (Erlang C, exponential tail
    P(W > t) = C e^{-(c mu - lambda) t}) scaled by the Allen-Cunneen factor (1 + cv^2)/2 for
    general (lognormal) service."""
    if rho <= 0.0:
        return 0.0
    if rho >= 1.0:
        return math.inf
    cw = erlang_c(c, rho * c)
    if cw <= 1.0 - p:
        return 0.0
    mu = 1.0 / mean_ms
    return math.log(cw / (1.0 - p)) / (c * mu * (1.0 - rho)) * (1.0 + cv * cv) / 2.0


def utilisation_cap(c: int, mean_ms: float, wait_ms: float, p: float, cv: float, rho_max: float):
    """Largest utilisation <= rho_max whose p-quantile wait is within wait_ms (bisection to
    1e-13, returning the side that fits)."""
    if wait_quantile_ms(c, rho_max, mean_ms, p, cv) <= wait_ms:
        return rho_max
    lo, hi = 0.0, rho_max
    while hi - lo > 1e-13:
        mid = (lo + hi) / 2.0
        if wait_quantile_ms(c, mid, mean_ms, p, cv) <= wait_ms:
            lo = mid
        else:
            hi = mid
    return lo


def _make_plan(inst: StagesInstance, slo: float) -> Plan:
    p = inst.percentile / 100.0
    qf = inst.quantile_factor()
    S = len(inst.stages)
    net = slo - sum(inst.transfer_ms(s) for s in range(S - 1))
    vmq = [st.vm_ms * qf for st in inst.stages]
    total_q = sum(vmq)
    plans, bad = [], []
    for s, st in enumerate(inst.stages):
        slack = net - total_q
        budget = vmq[s] + slack / S if slack >= 0 else max(0.0, net) * vmq[s] / total_q
        vm_ok = net > 0 and vmq[s] <= budget * (1 + 1e-12)
        wait = max(0.0, budget - vmq[s])
        if vm_ok:
            vt = inst.stage_vm(s)
            rho = utilisation_cap(
                vt.workers, st.vm_ms, wait, p, inst.service_cv, vt.max_utilisation
            )
            cap = rho * vt.workers * 1000.0 / st.vm_ms
        else:
            rho, cap = 0.0, 0.0
        ok = tuple(
            m for m, ms in st.fn_ms.items() if inst.functions.cold_start_ms + ms * qf <= budget
        )
        best = min(ok, key=lambda m: (inst.fn_cost_per_query(s, m), m)) if ok else None
        reason = ""
        if not vm_ok and best is None:
            fastest = min(st.fn_ms, key=lambda m: st.fn_ms[m])
            reason = (
                f"stage {st.id}: its share of the SLO is {budget:.4g} ms (SLO {slo:g} ms less "
                f"{slo - net:.4g} ms of transfers, less than the VM service p{inst.percentile:g} "
                f"sum {total_q:.4g} ms, so split in proportion to it); the "
                f"VM service p{inst.percentile:g} alone is {vmq[s]:.4g} ms and the fastest function "
                f"needs {inst.functions.cold_start_ms:g} ms cold start + "
                f"{st.fn_ms[fastest] * qf:.4g} ms service at {fastest} MB"
            )
            bad.append(reason)
        plans.append(
            StagePlan(
                budget_ms=budget,
                vm_quantile_ms=vmq[s],
                vm_ok=vm_ok,
                wait_budget_ms=wait if vm_ok else 0.0,
                cap=cap,
                utilisation_cap=rho,
                fn_ok_memories=ok,
                fn_memory=best,
                fn_cost=inst.fn_cost_per_query(s, best) if best is not None else 0.0,
                reason=reason,
            )
        )
    infeasible = ""
    if bad:
        more = f" (and {len(bad) - 1} more stage(s))" if len(bad) > 1 else ""
        infeasible = f"SLO {slo:g} ms (p{inst.percentile:g}) cannot be met: {bad[0]}{more}"
    return Plan(slo, inst.percentile, tuple(plans), infeasible)


# -- reading and writing --------------------------------------------------------------------------


def load(data: Any) -> StagesInstance:
    """Validate a parsed JSON object and build the instance; one-line InputError otherwise."""
    top = F.obj(
        data,
        "instance",
        {"family", "version", "stages", "arrivals", "vm", "functions", "slo"},
        {"network", "service_cv", "sim_seed", "name", "meta", "vm_types", "overhead_ms"},
    )
    if top["family"] != FAMILY:
        raise InputError(f"instance.family: expected {FAMILY!r}, got {top['family']!r}")
    if top["version"] != VERSION:
        raise InputError(
            f"instance.version: unsupported version {top['version']!r} (this is {VERSION})"
        )
    raw = F.array(top["stages"], "stages", min_len=1)
    F.check_size("stages.stages", len(raw), "stages")
    stages = tuple(_stage(x, f"stages[{i}]") for i, x in enumerate(raw))
    ids = [s.id for s in stages]
    for i, x in enumerate(ids):
        if x in ids[:i]:
            raise InputError(f"stages[{i}].id: duplicate id {x!r}")
    if stages[-1].exit_prob != 1.0:
        raise InputError(
            f"stages[{len(stages) - 1}].exit_prob: the last stage's classifier is final, so its "
            f"exit probability must be 1, got {stages[-1].exit_prob:g}"
        )
    arrivals, window_s, per_second = _arrivals(top["arrivals"])
    vm = _vm(top["vm"])
    raw_types = F.obj(top.get("vm_types", {}), "vm_types", set(), set(top.get("vm_types", {})))
    vm_types = {}
    for key, val in raw_types.items():
        if key == "default":
            raise InputError("vm_types.default: the name is reserved for the top-level vm")
        vm_types[key] = _vm(val, f"vm_types.{key}", quota=False)
    for i, st in enumerate(stages):
        for tname in (st.vm_type, *st.vm_ms_on):
            if tname != "default" and tname not in vm_types:
                raise InputError(
                    f"stages[{i}]: VM type {tname!r} is not defined (vm_types has: "
                    f"{', '.join(['default', *vm_types])})"
                )
    ov = F.obj(top.get("overhead_ms", {}), "overhead_ms", set(), {"vm", "fn"})
    ov_vm = F.number(ov.get("vm", 0.0), "overhead_ms.vm")
    ov_fn = F.number(ov.get("fn", 0.0), "overhead_ms.fn")
    for i, st in enumerate(stages):
        if st.vm_ms < ov_vm or any(ms < ov_fn for ms in st.fn_ms.values()):
            raise InputError(
                f"stages[{i}]: a service time is below overhead_ms (the overhead is part of it)"
            )
        if any(ms < ov_vm for ms in st.vm_ms_on.values()):
            raise InputError(f"stages[{i}].vm_ms_on: a time is below overhead_ms.vm")
    fn = _functions(top["functions"])
    net = F.obj(top.get("network", {}), "network", set(), {"latency_ms", "bandwidth_mb_s"})
    lat = F.number(net.get("latency_ms", 0.0), "network.latency_ms")
    bw = net.get("bandwidth_mb_s")
    if bw is not None:
        bw = F.number(bw, "network.bandwidth_mb_s", exclusive_minimum=True)
    slo = F.obj(top["slo"], "slo", {"latency_ms"}, {"percentile"})
    slo_ms = F.number(slo["latency_ms"], "slo.latency_ms", exclusive_minimum=True)
    pct = F.number(slo.get("percentile", 95.0), "slo.percentile", exclusive_minimum=True)
    if pct >= 100:
        raise InputError(f"slo.percentile: must be below 100, got {pct:g}")
    cv = F.number(top.get("service_cv", 1.0), "service_cv")
    seed = F.number(top.get("sim_seed", 0), "sim_seed", integer=True)
    name = top.get("name", "")
    if not isinstance(name, str):
        raise InputError(f"name: expected a string, got {F.type_name(name)}")
    meta = top.get("meta", {})
    if not isinstance(meta, dict):
        raise InputError(f"meta: expected an object, got {F.type_name(meta)}")
    return StagesInstance(
        stages=stages,
        arrivals=arrivals,
        window_s=window_s,
        per_second=per_second,
        vm=vm,
        functions=fn,
        network_latency_ms=lat,
        bandwidth_mb_s=bw,
        slo_ms=slo_ms,
        percentile=pct,
        service_cv=cv,
        sim_seed=seed,
        name=name,
        meta=meta,
        vm_types=vm_types,
        overhead_vm_ms=ov_vm,
        overhead_fn_ms=ov_fn,
    )


def _stage(x: Any, path: str) -> Stage:
    d = F.obj(
        x, path, {"id", "vm_ms", "fn_ms", "exit_prob"}, {"activation_bytes", "vm_type", "vm_ms_on"}
    )
    sid = F.string(d["id"], f"{path}.id")
    vm_ms = F.number(d["vm_ms"], f"{path}.vm_ms", exclusive_minimum=True)
    fn_raw = d["fn_ms"]
    if not isinstance(fn_raw, dict) or not fn_raw:
        raise InputError(f"{path}.fn_ms: expected a non-empty object {{memory_mb: ms}}")
    F.check_size("stages.memories", len(fn_raw), f"{path}.fn_ms")
    fn: dict[int, float] = {}
    for key, ms in fn_raw.items():
        try:
            mem = int(key) if len(key) < 20 else 0
        except ValueError:
            raise InputError(f"{path}.fn_ms.{key}: the key must be a memory size in MB") from None
        if not 0 < mem <= F.MAX_UNITS / 1000 or str(mem) != str(key).strip():
            raise InputError(
                f"{path}.fn_ms.{key[:20]}: the key must be a positive integer MB, "
                f"at most {F.MAX_UNITS // 1000}"
            )
        fn[mem] = F.number(ms, f"{path}.fn_ms.{key}", exclusive_minimum=True)
    ep = F.number(d["exit_prob"], f"{path}.exit_prob")
    if ep > 1:
        raise InputError(f"{path}.exit_prob: a probability must be at most 1, got {ep:g}")
    nbytes = F.number(d.get("activation_bytes", 0), f"{path}.activation_bytes", integer=True)
    vt = F.string(d.get("vm_type", "default"), f"{path}.vm_type")
    on_raw = F.obj(d.get("vm_ms_on", {}), f"{path}.vm_ms_on", set(), set(d.get("vm_ms_on", {})))
    on = {k: F.number(v, f"{path}.vm_ms_on.{k}", exclusive_minimum=True) for k, v in on_raw.items()}
    on.pop(vt, None)
    return Stage(sid, vm_ms, dict(sorted(fn.items())), ep, nbytes, vt, on)


def _vm(x: Any, path: str = "vm", quota: bool = True) -> VmType:
    d = F.obj(
        x,
        path,
        {"price_per_hour", "workers", "cold_start_s"},
        {"max_utilisation", "max_total"} if quota else {"max_utilisation"},
    )
    rho = F.number(d.get("max_utilisation", 0.9), f"{path}.max_utilisation", exclusive_minimum=True)
    if rho >= 1:
        raise InputError(f"{path}.max_utilisation: must be below 1 (a stable queue), got {rho:g}")
    mt = d.get("max_total")
    workers = _workers(d["workers"], f"{path}.workers")
    return VmType(
        price_per_hour=F.number(d["price_per_hour"], f"{path}.price_per_hour"),
        workers=workers,
        cold_start_s=F.number(d["cold_start_s"], f"{path}.cold_start_s"),
        max_utilisation=rho,
        max_total=None if mt is None else F.number(mt, f"{path}.max_total", integer=True),
    )


def _workers(value: Any, path: str = "vm.workers") -> int:
    n = F.number(value, path, minimum=1, integer=True)
    F.check_size("stages.workers", n, path)
    return n


def _counts(counts: np.ndarray, path: str) -> None:
    """Per-second counts (float, before the int64 cast): their total within the limit."""
    total = float(np.sum(counts))
    F.check_size("stages.requests", total, path)


def _functions(x: Any) -> Functions:
    d = F.obj(
        x,
        "functions",
        {"price_per_gb_s", "price_per_request", "cold_start_ms"},
        {"keep_alive_s"},
    )
    f = Functions(
        price_per_gb_s=F.number(d["price_per_gb_s"], "functions.price_per_gb_s"),
        price_per_request=F.number(d["price_per_request"], "functions.price_per_request"),
        cold_start_ms=F.number(d["cold_start_ms"], "functions.cold_start_ms"),
        keep_alive_s=F.number(d.get("keep_alive_s", 600.0), "functions.keep_alive_s"),
    )
    if f.price_per_gb_s == 0 and f.price_per_request == 0:
        raise InputError("functions: price_per_gb_s and price_per_request are both 0 (free work)")
    return f


def _arrivals(x: Any) -> tuple[dict[str, Any], int, np.ndarray]:
    d = F.obj(
        x,
        "arrivals",
        {"window_s"},
        {"trace", "scale", "start_s", "duration_s", "per_second", "rates", "seed"},
    )
    window = F.number(d["window_s"], "arrivals.window_s", minimum=1, integer=True)
    F.check_size("stages.seconds", window, "arrivals.window_s")
    sources = [k for k in ("trace", "per_second", "rates") if k in d]
    if len(sources) != 1:
        raise InputError("arrivals: give exactly one of trace, per_second, rates")
    src = sources[0]
    extra = {"trace": {"scale", "start_s", "duration_s"}, "rates": {"seed"}}.get(src, set())
    for k in ("scale", "start_s", "duration_s", "seed"):
        if k in d and k not in extra:
            raise InputError(
                f"arrivals.{k}: only allowed with arrivals.{'rates' if k == 'seed' else 'trace'}"
            )
    norm: dict[str, Any] = {"window_s": window}
    if src == "trace":
        name = F.string(d["trace"], "arrivals.trace", choices=TRACE_NAMES)
        base = read_trace(name)
        scale = F.number(d.get("scale", 1.0), "arrivals.scale", exclusive_minimum=True)
        start = F.number(d.get("start_s", 0), "arrivals.start_s", integer=True)
        dur = d.get("duration_s")
        if dur is None:
            dur = len(base) - start if start < len(base) else 0
        dur = F.number(dur, "arrivals.duration_s", minimum=1, integer=True)
        F.check_size("stages.seconds", dur, "arrivals.duration_s")
        F.check_size("stages.windows", dur / window, "arrivals.duration_s / window_s")
        idx = (start % len(base) + np.arange(dur)) % len(base)
        counts = base[idx].astype(np.float64) * scale
        _counts(counts, "arrivals.scale")
        cum = np.floor(np.cumsum(counts) + 1e-9)
        per_second = np.diff(np.concatenate(([0.0], cum))).astype(np.int64)
        norm |= {"trace": name, "scale": scale, "start_s": start, "duration_s": dur}
    elif src == "per_second":
        arr = F.array(d["per_second"], "arrivals.per_second", min_len=1)
        F.check_size("stages.seconds", len(arr), "arrivals.per_second")
        F.check_size("stages.windows", len(arr) / window, "arrivals.per_second / window_s")
        counts = [F.number(v, f"arrivals.per_second[{i}]", integer=True) for i, v in enumerate(arr)]
        _counts(np.array(counts, dtype=np.float64), "arrivals.per_second")
        per_second = np.array(counts, dtype=np.int64)
        norm["per_second"] = [int(v) for v in per_second]
    else:
        arr = F.array(d["rates"], "arrivals.rates", min_len=1)
        F.check_size("stages.windows", len(arr), "arrivals.rates")
        F.check_size("stages.seconds", len(arr) * window, "arrivals.rates x window_s")
        rates = [F.number(v, f"arrivals.rates[{i}]") for i, v in enumerate(arr)]
        _counts(np.array(rates) * window, "arrivals.rates")
        seed = F.number(d.get("seed", 0), "arrivals.seed", integer=True)
        rng = np.random.default_rng(seed)
        per_second = rng.poisson(np.repeat(rates, window)).astype(np.int64)
        norm |= {"rates": rates, "seed": seed}
    if len(per_second) % window:
        raise InputError(
            f"arrivals: {len(per_second)} seconds is not a whole number of {window}-s windows"
        )
    return norm, window, per_second


_TRACE_CACHE: dict[str, np.ndarray] = {}


def read_trace(name: str) -> np.ndarray:
    """A shipped per-second trace (one count per line, gzip), cached."""
    if name not in _TRACE_CACHE:
        path = TRACES_DIR / f"{name}.txt.gz"
        try:
            with gzip.open(path, "rt", encoding="utf-8") as f:
                vals = [int(line) for line in f if line.strip()]
        except OSError as e:
            raise InputError(f"arrivals.trace: cannot read {path} ({e})") from None
        _TRACE_CACHE[name] = np.array(vals, dtype=np.int64)
    return _TRACE_CACHE[name]


def dump(inst: StagesInstance) -> dict[str, Any]:
    out: dict[str, Any] = {"family": FAMILY, "version": VERSION}
    if inst.name:
        out["name"] = inst.name
    out["stages"] = [
        {
            "id": s.id,
            "vm_ms": s.vm_ms,
            "fn_ms": {str(m): ms for m, ms in s.fn_ms.items()},
            "exit_prob": s.exit_prob,
            "activation_bytes": s.activation_bytes,
            **({"vm_type": s.vm_type} if s.vm_type != "default" else {}),
            **({"vm_ms_on": dict(s.vm_ms_on)} if s.vm_ms_on else {}),
        }
        for s in inst.stages
    ]
    out["arrivals"] = dict(inst.arrivals)
    vm = {
        "price_per_hour": inst.vm.price_per_hour,
        "workers": inst.vm.workers,
        "cold_start_s": inst.vm.cold_start_s,
        "max_utilisation": inst.vm.max_utilisation,
    }
    if inst.vm.max_total is not None:
        vm["max_total"] = inst.vm.max_total
    out["vm"] = vm
    if inst.vm_types:
        out["vm_types"] = {
            k: {
                "price_per_hour": t.price_per_hour,
                "workers": t.workers,
                "cold_start_s": t.cold_start_s,
                "max_utilisation": t.max_utilisation,
            }
            for k, t in inst.vm_types.items()
        }
    if inst.overhead_vm_ms or inst.overhead_fn_ms:
        out["overhead_ms"] = {"vm": inst.overhead_vm_ms, "fn": inst.overhead_fn_ms}
    fn = inst.functions
    out["functions"] = {
        "price_per_gb_s": fn.price_per_gb_s,
        "price_per_request": fn.price_per_request,
        "cold_start_ms": fn.cold_start_ms,
        "keep_alive_s": fn.keep_alive_s,
    }
    net: dict[str, Any] = {"latency_ms": inst.network_latency_ms}
    if inst.bandwidth_mb_s is not None:
        net["bandwidth_mb_s"] = inst.bandwidth_mb_s
    out["network"] = net
    out["slo"] = {"latency_ms": inst.slo_ms, "percentile": inst.percentile}
    out["service_cv"] = inst.service_cv
    out["sim_seed"] = inst.sim_seed
    if inst.meta:
        out["meta"] = inst.meta
    return out


def describe(inst: StagesInstance) -> str:
    src = inst.arrivals.get("trace") or ("rates" if "rates" in inst.arrivals else "per-second")
    return (
        f"{len(inst.stages)} stages (reach "
        + "/".join(f"{r:.2f}" for r in inst.reach)
        + f"), {inst.n_windows} windows x {inst.window_s} s of {src} arrivals "
        f"({int(inst.per_second.sum())} requests, peak window {inst.rates.max():.1f} req/s), "
        f"VM ${inst.vm.price_per_hour:g}/h x{inst.vm.workers} workers, cold start "
        f"{inst.vm.cold_start_s:g} s"
        + (f" (+ {len(inst.vm_types)} more VM type(s))" if inst.vm_types else "")
        + f", SLO p{inst.percentile:g} <= {inst.slo_ms:g} ms"
    )
