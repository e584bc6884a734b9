"""Multi-head attention, the masks that say who may look at whom, and T5's position bias.

Attention lets every position build its output as a weighted average of the values of
other positions: the weights are softmax(q k^T / sqrt(D)), how well a position's query
matches each key. Multi-head attention runs H such averages side by side on H slices of
the channels, then mixes the heads with one output projection.

What separates BERT, GPT, a prefix LM, an encoder-decoder and XLNet is mostly *which*
scores are allowed. In minifm a mask is a boolean NumPy array, True = may attend,
broadcast against the scores (B, H, Tq, Tk). Masks combine with `&`: a causal mask
(T, T) & a padding mask (B, 1, 1, T) gives (B, 1, T, T).

The file reads top-down: the mask builders, then MultiHeadAttention with its KVCache
for generation, then T5's relative position bias.

Shape letters: B batch, T time (Tq queries, Tk keys), C channels (d_model), H heads,
D head size (C = H * D).
"""

from __future__ import annotations

import math

import numpy as np

from . import functional as F
from . import nn
from .tensor import Tensor, as_array

# ---- Masks: boolean arrays, True = may attend --------------------------------------------


def _positive_int(value, name: str) -> int:
    if not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


def padding_mask(ids, pad_id: int) -> np.ndarray:
    """Keys that are real tokens, not padding: (B, T) ids -> (B, 1, 1, T)."""
    ids = as_array(ids)
    if ids.ndim != 2 or not np.issubdtype(ids.dtype, np.integer):
        raise TypeError(f"padding_mask: ids must be a (B, T) array of integer ids, got shape {ids.shape}, "
                        f"dtype {ids.dtype}")
    return (ids != pad_id)[:, None, None, :]


def causal_mask(T: int, T_k: int | None = None) -> np.ndarray:
    """Each query sees keys up to its own position: (T, T_k), lower triangular.

    With T_k > T (cached decoding) the T queries are the *last* T of the T_k positions,
    so query i sees keys 0 .. i + (T_k - T).
    """
    T = _positive_int(T, "causal_mask T")
    T_k = T if T_k is None else _positive_int(T_k, "causal_mask T_k")
    if T_k < T:
        raise ValueError(f"causal_mask: T_k ({T_k}) must be at least T ({T}), the queries being the last T keys")
    return np.tri(T, T_k, k=T_k - T, dtype=bool)


def prefix_mask(T: int, prefix_len) -> np.ndarray:
    """Prefix LM: bidirectional inside the first `prefix_len` positions, causal after.

    An int prefix_len gives (T, T); one length per example, shape (B,), gives (B, 1, T, T).
    """
    T, lengths = _positive_int(T, "prefix_mask T"), np.asarray(prefix_len)
    if not np.issubdtype(lengths.dtype, np.integer) or lengths.ndim > 1 or np.any((lengths < 0) | (lengths > T)):
        raise ValueError(f"prefix_mask: prefix_len must be an int (or (B,) ints) in 0..{T}, got {prefix_len!r}")
    in_prefix = np.arange(T) < lengths[..., None]  # (T,) or (B, T): keys everybody may see
    mask = causal_mask(T) | in_prefix[..., None, :]  # (T, T) or (B, T, T)
    return mask if lengths.ndim == 0 else mask[:, None]


def cross_mask(q_len: int, key_ids, pad_id: int) -> np.ndarray:
    """Decoder -> encoder: each query sees every non-padding key. (B, Tk) ids -> (B, 1, q_len, Tk)."""
    keys = padding_mask(key_ids, pad_id)  # (B, 1, 1, Tk)
    return np.repeat(keys, _positive_int(q_len, "cross_mask q_len"), axis=2)


