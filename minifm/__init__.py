"""minifm: foundation models built from scratch in NumPy, to learn from.

    import minifm as mf; import minifm.functional as F; from minifm import nn, optim
"""

from .tensor import Tensor, tensor, no_grad, is_grad_enabled
from .gradcheck import gradcheck

__all__ = ["Tensor", "tensor", "no_grad", "is_grad_enabled", "gradcheck"]
__version__ = "0.1.0"

from . import functional, nn  # noqa: E402  (after the engine they build on)
from . import io, optim  # noqa: E402
