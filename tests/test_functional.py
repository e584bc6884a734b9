"""minifm.functional: gradient checks, fused == composed, stability, bad input."""

import math

import numpy as np
import pytest

import minifm as mf
import minifm.functional as F


def rand(*shape, seed=0):
    return mf.Tensor(np.random.default_rng(seed + 7 * len(shape)).standard_normal(shape), requires_grad=True)


IDS = np.array([[0, 1, 1], [3, 3, 3]])  # repeated ids: gradients must add up
TARGETS = np.array([[1, 2, -100], [0, 4, 4]])  # one ignored
SOFT = np.random.default_rng(1).random((3, 4))
BOOL = np.random.default_rng(2).random((3, 4)) > 0.5
CAUSAL_NO_FIRST = np.tril(np.ones((4, 4), bool)) & (np.arange(4) > 0)[:, None]  # row 0 sees nothing
TEACHER = np.random.default_rng(3).standard_normal((3, 5))

FUNCTIONS = [
    ("relu", F.relu, [(3, 5)]),
    ("sigmoid", F.sigmoid, [(3, 5)]),
    ("tanh", F.tanh, [(3, 5)]),
    ("gelu exact", F.gelu, [(3, 5)]),
    ("gelu tanh", lambda x: F.gelu(x, approximate="tanh"), [(3, 5)]),
    ("quick_gelu", F.quick_gelu, [(3, 5)]),
    ("softmax last axis", F.softmax, [(2, 3, 5)]),
    ("softmax axis 0", lambda x: F.softmax(x, axis=0), [(3, 5)]),
    ("log_softmax", F.log_softmax, [(2, 3, 5)]),
    ("linear 3d input", F.linear, [(2, 3, 4), (5, 4), (5,)]),
    ("linear no bias", F.linear, [(3, 4), (5, 4)]),
    ("embedding repeated ids", lambda w: F.embedding(IDS, w), [(4, 3)]),
    ("layer_norm", F.layer_norm, [(2, 3, 6), (6,), (6,)]),
    ("layer_norm no affine", lambda x: F.layer_norm(x, None, None), [(4, 6)]),
    ("rms_norm", F.rms_norm, [(2, 3, 6), (6,)]),
    ("concat axis 1", lambda a, b: F.concat([a, b], axis=1), [(2, 3), (2, 4)]),
    ("stack axis 1", lambda a, b: F.stack([a, b], axis=1), [(2, 3), (2, 3)]),
    ("where broadcast", lambda a, b: F.where(BOOL, a, b), [(3, 4), (4,)]),
    ("masked_fill", lambda a: F.masked_fill(a, BOOL, -1.0), [(3, 4)]),
    ("attention", lambda q, k, v: F.scaled_dot_product_attention(q, k, v), [(2, 4, 3), (2, 5, 3), (2, 5, 2)]),
    ("attention masked + bias", lambda q, k, v, b: F.scaled_dot_product_attention(q, k, v, CAUSAL_NO_FIRST, bias=b),
     [(2, 2, 4, 3), (2, 2, 4, 3), (2, 2, 4, 5), (2, 4, 4)]),
    ("attention unscaled", lambda q, k, v: F.scaled_dot_product_attention(q, k, v, scale=1.0),
     [(3, 2), (4, 2), (4, 2)]),
    ("cross_entropy mean", lambda x: F.cross_entropy(x, TARGETS), [(2, 3, 5)]),
    ("cross_entropy sum", lambda x: F.cross_entropy(x, TARGETS, reduction="sum"), [(2, 3, 5)]),
    ("cross_entropy none", lambda x: F.cross_entropy(x, TARGETS, reduction="none"), [(2, 3, 5)]),
    ("bce with logits", lambda x: F.binary_cross_entropy_with_logits(x, SOFT), [(3, 4)]),
    ("bce with logits masked", lambda x: F.binary_cross_entropy_with_logits(x, SOFT, mask=BOOL), [(3, 4)]),
    ("cosine_similarity", F.cosine_similarity, [(3, 4), (3, 4)]),
    ("cosine_embedding_loss", F.cosine_embedding_loss, [(3, 4), (3, 4)]),
    ("distillation_loss", lambda s: F.distillation_loss(s, TEACHER, 2.0), [(3, 5)]),
    ("clip_loss", F.clip_loss, [(4, 3), (4, 3), ()]),
]


@pytest.mark.parametrize("name, fn, shapes", FUNCTIONS, ids=[row[0] for row in FUNCTIONS])
def test_function_gradients(name, fn, shapes):
    assert mf.gradcheck(fn, [rand(*s, seed=i) for i, s in enumerate(shapes)])


