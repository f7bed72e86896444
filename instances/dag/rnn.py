"""Stacked LSTM and GRU networks unrolled over time, written as real ONNX graphs.

This is the workload Chrion targets: cell (l, t) needs cell (l-1, t) (its input) and cell
(l, t-1) (its state), so L layers x T timesteps form a wavefront with up to min(L, T) cells
ready at once. Each cell is built from elementary operators (ONNX opset 17):

LSTM (14 operators; Hochreiter & Schmidhuber 1997, ONNX gate order i, o, f, c):
    MatMul(x, W), MatMul(h, R), Add, Add(bias), Split into 4 gates, Sigmoid x3, Tanh,
    c = f*c_prev + i*g  (Mul, Mul, Add), h = o*tanh(c)  (Tanh, Mul)
GRU (17 operators; Cho et al. 2014, linear_before_reset = 1 as in cuDNN):
    MatMul(x, W), Add(Wb), MatMul(h, R), Add(Rb), Split x2, r = σ(xr + hr), z = σ(xz + hz)
    (Add, Sigmoid, Add, Sigmoid), n = tanh(xn + r*hn) (Mul, Add, Tanh),
    h = (1 - z)*n + z*h_prev  (Sub, Mul, Mul, Add)
At t = 0 the state is a zero initializer, so R's product with it is constant and folds away:
an LSTM has 14·L·T − L operators after import; in a GRU the Add of the bias and the Split
of that product fold as well: 17·L·T − 3·L.
Inputs are one tensor x_t [batch, input] per timestep; the output is the last layer's h.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from instances.dag.onnx_graph import ImportReport, import_onnx

OPSET = 17


def rnn_model(
    cell: str = "lstm",
    layers: int = 2,
    timesteps: int = 8,
    hidden: int = 256,
    input_size: int = 256,
    batch: int = 1,
    seed: int = 0,
) -> onnx.ModelProto:
    if cell not in ("lstm", "gru"):
        raise ValueError("cell is 'lstm' or 'gru'")
    rng = np.random.default_rng(seed)
    gates = 4 if cell == "lstm" else 3
    nodes: list[onnx.NodeProto] = []
    inits: list[TensorProto] = []

    def init(name: str, array: np.ndarray) -> str:
        inits.append(numpy_helper.from_array(array.astype(np.float32), name))
        return name

    def op(kind: str, inputs: list[str], name: str, outputs: int = 1, **attrs) -> list[str]:
        outs = [name] if outputs == 1 else [f"{name}_{k}" for k in range(outputs)]
        nodes.append(helper.make_node(kind, inputs, outs, name=name, **attrs))
        return outs

    scale = 1.0 / np.sqrt(hidden)
    init("one", np.ones((1,), np.float32))
    init("zeros_h", np.zeros((batch, hidden), np.float32))
    split = init_split = f"split_{gates}"
    inits.append(numpy_helper.from_array(np.full(gates, hidden, np.int64), init_split))
    inputs = [
        helper.make_tensor_value_info(f"x_{t}", TensorProto.FLOAT, [batch, input_size])
        for t in range(timesteps)
    ]
    below = [f"x_{t}" for t in range(timesteps)]
    for layer in range(layers):
        n_in = input_size if layer == 0 else hidden
        W = init(f"W{layer}", rng.uniform(-scale, scale, (n_in, gates * hidden)))
        R = init(f"R{layer}", rng.uniform(-scale, scale, (hidden, gates * hidden)))
        h, c = "zeros_h", "zeros_h"
        out = []
        for t in range(timesteps):
            p = f"l{layer}t{t}_"
            if cell == "lstm":
                b = init(f"{p}b", np.zeros(gates * hidden)) if t == 0 else f"l{layer}t0_b"
                xw = op("MatMul", [below[t], W], p + "xW")[0]
                hr = op("MatMul", [h, R], p + "hR")[0]
                pre = op("Add", [op("Add", [xw, hr], p + "sum")[0], b], p + "bias")[0]
                i, o, f, g = op("Split", [pre, split], p + "gates", outputs=4, axis=1)
                i = op("Sigmoid", [i], p + "i")[0]
                o = op("Sigmoid", [o], p + "o")[0]
                f = op("Sigmoid", [f], p + "f")[0]
                g = op("Tanh", [g], p + "g")[0]
                c = op(
                    "Add", [op("Mul", [f, c], p + "fc")[0], op("Mul", [i, g], p + "ig")[0]], p + "c"
                )[0]
                h = op("Mul", [o, op("Tanh", [c], p + "tc")[0]], p + "h")[0]
            else:
                if t == 0:
                    init(f"l{layer}_bw", np.zeros(gates * hidden))
                    init(f"l{layer}_br", np.zeros(gates * hidden))
                x3 = op(
                    "Add", [op("MatMul", [below[t], W], p + "xW")[0], f"l{layer}_bw"], p + "xb"
                )[0]
                h3 = op("Add", [op("MatMul", [h, R], p + "hR")[0], f"l{layer}_br"], p + "hb")[0]
                xr, xz, xn = op("Split", [x3, split], p + "xs", outputs=3, axis=1)
                hr, hz, hn = op("Split", [h3, split], p + "hs", outputs=3, axis=1)
                r = op("Sigmoid", [op("Add", [xr, hr], p + "ar")[0]], p + "r")[0]
                z = op("Sigmoid", [op("Add", [xz, hz], p + "az")[0]], p + "z")[0]
                n = op(
                    "Tanh", [op("Add", [xn, op("Mul", [r, hn], p + "rh")[0]], p + "an")[0]], p + "n"
                )[0]
                keep = op("Mul", [op("Sub", ["one", z], p + "1z")[0], n], p + "zn")[0]
                h = op("Add", [keep, op("Mul", [z, h], p + "zh")[0]], p + "h")[0]
            out.append(h)
        below = out
    output = helper.make_tensor_value_info(below[-1], TensorProto.FLOAT, [batch, hidden])
    graph = helper.make_graph(nodes, f"{cell}_L{layers}_T{timesteps}", inputs, [output], inits)
    model = helper.make_model(
        graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="optgap"
    )
    model.ir_version = 8
    del split
    return model


def rnn_instance(
    cell: str = "lstm",
    layers: int = 2,
    timesteps: int = 8,
    hidden: int = 256,
    input_size: int = 256,
    batch: int = 1,
    seed: int = 0,
    devices: Any = None,
) -> tuple[dict[str, Any], ImportReport]:
    """The unrolled network imported through ``import_onnx`` like any other model."""
    model = rnn_model(cell, layers, timesteps, hidden, input_size, batch, seed)
    name = f"{cell}-L{layers}-T{timesteps}-H{hidden}-B{batch}"
    data, report = import_onnx(model, devices, name=name)
    data["meta"]["source"] = (
        f"optgap rnn {cell} --layers {layers} --timesteps {timesteps} --hidden {hidden} --batch {batch} --seed {seed}"
    )
    return data, report
