"""Attention: masks as hand-written grids, MultiHeadAttention against plain NumPy,
gradient checks, the key/value cache, and T5's relative position buckets by hand."""

import math

import numpy as np
import pytest

import minifm as mf
from minifm.attention import (KVCache, MultiHeadAttention, RelativePositionBias, causal_mask, cross_mask,
                              padding_mask, prefix_mask, relative_position_bucket, xlnet_masks)


def grid(rows):
    """A boolean grid from strings of 0/1, one string per query row."""
    return np.array([[c == "1" for c in row] for row in rows.split()])


def make_mha(d_model=4, n_heads=2, dtype=np.float64, seed=0, **kwargs):
    return MultiHeadAttention(d_model, n_heads, rng=np.random.default_rng(seed), **kwargs).astype(dtype)


def rand(*shape, seed=1, dtype=np.float64, requires_grad=False):
    data = np.random.default_rng(seed).standard_normal(shape).astype(dtype)
    return mf.Tensor(data, requires_grad=requires_grad)


# ---------------------------------------------------------------- masks


def test_padding_mask_marks_real_tokens_and_broadcasts_over_heads_and_queries():
    ids = np.array([[5, 6, 0, 0], [7, 0, 8, 9]])
    mask = padding_mask(ids, pad_id=0)
    assert mask.shape == (2, 1, 1, 4) and mask.dtype == np.bool_
    np.testing.assert_array_equal(mask[:, 0, 0], grid("1100 1011"))


def test_causal_mask_square_and_with_cached_keys():
    np.testing.assert_array_equal(causal_mask(3), grid("100 110 111"))
    # 2 new queries after 3 cached positions: they are positions 3 and 4 of 5
    np.testing.assert_array_equal(causal_mask(2, 5), grid("11110 11111"))
    np.testing.assert_array_equal(causal_mask(1, 4), grid("1111"))


def test_prefix_mask_is_bidirectional_in_the_prefix_and_causal_after():
    np.testing.assert_array_equal(prefix_mask(4, 2), grid("1100 1100 1110 1111"))
    np.testing.assert_array_equal(prefix_mask(3, 0), causal_mask(3))
    batched = prefix_mask(3, np.array([1, 3]))
    assert batched.shape == (2, 1, 3, 3)
    np.testing.assert_array_equal(batched[0, 0], grid("100 110 111"))
    np.testing.assert_array_equal(batched[1, 0], grid("111 111 111"))


def test_cross_mask_hides_encoder_padding_from_every_query():
    mask = cross_mask(2, np.array([[4, 5, 0]]), pad_id=0)
    assert mask.shape == (1, 1, 2, 3)
    np.testing.assert_array_equal(mask[0, 0], grid("110 110"))


def test_masks_compose_with_and():
    both = causal_mask(3) & padding_mask(np.array([[1, 2, 0]]), 0)
    assert both.shape == (1, 1, 3, 3)
    np.testing.assert_array_equal(both[0, 0], grid("100 110 110"))


# order [2, 0, 3, 1] -> rank = [1, 3, 0, 2] (position 2 comes first, position 1 last)
ORDER = [2, 0, 3, 1]


def test_xlnet_masks_follow_the_factorisation_order():
    content, query = xlnet_masks(ORDER)
    # content[i, j] = rank[j] <= rank[i]
    np.testing.assert_array_equal(content, grid("1010 1111 0010 1011"))
    # query[i, j] = rank[j] < rank[i]; position 2 is first in the order and sees nothing
    np.testing.assert_array_equal(query, grid("0010 1011 0000 1010"))


def test_xlnet_masks_with_non_targets_at_the_head_of_the_order():
    # positions 2 and 0 (first half of the order) are context; 3 and 1 are predicted
    # ranks become [-1, 3, -1, 2]: query blocked iff rank_i <= rank_j and j is a target
    content, query = xlnet_masks(ORDER, non_target=np.array([True, False, True, False]))
    np.testing.assert_array_equal(query, grid("1010 1011 1010 1010"))
    np.testing.assert_array_equal(content, grid("1010 1111 1010 1011"))