def xlnet_masks(order, non_target=None) -> tuple[np.ndarray, np.ndarray]:
    """XLNet's two-stream masks for a factorisation order: (content, query), each (T, T).

    order lists the positions in the order they are predicted; rank[order[i]] = i.
    The content stream sees itself and everything earlier in the order,
    content[i, j] = rank[j] <= rank[i]; the query stream, which must predict token i,
    may not see it: query[i, j] = rank[j] < rank[i]. The first position of the order
    has an empty query row (its attention output is zero).

    non_target (bool, shaped like order) turns on partial prediction as in XLNet's code:
    non-targets get rank -1, so every position sees them, and they see only each other.
    Then query[i, j] is False (blocked) iff rank_i <= rank_j and j is a target, and
    content = query plus the diagonal. A non-target's query row is never used for a loss.
    Batched orders (B, T) give (B, T, T); add an axis for the heads before attention.
    """
    order = np.asarray(order)
    T = order.shape[-1] if order.ndim else 0
    if T == 0 or not np.issubdtype(order.dtype, np.integer) or np.any(np.sort(order, -1) != np.arange(T)):
        raise ValueError(f"xlnet_masks: order must be a permutation of 0..T-1 (per row), got {order!r}")
    rank = np.empty_like(order)
    np.put_along_axis(rank, order, np.broadcast_to(np.arange(T), order.shape), axis=-1)  # rank[order[i]] = i
    if non_target is None:
        return rank[..., None, :] <= rank[..., :, None], rank[..., None, :] < rank[..., :, None]
    non_target = np.asarray(non_target)
    if non_target.dtype != np.bool_ or non_target.shape != order.shape:
        raise ValueError(f"xlnet_masks: non_target must be a boolean array of shape {order.shape}, "
                         f"got dtype {non_target.dtype}, shape {non_target.shape}")
    rank = np.where(non_target, -1, rank)
    query = ~((rank[..., :, None] <= rank[..., None, :]) & ~non_target[..., None, :])  # not blocked
    return query | np.eye(T, dtype=bool), query


# ---- Multi-head attention with an optional key/value cache -------------------------------


class KVCache:
    """The keys and values one attention layer has computed so far, for generation.

    Generating token t then only needs t's query, key and value: the earlier keys and
    values do not change, so we keep them. A decoder keeps one cache per layer,
    `caches = [KVCache() for _ in layers]`, and passes each layer its own. They are
    stored as arrays: generation runs under `mf.no_grad()`, and no gradient flows into
    earlier steps.
    """

    def __init__(self):
        self.k = None  # (B, H, T_past, D)
        self.v = None  # (B, H, T_past, D)

    def __len__(self) -> int:
        return 0 if self.k is None else self.k.shape[2]

    def update(self, k: Tensor, v: Tensor) -> tuple[Tensor, Tensor]:
        """Append this call's keys and values (B, H, T, D); return past + new."""
        if self.k is not None:
            if k.shape[:2] + k.shape[3:] != self.k.shape[:2] + self.k.shape[3:]:
                raise ValueError(f"KVCache: new keys {k.shape} do not continue the cached {self.k.shape} "
                                 f"(same B, H, D expected); use one cache per layer and per batch")
            # concatenation copies the past each step: simple, and cheap at our sizes
            k = F.concat([Tensor(self.k), k], axis=2)  # (B, H, T_past + T, D)
            v = F.concat([Tensor(self.v), v], axis=2)  # (B, H, T_past + T, D)
        self.k, self.v = k.data, v.data
        return k, v


def _projection(d_model: int, bias: bool, rng, init_std) -> nn.Linear:
    layer = nn.Linear(d_model, d_model, bias, rng=rng)
    if init_std is not None:  # BERT/GPT: N(0, init_std) weights, zero biases
        layer.weight.data = rng.normal(0.0, init_std, layer.weight.shape).astype(np.float32)
        if bias:
            layer.bias.data = np.zeros(d_model, dtype=np.float32)
    return layer


