"""Early-exit model presets: per-stage work derived from layer sizes, prices from public lists.

Work per stage = multiply-accumulates (MACs) of its layers plus its exit classifier, counted
from the architecture's layer shapes below (no profiling). Time = MACs / throughput + overhead:

- VM worker: one vCPU of a c5.xlarge-class VM (4 vCPU, 4 workers per VM) at an assumed
  sustained 25 GMAC/s (AVX-512 fp32 inference, oneDNN-style kernels), + 1 ms per query.
- Function at m MB: AWS Lambda gives 1 vCPU at 1769 MB, proportionally less below; a second vCPU
  is counted at half efficiency (intra-op threads of one request), so
  speed(m) = min(m/1769, 1) + 0.5 * max(0, min(m/1769, 2) - 1); + 10 ms per invocation
  (request handling and (de)serialising the activations).

Prices (public list prices, us-east-1, checked by the authors of this file in 2025; treat as
illustrative): c5.xlarge $0.17/h; Lambda x86 $0.0000166667 per GB-s and $0.20 per million
requests. VM boot + model load 90 s (paid from launch); function cold start 250 ms.

GPU VM type (preset ``resnet50-gpu``: CPU VMs for conv2-conv3, GPU VMs for conv4-conv5, every
stage also timed on the other type so the whole model may run on either): an AWS g4dn.xlarge
(one NVIDIA T4, 4 vCPU) at its on-demand list price of $0.526/h (us-east-1, 2025; illustrative),
one query at a time (batch 1, ``workers`` 1) at an *assumed* sustained 500 GMAC/s (fp16 at batch 1
reaches a small part of the T4's 65 TFLOPS peak) + 2 ms per query (launches, host-device copies),
180 s boot (larger image, driver and CUDA context). Per unit of work the CPU VM is the cheaper
(100 GMAC/s for $0.17/h against 500 for $0.526/h, before overheads); the GPU is ~10x faster per
query, which is what a tight SLO needs.

``overhead_ms`` = {vm: 1, fn: 10}: the per-query overheads above, included in every stage's time
and paid once when the model is served as one unit (the whole-model baselines).

Exit fractions are *assumed* (illustrative), shaped like the early-exit literature: BranchyNet
(Teerapittayanon et al., ICPR 2016) and DeeBERT (Xin et al., ACL 2020) report that most easy
inputs leave at the first exits and the share falls with depth, with the exact split set by the
entropy threshold. ResNet: 35/25/20/20 % of queries exit after stages 1-4; BERT (on an SST-2
style task, where early exits are frequent): 45/25/15/15 %.
"""

from __future__ import annotations

from typing import Any

VM_GMAC_S = 25.0
VM_OVERHEAD_MS = 1.0
FN_OVERHEAD_MS = 10.0
FN_MEMORIES = (1024, 1536, 1769, 2048, 3008)
VM = {"price_per_hour": 0.17, "workers": 4, "cold_start_s": 90.0, "max_utilisation": 0.9}
GPU_GMAC_S = 500.0
GPU_OVERHEAD_MS = 2.0
GPU_VM = {"price_per_hour": 0.526, "workers": 1, "cold_start_s": 180.0, "max_utilisation": 0.9}
FUNCTIONS = {
    "price_per_gb_s": 0.0000166667,
    "price_per_request": 2e-7,
    "cold_start_ms": 250.0,
    "keep_alive_s": 600.0,
}
NETWORK = {"latency_ms": 1.0, "bandwidth_mb_s": 1250.0}  # 10 Gb/s inside a region


def fn_speed(memory_mb: int) -> float:
    x = memory_mb / 1769.0
    return min(x, 1.0) + 0.5 * max(0.0, min(x, 2.0) - 1.0)


def _conv(h: int, w: int, cin: int, cout: int, k: int) -> int:
    """MACs of a k x k convolution producing an h x w x cout map from cin channels."""
    return h * w * cout * cin * k * k


def resnet50_stage_macs() -> tuple[list[int], list[int]]:
    """ResNet-50 (He et al. 2016, torchvision v1.5 strides) at 224x224, cut after each of the four
    residual stages; stage 1 also holds the stem. Returns (MACs per stage incl. an exit classifier
    of global pooling + FC to 1000 classes, activation bytes out of each stage in fp32)."""
    macs, acts = [], []
    stem = _conv(112, 112, 3, 64, 7)  # conv1 7x7/2; max-pool to 56x56 is free of MACs
    cin, hw = 64, 56
    for i, (blocks, width) in enumerate(((3, 64), (4, 128), (6, 256), (3, 512))):
        total = stem if i == 0 else 0
        cout = width * 4
        for b in range(blocks):
            stride = 2 if (b == 0 and i > 0) else 1
            out_hw = hw // stride
            total += _conv(hw, hw, cin, width, 1)  # 1x1 reduce at the input resolution
            total += _conv(out_hw, out_hw, width, width, 3)  # 3x3 (carries the stride)
            total += _conv(out_hw, out_hw, width, cout, 1)  # 1x1 expand
            if b == 0:
                total += _conv(out_hw, out_hw, cin, cout, 1)  # projection shortcut
            cin, hw = cout, out_hw
        total += cout * 1000  # exit classifier: pooled features -> 1000 logits
        macs.append(total)
        acts.append(hw * hw * cout * 4)
    return macs, acts


