"""``fastinit init --hf-config``: Hugging Face seed checkpoints, and the init recorder behind them.

Tiny configs built from dicts (nothing is downloaded).  A checkpoint must
load with ``from_pretrained`` with no missing or unexpected keys and tied
weights tied; every tensor must have the distribution the library's own init
gives it (std, mean and bounds within statistical tolerance; constants and
padding rows exactly); and the values are fastinit's named streams.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from _util import optional_module, requires

torch = optional_module("torch")
transformers = optional_module("transformers")
pytestmark = [requires("torch"), requires("transformers")]

import fastinit as fi                                   # noqa: E402
from fastinit.cli.app import main                       # noqa: E402

if torch is not None and transformers is not None:
    from fastinit.torch._record import InitRecorder, RecordError, record_init

CONFIGS = {
    "llama": dict(model_type="llama", hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                  num_attention_heads=4, num_key_value_heads=2, vocab_size=300, pad_token_id=3,
                  tie_word_embeddings=True, initializer_range=0.03),
    "gpt2": dict(model_type="gpt2", n_embd=64, n_layer=2, n_head=4, vocab_size=300, n_positions=64,
                 bos_token_id=0, eos_token_id=0),
    "bert": dict(model_type="bert", hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                 num_attention_heads=4, vocab_size=300, is_decoder=True, pad_token_id=0),
}


def write_config(tmp_path: Path, kind: str, **changes) -> Path:
    path = tmp_path / f"{kind}.json"
    path.write_text(json.dumps({**CONFIGS[kind], **changes}))
    return path


def seed_checkpoint(tmp_path: Path, kind: str, *extra, name="out", **changes) -> Path:
    out = tmp_path / name
    assert main(["init", "--hf-config", str(write_config(tmp_path, kind, **changes)), "-o", str(out), "-q",
                 *extra]) == 0
    return out


def load(directory: Path):
    model, info = transformers.AutoModelForCausalLM.from_pretrained(directory, output_loading_info=True)
    return model, info


def library_init(kind: str, **changes):
    """The model as transformers' own eager init gives it."""
    config = transformers.AutoConfig.for_model(**{**CONFIGS[kind], **changes})
    torch.manual_seed(0)
    return transformers.AutoModelForCausalLM.from_config(config)


def assert_same_distribution(name, ours, theirs):
    """Constants exactly, zero rows exactly, else mean, std and bounds within tolerance."""
    ours, theirs = ours.double(), theirs.double()
    first = theirs.reshape(-1)[0]
    if bool((theirs == first).all()):
        assert torch.equal(ours, theirs), f"{name}: the library fills it with {float(first)}"
        return
    if theirs.dim() == 2:
        assert torch.equal((ours == 0).all(1), (theirs == 0).all(1)), f"{name}: zero rows differ"
    n, std = theirs.numel(), float(theirs.std())
    assert abs(float(ours.mean()) - float(theirs.mean())) < 6 * std / math.sqrt(n), name
    assert abs(float(ours.std()) - std) < 6 * std / math.sqrt(2 * n) + 0.01 * std, name
    if n < 2000:
        return
    # The shape of the distribution (normal 0, uniform -1.2) by the excess kurtosis, and the
    # bounds of a bounded one within 2% of the library's range.
    kurtosis = [float((((t - t.mean()) / t.std()) ** 4).mean()) - 3 for t in (ours, theirs)]
    assert abs(kurtosis[0] - kurtosis[1]) < 8 * math.sqrt(24 / n), (name, kurtosis)
    if kurtosis[1] < -1.0:
        span = float(theirs.max() - theirs.min())
        assert float(ours.max()) <= float(theirs.max()) + 0.02 * span, name
        assert float(ours.min()) >= float(theirs.min()) - 0.02 * span, name


