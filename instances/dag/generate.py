"""Seeded random F1 instances that look like inference graphs.

A layered DAG: each operator takes 1-3 inputs from recent operators, so the graph has the
inter-operator parallelism of unrolled RNNs and multi-branch CNNs. Most operators are much faster
on the GPU; small element-wise ones are not worth the launch. One CPU with ``cpu_slots`` parallel
slots and ``gpus`` GPUs, linked by PCIe (10 µs + bytes / 12 GB/s).
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
) -> dict:
    if size < 1:
        raise ValueError("size must be >= 1")
    rng = np.random.default_rng(seed)
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
        if i > 0:
            k = int(rng.integers(1, min(3, i) + 1))
            preds = rng.choice(
                np.arange(max(0, i - width * 2), i),
                size=min(k, i - max(0, i - width * 2)),
                replace=False,
            )
            for p in sorted(int(x) for x in preds):
                edges.append(
                    {"src": f"op{p}", "dst": f"op{i}", "bytes": int(rng.integers(1, 64)) * 16384}
                )
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
