"""Check a backward pass against finite differences.

For a function f of tensors, backprop gives the gradient of L = sum(f(x) * w) for a
fixed random w (checking L with random weights checks every output at once). The
central difference (L(x + eps) - L(x - eps)) / 2eps, one element of x at a time,
estimates the same number without any calculus. If the two disagree, the backward
pass is wrong. Use float64: in float32 the rounding error of the difference
quotient is larger than the tolerance.
"""

from __future__ import annotations

import numpy as np

from .tensor import Tensor, no_grad


def gradcheck(fn, inputs, eps: float = 1e-6, atol: float = 1e-5, rtol: float = 1e-4, seed: int = 0) -> bool:
    """Compare analytic and numeric gradients of `fn(*inputs)` for every input element.

    `inputs` are Tensors; those with requires_grad=True are checked and must be
    float64. Raises AssertionError naming the input, the worst element, and both
    values; returns True when every element agrees within atol + rtol * |numeric|.
    """
    inputs = list(inputs) if isinstance(inputs, (list, tuple)) else [inputs]
    checked = [i for i, x in enumerate(inputs) if isinstance(x, Tensor) and x.requires_grad]
    if not checked:
        raise ValueError("gradcheck: no input has requires_grad=True, so there is nothing to check")
    for i in checked:
        if inputs[i].dtype != np.float64:
            raise TypeError(f"gradcheck: input {i} is {inputs[i].dtype}; finite differences need float64")

    out = fn(*inputs)
    weights = np.random.default_rng(seed).standard_normal(out.shape)

    def weighted_loss() -> float:
        with no_grad():
            return float(np.sum(fn(*inputs).data * weights))

    for i in checked:
        inputs[i].grad = None
    out.backward(weights)

    for i in checked:
        x = inputs[i]
        analytic = np.zeros_like(x.data) if x.grad is None else x.grad
        numeric = np.zeros_like(x.data)
        flat = x.data.reshape(-1)  # a view: perturbing it perturbs the input
        for j in range(flat.size):
            saved = flat[j]
            flat[j] = saved + eps
            plus = weighted_loss()
            flat[j] = saved - eps
            minus = weighted_loss()
            flat[j] = saved
            numeric.reshape(-1)[j] = (plus - minus) / (2 * eps)
        error = np.abs(analytic - numeric) - (atol + rtol * np.abs(numeric))
        if np.any(error > 0):
            worst = np.unravel_index(np.argmax(error), x.shape)
            raise AssertionError(
                f"gradcheck failed for input {i} (shape {x.shape}) at index {tuple(int(k) for k in worst)}: "
                f"analytic {analytic[worst]:.8g} vs numeric {numeric[worst]:.8g} "
                f"(atol={atol}, rtol={rtol})")
    return True
