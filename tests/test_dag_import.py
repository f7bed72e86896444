"""Importers: ONNX graphs (roofline costs checked by hand), unrolled RNNs, STG files, profiles."""

from __future__ import annotations

import json
import os

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from formulations.dag.instance import load
from instances import HERE
from instances.dag.onnx_graph import import_onnx
from instances.dag.profiles import load_profile, parse_profile
from instances.dag.rnn import rnn_instance, rnn_model
from instances.dag.stg import import_stg, parse_stg
from solvers import registry
from solvers.cli import main
from solvers.errors import InputError
from solvers.result import SolveOptions, Status

LIGHT = os.path.join(os.path.dirname(onnx.__file__), "backend", "test", "data", "light")
LIGHT_MODELS = sorted(f for f in os.listdir(LIGHT) if f.endswith(".onnx"))


def _model(nodes, inputs, outputs, inits=()):
    graph = helper.make_graph(nodes, "t", inputs, outputs, list(inits))
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def _vi(name, shape):
    return helper.make_tensor_value_info(name, TensorProto.FLOAT, shape)


def _op(data, op_id):
    return next(o for o in data["operators"] if o["id"] == op_id)


def test_all_nine_light_graphs_import():
    assert len(LIGHT_MODELS) == 9
    for f in LIGHT_MODELS:
        data, report = import_onnx(os.path.join(LIGHT, f))
        inst = load(data)
        assert len(inst.operators) == report.operators > 10
        assert not report.defaults, (
            f,
            report.defaults,
        )  # every op type of these graphs has a formula
        assert (
            data["meta"]["folded_constant_nodes"] > 0
        )  # "light" weights are ConstantOfShape nodes


def test_vgg19_flops_match_the_published_count():
    # VGG-19 at 224x224: 19.6 G multiply-adds (Simonyan & Zisserman 2015, as commonly tabulated),
    # i.e. 39.3 GFLOP with 2 FLOPs per multiply-add; ReLU/pool/softmax add < 0.1 %.
    _, report = import_onnx(os.path.join(LIGHT, "light_vgg19.onnx"))
    assert report.total_gflops == pytest.approx(2 * 19.6, rel=0.01)


def test_conv_matmul_gemm_costs_by_hand():
    w = numpy_helper.from_array(np.zeros((4, 3, 3, 3), np.float32), "w")
    b = numpy_helper.from_array(np.zeros((4,), np.float32), "b")
    m = numpy_helper.from_array(np.zeros((144, 5), np.float32), "m")
    g = numpy_helper.from_array(np.zeros((7, 5), np.float32), "g")  # used transposed
    model = _model(
        [
            helper.make_node("Conv", ["x", "w", "b"], ["y"], name="conv"),
            helper.make_node("Reshape", ["y", "shape"], ["y2"], name="flat"),
            helper.make_node("MatMul", ["y2", "m"], ["z"], name="mm"),
            helper.make_node("Gemm", ["z", "g"], ["out"], name="gemm", transB=1),
        ],
        [_vi("x", [1, 3, 8, 8])],
        [_vi("out", [1, 7])],
        [w, b, m, g, numpy_helper.from_array(np.array([1, 144], np.int64), "shape")],
    )
    profile = {
        "devices": [
            {"kind": "cpu", "peak_gflops": 1.0, "mem_bandwidth_gb_s": 1000.0},
            {"kind": "gpu", "peak_gflops": 1000.0, "mem_bandwidth_gb_s": 0.001},
        ],
        "link": {"bandwidth_gb_s": 1.0},
    }
    data, report = import_onnx(model, profile)
    # Conv: out [1,4,6,6]; 2 * 144 outputs * (3*3*3) + 144 bias = 7920 FLOP -> 7.92 µs at 1 GFLOP/s
    assert _op(data, "conv")["time_ms"]["cpu"] == 0.008  # rounded up to the µs grid
    # MatMul [1,144]x[144,5]: 2*5*144 = 1440 FLOP -> 1.44 µs -> 0.002 ms
    assert _op(data, "mm")["time_ms"]["cpu"] == 0.002
    # Gemm [1,5]x[5,7]^T: 2*7*5 = 70 FLOP -> 0.07 µs -> the 1 µs floor
    assert _op(data, "gemm")["time_ms"]["cpu"] == 0.001
    # GPU side is memory-bound at 1 MB/s: conv reads x (768 B) + w (432 B) + b (16 B), writes 576 B
    assert _op(data, "conv")["time_ms"]["gpu"] == pytest.approx(
        (768 + 432 + 16 + 576) / 1e6 * 1e3, abs=0.001
    )
    assert report.total_gflops * 1e9 == pytest.approx(7920 + 1440 + 70)
    # memory: weights + output; edges carry the tensor between producer and consumer
    assert _op(data, "conv")["mem_mb"] == round((432 + 16 + 576) / 1e6, 3)
    edge = {(e["src"], e["dst"]): e["bytes"] for e in data["edges"]}
    assert edge["conv", "flat"] == 576 and edge["flat", "mm"] == 576 and edge["mm", "gemm"] == 20


