"""GPT-1 and GPT-2 (minifm.models.gpt): shapes, gradients, training, causality,
generation with and without the KV cache, initialisation, loading Hugging Face
checkpoints, classification and padding.

The checkpoint test writes its own GPT-2 (and GPT-1) state dict in Hugging Face's
layout and checks minifm's logits against a plain-NumPy forward pass written below
straight from that layout. Shape letters: B batch, T time, C channels, V vocabulary.
"""

import math

import numpy as np
import pytest

import minifm as mf
from minifm import optim
from minifm.attention import KVCache
from minifm.io import load_safetensors, save_safetensors
from minifm.models.gpt import GPT, GPTConfig, GPTForClassification, from_hf_gpt2, lm_loss

TINY = dict(vocab_size=11, n_ctx=8, n_embd=8, n_layer=2, n_head=2)
CONFIGS = {"gpt1": GPTConfig.gpt1, "gpt2": GPTConfig.gpt2}
IDS = np.array([[1, 5, 6, 3, 7, 3],
                [2, 8, 4, 3, 9, 10]])


def tiny_gpt(kind="gpt2", seed=0, **overrides) -> GPT:
    return GPT(CONFIGS[kind](**{**TINY, **overrides}), np.random.default_rng(seed))


def scramble_(model, rng, std=0.3):
    """Random values in every parameter (LayerNorm too), so no mix-up can hide behind 1s and 0s."""
    for p in model.parameters():
        p.data[...] = rng.normal(0.0, std, p.shape)
    return model


# ---- shapes, gradients, training ------------------------------------------------


@pytest.mark.parametrize("kind", CONFIGS)
def test_shapes(kind):
    model = tiny_gpt(kind)
    assert model.hidden_states(IDS).shape == (2, 6, 8)
    assert model(IDS).shape == (2, 6, 11)
    assert lm_loss(model(IDS), IDS).shape == ()
    assert (model.final_norm is not None) == (kind == "gpt2")  # only GPT-2 has ln_f


@pytest.mark.parametrize("kind, skipped_layer", [("gpt1", 0), ("gpt2", 1)])
def test_gradcheck_lm_loss(kind, skipped_layer):
    """float64, eval mode, through lm_loss. Checked element by element: both embeddings,
    the final LayerNorm (GPT-2), and every parameter of one of the two layers (layer 1
    for GPT-1, layer 0 for GPT-2; the other layer is the same code, and the embeddings'
    gradients pass through both), to keep the test fast."""
    model = tiny_gpt(kind).eval().astype(np.float64)
    checked = [p for name, p in model.named_parameters() if not name.startswith(f"layers.{skipped_layer}.")]
    assert len(checked) == len(model.parameters()) - 16
    assert mf.gradcheck(lambda *_: lm_loss(model(IDS), IDS), checked)


@pytest.mark.parametrize("kind", CONFIGS)
def test_overfits_one_batch(kind):
    rng = np.random.default_rng(1)
    model = GPT(CONFIGS[kind](vocab_size=16, n_ctx=12, n_embd=32, n_layer=2, n_head=2, dropout=0.0), rng)
    ids = rng.integers(0, 16, size=(4, 12))
    opt = optim.AdamW(model.parameters(), lr=3e-3)
    for _ in range(150):
        loss = lm_loss(model(ids), ids)
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert loss.item() < 0.05, f"loss after 150 steps: {loss.item():.4f}"


def test_first_loss_is_log_vocabulary():
    """GPT-2 at init predicts nearly uniformly: loss ~ ln V."""
    rng = np.random.default_rng(2)
    model = GPT(GPTConfig.gpt2(vocab_size=512, n_ctx=32, n_embd=64, n_layer=2, n_head=4), rng)
    ids = rng.integers(0, 512, size=(4, 32))
    loss = lm_loss(model(ids), ids).item()
    assert abs(loss - math.log(512)) < 0.1, f"first loss {loss:.3f}, ln V = {math.log(512):.3f}"


# ---- causality and generation ---------------------------------------------------


@pytest.mark.parametrize("kind", CONFIGS)
def test_changing_a_token_changes_only_later_logits(kind):
    model = scramble_(tiny_gpt(kind), np.random.default_rng(3)).eval()
    changed = IDS.copy()
    changed[:, 3] = (changed[:, 3] + 1) % 11
    with mf.no_grad():
        before, after = model(IDS).data, model(changed).data
    np.testing.assert_array_equal(after[:, :3], before[:, :3])  # exactly: the future is masked out
    assert np.all(np.abs(after[:, 3:] - before[:, 3:]).max(axis=-1) > 1e-4)


