"""Differentiable functions built on the Tensor engine: `import minifm.functional as F`.

Most functions here are compositions of Tensor ops, so their backward comes for free.
A few are written as *one* op with a hand-derived backward, because composing them
would be slow (many temporaries per step) or unstable (exp overflow): softmax,
log_softmax, cross_entropy, layer_norm, rms_norm, gelu, linear, embedding and
attention. Each of those has a test showing it equals the composed version and a
gradient check against finite differences.

Shape letters: B batch, T time (sequence), C channels, V vocabulary, H heads, D head size.

Stability rules, kept in one place:
- softmax and log_softmax subtract the row maximum before exp;
- cross-entropy works from log_softmax (log-sum-exp), never log(softmax);
- boolean masks are applied with np.where; a row with nothing to attend to gives
  zeros, not NaN; a loss whose targets are all ignored is 0.
"""

from __future__ import annotations

import math

import numpy as np

from .tensor import Tensor, as_array, make_op, unbroadcast

# ============================================================================
# Argument checks: fail early, naming what we got and what we expected
# ============================================================================


def _tensor(x, name: str) -> Tensor:
    if isinstance(x, Tensor):
        return x
    if isinstance(x, (np.ndarray, np.generic, float, int, list)):
        return Tensor(np.asarray(x))
    raise TypeError(f"{name} must be a Tensor or an array, got {type(x).__name__}")


def _int_array(x, name: str) -> np.ndarray:
    x = as_array(x)
    if not np.issubdtype(x.dtype, np.integer):
        raise TypeError(f"{name} must hold integer ids, got dtype {x.dtype}")
    return x


def _bool_mask(mask, name: str = "mask") -> np.ndarray:
    mask = as_array(mask)
    if mask.dtype != np.bool_:
        raise TypeError(f"{name} must be a boolean array (True = keep/attend), got dtype {mask.dtype}")
    return mask


def _check_broadcast(shape_a, shape_b, what: str):
    try:
        np.broadcast_shapes(shape_a, shape_b)
    except ValueError:
        raise ValueError(f"{what}: shapes {tuple(shape_a)} and {tuple(shape_b)} do not broadcast") from None


# ============================================================================
# Activations
# ============================================================================


def relu(x: Tensor) -> Tensor:
    x = _tensor(x, "relu input")
    # d relu(x)/dx = 1 where x > 0, else 0
    def backward(g):
        x._accumulate(g * (x.data > 0))
    return make_op(np.maximum(x.data, 0), (x,), backward)


def sigmoid(x: Tensor) -> Tensor:
    x = _tensor(x, "sigmoid input")
    out = 0.5 * (1.0 + np.tanh(0.5 * x.data))  # = 1 / (1 + e^-x), without overflow

    # d sigmoid(x)/dx = s(1 - s)
    def backward(g):
        x._accumulate(g * out * (1.0 - out))
    return make_op(out, (x,), backward)


def tanh(x: Tensor) -> Tensor:
    return _tensor(x, "tanh input").tanh()


# erf(x) as two rational approximations (the coefficients are Cephes' ndtr.c):
# x * T(x^2) / U(x^2) for |x| < 1, and 1 - e^(-x^2) P(|x|) / Q(|x|) beyond.
# Both are accurate to about 1e-16 in float64; NumPy has no erf of its own.
_ERF_T = (9.60497373987051638749e0, 9.00260197203842689217e1, 2.23200534594684319226e3,
          7.00332514112805075473e3, 5.55923013010394962768e4)
_ERF_U = (1.0, 3.35617141647503099647e1, 5.21357949780152679795e2, 4.59432382970980127987e3,
          2.26290000613890934246e4, 4.92673942608635921086e4)
_ERFC_P = (2.46196981473530512524e-10, 5.64189564831068821977e-1, 7.46321056442269912687e0,
           4.86371970985681366614e1, 1.96520832956077098242e2, 5.26445194995477358631e2,
           9.34528527171957607540e2, 1.02755188689515710272e3, 5.57535335369399327526e2)
_ERFC_Q = (1.0, 1.32281951154744992508e1, 8.67072140885989742329e1, 3.54937778887819891062e2,
           9.75708501743205489753e2, 1.82390916687909736289e3, 2.24633760818710981792e3,
           1.65666309194161350182e3, 5.57535340817727675546e2)


def _polynomial(coefficients, x):
    """Horner's rule, highest power first; Python-float coefficients keep x's dtype."""
    result = np.full_like(x, coefficients[0])
    for c in coefficients[1:]:
        result *= x
        result += c
    return result


