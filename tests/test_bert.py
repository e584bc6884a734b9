"""BERT (minifm.models.bert): shapes, gradients, training, weight tying, padding,
post-LN structure, initialisation, loading Hugging Face checkpoints, and errors.

References are worked out in the test from the model's own sub-modules (e.g. a
post-LN layer is LN(h + FFN(h)) with h = LN(x + Attn(x))) or in plain NumPy, never
from another framework. Shape letters: B batch, T time, C hidden size, V vocabulary.
"""

import json
import math

import numpy as np
import pytest

import minifm as mf
import minifm.functional as F
from minifm import optim
from minifm.io import save_safetensors
from minifm.models.bert import (BertConfig, BertForPreTraining, BertForSequenceClassification, BertModel,
                                hf_to_minifm_key, pretraining_loss, sentence_embeddings)
from minifm.tokenizers import WordPieceTokenizer

# vocab 11, hidden 8, 2 layers, 2 heads, FFN 16, 8 positions: small enough for gradcheck
TINY = dict(vocab_size=11, hidden_size=8, num_hidden_layers=2, num_attention_heads=2,
            intermediate_size=16, max_position_embeddings=8)
NO_DROPOUT = dict(hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)

# [CLS]=1 ... [SEP]=3, [PAD]=0; the second row is padded
IDS = np.array([[1, 5, 6, 3, 7, 3],
                [1, 8, 4, 3, 0, 0]])
TOKEN_TYPES = np.array([[0, 0, 0, 0, 1, 1],
                        [0, 0, 0, 0, 0, 0]])
MLM_TARGETS = np.array([[-100, 9, -100, -100, 2, -100],
                        [-100, -100, 10, -100, -100, -100]])  # -100: not a masked position
NSP_LABELS = np.array([0, 1])


def tiny_model(cls=BertForPreTraining, seed=0, **overrides):
    return cls(BertConfig(**{**TINY, **overrides}), np.random.default_rng(seed))


def scramble_(model, rng, std=0.3):
    """Random values in every parameter (LayerNorm too), so no mix-up can hide behind 1s and 0s."""
    for p in model.parameters():
        p.data[...] = rng.normal(0.0, std, p.shape)
    return model


# ---- shapes -------------------------------------------------------------------


def test_output_shapes():
    B, T = IDS.shape
    bert = tiny_model(BertModel)
    hidden, pooled, weights = bert(IDS, TOKEN_TYPES, return_weights=True)
    assert hidden.shape == (B, T, 8) and pooled.shape == (B, 8)
    assert len(weights) == 2 and all(w.shape == (B, 2, T, T) for w in weights)
    np.testing.assert_allclose(weights[0].sum(axis=-1), 1.0, rtol=1e-5)
    assert np.all(weights[0][1, :, :, 4:] == 0.0)  # nobody attends to [PAD]

    mlm_logits, nsp_logits = tiny_model()(IDS, TOKEN_TYPES)
    assert mlm_logits.shape == (B, T, 11) and nsp_logits.shape == (B, 2)

    classifier = tiny_model(lambda config, rng: BertForSequenceClassification(config, 3, rng))
    assert classifier(IDS, TOKEN_TYPES).shape == (B, 3)


# ---- gradients ----------------------------------------------------------------


def test_gradcheck_pretraining_loss():
    """float64, dropout off, through MLM + NSP loss. Checked element by element: the
    embeddings (word, position, segment, LayerNorm), every parameter of the last encoder
    layer (attention, FFN, both LayerNorms), the pooler, the NSP head and the MLM head
    (dense, LayerNorm, bias). Layer 0 is the same code as layer 1, and the gradients of
    the embeddings already pass through both layers, so it is left out to save time."""
    model = tiny_model().eval().astype(np.float64)
    checked = [p for name, p in model.named_parameters() if not name.startswith("bert.encoder.0.")]
    assert len(checked) == len(model.parameters()) - 16

    def loss(*_):
        mlm_logits, nsp_logits = model(IDS, TOKEN_TYPES)
        return pretraining_loss(mlm_logits, MLM_TARGETS, nsp_logits, NSP_LABELS)
    assert mf.gradcheck(loss, checked)


