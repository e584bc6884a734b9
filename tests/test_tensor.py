"""The engine: every Tensor op gradient-checked in float64, broadcasting, the backward rules."""

import numpy as np
import pytest

import minifm as mf
from minifm.tensor import make_op


def rand(*shape, seed=0, positive=False):
    data = np.random.default_rng(seed + sum(shape)).standard_normal(shape)
    return mf.Tensor(np.abs(data) + 0.5 if positive else data, requires_grad=True)


# One row per op: (name, function, input shapes). Each input is checked on every element.
OPS = [
    ("add", lambda a, b: a + b, [(3, 4), (3, 4)]),
    ("add broadcast (4,1,3)+(5,3)", lambda a, b: a + b, [(4, 1, 3), (5, 3)]),
    ("radd number", lambda a: 2.0 + a, [(3,)]),
    ("sub broadcast", lambda a, b: a - b, [(2, 3), (3,)]),
    ("rsub ndarray", lambda a: np.ones((2, 3)) - a, [(3,)]),
    ("neg", lambda a: -a, [(2, 3)]),
    ("mul broadcast (4,1,3)*(5,3)", lambda a, b: a * b, [(4, 1, 3), (5, 3)]),
    ("mul scalar tensor", lambda a, b: a * b, [(2, 3), ()]),
    ("div broadcast", lambda a, b: a / b, [(2, 3), (2, 1)]),
    ("rtruediv", lambda a: 1.0 / a, [(2, 3)]),
    ("pow 2", lambda a: a ** 2, [(2, 3)]),
    ("pow 3", lambda a: a ** 3, [(2, 3)]),
    ("pow -0.5", lambda a: (a * a + 1.0) ** -0.5, [(2, 3)]),
    ("matmul 2d", lambda a, b: a @ b, [(3, 4), (4, 5)]),
    ("matmul batched", lambda a, b: a @ b, [(2, 3, 4), (2, 4, 5)]),
    ("matmul 3d@2d", lambda a, b: a @ b, [(2, 3, 4), (4, 5)]),
    ("matmul broadcast batch", lambda a, b: a @ b, [(2, 1, 3, 4), (5, 4, 2)]),
    ("matmul vec@mat", lambda a, b: a @ b, [(4,), (4, 5)]),
    ("matmul mat@vec", lambda a, b: a @ b, [(3, 4), (4,)]),
    ("matmul vec@vec", lambda a, b: a @ b, [(4,), (4,)]),
    ("rmatmul ndarray", lambda a: np.ones((2, 3)) @ a, [(3, 4)]),
    ("sum all", lambda a: a.sum(), [(3, 4)]),
    ("sum axis 0", lambda a: a.sum(axis=0), [(3, 4)]),
    ("sum axis -1 keepdims", lambda a: a.sum(axis=-1, keepdims=True), [(2, 3, 4)]),
    ("sum axes (0, 2)", lambda a: a.sum(axis=(0, 2)), [(2, 3, 4)]),
    ("mean all", lambda a: a.mean(), [(3, 4)]),
    ("mean axis 1 keepdims", lambda a: a.mean(axis=1, keepdims=True), [(3, 4)]),
    ("mean axes (0, 1)", lambda a: a.mean(axis=(0, 1)), [(2, 3, 4)]),
    ("max all", lambda a: a.max(), [(3, 4)]),
    ("max axis 1", lambda a: a.max(axis=1), [(3, 4)]),
    ("max axis 0 keepdims", lambda a: a.max(axis=0, keepdims=True), [(3, 4)]),
    ("reshape", lambda a: a.reshape(4, 3), [(3, 4)]),
    ("reshape tuple", lambda a: a.reshape((2, -1)), [(3, 4)]),
    ("transpose default", lambda a: a.transpose(), [(2, 3, 4)]),
    ("transpose axes", lambda a: a.transpose(1, 0, 2), [(2, 3, 4)]),
    (".T", lambda a: a.T, [(2, 3)]),
    ("index int", lambda a: a[1], [(3, 4)]),
    ("index slices", lambda a: a[1:, ::2], [(3, 4)]),
    ("index ellipsis", lambda a: a[..., 0], [(2, 3, 4)]),
    ("index None", lambda a: a[None, :, 1], [(3, 4)]),
    ("gather repeated rows", lambda a: a[np.array([0, 0, 2, 2, 2])], [(3, 4)]),
    ("gather pairs repeated", lambda a: a[np.array([0, 1, 1]), np.array([2, 3, 3])], [(3, 4)]),
    ("boolean mask", lambda a: a[np.array([True, False, True])], [(3, 4)]),
    ("exp", lambda a: a.exp(), [(2, 3)]),
    ("tanh", lambda a: a.tanh(), [(2, 3)]),
    ("clip", lambda a: a.clip(-0.5, 0.5), [(3, 4)]),
    ("astype round trip", lambda a: a.astype(np.float64) * 2.0, [(2, 3)]),
]

POSITIVE_OPS = [
    ("log", lambda a: a.log(), [(2, 3)]),
    ("sqrt", lambda a: a.sqrt(), [(2, 3)]),
    ("pow 0.5", lambda a: a ** 0.5, [(2, 3)]),
]


