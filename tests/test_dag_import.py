"""F1 importers: ONNX graphs (FLOPs checked by hand), unrolled RNNs, STG files, device profiles."""

from __future__ import annotations

import json

import networkx as nx
import numpy as np
import onnx
import pytest
from hypothesis import given
from hypothesis import strategies as st
from onnx import TensorProto, helper, numpy_helper
from optgap.formulations.dag.instance import load
from optgap.instances import HERE
from optgap.instances.dag.onnx_import import (
    LIGHT_DIR,
    import_onnx,
    import_onnx_with_report,
    measure_cpu_ms,
    node_ids,
)
from optgap.instances.dag.profiles import load_profile, parse_profile
from optgap.instances.dag.rnn import expected_operators, rnn_instance, rnn_model, write_rnn_onnx
from optgap.instances.dag.stg import import_stg, parse_stg
from optgap.solvers import registry
from optgap.solvers.cli import main
from optgap.solvers.errors import InputError
from optgap.solvers.result import SolveOptions, Status

LIGHT_MODELS = sorted(LIGHT_DIR.glob("light_*.onnx"))
STG_SAMPLE = HERE / "dag" / "stg" / "sample10.stg"

# CPU: compute-bound at 1 GFLOP/s (1 FLOP = 1 ns); GPU: memory-bound at 1 MB/s (1 byte = 1 µs).
# No overheads, so a time is exactly the formula's, rounded up to the µs.
BY_HAND = {
    "name": "by-hand",
    "devices": [
        {"kind": "cpu", "peak_gflops": 1.0, "mem_bandwidth_gb_s": 1e6, "launch_overhead_ms": 0},
        {"kind": "gpu", "peak_gflops": 1e6, "mem_bandwidth_gb_s": 0.001, "launch_overhead_ms": 0},
    ],
    "link": {"latency_ms": 0.01, "bandwidth_gb_s": 1.0},
}


def _model(nodes, inputs, outputs, inits=(), opset=17):
    graph = helper.make_graph(nodes, "t", inputs, outputs, list(inits))
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])


def _vi(name, shape, elem=TensorProto.FLOAT):
    return helper.make_tensor_value_info(name, elem, shape)


def _w(name, *shape, dtype=np.float32):
    return numpy_helper.from_array(np.zeros(shape, dtype), name)


def _op(data, op_id):
    return next(o for o in data["operators"] if o["id"] == op_id)


def _import(model, profile=BY_HAND):
    data, report = import_onnx_with_report(model, profile)
    load(data)  # every import is a valid instance
    return data, report


# ------------------------------------------------------------------ the nine light graphs

# operators and edges after folding (a regression pin; all nine have a formula for every op)
LIGHT_EXPECTED = {
    "bvlc_alexnet": (24, 23),
    "densenet121": (668, 725),
    "inception_v1": (143, 169),
    "inception_v2": (371, 398),
    "resnet50": (176, 191),
    "shufflenet": (203, 218),
    "squeezenet": (66, 73),
    "vgg19": (46, 45),
    "zfnet512": (22, 21),
}


def test_the_onnx_wheel_ships_nine_light_graphs():
    assert [p.stem.removeprefix("light_") for p in LIGHT_MODELS] == sorted(LIGHT_EXPECTED)


@pytest.mark.parametrize("path", LIGHT_MODELS, ids=lambda p: p.stem)
def test_light_graph_imports_and_loads(path):
    data, report = import_onnx_with_report(path)
    inst = load(data)
    ops, edges = LIGHT_EXPECTED[path.stem.removeprefix("light_")]
    assert (len(inst.operators), len(inst.edges)) == (ops, edges)
    assert report.operators == sum(report.op_types.values()) == ops
    assert not report.defaults and data["meta"]["defaults"] == {}
    assert not report.unknown_shapes and "unknown_shapes" not in data["meta"]
    assert report.folded > 0  # the light graphs' weights are ConstantOfShape nodes
    assert "ConstantOfShape" not in report.op_types
    assert [d.id for d in inst.devices] == ["cpu0", "gpu0"]
    server_gpu_overhead_us = 10
    assert all(o.time_us["gpu"] >= server_gpu_overhead_us for o in inst.operators)
    # 0.1 GFLOP: 250 µs on a CPU slot, 16 µs on the V100 (small ops can be faster on the CPU)
    heavy = [o for o in inst.operators if report.flops[o.id] > 1e8]
    assert all(o.time_us["cpu"] > 10 * o.time_us["gpu"] for o in heavy)
    assert all(e.bytes > 0 for e in inst.edges)
    assert data["meta"]["device_profile"] == "server"
    assert data["meta"]["source"] == path.name
    assert "ONNX Model Zoo" in data["meta"]["attribution"]
    assert nx.is_weakly_connected(inst.graph())


