"""The blocks every transformer model here is built from.

A transformer layer is three sub-layers, each wrapped in a residual connection and a
normalisation:
    self-attention -> (cross-attention, in a decoder that reads an encoder) -> feed-forward

Where the normalisation sits is the one place the papers disagree:
- post-LN (BERT, GPT-1, BART, XLNet):  x = LN(x + Dropout(f(x)))
- pre-LN  (GPT-2, GPT-3, T5, CLIP, Whisper): x = x + Dropout(f(LN(x))), plus one final
  LN after the last layer (the model adds it). Pre-LN keeps an unnormalised path from
  input to output, which makes deep stacks easier to train.

Shape letters: B batch, T time, C channels (d_model), H heads, D head size.
"""

from __future__ import annotations

import numpy as np

from .. import functional as F
from .. import nn
from ..attention import MultiHeadAttention

ACTIVATIONS = {
    "gelu": F.gelu,                                    # exact erf form (BERT in HF, Whisper)
    "gelu_tanh": lambda x: F.gelu(x, approximate="tanh"),  # GPT-1/2, original BERT TF code
    "quick_gelu": F.quick_gelu,                        # CLIP
    "relu": F.relu,                                    # T5 v1.0, the original Transformer
}


def normal_init_(module: nn.Module, std: float, rng: np.random.Generator) -> nn.Module:
    """BERT/GPT initialisation: every Linear and Embedding weight ~ N(0, std), biases 0.

    LayerNorm weights stay 1 and biases 0. Returns the module.
    """
    for _, m in _all_modules(module):
        if isinstance(m, (nn.Linear, nn.Embedding)):
            m.weight.data[...] = rng.normal(0.0, std, m.weight.shape)
        if isinstance(m, nn.Linear) and m.bias is not None:
            m.bias.data[...] = 0.0
    return module


def _all_modules(module: nn.Module, prefix: str = ""):
    yield prefix, module
    for name, child in module.named_children():
        yield from _all_modules(child, prefix + name + ".")


def check_activation(name: str) -> str:
    if name not in ACTIVATIONS:
        raise ValueError(f"activation must be one of {sorted(ACTIVATIONS)}, got {name!r}")
    return name


class FeedForward(nn.Module):
    """Position-wise MLP: C -> d_ff -> C with a non-linearity between (4C in most models)."""

    def __init__(self, d_model: int, d_ff: int, *, activation: str = "gelu", bias: bool = True, rng):
        self.activation = check_activation(activation)
        self.up = nn.Linear(d_model, d_ff, bias, rng=rng)
        self.down = nn.Linear(d_ff, d_model, bias, rng=rng)

    def forward(self, x):
        return self.down(ACTIVATIONS[self.activation](self.up(x)))  # (B, T, C)


class TransformerLayer(nn.Module):
    """One encoder layer, or a decoder layer when cross_attention=True.

    norm_first: pre-LN (True) or post-LN (False), see the module docstring.
    norm: "layer" (LayerNorm) or "rms" (T5's RMSNorm). attention_scale: None for
    1/sqrt(D), 1.0 for T5. linear_bias: whether the Linear layers have biases (T5: none).
    """

    def __init__(self, d_model: int, n_heads: int, d_ff: int, *, norm_first: bool, rng,
                 cross_attention: bool = False, activation: str = "gelu", dropout: float = 0.1,
                 attention_dropout: float = 0.1, eps: float = 1e-5, norm: str = "layer",
                 linear_bias: bool = True, attention_scale: float | None = None):
        if norm not in ("layer", "rms"):
            raise ValueError(f'norm must be "layer" or "rms", got {norm!r}')
        self.norm_first = norm_first

        def attention():
            return MultiHeadAttention(d_model, n_heads, bias=linear_bias, dropout=attention_dropout, rng=rng,
                                      scale=attention_scale)

        def normalisation():
            return nn.LayerNorm(d_model, eps=eps) if norm == "layer" else nn.RMSNorm(d_model, eps=eps)

        self.attention = attention()
        self.attention_norm = normalisation()
        if cross_attention:
            self.cross_attention = attention()
            self.cross_attention_norm = normalisation()
        self.ffn = FeedForward(d_model, d_ff, activation=activation, bias=linear_bias, rng=rng)
        self.ffn_norm = normalisation()
        self.dropout = nn.Dropout(dropout, rng=rng)

    def _residual(self, x, norm, sublayer):
        """Wrap one sub-layer in its residual connection and normalisation."""
        if self.norm_first:
            return x + self.dropout(sublayer(norm(x)))
        return norm(x + self.dropout(sublayer(x)))

    def forward(self, x, mask=None, *, causal: bool = False, bias=None, cache=None,
                context=None, context_mask=None, context_bias=None, return_weights: bool = False):
        """x (B, T, C) -> (B, T, C).

        mask/causal/bias/cache go to self-attention; context (B, S, C) with
        context_mask/context_bias to cross-attention. With return_weights=True, also
        returns the self-attention probabilities (B, H, T, T).
        """
        weights = None

        def self_attention(h):
            nonlocal weights
            out = self.attention(h, mask=mask, causal=causal, bias=bias, cache=cache,
                                 return_weights=return_weights)
            if return_weights:
                out, weights = out
            return out

        x = self._residual(x, self.attention_norm, self_attention)
        if hasattr(self, "cross_attention"):
            if context is None:
                raise ValueError("this decoder layer has cross-attention: pass context= (the encoder output)")
            x = self._residual(x, self.cross_attention_norm,
                               lambda h: self.cross_attention(h, context, context_mask, bias=context_bias))
        x = self._residual(x, self.ffn_norm, self.ffn)
        return (x, weights) if return_weights else x