def test_xlnet_non_targets_late_in_the_order_are_still_seen_by_all():
    # non-targets 1 and 2 -> ranks [1, -1, -1, 2]; targets 0 (rank 1) and 3 (rank 2)
    content, query = xlnet_masks(ORDER, non_target=np.array([False, True, True, False]))
    np.testing.assert_array_equal(query, grid("0110 0110 0110 1110"))
    np.testing.assert_array_equal(content, grid("1110 0110 0110 1111"))


def test_xlnet_masks_all_targets_equal_the_plain_variant_and_batch():
    orders = np.array([ORDER, [0, 1, 2, 3]])
    plain = xlnet_masks(orders)
    flagged = xlnet_masks(orders, non_target=np.zeros((2, 4), dtype=bool))
    for a, b in zip(plain, flagged):
        np.testing.assert_array_equal(a, b)
    assert plain[0].shape == (2, 4, 4)
    np.testing.assert_array_equal(plain[0][1], causal_mask(4))  # identity order = left to right
    np.testing.assert_array_equal(plain[1][0], xlnet_masks(ORDER)[1])


# ---------------------------------------------------------------- MultiHeadAttention


def numpy_mha(mha, x, context=None, mask=None, bias=None, scale=None):
    """The same computation, one head at a time, in plain NumPy."""
    context = x if context is None else context
    W = {name: (getattr(mha, name).weight.data, getattr(mha, name).bias.data)
         for name in ("query", "key", "value", "output")}
    q, k, v = (src @ W[n][0].T + W[n][1] for n, src in (("query", x), ("key", context), ("value", context)))
    B, Tq, C = q.shape
    H, D = mha.n_heads, C // mha.n_heads
    heads = np.zeros((B, Tq, C))
    for b in range(B):
        for h in range(H):
            cols = slice(h * D, (h + 1) * D)
            scores = q[b, :, cols] @ k[b, :, cols].T * (1 / math.sqrt(D) if scale is None else scale)
            if bias is not None:
                scores = scores + np.broadcast_to(bias, (B, H) + scores.shape)[b, h]
            if mask is not None:
                scores = np.where(np.broadcast_to(mask, (B, H) + scores.shape)[b, h], scores, -np.inf)
            e = np.exp(scores - scores.max(axis=1, keepdims=True))
            heads[b, :, cols] = e / e.sum(axis=1, keepdims=True) @ v[b, :, cols]
    return heads @ W["output"][0].T + W["output"][1]


def test_self_and_cross_attention_shapes():
    mha = make_mha(d_model=8, n_heads=2, dtype=np.float32)
    x, enc = rand(3, 5, 8, dtype=np.float32), rand(3, 7, 8, seed=2, dtype=np.float32)
    assert mha(x).shape == (3, 5, 8) and mha(x).dtype == np.float32
    y, weights = mha(x, context=enc, return_weights=True)
    assert y.shape == (3, 5, 8) and weights.shape == (3, 2, 5, 7)
    np.testing.assert_allclose(weights.sum(axis=-1), 1.0, rtol=1e-5)


@pytest.mark.parametrize("case", ["plain", "causal", "padding", "causal_and_padding", "cross", "bias_no_scale"])
def test_mha_equals_per_head_numpy(case):
    mha = make_mha(d_model=6, n_heads=3, scale=1.0 if case == "bias_no_scale" else None)
    x, enc = rand(2, 4, 6).data, rand(2, 3, 6, seed=2).data
    pad = padding_mask(np.array([[1, 1, 1, 0], [1, 0, 1, 1]]), 0)
    mask = {"causal": causal_mask(4), "padding": pad, "causal_and_padding": pad}.get(case)
    bias = rand(1, 3, 4, 4, seed=3).data if case == "bias_no_scale" else None
    context = enc if case == "cross" else None
    got = mha(mf.Tensor(x), context=None if context is None else mf.Tensor(context), mask=mask, bias=bias,
              causal=case == "causal_and_padding")
    if case == "causal_and_padding":
        mask = causal_mask(4) & pad  # causal=True must keep the padding mask too
    expected = numpy_mha(mha, x, context, mask, bias, scale=mha.scale)
    np.testing.assert_allclose(got.data, expected, rtol=1e-12, atol=1e-12)


