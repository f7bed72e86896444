"""Stacked LSTM and GRU networks unrolled over time, written as real ONNX graphs.

This is the workload Chrion (arXiv 2307.11339) targets: cell (l, t) needs cell (l-1, t) (its
input) and cell (l, t-1) (its state), so L layers x T timesteps form a wavefront with up to
min(L, T) cells ready at once. Each cell is built from elementary ONNX operators (opset 17):

LSTM, 14 operators per cell (Hochreiter & Schmidhuber 1997; ONNX gate order i, o, f, c)::

    MatMul(x, W), MatMul(h, R), Add, Add(bias), Split into 4 gates, Sigmoid x3, Tanh,
    c = f*c_prev + i*g  (Mul, Mul, Add),  h = o*tanh(c)  (Tanh, Mul)

GRU, 17 operators per cell (Cho et al. 2014; ``linear_before_reset = 1`` as in cuDNN)::

    MatMul(x, W), Add(Wb), MatMul(h, R), Add(Rb), Split x2,
    r = σ(xr + hr), z = σ(xz + hz)  (Add, Sigmoid, Add, Sigmoid),
    n = tanh(xn + r*hn)  (Mul, Add, Tanh),  h = (1 - z)*n + z*h_prev  (Sub, Mul, Mul, Add)

At t = 0 the state is a zero initializer, so R's product with it is constant and the importer
folds it away: an imported LSTM has ``14·L·T − L`` operators; in a GRU the bias Add and the
Split of that product fold as well: ``17·L·T − 3·L``. (The ONNX graph itself has ``14·L·T`` /
``17·L·T`` nodes.) Inputs are one tensor ``x_t`` [batch, input] per timestep; the output is the
last layer's h at the last timestep. Weights are uniform in ±1/sqrt(hidden) (PyTorch's
initialisation), drawn from ``numpy.random.default_rng(seed)``; biases are zero.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper
from optgap.instances.dag.onnx_import import ImportReport, import_onnx_with_report
from optgap.solvers.errors import InputError

OPSET = 17
IR_VERSION = 8  # the oldest IR that carries opset 17; onnxruntime >= 1.14 reads it
CELLS = ("lstm", "gru")
OPS_PER_CELL = {"lstm": 14, "gru": 17}
FOLDED_PER_LAYER = {"lstm": 1, "gru": 3}


def expected_operators(cell: str, layers: int, timesteps: int) -> int:
    """Operators of the imported instance: ``14·L·T − L`` (LSTM), ``17·L·T − 3·L`` (GRU)."""
    return OPS_PER_CELL[cell] * layers * timesteps - FOLDED_PER_LAYER[cell] * layers


def rnn_model(
    cell: str = "lstm",
    layers: int = 2,
    timesteps: int = 8,
    hidden: int = 256,
    input_size: int = 256,
    batch: int = 1,
    seed: int = 0,
) -> onnx.ModelProto:
    """The unrolled network as an ONNX model (passes ``onnx.checker.check_model``)."""
    _check(
        cell, layers=layers, timesteps=timesteps, hidden=hidden, input_size=input_size, batch=batch
    )
    rng = np.random.default_rng(seed)
    gates = 4 if cell == "lstm" else 3
    nodes: list[onnx.NodeProto] = []
    inits: list[TensorProto] = []

    def init(name: str, array: np.ndarray) -> str:
        inits.append(numpy_helper.from_array(array, name))
        return name

    def op(kind: str, inputs: list[str], name: str, outputs: int = 1, **attrs: Any) -> list[str]:
        outs = [name] if outputs == 1 else [f"{name}_{k}" for k in range(outputs)]
        nodes.append(helper.make_node(kind, inputs, outs, name=name, **attrs))
        return outs

    def uniform(rows: int, cols: int) -> np.ndarray:
        bound = 1.0 / np.sqrt(hidden)
        return rng.uniform(-bound, bound, (rows, cols)).astype(np.float32)

    zeros_h = init("zeros_h", np.zeros((batch, hidden), np.float32))
    one = init("one", np.ones((1,), np.float32))
    split = init(f"split_{gates}", np.full(gates, hidden, np.int64))
    inputs = [
        helper.make_tensor_value_info(f"x_{t}", TensorProto.FLOAT, [batch, input_size])
        for t in range(timesteps)
    ]
    below = [f"x_{t}" for t in range(timesteps)]
    for layer in range(layers):
        W = init(f"W{layer}", uniform(input_size if layer == 0 else hidden, gates * hidden))
        R = init(f"R{layer}", uniform(hidden, gates * hidden))
        zeros_b = np.zeros(gates * hidden, np.float32)
        if cell == "lstm":
            b = init(f"b{layer}", zeros_b)
        else:
            bw = init(f"bw{layer}", zeros_b)
            br = init(f"br{layer}", zeros_b)
        h = c = zeros_h
        out = []
        for t in range(timesteps):
            p = f"l{layer}t{t}_"
            if cell == "lstm":
                xw = op("MatMul", [below[t], W], p + "xW")[0]
                hr = op("MatMul", [h, R], p + "hR")[0]
                pre = op("Add", [op("Add", [xw, hr], p + "sum")[0], b], p + "bias")[0]
                i, o, f, g = op("Split", [pre, split], p + "gates", outputs=4, axis=1)
                i = op("Sigmoid", [i], p + "i")[0]
                o = op("Sigmoid", [o], p + "o")[0]
                f = op("Sigmoid", [f], p + "f")[0]
                g = op("Tanh", [g], p + "g")[0]
                fc = op("Mul", [f, c], p + "fc")[0]
                ig = op("Mul", [i, g], p + "ig")[0]
                c = op("Add", [fc, ig], p + "c")[0]
                h = op("Mul", [o, op("Tanh", [c], p + "tc")[0]], p + "h")[0]
            else:
                x3 = op("Add", [op("MatMul", [below[t], W], p + "xW")[0], bw], p + "xb")[0]
                h3 = op("Add", [op("MatMul", [h, R], p + "hR")[0], br], p + "hb")[0]
                xr, xz, xn = op("Split", [x3, split], p + "xs", outputs=3, axis=1)
                hr, hz, hn = op("Split", [h3, split], p + "hs", outputs=3, axis=1)
                r = op("Sigmoid", [op("Add", [xr, hr], p + "ar")[0]], p + "r")[0]
                z = op("Sigmoid", [op("Add", [xz, hz], p + "az")[0]], p + "z")[0]
                rh = op("Mul", [r, hn], p + "rh")[0]
                n = op("Tanh", [op("Add", [xn, rh], p + "an")[0]], p + "n")[0]
                keep = op("Mul", [op("Sub", [one, z], p + "1z")[0], n], p + "zn")[0]
                h = op("Add", [keep, op("Mul", [z, h], p + "zh")[0]], p + "h")[0]
            out.append(h)
        below = out
    output = helper.make_tensor_value_info(below[-1], TensorProto.FLOAT, [batch, hidden])
    graph = helper.make_graph(nodes, f"{cell}_L{layers}_T{timesteps}", inputs, [output], inits)
    model = helper.make_model(
        graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="optgap"
    )
    model.ir_version = IR_VERSION
    return model


def rnn_instance(
    cell: str = "lstm",
    layers: int = 2,
    timesteps: int = 8,
    hidden: int = 256,
    input_size: int = 256,
    batch: int = 1,
    seed: int = 0,
    devices_profile: str | os.PathLike | dict | None = None,
    *,
    devices: str | os.PathLike | dict | None = None,
) -> tuple[dict[str, Any], ImportReport]:
    """The unrolled network imported through ``import_onnx`` like any other model.

    Returns ``(instance JSON object, ImportReport)``; ``devices`` is an alias of
    ``devices_profile`` (the CLI's spelling).
    """
    if devices is not None and devices_profile is not None:
        raise InputError("give devices_profile or devices, not both")
    model = rnn_model(cell, layers, timesteps, hidden, input_size, batch, seed)
    name = f"{cell}-L{layers}-T{timesteps}-H{hidden}-B{batch}"
    command = (
        f"optgap rnn {cell} --layers {layers} --timesteps {timesteps} --hidden {hidden} "
        f"--input-size {input_size} --batch {batch} --seed {seed}"
    )
    data, report = import_onnx_with_report(
        model,
        devices_profile if devices is None else devices,
        name=name,
        attribution=f"synthetic unrolled {cell.upper()} written by optgap ({command})",
    )
    data["meta"]["source"] = command
    data["meta"]["generator"] = {
        "cell": cell,
        "layers": layers,
        "timesteps": timesteps,
        "hidden": hidden,
        "input_size": input_size,
        "batch": batch,
        "seed": seed,
    }
    return data, report


def write_rnn_onnx(path: str | os.PathLike, *, force: bool = False, **spec: Any) -> onnx.ModelProto:
    """Write ``rnn_model(**spec)`` to an ``.onnx`` file (refusing to overwrite unless force)."""
    model = rnn_model(**spec)
    save_onnx(model, path, force=force)
    return model


def save_onnx(model: onnx.ModelProto, path: str | os.PathLike, *, force: bool = False) -> None:
    """Check a model and save it, refusing to overwrite an existing file unless ``force``."""
    p = Path(path)
    if p.exists() and not force:
        raise InputError(f"{p}: already exists; choose another name or pass --force")
    onnx.checker.check_model(model)
    p.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(model, str(p))


def _check(cell: str, **sizes: int) -> None:
    if cell not in CELLS:
        raise InputError(f"cell: {cell!r} is not one of {', '.join(CELLS)}")
    for key, value in sizes.items():
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise InputError(f"{key}: expected an integer >= 1, got {value!r}")
