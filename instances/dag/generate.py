"""Seeded random F1 instances that look like inference graphs.

A layered DAG: each operator takes 1-3 inputs from recent operators, so the graph has the
inter-operator parallelism of unrolled RNNs and multi-branch CNNs. Most operators are much faster
on the GPU; small element-wise ones are not worth the launch. One CPU with ``cpu_slots`` parallel
slots and ``gpus`` GPUs, linked by PCIe (10 µs + bytes / 12 GB/s).

``related=True``: the related-machine model of the saga scheduling library instead: two CPUs at
speed 1 and one GPU at speed 4 (one slot each), every operator one cost (its time at speed 1,
the same for both kinds) and a uniform link of 1 GB/s without latency.

``shared=True`` (``optgap generate dag --set shared=true``): the default link is shared, so every
device pair is one lane whose transfers do not overlap (link contention; see the instance module).
``bandwidth_gb_s`` overrides the link's bandwidth (a slower link makes contention bind).
"""

from __future__ import annotations

import numpy as np
from optgap.formulations.dag.instance import VERSION, load


def generate(size: int, seed: int, **kwargs) -> object:
    """An instance with ``size`` operators; the same (size, seed) always gives the same file."""
    return load(generate_json(size, seed, **kwargs))


def generate_json(
    size: int,
    seed: int,
    *,
    cpu_slots: int = 4,
    gpus: int = 1,
    gpu_mem_capacity_mb: float | None = None,
    width: int = 4,
    gpu_speedup: tuple[float, float] = (3.0, 20.0),
    related: bool = False,
    shared: bool = False,
    bandwidth_gb_s: float | None = None,
) -> dict:
    if size < 1:
        raise ValueError("size must be >= 1")
    if not isinstance(shared, bool):
        raise ValueError("shared must be true or false")
    rng = np.random.default_rng(seed)
    data = (
        _related_json(size, seed, rng, width)
        if related
        else _random_json(size, seed, rng, cpu_slots, gpus, gpu_mem_capacity_mb, width, gpu_speedup)
    )
    if bandwidth_gb_s is not None:
        data["links"]["bandwidth_gb_s"] = bandwidth_gb_s
    if shared:
        data["links"]["shared"] = True
        data["name"] = f"shared-{data['name']}"
        data["meta"]["shared"] = "every device pair is one lane (link contention)"
    return data


def _edges_into(rng, i: int, width: int, prefix: str) -> list[dict]:
    """1-3 edges into operator i from the 2·width operators before it, 16 kB-1 MB each."""
    if i == 0:
        return []
    lo = max(0, i - width * 2)
    k = int(rng.integers(1, min(3, i) + 1))
    preds = rng.choice(np.arange(lo, i), size=min(k, i - lo), replace=False)
    return [
        {"src": f"{prefix}{p}", "dst": f"{prefix}{i}", "bytes": int(rng.integers(1, 64)) * 16384}
        for p in sorted(int(x) for x in preds)
    ]


def _random_json(size, seed, rng, cpu_slots, gpus, gpu_mem_capacity_mb, width, gpu_speedup):
    devices = [{"id": "cpu0", "kind": "cpu", "slots": cpu_slots}]
    for g in range(gpus):
        dev = {"id": f"gpu{g}", "kind": "gpu", "slots": 1}
        if gpu_mem_capacity_mb is not None:
            dev["mem_capacity_mb"] = gpu_mem_capacity_mb
        devices.append(dev)
    operators = []
    edges = []
    for i in range(size):
        heavy = rng.random() < 0.6
        if heavy:  # conv / matmul-like: GPU gpu_speedup times faster
            gpu = float(rng.uniform(0.05, 1.0))
            cpu = gpu * float(rng.uniform(*gpu_speedup))
        else:  # element-wise: launch-bound on the GPU
            cpu = float(rng.uniform(0.01, 0.2))
            gpu = float(rng.uniform(0.02, 0.1))
        operators.append(
            {
                "id": f"op{i}",
                "time_ms": {"cpu": round(cpu, 3), "gpu": round(gpu, 3)},
                "mem_mb": round(float(rng.uniform(1, 64) if heavy else rng.uniform(0.1, 4)), 3),
            }
        )
        edges += _edges_into(rng, i, width, "op")
    return {
        "family": "dag",
        "version": VERSION,
        "name": f"random-n{size}-s{seed}",
        "devices": devices,
        "operators": operators,
        "edges": edges,
        "links": {"latency_ms": 0.01, "bandwidth_gb_s": 12.0},
        "meta": {"generator": "optgap.instances.dag.generate", "size": size, "seed": seed},
    }


def _related_json(size: int, seed: int, rng, width: int) -> dict:
    devices = [
        {"id": "cpu0", "kind": "cpu", "slots": 1, "speed": 1.0},
        {"id": "cpu1", "kind": "cpu", "slots": 1, "speed": 1.0},
        {"id": "gpu0", "kind": "gpu", "slots": 1, "speed": 4.0},
    ]
    operators, edges = [], []
    for i in range(size):
        cost = round(float(rng.uniform(0.05, 1.0)), 3)
        operators.append({"id": f"t{i}", "time_ms": {"cpu": cost, "gpu": cost}})
        edges += _edges_into(rng, i, width, "t")
    return {
        "family": "dag",
        "version": VERSION,
        "name": f"related-n{size}-s{seed}",
        "devices": devices,
        "operators": operators,
        "edges": edges,
        "links": {"latency_ms": 0.0, "bandwidth_gb_s": 1.0},
        "meta": {
            "generator": "optgap.instances.dag.generate (related=True)",
            "size": size,
            "seed": seed,
            "model": "related machines as in the saga scheduling library: time = cost / speed",
        },
    }
