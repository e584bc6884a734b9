"""Optimizers against updates worked out by hand, schedules, clipping, and bad input.

The reference updates below are written out element by element in plain Python
floats, straight from the formulas, so they share no code with minifm.optim.
"""

import math

import numpy as np
import pytest

import minifm as mf
from minifm import nn, optim

START = [1.0, -2.0]
GRADS = [[0.5, 1.0], [-1.0, 0.25], [2.0, -0.5]]  # one gradient per step


def param(values=START, dtype=np.float64):
    return mf.Tensor(np.array(values, dtype=dtype), requires_grad=True)


def run(optimizer, p, grads=GRADS):
    for g in grads:
        p.grad = np.array(g, dtype=p.data.dtype)
        optimizer.step()
    return p.data


def by_hand_sgd(lr, momentum=0.0, weight_decay=0.0):
    out = []
    for x, *gs in zip(START, *GRADS):
        buf = None
        for g in gs:
            g = g + weight_decay * x                      # L2 penalty's gradient
            buf = g if buf is None else momentum * buf + g  # first step: buf = g
            x = x - lr * (buf if momentum else g)
        out.append(x)
    return out


def by_hand_adam(lr, b1, b2, eps, weight_decay=0.0, decoupled=False):
    out = []
    for x, *gs in zip(START, *GRADS):
        m = v = 0.0
        for t, g in enumerate(gs, start=1):
            if decoupled:
                x = x * (1 - lr * weight_decay)  # AdamW: decay the weight itself
            else:
                g = g + weight_decay * x         # Adam: L2 term joins the gradient
            m = b1 * m + (1 - b1) * g
            v = b2 * v + (1 - b2) * g * g
            m_hat = m / (1 - b1 ** t)
            v_hat = v / (1 - b2 ** t)
            x = x - lr * m_hat / (math.sqrt(v_hat) + eps)
        out.append(x)
    return out


# ---------------------------------------------------------------- updates

@pytest.mark.parametrize("momentum, weight_decay", [(0.0, 0.0), (0.9, 0.0), (0.9, 0.1), (0.0, 0.1)])
def test_sgd(momentum, weight_decay):
    p = param()
    run(optim.SGD([p], lr=0.1, momentum=momentum, weight_decay=weight_decay), p)
    np.testing.assert_allclose(p.data, by_hand_sgd(0.1, momentum, weight_decay), rtol=1e-13)


def test_sgd_first_step_worked_out():
    p = param()
    run(optim.SGD([p], lr=0.1), p, GRADS[:1])
    np.testing.assert_allclose(p.data, [1.0 - 0.05, -2.0 - 0.1], rtol=1e-15)


@pytest.mark.parametrize("cls, weight_decay, decoupled", [
    (optim.Adam, 0.0, False), (optim.Adam, 0.1, False), (optim.AdamW, 0.1, True),
])
def test_adam_family(cls, weight_decay, decoupled):
    p = param()
    run(cls([p], lr=0.01, betas=(0.8, 0.9), eps=1e-3, weight_decay=weight_decay), p)
    expected = by_hand_adam(0.01, 0.8, 0.9, 1e-3, weight_decay, decoupled)
    np.testing.assert_allclose(p.data, expected, rtol=1e-13)


def test_adam_first_step_is_about_lr_times_sign():
    # t=1: m_hat = g and v_hat = g^2, so the step is lr * g / (|g| + eps)
    p = param()
    run(optim.Adam([p], lr=0.01, eps=1e-8), p, GRADS[:1])
    np.testing.assert_allclose(p.data, [1.0 - 0.01 * 0.5 / (0.5 + 1e-8),
                                        -2.0 - 0.01 * 1.0 / (1.0 + 1e-8)], rtol=1e-14)


def test_adamw_differs_from_adam_l2_only_with_decay():
    def final(cls, wd):
        p = param()
        return run(cls([p], lr=0.01, weight_decay=wd), p).copy()
    np.testing.assert_array_equal(final(optim.Adam, 0.0), final(optim.AdamW, 0.0))
    assert np.abs(final(optim.Adam, 0.1) - final(optim.AdamW, 0.1)).min() > 1e-5


def test_adamw_default_weight_decay_is_0_01():
    assert optim.AdamW([param()]).param_groups[0]["weight_decay"] == 0.01
    assert optim.Adam([param()]).param_groups[0]["weight_decay"] == 0.0


def test_updates_in_place_and_keep_float32():
    for make in (lambda ps: optim.SGD(ps, lr=0.1, momentum=0.9, weight_decay=0.01),
                 lambda ps: optim.Adam(ps, weight_decay=0.01), optim.AdamW):
        p = param(dtype=np.float32)
        array = p.data
        opt = make([p])
        opt.param_groups[0]["lr"] = np.float64(1e-3)  # a NumPy scalar set from outside
        run(opt, p)
        p.grad = np.array(GRADS[0], dtype=np.float64)  # even a float64 gradient
        opt.step()
        assert p.data is array and p.data.dtype == np.float32
        for value in opt.state[0].values():
            assert not isinstance(value, np.ndarray) or value.dtype == np.float32