@pytest.mark.parametrize("kind", sorted(CONFIGS))
def test_checkpoint_loads_and_matches_the_library_init(tmp_path, kind):
    out = seed_checkpoint(tmp_path, kind, "--seed", "11")
    assert sorted(p.name for p in out.iterdir()) == ["config.json", "model.safetensors"]
    model, info = load(out)
    assert info["missing_keys"] == set() and info["unexpected_keys"] == set(), info
    assert info["mismatched_keys"] == set() and not info["error_msgs"], info
    reference = library_init(kind)
    output_layer, input_layer = model.get_output_embeddings(), model.get_input_embeddings()
    assert (output_layer.weight is input_layer.weight) == (
        reference.get_output_embeddings().weight is reference.get_input_embeddings().weight)
    theirs = reference.state_dict()
    ours = model.state_dict()
    assert sorted(ours) == sorted(theirs)
    for name, tensor in ours.items():
        assert tensor.shape == theirs[name].shape, name
        assert_same_distribution(name, tensor, theirs[name])
    with torch.no_grad():
        logits = model(torch.tensor([[1, 2, 5]])).logits
    assert bool(torch.isfinite(logits).all())


def test_tied_embedding_keeps_its_padding_row(tmp_path):
    """Init runs before tying, as in from_config: the output layer's init does not overwrite
    the embedding's zero padding row."""
    model, _ = load(seed_checkpoint(tmp_path, "llama"))
    weight = model.get_input_embeddings().weight
    assert model.get_output_embeddings().weight is weight
    assert bool((weight[3] == 0).all()) and int((weight == 0).all(1).sum()) == 1
    index = json.loads((tmp_path / "out" / "config.json").read_text())
    assert index["architectures"] == ["LlamaForCausalLM"] and index["tie_word_embeddings"] is True


def test_values_are_fastinit_named_streams(tmp_path):
    from safetensors.numpy import load_file
    out = seed_checkpoint(tmp_path, "llama", "--seed", "7")
    tensors = load_file(out / "model.safetensors")
    name = "model.layers.0.self_attn.q_proj.weight"
    expected = fi.normal((64, 64), 0.0, 0.03, seed=7, stream=fi.stream_id(name), dtype=np.float32)
    assert tensors[name].dtype == np.float32
    np.testing.assert_array_equal(tensors[name].view(np.uint32), expected.view(np.uint32))
    embedding = fi.normal((300, 64), 0.0, 0.03, seed=7, stream=fi.stream_id("model.embed_tokens.weight"),
                          dtype=np.float32)
    embedding[3] = 0
    np.testing.assert_array_equal(tensors["model.embed_tokens.weight"], embedding)
    assert "lm_head.weight" not in tensors                   # tied: saved once, as save_pretrained


def test_dtype_from_config_and_override(tmp_path):
    from safetensors import safe_open
    out = seed_checkpoint(tmp_path, "llama", dtype="bfloat16")
    with safe_open(out / "model.safetensors", "pt") as handle:
        assert {handle.get_slice(k).get_dtype() for k in handle.keys()} == {"BF16"}
    assert json.loads((out / "config.json").read_text())["dtype"] == "bfloat16"
    out = seed_checkpoint(tmp_path, "llama", "--dtype", "float16", name="half", dtype="bfloat16")
    with safe_open(out / "model.safetensors", "pt") as handle:
        assert {handle.get_slice(k).get_dtype() for k in handle.keys()} == {"F16"}


def test_same_seed_same_bytes(tmp_path):
    first = seed_checkpoint(tmp_path, "gpt2", "--seed", "3", name="a")
    second = seed_checkpoint(tmp_path, "gpt2", "--seed", "3", name="b")
    third = seed_checkpoint(tmp_path, "gpt2", "--seed", "4", name="c")
    for filename in ("model.safetensors", "config.json"):
        assert (first / filename).read_bytes() == (second / filename).read_bytes()
    assert (first / "model.safetensors").read_bytes() != (third / "model.safetensors").read_bytes()


