"""Import an ONNX model graph as an F1 instance: operators, tensor edges, roofline device times.

This is how instances like Chrion's (arXiv 2307.11339: operators of one inference graph placed
on CPUs and GPUs) are made from real models. The steps:

1. **Shapes.** ``onnx.shape_inference.infer_shapes`` (strict, with data propagation); a model
   it rejects is a one-line ``InputError`` (``strict_shapes=False``: keep what it infers).
   Symbolic dimensions (``batch``, ...) are taken as 1 and listed in the report.
2. **Weights are not operators.** Initializers, ``Constant`` nodes, nodes without inputs, every
   node whose inputs are all constant (``ConstantOfShape`` of a constant shape, ``Unsqueeze`` of a
   weight, ``Gather`` of a constant shape, ...) and ``Shape``/``Size`` of a tensor whose shape is
   fully static are folded away, transitively. The bytes of a constant count as weights of the
   operators that read it.
3. **Cost per operator** (``operator_cost``): FLOPs and bytes moved, by the formulas below.
   An operator type without a formula, or whose formula needs a shape inference could not find,
   is costed by an explicit default — no FLOPs, memory-bound on the bytes of its inputs and
   outputs — and listed: the report's ``defaults`` (type -> operator ids) and ``unknown_shapes``
   (operator ids), the instance's ``meta.defaults`` (type -> count) and ``meta.unknown_shapes``.
4. **Time per device kind** by the roofline model (Williams, Waterman, Patterson, "Roofline: an
   insightful visual performance model for multicore architectures", CACM 52(4), 2009)::

       time_ms = max(FLOPs / peak, bytes / bandwidth) + launch overhead

   rounded *up* to the loader's 1 µs grid (so only a truly free operator — no FLOPs, no bytes,
   no overhead — gets 0).
5. **Memory** of an operator, ``mem_mb`` = output tensors + weights read. A weight read by k
   operators (an unrolled RNN's matrices, read at every timestep) adds 1/k of its bytes to each:
   the F1 memory model is additive, and this is exact when all readers share a device.
6. **Edges** carry the bytes of the producer's output tensors the consumer reads (summed over
   distinct tensors). Graph inputs and outputs are not operators; host copies are not modelled.
   Tensors read only inside control-flow subgraphs (``If``/``Loop`` bodies) make no edge.

FLOP formulas (a multiply-add is 2 FLOPs; a transcendental — exp, tanh, sigmoid, erf, ... — is
counted as 4 FLOPs, a convention; ``numel`` = number of elements):

=====================================  ==========================================================
Conv (groups g; W [Cout, Cin/g, k..])   2·N·Cout·∏out_spatial·(Cin/g)·∏k  (+ numel(Y) with bias)
ConvTranspose (W [Cin, Cout/g, k..])    2·numel(X)·(Cout/g)·∏k  (+ numel(Y) with bias)
Gemm (A' M×K, B' K×N)                   2·M·N·K  (+ M·N with C)
MatMul (batched, broadcast)             2·numel(Y)·K
LSTM / GRU / RNN (ONNX ops)             D·S·(2·B·(I + H)·G·H + p·B·H), G = 4 / 3 / 1 gates,
                                        p pointwise FLOPs per hidden unit and step: LSTM 28
                                        (+8 bias, +6 peepholes), GRU 20 (+6 bias), RNN 5 (+2 bias)
BatchNormalization (inference)          2·numel(Y)   (y = a·x + b per channel)
Max/Average/LpPool                      numel(Y)·∏kernel_shape
GlobalAverage/GlobalMaxPool             numel(X)
LRN (size n)                            numel(X)·(2n + 7)
Softmax / LogSoftmax                    8·numel(Y)   (max, subtract, exp, sum, divide)
LayerNorm / InstanceNorm / GroupNorm    8·numel(Y)
element-wise arithmetic / comparison    numel(Y); variadic Sum/Max/Min/Mean: (k-1)·numel(Y)
element-wise transcendental             4·numel(Y)
Reduce*, ArgMax, ArgMin                 numel(X)
data movement / views                   0
=====================================  ==========================================================

Bytes moved (compulsory traffic, each tensor read or written once): views (Reshape, Flatten,
Squeeze, Unsqueeze, Identity, Dropout at inference) and Shape/Size move nothing; Gather-like
and Slice read only what they output, 2·bytes(Y) + bytes(index inputs); every other operator
reads all its inputs (weights included) and writes all its outputs.
"""