def test_zero_grad_and_none_grads_are_skipped():
    a, b = param(), param([3.0, 4.0])
    opt = optim.AdamW([a, b], lr=0.1)
    a.grad = np.ones(2)
    opt.step()  # b has no gradient: untouched, not even decayed, and no state
    np.testing.assert_array_equal(b.data, [3.0, 4.0])
    assert list(opt.state) == [0]
    opt.zero_grad()
    assert a.grad is None and b.grad is None


def test_param_group_overrides():
    decayed, plain = param(), param()
    opt = optim.AdamW([{"params": [decayed]}, {"params": [plain], "weight_decay": 0.0, "lr": 0.5}],
                      lr=0.1, weight_decay=0.2)
    assert [g["lr"] for g in opt.param_groups] == [0.1, 0.5]
    decayed.grad, plain.grad = np.zeros(2), np.zeros(2)  # zero gradient: only decay moves p
    opt.step()
    np.testing.assert_allclose(decayed.data, [1.0 * (1 - 0.1 * 0.2), -2.0 * (1 - 0.1 * 0.2)])
    np.testing.assert_array_equal(plain.data, START)


def test_state_dict_round_trip_continues_identically():
    p, q = param(), param()
    opt = optim.AdamW([p], lr=0.01)
    run(opt, p, GRADS[:2])
    saved = opt.state_dict()
    q.data[...] = p.data
    other = optim.AdamW([q], lr=0.5)  # the saved lr must win
    other.load_state_dict(saved)
    saved["state"][0]["m"][...] = 99.0  # a copy was loaded, not the saved arrays
    run(opt, p, GRADS[2:])
    run(other, q, GRADS[2:])
    np.testing.assert_array_equal(q.data, p.data)
    assert other.state[0]["step"] == 3
    with pytest.raises(ValueError, match="param groups"):
        optim.AdamW([param(), param()]).load_state_dict(saved)
    with pytest.raises(ValueError, match="shape"):
        optim.AdamW([param([1.0, 2.0, 3.0])]).load_state_dict(saved)


# ---------------------------------------------------------------- clipping

def test_clip_grad_norm_scales_to_max_norm():
    a, b, c = param(), param([1.0]), param()
    a.grad, b.grad = np.array([3.0, 4.0]), np.array([12.0])  # global norm sqrt(9+16+144) = 13
    assert optim.clip_grad_norm([a, b, c], max_norm=6.5) == pytest.approx(13.0, rel=1e-15)
    np.testing.assert_allclose(a.grad, [1.5, 2.0], rtol=1e-15)
    np.testing.assert_allclose(b.grad, [6.0], rtol=1e-15)
    assert math.sqrt(float(a.grad @ a.grad + b.grad @ b.grad)) == pytest.approx(6.5, rel=1e-15)
    assert c.grad is None


def test_clip_grad_norm_leaves_small_gradients():
    a = param()
    a.grad = np.array([0.3, 0.4])
    assert optim.clip_grad_norm([a], 1.0) == pytest.approx(0.5)
    np.testing.assert_array_equal(a.grad, [0.3, 0.4])


@pytest.mark.parametrize("grad, max_norm, message", [
    ([np.inf, 0.0], 1.0, "inf or NaN"), ([np.nan, 0.0], 1.0, "inf or NaN"),
    ([1.0, 0.0], 0.0, "max_norm"), ([1.0, 0.0], -1.0, "max_norm"),
])
def test_clip_grad_norm_errors(grad, max_norm, message):
    a = param()
    a.grad = np.array(grad)
    with pytest.raises(ValueError, match=message):
        optim.clip_grad_norm([a], max_norm)


# ---------------------------------------------------------------- schedules

def test_warmup_linear_factors():
    f = optim.warmup_linear(warmup_steps=10, total_steps=110)
    assert [f(0), f(5), f(10), f(60), f(110), f(150)] == [0.0, 0.5, 1.0, 0.5, 0.0, 0.0]


def test_warmup_cosine_factors():
    f = optim.warmup_cosine(warmup_steps=10, total_steps=110, min_ratio=0.1)
    assert f(0) == 0.0 and f(5) == 0.5 and f(10) == 1.0
    assert f(60) == pytest.approx(0.1 + 0.9 * 0.5)  # halfway: cos(pi/2) = 0
    assert f(110) == pytest.approx(0.1) and f(200) == pytest.approx(0.1)
    g = optim.warmup_cosine(0, 100)
    assert g(0) == 1.0 and g(100) == pytest.approx(0.0)
    assert g(25) == pytest.approx(0.5 + math.sqrt(2) / 4)  # (1 + cos(pi/4)) / 2


