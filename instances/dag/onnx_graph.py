"""Import an ONNX model graph as an F1 instance: operators, tensor edges, roofline times.

1. Shape inference (``onnx.shape_inference``); symbolic dimensions are taken as 1 (batch 1).
2. Weights are not operators: initializers, ``Constant`` nodes and every node whose inputs are
   all constant (``ConstantOfShape`` of a constant shape, ``Unsqueeze`` of a weight, ...) are
   folded away; their bytes count as weights of the operators that consume them.
3. FLOPs and bytes moved per operator (``operator_cost``); an operator type without a formula
   gets an explicit default (no FLOPs, memory-bound on its inputs and outputs) and is listed in
   the report and in the instance's ``meta.defaults``.
4. Time per device kind by the roofline of the device profile (see ``profiles.py``); memory of
   an operator = its output tensors + its weights, a weight read by k operators adding 1/k of
   its bytes to each (the model is additive; exact when all readers share a device); an edge carries the bytes of the tensors the
   consumer reads from the producer, over the profile's PCIe link when devices differ.
Graph inputs and outputs are not operators; copying them to and from the host is not modelled.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import onnx
from onnx import helper, shape_inference

from instances.dag.profiles import load_profile
from solvers.errors import InputError

ELEMENTWISE_1 = {
    "Add",
    "Sub",
    "Mul",
    "Div",
    "Relu",
    "LeakyRelu",
    "PRelu",
    "Clip",
    "Max",
    "Min",
    "Sum",
    "Neg",
    "Abs",
    "Sqrt",
    "Pow",
    "Where",
    "Mean",
    "Less",
    "Greater",
    "Equal",
    "And",
    "Or",
    "Not",
    "Cast",
}
ELEMENTWISE_4 = {
    "Sigmoid",
    "Tanh",
    "Exp",
    "Log",
    "Erf",
    "Elu",
    "Selu",
    "HardSigmoid",
    "Softplus",
    "Gelu",
    "Reciprocal",
}
VIEWS = {"Reshape", "Flatten", "Squeeze", "Unsqueeze", "Identity", "Dropout"}  # no data movement
COPIES = {"Concat", "Split", "Slice", "Gather", "Transpose", "Pad", "Expand", "Tile"}
REDUCES = {"ReduceMean", "ReduceSum", "ReduceMax", "ReduceMin", "ReduceProd", "ReduceL2"}


@dataclass
class ImportReport:
    source: str
    operators: int = 0
    folded: int = 0
    op_types: Counter = field(default_factory=Counter)
    defaults: Counter = field(default_factory=Counter)  # op types costed by the default
    unknown_shapes: list[str] = field(default_factory=list)
    symbolic_dims: list[str] = field(default_factory=list)
    total_gflops: float = 0.0
    measured: int = 0  # operators whose CPU time onnxruntime measured

    def lines(self) -> list[str]:
        out = [
            f"{self.source}: {self.operators} operators ({self.folded} constant nodes folded), "
            f"{self.total_gflops:.3g} GFLOP",
            "  op types: " + ", ".join(f"{k} {v}" for k, v in self.op_types.most_common()),
        ]
        if self.defaults:
            out.append(
                "  costed by the default (memory-bound, no FLOPs): "
                + ", ".join(f"{k} {v}" for k, v in self.defaults.most_common())
            )
        if self.symbolic_dims:
            out.append(
                "  symbolic dimensions taken as 1: " + ", ".join(sorted(set(self.symbolic_dims)))
            )
        if self.measured:
            out.append(
                f"  CPU times measured with onnxruntime for {self.measured} of {self.operators} operators"
            )
        if self.unknown_shapes:
            out.append(
                f"  tensors of unknown shape (counted as 0 bytes): {len(self.unknown_shapes)}"
            )
        return out


@dataclass
class Tensor:
    shape: tuple[int, ...] | None
    itemsize: int

    @property
    def numel(self) -> int:
        return math.prod(self.shape) if self.shape is not None else 0

    @property
    def nbytes(self) -> int:
        return self.numel * self.itemsize


def import_onnx(
    model: str | Path | onnx.ModelProto,
    devices: str | Path | dict | None = None,
    *,
    name: str | None = None,
    measure_cpu: bool = False,
) -> tuple[dict[str, Any], ImportReport]:
    """The instance JSON object of a model, and what the import did.

    ``measure_cpu``: replace the roofline CPU times by times measured with onnxruntime on this
    machine (one thread per slot, graph optimisations off so that nodes keep their identity).
    """
    source = "model" if isinstance(model, onnx.ModelProto) else Path(model).name
    if not isinstance(model, onnx.ModelProto):
        try:
            model = onnx.load(str(model))
        except FileNotFoundError:
            raise InputError(f"{model}: no such file") from None
        except Exception as e:  # protobuf decode errors have no common type
            raise InputError(f"{model}: not an ONNX model ({type(e).__name__})") from None
    profile = load_profile(devices)
    try:
        model = shape_inference.infer_shapes(model)
    except Exception as e:
        raise InputError(
            f"{source}: ONNX shape inference failed: {str(e).splitlines()[0]}"
        ) from None
    report = ImportReport(source)
    graph = model.graph
    tensors = _tensors(graph, report)
    constant = {t.name for t in graph.initializer}
    ops = []
    for node in graph.node:
        if node.op_type == "Constant" or (
            node.input and all(i in constant or not i for i in node.input)
        ):
            constant.update(node.output)
            report.folded += 1
        else:
            ops.append(node)
    if not ops:
        raise InputError(f"{source}: the graph has no operators left after folding constants")

    # A weight read by k operators (an RNN's matrices, by every timestep) adds 1/k of its bytes
    # to each: the total is right when all readers share a device; in between it is prorated.
    readers = Counter(i for node in ops for i in set(node.input) if i in constant)
    ids = _unique_ids(ops)
    producer = {out: ids[k] for k, node in enumerate(ops) for out in node.output if out}
    operators, edge_bytes = [], Counter()
    for k, node in enumerate(ops):
        ins = [tensors.get(i) for i in node.input if i]
        outs = [tensors.get(o) for o in node.output if o]
        for t, nm in zip(
            [*ins, *outs],
            [*[i for i in node.input if i], *[o for o in node.output if o]],
            strict=True,
        ):
            if t is None or t.shape is None:
                report.unknown_shapes.append(nm)
        ins = [t or Tensor(None, 4) for t in ins]
        outs = [t or Tensor(None, 4) for t in outs]
        flops, known = operator_cost(node, ins, outs)
        if not known:
            report.defaults[node.op_type] += 1
        moved = (
            0 if node.op_type in VIEWS else sum(t.nbytes for t in ins) + sum(t.nbytes for t in outs)
        )
        weights = sum(
            tensors[i].nbytes / readers[i] for i in node.input if i in constant and i in tensors
        )
        report.op_types[node.op_type] += 1
        report.total_gflops += flops / 1e9
        operators.append(
            {
                "id": ids[k],
                "op_type": node.op_type,
                "time_ms": {kd.kind: kd.time_ms(flops, moved) for kd in profile.kinds},
                "mem_mb": round((weights + sum(t.nbytes for t in outs)) / 1e6, 3),
            }
        )
        for i in node.input:
            if i in producer and producer[i] != ids[k]:
                edge_bytes[producer[i], ids[k]] += tensors[i].nbytes if i in tensors else 0
    if measure_cpu:
        measured = measure_cpu_ms(model, dict(zip((id(n) for n in ops), ids, strict=True)))
        for o in operators:
            if o["id"] in measured and "cpu" in o["time_ms"]:
                o["time_ms"]["cpu"] = measured[o["id"]]
        report.measured = len(measured)
    report.operators = len(operators)
    data = {
        "family": "dag",
        "version": 1,
        "name": name or Path(source).stem,
        "devices": profile.devices_json(),
        "operators": operators,
        "edges": [{"src": s, "dst": d, "bytes": b} for (s, d), b in edge_bytes.items()],
        "links": profile.links_json(),
        "meta": {
            "source": source,
            "importer": "optgap import onnx (roofline cost model)",
            "device_profile": profile.name,
            "folded_constant_nodes": report.folded,
            "op_types": dict(report.op_types),
            "defaults": dict(report.defaults),
            "gflops": round(report.total_gflops, 6),
            **(
                {"cpu_times": f"measured with onnxruntime ({report.measured} operators)"}
                if measure_cpu
                else {}
            ),
        },
    }
    return data, report


def measure_cpu_ms(model: onnx.ModelProto, ids: dict[int, str], runs: int = 10) -> dict[str, float]:
    """Median CPU time per operator (ms, on the 1 µs grid) from onnxruntime's profiler.

    Nodes are renamed to their operator ids first, so profile events map back unambiguously.
    """
    try:
        import numpy as np
        import onnxruntime as ort
    except ImportError:
        raise InputError(
            "measuring CPU times needs onnxruntime: pip install 'optgap[profile]'"
        ) from None
    import json
    import os
    import tempfile

    copy = onnx.ModelProto()
    copy.CopyFrom(model)
    originals = list(model.graph.node)
    for node, original in zip(copy.graph.node, originals, strict=True):
        node.name = ids.get(id(original), node.name or f"folded_{id(original)}")
    so = ort.SessionOptions()
    so.enable_profiling = True
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    so.intra_op_num_threads = 1
    so.profile_file_prefix = os.path.join(tempfile.mkdtemp(), "optgap")
    try:
        session = ort.InferenceSession(
            copy.SerializeToString(), so, providers=["CPUExecutionProvider"]
        )
    except Exception as e:
        raise InputError(f"onnxruntime cannot run this model: {str(e).splitlines()[0]}") from None
    rng = np.random.default_rng(0)
    feeds = {}
    for i in session.get_inputs():
        shape = [d if isinstance(d, int) else 1 for d in i.shape]
        dtype = {
            "tensor(float)": np.float32,
            "tensor(double)": np.float64,
            "tensor(int64)": np.int64,
        }.get(i.type, np.float32)
        feeds[i.name] = rng.random(shape).astype(dtype)
    for _ in range(runs + 1):  # the first run warms up allocations
        session.run(None, feeds)
    path = session.end_profiling()
    with open(path, encoding="utf-8") as f:
        events = json.load(f)
    os.remove(path)
    samples: dict[str, list[int]] = {}
    wanted = set(ids.values())
    for ev in events:
        if ev.get("cat") == "Node" and ev.get("name", "").endswith("_kernel_time"):
            node = ev["name"].removesuffix("_kernel_time")
            if node in wanted:
                samples.setdefault(node, []).append(int(ev["dur"]))
    return {
        node: max(1, sorted(d[1:])[len(d[1:]) // 2] if len(d) > 1 else d[0]) / 1000
        for node, d in samples.items()
    }


def _tensors(graph: onnx.GraphProto, report: ImportReport) -> dict[str, Tensor]:
    out: dict[str, Tensor] = {}
    for t in graph.initializer:
        out[t.name] = Tensor(tuple(t.dims), _itemsize(t.data_type))
    for vi in [*graph.input, *graph.value_info, *graph.output]:
        tt = vi.type.tensor_type
        if not vi.type.HasField("tensor_type") or vi.name in out:
            continue
        if not tt.HasField("shape"):
            out[vi.name] = Tensor(None, _itemsize(tt.elem_type))
            continue
        dims = []
        for d in tt.shape.dim:
            if d.HasField("dim_value"):
                dims.append(d.dim_value)
            else:
                report.symbolic_dims.append(d.dim_param or "?")
                dims.append(1)
        out[vi.name] = Tensor(tuple(dims), _itemsize(tt.elem_type))
    return out


def _itemsize(elem_type: int) -> int:
    try:
        return helper.tensor_dtype_to_np_dtype(elem_type).itemsize
    except Exception:
        return 4


def _unique_ids(nodes: list[onnx.NodeProto]) -> list[str]:
    seen: Counter = Counter()
    ids = []
    for k, node in enumerate(nodes):
        base = node.name or f"{node.op_type}_{k}"
        seen[base] += 1
        ids.append(base if seen[base] == 1 else f"{base}#{seen[base]}")
    return ids


def _attr(node: onnx.NodeProto, name: str, default: Any) -> Any:
    for a in node.attribute:
        if a.name == name:
            return helper.get_attribute_value(a)
    return default


def operator_cost(
    node: onnx.NodeProto, ins: list[Tensor], outs: list[Tensor]
) -> tuple[float, bool]:
    """(FLOPs, known) for one operator; a multiply-add counts 2 FLOPs."""
    op = node.op_type
    out = outs[0] if outs else Tensor(None, 4)
    if op in ("Conv", "ConvTranspose"):
        w = ins[1].shape
        if w is None or out.shape is None or ins[0].shape is None:
            return 0.0, True
        # groups are already in W's second dimension. Conv: W [Cout, Cin/g, k...], every output
        # is a dot of length Cin/g * k; ConvTranspose: W [Cin, Cout/g, k...], every input
        # element scatters to Cout/g * k outputs.
        kernel = math.prod(w[2:])
        flops = 2 * (out.numel if op == "Conv" else ins[0].numel) * w[1] * kernel
        if len(ins) > 2:
            flops += out.numel  # bias
        return float(flops), True
    if op == "Gemm":
        a = ins[0].shape
        if a is None or out.shape is None:
            return 0.0, True
        k = a[0] if _attr(node, "transA", 0) else a[1]
        return float(2 * out.numel * k + (out.numel if len(ins) > 2 else 0)), True
    if op == "MatMul":
        a = ins[0].shape
        if a is None or out.shape is None:
            return 0.0, True
        return float(2 * out.numel * a[-1]), True
    if op in ("LSTM", "GRU", "RNN"):
        x, w = ins[0].shape, ins[1].shape
        if x is None or w is None:
            return 0.0, True
        seq, batch, inp = x
        directions, gates_h, _ = w
        hidden = _attr(node, "hidden_size", gates_h // {"LSTM": 4, "GRU": 3, "RNN": 1}[op])
        gates = {"LSTM": 4, "GRU": 3, "RNN": 1}[op]
        pointwise = {"LSTM": 12, "GRU": 10, "RNN": 2}[op]  # activations and gate products per unit
        per_step = 2 * batch * (inp + hidden) * gates * hidden + pointwise * batch * hidden
        return float(seq * directions * per_step), True
    if op == "BatchNormalization":
        return float(4 * out.numel), True
    if op in ("MaxPool", "AveragePool", "LpPool"):
        return float(out.numel * math.prod(_attr(node, "kernel_shape", [1]))), True
    if op in ("GlobalAveragePool", "GlobalMaxPool"):
        return float(ins[0].numel), True
    if op == "LRN":
        return float(ins[0].numel * (2 * _attr(node, "size", 1) + 3)), True
    if op in ("Softmax", "LogSoftmax"):
        return float(5 * out.numel), True
    if op in ELEMENTWISE_1:
        return float(out.numel), True
    if op in ELEMENTWISE_4:
        return float(4 * out.numel), True
    if op in REDUCES:
        return float(ins[0].numel), True
    if op in VIEWS or op in COPIES or op == "Shape":
        return 0.0, True
    return 0.0, False
