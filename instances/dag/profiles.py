"""Device profiles: the cost model behind imported F1 instances (roofline per device kind).

A profile lists device kinds (count, operator slots, sustained peak GFLOP/s, memory bandwidth,
per-operator launch overhead, memory capacity) and the CPU-GPU link. Shipped: ``server`` (Xeon +
V100 over PCIe) and ``edge`` (Jetson AGX Xavier); each file cites its figures.

Roofline (Williams, Waterman, Patterson, CACM 52(4), 2009), per operator and device kind:
    time_ms = max(FLOPs / peak, bytes / bandwidth) + launch overhead
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from optgap.instances import HERE
from optgap.solvers import fields as F
from optgap.solvers.errors import InputError

SHIPPED = HERE / "dag" / "devices"


@dataclass(frozen=True)
class DeviceKind:
    kind: str
    count: int
    slots: int
    peak_gflops: float
    mem_bandwidth_gb_s: float
    launch_overhead_ms: float
    mem_capacity_mb: float | None = None

    def time_ms(self, flops: float, nbytes: float) -> float:
        """Roofline time, rounded up to the 1 µs grid, never below the launch overhead."""
        compute = flops / (self.peak_gflops * 1e9)
        memory = nbytes / (self.mem_bandwidth_gb_s * 1e9)
        t = max(compute, memory) * 1e3 + self.launch_overhead_ms
        return max(0.001, -(-round(t * 1e6) // 1000) / 1000)


@dataclass(frozen=True)
class Profile:
    name: str
    kinds: tuple[DeviceKind, ...]
    latency_ms: float
    bandwidth_gb_s: float

    def devices_json(self) -> list[dict[str, Any]]:
        out = []
        for k in self.kinds:
            for i in range(k.count):
                d: dict[str, Any] = {"id": f"{k.kind}{i}", "kind": k.kind, "slots": k.slots}
                if k.mem_capacity_mb is not None:
                    d["mem_capacity_mb"] = k.mem_capacity_mb
                out.append(d)
        return out

    def links_json(self) -> dict[str, float]:
        return {"latency_ms": self.latency_ms, "bandwidth_gb_s": self.bandwidth_gb_s}


def load_profile(spec: str | Path | dict | None = None) -> Profile:
    """A shipped profile by name (``server``, ``edge``), a JSON file, or a parsed object."""
    if spec is None:
        spec = "server"
    if isinstance(spec, dict):
        return parse_profile(spec, "profile")
    path = Path(spec)
    if not path.suffix and (SHIPPED / f"{spec}.json").exists():
        path = SHIPPED / f"{spec}.json"
    elif not path.exists():
        shipped = ", ".join(sorted(p.stem for p in SHIPPED.glob("*.json")))
        raise InputError(
            f"{spec}: no such device profile (shipped: {shipped}, or give a JSON file)"
        )
    return parse_profile(F.read_json(path), path.name)


def parse_profile(data: Any, where: str) -> Profile:
    F.obj(data, where, {"devices", "link"}, {"name", "description", "source"})
    kinds = []
    for i, d in enumerate(F.array(data["devices"], f"{where}.devices", min_len=1)):
        p = f"{where}.devices[{i}]"
        F.obj(
            d,
            p,
            {"kind", "peak_gflops", "mem_bandwidth_gb_s"},
            {"count", "slots", "launch_overhead_ms", "mem_capacity_mb"},
        )
        cap = d.get("mem_capacity_mb")
        kinds.append(
            DeviceKind(
                kind=F.string(d["kind"], f"{p}.kind", choices=("cpu", "gpu")),
                count=int(F.number(d.get("count", 1), f"{p}.count", minimum=1, integer=True)),
                slots=int(F.number(d.get("slots", 1), f"{p}.slots", minimum=1, integer=True)),
                peak_gflops=F.number(d["peak_gflops"], f"{p}.peak_gflops", exclusive_minimum=True),
                mem_bandwidth_gb_s=F.number(
                    d["mem_bandwidth_gb_s"], f"{p}.mem_bandwidth_gb_s", exclusive_minimum=True
                ),
                launch_overhead_ms=F.number(
                    d.get("launch_overhead_ms", 0.0), f"{p}.launch_overhead_ms"
                ),
                mem_capacity_mb=None if cap is None else F.number(cap, f"{p}.mem_capacity_mb"),
            )
        )
    seen = [k.kind for k in kinds]
    if len(set(seen)) != len(seen):
        raise InputError(f"{where}.devices: one entry per kind (use count for several devices)")
    link = F.obj(data["link"], f"{where}.link", {"bandwidth_gb_s"}, {"latency_ms"})
    return Profile(
        name=str(data.get("name", where)),
        kinds=tuple(kinds),
        latency_ms=F.number(link.get("latency_ms", 0.0), f"{where}.link.latency_ms"),
        bandwidth_gb_s=F.number(
            link["bandwidth_gb_s"], f"{where}.link.bandwidth_gb_s", exclusive_minimum=True
        ),
    )