def test_constants_fold_into_consumers_and_unknown_ops_are_listed():
    const = helper.make_node(
        "Constant",
        [],
        ["c"],
        value=numpy_helper.from_array(np.ones((250, 1000), np.float32)),
        name="k",
    )
    model = _model(
        [
            const,
            helper.make_node("Add", ["x", "c"], ["y"], name="add"),
            helper.make_node("Hardmax", ["y"], ["z"], name="hm"),
        ],
        [_vi("x", [250, 1000])],
        [_vi("z", [250, 1000])],
    )
    data, report = import_onnx(model)
    assert [o["id"] for o in data["operators"]] == ["add", "hm"]
    assert report.folded == 1
    assert _op(data, "add")["mem_mb"] == 2.0  # 1 MB constant + 1 MB output
    assert report.defaults == {"Hardmax": 1} and data["meta"]["defaults"] == {"Hardmax": 1}
    assert any("Hardmax 1" in line for line in report.lines())


def test_bad_onnx_input(tmp_path):
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"not a protobuf at all")
    with pytest.raises(InputError, match="not an ONNX model"):
        import_onnx(bad)
    with pytest.raises(InputError, match="no such file"):
        import_onnx(tmp_path / "missing.onnx")


@pytest.mark.parametrize("cell,per_cell,folded", [("lstm", 14, 1), ("gru", 17, 3)])
@pytest.mark.parametrize("layers,timesteps", [(1, 1), (2, 3), (3, 5)])
def test_unrolled_rnn_is_valid_onnx_with_the_expected_operators(
    cell, per_cell, folded, layers, timesteps
):
    model = rnn_model(cell, layers, timesteps, hidden=16, input_size=8)
    onnx.checker.check_model(model, full_check=True)
    assert len(model.graph.node) == per_cell * layers * timesteps
    data, report = rnn_instance(cell, layers, timesteps, hidden=16, input_size=8)
    # at t = 0 the state is a zero constant: R's product (and for a GRU its bias Add and Split) fold
    assert report.operators == per_cell * layers * timesteps - folded * layers
    inst = load(data)
    g = inst.graph()
    # cell (l, t) depends on (l-1, t) and (l, t-1): the wavefront
    if layers > 1 and timesteps > 1:
        import networkx as nx

        assert nx.has_path(g, "l0t0_h", "l1t1_xW") and nx.has_path(g, "l1t0_h", "l1t1_hR")
        assert not nx.has_path(g, "l1t0_h", "l0t1_h")


def test_rnn_cpu_gpu_partition_beats_gpu_only():
    inst = load(rnn_instance("lstm", 2, 4, hidden=512)[0])
    opt = registry.solve("dag", "cpsat", inst, SolveOptions(time_limit_s=60, threads=1))
    gpu = registry.solve("dag", "gpu-only", inst, SolveOptions())
    assert opt.status in (Status.OPTIMAL, Status.FEASIBLE)
    assert opt.objective < gpu.objective