GRAD_CASES = {
    "self": dict(),
    "causal": dict(causal=True),
    "padding_mask": dict(mask=padding_mask(np.array([[1, 1, 0], [1, 1, 1]]), 0)),
    "bias": dict(bias="grad"),
    "mask_and_bias": dict(mask=causal_mask(3), bias="grad"),
    "cross": dict(context="grad"),
}


@pytest.mark.parametrize("name", GRAD_CASES)
def test_mha_gradcheck(name):
    kwargs = dict(GRAD_CASES[name])
    mha = make_mha(d_model=4, n_heads=2, scale=1.0 if "bias" in kwargs else None)
    x = rand(2, 3, 4, requires_grad=True)
    extra = []
    if kwargs.get("bias") == "grad":
        kwargs["bias"] = rand(1, 2, 3, 3, seed=4, requires_grad=True)
        extra.append(kwargs["bias"])
    if kwargs.get("context") == "grad":
        kwargs["context"] = rand(2, 5, 4, seed=5, requires_grad=True)
        extra.append(kwargs["context"])
    assert mf.gradcheck(lambda *inputs: mha(x, **kwargs), [x, *extra, *mha.parameters()])


def test_padding_keys_get_exactly_zero_weight_and_do_not_change_the_output():
    mha = make_mha()
    ids = np.array([[3, 4, 0], [5, 0, 0]])
    x = rand(2, 3, 4).data
    y, weights = mha(mf.Tensor(x), mask=padding_mask(ids, 0), return_weights=True)
    assert np.all(weights[0, :, :, 2] == 0.0) and np.all(weights[1, :, :, 1:] == 0.0)
    changed = x.copy()
    changed[ids == 0] = 100.0  # garbage at the padded positions
    y2 = mha(mf.Tensor(changed), mask=padding_mask(ids, 0))
    keep = ids != 0
    np.testing.assert_allclose(y2.data[keep], y.data[keep], rtol=1e-12, atol=1e-12)


def test_fully_masked_query_rows_give_zeros_not_nan():
    mha = make_mha(bias=False)
    mask = np.array([[True, True, False], [False, False, False], [True, True, True]])
    y, weights = mha(rand(2, 3, 4), mask=mask, return_weights=True)
    assert np.all(np.isfinite(y.data))
    assert np.all(weights[:, :, 1] == 0.0) and np.all(y.data[:, 1] == 0.0)
    assert np.all(y.data[:, [0, 2]] != 0.0)


def test_init_std_and_parameter_names():
    mha = MultiHeadAttention(64, 4, rng=np.random.default_rng(0), init_std=0.02)
    names = [n for n, _ in mha.named_parameters()]
    assert names == [f"{p}.{w}" for p in ("query", "key", "value", "output") for w in ("weight", "bias")]
    assert abs(mha.query.weight.data.std() - 0.02) < 0.002 and np.all(mha.output.bias.data == 0)
    no_bias = MultiHeadAttention(8, 2, bias=False, rng=np.random.default_rng(0))
    assert len(no_bias.parameters()) == 4


def test_attention_dropout_only_in_training_and_reproducible():
    x = rand(2, 5, 8, dtype=np.float32)
    a, b = (MultiHeadAttention(8, 2, dropout=0.5, rng=np.random.default_rng(7)) for _ in range(2))
    np.testing.assert_array_equal(a(x).data, b(x).data)  # same seed, same dropout draws
    trained = a(x).data
    a.eval()
    evaluated = a(x).data
    assert not np.allclose(trained, evaluated)
    np.testing.assert_array_equal(evaluated, a(x).data)  # eval: deterministic


def test_mha_gradcheck_with_attention_dropout():
    mha = make_mha(dropout=0.3)

    def same_dropout_each_call(x, *params):
        mha.rng = np.random.default_rng(11)  # reseed: every call drops the same weights
        return mha(x)
    x = rand(2, 3, 4, requires_grad=True)
    assert not np.allclose(same_dropout_each_call(x).data, mha.eval()(x).data)  # dropout is really on
    mha.train()
    assert mf.gradcheck(same_dropout_each_call, [x, *mha.parameters()])


