"""F4 inputs: presets against published parameter counts, the profile importer, the CLI."""

from __future__ import annotations

import json

import pytest
from optgap.formulations.pipeload.instance import load
from optgap.instances.pipeload.generate import PRESETS, Device, preset, transformer
from optgap.instances.pipeload.profile import import_profile
from optgap.solvers.errors import InputError

# Published parameter counts (Hugging Face / timm model cards): BertModel bert-base-uncased
# 109,482,240 (with pooler); GPT2Model gpt2 124,439,808 and gpt2-medium 354,823,168 (the LM
# head is tied to the embedding there); timm vit_base_patch16_224 86,567,656 (with its
# 1000-way head). Our presets add what they load on top: BERT's 2-way classifier (2H + 2) and
# GPT's untied LM head (V x H).
PUBLISHED = {
    "bert-base": 109_482_240 + 2 * 768 + 2,
    "gpt2": 124_439_808 + 50257 * 768,
    "gpt2-medium": 354_823_168 + 50257 * 1024,
    "vit-b16": 86_567_656,
}


@pytest.mark.parametrize("name", sorted(PUBLISHED))
def test_preset_parameters_match_published_counts(name):
    data = transformer(PRESETS[name])
    assert data["meta"]["parameters"] == PUBLISHED[name]
    # memory is parameters x 4 bytes (fp32), to the kB grid
    total_mb = sum(x["mem_mb"] for x in data["layers"])
    assert total_mb == pytest.approx(PUBLISHED[name] * 4 / 1e6, abs=0.001 * len(data["layers"]))


def test_preset_times_follow_the_device():
    """BERT-base block on the default device: 7,087,872 parameters x 4 B = 28.351 MB, read at
    250 MB/s = 113.406 ms; FLOPs 8sH^2 + 4s^2H + 4sHF with s = 128, H = 768, F = 3072 =
    603,979,776 + 50,331,648 + 1,207,959,552 = 1,862,270,976 at 100 GFLOP/s = 18.623 ms."""
    inst = preset("bert-base")
    block = inst.layers[1]
    assert (block.mem_kb, block.load_us, block.compute_us) == (28351, 113406, 18623)
    fast = load(transformer(PRESETS["bert-base"], Device(flops=200e9, agent_mb_s=500)))
    assert fast.layers[1].load_us == 56703 and fast.layers[1].compute_us == 9311
    split = preset("gpt2-medium", granularity="sublayer")
    assert split.n == 50 and split.model_kb == preset("gpt2-medium").model_kb


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_every_preset_loads_and_is_schedulable(name):
    from optgap.solvers import registry
    from optgap.solvers.result import SolveOptions

    inst = preset(name)
    r = registry.solve("pipeload", "planner", inst, SolveOptions())
    assert r.has_solution


def test_profile_import(tmp_path):
    data = import_profile("instances/pipeload/profiles/toy-profile.csv")
    inst = load(data)
    assert inst.n == 4 and inst.budget_kb == 25000 and (inst.k_min, inst.k_max) == (1, 2)
    assert inst.resident_kb == 5000 and inst.layers[2].load_us == 4000


@pytest.mark.parametrize(
    "text, message",
    [
        ("name,load_ms,compute_ms\na,1,1\n", "header must name exactly"),
        ("name,load_ms,compute_ms,mem_mb\na,1,x,1\n", ":2: compute_ms 'x' is not a number"),
        ("name,load_ms,compute_ms,mem_mb\na,1,1\n", ":2: expected 4 fields"),
        ("# agents: many\nname,load_ms,compute_ms,mem_mb\na,1,1,1\n", ":1: agents 'many'"),
        ("name,load_ms,compute_ms,mem_mb\na,-1,1,1\n", "load_ms: must not be negative"),
        ("# just a comment\n", "no header row"),
    ],
)
def test_profile_errors(tmp_path, text, message):
    p = tmp_path / "p.csv"
    p.write_text(text)
    with pytest.raises(InputError) as e:
        import_profile(str(p))
    assert message in str(e.value)


def _cli(capsys, *args):
    from optgap.solvers.cli import main

    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_solve_generate_plot(tmp_path, capsys):
    toy = "instances/pipeload/toy-4.json"
    code, out, err = _cli(capsys, "solve", toy, "--time-limit", "10")
    assert code == 0, err
    assert "cpsat" in out and "(agrees)" in out
    gen = tmp_path / "gen.json"
    code, _, err = _cli(
        capsys, "generate", "pipeload", "--size", "5", "--seed", "2", "-o", str(gen)
    )
    assert code == 0, err
    assert json.loads(gen.read_text())["family"] == "pipeload"
    front = str(tmp_path / "front.json")
    code, _, err = _cli(
        capsys, "solve", toy, "--method", "cpsat", "--objective", "pareto", "--out", front
    )
    assert code == 0, err
    code, out, _ = _cli(capsys, "evaluate", toy, front)
    assert code == 0 and "feasible" in out
    code, _, err = _cli(capsys, "plot", front, "--instance", toy, "-o", str(tmp_path / "f.png"))
    assert code == 0, err
    code, out, _ = _cli(capsys, "solve", toy, "--method", "cpsat", "--param", "budget_mb=1")
    assert code == 0 and "below the minimum feasible budget 15 MB" in out
    code, _, err = _cli(capsys, "solve", toy, "--param", "nope=1")
    assert code == 2 and "unknown key" in err