def test_overfits_one_batch():
    rng = np.random.default_rng(1)
    config = BertConfig(vocab_size=20, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                        intermediate_size=64, max_position_embeddings=16, **NO_DROPOUT)
    model = BertForPreTraining(config, rng)
    ids = rng.integers(5, 20, size=(4, 10))
    ids[:, 0] = 1
    chosen = rng.random(ids.shape) < 0.3
    chosen[:, 0], chosen[:, 1] = False, True
    targets = np.where(chosen, ids, -100)
    ids[chosen] = 4  # [MASK]
    nsp = np.array([0, 1, 1, 0])
    opt = optim.AdamW(model.parameters(), lr=3e-3)
    losses = []
    for _ in range(200):
        mlm_logits, nsp_logits = model(ids)
        loss = pretraining_loss(mlm_logits, targets, nsp_logits, nsp)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert abs(losses[0] - (math.log(20) + math.log(2))) < 0.3  # chance level at init
    assert losses[-1] < 0.05, f"loss after 200 steps: {losses[-1]:.4f}"


# ---- the tied MLM decoder -------------------------------------------------------


def test_mlm_decoder_is_the_word_embedding():
    model = tiny_model(**NO_DROPOUT)
    embedding = model.bert.embeddings.word_embeddings.weight
    assert model.mlm.decoder_weight is embedding

    names = [name for name, p in model.named_parameters() if p is embedding]
    assert names == ["bert.embeddings.word_embeddings.weight"]  # listed once: one optimizer entry
    state = model.state_dict()
    assert "bert.embeddings.word_embeddings.weight" in state and "mlm.decoder_weight" in state
    np.testing.assert_array_equal(state["mlm.decoder_weight"], state["bert.embeddings.word_embeddings.weight"])

    # a step on the MLM loss alone moves the shared table, through the decoder too:
    # token 9 is only a target (never an input), so only the decoder can reach its row
    before = embedding.data.copy()
    mlm_logits, _ = model(IDS, TOKEN_TYPES)
    loss = F.cross_entropy(mlm_logits, MLM_TARGETS)
    loss.backward()
    assert np.abs(embedding.grad[9]).max() > 0
    optim.SGD(model.parameters(), lr=0.1).step()
    assert not np.allclose(embedding.data[9], before[9])
    assert model.mlm.decoder_weight is embedding

    # loading a state dict keeps the tie
    model.load_state_dict(tiny_model(seed=5).state_dict())
    assert model.mlm.decoder_weight is model.bert.embeddings.word_embeddings.weight


# ---- padding and post-LN structure ----------------------------------------------


def test_padding_does_not_change_real_tokens():
    model = scramble_(tiny_model(BertModel), np.random.default_rng(2)).eval().astype(np.float64)
    short = np.array([[1, 5, 6, 3]])
    padded = np.array([[1, 5, 6, 3, 0, 0, 0]])
    with mf.no_grad():
        hidden_short, pooled_short = model(short)
        hidden_padded, pooled_padded = model(padded)
        hidden_explicit, _ = model(padded, attention_mask=padded != 0)
    np.testing.assert_allclose(hidden_padded.data[:, :4], hidden_short.data, atol=1e-12)
    np.testing.assert_allclose(pooled_padded.data, pooled_short.data, atol=1e-12)
    np.testing.assert_array_equal(hidden_explicit.data, hidden_padded.data)


def test_sentence_embeddings_are_unit_means_over_real_tokens():
    """Each vector is the mean over that text's own tokens, as if it were alone, scaled to 1."""
    tokenizer = WordPieceTokenizer.train(["a cat sat", "a dog ran far away"], vocab_size=31)
    model = scramble_(tiny_model(BertModel, vocab_size=tokenizer.vocab_size, max_position_embeddings=16),
                      np.random.default_rng(4)).eval().astype(np.float64)
    texts = ["a cat", "a dog ran far away"]             # different lengths: the first is padded
    vectors = sentence_embeddings(model, tokenizer, texts)
    assert vectors.shape == (2, TINY["hidden_size"])
    for text, vector in zip(texts, vectors):
        with mf.no_grad():
            hidden, _ = model(np.array([tokenizer.encode_pair(text)[0]]))
        mean = hidden.data[0].mean(axis=0)
        np.testing.assert_allclose(vector, mean / np.linalg.norm(mean), atol=1e-12)