def test_lambda_lr_sets_each_group():
    a, b = param(), param()
    opt = optim.SGD([{"params": [a]}, {"params": [b], "lr": 0.01}], lr=0.1)
    sched = optim.LambdaLR(opt, optim.warmup_linear(4, 8))
    assert sched.get_last_lr() == [0.0, 0.0]  # the first step uses factor(0)
    for _ in range(2):
        sched.step()
    assert [g["lr"] for g in opt.param_groups] == pytest.approx([0.05, 0.005])
    for _ in range(4):
        sched.step()
    assert sched.get_last_lr() == pytest.approx([0.05, 0.005])  # step 6: halfway down


@pytest.mark.parametrize("make", [
    lambda: optim.warmup_linear(20, 10), lambda: optim.warmup_linear(-1, 10),
    lambda: optim.warmup_cosine(0, 0), lambda: optim.warmup_cosine(2.5, 10),
    lambda: optim.warmup_cosine(1, 10, min_ratio=1.5),
])
def test_schedule_errors(make):
    with pytest.raises(ValueError):
        make()


# ---------------------------------------------------------------- bad input

@pytest.mark.parametrize("make, error, message", [
    (lambda p: optim.SGD(p, lr=-0.1), ValueError, "lr must be"),
    (lambda p: optim.SGD(p, lr="fast"), ValueError, "lr must be"),
    (lambda p: optim.SGD(p, lr=0.1, momentum=-0.5), ValueError, "momentum"),
    (lambda p: optim.Adam(p, betas=(0.9, 1.0)), ValueError, "betas"),
    (lambda p: optim.Adam(p, betas=(-0.1, 0.9)), ValueError, "betas"),
    (lambda p: optim.Adam(p, betas=0.9), ValueError, "betas"),
    (lambda p: optim.Adam(p, eps=-1e-8), ValueError, "eps"),
    (lambda p: optim.AdamW(p, weight_decay=-0.01), ValueError, "weight_decay"),
    (lambda p: optim.AdamW([], lr=0.1), ValueError, "empty"),
    (lambda p: optim.AdamW(p[0]), TypeError, "single Tensor"),
    (lambda p: optim.AdamW([np.zeros(3)]), TypeError, "must be a Tensor"),
    (lambda p: optim.AdamW([mf.Tensor(np.arange(3))]), TypeError, "floating-point"),
    (lambda p: optim.AdamW(p + p), ValueError, "more than once"),
    (lambda p: optim.AdamW([{"params": p, "weight_deacy": 0.0}]), ValueError, "weight_deacy"),
    (lambda p: optim.AdamW([{"params": p, "lr": -1.0}]), ValueError, "lr must be"),
    (lambda p: optim.AdamW([{"params": []}]), ValueError, "empty"),
    (lambda p: optim.LambdaLR(optim.SGD(p, lr=0.1), 0.5), TypeError, "factor"),
])
def test_bad_input(make, error, message):
    with pytest.raises(error, match=message):
        make([param()])


def test_grad_shape_mismatch():
    p = param()
    p.grad = np.ones(3)
    with pytest.raises(ValueError, match=r"shape \(2,\).*\(3,\)"):
        optim.Adam([p]).step()


def test_update_is_zero_grad_backward_clip_step_and_schedule():
    """optim.update must do exactly what the five lines it replaces do, in that order."""
    rng = np.random.default_rng(0)
    w0, x = rng.normal(size=(3, 2)), rng.normal(size=(4, 3))
    results = []
    for use_update in (False, True):
        w = nn.Parameter(w0.copy())
        w.grad = np.full_like(w0, 100.0)  # a stale gradient that must be cleared first
        opt = optim.SGD([w], lr=0.1)
        schedule = optim.LambdaLR(opt, lambda step: 1.0 / (step + 1))
        for _ in range(2):
            loss = ((mf.Tensor(x) @ w) ** 2).sum()
            if use_update:
                value = optim.update(loss, opt, schedule, max_norm=0.5)
                assert value == loss.item()
            else:
                opt.zero_grad()
                loss.backward()
                optim.clip_grad_norm([w], 0.5)
                opt.step()
                schedule.step()
        results.append((w.data.copy(), opt.param_groups[0]["lr"]))
    np.testing.assert_array_equal(results[0][0], results[1][0])
    assert results[0][1] == results[1][1] == 0.1 / 3


def test_update_without_clipping_leaves_the_gradient_unscaled():
    w = nn.Parameter(np.ones((2, 2)))
    opt = optim.SGD([w], lr=0.0)
    optim.update((mf.Tensor(np.full((2, 2), 10.0)) * w).sum(), opt)
    np.testing.assert_array_equal(w.grad, np.full((2, 2), 10.0))
