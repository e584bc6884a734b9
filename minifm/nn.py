"""Modules: objects that own parameters and compute a function of their inputs.

A Module finds its parameters by looking at its own attributes: every Parameter,
every sub-Module, and every sub-Module inside a ModuleList. Their dotted paths
("encoder.layer.0.attention.query.weight") are the names used by `state_dict()`,
and they follow the Hugging Face checkpoints so that real weights can be loaded.

Every module that draws random initial weights takes `rng`, a seeded
np.random.Generator: the same seed always builds the same network.
"""

from __future__ import annotations

import math

import numpy as np

from . import functional as F
from .tensor import Tensor


class Parameter(Tensor):
    """A Tensor that a Module trains: requires_grad is always on."""

    def __init__(self, data):
        super().__init__(np.asarray(data), requires_grad=True)


def _need_rng(rng, module: str) -> np.random.Generator:
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"{module} draws random initial weights: pass rng=np.random.default_rng(seed), "
                        f"got {type(rng).__name__}")
    return rng


class Module:
    training = True

    def __call__(self, *args, **kwargs):
        return self.forward(*args, **kwargs)

    def forward(self, *args, **kwargs):
        raise NotImplementedError(f"{type(self).__name__} must define forward()")

    def named_children(self):
        for name, value in vars(self).items():
            if isinstance(value, Module):
                yield name, value

    def named_parameters(self, prefix: str = "", remove_duplicate: bool = True):
        """(dotted name, Parameter) for every parameter; a shared (tied) one is listed once."""
        seen = set()
        for name, p in self._all_parameters(prefix):
            if remove_duplicate and id(p) in seen:
                continue
            seen.add(id(p))
            yield name, p

    def _all_parameters(self, prefix: str):
        for name, value in vars(self).items():
            if isinstance(value, Parameter):
                yield prefix + name, value
            elif isinstance(value, Module):
                yield from value._all_parameters(prefix + name + ".")

    def parameters(self) -> list:
        return [p for _, p in self.named_parameters()]

    def num_parameters(self) -> int:
        return sum(p.size for p in self.parameters())

    def zero_grad(self):
        for p in self.parameters():
            p.grad = None

    def train(self, mode: bool = True):
        """Training mode (dropout on) for this module and all below it."""
        self.training = mode
        for _, child in self.named_children():
            child.train(mode)
        return self

    def eval(self):
        return self.train(False)

    def astype(self, dtype):
        """Cast every parameter in place (float64 for gradient checks)."""
        for p in self.parameters():
            p.data = p.data.astype(dtype)
            p.grad = None
        return self

    def state_dict(self) -> dict:
        """{dotted name: array copy}; a tied weight appears under each of its names, as in PyTorch."""
        return {name: p.data.copy() for name, p in self._all_parameters("")}

    def load_state_dict(self, state: dict, strict: bool = True):
        """Copy arrays into the parameters, checking names and shapes.

        strict=True: every parameter must be given and no unknown name may appear.
        Returns (missing, unexpected) name lists.
        """
        own = dict(self._all_parameters(""))
        missing = [n for n in own if n not in state]
        unexpected = [n for n in state if n not in own]
        if strict and (missing or unexpected):
            raise KeyError(f"load_state_dict: missing {missing[:5]}{'...' if len(missing) > 5 else ''}, "
                           f"unexpected {unexpected[:5]}{'...' if len(unexpected) > 5 else ''}")
        for name, p in own.items():
            if name in state:
                value = np.asarray(state[name])
                if value.shape != p.shape:
                    raise ValueError(f"load_state_dict: {name} has shape {value.shape} in the checkpoint "
                                     f"but {p.shape} in the model")
                p.data[...] = value  # in place: tied parameters stay tied
        return missing, unexpected

    def __repr__(self):
        lines = [f"  ({name}): " + repr(child).replace("\n", "\n  ") for name, child in self.named_children()]
        return type(self).__name__ + ("(\n" + "\n".join(lines) + "\n)" if lines else "()")