def erf(x: np.ndarray) -> np.ndarray:
    """The error function erf(x) = 2/sqrt(pi) * integral_0^x e^(-t^2) dt, elementwise."""
    x = np.asarray(x, dtype=np.result_type(x, np.float32))
    out = np.empty_like(x)
    a = np.abs(x)
    near = a < 1.0
    z = x[near]
    out[near] = z * _polynomial(_ERF_T, z * z) / _polynomial(_ERF_U, z * z)
    far = np.minimum(a[~near], 6.0)  # erfc(6) ~ 2e-17: erf is 1 to double precision beyond
    erfc = np.exp(-far * far) * _polynomial(_ERFC_P, far) / _polynomial(_ERFC_Q, far)
    out[~near] = np.sign(x[~near]) * (1.0 - erfc)
    return out


_SQRT_HALF = math.sqrt(0.5)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)
_SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)


def gelu(x: Tensor, approximate: str = "none") -> Tensor:
    """GELU(x) = x * Phi(x), Phi the standard normal CDF (BERT, GPT, ...).

    approximate="none": exact, 0.5 x (1 + erf(x / sqrt 2)).
    approximate="tanh": 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))), GPT-2's form.
    """
    x = _tensor(x, "gelu input")
    xd = x.data
    if approximate == "none":
        cdf = 0.5 * (1.0 + erf(xd * _SQRT_HALF))

        # d/dx x Phi(x) = Phi(x) + x phi(x), phi the normal density
        def backward(g):
            d = xd * xd  # one buffer, updated in place: this runs on every MLP activation
            d *= -0.5
            np.exp(d, out=d)
            d *= _INV_SQRT_2PI
            d *= xd
            d += cdf
            d *= g
            x._accumulate(d)
        return make_op(xd * cdf, (x,), backward)
    if approximate == "tanh":
        t = np.tanh(_SQRT_2_OVER_PI * (xd + 0.044715 * xd * xd * xd))

        # d/dx 0.5 x (1 + t) = 0.5 (1 + t) + 0.5 x (1 - t^2) sqrt(2/pi) (1 + 3 * 0.044715 x^2)
        def backward(g):
            dt = xd * xd  # two buffers, updated in place: this runs on every MLP activation
            dt *= 0.134145 * _SQRT_2_OVER_PI
            dt += _SQRT_2_OVER_PI
            d = t * t
            np.subtract(1.0, d, out=d)
            d *= xd
            d *= dt
            d += t
            d += 1.0
            d *= 0.5
            d *= g
            x._accumulate(d)
        return make_op(0.5 * xd * (1.0 + t), (x,), backward)
    raise ValueError(f'gelu: approximate must be "none" or "tanh", got {approximate!r}')


def quick_gelu(x: Tensor) -> Tensor:
    """CLIP's cheap GELU: x * sigmoid(1.702 x)."""
    return x * sigmoid(x * 1.702)


# ============================================================================
# Softmax family
# ============================================================================


def _softmax_array(z: np.ndarray, axis: int) -> np.ndarray:
    e = np.exp(z - z.max(axis=axis, keepdims=True))  # shift: the largest exponent is 0
    return e / e.sum(axis=axis, keepdims=True)


def softmax(x: Tensor, axis: int = -1) -> Tensor:
    x = _tensor(x, "softmax input")
    out = _softmax_array(x.data, axis)

    # dy_i/dx_j = y_i (delta_ij - y_j)  =>  dx = y * (g - sum(g * y))
    def backward(g):
        x._accumulate(out * (g - (g * out).sum(axis=axis, keepdims=True)))
    return make_op(out, (x,), backward)


def log_softmax(x: Tensor, axis: int = -1) -> Tensor:
    x = _tensor(x, "log_softmax input")
    shifted = x.data - x.data.max(axis=axis, keepdims=True)
    out = shifted - np.log(np.exp(shifted).sum(axis=axis, keepdims=True))

    # d log_softmax(x)_i / dx_j = delta_ij - softmax(x)_j  =>  dx = g - softmax * sum(g)
    def backward(g):
        x._accumulate(g - np.exp(out) * g.sum(axis=axis, keepdims=True))
    return make_op(out, (x,), backward)


# ============================================================================
# Linear layers, embeddings, normalisation, dropout
# ============================================================================