@pytest.mark.parametrize("name, fn, shapes", OPS, ids=[row[0] for row in OPS])
def test_op_gradients(name, fn, shapes):
    inputs = [rand(*s, seed=i) for i, s in enumerate(shapes)]
    assert mf.gradcheck(fn, inputs)


@pytest.mark.parametrize("name, fn, shapes", POSITIVE_OPS, ids=[row[0] for row in POSITIVE_OPS])
def test_op_gradients_positive_inputs(name, fn, shapes):
    assert mf.gradcheck(fn, [rand(*s, positive=True) for s in shapes])


def test_forward_values_match_numpy():
    a, b = rand(4, 1, 3), rand(5, 3)
    np.testing.assert_allclose((a * b + a / (b * b + 1.0)).data, a.data * b.data + a.data / (b.data ** 2 + 1))
    np.testing.assert_allclose((a @ rand(3, 2)).shape, (4, 1, 2))
    assert (a + b).shape == (4, 5, 3)


def test_gradcheck_catches_a_wrong_backward():
    x = rand(3)

    def wrong_square(t):
        def backward(g):
            t._accumulate(g * t.data)  # should be 2 * t.data
        return make_op(t.data ** 2, (t,), backward)

    with pytest.raises(AssertionError, match=r"input 0 .* at index \(\d+,\): analytic .* vs numeric"):
        mf.gradcheck(wrong_square, [x])


def test_value_used_twice_sums_its_gradients():
    x = mf.Tensor(np.array([3.0]), requires_grad=True)
    (x * x + x).backward(np.array([1.0]))
    assert x.grad[0] == pytest.approx(2 * 3.0 + 1)


def test_second_backward_adds_until_zeroed():
    x = mf.Tensor(np.array([1.0, 2.0]), requires_grad=True)
    (x * 3.0).sum().backward()
    (x * 3.0).sum().backward()
    np.testing.assert_array_equal(x.grad, [6.0, 6.0])
    x.zero_grad()
    (x * 3.0).sum().backward()
    np.testing.assert_array_equal(x.grad, [3.0, 3.0])


def test_two_inputs_never_share_a_gradient_array():
    a, b = rand(3), rand(3, seed=1)
    (a + b).sum().backward()
    assert a.grad is not b.grad
    a.grad *= 0  # changing one in place must not change the other
    np.testing.assert_array_equal(b.grad, np.ones(3))


def test_backward_frees_the_graph():
    x = rand(3)
    y = (x * 2.0).sum()
    y.backward()
    assert y._parents == () and y._backward is None


def test_deep_graph_does_not_hit_the_recursion_limit():
    x = mf.Tensor(np.array(1.0), requires_grad=True)
    y = x
    for _ in range(5000):
        y = y * 1.0001
    y.backward()
    assert x.grad == pytest.approx(1.0001 ** 5000, rel=1e-6)


def test_no_grad_records_nothing():
    x = rand(3)
    with mf.no_grad():
        y = x * 2.0
    assert not y.requires_grad and y._parents == ()
    assert mf.is_grad_enabled()


def test_constants_do_not_get_gradients():
    x, c = rand(3), mf.Tensor(np.ones(3))
    (x * c).sum().backward()
    assert c.grad is None and x.grad is not None


def test_dtype_rules():
    x = mf.Tensor(np.ones(3, dtype=np.float32), requires_grad=True)
    assert (x * 2.5 + 1).dtype == np.float32  # Python numbers never promote
    assert (x / 3).dtype == np.float32
    assert x.sum().dtype == np.float32
    assert mf.tensor([1.0, 2.0]).dtype == np.float32
    assert mf.Tensor(np.ones(2)).dtype == np.float64  # float64 in, float64 out
    assert (mf.Tensor(np.ones(2)) * 2.0).dtype == np.float64


def test_backward_on_non_scalar_needs_a_gradient():
    with pytest.raises(ValueError, match=r"needs a scalar, got shape \(2, 3\)"):
        (rand(2, 3) * 2.0).backward()
    with pytest.raises(ValueError, match=r"gradient of shape \(3,\) for a tensor of shape \(2, 3\)"):
        (rand(2, 3) * 2.0).backward(np.ones(3))


def test_backward_without_grad_tracking_is_an_error():
    with pytest.raises(RuntimeError, match="does not require grad"):
        mf.Tensor(np.ones(2)).sum().backward()


def test_matmul_shape_mismatch_names_both_shapes():
    with pytest.raises(ValueError, match=r"\(2, 3\) and \(4, 5\)"):
        rand(2, 3) @ rand(4, 5)


def test_integer_tensors_cannot_require_grad():
    with pytest.raises(TypeError, match="int64"):
        mf.Tensor(np.arange(3), requires_grad=True)


def test_log_and_sqrt_of_negative_numbers_fail_before_nan():
    with pytest.raises(ValueError, match="log of a negative"):
        mf.Tensor(np.array([-1.0, 2.0])).log()
    with pytest.raises(ValueError, match="sqrt of a negative"):
        mf.Tensor(np.array([-1.0])).sqrt()


def test_gradcheck_wants_float64():
    with pytest.raises(TypeError, match="float32"):
        mf.gradcheck(lambda x: x.sum(), [mf.Tensor(np.ones(2, dtype=np.float32), requires_grad=True)])