class ModuleList(Module):
    """A list of modules, registered as children "0", "1", ..."""

    def __init__(self, modules=()):
        for i, m in enumerate(modules):
            setattr(self, str(i), m)

    def __len__(self):
        return sum(1 for _ in self.named_children())

    def __iter__(self):
        return (m for _, m in self.named_children())

    def __getitem__(self, i):
        return getattr(self, str(range(len(self))[i]))

    def append(self, module: Module):
        setattr(self, str(len(self)), module)


class Sequential(ModuleList):
    """Apply the modules one after another."""

    def __init__(self, *modules):
        super().__init__(modules)

    def forward(self, x):
        for m in self:
            x = m(x)
        return x


# ---- layers -----------------------------------------------------------------


class Linear(Module):
    """y = x W^T + b. Initial weights U(-1/sqrt(in), 1/sqrt(in)), as PyTorch does."""

    def __init__(self, in_features: int, out_features: int, bias: bool = True, *, rng=None,
                 dtype=np.float32):
        rng = _need_rng(rng, "Linear")
        bound = 1.0 / math.sqrt(in_features)
        self.weight = Parameter(rng.uniform(-bound, bound, (out_features, in_features)).astype(dtype))
        self.bias = Parameter(rng.uniform(-bound, bound, out_features).astype(dtype)) if bias else None

    def forward(self, x):
        return F.linear(x, self.weight, self.bias)

    def __repr__(self):
        out_f, in_f = self.weight.shape
        return f"Linear(in_features={in_f}, out_features={out_f}, bias={self.bias is not None})"


class Embedding(Module):
    """A lookup table of vectors, one row per id. Initial rows N(0, 1), as PyTorch does."""

    def __init__(self, num_embeddings: int, embedding_dim: int, *, rng=None, dtype=np.float32):
        rng = _need_rng(rng, "Embedding")
        self.weight = Parameter(rng.standard_normal((num_embeddings, embedding_dim)).astype(dtype))

    def forward(self, ids):
        return F.embedding(ids, self.weight)

    def __repr__(self):
        return f"Embedding({self.weight.shape[0]}, {self.weight.shape[1]})"


class LayerNorm(Module):
    def __init__(self, dim: int, eps: float = 1e-5, dtype=np.float32):
        self.weight = Parameter(np.ones(dim, dtype=dtype))
        self.bias = Parameter(np.zeros(dim, dtype=dtype))
        self.eps = eps

    def forward(self, x):
        return F.layer_norm(x, self.weight, self.bias, self.eps)

    def __repr__(self):
        return f"LayerNorm({self.weight.shape[0]}, eps={self.eps})"


class RMSNorm(Module):
    def __init__(self, dim: int, eps: float = 1e-6, dtype=np.float32):
        self.weight = Parameter(np.ones(dim, dtype=dtype))
        self.eps = eps

    def forward(self, x):
        return F.rms_norm(x, self.weight, self.eps)


class Dropout(Module):
    """Zeroes elements with probability p while training; the identity in eval mode."""

    def __init__(self, p: float = 0.1, *, rng=None):
        if not 0.0 <= p < 1.0:
            raise ValueError(f"Dropout probability must be in [0, 1), got {p}")
        self.p = p
        self.rng = _need_rng(rng, "Dropout") if p > 0 else rng

    def forward(self, x):
        return F.dropout(x, self.p, self.training, self.rng)

    def __repr__(self):
        return f"Dropout(p={self.p})"


class ReLU(Module):
    def forward(self, x):
        return F.relu(x)


class GELU(Module):
    def __init__(self, approximate: str = "none"):
        self.approximate = approximate

    def forward(self, x):
        return F.gelu(x, self.approximate)


class Tanh(Module):
    def forward(self, x):
        return F.tanh(x)