from __future__ import annotations

import math
import os
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import onnx
from onnx import helper, shape_inference
from optgap.instances.dag.profiles import DeviceKind, load_profile
from optgap.solvers.errors import InputError

LIGHT_DIR = Path(onnx.__file__).resolve().parent / "backend" / "test" / "data" / "light"

# -- operator classes (ONNX default domain) ------------------------------------------------

VIEWS = frozenset({"Reshape", "Flatten", "Squeeze", "Unsqueeze", "Identity", "Dropout"})
METADATA = frozenset({"Shape", "Size"})  # read no data, write a few integers
COPIES = frozenset(
    {
        "Concat",
        "Split",
        "Transpose",
        "Pad",
        "Expand",
        "Tile",
        "DepthToSpace",
        "SpaceToDepth",
        "ScatterND",
        "ScatterElements",
        "Cast",
        "CastLike",
    }
)
GATHERS = frozenset({"Gather", "GatherElements", "GatherND", "Slice"})  # read what they write
ARITHMETIC = frozenset(
    {
        "Add",
        "Sub",
        "Mul",
        "Div",
        "Mod",
        "Neg",
        "Abs",
        "Sign",
        "Floor",
        "Ceil",
        "Round",
        "Relu",
        "LeakyRelu",
        "PRelu",
        "ThresholdedRelu",
        "Clip",
        "Sqrt",
        "Reciprocal",
        "Pow",
        "Where",
        "Less",
        "LessOrEqual",
        "Greater",
        "GreaterOrEqual",
        "Equal",
        "And",
        "Or",
        "Xor",
        "Not",
        "BitShift",
        "IsNaN",
        "IsInf",
        "HardSigmoid",
        "HardSwish",
        "Shrink",
        "Softsign",
    }
)
VARIADIC = frozenset({"Sum", "Max", "Min", "Mean"})
TRANSCENDENTAL = frozenset(
    {
        "Sigmoid",
        "Tanh",
        "Exp",
        "Log",
        "Erf",
        "Elu",
        "Selu",
        "Celu",
        "Softplus",
        "Gelu",
        "Mish",
        "Sin",
        "Cos",
        "Tan",
        "Asin",
        "Acos",
        "Atan",
        "Sinh",
        "Cosh",
        "Asinh",
        "Acosh",
        "Atanh",
    }
)
REDUCES = frozenset(
    {
        "ReduceMean",
        "ReduceSum",
        "ReduceMax",
        "ReduceMin",
        "ReduceProd",
        "ReduceL1",
        "ReduceL2",
        "ReduceLogSum",
        "ReduceLogSumExp",
        "ReduceSumSquare",
        "ArgMax",
        "ArgMin",
    }
)
POOLS = frozenset({"MaxPool", "AveragePool", "LpPool"})
GLOBAL_POOLS = frozenset({"GlobalAveragePool", "GlobalMaxPool", "GlobalLpPool"})
NORMS = frozenset({"LayerNormalization", "InstanceNormalization", "GroupNormalization"})
RECURRENT = {"LSTM": 4, "GRU": 3, "RNN": 1}  # gates
HEAVY = frozenset({"Conv", "ConvTranspose", "Gemm", "MatMul", "BatchNormalization", "LRN"})
HEAVY |= {"Softmax", "LogSoftmax"}

