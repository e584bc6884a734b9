"""GPT-1 and GPT-2 (Radford et al. 2018, 2019): a decoder-only transformer language model.

    tokens -> token embedding + learned position embedding -> N layers of *masked*
    (causal) self-attention + MLP -> (final LayerNorm) -> logits = h @ token_embedding^T

Each position may attend only to itself and earlier positions, so the model can be
trained to predict every next token of a text at once, and can then generate text one
token at a time. One config covers both papers:
- GPT-1: post-LN layers (x = LN(x + f(x))), no final LayerNorm.
- GPT-2: pre-LN layers (x = x + f(LN(x))), a final LayerNorm, and the projections that
  write into the residual stream initialised with std 0.02 / sqrt(2 * n_layer), so the
  sum of 2 * n_layer residual writes keeps its size at init.
GPT-3 is GPT-2's architecture at larger scale (its sparse attention layers we leave out).

Shape letters: B batch, T time, C channels (n_embd), V vocabulary.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .. import functional as F
from .. import nn
from ..attention import KVCache
from ..tensor import Tensor, no_grad
from .transformer import TransformerLayer, check_activation, normal_init_


@dataclass
class GPTConfig:
    vocab_size: int = 512
    n_ctx: int = 64               # longest context (learned positions)
    n_embd: int = 128
    n_layer: int = 4
    n_head: int = 4
    dropout: float = 0.1          # on embeddings, attention probabilities and residual writes
    layer_norm_eps: float = 1e-5
    activation: str = "gelu_tanh"  # both papers use the tanh form of GELU
    pre_ln: bool = True           # True: GPT-2; False: GPT-1
    init_std: float = 0.02

    @classmethod
    def gpt1(cls, **overrides) -> "GPTConfig":
        return cls(**{"pre_ln": False, **overrides})

    @classmethod
    def gpt2(cls, **overrides) -> "GPTConfig":
        return cls(**{"pre_ln": True, **overrides})


class GPT(nn.Module):
    def __init__(self, config: GPTConfig, rng: np.random.Generator):
        check_activation(config.activation)
        self.config = config
        C = config.n_embd
        self.token_embedding = nn.Embedding(config.vocab_size, C, rng=rng)
        self.position_embedding = nn.Embedding(config.n_ctx, C, rng=rng)
        self.dropout = nn.Dropout(config.dropout, rng=rng)
        self.layers = nn.ModuleList([
            TransformerLayer(C, config.n_head, 4 * C, norm_first=config.pre_ln, activation=config.activation,
                             dropout=config.dropout, attention_dropout=config.dropout,
                             eps=config.layer_norm_eps, rng=rng)
            for _ in range(config.n_layer)])
        self.final_norm = nn.LayerNorm(C, eps=config.layer_norm_eps) if config.pre_ln else None
        self._init_weights(rng)

    def _init_weights(self, rng):
        config = self.config
        normal_init_(self, config.init_std, rng)
        if config.pre_ln:  # GPT-2's changes
            self.position_embedding.weight.data[...] = rng.normal(0.0, 0.01, self.position_embedding.weight.shape)
            residual_std = config.init_std / math.sqrt(2 * config.n_layer)
            for layer in self.layers:
                for projection in (layer.attention.output, layer.ffn.down):
                    projection.weight.data[...] = rng.normal(0.0, residual_std, projection.weight.shape)

    def hidden_states(self, ids, caches: list | None = None) -> Tensor:
        """ids (B, T) -> final hidden states (B, T, C).

        caches: one KVCache per layer for incremental decoding; positions then continue
        after the cached ones.
        """
        ids = np.asarray(ids)
        if ids.ndim != 2:
            raise ValueError(f"GPT expects token ids of shape (B, T), got {ids.shape}")
        start = len(caches[0]) if caches else 0
        T = ids.shape[1]
        if start + T > self.config.n_ctx:
            raise ValueError(f"GPT: {start + T} positions exceed the context of {self.config.n_ctx} tokens")
        x = self.dropout(self.token_embedding(ids) + self.position_embedding(np.arange(start, start + T)))
        for i, layer in enumerate(self.layers):
            x = layer(x, causal=True, cache=caches[i] if caches else None)  # (B, T, C)
        return self.final_norm(x) if self.final_norm is not None else x

    def logits(self, hidden: Tensor) -> Tensor:
        """The output layer is the token embedding itself (tied): (B, T, C) -> (B, T, V)."""
        return F.linear(hidden, self.token_embedding.weight)

    def forward(self, ids, caches: list | None = None) -> Tensor:
        return self.logits(self.hidden_states(ids, caches))

    def generate(self, ids, max_new_tokens: int, rng: np.random.Generator | None = None,
                 temperature: float = 1.0, top_k: int | None = None, greedy: bool = False) -> np.ndarray:
        """Continue each row of ids (B, T) by max_new_tokens tokens.

        greedy=True takes the most likely token; otherwise sample from softmax(logits /
        temperature), restricted to the top_k most likely tokens if top_k is given.
        The prefix is encoded once; each new token then costs one position (KV cache).
        """
        if not greedy and not isinstance(rng, np.random.Generator):
            raise TypeError(f"sampling needs rng=np.random.Generator (or greedy=True), got {type(rng).__name__}")
        if top_k is not None and (isinstance(top_k, bool) or not isinstance(top_k, (int, np.integer)) or top_k < 1):
            raise ValueError(f"top_k must be a positive integer, got {top_k!r}")
        if temperature <= 0:
            raise ValueError(f"temperature must be positive, got {temperature}")
        ids = np.array(ids, dtype=np.int64)
        was_training = self.training
        self.eval()
        caches = [KVCache() for _ in self.layers]
        new_ids = ids
        with no_grad():
            for _ in range(max_new_tokens):
                last = self(new_ids, caches).data[:, -1]  # (B, V): only the newest position matters
                next_id = _pick_next(last, rng, temperature, top_k, greedy)
                ids = np.concatenate([ids, next_id[:, None]], axis=1)
                new_ids = next_id[:, None]
        self.train(was_training)
        return ids


def _pick_next(logits: np.ndarray, rng, temperature: float, top_k, greedy: bool) -> np.ndarray:
    if greedy:
        return logits.argmax(axis=-1)
    logits = logits.astype(np.float64) / temperature
    if top_k is not None:
        kth = np.sort(logits, axis=-1)[:, -min(top_k, logits.shape[-1])][:, None]
        logits = np.where(logits >= kth, logits, -np.inf)  # keep only the k largest
    probs = np.exp(logits - logits.max(axis=-1, keepdims=True))
    probs /= probs.sum(axis=-1, keepdims=True)
    return np.array([rng.choice(len(p), p=p) for p in probs])


class GPTForClassification(nn.Module):
    """GPT-1's fine-tuning: a Linear layer on the final state of the last real token.

    forward returns (class logits (B, K), LM logits (B, T, V)) so the auxiliary language
    modelling loss (weight 0.5 in GPT-1) can be added to the task loss.
    """

    def __init__(self, gpt: GPT, num_labels: int, rng: np.random.Generator, pad_id: int = 0):
        self.gpt = gpt
        self.classifier = nn.Linear(gpt.config.n_embd, num_labels, rng=rng)
        normal_init_(self.classifier, gpt.config.init_std, rng)
        self.dropout = nn.Dropout(gpt.config.dropout, rng=rng)
        self.pad_id = pad_id

    def forward(self, ids):
        ids = np.asarray(ids)
        hidden = self.gpt.hidden_states(ids)                              # (B, T, C)
        last = (ids != self.pad_id).sum(axis=1) - 1                       # last real token (right padding)
        summary = hidden[np.arange(len(ids)), last]                      # (B, C)
        return self.classifier(self.dropout(summary)), self.gpt.logits(hidden)


def lm_loss(logits: Tensor, ids, pad_id: int | None = None) -> Tensor:
    """Next-token cross-entropy: position t predicts token t+1 (padding targets ignored)."""
    ids = np.asarray(ids)
    targets = ids[:, 1:].copy()
    if pad_id is not None:
        targets[targets == pad_id] = -100
    return F.cross_entropy(logits[:, :-1], targets)


def from_hf_gpt2(state: dict, config: GPTConfig, rng=None) -> GPT:
    """Build a GPT from a Hugging Face GPT-2 (or GPT-1) state dict.

    HF stores each Linear as Conv1D with weight (in, out), y = x W + b: transposed
    relative to ours. c_attn holds query, key and value side by side (C, 3C).
    """
    model = GPT(config, rng if rng is not None else np.random.default_rng(0))
    state = {k.removeprefix("transformer."): np.asarray(v, dtype=np.float32) for k, v in state.items()}
    C = config.n_embd
    ours = {"token_embedding.weight": state.get("wte.weight", state.get("tokens_embed.weight")),
            "position_embedding.weight": state.get("wpe.weight", state.get("positions_embed.weight"))}
    if config.pre_ln:
        ours["final_norm.weight"], ours["final_norm.bias"] = state["ln_f.weight"], state["ln_f.bias"]
    for n in range(config.n_layer):
        hf, me = f"h.{n}.", f"layers.{n}."
        qkv_w, qkv_b = state[hf + "attn.c_attn.weight"], state[hf + "attn.c_attn.bias"]  # (C, 3C), (3C,)
        for i, name in enumerate(("query", "key", "value")):
            ours[me + f"attention.{name}.weight"] = qkv_w[:, i * C:(i + 1) * C].T
            ours[me + f"attention.{name}.bias"] = qkv_b[i * C:(i + 1) * C]
        for hf_name, my_name in (("attn.c_proj", "attention.output"), ("mlp.c_fc", "ffn.up"),
                                 ("mlp.c_proj", "ffn.down")):
            ours[me + my_name + ".weight"] = state[hf + hf_name + ".weight"].T
            ours[me + my_name + ".bias"] = state[hf + hf_name + ".bias"]
        for hf_name, my_name in (("ln_1", "attention_norm"), ("ln_2", "ffn_norm")):
            ours[me + my_name + ".weight"] = state[hf + hf_name + ".weight"]
            ours[me + my_name + ".bias"] = state[hf + hf_name + ".bias"]
    model.load_state_dict(ours)
    return model