def test_attention_dropout_keeps_float32():
    q, k, v = (mf.Tensor(np.ones((2, 3, 4), dtype=np.float32), requires_grad=True) for _ in range(3))
    out = F.scaled_dot_product_attention(q, k, v, dropout_p=0.5, rng=np.random.default_rng(0))
    out.sum().backward()
    assert out.dtype == np.float32 and q.grad.dtype == np.float32


def test_attention_dropout_gradient_with_a_fixed_mask():
    q, k, v = rand(2, 4, 3), rand(2, 5, 3, seed=1), rand(2, 5, 2, seed=2)
    # the same seed each call: the same dropout mask, so the function is deterministic
    fn = lambda q, k, v: F.scaled_dot_product_attention(q, k, v, dropout_p=0.3, rng=np.random.default_rng(5))
    assert mf.gradcheck(fn, [q, k, v])


# ---- erf ------------------------------------------------------------------


def test_erf_matches_math_erf_to_1e_minus_12():
    x = np.concatenate([np.linspace(-7, 7, 20001), [0.0, 1.0, -1.0, 0.999999, 1e-9, 30.0, -30.0]])
    reference = np.array([math.erf(v) for v in x])
    assert np.max(np.abs(F.erf(x) - reference)) < 1e-12


def test_erf_in_float32_stays_float32():
    out = F.erf(np.linspace(-3, 3, 7, dtype=np.float32))
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, [math.erf(v) for v in np.linspace(-3, 3, 7)], atol=1e-7)


# ---- fused ops equal their compositions -----------------------------------


def test_fused_equals_composed():
    x, w, b = rand(2, 3, 6), rand(6, seed=1), rand(6, seed=2)
    mean = x.mean(axis=-1, keepdims=True)
    var = ((x - mean) * (x - mean)).mean(axis=-1, keepdims=True)
    composed_ln = (x - mean) / (var + 1e-5).sqrt() * w + b
    np.testing.assert_allclose(F.layer_norm(x, w, b).data, composed_ln.data, atol=1e-12)

    e = (x - x.max(axis=-1, keepdims=True)).exp()
    np.testing.assert_allclose(F.softmax(x).data, (e / e.sum(axis=-1, keepdims=True)).data, atol=1e-12)
    np.testing.assert_allclose(F.log_softmax(x).data, np.log(F.softmax(x).data), atol=1e-12)

    tanh_form = 0.5 * x * (1.0 + ((x + 0.044715 * x ** 3) * math.sqrt(2 / math.pi)).tanh())
    np.testing.assert_allclose(F.gelu(x, "tanh").data, tanh_form.data, atol=1e-12)
    exact = 0.5 * x.data * (1 + np.array([math.erf(v / math.sqrt(2)) for v in x.data.ravel()]).reshape(x.shape))
    np.testing.assert_allclose(F.gelu(x).data, exact, atol=1e-12)

    logits, targets = rand(4, 5), np.array([0, 3, 3, 1])
    picked = F.log_softmax(logits)[np.arange(4), targets]
    np.testing.assert_allclose(F.cross_entropy(logits, targets).data, -picked.mean().data, atol=1e-12)

    q, k, v = rand(2, 4, 3), rand(2, 5, 3, seed=1), rand(2, 5, 2, seed=2)
    att = F.softmax(q @ k.transpose(0, 2, 1) * (1 / math.sqrt(3))) @ v
    np.testing.assert_allclose(F.scaled_dot_product_attention(q, k, v).data, att.data, atol=1e-12)

    weight, bias = rand(5, 6), rand(5, seed=3)
    np.testing.assert_allclose(F.linear(x, weight, bias).data, (x @ weight.T + bias).data, atol=1e-12)


# ---- stability --------------------------------------------------------------


def test_extreme_logits_give_finite_loss_and_gradients():
    logits = mf.Tensor(np.array([[1e4, -1e4, 0.0], [-1e4, 1e4, 0.0]], dtype=np.float32), requires_grad=True)
    loss = F.cross_entropy(logits, np.array([1, 1]))
    loss.backward()
    assert np.isfinite(loss.data) and np.all(np.isfinite(logits.grad))
    assert loss.item() == pytest.approx(1e4)  # row 0 is wrong by 2e4, row 1 right: (2e4 + 0) / 2
    for fn in (F.softmax, F.log_softmax, F.sigmoid, F.gelu):
        x = mf.Tensor(np.array([1e4, -1e4, 0.0], dtype=np.float32), requires_grad=True)
        y = fn(x)
        y.backward(np.ones(3, dtype=np.float32))
        assert np.all(np.isfinite(y.data)) and np.all(np.isfinite(x.grad)), fn.__name__
    bce = F.binary_cross_entropy_with_logits(mf.Tensor(np.array([1e4, -1e4]), requires_grad=True),
                                             np.array([0.0, 1.0]))
    assert bce.item() == pytest.approx(1e4)