# ---------------------------------------------------------------- key/value cache


def decode_step_by_step(layers, x, chunks, rel_bias=None):
    """Feed x (B, T, C) through the layers in chunks, one KVCache per layer."""
    caches = [KVCache() for _ in layers]
    outputs, start = [], 0
    with mf.no_grad():
        for size in chunks:
            h = x[:, start:start + size]
            for layer, cache in zip(layers, caches):
                bias = None if rel_bias is None else rel_bias(size, len(cache) + size, offset=len(cache))
                h = layer(h, causal=True, cache=cache, bias=bias)
            outputs.append(h.data)
            start += size
    assert [len(c) for c in caches] == [x.shape[1]] * len(layers)
    return np.concatenate(outputs, axis=1)


@pytest.mark.parametrize("dtype, tol", [(np.float32, 1e-5), (np.float64, 1e-10)])
@pytest.mark.parametrize("chunks", [[1] * 6, [3, 1, 2]])
def test_kv_cache_decoding_equals_the_full_causal_pass(dtype, tol, chunks):
    layers = [make_mha(d_model=8, n_heads=2, dtype=dtype, seed=s) for s in (0, 1)]
    x = rand(2, 6, 8, dtype=dtype)
    with mf.no_grad():
        full = x
        for layer in layers:
            full = layer(full, causal=True)
    np.testing.assert_allclose(decode_step_by_step(layers, x, chunks), full.data, rtol=tol, atol=tol)


def test_kv_cache_with_t5_causal_relative_bias():
    layer = make_mha(d_model=8, n_heads=2, scale=1.0)
    rel = RelativePositionBias(2, bidirectional=False, num_buckets=8, max_distance=6,
                               rng=np.random.default_rng(3)).astype(np.float64)
    x = rand(1, 7, 8)
    with mf.no_grad():
        full = layer(x, causal=True, bias=rel(7, 7))
    np.testing.assert_allclose(decode_step_by_step([layer], x, [1] * 7, rel), full.data, rtol=1e-10, atol=1e-10)


def test_kv_cache_rejects_a_different_batch():
    layer, cache = make_mha(), KVCache()
    layer(rand(2, 1, 4), cache=cache)
    with pytest.raises(ValueError, match="KVCache"):
        layer(rand(3, 1, 4), cache=cache)


# ---------------------------------------------------------------- T5 relative position bias

POSITIONS = [-200, -128, -64, -20, -8, -1, 0, 1, 8, 20, 128, 200]


def test_relative_position_bucket_bidirectional_by_hand():
    # 32 buckets -> 16 per direction, e = 8 exact; keys after the query (n > 0) add 16.
    # |n| >= 8: 8 + floor(ln(|n|/8) / ln(128/8) * 8), capped at 15
    #   200: 8 + floor(ln 25 / ln 16 * 8) = 8 + floor(9.29) = 17 -> 15
    #   128: 8 + floor(ln 16 / ln 16 * 8) = 16 -> 15
    #    64: 8 + floor(ln 8 / ln 16 * 8) = 8 + 6 = 14
    #    20: 8 + floor(ln 2.5 / ln 16 * 8) = 8 + floor(2.64) = 10
    #     8: 8 + floor(0) = 8
    expected = [15, 15, 14, 10, 8, 1, 0, 16 + 1, 16 + 8, 16 + 10, 16 + 15, 16 + 15]
    got = relative_position_bucket(np.array(POSITIONS), bidirectional=True, num_buckets=32, max_distance=128)
    assert got.tolist() == expected


def test_relative_position_bucket_causal_by_hand():
    # n = max(-n, 0): future keys (n > 0) all go to bucket 0; 32 buckets, e = 16 exact.
    # n >= 16: 16 + floor(ln(n/16) / ln(128/16) * 16), capped at 31
    #   200: 16 + floor(ln 12.5 / ln 8 * 16) = 16 + floor(19.43) = 35 -> 31
    #   128: 16 + floor(ln 8 / ln 8 * 16) = 32 -> 31
    #    64: 16 + floor(ln 4 / ln 8 * 16) = 16 + floor(10.67) = 26
    #    20: 16 + floor(ln 1.25 / ln 8 * 16) = 16 + floor(1.72) = 17
    #     8, 1, 0: below 16, exact
    expected = [31, 31, 26, 17, 8, 1, 0, 0, 0, 0, 0, 0]
    got = relative_position_bucket(np.array(POSITIONS), bidirectional=False, num_buckets=32, max_distance=128)
    assert got.tolist() == expected