class MultiHeadAttention(nn.Module):
    """H heads of scaled dot-product attention, as self- or cross-attention.

    Parameter names and where Hugging Face keeps them:
      query, key, value, output  =  BERT attention.self.{query,key,value}, attention.output.dense
                                 =  T5 {q,k,v,o}; BART/Whisper {q,k,v,out}_proj; DistilBERT {q,k,v,out}_lin
                                 =  GPT-2 attn.c_attn split in three along its last axis, attn.c_proj
                                    (Conv1D stores (in, out): transpose each into our (out, in)).
    scale: the factor on q k^T; None means 1/sqrt(D). T5 uses 1.0 (no scaling).
    init_std: None keeps nn.Linear's uniform init; a number gives N(0, init_std) weights
    and zero biases (BERT and GPT use 0.02).
    """

    def __init__(self, d_model: int, n_heads: int, *, bias: bool = True, dropout: float = 0.0, rng,
                 init_std: float | None = None, scale: float | None = None):
        d_model, n_heads = _positive_int(d_model, "d_model"), _positive_int(n_heads, "n_heads")
        if d_model % n_heads:
            raise ValueError(f"MultiHeadAttention: d_model ({d_model}) must be divisible by n_heads ({n_heads})")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"MultiHeadAttention: dropout must be in [0, 1), got {dropout}")
        rng = nn._need_rng(rng, "MultiHeadAttention")
        self.d_model, self.n_heads, self.head_size = d_model, n_heads, d_model // n_heads
        self.dropout, self.scale, self.rng = dropout, scale, rng
        self.query = _projection(d_model, bias, rng, init_std)
        self.key = _projection(d_model, bias, rng, init_std)
        self.value = _projection(d_model, bias, rng, init_std)
        self.output = _projection(d_model, bias, rng, init_std)

    def _split_heads(self, x: Tensor) -> Tensor:
        B, T, C = x.shape
        return x.reshape(B, T, self.n_heads, self.head_size).transpose(0, 2, 1, 3)  # (B, H, T, D)

    def _merge_heads(self, y: Tensor) -> Tensor:
        B, H, T, D = y.shape
        return y.transpose(0, 2, 1, 3).reshape(B, T, H * D)  # (B, T, C)

    def _sequence(self, x, name: str) -> Tensor:
        x = x if isinstance(x, Tensor) else Tensor(np.asarray(x))
        if x.ndim != 3 or x.shape[-1] != self.d_model:
            raise ValueError(f"MultiHeadAttention: {name} must have shape (B, T, {self.d_model}), got {x.shape}")
        return x

    def forward(self, x, context=None, mask=None, *, causal: bool = False, bias=None,
                cache: KVCache | None = None, return_weights: bool = False):
        """Attend from x (B, Tq, C) to x itself, or to `context` (B, Tk, C) if given.

        mask: boolean, broadcastable to (B, H, Tq, Tk), True = may attend.
        causal=True: also apply causal_mask(Tq, Tk); with a cache, the new queries are
        the last Tq of the Tk positions, so each sees every cached key and itself.
        bias: added to the scores, e.g. T5's relative position bias (1, H, Tq, Tk).
        cache: a KVCache (self-attention only); this call's keys and values are appended.
        Returns y (B, Tq, C), and with return_weights=True also the attention
        probabilities (B, H, Tq, Tk) as an array, for plotting.
        """
        x = self._sequence(x, "x")
        if context is not None:
            context = self._sequence(context, "context")
            if context.shape[0] != x.shape[0]:
                raise ValueError(f"MultiHeadAttention: context batch {context.shape[0]} != x batch {x.shape[0]}")
            if causal or cache is not None:
                raise ValueError("MultiHeadAttention: causal=True and cache= are for self-attention; "
                                 "cross-attention sees the whole context")
        if cache is not None and not isinstance(cache, KVCache):
            raise TypeError(f"MultiHeadAttention: cache must be a KVCache, got {type(cache).__name__}")
        source = x if context is None else context

        q = self._split_heads(self.query(x))  # (B, H, Tq, D)
        k = self._split_heads(self.key(source))  # (B, H, Tk, D)
        v = self._split_heads(self.value(source))  # (B, H, Tk, D)
        if cache is not None:
            k, v = cache.update(k, v)  # (B, H, T_past + Tq, D)
        mask = self._full_mask(mask, causal, q.shape[2], k.shape[2])
        if bias is not None:
            bias = self._check_bias(bias, (x.shape[0], self.n_heads, q.shape[2], k.shape[2]))
        p = self.dropout if self.training else 0.0  # dropout on the probabilities, training only
        out = F.scaled_dot_product_attention(q, k, v, mask, bias=bias, scale=self.scale, dropout_p=p,
                                             rng=self.rng if p else None, return_weights=return_weights)
        y, weights = out if return_weights else (out, None)  # y: (B, H, Tq, D)
        y = self.output(self._merge_heads(y))  # (B, Tq, C)
        return (y, weights) if return_weights else y

    @staticmethod
    def _full_mask(mask, causal: bool, T_q: int, T_k: int):
        if mask is not None:
            mask = as_array(mask)
            if mask.dtype != np.bool_:
                raise TypeError(f"MultiHeadAttention: mask must be boolean (True = may attend), got dtype {mask.dtype}")
        if causal:
            future_hidden = causal_mask(T_q, T_k)  # (Tq, Tk)
            mask = future_hidden if mask is None else future_hidden & mask
        return mask

    @staticmethod
    def _check_bias(bias, scores_shape) -> Tensor:
        bias = bias if isinstance(bias, Tensor) else Tensor(np.asarray(bias))
        if len(bias.shape) > 4 or any(b not in (1, s) for b, s in zip(bias.shape[::-1], scores_shape[::-1])):
            raise ValueError(f"MultiHeadAttention: bias {bias.shape} does not broadcast to the scores {scores_shape}")
        return bias


