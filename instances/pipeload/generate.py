"""F4 instances from Transformer dimensions (presets for BERT, ViT, GPT-2 and GPT-J-style models)
and seeded random instances.

Per layer, from the model's dimensions (hidden H, FFN width F, heads h, vocabulary V, positions,
sequence length s, bytes per parameter):

- parameters: attention 4H² + 4H plus its LayerNorm 2H; MLP 2HF + F + H plus LayerNorm 2H;
  embedding V·H + positions·H (BERT: + token types 2H and a LayerNorm 2H); ViT patch embedding P²·C·H + H plus the class
  token and positions; head: BERT pooler H² + H and a 2-way classifier, ViT LayerNorm and a
  1000-way classifier, GPT LayerNorm and the LM head V·H (stored untied: the embedding was freed
  after it ran, so the head loads its own copy).
- FLOPs (a multiply-add = 2): attention 8sH² (Q, K, V, output projections) + 4s²H (scores and
  weighted sum); MLP 4sHF; ViT patch embedding 2·N·P²·C·H; heads only for the token they use
  (BERT/ViT: the class token; GPT: the last token); embeddings 8sH (gathers, sums, LayerNorm).
- mem_mb = parameters × bytes per parameter / 10⁶; load_ms = mem_mb / agent_mb_s × 1000 (one
  loading agent's sustained read + deserialisation rate); compute_ms = FLOPs / device FLOP/s.
- resident_mb: runtime_mb plus the activations of one layer: two hidden states s·H, the
  attention scores h·s² and the MLP intermediate s·F, at the activation precision.

``granularity="block"`` makes one layer per Transformer block; ``"sublayer"`` splits each into
attention and MLP (GPT-2-medium then has 24 × 2 + 2 = 50 layers). Every figure is explicit in the
instance's ``meta`` so a reader can redo the arithmetic.
"""

from __future__ import annotations

import random
from dataclasses import asdict, dataclass, replace
from typing import Any

from optgap.formulations.pipeload.instance import PipeloadInstance, load
from optgap.solvers.errors import InputError


@dataclass(frozen=True)
class ModelSpec:
    name: str
    kind: str  # "bert" | "vit" | "gpt"
    layers: int
    hidden: int
    heads: int
    ffn: int
    vocab: int = 0
    positions: int = 0
    seq: int = 128
    bytes_per_param: int = 4
    image: int = 224  # ViT
    patch: int = 16
    channels: int = 3
    classes: int = 1000


@dataclass(frozen=True)
class Device:
    """An edge device: sustained FLOP/s of the inference agent and one loading agent's rate."""

    name: str = "edge-cpu"
    flops: float = 100e9
    agent_mb_s: float = 250.0
    disk_mb_s: float | None = None  # shared disk bandwidth (None: loads independent)
    runtime_mb: float = 0.0


PRESETS: dict[str, ModelSpec] = {
    "bert-base": ModelSpec("bert-base", "bert", 12, 768, 12, 3072, 30522, 512, seq=128),
    "bert-large": ModelSpec("bert-large", "bert", 24, 1024, 16, 4096, 30522, 512, seq=128),
    "vit-b16": ModelSpec("vit-b16", "vit", 12, 768, 12, 3072),
    "vit-l16": ModelSpec("vit-l16", "vit", 24, 1024, 16, 4096),
    "gpt2": ModelSpec("gpt2", "gpt", 12, 768, 12, 3072, 50257, 1024, seq=128),
    "gpt2-medium": ModelSpec("gpt2-medium", "gpt", 24, 1024, 16, 4096, 50257, 1024, seq=128),
    "gptj-6b": ModelSpec(
        "gptj-6b", "gpt", 28, 4096, 16, 16384, 50400, 2048, seq=128, bytes_per_param=2
    ),
}