COSTED = (
    VIEWS
    | METADATA
    | COPIES
    | GATHERS
    | ARITHMETIC
    | VARIADIC
    | TRANSCENDENTAL
    | REDUCES
    | POOLS
    | GLOBAL_POOLS
    | NORMS
    | HEAVY
    | set(RECURRENT)
)
"""Operator types (default ONNX domain) with a cost formula; others get the default."""


# -- tensors and costs ---------------------------------------------------------------------


@dataclass(frozen=True)
class Tensor:
    """Static information on one tensor: shape (None if unknown) and element size."""

    shape: tuple[int, ...] | None
    itemsize: int = 4
    static: bool = True  # every dimension a number (no symbolic dimension taken as 1)

    @property
    def numel(self) -> int:
        return math.prod(self.shape) if self.shape is not None else 0

    @property
    def nbytes(self) -> int:
        return self.numel * self.itemsize


UNKNOWN = Tensor(None)
DEAD = Tensor((0,))  # an output nobody reads, of unknown shape: taken as empty


@dataclass(frozen=True)
class Cost:
    """Work of one operator: floating-point operations and bytes moved to/from memory."""

    flops: float
    bytes: float


class NoFormula(Exception):
    """The operator cannot be costed by its formula (unknown type or missing shapes)."""


def operator_cost(node: onnx.NodeProto, ins: Sequence[Tensor], outs: Sequence[Tensor]) -> Cost:
    """FLOPs and bytes moved of one operator (formulas in the module docstring).

    ``ins`` and ``outs`` follow ``node.input`` / ``node.output`` (an absent optional input is
    ``UNKNOWN``). Raises ``NoFormula`` for an operator type without a formula or when a shape
    the formula needs is unknown.
    """
    op = node.op_type if node.domain in ("", "ai.onnx") else None
    if op is None or op not in COSTED:
        raise NoFormula("no formula")
    y = outs[0] if outs else UNKNOWN
    if any(t.shape is None for t in outs) and op not in METADATA:
        raise NoFormula("unknown output shape")
    return Cost(_flops(node, op, ins, y), _bytes(op, distinct_inputs(node, ins), outs))


def _need(*tensors: Tensor) -> None:
    if any(t.shape is None for t in tensors):
        raise NoFormula("unknown input shape")


def _flops(node: onnx.NodeProto, op: str, ins: Sequence[Tensor], y: Tensor) -> float:
    x = ins[0] if ins else UNKNOWN
    if op in ("Conv", "ConvTranspose"):
        _need(x, ins[1])
        w = ins[1].shape
        assert w is not None
        kernel = math.prod(w[2:])
        # Conv: each output element is a dot product of length Cin/g·∏k = W[1]·∏W[2:];
        # ConvTranspose: each input element scatters to Cout/g·∏k = W[1]·∏W[2:] outputs.
        flops = 2 * (y.numel if op == "Conv" else x.numel) * w[1] * kernel
        return float(flops + (y.numel if _present(ins, 2) else 0))
    if op == "Gemm":
        _need(x)
        assert x.shape is not None
        k = x.shape[0] if _attr(node, "transA", 0) else x.shape[-1]
        return float(2 * y.numel * k + (y.numel if _present(ins, 2) else 0))
    if op == "MatMul":
        _need(x)
        assert x.shape is not None
        return float(2 * y.numel * x.shape[-1])
    if op in RECURRENT:
        return float(_recurrent_flops(node, op, ins))
    if op == "BatchNormalization":
        return float(2 * y.numel)
    if op in POOLS:
        return float(y.numel * math.prod(_attr(node, "kernel_shape", [1])))
    if op in GLOBAL_POOLS or op in REDUCES:
        _need(x)
        return float(x.numel)
    if op == "LRN":
        _need(x)
        return float(x.numel * (2 * _attr(node, "size", 1) + 7))
    if op in ("Softmax", "LogSoftmax") or op in NORMS:
        return float(8 * y.numel)
    if op in ARITHMETIC:
        return float(y.numel)
    if op in VARIADIC:
        k = sum(1 for i in range(len(ins)) if _present(ins, i))
        return float(max(1, k - 1 + (op == "Mean")) * y.numel)
    if op in TRANSCENDENTAL:
        return float(4 * y.numel)
    return 0.0  # views, metadata, copies, gathers