def test_published_flop_counts():
    # 2 FLOPs per multiply-add. VGG-19 at 224x224: 19.6 G multiply-adds (Simonyan & Zisserman
    # 2015, as commonly tabulated); ResNet-50: 4.09 G (torchvision's model table). ReLU, BN,
    # pooling and softmax add well under 1 %.
    gflops = {
        p.stem: import_onnx_with_report(p)[1].total_gflops
        for p in LIGHT_MODELS
        if p.stem in ("light_vgg19", "light_resnet50")
    }
    assert gflops["light_vgg19"] == pytest.approx(2 * 19.6, rel=0.01)
    assert gflops["light_resnet50"] == pytest.approx(2 * 4.09, rel=0.01)


def test_edge_profile_and_import_onnx_returns_the_json_object():
    data = import_onnx(LIGHT_DIR / "light_squeezenet.onnx", "edge", name="sq")
    inst = load(data)
    assert data["name"] == "sq" and data["meta"]["device_profile"] == "edge"
    assert inst.device("gpu0").mem_capacity_kb == 8192 * 1000
    assert inst.link.latency_us == 20 and inst.link.bandwidth_gb_s == 20.0
    assert all(o.time_us["gpu"] >= 20 for o in inst.operators)  # the edge GPU's overhead


# ------------------------------------------------------------------ FLOPs by hand


