"""The autograd engine: a Tensor that remembers how it was made.

Every operation on Tensors builds a node of a graph: the output keeps references to
its inputs (`_parents`) and a closure (`_backward`) that, given the gradient of the
final loss with respect to the output, adds the gradient with respect to each input.
`loss.backward()` visits the nodes once, outputs before inputs (reverse topological
order), and calls each closure: that is the chain rule, applied mechanically.

Each primitive op below is written as: compute the output, then its backward right
beneath, opened by a comment with the local derivative.

Two rules hold everywhere:
- Gradients are *summed* into `.grad`. A value used twice (y = x * x, or a weight
  shared by two layers) receives one contribution per use; the total derivative is
  their sum. For the same reason a second `backward()` adds to existing gradients
  until you zero them (`zero_grad()`), exactly as in PyTorch.
- Broadcasting in the forward pass (a (5, 3) tensor plus a (3,) bias) is undone in
  the backward pass by one helper, `unbroadcast`, which sums the gradient over the
  axes that were stretched.
"""

from __future__ import annotations

import numpy as np

_grad_enabled = True


class no_grad:
    """Context manager: inside it, operations record no graph (evaluation, generation)."""

    def __enter__(self):
        global _grad_enabled
        self._previous, _grad_enabled = _grad_enabled, False

    def __exit__(self, *exc):
        global _grad_enabled
        _grad_enabled = self._previous


def is_grad_enabled() -> bool:
    return _grad_enabled


def unbroadcast(grad: np.ndarray, shape: tuple) -> np.ndarray:
    """Sum `grad` down to `shape`, undoing NumPy broadcasting.

    Broadcasting adds leading axes and stretches axes of size 1; each stretched copy
    of an input element contributed to the output, so its gradient is the sum.
    """
    if grad.shape == shape:
        return grad
    grad = grad.sum(axis=tuple(range(grad.ndim - len(shape))))  # added leading axes
    stretched = tuple(i for i, n in enumerate(shape) if n == 1 and grad.shape[i] != 1)
    if stretched:
        grad = grad.sum(axis=stretched, keepdims=True)
    return grad


def as_array(x) -> np.ndarray:
    """The ndarray behind a Tensor, or the value itself as an ndarray."""
    return x.data if isinstance(x, Tensor) else np.asarray(x)