def bert_stage_macs(seq: int = 128, hidden: int = 768, ffn: int = 3072, layers: int = 12):
    """BERT-base (Devlin et al. 2019) encoder cut into 4 stages of 3 layers, sequence 128. One
    layer: Q, K, V, output projections 4*L*H^2, attention scores and mix 2*L^2*H, FFN 2*L*H*F.
    Exit classifier (DeeBERT's off-ramp): pooler H^2 + H*2 classes."""
    per_layer = 4 * seq * hidden * hidden + 2 * seq * seq * hidden + 2 * seq * hidden * ffn
    per_stage = layers // 4
    macs = [per_stage * per_layer + hidden * hidden + hidden * 2 for _ in range(4)]
    acts = [seq * hidden * 4] * 4
    return macs, acts


def _stages(names, macs, acts, exit_fractions) -> list[dict[str, Any]]:
    out, left = [], 1.0
    for i, (name, m, a, f) in enumerate(zip(names, macs, acts, exit_fractions, strict=True)):
        last = i == len(names) - 1
        work_ms = m / (VM_GMAC_S * 1e9) * 1e3
        out.append(
            {
                "id": name,
                "vm_ms": round(work_ms + VM_OVERHEAD_MS, 3),
                "fn_ms": {
                    str(mem): round(work_ms / fn_speed(mem) + FN_OVERHEAD_MS, 3)
                    for mem in FN_MEMORIES
                },
                "exit_prob": 1.0 if last else round(f / left, 6),
                "activation_bytes": 0 if last else a,
            }
        )
        left -= f
    return out


PRESETS = ("resnet50", "bert-base", "resnet50-gpu")


def _gpu_split(stages: list[dict[str, Any]], macs: list[int], gpu_from: int) -> None:
    """Stages from ``gpu_from`` on run on the GPU type; every stage gets its time on the other."""
    for i, (st, m) in enumerate(zip(stages, macs, strict=True)):
        gpu_ms = round(m / (GPU_GMAC_S * 1e9) * 1e3 + GPU_OVERHEAD_MS, 3)
        if i >= gpu_from:
            st["vm_type"] = "gpu"
            st["vm_ms_on"] = {"default": st["vm_ms"]}
            st["vm_ms"] = gpu_ms
        else:
            st["vm_ms_on"] = {"gpu": gpu_ms}


def preset(
    name: str,
    arrivals: dict[str, Any],
    slo_ms: float | None = None,
    service_cv: float = 0.5,
) -> dict[str, Any]:
    """An instance JSON for a preset model and an arrivals object (see the instance format)."""
    extra: dict[str, Any] = {}
    if name in ("resnet50", "resnet50-gpu"):
        macs, acts = resnet50_stage_macs()
        stages = _stages(["conv2", "conv3", "conv4", "conv5"], macs, acts, [0.35, 0.25, 0.2, 0.2])
        slo = 2000.0 if slo_ms is None else slo_ms
        if name == "resnet50-gpu":
            _gpu_split(stages, macs, 2)
            extra["vm_types"] = {"gpu": dict(GPU_VM)}
    elif name == "bert-base":
        macs, acts = bert_stage_macs()
        stages = _stages(["L1-3", "L4-6", "L7-9", "L10-12"], macs, acts, [0.45, 0.25, 0.15, 0.15])
        slo = 2000.0 if slo_ms is None else slo_ms
    else:
        raise ValueError(f"unknown preset {name!r} (known: {', '.join(PRESETS)})")
    return {
        "family": "stages",
        "version": 1,
        "name": f"{name}-early-exit",
        "stages": stages,
        "arrivals": arrivals,
        "vm": dict(VM),
        "functions": dict(FUNCTIONS),
        "network": dict(NETWORK),
        "slo": {"latency_ms": slo, "percentile": 95.0},
        "service_cv": service_cv,
        "sim_seed": 0,
        "overhead_ms": {"vm": VM_OVERHEAD_MS, "fn": FN_OVERHEAD_MS},
        **extra,
        "meta": {
            "preset": name,
            "stage_macs": macs,
            "derivation": "instances/stages/presets.py (layer shapes -> MACs -> ms; list prices)",
        },
    }