def test_stg_sample_and_errors():
    path = HERE / "dag" / "stg" / "sample10.stg"
    data = import_stg(path, processors=1)
    inst = load(data)
    assert len(inst.operators) == 10 and len(inst.devices) == 1
    # one processor: the optimum is the total work, 4+3+5+2+6+3+4+2+5+1 = 35
    assert registry.solve("dag", "cpsat", inst, SolveOptions()).objective == 35
    two = load(import_stg(path, processors=2))
    a = registry.solve("dag", "cpsat", two, SolveOptions())
    b = registry.solve("dag", "milp", two, SolveOptions(backend="highs"))
    assert a.status == b.status == Status.OPTIMAL and a.objective == b.objective == 21
    with pytest.raises(InputError, match="stg:3: task 1 announces 2 predecessors, lists 1"):
        parse_stg("2\n0 0 0\n1 4 2 0\n2 1 1 1\n3 0 1 2\n")
    with pytest.raises(InputError, match="stg:3: time must be an integer, got 'x'"):
        parse_stg("2\n0 0 0\n1 x 1 0\n2 1 1 1\n3 0 1 2\n")
    with pytest.raises(InputError, match="expected 4 task lines"):
        parse_stg("2\n0 0 0\n1 4 1 0\n")
    with pytest.raises(InputError, match="predecessor 2 of task 1 must be a lower task number"):
        parse_stg("2\n0 0 0\n1 4 1 2\n2 1 1 1\n3 0 1 2\n")


def test_profiles():
    server = load_profile("server")
    cpu = next(k for k in server.kinds if k.kind == "cpu")
    # 1 GFLOP on a 400 GFLOP/s slot: 2.5 ms + 5 µs overhead
    assert cpu.time_ms(1e9, 0) == 2.505
    assert {k.kind for k in load_profile("edge").kinds} == {"cpu", "gpu"}
    with pytest.raises(InputError, match=r"devices\[0\].peak_gflop: unknown field"):
        parse_profile(
            {
                "devices": [
                    {"kind": "cpu", "peak_gflop": 1, "peak_gflops": 1, "mem_bandwidth_gb_s": 1}
                ],
                "link": {"bandwidth_gb_s": 1},
            },
            "p",
        )
    with pytest.raises(InputError, match="no such device profile"):
        load_profile("mainframe")


def test_cli_import_and_rnn(tmp_path, capsys):
    out = tmp_path / "sq.json"
    assert (
        main(
            [
                "import",
                "onnx",
                os.path.join(LIGHT, "light_squeezenet.onnx"),
                "--devices",
                "edge",
                "-o",
                str(out),
            ]
        )
        == 0
    )
    data = json.loads(out.read_text())
    assert data["meta"]["device_profile"] == "edge" and len(data["operators"]) == 66
    rnn = tmp_path / "lstm.json"
    model = tmp_path / "lstm.onnx"
    assert (
        main(
            [
                "rnn",
                "lstm",
                "--layers",
                "2",
                "--timesteps",
                "3",
                "--hidden",
                "32",
                "--onnx",
                str(model),
                "-o",
                str(rnn),
            ]
        )
        == 0
    )
    onnx.checker.check_model(onnx.load(str(model)))
    assert len(json.loads(rnn.read_text())["operators"]) == 14 * 6 - 2
    stg = tmp_path / "stg.json"
    assert (
        main(
            [
                "import",
                "stg",
                str(HERE / "dag" / "stg" / "sample10.stg"),
                "--processors",
                "3",
                "-o",
                str(stg),
            ]
        )
        == 0
    )
    capsys.readouterr()
    assert (
        main(["import", "onnx", str(tmp_path / "nope.onnx"), "-o", str(tmp_path / "x.json")]) == 2
    )
    assert "no such file" in capsys.readouterr().err


def test_measured_cpu_times_replace_the_roofline():
    pytest.importorskip("onnxruntime")
    path = os.path.join(LIGHT, "light_squeezenet.onnx")
    roofline, _ = import_onnx(path)
    measured, report = import_onnx(path, measure_cpu=True)
    assert report.measured == report.operators == 66
    assert measured["meta"]["cpu_times"].startswith("measured with onnxruntime")
    assert [o["id"] for o in measured["operators"]] == [o["id"] for o in roofline["operators"]]
    # GPU times stay the roofline's; CPU times are measurements (>= 1 µs) of this machine
    assert all(
        a["time_ms"]["gpu"] == b["time_ms"]["gpu"]
        for a, b in zip(measured["operators"], roofline["operators"], strict=True)
    )
    assert all(o["time_ms"]["cpu"] >= 0.001 for o in measured["operators"])
    load(measured)