def full_pass_greedy(model, ids, steps):
    """Greedy decoding the slow way: the whole sequence through the model at every step."""
    for _ in range(steps):
        with mf.no_grad():
            logits = model(ids).data[:, -1]
        ids = np.concatenate([ids, logits.argmax(axis=-1)[:, None]], axis=1)
    return ids


@pytest.mark.parametrize("kind", CONFIGS)
def test_cached_greedy_generation_equals_full_passes(kind):
    model = scramble_(tiny_gpt(kind), np.random.default_rng(4)).astype(np.float64)
    prompt = IDS[:, :3]
    out = model.generate(prompt, max_new_tokens=5, greedy=True)
    assert out.shape == (2, 8)
    np.testing.assert_array_equal(out[:, :3], prompt)
    np.testing.assert_array_equal(out, full_pass_greedy(model.eval(), prompt, 5))


@pytest.mark.parametrize("kind", CONFIGS)
def test_cached_logits_equal_full_pass_logits(kind):
    model = scramble_(tiny_gpt(kind), np.random.default_rng(5)).eval().astype(np.float64)
    with mf.no_grad():
        full = model(IDS).data  # (B, T, V)
        caches = [KVCache() for _ in model.layers]
        first = model(IDS[:, :2], caches).data  # a 2-token prefix, then one token at a time
        steps = [model(IDS[:, t:t + 1], caches).data for t in range(2, IDS.shape[1])]
    np.testing.assert_allclose(np.concatenate([first] + steps, axis=1), full, atol=1e-12)


def test_generate_keeps_training_mode_and_records_no_graph():
    model = tiny_gpt()
    assert model.training
    out = model.generate(IDS[:, :2], max_new_tokens=3, greedy=True)
    assert model.training and out.dtype.kind == "i"
    assert all(p.grad is None for p in model.parameters())


def test_top_k_1_equals_greedy_and_sampling_is_reproducible():
    model = scramble_(tiny_gpt(), np.random.default_rng(6))
    prompt = IDS[:, :2]
    greedy = model.generate(prompt, 5, greedy=True)
    np.testing.assert_array_equal(model.generate(prompt, 5, rng=np.random.default_rng(0), top_k=1), greedy)
    a = model.generate(prompt, 6, rng=np.random.default_rng(7), temperature=2.0)
    b = model.generate(prompt, 6, rng=np.random.default_rng(7), temperature=2.0)
    np.testing.assert_array_equal(a, b)
    others = [model.generate(prompt, 6, rng=np.random.default_rng(s), temperature=2.0) for s in range(8, 12)]
    assert any(not np.array_equal(a, o) for o in others)  # really sampled, not greedy


def test_top_k_samples_only_among_the_k_most_likely():
    model = scramble_(tiny_gpt(), np.random.default_rng(9)).eval()
    prompt = np.repeat(IDS[:1, :3], 200, axis=0)  # 200 copies: one sampled token each
    with mf.no_grad():
        top3 = set(np.argsort(model(prompt[:1]).data[0, -1])[-3:])
    picked = set(model.generate(prompt, 1, rng=np.random.default_rng(0), top_k=3, temperature=5.0)[:, -1])
    assert picked == top3


def test_generation_errors():
    model = tiny_gpt()
    with pytest.raises((ValueError, TypeError), match="rng"):
        model.generate(IDS, 1)  # sampling without a generator
    with pytest.raises(ValueError, match="temperature"):
        model.generate(IDS, 1, rng=np.random.default_rng(0), temperature=0.0)
    with pytest.raises(ValueError, match="context"):
        model.generate(np.ones((1, 9), dtype=np.int64), 1, greedy=True)  # prompt beyond n_ctx


def test_generation_rejects_a_seed_in_place_of_a_generator():
    with pytest.raises(TypeError, match="Generator"):
        tiny_gpt().generate(IDS, 1, rng=42)


def test_generation_rejects_a_top_k_below_1():
    model = tiny_gpt()
    for top_k in (0, -2):
        with pytest.raises(ValueError, match="top_k"):
            model.generate(IDS, 1, rng=np.random.default_rng(0), top_k=top_k)


def test_input_errors():
    model = tiny_gpt()
    with pytest.raises(ValueError, match=r"\(B, T\)"):
        model(IDS[0])
    with pytest.raises(ValueError, match="context of 8"):
        model(np.ones((1, 9), dtype=np.int64))
    with pytest.raises(ValueError, match="11"):
        model(np.array([[1, 11]]))