class Tensor:
    """An n-dimensional array that can compute gradients of a scalar with respect to it."""

    __array_ufunc__ = None  # make `ndarray + Tensor` call Tensor.__radd__, not NumPy

    def __init__(self, data, requires_grad: bool = False, _parents: tuple = ()):
        data = data.data if isinstance(data, Tensor) else data
        if isinstance(data, np.generic):  # a NumPy scalar (e.g. from a full sum) keeps its dtype
            data = np.asarray(data)
        elif not isinstance(data, np.ndarray):
            data = np.asarray(data)
            if data.dtype == np.float64:  # Python floats: float32, as in PyTorch
                data = data.astype(np.float32)
        if requires_grad and not np.issubdtype(data.dtype, np.floating):
            raise TypeError(f"only floating-point tensors can require grad, got dtype {data.dtype}")
        self.data = data
        self.grad = None
        self.requires_grad = requires_grad
        self._parents = _parents
        self._backward = None  # set by the op that made this tensor

    # ---- basic properties -------------------------------------------------------
    shape = property(lambda self: self.data.shape)
    ndim = property(lambda self: self.data.ndim)
    dtype = property(lambda self: self.data.dtype)
    size = property(lambda self: self.data.size)
    T = property(lambda self: self.transpose())

    def __len__(self):
        return len(self.data)

    def __repr__(self):
        grad = ", requires_grad=True" if self.requires_grad else ""
        return f"Tensor({np.array2string(self.data, precision=4, threshold=20)}, dtype={self.dtype}{grad})"

    def item(self) -> float:
        return self.data.item()

    def numpy(self) -> np.ndarray:
        return self.data

    def detach(self) -> "Tensor":
        """The same values, cut from the graph: no gradient flows through it."""
        return Tensor(self.data)

    def zero_grad(self):
        self.grad = None

    # ---- the backward pass ------------------------------------------------------
    def _accumulate(self, grad: np.ndarray):
        """Add one contribution to this tensor's gradient (see the module docstring)."""
        if not self.requires_grad:
            return
        if grad.dtype != self.data.dtype:
            grad = grad.astype(self.data.dtype)
        if self.grad is None:
            # store the array as is when we may; a read-only broadcast view is copied
            ok = grad.shape == self.shape and grad.flags.writeable
            self.grad = grad if ok else np.array(np.broadcast_to(grad, self.shape))
        else:
            self.grad = self.grad + grad  # a new array: grads may share memory

    def backward(self, grad=None):
        """Backpropagate from this tensor through the graph that made it.

        Without `grad`, the tensor must hold a single value (a loss): its gradient
        with respect to itself is 1. Gradients are added to `.grad` of every tensor
        that requires grad; the graph is freed afterwards, so call backward once per
        forward pass.
        """
        if not self.requires_grad:
            raise RuntimeError("backward() on a tensor that does not require grad: no input "
                               "of the computation had requires_grad=True")
        if grad is None:
            if self.data.size != 1:
                raise ValueError(f"backward() without a gradient needs a scalar, got shape "
                                 f"{self.shape}; reduce it to a loss (e.g. .sum()) or pass grad=")
            grad = np.ones_like(self.data)
        else:
            grad = np.array(as_array(grad), dtype=self.dtype)
            if grad.shape != self.shape:
                raise ValueError(f"backward() got a gradient of shape {grad.shape} for a tensor "
                                 f"of shape {self.shape}")
        order = topological_order(self)
        self._accumulate(grad)
        for node in reversed(order):  # outputs before the inputs they depend on
            if node._backward is not None and node.grad is not None:
                node._backward(node.grad)
        for node in order:  # free the graph: closures hold the saved arrays
            if node._backward is not None:
                node._backward, node._parents = None, ()

    # ---- elementwise arithmetic -------------------------------------------------
    def __add__(self, other):
        a, b = self, _wrap(other, self.dtype)

        # d(a+b)/da = 1, d(a+b)/db = 1
        def backward(g):
            ga, gb = unbroadcast(g, a.shape), unbroadcast(g, b.shape)
            a._accumulate(ga)
            b._accumulate(gb.copy() if gb is ga else gb)  # never hand one array to two tensors
        return make_op(a.data + b.data, (a, b), backward)

    def __neg__(self):
        # d(-a)/da = -1
        def backward(g):
            self._accumulate(-g)
        return make_op(-self.data, (self,), backward)

    def __sub__(self, other):
        return self + (-_wrap(other, self.dtype))

    def __mul__(self, other):
        a, b = self, _wrap(other, self.dtype)

        # d(ab)/da = b, d(ab)/db = a
        def backward(g):
            if a.requires_grad:
                a._accumulate(unbroadcast(g * b.data, a.shape))
            if b.requires_grad:
                b._accumulate(unbroadcast(g * a.data, b.shape))
        return make_op(a.data * b.data, (a, b), backward)

    def __truediv__(self, other):
        a, b = self, _wrap(other, self.dtype)

        # d(a/b)/da = 1/b, d(a/b)/db = -a/b^2
        def backward(g):
            if a.requires_grad:
                a._accumulate(unbroadcast(g / b.data, a.shape))
            if b.requires_grad:
                b._accumulate(unbroadcast(-g * a.data / (b.data * b.data), b.shape))
        return make_op(a.data / b.data, (a, b), backward)

    def __pow__(self, p):
        if not isinstance(p, (int, float)):
            raise TypeError(f"Tensor ** p needs a number p, got {type(p).__name__}")
        x = self.data
        out = x * x if p == 2 else np.power(x, float(p) if isinstance(p, float) else p)

        # d(x^p)/dx = p x^(p-1)
        def backward(g):
            self._accumulate(g * (2.0 * x if p == 2 else p * np.power(x, p - 1)))
        return make_op(out, (self,), backward)

    __radd__ = __add__
    __rmul__ = __mul__

    def __rsub__(self, other):
        return _wrap(other, self.dtype) - self

    def __rtruediv__(self, other):
        return _wrap(other, self.dtype) / self

    # ---- matrix product ---------------------------------------------------------
    def __matmul__(self, other):
        a, b = self, _wrap(other, self.dtype)
        if a.ndim == 0 or b.ndim == 0:
            raise ValueError(f"matmul needs tensors of at least 1 dimension, got shapes {a.shape} and {b.shape}")
        k_b = b.shape[0] if b.ndim == 1 else b.shape[-2]
        if a.shape[-1] != k_b:
            raise ValueError(f"matmul of shapes {a.shape} and {b.shape}: the last dimension of the "
                             f"first ({a.shape[-1]}) must equal the {'only' if b.ndim == 1 else 'second-to-last'} "
                             f"dimension of the second ({k_b})")

        # d(AB)/dA = G B^T, d(AB)/dB = A^T G (vectors are treated as rows/columns)
        def backward(g):
            A, B = a.data, b.data
            A2 = A[None, :] if A.ndim == 1 else A
            B2 = B[:, None] if B.ndim == 1 else B
            G = g.reshape(g.shape[:-1] + (1,) + g.shape[-1:]) if A.ndim == 1 and B.ndim > 1 else g
            G = G.reshape(G.shape + (1,)) if B.ndim == 1 else G
            G = G.reshape(1, 1) if A.ndim == 1 and B.ndim == 1 else G
            if a.requires_grad:
                gA = G @ np.swapaxes(B2, -1, -2)
                a._accumulate(unbroadcast(gA, A2.shape).reshape(A.shape))
            if b.requires_grad:
                if B2.ndim == 2 and A2.ndim > 2:  # (..., n, k) @ (k, m): fold the batch into rows
                    gB = A2.reshape(-1, A2.shape[-1]).T @ G.reshape(-1, G.shape[-1])
                else:
                    gB = unbroadcast(np.swapaxes(A2, -1, -2) @ G, B2.shape)
                b._accumulate(gB.reshape(B.shape))
        return make_op(a.data @ b.data, (a, b), backward)

    def __rmatmul__(self, other):
        return _wrap(other, self.dtype) @ self

    # ---- reductions -------------------------------------------------------------
    def sum(self, axis=None, keepdims: bool = False):
        # d(sum x)/dx_i = 1: the gradient is copied back to every summed element
        def backward(g):
            if axis is not None and not keepdims:
                g = np.expand_dims(g, axis)
            self._accumulate(np.broadcast_to(g, self.shape))
        return make_op(self.data.sum(axis=axis, keepdims=keepdims), (self,), backward)

    def mean(self, axis=None, keepdims: bool = False):
        axes = range(self.ndim) if axis is None else np.atleast_1d(axis)
        count = int(np.prod([self.shape[i] for i in axes]))
        return self.sum(axis=axis, keepdims=keepdims) * (1.0 / count)

    def max(self, axis=None, keepdims: bool = False):
        out = self.data.max(axis=axis, keepdims=True)

        # d(max x)/dx_i = 1 where x_i is the max (shared equally among ties), else 0
        def backward(g):
            g = g if (keepdims or axis is None) else np.expand_dims(g, axis)
            winners = self.data == out
            self._accumulate(g * winners / winners.sum(axis=axis, keepdims=True))
        result = out if keepdims else (out.reshape(()) if axis is None else np.squeeze(out, axis))
        return make_op(result, (self,), backward)

    # ---- shape ------------------------------------------------------------------
    def reshape(self, *shape):
        shape = shape[0] if len(shape) == 1 and isinstance(shape[0], (tuple, list)) else shape

        def backward(g):
            self._accumulate(g.reshape(self.shape))
        return make_op(self.data.reshape(shape), (self,), backward)

    def transpose(self, *axes):
        axes = axes[0] if len(axes) == 1 and isinstance(axes[0], (tuple, list)) else axes
        axes = tuple(axes) if axes else tuple(reversed(range(self.ndim)))
        inverse = tuple(np.argsort(axes))

        def backward(g):
            self._accumulate(g.transpose(inverse))
        return make_op(self.data.transpose(axes), (self,), backward)

    def __getitem__(self, index):
        index = _index_arrays(index)

        # d(x[idx])/dx: route the gradient back to the picked places; a place picked
        # twice (repeated integer indices) gets the sum, hence np.add.at and not +=
        def backward(g):
            grad = np.zeros_like(self.data)
            if _is_basic(index):  # ints and slices pick each place at most once
                grad[index] = g
            else:
                np.add.at(grad, index, g)
            self._accumulate(grad)
        return make_op(self.data[index], (self,), backward)

    # ---- elementwise functions --------------------------------------------------
    def exp(self):
        out = np.exp(self.data)

        # d(e^x)/dx = e^x
        def backward(g):
            self._accumulate(g * out)
        return make_op(out, (self,), backward)

    def log(self):
        if np.any(self.data < 0):
            raise ValueError(f"log of a negative number (min {self.data.min():.4g}): the result would be NaN")

        # d(log x)/dx = 1/x
        def backward(g):
            self._accumulate(g / self.data)
        return make_op(np.log(self.data), (self,), backward)

    def sqrt(self):
        if np.any(self.data < 0):
            raise ValueError(f"sqrt of a negative number (min {self.data.min():.4g}): the result would be NaN")
        out = np.sqrt(self.data)

        # d(sqrt x)/dx = 1 / (2 sqrt x)
        def backward(g):
            self._accumulate(g * 0.5 / out)
        return make_op(out, (self,), backward)

    def tanh(self):
        out = np.tanh(self.data)

        # d(tanh x)/dx = 1 - tanh(x)^2
        def backward(g):
            self._accumulate(g * (1.0 - out * out))
        return make_op(out, (self,), backward)

    def clip(self, low=None, high=None):
        out = np.clip(self.data, low, high)

        # d(clip x)/dx = 1 inside [low, high], 0 where the value was clipped
        def backward(g):
            self._accumulate(g * (out == self.data))
        return make_op(out, (self,), backward)

    def astype(self, dtype):
        """A copy in another float dtype; gradients flow back cast to the original."""
        def backward(g):
            self._accumulate(g.astype(self.dtype))
        return make_op(self.data.astype(dtype), (self,), backward)