def test_relative_position_bucket_keeps_the_array_shape():
    n = np.arange(4)[None, :] - np.arange(3)[:, None]  # (3, 4) key - query
    got = relative_position_bucket(n)
    assert got.shape == (3, 4)
    np.testing.assert_array_equal(got, [[0, 17, 18, 19], [1, 0, 17, 18], [2, 1, 0, 17]])


def test_relative_position_bias_shape_values_and_offset():
    rel = RelativePositionBias(3, rng=np.random.default_rng(0))
    bias = rel(2, 4)
    assert bias.shape == (1, 3, 2, 4)
    table = rel.weight.data
    # query 1, key 3: n = +2 -> bucket 16 + 2; query 0, key 0 -> bucket 0
    np.testing.assert_array_equal(bias.data[0, :, 1, 3], table[18])
    np.testing.assert_array_equal(bias.data[0, :, 0, 0], table[0])
    np.testing.assert_array_equal(rel(1, 4, offset=3).data, rel(4, 4).data[:, :, 3:])  # last row when cached
    assert [n for n, _ in rel.named_parameters()] == ["weight"]


def test_relative_position_bias_gradcheck():
    rel = RelativePositionBias(2, num_buckets=8, max_distance=16, rng=np.random.default_rng(0)).astype(np.float64)
    assert mf.gradcheck(lambda w: rel(3, 5, offset=1), [rel.weight])


# ---------------------------------------------------------------- bad input


@pytest.mark.parametrize("make, error, text", [
    (lambda: MultiHeadAttention(10, 3, rng=np.random.default_rng(0)), ValueError, "divisible"),
    (lambda: MultiHeadAttention(8, 2, rng=None), TypeError, "rng"),
    (lambda: MultiHeadAttention(8, 2, dropout=1.0, rng=np.random.default_rng(0)), ValueError, "dropout"),
    (lambda: make_mha()(rand(2, 3, 5)), ValueError, r"\(B, T, 4\)"),
    (lambda: make_mha()(rand(3, 4)), ValueError, r"\(B, T, 4\)"),
    (lambda: make_mha()(rand(2, 3, 4), context=rand(3, 3, 4)), ValueError, "batch"),
    (lambda: make_mha()(rand(2, 3, 4), context=rand(2, 3, 4), causal=True), ValueError, "self-attention"),
    (lambda: make_mha()(rand(2, 3, 4), cache={}), TypeError, "KVCache"),
    (lambda: make_mha()(rand(2, 3, 4), mask=np.ones((3, 3))), TypeError, "boolean"),
    (lambda: make_mha()(rand(2, 3, 4), bias=np.zeros((1, 2, 3, 4))), ValueError, "bias"),
    (lambda: make_mha()(rand(2, 3, 4), mask=np.ones((4, 4), dtype=bool)), ValueError, "broadcast"),
    (lambda: padding_mask(np.array([[1.0, 0.0]]), 0), TypeError, "integer ids"),
    (lambda: causal_mask(3, 2), ValueError, "T_k"),
    (lambda: causal_mask(0), ValueError, "positive"),
    (lambda: prefix_mask(3, 4), ValueError, "prefix_len"),
    (lambda: xlnet_masks([0, 2, 2]), ValueError, "permutation"),
    (lambda: xlnet_masks([0, 1, 2], non_target=[1, 0, 0]), ValueError, "non_target"),
    (lambda: relative_position_bucket(np.array([0.5])), TypeError, "integers"),
    (lambda: relative_position_bucket(np.array([3]), num_buckets=2), ValueError, "num_buckets"),
    (lambda: RelativePositionBias(2, rng=np.random.default_rng(0))(2, 3, offset=-1), ValueError, "offset"),
])
def test_bad_input_raises_a_clear_error(make, error, text):
    with pytest.raises(error, match=text):
        make()