# ---- initialisation -------------------------------------------------------------


def assert_std(values, std, name):
    n = values.size  # allow 4 standard errors of each estimate
    assert abs(values.mean()) < 4 * std / math.sqrt(n), f"{name}: mean {values.mean():.2e}"
    assert abs(values.std() / std - 1.0) < 4 / math.sqrt(2 * n), f"{name}: std {values.std():.5f}, expected {std:.5f}"


@pytest.mark.parametrize("kind", CONFIGS)
def test_initialisation(kind):
    """GPT-2: residual projections N(0, 0.02 / sqrt(2 n_layer)), positions N(0, 0.01),
    other weights N(0, 0.02). GPT-1: every weight N(0, 0.02). Biases 0, LayerNorm 1 and 0."""
    config = CONFIGS[kind](vocab_size=512, n_ctx=128, n_embd=128, n_layer=4, n_head=4)
    model = GPT(config, np.random.default_rng(10))
    residual = 0.02 / math.sqrt(2 * 4) if kind == "gpt2" else 0.02
    positions = 0.01 if kind == "gpt2" else 0.02
    for name, p in model.named_parameters():
        if "norm" in name:
            assert np.all(p.data == (1.0 if name.endswith("weight") else 0.0)), name
        elif name.endswith("bias"):
            assert np.all(p.data == 0.0), name
        elif name.endswith(("attention.output.weight", "ffn.down.weight")):
            assert_std(p.data, residual, name)
        elif name == "position_embedding.weight":
            assert_std(p.data, positions, name)
        else:
            assert_std(p.data, 0.02, name)


# ---- loading a Hugging Face GPT-2 / GPT-1 checkpoint ------------------------------


def hf_state(kind, rng, V=13, n_ctx=8, C=8, n_layer=2):
    """Random weights in Hugging Face's layout: Conv1D weights are (in, out)."""
    def normal(*shape):
        return rng.normal(0.0, 0.3, shape).astype(np.float32)

    def norm(name):
        return {name + ".weight": 1.0 + normal(C), name + ".bias": normal(C)}

    names = ("wte", "wpe") if kind == "gpt2" else ("tokens_embed", "positions_embed")
    state = {names[0] + ".weight": normal(V, C), names[1] + ".weight": normal(n_ctx, C)}
    for n in range(n_layer):
        h = f"h.{n}."
        state.update(norm(h + "ln_1"))
        state.update(norm(h + "ln_2"))
        state.update({h + "attn.c_attn.weight": normal(C, 3 * C), h + "attn.c_attn.bias": normal(3 * C),
                      h + "attn.c_proj.weight": normal(C, C), h + "attn.c_proj.bias": normal(C),
                      h + "mlp.c_fc.weight": normal(C, 4 * C), h + "mlp.c_fc.bias": normal(4 * C),
                      h + "mlp.c_proj.weight": normal(4 * C, C), h + "mlp.c_proj.bias": normal(C),
                      h + "attn.bias": np.tril(np.ones((n_ctx, n_ctx), dtype=bool))[None, None]})  # a buffer
        if kind == "gpt2":
            state[h + "attn.masked_bias"] = np.array(-1e4, dtype=np.float32)
    if kind == "gpt2":
        state.update(norm("ln_f"))
    return state