def make_op(data: np.ndarray, parents: tuple, backward) -> Tensor:
    """Wrap an op's output; record the graph only if some input needs a gradient.

    `backward(g)` receives the gradient of the loss with respect to the output and
    must `_accumulate` the gradient of each parent that requires one.
    """
    needs_grad = _grad_enabled and any(p.requires_grad for p in parents)
    out = Tensor(data, requires_grad=needs_grad, _parents=parents if needs_grad else ())
    if needs_grad:
        out._backward = backward
    return out


def tensor(data, requires_grad: bool = False, dtype=None) -> Tensor:
    """Make a Tensor from a number, list or ndarray (copying it), like torch.tensor."""
    array = np.array(as_array(data), dtype=dtype)
    if dtype is None and array.dtype == np.float64 and not isinstance(data, np.ndarray):
        array = array.astype(np.float32)
    return Tensor(array, requires_grad=requires_grad)


def _wrap(x, dtype) -> Tensor:
    """A number or ndarray as a constant Tensor; Python numbers take the other side's dtype."""
    if isinstance(x, Tensor):
        return x
    if isinstance(x, (int, float)):
        return Tensor(np.asarray(x, dtype=dtype))
    return Tensor(np.asarray(x))


def _index_arrays(index):
    """Tensors used as indices become their integer ndarrays."""
    if isinstance(index, tuple):
        return tuple(as_array(i) if isinstance(i, Tensor) else i for i in index)
    return as_array(index) if isinstance(index, Tensor) else index


def _is_basic(index) -> bool:
    parts = index if isinstance(index, tuple) else (index,)
    return all(isinstance(i, (int, np.integer, slice)) or i is None or i is Ellipsis for i in parts)


def topological_order(root: Tensor) -> list:
    """All tensors that `root` depends on, each after its parents (iterative DFS).

    A recursive version is shorter but hits Python's recursion limit on deep graphs
    (a 12-layer transformer already makes thousands of nodes).
    """
    order, visited = [], set()
    stack = [(root, False)]
    while stack:
        node, parents_done = stack.pop()
        if parents_done:
            order.append(node)
            continue
        if id(node) in visited:
            continue
        visited.add(id(node))
        stack.append((node, True))
        stack.extend((p, False) for p in node._parents if id(p) not in visited)
    return order