@pytest.mark.parametrize("texts", ["a cat", []])
def test_sentence_embeddings_want_a_list_of_texts(texts):
    tokenizer = WordPieceTokenizer.train(["a cat sat"], vocab_size=13)
    model = tiny_model(BertModel, vocab_size=tokenizer.vocab_size)
    with pytest.raises(ValueError, match="non-empty list of texts"):
        sentence_embeddings(model, tokenizer, texts)


def test_layer_is_post_ln():
    """x -> h = LN1(x + Attn(x)) -> LN2(h + FFN(h)), composed here from the layer's parts."""
    model = scramble_(tiny_model(BertModel), np.random.default_rng(3)).eval()
    layer = model.encoder[0]
    x = mf.Tensor(np.random.default_rng(4).normal(size=(2, 6, 8)).astype(np.float32))
    mask = (IDS != 0)[:, None, None, :]
    h = layer.attention_norm(x + layer.attention(x, mask=mask))
    expected = layer.ffn_norm(h + layer.ffn(h))
    np.testing.assert_allclose(layer(x, mask).data, expected.data, atol=1e-5)
    # the FFN is up -> exact (erf) GELU -> down
    up = layer.ffn.up(h).data.astype(np.float64)
    gelu = up * 0.5 * (1.0 + np.vectorize(math.erf)(up / math.sqrt(2.0)))
    np.testing.assert_allclose(layer.ffn(h).data, gelu @ layer.ffn.down.weight.data.T.astype(np.float64)
                               + layer.ffn.down.bias.data, atol=1e-5)


def test_every_layer_output_is_normalised_at_init():
    """LayerNorm comes last (weight 1, bias 0 at init): each token of each layer's output
    has mean 0 and standard deviation 1; and if the last LayerNorm's affine is set to
    (gamma, beta), the model's output per token has exactly mean beta and std gamma."""
    model = tiny_model(BertModel, **NO_DROPOUT)
    ids, mask = IDS, (IDS != 0)[:, None, None, :]
    with mf.no_grad():
        x = model.embeddings(ids, TOKEN_TYPES)
        outputs = [x]
        for layer in model.encoder:
            x = layer(x, mask)
            outputs.append(x)
    for depth, out in enumerate(outputs):
        np.testing.assert_allclose(out.data.mean(axis=-1), 0.0, atol=1e-5, err_msg=f"output {depth}")
        np.testing.assert_allclose(out.data.std(axis=-1), 1.0, atol=1e-4, err_msg=f"output {depth}")

    model.encoder[1].ffn_norm.weight.data[...] = 2.0
    model.encoder[1].ffn_norm.bias.data[...] = 0.5
    hidden, _ = model(ids, TOKEN_TYPES)
    np.testing.assert_allclose(hidden.data.mean(axis=-1), 0.5, atol=1e-5)
    np.testing.assert_allclose(hidden.data.std(axis=-1), 2.0, atol=1e-4)


def test_heads_follow_hugging_face_order():
    """MLM: dense -> GELU -> LayerNorm -> tied decoder + bias. NSP: Linear on tanh(dense(h_[CLS]))."""
    model = scramble_(tiny_model(), np.random.default_rng(6)).eval()
    hidden, pooled = model.bert(IDS, TOKEN_TYPES)
    head = model.mlm
    h = head.LayerNorm(F.gelu(head.dense(hidden)))
    expected_mlm = h.data @ model.bert.embeddings.word_embeddings.weight.data.T + head.bias.data
    mlm_logits, nsp_logits = model(IDS, TOKEN_TYPES)
    np.testing.assert_allclose(mlm_logits.data, expected_mlm, atol=1e-5)
    dense = model.bert.pooler.dense
    expected_pooled = np.tanh(hidden.data[:, 0] @ dense.weight.data.T + dense.bias.data)
    np.testing.assert_allclose(pooled.data, expected_pooled, atol=1e-6)
    np.testing.assert_allclose(nsp_logits.data, expected_pooled @ model.nsp.weight.data.T + model.nsp.bias.data,
                               atol=1e-6)