def reference_logits(state, ids, kind, n_head=2):
    """GPT-1/GPT-2 forward in plain NumPy (float64), read straight off the HF layout."""
    w = {k: v.astype(np.float64) for k, v in state.items()}
    pre_ln = kind == "gpt2"
    wte, wpe = (w["wte.weight"], w["wpe.weight"]) if pre_ln else (w["tokens_embed.weight"], w["positions_embed.weight"])
    B, T = ids.shape
    C = wte.shape[1]
    D = C // n_head

    def layer_norm(x, name):
        mean, var = x.mean(-1, keepdims=True), x.var(-1, keepdims=True)
        return (x - mean) / np.sqrt(var + 1e-5) * w[name + ".weight"] + w[name + ".bias"]

    def conv1d(x, name):  # HF's Conv1D: x @ W + b, W (in, out)
        return x @ w[name + ".weight"] + w[name + ".bias"]

    def gelu_tanh(x):
        return 0.5 * x * (1.0 + np.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x ** 3)))

    def attention(x, h):
        q, k, v = np.split(conv1d(x, h + "attn.c_attn"), 3, axis=-1)  # (B, T, C) each
        q, k, v = (a.reshape(B, T, n_head, D).transpose(0, 2, 1, 3) for a in (q, k, v))  # (B, H, T, D)
        scores = q @ k.transpose(0, 1, 3, 2) / math.sqrt(D)  # (B, H, T, T)
        scores = np.where(np.tril(np.ones((T, T), dtype=bool)), scores, -np.inf)
        p = np.exp(scores - scores.max(-1, keepdims=True))
        p /= p.sum(-1, keepdims=True)
        y = (p @ v).transpose(0, 2, 1, 3).reshape(B, T, C)
        return conv1d(y, h + "attn.c_proj")

    def mlp(x, h):
        return conv1d(gelu_tanh(conv1d(x, h + "mlp.c_fc")), h + "mlp.c_proj")

    x = wte[ids] + wpe[np.arange(T)]  # (B, T, C)
    n_layer = len({k.split(".")[1] for k in w if k.startswith("h.")})
    for n in range(n_layer):
        h = f"h.{n}."
        if pre_ln:  # GPT-2: x += f(LN(x))
            x = x + attention(layer_norm(x, h + "ln_1"), h)
            x = x + mlp(layer_norm(x, h + "ln_2"), h)
        else:       # GPT-1: x = LN(x + f(x))
            x = layer_norm(x + attention(x, h), h + "ln_1")
            x = layer_norm(x + mlp(x, h), h + "ln_2")
    if pre_ln:
        x = layer_norm(x, "ln_f")
    return x @ wte.T  # (B, T, V): the output layer is the token embedding


@pytest.mark.parametrize("kind, prefix", [("gpt2", ""), ("gpt2", "transformer."), ("gpt1", "transformer.")])
def test_from_hf_checkpoint_matches_numpy_reference(tmp_path, kind, prefix):
    state = hf_state(kind, np.random.default_rng(11))
    on_disk = {prefix + k: v for k, v in state.items()}
    if prefix:
        on_disk["lm_head.weight"] = state["wte.weight" if kind == "gpt2" else "tokens_embed.weight"]  # tied copy
    save_safetensors(on_disk, tmp_path / "model.safetensors")

    config = CONFIGS[kind](vocab_size=13, n_ctx=8, n_embd=8, n_layer=2, n_head=2)
    model = from_hf_gpt2(load_safetensors(tmp_path / "model.safetensors"), config).eval()
    ids = np.array([[0, 5, 12, 3, 7, 3, 1, 9],
                    [2, 8, 4, 3, 9, 10, 11, 6]])
    with mf.no_grad():
        logits = model(ids).data
    np.testing.assert_allclose(logits, reference_logits(state, ids, kind), atol=1e-5, rtol=1e-5)


# ---- classification and padding ------------------------------------------------


def test_classifier_reads_the_last_real_token():
    gpt = scramble_(tiny_gpt(), np.random.default_rng(12))
    model = GPTForClassification(gpt, num_labels=3, rng=np.random.default_rng(13), pad_id=0).eval()
    ids = np.array([[4, 5, 6, 7, 0, 0],
                    [4, 5, 6, 7, 8, 9]])
    class_logits, lm_logits = model(ids)
    assert class_logits.shape == (2, 3) and lm_logits.shape == (2, 6, 11)
    hidden = gpt.hidden_states(ids).data
    for row, last in enumerate([3, 5]):
        expected = hidden[row, last] @ model.classifier.weight.data.T + model.classifier.bias.data
        np.testing.assert_allclose(class_logits.data[row], expected, atol=1e-6)
    alone, _ = model(ids[:1, :4])  # right padding changes nothing
    np.testing.assert_allclose(class_logits.data[0], alone.data[0], atol=1e-5)


def test_lm_loss_ignores_padding():
    model = scramble_(tiny_gpt(), np.random.default_rng(14)).eval()
    padded = np.array([[4, 5, 6, 7, 0, 0]])
    logits = model(padded)
    loss = lm_loss(logits, padded, pad_id=0).item()
    by_hand = -np.mean([np.log(np.exp(l - l.max()) / np.exp(l - l.max()).sum())[t]
                        for l, t in zip(logits.data[0, :3].astype(np.float64), [5, 6, 7])])
    assert abs(loss - by_hand) < 1e-5
    # the padded row's loss equals the unpadded row's
    assert abs(loss - lm_loss(model(padded[:, :4]), padded[:, :4]).item()) < 1e-5
    assert abs(lm_loss(logits, padded).item() - loss) > 1e-3  # without pad_id, the pads are targets