def linear(x: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """y = x W^T + b, with W of shape (out_features, in_features) as in PyTorch."""
    x, weight = _tensor(x, "linear input"), _tensor(weight, "linear weight")
    bias = None if bias is None else _tensor(bias, "linear bias")
    if x.shape[-1] != weight.shape[1]:
        raise ValueError(f"linear: input has {x.shape[-1]} features (shape {x.shape}) but the weight "
                         f"{weight.shape} expects {weight.shape[1]}")
    x2 = x.data.reshape(-1, x.shape[-1])  # fold every leading axis into rows: one matmul
    out = x2 @ weight.data.T
    if bias is not None:
        out += bias.data
    parents = (x, weight) if bias is None else (x, weight, bias)

    # dy/dx = W, dy/dW = x (summed over rows), dy/db = 1 (summed over rows)
    def backward(g):
        g2 = g.reshape(-1, g.shape[-1])
        if x.requires_grad:
            x._accumulate((g2 @ weight.data).reshape(x.shape))
        if weight.requires_grad:
            weight._accumulate(g2.T @ x2)
        if bias is not None and bias.requires_grad:
            bias._accumulate(g2.sum(axis=0))
    return make_op(out.reshape(x.shape[:-1] + (weight.shape[0],)), parents, backward)


def embedding(ids, weight: Tensor) -> Tensor:
    """Rows of `weight` (V, C) picked by integer `ids` of any shape -> ids.shape + (C,)."""
    ids = _int_array(ids, "embedding ids")
    vocab = weight.shape[0]
    if ids.size and (ids.min() < 0 or ids.max() >= vocab):
        bad = ids.max() if ids.max() >= vocab else ids.min()
        raise ValueError(f"embedding: token id {bad} is out of range for a table of {vocab} rows")

    # d weight[ids] / d weight: each use of a row sends its gradient back to that row
    def backward(g):
        grad = np.zeros_like(weight.data)
        np.add.at(grad, ids.reshape(-1), g.reshape(-1, weight.shape[1]))
        weight._accumulate(grad)
    return make_op(weight.data[ids], (weight,), backward)


def layer_norm(x: Tensor, weight: Tensor | None, bias: Tensor | None, eps: float = 1e-5) -> Tensor:
    """Normalise the last axis to zero mean and unit variance, then scale and shift."""
    x = _tensor(x, "layer_norm input")
    if weight is not None and weight.shape != x.shape[-1:]:
        raise ValueError(f"layer_norm: weight shape {weight.shape} does not match the last axis of {x.shape}")
    mean = x.data.mean(axis=-1, keepdims=True)
    centred = x.data - mean
    rstd = 1.0 / np.sqrt((centred * centred).mean(axis=-1, keepdims=True) + eps)  # (..., 1)
    xhat = centred * rstd
    out = xhat * weight.data if weight is not None else xhat.copy()
    if bias is not None:
        out += bias.data
    parents = tuple(t for t in (x, weight, bias) if t is not None)

    # with xhat = (x - mean) * rstd and d = g * w:
    # dx = rstd * (d - mean(d) - xhat * mean(d * xhat)); dw = sum(g * xhat); db = sum(g)
    def backward(g):
        rows = g.reshape(-1, g.shape[-1])
        if weight is not None and weight.requires_grad:
            weight._accumulate((rows * xhat.reshape(rows.shape)).sum(axis=0))
        if bias is not None and bias.requires_grad:
            bias._accumulate(rows.sum(axis=0))
        if x.requires_grad:
            d = g * weight.data if weight is not None else g
            x._accumulate(rstd * (d - d.mean(axis=-1, keepdims=True)
                                  - xhat * (d * xhat).mean(axis=-1, keepdims=True)))
    return make_op(out, parents, backward)


def rms_norm(x: Tensor, weight: Tensor | None, eps: float = 1e-6) -> Tensor:
    """T5's norm: x / sqrt(mean(x^2) + eps) * w. No mean subtraction, no bias."""
    x = _tensor(x, "rms_norm input")
    rstd = 1.0 / np.sqrt((x.data * x.data).mean(axis=-1, keepdims=True) + eps)
    xhat = x.data * rstd
    parents = (x,) if weight is None else (x, weight)

    # dx = rstd * (d - xhat * mean(d * xhat)), d = g * w
    def backward(g):
        if weight is not None and weight.requires_grad:
            weight._accumulate((g * xhat).reshape(-1, g.shape[-1]).sum(axis=0))
        if x.requires_grad:
            d = g * weight.data if weight is not None else g
            x._accumulate(rstd * (d - xhat * (d * xhat).mean(axis=-1, keepdims=True)))
    return make_op(xhat * weight.data if weight is not None else xhat, parents, backward)


def dropout(x: Tensor, p: float, training: bool = True, rng: np.random.Generator | None = None) -> Tensor:
    """Zero each element with probability p and scale the rest by 1/(1-p) (inverted dropout)."""
    if not 0.0 <= p < 1.0:
        raise ValueError(f"dropout probability must be in [0, 1), got {p}")
    x = _tensor(x, "dropout input")
    if not training or p == 0.0:
        return x
    if rng is None:
        raise ValueError("dropout in training mode needs rng=np.random.Generator (minifm has no hidden seed)")
    keep = (rng.random(x.shape, dtype=np.float32) >= p).astype(x.dtype) * (1.0 / (1.0 - p))
    return x * keep


# ============================================================================
# Combining tensors
# ============================================================================


def concat(tensors, axis: int = 0) -> Tensor:
    tensors = [_tensor(t, "concat input") for t in tensors]
    ends = np.cumsum([t.shape[axis] for t in tensors])

    # each input gets back its own slice of the gradient
    def backward(g):
        for t, piece in zip(tensors, np.split(g, ends[:-1], axis=axis)):
            t._accumulate(piece)
    return make_op(np.concatenate([t.data for t in tensors], axis=axis), tuple(tensors), backward)


def stack(tensors, axis: int = 0) -> Tensor:
    tensors = [_tensor(t, "stack input") for t in tensors]

    def backward(g):
        for i, t in enumerate(tensors):
            t._accumulate(np.take(g, i, axis=axis))
    return make_op(np.stack([t.data for t in tensors], axis=axis), tuple(tensors), backward)


def where(condition, a, b) -> Tensor:
    """a where condition is True, else b (elementwise, broadcasting)."""
    condition = _bool_mask(condition, "where condition")
    a, b = _tensor(a, "where a"), _tensor(b, "where b")

    # the gradient flows to whichever side was chosen
    def backward(g):
        a._accumulate(unbroadcast(np.where(condition, g, 0.0), a.shape))
        b._accumulate(unbroadcast(np.where(condition, 0.0, g), b.shape))
    return make_op(np.where(condition, a.data, b.data).astype(np.result_type(a.data, b.data)), (a, b), backward)


def masked_fill(x: Tensor, mask, value: float) -> Tensor:
    """x with `value` wherever mask is True (as torch.masked_fill)."""
    mask = _bool_mask(mask)
    _check_broadcast(mask.shape, x.shape, "masked_fill mask vs input")
    return where(mask, Tensor(np.asarray(value, dtype=x.dtype)), x)


# ============================================================================
# Attention
# ============================================================================


def scaled_dot_product_attention(q: Tensor, k: Tensor, v: Tensor, mask=None, *, bias: Tensor | None = None,
                                 scale: float | None = None, dropout_p: float = 0.0,
                                 rng: np.random.Generator | None = None, return_weights: bool = False):
    """softmax(q k^T * scale + bias, masked) v, as one op.

    q (..., Tq, D), k (..., Tk, D), v (..., Tk, Dv). `mask` is boolean, broadcastable
    to (..., Tq, Tk), True = may attend. `bias` is added to the scores (T5's relative
    position bias). scale defaults to 1/sqrt(D). A query row that may attend to
    nothing gets zero weights (and a zero output), not NaN. With return_weights=True
    the attention probabilities come back too, as a plain array for plotting.
    """
    q, k, v = _tensor(q, "attention q"), _tensor(k, "attention k"), _tensor(v, "attention v")
    bias = None if bias is None else _tensor(bias, "attention bias")
    if q.shape[-1] != k.shape[-1] or k.shape[-2] != v.shape[-2]:
        raise ValueError(f"attention: q {q.shape}, k {k.shape}, v {v.shape} must be (..., Tq, D), "
                         f"(..., Tk, D), (..., Tk, Dv)")
    scale = 1.0 / math.sqrt(q.shape[-1]) if scale is None else float(scale)
    kt = np.swapaxes(k.data, -1, -2)
    scores = (q.data @ kt) * scale  # (..., Tq, Tk)
    if bias is not None:
        _check_broadcast(bias.shape, scores.shape, "attention bias vs scores (..., Tq, Tk)")
        scores = scores + bias.data
    if mask is not None:
        mask = _bool_mask(mask)
        _check_broadcast(mask.shape, scores.shape, "attention mask vs scores (..., Tq, Tk)")
        scores = np.where(mask, scores, -np.inf)
    top = scores.max(axis=-1, keepdims=True)
    top = np.where(np.isfinite(top), top, 0.0)  # a fully masked row: exp(-inf) = 0 everywhere
    e = np.exp(scores - top)
    total = e.sum(axis=-1, keepdims=True)
    probs = e / np.where(total > 0, total, 1.0)
    weights = probs
    if dropout_p > 0.0:
        if rng is None:
            raise ValueError("attention dropout needs rng=np.random.Generator")
        keep = (rng.random(probs.shape, dtype=np.float32) >= dropout_p).astype(probs.dtype) * (1.0 / (1.0 - dropout_p))
        weights = probs * keep
    out = weights @ v.data  # (..., Tq, Dv)
    parents = tuple(t for t in (q, k, v, bias) if t is not None)

    # y = W v: dW = g v^T, dv = W^T g; through softmax: ds = p * (dp - sum(dp * p));
    # scores = q k^T * scale: dq = ds k * scale, dk = ds^T q * scale
    def backward(g):
        if v.requires_grad:
            v._accumulate(unbroadcast(np.swapaxes(weights, -1, -2) @ g, v.shape))
        dp = g @ np.swapaxes(v.data, -1, -2)
        if dropout_p > 0.0:
            dp = dp * keep
        ds = probs * (dp - (dp * probs).sum(axis=-1, keepdims=True))
        if bias is not None and bias.requires_grad:
            bias._accumulate(unbroadcast(ds, bias.shape))
        if q.requires_grad:
            q._accumulate(unbroadcast((ds @ k.data) * scale, q.shape))
        if k.requires_grad:
            k._accumulate(unbroadcast((np.swapaxes(ds, -1, -2) @ q.data) * scale, k.shape))
    result = make_op(out, parents, backward)
    return (result, probs) if return_weights else result


# ============================================================================
# Losses
# ============================================================================


def cross_entropy(logits: Tensor, targets, ignore_index: int = -100, reduction: str = "mean") -> Tensor:
    """-log softmax(logits)[target], averaged over the targets that are not ignored.

    logits (..., V), integer targets (...). Targets equal to `ignore_index` take no
    loss (padding, unmasked tokens). If every target is ignored the loss is 0.
    reduction: "mean" (default), "sum", or "none" (per-target losses, 0 where ignored).
    """
    logits = _tensor(logits, "cross_entropy logits")
    targets = _int_array(targets, "cross_entropy targets")
    if targets.shape != logits.shape[:-1]:
        raise ValueError(f"cross_entropy: targets of shape {targets.shape} do not match logits "
                         f"{logits.shape}; expected targets of shape {logits.shape[:-1]}")
    if reduction not in ("mean", "sum", "none"):
        raise ValueError(f'cross_entropy: reduction must be "mean", "sum" or "none", got {reduction!r}')
    V = logits.shape[-1]
    flat_t = targets.reshape(-1)
    counted = flat_t != ignore_index
    bad = counted & ((flat_t < 0) | (flat_t >= V))
    if bad.any():
        raise ValueError(f"cross_entropy: target class {flat_t[bad][0]} is out of range for {V} classes "
                         f"(expected 0..{V - 1}, or ignore_index={ignore_index})")
    rows = logits.data.reshape(-1, V)
    shifted = rows - rows.max(axis=1, keepdims=True)
    log_z = np.log(np.exp(shifted).sum(axis=1))  # log-sum-exp, stable
    safe_t = np.where(counted, flat_t, 0)
    losses = np.where(counted, log_z - shifted[np.arange(len(flat_t)), safe_t], 0.0)
    n = max(int(counted.sum()), 1)
    if reduction == "none":
        out = losses.reshape(targets.shape)
    else:
        out = np.asarray(losses.sum() / (n if reduction == "mean" else 1), dtype=logits.dtype)

    # d loss / d logits = softmax(logits) - onehot(target), for each counted row
    def backward(g):
        grad = np.exp(shifted - log_z[:, None])
        grad[np.arange(len(flat_t)), safe_t] -= 1.0
        weight = counted * (g.reshape(-1) if reduction == "none" else g / (n if reduction == "mean" else 1))
        logits._accumulate((grad * weight[:, None]).reshape(logits.shape))
    return make_op(out.astype(logits.dtype), (logits,), backward)


def binary_cross_entropy_with_logits(logits: Tensor, targets, mask=None) -> Tensor:
    """Mean of -[t log s(x) + (1 - t) log(1 - s(x))], from logits for stability.

    Targets are probabilities in [0, 1] of the same shape as the logits. An optional
    boolean `mask` restricts the mean to the True elements (e.g. non-padding tokens).
    """
    logits = _tensor(logits, "binary_cross_entropy_with_logits logits")
    t = as_array(targets)
    if t.shape != logits.shape:
        raise ValueError(f"binary_cross_entropy_with_logits: targets of shape {t.shape} do not match "
                         f"logits of shape {logits.shape}")
    if t.size and (t.min() < 0 or t.max() > 1):
        raise ValueError(f"binary_cross_entropy_with_logits: targets must be probabilities in [0, 1], "
                         f"got values from {t.min()} to {t.max()}")
    t = t.astype(logits.dtype)
    weight = np.ones(logits.shape, dtype=logits.dtype) if mask is None else _bool_mask(mask).astype(logits.dtype)
    if weight.shape != logits.shape:
        raise ValueError(f"binary_cross_entropy_with_logits: mask shape {weight.shape} != logits {logits.shape}")
    n = max(float(weight.sum()), 1.0)
    x = logits.data
    # log(1 + e^-|x|) never overflows; max(x, 0) - x t + that = the loss for either sign of x
    losses = np.maximum(x, 0) - x * t + np.log1p(np.exp(-np.abs(x)))

    # d loss / dx = sigmoid(x) - t
    def backward(g):
        logits._accumulate(g * weight / n * (0.5 * (1.0 + np.tanh(0.5 * x)) - t))
    return make_op(np.asarray((losses * weight).sum() / n, dtype=logits.dtype), (logits,), backward)


def cosine_similarity(a: Tensor, b: Tensor, axis: int = -1, eps: float = 1e-8) -> Tensor:
    """a.b / max(|a| |b|, eps) along `axis`."""
    _check_broadcast(a.shape, b.shape, "cosine_similarity")
    dot = (a * b).sum(axis=axis)
    norms_squared = (a * a).sum(axis=axis) * (b * b).sum(axis=axis)
    return dot / norms_squared.clip(eps * eps, None).sqrt()


def cosine_embedding_loss(a: Tensor, b: Tensor) -> Tensor:
    """mean(1 - cos(a, b)): pulls each pair of vectors to point the same way (DistilBERT)."""
    return (1.0 - cosine_similarity(a, b)).mean()


def distillation_loss(student_logits: Tensor, teacher_logits, temperature: float) -> Tensor:
    """T^2 * soft cross-entropy between temperature-softened teacher and student.

    -T^2 * mean over rows of sum_k softmax(t/T)_k * log softmax(s/T)_k. It differs
    from the KL form only by the teacher's entropy, a constant, so the gradients are
    the same; T^2 keeps their size comparable across temperatures (Hinton et al.).
    """
    if temperature <= 0:
        raise ValueError(f"distillation_loss: temperature must be positive, got {temperature}")
    teacher = as_array(teacher_logits)
    if teacher.shape != student_logits.shape:
        raise ValueError(f"distillation_loss: teacher logits {teacher.shape} != student logits "
                         f"{student_logits.shape}")
    soft_targets = _softmax_array(teacher.astype(student_logits.dtype) / temperature, -1)
    log_probs = log_softmax(student_logits * (1.0 / temperature), axis=-1)
    rows = soft_targets.size // soft_targets.shape[-1]
    return (log_probs * soft_targets).sum() * (-temperature * temperature / rows)


def clip_loss(image_emb: Tensor, text_emb: Tensor, logit_scale) -> Tensor:
    """CLIP's symmetric InfoNCE: the i-th image should pick the i-th text and vice versa.

    logits = logit_scale * image_emb @ text_emb^T (embeddings already L2-normalised);
    loss = mean of cross-entropy over rows (image -> text) and over columns (text -> image).
    """
    if image_emb.ndim != 2 or image_emb.shape != text_emb.shape:
        raise ValueError(f"clip_loss: expected two (N, D) embeddings of equal shape, got "
                         f"{image_emb.shape} and {text_emb.shape}")
    logits = (image_emb @ text_emb.T) * logit_scale  # (N, N)
    labels = np.arange(image_emb.shape[0])
    return (cross_entropy(logits, labels) + cross_entropy(logits.T, labels)) * 0.5