def test_initialisation_follows_bert():
    config = BertConfig(vocab_size=600, hidden_size=64, num_hidden_layers=2, num_attention_heads=4,
                        intermediate_size=256, max_position_embeddings=64)
    model = BertForPreTraining(config, np.random.default_rng(7))
    assert model.bert.embeddings.LayerNorm.eps == 1e-12
    assert all(layer.attention_norm.eps == 1e-12 == layer.ffn_norm.eps for layer in model.bert.encoder)
    assert model.bert.config.hidden_act == "gelu"  # exact GELU, as HF's BERT
    word = model.bert.embeddings.word_embeddings.weight.data
    assert np.all(word[config.pad_token_id] == 0.0)  # [PAD] row starts at zero
    for name, p in model.named_parameters():
        if name.endswith("LayerNorm.weight") or name.endswith("_norm.weight"):
            assert np.all(p.data == 1.0), name
        elif name.endswith("bias"):
            assert np.all(p.data == 0.0), name
        else:
            values = np.delete(p.data, config.pad_token_id, axis=0) if p is word else p.data
            n = values.size  # allow 4 standard errors of each estimate
            assert abs(values.mean()) < 4 * 0.02 / math.sqrt(n), name
            assert abs(values.std() / 0.02 - 1.0) < 4 / math.sqrt(2 * n), f"{name}: std {values.std():.5f}, not 0.02"


# ---- Hugging Face checkpoints ---------------------------------------------------


def hf_bert_state(model: BertForPreTraining, prefix="bert.", old_norm_names=False) -> dict:
    """The model's weights under Hugging Face's BERT names, read off the modules directly."""
    bert, state = model.bert, {}
    norm = (".gamma", ".beta") if old_norm_names else (".weight", ".bias")

    def linear(name, module):
        state[name + ".weight"], state[name + ".bias"] = module.weight.data, module.bias.data

    def layer_norm(name, module):
        state[name + norm[0]], state[name + norm[1]] = module.weight.data, module.bias.data

    e = prefix + "embeddings."
    state[e + "word_embeddings.weight"] = bert.embeddings.word_embeddings.weight.data
    state[e + "position_embeddings.weight"] = bert.embeddings.position_embeddings.weight.data
    state[e + "token_type_embeddings.weight"] = bert.embeddings.token_type_embeddings.weight.data
    state[e + "position_ids"] = np.arange(bert.config.max_position_embeddings)[None]  # a buffer, not a weight
    layer_norm(e + "LayerNorm", bert.embeddings.LayerNorm)
    for n, layer in enumerate(bert.encoder):
        hf = f"{prefix}encoder.layer.{n}."
        linear(hf + "attention.self.query", layer.attention.query)
        linear(hf + "attention.self.key", layer.attention.key)
        linear(hf + "attention.self.value", layer.attention.value)
        linear(hf + "attention.output.dense", layer.attention.output)
        layer_norm(hf + "attention.output.LayerNorm", layer.attention_norm)
        linear(hf + "intermediate.dense", layer.ffn.up)
        linear(hf + "output.dense", layer.ffn.down)
        layer_norm(hf + "output.LayerNorm", layer.ffn_norm)
    linear(prefix + "pooler.dense", bert.pooler.dense)
    linear("cls.predictions.transform.dense", model.mlm.dense)
    layer_norm("cls.predictions.transform.LayerNorm", model.mlm.LayerNorm)
    state["cls.predictions.bias"] = model.mlm.bias.data
    state["cls.predictions.decoder.weight"] = model.mlm.decoder_weight.data
    linear("cls.seq_relationship", model.nsp)
    return state