def test_fully_masked_attention_row_gives_zeros_not_nan():
    q, k, v = rand(1, 3, 2), rand(1, 3, 2, seed=1), rand(1, 3, 2, seed=2)
    mask = np.array([[False, False, False], [True, False, False], [True, True, True]])
    out, weights = F.scaled_dot_product_attention(q, k, v, mask, return_weights=True)
    out.sum().backward()
    assert np.all(out.data[0, 0] == 0) and np.all(weights[0, 0] == 0)
    assert np.all(np.isfinite(q.grad)) and np.all(np.isfinite(k.grad))
    np.testing.assert_allclose(weights[0].sum(axis=-1), [0, 1, 1])
    assert weights[0, 1, 1] == 0 and weights[0, 1, 0] == 1


def test_all_ignored_targets_give_zero_loss():
    logits = rand(2, 3)
    loss = F.cross_entropy(logits, np.array([-100, -100]))
    loss.backward()
    assert loss.item() == 0 and np.all(logits.grad == 0)


def test_dropout_scales_kept_values_and_is_identity_in_eval():
    x = mf.Tensor(np.ones((200, 200), dtype=np.float32))
    y = F.dropout(x, 0.25, training=True, rng=np.random.default_rng(0)).data
    assert set(np.unique(y)) == {0.0, np.float32(1 / 0.75)}
    assert abs((y == 0).mean() - 0.25) < 0.01
    assert F.dropout(x, 0.25, training=False) is x


# ---- bad input ------------------------------------------------------------------

BAD_INPUTS = [
    ("float targets", lambda: F.cross_entropy(rand(2, 3), np.array([0.0, 1.0])), TypeError, "integer"),
    ("class id out of range", lambda: F.cross_entropy(rand(2, 3), np.array([0, 3])), ValueError,
     "target class 3 is out of range for 3 classes"),
    ("negative class id", lambda: F.cross_entropy(rand(2, 3), np.array([0, -2])), ValueError, "class -2"),
    ("target shape", lambda: F.cross_entropy(rand(2, 3), np.array([0, 1, 2])), ValueError, r"shape \(2,\)"),
    ("linear in_features", lambda: F.linear(rand(2, 3), rand(4, 5)), ValueError, "has 3 features"),
    ("embedding id range", lambda: F.embedding(np.array([9000]), rand(512, 4)), ValueError,
     "token id 9000 is out of range for a table of 512 rows"),
    ("embedding float ids", lambda: F.embedding(np.array([1.0]), rand(5, 4)), TypeError, "integer"),
    ("dropout p 1.5", lambda: F.dropout(rand(2), 1.5), ValueError, r"\[0, 1\), got 1.5"),
    ("dropout no rng", lambda: F.dropout(rand(2), 0.5), ValueError, "rng"),
    ("bce probabilities", lambda: F.binary_cross_entropy_with_logits(rand(2), np.array([0.5, 1.5])),
     ValueError, r"\[0, 1\]"),
    ("bce shape", lambda: F.binary_cross_entropy_with_logits(rand(2), np.array([0.5])), ValueError, "shape"),
    ("mask dtype", lambda: F.scaled_dot_product_attention(rand(2, 3), rand(2, 3), rand(2, 3), np.ones((2, 2))),
     TypeError, "boolean"),
    ("mask shape", lambda: F.scaled_dot_product_attention(rand(2, 3), rand(2, 3), rand(2, 3),
                                                          np.ones((3, 3), bool)), ValueError, "broadcast"),
    ("attention shapes", lambda: F.scaled_dot_product_attention(rand(2, 3), rand(2, 4), rand(2, 3)),
     ValueError, "q"),
    ("bias shape", lambda: F.scaled_dot_product_attention(rand(2, 3, 3), rand(2, 3, 3), rand(2, 3, 3),
                                                          bias=rand(1, 2, 5)), ValueError, "bias"),
    ("gelu form", lambda: F.gelu(rand(2), approximate="fast"), ValueError, "none"),
    ("temperature", lambda: F.distillation_loss(rand(2, 3), np.zeros((2, 3)), 0.0), ValueError, "positive"),
    ("clip shapes", lambda: F.clip_loss(rand(3, 2), rand(4, 2), 1.0), ValueError, "equal shape"),
]


@pytest.mark.parametrize("name, call, error, message", BAD_INPUTS, ids=[row[0] for row in BAD_INPUTS])
def test_bad_input_fails_early_and_clearly(name, call, error, message):
    with pytest.raises(error, match=message):
        call()