def test_shards_and_index(tmp_path):
    out = seed_checkpoint(tmp_path, "llama", "--max-shard-size", "40KB", "--seed", "2")
    shards = sorted(p.name for p in out.glob("model-*.safetensors"))
    assert len(shards) > 2 and shards[0] == f"model-00001-of-{len(shards):05d}.safetensors"
    assert not (out / "model.safetensors").exists()
    index = json.loads((out / "model.safetensors.index.json").read_text())
    model, info = load(out)
    assert info["missing_keys"] == set() and info["unexpected_keys"] == set()
    saved = {k for k in model.state_dict() if k != "lm_head.weight"}
    assert set(index["weight_map"]) == saved and set(index["weight_map"].values()) == set(shards)
    assert index["metadata"]["total_size"] == sum(model.state_dict()[k].nbytes for k in saved)
    for shard in shards:          # each shard's data within 40 kB, unless one tensor is larger
        names = [k for k, v in index["weight_map"].items() if v == shard]
        data = sum(model.state_dict()[k].nbytes for k in names)
        assert data <= 40_000 or len(names) == 1, (shard, names, data)
    # The same tensors as unsharded.
    single = seed_checkpoint(tmp_path, "llama", "--seed", "2", name="single")
    whole, _ = load(single)
    for name, tensor in whole.state_dict().items():
        assert torch.equal(tensor, model.state_dict()[name]), name
    # Rewriting with --force into one file removes the old shards and index.
    assert main(["init", "--hf-config", str(tmp_path / "llama.json"), "-o", str(out), "-q", "--force"]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["config.json", "model.safetensors"]


@pytest.mark.parametrize("argv, message", [
    (["normal", "4x4"], "cannot be combined with --hf-config"),
    (["--max-shard-size", "lots"], "--max-shard-size must be a size"),
])
def test_usage_errors(tmp_path, capsys, argv, message):
    config = write_config(tmp_path, "llama")
    assert main(["init", "--hf-config", str(config), "-o", str(tmp_path / "out"), *argv]) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_refusals(tmp_path, capsys):
    config = write_config(tmp_path, "llama")
    assert main(["init", "normal", "4x4", "-o", str(tmp_path / "a.npy"), "--max-shard-size", "1GB"]) == 2
    assert "--hf-config checkpoints only" in capsys.readouterr().err
    (tmp_path / "bad.json").write_text(json.dumps({"model_type": "no-such-model"}))
    assert main(["init", "--hf-config", str(tmp_path / "bad.json"), "-o", str(tmp_path / "b")]) == 2
    assert "'model_type' must name a model type" in capsys.readouterr().err
    seed_checkpoint(tmp_path, "llama")
    before = (tmp_path / "out" / "model.safetensors").read_bytes()
    assert main(["init", "--hf-config", str(config), "-o", str(tmp_path / "out"), "--seed", "9"]) == 1
    assert "pass --force" in capsys.readouterr().err
    assert (tmp_path / "out" / "model.safetensors").read_bytes() == before


# --------------------------------------------------------------------------- the recorder

def test_recorder_maps_calls_views_and_overrides():
    with torch.device("meta"):
        with InitRecorder() as recorder:
            embedding = torch.nn.Embedding(10, 4, padding_idx=2)       # normal_ then a zero row
            linear = torch.nn.Linear(6, 4)                              # kaiming_uniform_, uniform_
            torch.nn.init.trunc_normal_(linear.weight, std=0.02)        # overrides kaiming_uniform_
            with torch.no_grad():
                embedding.weight.data[5:7].uniform_(to=3)               # a method's keyword
                embedding.weight[8, 1:3] = 7.0
                torch.nn.init.kaiming_normal_(embedding.weight[0:2])    # fans of the part
    model = torch.nn.ModuleDict({"emb": embedding, "lin": linear})
    ops = recorder.ops_for(model.state_dict(keep_vars=True))
    calls = [(op.scheme, dict(op.kwargs), op.box, op.whole) for op in ops["emb.weight"]]
    assert calls == [
        ("normal", {"mean": 0.0, "std": 1.0}, ((0, 10), (0, 4)), True),
        ("constant", {"value": 0}, ((2, 3), (0, 4)), False),
        ("uniform", {"low": 0.0, "high": 3}, ((5, 7), (0, 4)), False),
        ("constant", {"value": 7.0}, ((8, 9), (1, 3)), False),
        ("normal", {"mean": 0.0, "std": math.sqrt(2 / 4)}, ((0, 2), (0, 4)), False),
    ]
    assert [op.scheme for op in ops["lin.weight"]] == ["trunc_normal"]
    bound = 1 / math.sqrt(6)
    assert [(op.scheme, dict(op.kwargs)) for op in ops["lin.bias"]] == [
        ("uniform", {"low": -bound, "high": bound})]


def test_recorder_replay_matches_the_streams():
    from fastinit._initops import fill_ops
    with torch.device("meta"):
        with InitRecorder() as recorder:
            embedding = torch.nn.Embedding(10, 4, padding_idx=2)
            torch.nn.init.normal_(embedding.weight, std=0.5)
            embedding.weight.data[7:9].uniform_(-1, 1)
    [ops] = recorder.ops_for({"w": embedding.weight}).values()
    stream = fi.stream_id("w")
    whole = np.empty((10, 4), np.float32)
    fill_ops(ops, whole, (slice(0, 10),), shape=(10, 4), seed=5, stream=stream)
    blocks = np.empty((10, 4), np.float32)
    for start in range(0, 10, 3):                       # the same values block by block
        fill_ops(ops, blocks[start:start + 3], (slice(start, min(start + 3, 10)),), shape=(10, 4),
                 seed=5, stream=stream)
    np.testing.assert_array_equal(whole, blocks)
    # normal_ after construction overwrites the padding row too, as in torch.
    expected = fi.normal((10, 4), 0.0, 0.5, seed=5, stream=stream, dtype=np.float32)
    expected[7:9] = fi.uniform((10, 4), -1, 1, seed=5, stream=stream, dtype=np.float32)[7:9]
    np.testing.assert_array_equal(whole, expected)


def test_recorder_refuses_what_it_cannot_reproduce():
    with torch.device("meta"):
        with InitRecorder() as recorder:
            layer = torch.nn.Linear(4, 4)
            with torch.no_grad():
                layer.weight.mul_(2.0)
                layer.bias.data[::2].zero_()
            untouched = torch.nn.Parameter(torch.empty(3))
    with pytest.raises(RecordError, match=r"weight .*Tensor\.mul_\(2\.0\).*no equivalent"):
        recorder.ops_for({"weight": layer.weight})
    with pytest.raises(RecordError, match=r"bias .*zero_\(\).*strided"):
        recorder.ops_for({"bias": layer.bias})
    with pytest.raises(RecordError, match=r"extra .*leaves element \(0,\)"):
        recorder.ops_for({"extra": untouched})


def test_record_init_on_a_built_meta_model():
    with torch.device("meta"):
        model = torch.nn.Sequential(torch.nn.Linear(3, 5), torch.nn.LayerNorm(5))
    ops = record_init(model)
    assert [op.scheme for op in ops["0.weight"]] == ["kaiming_uniform"]
    assert [op.scheme for op in ops["1.weight"]] == ["ones"]
    # The hooks are gone afterwards.
    assert torch.nn.init.trunc_normal_.__module__ == "torch.nn.init"
    assert not hasattr(torch.nn.init.trunc_normal_, "__wrapped__")


def test_unreproducible_init_is_an_error_naming_tensor_and_call(tmp_path, capsys, monkeypatch):
    llama = transformers.models.llama.modeling_llama.LlamaPreTrainedModel
    original = llama._init_weights

    def scaled(self, module):                       # what a model's own init might do
        original(self, module)
        if isinstance(module, torch.nn.Linear) and module.out_features == 32:
            module.weight.data.mul_(0.5)
    monkeypatch.setattr(llama, "_init_weights", scaled)
    config = write_config(tmp_path, "llama")
    assert main(["init", "--hf-config", str(config), "-o", str(tmp_path / "out")]) == 2
    error = capsys.readouterr().err
    assert "model.layers.0.self_attn.k_proj.weight" in error and "Tensor.mul_(0.5)" in error, error
    assert sorted(p.name for p in tmp_path.iterdir()) == ["llama.json"]


def test_failed_write_leaves_the_directory_as_it_was(tmp_path, monkeypatch):
    import dataclasses
    from fastinit.cli import hf_command
    out = seed_checkpoint(tmp_path, "llama")
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    calls = []

    def failing(path, header, jobs, force, quiet):
        calls.append(path)
        if len(calls) == 2:
            raise OSError(28, "No space left on device")
        return original_write(path, header, jobs, force, quiet)
    original_write = hf_command.SAFETENSORS.write
    monkeypatch.setattr(hf_command, "SAFETENSORS", dataclasses.replace(hf_command.SAFETENSORS, write=failing))
    assert main(["init", "--hf-config", str(tmp_path / "llama.json"), "-o", str(out), "--force", "-q",
                 "--max-shard-size", "40KB", "--seed", "5"]) == 1
    assert len(calls) == 2
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["llama.json", "out"]      # no staging left


def test_recorder_follows_value_copies():
    """transformers re-pads a tied bias with ``bias.data = F.pad(bias.data, (0, 0))``: the new
    storage holds the same values, so it takes the old one's ops; a real pad is refused."""
    with torch.device("meta"):
        with InitRecorder() as recorder:
            layer = torch.nn.Linear(4, 6)
            torch.nn.init.zeros_(layer.bias)
            layer.bias.data = torch.nn.functional.pad(layer.bias.data, (0, 0), "constant", 0)
            layer.weight.data = layer.weight.data.clone()
            grown = torch.nn.Parameter(torch.nn.functional.pad(torch.zeros(3), (0, 2), "constant", 1.0))
    ops = recorder.ops_for({"bias": layer.bias, "weight": layer.weight})
    assert [op.scheme for op in ops["bias"]] == ["zeros"]
    assert [(op.scheme, op.whole) for op in ops["weight"]] == [("kaiming_uniform", True)]
    with pytest.raises(RecordError, match=r"grown .*pad\(\(0, 2\).*other values"):
        recorder.ops_for({"grown": grown})


def test_recorder_refuses_advanced_index_assignments():
    # w[[0, 2]] = 0 writes through a copy, not a view: refused, never dropped.
    with torch.device("meta"):
        with InitRecorder() as recorder:
            weight = torch.nn.Parameter(torch.empty(4, 3))
            torch.nn.init.normal_(weight)
            with torch.no_grad():
                weight[[0, 2]] = 0
    with pytest.raises(RecordError, match=r"w .*advanced index"):
        recorder.ops_for({"w": weight})


def test_recorder_copies_hold_the_values_of_their_time():
    with torch.device("meta"):
        with InitRecorder() as recorder:
            a = torch.zeros(4)
            b = a.clone()                  # zeros: a's later normal_ is not b's
            torch.nn.init.normal_(a)
            c = a.clone()                  # random values of a tensor that is written too
    ops = recorder.ops_for({"a": a, "b": b})
    assert [op.scheme for op in ops["b"]] == ["constant"] and [op.scheme for op in ops["a"]] == ["normal"]
    with pytest.raises(RecordError, match=r"c .*random values of another tensor"):
        recorder.ops_for({"a": a, "c": c})


def test_recorder_refuses_writes_through_out():
    with torch.device("meta"):
        with InitRecorder() as recorder:
            weight = torch.nn.Parameter(torch.zeros(3))
            with torch.no_grad():
                torch.add(torch.ones(3), 1.0, out=weight)
    with pytest.raises(RecordError, match=r"w .*add\(.*out="):
        recorder.ops_for({"w": weight})