def transformer(
    spec: ModelSpec,
    device: Device = Device(),
    *,
    granularity: str = "block",
    agents: int | tuple[int, int] = (1, 8),
    budget_mb: float | None = None,
    agent_buffer_mb: float = 0.0,
) -> dict[str, Any]:
    """An instance JSON object for a Transformer on a device."""
    if granularity not in ("block", "sublayer"):
        raise InputError(f"granularity: expected block or sublayer, got {granularity!r}")
    H, F, s, b = spec.hidden, spec.ffn, spec.seq, spec.bytes_per_param
    rows: list[tuple[str, int, float]] = []  # (name, parameters, FLOPs)
    if spec.kind == "vit":
        n_patch = (spec.image // spec.patch) ** 2
        s = n_patch + 1
        rows.append(
            (
                "patch_embed",
                spec.patch**2 * spec.channels * H + H + H + s * H,
                2 * n_patch * spec.patch**2 * spec.channels * H,
            )
        )
    else:
        extra = 2 * H + 2 * H if spec.kind == "bert" else 0  # token types and a LayerNorm
        rows.append(("embed", spec.vocab * H + spec.positions * H + extra, 8 * s * H))
    attn = (4 * H * H + 4 * H + 2 * H, 8 * s * H * H + 4 * s * s * H)
    mlp = (2 * H * F + F + H + 2 * H, 4 * s * H * F)
    for i in range(spec.layers):
        if granularity == "block":
            rows.append((f"block{i}", attn[0] + mlp[0], attn[1] + mlp[1]))
        else:
            rows.append((f"block{i}.attn", *attn))
            rows.append((f"block{i}.mlp", *mlp))
    if spec.kind == "bert":
        rows.append(("pooler+classifier", H * H + H + 2 * H + 2, 2 * H * H + 4 * H))
    elif spec.kind == "vit":
        rows.append(("head", 2 * H + H * spec.classes + spec.classes, 2 * H * spec.classes))
    else:
        rows.append(("lm_head", 2 * H + spec.vocab * H, 2 * H * spec.vocab))
    layers = []
    for name, n_params, flops in rows:
        mem_mb = n_params * b / 1e6
        layers.append(
            {
                "name": name,
                "load_ms": round(mem_mb / device.agent_mb_s * 1000, 3),
                "compute_ms": round(flops / device.flops * 1000, 3),
                "mem_mb": round(mem_mb, 3),
            }
        )
    act_mb = (2 * s * H + spec.heads * s * s + s * F) * b / 1e6
    data: dict[str, Any] = {
        "family": "pipeload",
        "version": 1,
        "name": f"{spec.name}-{granularity}",
        "layers": layers,
        "resident_mb": round(device.runtime_mb + act_mb, 3),
        "agents": agents if isinstance(agents, int) else {"min": agents[0], "max": agents[1]},
    }
    if agent_buffer_mb:
        data["agent_mb"] = agent_buffer_mb
    if budget_mb is not None:
        data["budget_mb"] = budget_mb
    if device.disk_mb_s is not None:
        data["disk_mb_s"] = device.disk_mb_s
    data["meta"] = {
        "generator": "optgap.instances.pipeload.generate.transformer",
        "model": asdict(spec),
        "device": asdict(device),
        "granularity": granularity,
        "parameters": sum(r[1] for r in rows),
        "note": "dimensions from the models' published configurations; times from the device "
        "figures above (a cost model, not a measurement)",
    }
    return data


def preset(
    name: str, device: Device = Device(), *, granularity: str = "block", **kw
) -> PipeloadInstance:
    if name not in PRESETS:
        raise InputError(f"unknown preset {name!r} (known: {', '.join(PRESETS)})")
    return load(transformer(PRESETS[name], device, granularity=granularity, **kw))


def generate(size: int, seed: int) -> PipeloadInstance:
    """A random instance with ``size`` layers: loads 1–20 ms, computes 1–10 ms, 1–50 MB each,
    2–4 agents fixed or a range from 1, and a budget between the least feasible and the whole
    model."""
    rng = random.Random(seed)
    layers = [
        {
            "name": f"L{i}",
            "load_ms": rng.randint(1, 20),
            "compute_ms": rng.randint(1, 10),
            "mem_mb": rng.randint(1, 50),
        }
        for i in range(size)
    ]
    resident = rng.randint(0, 10)
    kmax = rng.randint(2, 4)
    agents: Any = kmax if rng.random() < 0.5 else {"min": 1, "max": kmax}
    biggest = max(x["mem_mb"] for x in layers)
    total = sum(x["mem_mb"] for x in layers)
    budget = resident + rng.randint(biggest, max(biggest, (biggest + total) // 2))
    return load(
        {
            "family": "pipeload",
            "version": 1,
            "name": f"random-n{size}-s{seed}",
            "layers": layers,
            "resident_mb": resident,
            "agents": agents,
            "budget_mb": budget,
            "meta": {"generator": "optgap generate pipeload", "size": size, "seed": seed},
        }
    )


def with_budget(inst: PipeloadInstance, budget_kb: int | None) -> PipeloadInstance:
    return replace(inst, budget_kb=budget_kb)


def main(argv: list[str] | None = None) -> int:
    """``python -m optgap.instances.pipeload.generate PRESET -o FILE``: write a preset instance."""
    import argparse
    import sys

    from optgap.solvers.fields import write_json_new

    ap = argparse.ArgumentParser(prog="python -m optgap.instances.pipeload.generate")
    ap.add_argument("preset", choices=sorted(PRESETS))
    ap.add_argument("-o", "--out", required=True)
    ap.add_argument("--granularity", choices=("block", "sublayer"), default="block")
    ap.add_argument("--seq", type=int, help="sequence length (default: the preset's)")
    ap.add_argument("--flops", type=float, default=Device.flops, help="device FLOP/s")
    ap.add_argument("--agent-mb-s", type=float, default=Device.agent_mb_s)
    ap.add_argument("--disk-mb-s", type=float, help="shared disk bandwidth (default: none)")
    ap.add_argument("--runtime-mb", type=float, default=Device.runtime_mb)
    ap.add_argument("--agents", default="1-8", help="k or a range a-b (default 1-8)")
    ap.add_argument("--agent-buffer-mb", type=float, default=0.0)
    ap.add_argument("--budget-mb", type=float)
    ap.add_argument("--force", action="store_true")
    args = ap.parse_args(argv)
    lo, sep, hi = args.agents.partition("-")
    spec = PRESETS[args.preset]
    if args.seq:
        spec = replace(spec, seq=args.seq)
    device = Device(
        flops=args.flops,
        agent_mb_s=args.agent_mb_s,
        disk_mb_s=args.disk_mb_s,
        runtime_mb=args.runtime_mb,
    )
    try:
        data = transformer(
            spec,
            device,
            granularity=args.granularity,
            agents=(int(lo), int(hi)) if sep else int(lo),
            budget_mb=args.budget_mb,
            agent_buffer_mb=args.agent_buffer_mb,
        )
        load(data)
        write_json_new(args.out, data, force=args.force)
    except InputError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(f"wrote {args.out}: {len(data['layers'])} layers")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