HEAD_KEYS = {"cls.predictions.transform.dense.weight": "mlm.dense.weight",
             "cls.predictions.transform.dense.bias": "mlm.dense.bias",
             "cls.predictions.transform.LayerNorm.weight": "mlm.LayerNorm.weight",
             "cls.predictions.transform.LayerNorm.bias": "mlm.LayerNorm.bias",
             "cls.predictions.bias": "mlm.bias",
             "cls.seq_relationship.weight": "nsp.weight", "cls.seq_relationship.bias": "nsp.bias"}


@pytest.mark.parametrize("prefix, old_norm_names", [("bert.", False), ("", True)])
def test_hf_names_map_onto_the_model(prefix, old_norm_names):
    """Encoder keys map onto BertModel's names (every one of them, each once); the
    pre-training heads onto BertForPreTraining's head names."""
    model = tiny_model()
    state = hf_bert_state(model, prefix, old_norm_names)
    body = {k: hf_to_minifm_key(k) for k in state if not k.startswith("cls.") and not k.endswith("position_ids")}
    own = set(model.bert.state_dict())
    assert set(body.values()) == own and len(body) == len(own)
    for hf_key, name in body.items():  # the same array lands in the same place
        assert state[hf_key] is dict(model.bert.named_parameters())[name].data, hf_key
    for hf_key, name in HEAD_KEYS.items():
        assert hf_to_minifm_key(hf_key) == name


def test_hf_tied_decoder_keys_map_onto_the_tied_names():
    """Real BERT checkpoints also hold the tied decoder under cls.predictions.decoder.weight
    (and, in newer files, its bias as cls.predictions.decoder.bias)."""
    assert hf_to_minifm_key("cls.predictions.decoder.weight") == "mlm.decoder_weight"
    assert hf_to_minifm_key("cls.predictions.decoder.bias") == "mlm.bias"


@pytest.mark.parametrize("prefix, old_norm_names", [("bert.", False), ("", True)])
def test_from_pretrained_reproduces_the_model(tmp_path, prefix, old_norm_names):
    model = scramble_(tiny_model(), np.random.default_rng(8)).eval()
    save_safetensors(hf_bert_state(model, prefix, old_norm_names), tmp_path / "model.safetensors")
    config = {**TINY, "architectures": ["BertForPreTraining"], "model_type": "bert", "hidden_act": "gelu",
              "layer_norm_eps": 1e-12, "pad_token_id": 0, "type_vocab_size": 2, "torch_dtype": "float32"}
    (tmp_path / "config.json").write_text(json.dumps(config), encoding="utf-8")

    loaded = BertModel.from_pretrained(tmp_path)
    assert not loaded.training
    for name, p in model.bert.named_parameters():
        np.testing.assert_array_equal(dict(loaded.named_parameters())[name].data, p.data, err_msg=name)
    with mf.no_grad():
        hidden, pooled = model.bert(IDS, TOKEN_TYPES)
        hidden_loaded, pooled_loaded = loaded(IDS, TOKEN_TYPES)
    np.testing.assert_allclose(hidden_loaded.data, hidden.data, atol=1e-6)
    np.testing.assert_allclose(pooled_loaded.data, pooled.data, atol=1e-6)


# ---- errors -------------------------------------------------------------------


def test_sequence_longer_than_max_positions_is_refused():
    with pytest.raises(ValueError, match="max_position_embeddings"):
        tiny_model(BertModel)(np.ones((1, 9), dtype=np.int64))


@pytest.mark.parametrize("ids", [np.array([1, 5, 3]), np.ones((1, 2, 3), dtype=np.int64)])
def test_ids_must_be_two_dimensional(ids):
    with pytest.raises(ValueError, match=r"\(B, T\)"):
        tiny_model(BertModel)(ids)


def test_bad_token_id_and_activation_are_refused():
    with pytest.raises(ValueError, match="11"):
        tiny_model(BertModel)(np.array([[1, 11, 3]]))
    with pytest.raises(ValueError, match="activation"):
        tiny_model(BertModel, hidden_act="swish")