def _recurrent_flops(node: onnx.NodeProto, op: str, ins: Sequence[Tensor]) -> int:
    """D·S·(2·B·(I+H)·G·H + p·B·H) for the ONNX LSTM, GRU and RNN operators."""
    x, w = ins[0], ins[1]
    _need(x, w)
    assert x.shape is not None and w.shape is not None
    if _attr(node, "layout", 0):
        batch, seq, inp = x.shape
    else:
        seq, batch, inp = x.shape
    gates = RECURRENT[op]
    directions = w.shape[0]
    hidden = _attr(node, "hidden_size", w.shape[1] // gates)
    bias = _present(ins, 3)
    pointwise = {
        "LSTM": 28 + 8 * bias + 6 * _present(ins, 7),
        "GRU": 20 + 6 * bias,
        "RNN": 5 + 2 * bias,
    }[op]
    per_step = 2 * batch * (inp + hidden) * gates * hidden + pointwise * batch * hidden
    return directions * seq * per_step


def _bytes(op: str, ins: Sequence[Tensor], outs: Sequence[Tensor]) -> float:
    """Bytes moved, from the *distinct* inputs (a tensor read twice is read once)."""
    if op in VIEWS or op in METADATA:
        return 0.0
    written = sum(t.nbytes for t in outs)
    if op in GATHERS:
        return float(2 * written + sum(t.nbytes for t in ins[1:]))
    return float(sum(t.nbytes for t in ins) + written)


def distinct_inputs(node: onnx.NodeProto, ins: Sequence[Tensor]) -> list[Tensor]:
    """The input tensors of a node without repeats (``Mul(x, x)`` reads x once), in order."""
    seen: set[str] = set()
    out = []
    for name, t in zip(node.input, ins, strict=True):
        if name and name not in seen:
            seen.add(name)
            out.append(t)
    return out


def _present(ins: Sequence[Tensor], i: int) -> bool:
    return i < len(ins) and ins[i] is not UNKNOWN


def _attr(node: onnx.NodeProto, name: str, default: Any) -> Any:
    for a in node.attribute:
        if a.name == name:
            return helper.get_attribute_value(a)
    return default


def roofline_ms(cost: Cost, kind: DeviceKind) -> float:
    """``max(FLOPs / peak, bytes / bandwidth) + launch overhead`` in ms, rounded *up* to 1 µs.

    Williams, Waterman & Patterson, CACM 52(4):65-76, 2009. Rounding up keeps every operator
    with any work at >= 1 µs on the loader's grid; only a free one (no work, no overhead) is 0.
    """
    seconds = max(
        cost.flops / (kind.peak_gflops * 1e9), cost.bytes / (kind.mem_bandwidth_gb_s * 1e9)
    )
    ns = round((seconds * 1e3 + kind.launch_overhead_ms) * 1e6)
    if ns == 0 and (cost.flops > 0 or cost.bytes > 0 or kind.launch_overhead_ms > 0):
        ns = 1
    return -(-ns // 1000) / 1000


# -- the report ----------------------------------------------------------------------------


@dataclass
class ImportReport:
    """What an import did: operators, folding, and every cost that is not a formula's."""

    source: str
    profile: str = ""
    operators: int = 0
    edges: int = 0
    folded: int = 0
    op_types: Counter = field(default_factory=Counter)
    defaults: dict[str, list[str]] = field(default_factory=dict)  # op type -> operator ids
    unknown_shapes: list[str] = field(default_factory=list)  # operators with an unknown output
    symbolic_dims: Counter = field(default_factory=Counter)  # dim_param -> occurrences
    flops: dict[str, float] = field(default_factory=dict)  # operator id -> FLOPs
    bytes_moved: dict[str, float] = field(default_factory=dict)  # operator id -> bytes
    measured: int = 0  # operators whose CPU time onnxruntime measured

    @property
    def total_gflops(self) -> float:
        return sum(self.flops.values()) / 1e9

    @property
    def default_counts(self) -> dict[str, int]:
        return {k: len(v) for k, v in self.defaults.items()}

    def lines(self) -> list[str]:
        out = [
            f"{self.source}: {self.operators} operators, {self.edges} edges "
            f"({self.folded} constant nodes folded), {self.total_gflops:.4g} GFLOP, "
            f"profile {self.profile}",
            "  op types: " + ", ".join(f"{k} {v}" for k, v in self.op_types.most_common()),
        ]
        if self.defaults:
            out.append(
                "  costed by the default (no FLOPs, memory-bound on inputs + outputs): "
                + ", ".join(f"{k} {len(v)}" for k, v in sorted(self.defaults.items()))
            )
        if self.unknown_shapes:
            shown = ", ".join(self.unknown_shapes[:8])
            more = len(self.unknown_shapes) - 8
            out.append(
                f"  output shape unknown (counted as 0 bytes): {len(self.unknown_shapes)} "
                f"operators: {shown}" + (f", ... ({more} more)" if more > 0 else "")
            )
        if self.symbolic_dims:
            out.append("  symbolic dimensions taken as 1: " + ", ".join(sorted(self.symbolic_dims)))
        if self.measured:
            out.append(
                f"  CPU times measured with onnxruntime for {self.measured} of "
                f"{self.operators} operators"
            )
        return out


# -- the importer --------------------------------------------------------------------------


def import_onnx(
    model: str | os.PathLike | onnx.ModelProto,
    devices_profile: str | os.PathLike | dict | None = None,
    *,
    name: str | None = None,
    attribution: str | None = None,
    measure_cpu: bool = False,
    strict_shapes: bool = True,
) -> dict[str, Any]:
    """The F1 instance JSON object (accepted by ``optgap.formulations.dag.instance.load``) of a model.

    ``devices_profile``: a shipped profile name (``server``, the default, or ``edge``), a JSON
    file, or a parsed profile object (see ``instances/dag/profiles.py``). ``measure_cpu``:
    replace the roofline CPU times by onnxruntime measurements (``measure_cpu_ms``).
    ``strict_shapes``: a model strict shape inference rejects is an ``InputError``; with False,
    inference keeps what it can and the operators left without shapes are reported.
    ``attribution``: recorded in ``meta.attribution`` (default: what the file says about its
    origin). Use ``import_onnx_with_report`` to also get the ``ImportReport``.
    """
    return import_onnx_with_report(
        model,
        devices_profile,
        name=name,
        attribution=attribution,
        measure_cpu=measure_cpu,
        strict_shapes=strict_shapes,
    )[0]


def import_onnx_with_report(
    model: str | os.PathLike | onnx.ModelProto,
    devices_profile: str | os.PathLike | dict | None = None,
    *,
    name: str | None = None,
    attribution: str | None = None,
    measure_cpu: bool = False,
    strict_shapes: bool = True,
) -> tuple[dict[str, Any], ImportReport]:
    """``import_onnx`` and the report of what it did (defaults, unknown shapes, FLOPs per op)."""
    model, source, path = _read_model(model)
    profile = load_profile(devices_profile)
    model = _infer_shapes(model, source, strict_shapes)
    graph = model.graph
    report = ImportReport(source, profile=profile.name)
    tensors = _tensor_table(graph, report)
    ids = node_ids(graph)
    folded, constant = _fold(graph, tensors)
    report.folded = len(folded)
    ops = [k for k in range(len(graph.node)) if k not in folded]
    if not ops:
        raise InputError(f"{source}: the graph has no operators left after folding constants")

    readers = Counter(i for k in ops for i in set(graph.node[k].input) if i in constant)
    producer = {o: ids[k] for k in ops for o in graph.node[k].output if o}
    live = {i for node in graph.node for i in node.input} | {o.name for o in graph.output}
    operators: list[dict[str, Any]] = []
    edge_bytes: dict[tuple[str, str], int] = {}
    for k in ops:
        node, op_id = graph.node[k], ids[k]
        op_type = (
            node.op_type if node.domain in ("", "ai.onnx") else f"{node.domain}.{node.op_type}"
        )
        ins = [tensors.get(i, UNKNOWN) if i else UNKNOWN for i in node.input]
        # a dead output of unknown shape (Dropout's mask at inference) is not an unknown
        outs = [_output(tensors.get(o, UNKNOWN), o in live) for o in node.output if o]
        if any(t.shape is None for t in outs):
            report.unknown_shapes.append(op_id)
        try:
            cost = operator_cost(node, ins, outs)
        except NoFormula:
            read = sum(t.nbytes for t in distinct_inputs(node, ins))
            cost = Cost(0.0, float(read + sum(t.nbytes for t in outs)))
            report.defaults.setdefault(op_type, []).append(op_id)
        report.op_types[op_type] += 1
        report.flops[op_id] = cost.flops
        report.bytes_moved[op_id] = cost.bytes
        weights = sum(
            tensors.get(i, UNKNOWN).nbytes / readers[i]
            for i in _distinct(node.input)
            if i in constant
        )
        output = sum(t.nbytes for t in outs)
        operators.append(
            {
                "id": op_id,
                "op_type": op_type,
                "time_ms": {kd.kind: roofline_ms(cost, kd) for kd in profile.kinds},
                "mem_mb": round((weights + output) / 1e6, 3),
            }
        )
        for i in _distinct(node.input):
            src = producer.get(i)
            if src is not None and src != op_id:
                edge_bytes[src, op_id] = (
                    edge_bytes.get((src, op_id), 0) + tensors.get(i, UNKNOWN).nbytes
                )

    if measure_cpu:
        measured = measure_cpu_ms(model)
        for o in operators:
            if o["id"] in measured and "cpu" in o["time_ms"]:
                o["time_ms"]["cpu"] = measured[o["id"]]
                report.measured += 1
    report.operators = len(operators)
    report.edges = len(edge_bytes)
    meta: dict[str, Any] = {
        "source": source,
        "importer": "optgap instances.dag.onnx_import",
        "cost_model": "roofline (Williams et al. 2009): max(FLOPs/peak, bytes/bandwidth) "
        "+ launch overhead, per device kind of the profile",
        "device_profile": profile.name,
        "attribution": attribution or _attribution(model, path),
        "folded_constant_nodes": report.folded,
        "op_types": dict(report.op_types),
        "defaults": report.default_counts,
        "gflops": round(report.total_gflops, 6),
    }
    if report.unknown_shapes:
        meta["unknown_shapes"] = list(report.unknown_shapes)
    if report.symbolic_dims:
        meta["symbolic_dims_as_1"] = sorted(report.symbolic_dims)
    if measure_cpu:
        meta["cpu_times"] = f"measured with onnxruntime ({report.measured} operators)"
    data = {
        "family": "dag",
        "version": 1,
        "name": name or (Path(source).stem if path is not None else source),
        "devices": profile.devices_json(),
        "operators": operators,
        "edges": [{"src": s, "dst": d, "bytes": b} for (s, d), b in edge_bytes.items()],
        "links": profile.links_json(),
        "meta": meta,
    }
    return data, report


def node_ids(graph: onnx.GraphProto) -> list[str]:
    """Operator id of every node: its name, else ``{op_type}_{index}``; repeats get ``#2``..."""
    seen: Counter = Counter()
    ids = []
    for k, node in enumerate(graph.node):
        base = node.name or f"{node.op_type}_{k}"
        seen[base] += 1
        ids.append(base if seen[base] == 1 else f"{base}#{seen[base]}")
    return ids


def _output(t: Tensor, live: bool) -> Tensor:
    return t if live or t.shape is not None else DEAD


def _distinct(names: Sequence[str]) -> list[str]:
    return list(dict.fromkeys(n for n in names if n))


def _read_model(
    model: str | os.PathLike | onnx.ModelProto,
) -> tuple[onnx.ModelProto, str, Path | None]:
    if isinstance(model, onnx.ModelProto):
        return model, model.graph.name or "model", None
    path = Path(model)
    if not path.exists():
        raise InputError(f"{path}: no such file")
    if path.is_dir():
        raise InputError(f"{path}: is a directory, expected an ONNX model file")
    try:
        proto = onnx.load(str(path))
    except Exception as e:  # protobuf decode errors have no common type
        raise InputError(f"{path}: not an ONNX model ({type(e).__name__})") from None
    return proto, path.name, path


def _infer_shapes(model: onnx.ModelProto, source: str, strict: bool) -> onnx.ModelProto:
    try:
        return shape_inference.infer_shapes(
            model, check_type=strict, strict_mode=strict, data_prop=True
        )
    except Exception as e:
        msg = " ".join(str(e).split()) or type(e).__name__
        hint = " (strict_shapes=False imports with the shapes it can infer)" if strict else ""
        raise InputError(f"{source}: ONNX shape inference failed: {msg}{hint}") from None


def _tensor_table(graph: onnx.GraphProto, report: ImportReport) -> dict[str, Tensor]:
    """Shape and element size of every tensor shape inference (or an initializer) describes."""
    out: dict[str, Tensor] = {}
    for t in graph.initializer:
        out[t.name] = Tensor(tuple(t.dims), _itemsize(t.data_type))
    for node in graph.node:  # Constant values, in case inference left them out
        if node.op_type == "Constant" and node.output:
            value = _attr(node, "value", None)
            if isinstance(value, onnx.TensorProto):
                out[node.output[0]] = Tensor(tuple(value.dims), _itemsize(value.data_type))
    for vi in [*graph.input, *graph.value_info, *graph.output]:
        if vi.name in out or not vi.type.HasField("tensor_type"):
            continue
        tt = vi.type.tensor_type
        if not tt.HasField("shape"):
            out[vi.name] = Tensor(None, _itemsize(tt.elem_type), static=False)
            continue
        dims, static = [], True
        for d in tt.shape.dim:
            if d.HasField("dim_value"):
                dims.append(d.dim_value)
            else:
                report.symbolic_dims[d.dim_param or "?"] += 1
                dims.append(1)
                static = False
        out[vi.name] = Tensor(tuple(dims), _itemsize(tt.elem_type), static=static)
    return out


def _fold(graph: onnx.GraphProto, tensors: dict[str, Tensor]) -> tuple[set[int], set[str]]:
    """Indices of the nodes folded as constants, and the names of all constant tensors."""
    constant = {t.name for t in graph.initializer}
    folded: set[int] = set()
    for k, node in enumerate(graph.node):  # nodes are topologically sorted in a valid model
        inputs = [i for i in node.input if i]
        static_shape = (
            node.op_type in METADATA
            and node.domain in ("", "ai.onnx")
            and len(inputs) == 1
            and (t := tensors.get(inputs[0])) is not None
            and t.shape is not None
            and t.static
        )
        if all(i in constant for i in inputs) or static_shape:
            folded.add(k)
            constant.update(o for o in node.output if o)
    return folded, constant


def _itemsize(elem_type: int) -> int:
    try:
        return max(1, helper.tensor_dtype_to_np_dtype(elem_type).itemsize)
    except Exception:
        return 4


def _attribution(model: onnx.ModelProto, path: Path | None) -> str:
    """Where the model comes from, as far as the file says."""
    if path is not None and path.resolve().parent == LIGHT_DIR:
        net = path.stem.removeprefix("light_")
        return (
            f"{net} from the ONNX Model Zoo (github.com/onnx/models, converted by "
            f"{model.producer_name or 'an unknown producer'}), in the light form shipped with the "
            "onnx package (onnx/backend/test/data/light: float initializers replaced by "
            "ConstantOfShape nodes); see the model zoo for the original authors and licence"
        )
    parts = []
    if model.producer_name:
        parts.append(f"produced by {model.producer_name} {model.producer_version}".strip())
    props = {p.key: p.value for p in model.metadata_props}
    for key in ("author", "license", "source", "url"):
        if key in props:
            parts.append(f"{key}: {props[key]}")
    if model.doc_string:
        parts.append(model.doc_string.strip().splitlines()[0][:200])
    return "; ".join(parts) or "not recorded in the model file"


# -- measured CPU times --------------------------------------------------------------------


def onnxruntime_available() -> bool:
    try:
        import onnxruntime  # noqa: F401
    except ImportError:
        return False
    return True


def measure_cpu_ms(
    model: str | os.PathLike | onnx.ModelProto, *, runs: int = 10, threads: int = 1
) -> dict[str, float]:
    """Median CPU time (ms, >= 1 µs) of every node, keyed by its operator id (``node_ids``).

    Runs the model ``runs`` times (after one warm-up run) with onnxruntime's profiler
    (``SessionOptions.enable_profiling``) on random inputs, symbolic dimensions as 1, graph
    optimisations off so that nodes keep their identity. Nodes are renamed to their operator
    ids first, so the profiler's ``<name>_kernel_time`` events map back unambiguously. Needs the
    optional ``onnxruntime`` (``pip install 'optgap[profile]'``); ``InputError`` without it.
    """
    try:
        import numpy as np
        import onnxruntime as ort
    except ImportError:
        raise InputError(
            "measuring CPU times needs onnxruntime: pip install 'optgap[profile]'"
        ) from None
    import json
    import tempfile

    proto, source, _ = _read_model(model)
    copy = onnx.ModelProto()
    copy.CopyFrom(proto)
    ids = node_ids(proto.graph)
    for node, op_id in zip(copy.graph.node, ids, strict=True):
        node.name = op_id
    so = ort.SessionOptions()
    so.enable_profiling = True
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    with tempfile.TemporaryDirectory() as tmp:
        so.profile_file_prefix = os.path.join(tmp, "optgap")
        try:
            session = ort.InferenceSession(
                copy.SerializeToString(), so, providers=["CPUExecutionProvider"]
            )
        except Exception as e:
            msg = " ".join(str(e).split())[:300]
            raise InputError(f"{source}: onnxruntime cannot run this model: {msg}") from None
        rng = np.random.default_rng(0)
        dtypes = {
            "tensor(float)": np.float32,
            "tensor(double)": np.float64,
            "tensor(float16)": np.float16,
            "tensor(int64)": np.int64,
            "tensor(int32)": np.int32,
            "tensor(bool)": np.bool_,
        }
        feeds = {}
        for i in session.get_inputs():
            shape = [d if isinstance(d, int) else 1 for d in i.shape]
            feeds[i.name] = rng.random(shape).astype(dtypes.get(i.type, np.float32))
        for _ in range(runs + 1):
            session.run(None, feeds)
        with open(session.end_profiling(), encoding="utf-8") as f:
            events = json.load(f)
    samples: dict[str, list[int]] = {}
    wanted = set(ids)
    for ev in events:
        if ev.get("cat") == "Node" and ev.get("name", "").endswith("_kernel_time"):
            node = ev["name"].removesuffix("_kernel_time")
            if node in wanted:
                samples.setdefault(node, []).append(int(ev["dur"]))  # µs
    out = {}
    for node, durations in samples.items():
        steady = durations[1:] if len(durations) > 1 else durations  # drop the warm-up run
        out[node] = max(1, sorted(steady)[len(steady) // 2]) / 1000
    return out


__all__ = [
    "COSTED",
    "Cost",
    "ImportReport",
    "NoFormula",
    "Tensor",
    "import_onnx",
    "import_onnx_with_report",
    "measure_cpu_ms",
    "node_ids",
    "onnxruntime_available",
    "operator_cost",
    "roofline_ms",
]