# ---- T5's relative position bias ---------------------------------------------------------


def relative_position_bucket(relative_position, bidirectional: bool = True, num_buckets: int = 32,
                             max_distance: int = 128) -> np.ndarray:
    """T5's bucket for each distance n = key position - query position (any integer array).

    Bidirectional: half the buckets for keys before the query, half (offset by that half)
    for keys after it, then n = |n|. Causal: n = max(-n, 0), all buckets for the past
    (future keys share bucket 0; the causal mask hides them anyway). With e = half the
    buckets in use, distances below e get a bucket each; beyond that the buckets grow
    logarithmically up to max_distance, and everything further shares the last one.
    """
    n = np.asarray(relative_position)
    if not np.issubdtype(n.dtype, np.integer):
        raise TypeError(f"relative_position_bucket: positions must be integers, got dtype {n.dtype}")
    buckets, given = np.zeros(n.shape, dtype=np.int64), num_buckets
    if bidirectional:
        num_buckets //= 2
        buckets += (n > 0) * num_buckets  # keys after the query use the upper half
        n = np.abs(n)
    else:
        n = np.maximum(-n, 0)
    exact = num_buckets // 2
    if exact < 1 or max_distance <= exact:
        raise ValueError(f"relative_position_bucket: need num_buckets >= {4 if bidirectional else 2} and "
                         f"max_distance > {exact}, got num_buckets {given}, "
                         f"max_distance {max_distance}")
    far = np.maximum(n, exact) / exact  # >= 1, so the log is defined everywhere
    log_bucket = exact + (np.log(far) / math.log(max_distance / exact) * (num_buckets - exact)).astype(np.int64)
    return buckets + np.where(n < exact, n, np.minimum(log_bucket, num_buckets - 1))


class RelativePositionBias(nn.Module):
    """T5's learned bias on the attention scores: one number per (distance bucket, head).

    `weight` (num_buckets, H) is HF's `relative_attention_bias` embedding: store this
    module as `<attention>.relative_attention_bias` and the key `...relative_attention_bias.weight`
    matches the checkpoint. Encoders use bidirectional=True, decoders False. init_std: T5
    draws it from N(0, d_model^-1/2); the default 1.0 is nn.Embedding's N(0, 1).
    """

    def __init__(self, n_heads: int, *, bidirectional: bool = True, num_buckets: int = 32,
                 max_distance: int = 128, rng, init_std: float = 1.0):
        rng = nn._need_rng(rng, "RelativePositionBias")
        shape = (_positive_int(num_buckets, "num_buckets"), _positive_int(n_heads, "n_heads"))
        self.weight = nn.Parameter(rng.normal(0.0, init_std, shape).astype(np.float32))
        self.bidirectional, self.num_buckets, self.max_distance = bidirectional, num_buckets, max_distance
        relative_position_bucket(np.zeros(1, dtype=np.int64), bidirectional, num_buckets, max_distance)  # validate

    def forward(self, q_len: int, k_len: int, offset: int = 0) -> Tensor:
        """Bias (1, H, q_len, k_len) for queries at positions offset .. offset + q_len - 1
        (offset = number of cached positions when decoding) and keys at 0 .. k_len - 1."""
        q_len, k_len = _positive_int(q_len, "q_len"), _positive_int(k_len, "k_len")
        if not isinstance(offset, (int, np.integer)) or offset < 0:
            raise ValueError(f"RelativePositionBias: offset must be a non-negative integer, got {offset!r}")
        query_pos = offset + np.arange(q_len)[:, None]  # (Tq, 1)
        key_pos = np.arange(k_len)[None, :]  # (1, Tk)
        buckets = relative_position_bucket(key_pos - query_pos, self.bidirectional, self.num_buckets,
                                           self.max_distance)  # (Tq, Tk)
        values = F.embedding(buckets, self.weight)  # (Tq, Tk, H): gradient flows to the table
        return values.transpose(2, 0, 1).reshape(1, self.weight.shape[1], q_len, k_len)  # (1, H, Tq, Tk)