@given(
    n=st.integers(1, 2),
    groups=st.sampled_from([1, 2]),
    cin_per_group=st.integers(1, 3),
    cout_per_group=st.integers(1, 3),
    k=st.integers(1, 3),
    stride=st.integers(1, 2),
    pad=st.integers(0, 1),
    size=st.integers(3, 7),
    bias=st.booleans(),
)
def test_conv_flops_match_the_formula(
    n, groups, cin_per_group, cout_per_group, k, stride, pad, size, bias
):
    cin, cout = groups * cin_per_group, groups * cout_per_group
    inits = [_w("w", cout, cin // groups, k, k)] + ([_w("b", cout)] if bias else [])
    conv = helper.make_node(
        "Conv",
        ["x", "w"] + (["b"] if bias else []),
        ["y"],
        name="conv",
        group=groups,
        kernel_shape=[k, k],
        strides=[stride, stride],
        pads=[pad] * 4,
    )
    out = (size + 2 * pad - k) // stride + 1
    model = _model([conv], [_vi("x", [n, cin, size, size])], [_vi("y", None)], inits)
    data, report = _import(model)
    by_hand = 2 * cout * out * out * (cin // groups) * k * k * n + (
        n * cout * out * out if bias else 0
    )
    assert report.flops["conv"] == by_hand
    assert _op(data, "conv")["time_ms"]["cpu"] == pytest.approx(-(-by_hand // 1000) / 1000)


def test_conv_by_hand_times_memory_and_edges():
    # x [2,4,8,8], W [6,2,3,3] (groups 2), stride 2, pad 1: y [2,6,4,4]
    conv = helper.make_node(
        "Conv", ["x", "w"], ["y"], name="conv", group=2, strides=[2, 2], pads=[1, 1, 1, 1]
    )
    relu = helper.make_node("Relu", ["y"], ["z"], name="relu")
    model = _model([conv, relu], [_vi("x", [2, 4, 8, 8])], [_vi("z", None)], [_w("w", 6, 2, 3, 3)])
    data, report = _import(model)
    flops = 2 * 6 * 4 * 4 * (4 // 2) * 3 * 3 * 2  # 2·Cout·Hout·Wout·(Cin/g)·kh·kw·N = 6912
    assert report.flops["conv"] == flops == 6912
    assert _op(data, "conv")["time_ms"]["cpu"] == 0.007  # 6.912 µs, rounded up
    x_bytes, w_bytes, y_bytes = 2 * 4 * 8 * 8 * 4, 6 * 2 * 3 * 3 * 4, 2 * 6 * 4 * 4 * 4
    assert report.bytes_moved["conv"] == x_bytes + w_bytes + y_bytes == 3248
    assert _op(data, "conv")["time_ms"]["gpu"] == 3.248  # 1 byte = 1 µs
    assert _op(data, "conv")["mem_mb"] == round((w_bytes + y_bytes) / 1e6, 3)
    assert data["edges"] == [{"src": "conv", "dst": "relu", "bytes": y_bytes}]
    assert report.flops["relu"] == 2 * 6 * 4 * 4


def test_matmul_gemm_and_conv_transpose_by_hand():
    nodes = [
        helper.make_node("MatMul", ["a", "b"], ["ab"], name="batched"),  # [2,3,4,5] x [3,5,7]
        helper.make_node("Gemm", ["g", "h", "c"], ["gh"], name="gemm", transA=1),  # [5,3]' x [5,7]
        helper.make_node("ConvTranspose", ["x", "wt"], ["xt"], name="deconv", strides=[2, 2]),
    ]
    model = _model(
        nodes,
        [_vi("a", [2, 3, 4, 5]), _vi("g", [5, 3]), _vi("x", [1, 4, 5, 5])],
        [_vi("ab", None), _vi("gh", None), _vi("xt", None)],
        [_w("b", 3, 5, 7), _w("h", 5, 7), _w("c", 7), _w("wt", 4, 3, 3, 3)],
    )
    _, report = _import(model)
    assert report.flops["batched"] == 2 * (2 * 3 * 4 * 7) * 5  # 2·numel(Y)·K = 1680
    assert report.flops["gemm"] == 2 * 3 * 7 * 5 + 3 * 7  # 2·M·N·K + M·N (bias C) = 231
    # ConvTranspose: each of the 4·5·5 input elements scatters to Cout·3·3 = 27 outputs
    assert report.flops["deconv"] == 2 * (4 * 5 * 5) * 3 * 3 * 3


@pytest.mark.parametrize(
    "op,gates,pointwise", [("LSTM", 4, 28 + 8), ("GRU", 3, 20 + 6), ("RNN", 1, 5 + 2)]
)
def test_recurrent_operator_flops_by_hand(op, gates, pointwise):
    seq, batch, inp, hidden, dirs = 3, 2, 4, 5, 2
    node = helper.make_node(
        op, ["x", "w", "r", "b"], ["y"], name="cell", hidden_size=hidden, direction="bidirectional"
    )
    model = _model(
        [node],
        [_vi("x", [seq, batch, inp])],
        [_vi("y", None)],
        [
            _w("w", dirs, gates * hidden, inp),
            _w("r", dirs, gates * hidden, hidden),
            _w("b", dirs, 2 * gates * hidden),
        ],
    )
    _, report = _import(model)
    matmuls = 2 * batch * (inp + hidden) * gates * hidden  # x·W and h·R, per step
    assert report.flops["cell"] == dirs * seq * (matmuls + pointwise * batch * hidden)
    assert report.flops["cell"] == {"LSTM": 6480, "GRU": 4800, "RNN": 1500}[op]


def test_pointwise_pooling_and_normalisation_flops():
    nodes = [
        helper.make_node("BatchNormalization", ["x", "s", "b", "m", "v"], ["bn"], name="bn"),
        helper.make_node("MaxPool", ["bn"], ["mp"], name="mp", kernel_shape=[2, 2], strides=[2, 2]),
        helper.make_node("Sigmoid", ["mp"], ["sg"], name="sg"),
        helper.make_node("Sum", ["mp", "sg", "mp"], ["sm"], name="sum"),
        helper.make_node("GlobalAveragePool", ["sm"], ["gap"], name="gap"),
        helper.make_node("LRN", ["sm"], ["lrn"], name="lrn", size=3),
        helper.make_node("Softmax", ["sm"], ["soft"], name="soft"),
        helper.make_node("ReduceMean", ["soft"], ["mean"], name="mean", keepdims=0),
    ]
    model = _model(
        nodes,
        [_vi("x", [1, 3, 4, 4])],
        [_vi(n, None) for n in ("gap", "lrn", "mean")],
        [_w(n, 3) for n in "sbmv"],
    )
    _, report = _import(model)
    assert report.flops == {
        "bn": 2 * 48,  # y = a·x + b
        "mp": 12 * 4,  # numel(Y)·∏kernel
        "sg": 4 * 12,  # a transcendental counts 4
        "sum": 2 * 12,  # 3 inputs: 2 additions per element
        "gap": 12,
        "lrn": 12 * (2 * 3 + 7),
        "soft": 8 * 12,
        "mean": 12,
    }


# ------------------------------------------------------------------ folding and defaults


def test_constants_fold_into_consumers_and_shape_chains_fold_away():
    big = numpy_helper.from_array(np.ones((250, 1000), np.float32))  # exactly 1 MB
    nodes = [
        helper.make_node("Constant", [], ["c"], value=big, name="k"),
        helper.make_node("Add", ["x", "c"], ["y"], name="add"),
        helper.make_node("Mul", ["y", "c"], ["y2"], name="mul"),  # c has two readers
        # Shape -> Gather -> Unsqueeze -> Concat on a static shape: all constant
        helper.make_node("Shape", ["y2"], ["shape"], name="shape"),
        helper.make_node("Gather", ["shape", "zero"], ["rows"], name="rows", axis=0),
        helper.make_node("Unsqueeze", ["rows", "axes"], ["rows1"], name="rows1"),
        helper.make_node("Concat", ["rows1", "minus1"], ["target"], name="target", axis=0),
        helper.make_node("Reshape", ["y2", "target"], ["z"], name="reshape"),
    ]
    inits = [
        numpy_helper.from_array(np.array(0, np.int64), "zero"),
        numpy_helper.from_array(np.array([0], np.int64), "axes"),
        numpy_helper.from_array(np.array([-1], np.int64), "minus1"),
    ]
    model = _model(nodes, [_vi("x", [250, 1000])], [_vi("z", None)], inits)
    data, report = _import(model)
    assert [o["id"] for o in data["operators"]] == ["add", "mul", "reshape"]
    assert report.folded == 5  # Constant, Shape, Gather, Unsqueeze, Concat
    # c (1 MB) is shared by two readers: half each, plus each one's 1 MB output
    assert _op(data, "add")["mem_mb"] == _op(data, "mul")["mem_mb"] == 1.5
    assert _op(data, "reshape")["mem_mb"] == 1.0  # its output (+ 16 bytes of shape)
    assert {(e["src"], e["dst"]): e["bytes"] for e in data["edges"]} == {
        ("add", "mul"): 10**6,
        ("mul", "reshape"): 10**6,
    }
    assert report.flops["reshape"] == report.bytes_moved["reshape"] == 0  # a view
    assert _op(data, "reshape")["time_ms"] == {"cpu": 0.0, "gpu": 0.0}  # truly free here


def test_unknown_operators_and_shapes_are_listed_not_silent():
    nodes = [
        helper.make_node("Hardmax", ["x"], ["h"], name="hm"),
        helper.make_node("Foo", ["h"], ["f"], name="foo", domain="com.example"),
        helper.make_node("Relu", ["f"], ["r"], name="relu"),
    ]
    graph = helper.make_graph(nodes, "t", [_vi("x", [100, 10])], [_vi("r", None)])
    model = helper.make_model(
        graph,
        opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("com.example", 1)],
    )
    data, report = _import(model)
    assert report.defaults == {"Hardmax": ["hm"], "com.example.Foo": ["foo"], "Relu": ["relu"]}
    assert data["meta"]["defaults"] == {"Hardmax": 1, "com.example.Foo": 1, "Relu": 1}
    assert report.unknown_shapes == data["meta"]["unknown_shapes"] == ["foo", "relu"]
    # the default: no FLOPs, memory-bound on the bytes it knows (Hardmax: 4000 in + 4000 out)
    assert report.flops["hm"] == 0 and report.bytes_moved["hm"] == 8000
    assert _op(data, "hm")["time_ms"]["gpu"] == 8.0
    assert _op(data, "foo")["time_ms"]["gpu"] == 4.0  # reads 4000 bytes, output unknown
    text = "\n".join(report.lines())
    assert "costed by the default" in text and "Hardmax 1" in text and "com.example.Foo 1" in text
    assert "output shape unknown" in text and "foo, relu" in text


def test_a_tensor_read_twice_is_one_edge_of_its_bytes():
    nodes = [
        helper.make_node("Relu", ["x"], ["y"], name="relu"),
        helper.make_node("Mul", ["y", "y"], ["z"], name="sq"),
    ]
    data, report = _import(_model(nodes, [_vi("x", [10, 10])], [_vi("z", None)]))
    assert data["edges"] == [{"src": "relu", "dst": "sq", "bytes": 400}]
    assert report.bytes_moved["sq"] == 800  # reads y once, writes z


def test_no_operator_with_work_gets_zero_time():
    nodes = [
        helper.make_node("Relu", ["x"], ["y"], name="tiny"),  # one element: 1 FLOP, 8 bytes
        helper.make_node("Flatten", ["y"], ["z"], name="view"),
    ]
    model = _model(nodes, [_vi("x", [1, 1])], [_vi("z", None)])
    data, _ = _import(model, {**BY_HAND, "devices": [dict(BY_HAND["devices"][0])]})
    assert _op(data, "tiny")["time_ms"] == {"cpu": 0.001}  # 1 ns, rounded up to 1 µs
    assert _op(data, "view")["time_ms"] == {"cpu": 0.0}
    data = import_onnx(model)  # server: every operator pays the launch overhead
    assert _op(data, "view")["time_ms"] == {"cpu": 0.005, "gpu": 0.01}


def test_symbolic_dimensions_are_taken_as_1_and_listed():
    model = _model(
        [helper.make_node("Relu", ["x"], ["y"], name="relu")],
        [_vi("x", ["batch", 8])],
        [_vi("y", None)],
    )
    data, report = _import(model)
    assert set(report.symbolic_dims) == {"batch"} and data["meta"]["symbolic_dims_as_1"] == [
        "batch"
    ]
    assert report.flops["relu"] == 8


def test_devices_expand_by_count():
    profile = {
        "name": "two-gpus",
        "devices": [
            {"kind": "cpu", "count": 1, "slots": 4, "peak_gflops": 100, "mem_bandwidth_gb_s": 20},
            {
                "kind": "gpu",
                "count": 2,
                "peak_gflops": 10000,
                "mem_bandwidth_gb_s": 900,
                "mem_capacity_mb": 16000,
            },
        ],
        "link": {"latency_ms": 0.01, "bandwidth_gb_s": 12},
    }
    model = _model([helper.make_node("Relu", ["x"], ["y"])], [_vi("x", [4])], [_vi("y", None)])
    data = import_onnx(model, profile)
    assert data["devices"] == [
        {"id": "cpu0", "kind": "cpu", "slots": 4},
        {"id": "gpu0", "kind": "gpu", "slots": 1, "mem_capacity_mb": 16000},
        {"id": "gpu1", "kind": "gpu", "slots": 1, "mem_capacity_mb": 16000},
    ]
    assert data["links"] == {"latency_ms": 0.01, "bandwidth_gb_s": 12}
    assert data["operators"][0]["id"] == "Relu_0" == node_ids(model.graph)[0]


def test_bad_onnx_input(tmp_path):
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"not a protobuf at all")
    with pytest.raises(InputError, match="bad.onnx: not an ONNX model"):
        import_onnx(bad)
    with pytest.raises(InputError, match="no such file"):
        import_onnx(tmp_path / "missing.onnx")
    with pytest.raises(InputError, match="is a directory"):
        import_onnx(tmp_path)
    clash = _model(
        [helper.make_node("MatMul", ["a", "b"], ["c"])],
        [_vi("a", [2, 3]), _vi("b", [4, 5])],
        [_vi("c", None)],
    )
    with pytest.raises(InputError, match="shape inference failed: .*Incompatible dimensions") as e:
        import_onnx(clash)
    assert "\n" not in str(e.value)
    only_constants = _model(
        [helper.make_node("Relu", ["w"], ["y"])], [], [_vi("y", None)], [_w("w", 3)]
    )
    with pytest.raises(InputError, match="no operators left"):
        import_onnx(only_constants)


# ------------------------------------------------------------------ unrolled RNNs


@given(cell=st.sampled_from(["lstm", "gru"]), layers=st.integers(1, 3), timesteps=st.integers(1, 4))
def test_unrolled_rnn_is_valid_onnx_with_the_expected_operators(cell, layers, timesteps):
    model = rnn_model(cell, layers, timesteps, hidden=8, input_size=4)
    onnx.checker.check_model(model, full_check=True)
    per_cell = {"lstm": 14, "gru": 17}[cell]
    assert len(model.graph.node) == per_cell * layers * timesteps
    data, report = rnn_instance(cell, layers, timesteps, hidden=8, input_size=4)
    # at t = 0 the state is a zero constant: R's product folds (in a GRU also its bias Add and
    # Split), once per layer
    folded_per_layer = {"lstm": 1, "gru": 3}[cell]
    assert report.operators == per_cell * layers * timesteps - folded_per_layer * layers
    assert report.operators == expected_operators(cell, layers, timesteps)
    assert not report.defaults and not report.unknown_shapes
    g = load(data).graph()
    assert nx.is_directed_acyclic_graph(g)
    # the wavefront: cell (l, t) needs (l-1, t) and (l, t-1), and nothing later
    for layer in range(layers):
        for t in range(timesteps):
            h = f"l{layer}t{t}_h"
            if layer + 1 < layers:
                assert g.has_edge(h, f"l{layer + 1}t{t}_xW")
            if t + 1 < timesteps:
                assert g.has_edge(h, f"l{layer}t{t + 1}_hR")
            if layer > 0 and t + 1 < timesteps:
                assert not nx.has_path(g, h, f"l{layer - 1}t{t + 1}_h")


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_unrolled_cells_compute_what_the_onnx_operator_computes(cell):
    from onnx.reference import ReferenceEvaluator

    timesteps, batch, inp, hidden = 3, 2, 3, 4
    model = rnn_model(cell, 1, timesteps, hidden=hidden, input_size=inp, batch=batch, seed=7)
    weights = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}
    W, R = weights["W0"].T, weights["R0"].T  # ONNX: [gates·H, input]
    if cell == "gru":  # ours split r, z, n; the GRU operator's order is z, r, h
        order = np.r_[hidden : 2 * hidden, 0:hidden, 2 * hidden : 3 * hidden]
        W, R = W[order], R[order]
    rng = np.random.default_rng(1)
    xs = [rng.standard_normal((batch, inp)).astype(np.float32) for _ in range(timesteps)]
    (ours,) = ReferenceEvaluator(model).run(None, {f"x_{t}": x for t, x in enumerate(xs)})
    attrs = {"linear_before_reset": 1} if cell == "gru" else {}
    ref = _model(
        [helper.make_node(cell.upper(), ["X", "W", "R"], ["", "Y_h"], hidden_size=hidden, **attrs)],
        [_vi("X", [timesteps, batch, inp])],
        [_vi("Y_h", None)],
        [numpy_helper.from_array(W[None], "W"), numpy_helper.from_array(R[None], "R")],
    )
    (theirs,) = ReferenceEvaluator(ref).run(None, {"X": np.stack(xs)})
    np.testing.assert_allclose(ours, theirs[0], rtol=1e-5, atol=1e-6)


def test_rnn_parameters_and_writer(tmp_path):
    with pytest.raises(InputError, match="cell: 'transformer' is not one of lstm, gru"):
        rnn_model("transformer")
    with pytest.raises(InputError, match="timesteps: expected an integer >= 1, got 0"):
        rnn_model("lstm", timesteps=0)
    path = tmp_path / "gru.onnx"
    write_rnn_onnx(path, cell="gru", layers=2, timesteps=2, hidden=8, input_size=4)
    onnx.checker.check_model(onnx.load(str(path)))
    with pytest.raises(InputError, match="already exists"):
        write_rnn_onnx(path, cell="gru")
    data, _ = rnn_instance("gru", 2, 2, hidden=8, input_size=4, devices_profile="edge")
    assert data["meta"]["device_profile"] == "edge"
    assert data["meta"]["generator"]["cell"] == "gru" and data["name"] == "gru-L2-T2-H8-B1"
    # the same network from the written file
    assert len(import_onnx(path)["operators"]) == len(data["operators"])


def test_rnn_cpu_gpu_partition_beats_gpu_only():
    inst = load(rnn_instance("lstm", 2, 4, hidden=512)[0])
    opt = registry.solve("dag", "cpsat", inst, SolveOptions(time_limit_s=60, threads=1))
    gpu = registry.solve("dag", "gpu-only", inst, SolveOptions())
    assert opt.status in (Status.OPTIMAL, Status.FEASIBLE)
    assert opt.objective < gpu.objective


# ------------------------------------------------------------------ STG


def test_stg_sample():
    data = import_stg(STG_SAMPLE, processors=1)
    inst = load(data)
    assert len(inst.operators) == 10 and len(inst.devices) == 1
    assert inst.link.latency_us == 0 and inst.link.bandwidth_gb_s is None  # free transfers
    assert {o.id: o.time_us["cpu"] for o in inst.operators}["t5"] == 6000
    # one processor: the optimum is the total work, 4+3+5+2+6+3+4+2+5+1 = 35
    assert registry.solve("dag", "cpsat", inst, SolveOptions()).objective == 35
    two = load(import_stg(STG_SAMPLE, processors=2))
    a = registry.solve("dag", "cpsat", two, SolveOptions())
    b = registry.solve("dag", "milp", two, SolveOptions(backend="highs"))
    assert a.status == b.status == Status.OPTIMAL and a.objective == b.objective == 21
    # one processor with two slots is the same machine as two processors
    slots = load(import_stg(STG_SAMPLE, processors=1, slots=2))
    assert [(d.id, d.slots) for d in slots.devices] == [("cpu0", 2)]
    assert registry.solve("dag", "cpsat", slots, SolveOptions()).objective == 21


@pytest.mark.parametrize(
    "text,message",
    [
        ("", "stg: empty STG file"),
        ("x\n", "stg:1: the task count must be an integer, got 'x'"),
        ("2 3\n", "stg:1: the first line must be the number of tasks"),
        ("2\n0 0 0\n1 4 1 0\n", "stg:3: file ends after 2 task lines, expected n \\+ 2 = 4"),
        (
            "2\n0 0 0\n1 4 2 0\n2 1 1 1\n3 0 1 2\n",
            "stg:3: task 1 announces 2 predecessors, lists 1",
        ),
        ("2\n0 0 0\n1 x 1 0\n2 1 1 1\n3 0 1 2\n", "stg:3: time must be an integer, got 'x'"),
        ("2\n0 0 0\n1 4 1 2\n2 1 1 1\n3 0 1 2\n", "stg:3: predecessor 2 of task 1 must be a lower"),
        ("2\n0 0 0\n2 4 1 0\n1 1 1 1\n3 0 1 2\n", "stg:3: expected task 1, got 2"),
        ("2\n0 0 0\n1 4 1 0\n2 1 2 1 1\n3 0 1 2\n", "stg:4: predecessor 1 of task 2 listed twice"),
        ("2\n0 0 0\n1 -4 1 0\n2 1 1 1\n3 0 1 2\n", "stg:3: negative processing time -4"),
        ("2\n0 5 0\n1 4 1 0\n2 1 1 1\n3 0 1 2\n", "stg:2: dummy entry task 0 must have time 0"),
        ("2\n0 0 0\n1 4\n2 1 1 1\n3 0 1 2\n", "stg:3: expected 'task time npred pred...'"),
    ],
)
def test_malformed_stg_is_a_one_line_error_naming_the_line(text, message):
    with pytest.raises(InputError, match=message) as e:
        parse_stg(text)
    assert "\n" not in str(e.value)


def test_stg_arguments_and_files(tmp_path):
    with pytest.raises(InputError, match="processors: expected an integer >= 1, got 0"):
        import_stg(STG_SAMPLE, processors=0)
    with pytest.raises(InputError, match="slots: expected an integer >= 1"):
        import_stg(STG_SAMPLE, slots=0)
    with pytest.raises(InputError, match="no such file"):
        import_stg(tmp_path / "none.stg")


@given(st.data())
def test_stg_text_round_trips_through_the_parser(data):
    n = data.draw(st.integers(1, 12))
    times = data.draw(st.lists(st.integers(0, 99), min_size=n, max_size=n))
    preds = {
        t: sorted(data.draw(st.sets(st.integers(0, t - 1), max_size=3)) if t > 1 else {0})
        for t in range(1, n + 1)
    }
    sinks = [t for t in range(1, n + 1) if not any(t in p for p in preds.values())]
    lines = [str(n), "0 0 0"]
    lines += [f"{t} {times[t - 1]} {len(preds[t])} {' '.join(map(str, preds[t]))}" for t in preds]
    lines += [f"{n + 1} 0 {len(sinks)} {' '.join(map(str, sinks))}", "# trailer", "anything"]
    inst = load(parse_stg("\n".join(lines), "g.stg", processors=3))
    assert [o.time_us["cpu"] for o in inst.operators] == [1000 * x for x in times]
    assert {(e.src, e.dst) for e in inst.edges} == {
        (f"t{q}", f"t{t}") for t, ps in preds.items() for q in ps if q >= 1
    }
    assert len(inst.devices) == 3


# ------------------------------------------------------------------ device profiles


def test_shipped_profiles_cite_their_figures():
    for name in ("server", "edge"):
        profile = load_profile(name)
        assert {k.kind for k in profile.kinds} == {"cpu", "gpu"}
        raw = json.loads((HERE / "dag" / "devices" / f"{name}.json").read_text())
        assert raw["source"] and all(isinstance(s, str) for s in raw["source"])
    cpu = next(k for k in load_profile("server").kinds if k.kind == "cpu")
    assert (cpu.peak_gflops, cpu.slots, cpu.launch_overhead_ms) == (400.0, 4, 0.005)


def _profile(**device):
    return {
        "devices": [{"kind": "cpu", "peak_gflops": 1, "mem_bandwidth_gb_s": 1, **device}],
        "link": {"bandwidth_gb_s": 1},
    }


@pytest.mark.parametrize(
    "profile,message",
    [
        (_profile(peak_gflop=1), r"p.devices\[0\].peak_gflop: unknown field"),
        (_profile(kind="tpu"), r"p.devices\[0\].kind: 'tpu' is not one of cpu, gpu"),
        (_profile(count=0), r"p.devices\[0\].count: must not be below 1"),
        (_profile(peak_gflops=0), r"p.devices\[0\].peak_gflops: must be > 0"),
        (_profile(slots=1.5), r"p.devices\[0\].slots: expected an integer"),
        ({**_profile(), "gpus": 2}, r"p.gpus: unknown field"),
        ({"devices": []}, r"p.link: missing required field"),
        ({**_profile(), "link": {"bandwidth_gb_s": 1, "lat": 1}}, r"p.link.lat: unknown field"),
        ({"devices": [], "link": {"bandwidth_gb_s": 1}}, r"p.devices: expected at least 1"),
        (
            {**_profile(), "devices": _profile()["devices"] * 2},
            r"p.devices: one entry per kind",
        ),
    ],
)
def test_device_profile_validation(profile, message):
    with pytest.raises(InputError, match=message):
        parse_profile(profile, "p")


def test_device_profile_by_name_or_file(tmp_path):
    with pytest.raises(InputError, match="no such device profile"):
        load_profile("mainframe")
    path = tmp_path / "mine.json"
    path.write_text(json.dumps({**_profile(), "name": "mine"}))
    assert load_profile(path).name == "mine"
    path.write_text(json.dumps(_profile(peak_gflop=1)))
    with pytest.raises(InputError, match=r"mine.json.devices\[0\].peak_gflop: unknown field"):
        import_onnx(LIGHT_DIR / "light_squeezenet.onnx", path)


# ------------------------------------------------------------------ CLI and onnxruntime


def test_cli_import_and_rnn(tmp_path, capsys):
    out = tmp_path / "sq.json"
    squeezenet = str(LIGHT_DIR / "light_squeezenet.onnx")
    assert main(["import", "onnx", squeezenet, "--devices", "edge", "-o", str(out)]) == 0
    data = json.loads(out.read_text())
    assert data["meta"]["device_profile"] == "edge" and len(data["operators"]) == 66
    rnn, model = tmp_path / "lstm.json", tmp_path / "lstm.onnx"
    argv = ["rnn", "lstm", "--layers", "2", "--timesteps", "3", "--hidden", "32"]
    assert main([*argv, "--onnx", str(model), "-o", str(rnn)]) == 0
    onnx.checker.check_model(onnx.load(str(model)))
    assert len(json.loads(rnn.read_text())["operators"]) == 14 * 2 * 3 - 2
    stg = tmp_path / "stg.json"
    assert main(["import", "stg", str(STG_SAMPLE), "--processors", "3", "-o", str(stg)]) == 0
    capsys.readouterr()
    nope = str(tmp_path / "nope.onnx")
    assert main(["import", "onnx", nope, "-o", str(tmp_path / "x.json")]) == 2
    assert "no such file" in capsys.readouterr().err


def test_measured_cpu_times_replace_the_roofline():
    pytest.importorskip("onnxruntime")
    path = LIGHT_DIR / "light_squeezenet.onnx"
    roofline = import_onnx(path)
    measured, report = import_onnx_with_report(path, measure_cpu=True)
    assert report.measured == report.operators == 66
    assert measured["meta"]["cpu_times"].startswith("measured with onnxruntime")
    assert [o["id"] for o in measured["operators"]] == [o["id"] for o in roofline["operators"]]
    # GPU times stay the roofline's; CPU times are this machine's measurements (>= 1 µs)
    for a, b in zip(measured["operators"], roofline["operators"], strict=True):
        assert a["time_ms"]["gpu"] == b["time_ms"]["gpu"] and a["time_ms"]["cpu"] >= 0.001
    load(measured)
    times = measure_cpu_ms(rnn_model("lstm", 1, 2, hidden=8, input_size=4), runs=2)
    assert set(times) == {n.name for n in rnn_model("lstm", 1, 2, 8, 4).graph.node}


def test_measuring_without_onnxruntime_is_a_clear_error(monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # import fails as if not installed
    from optgap.instances.dag.onnx_import import onnxruntime_available

    assert not onnxruntime_available()
    with pytest.raises(InputError, match="needs onnxruntime"):
        measure_cpu_ms(rnn_model("lstm", 1, 1, hidden=4, input_size=4))


def test_lenient_shape_inference_reports_what_it_could_not_infer():
    clash = _model(
        [
            helper.make_node("MatMul", ["a", "b"], ["c"], name="mm"),
            helper.make_node("Relu", ["c"], ["d"], name="relu"),
        ],
        [_vi("a", [2, 3]), _vi("b", [4, 5])],
        [_vi("d", None)],
    )
    data, report = import_onnx_with_report(clash, strict_shapes=False)
    assert report.unknown_shapes == ["mm", "relu"]
    assert data["meta"]["defaults"] == {"MatMul": 1, "Relu": 1}
