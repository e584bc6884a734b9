"""Optimizers: turning gradients into better weights (SGD, Adam, AdamW), plus lr schedules.

After ``loss.backward()`` each parameter holds ``.grad``, the direction in which the
loss grows fastest. An optimizer's ``step()`` moves every parameter's ``.data`` (in
place) a little against it; ``zero_grad()`` then clears the gradients, because
``backward()`` adds to them. Parameters whose ``.grad`` is None are skipped.

- SGD: p -= lr * g, optionally with momentum (a running sum of past gradients).
- Adam: keeps running means of g (m) and of g^2 (v) and steps by m / sqrt(v), so each
  weight gets its own step size. Its ``weight_decay`` is an L2 penalty added to g.
- AdamW: the same, but weight decay shrinks the weights directly ("decoupled"), so the
  decay is not rescaled by sqrt(v). This is what BERT and GPT are trained with.

Parameters may come in groups with their own settings, as in PyTorch:
``AdamW([{"params": weights}, {"params": biases, "weight_decay": 0.0}], lr=1e-4)``.
A schedule (``LambdaLR``) changes each group's ``"lr"`` between steps.
"""

import math

import numpy as np


def _is_number(x):
    return isinstance(x, (int, float, np.number)) and not isinstance(x, bool)


def _as_list(params, what):
    """`params` as a list; refuse a lone Tensor or dict, a common slip."""
    if hasattr(params, "data") or isinstance(params, dict):
        raise TypeError(f"{what} must be an iterable of parameters, got a single "
                        f"{type(params).__name__}; wrap it in a list")
    return list(params)


def _check_params(params, what):
    """A parameter is anything holding a floating-point ndarray in `.data` (a Tensor)."""
    for j, p in enumerate(params):
        if not isinstance(getattr(p, "data", None), np.ndarray) or p.data.dtype.kind != "f":
            raise TypeError(f"{what}[{j}] must be a Tensor with a floating-point ndarray "
                            f".data, got {type(p).__name__} {getattr(p, 'data', p)!r:.60}")


def _check_hyperparameters(group):
    """Check each setting in `group`; store it as a Python float, so float32 stays float32."""
    for key in ("lr", "momentum", "weight_decay", "eps"):
        if key in group:
            if not (_is_number(group[key]) and 0.0 <= group[key] < math.inf):
                raise ValueError(f"{key} must be a finite number >= 0, got {group[key]!r}")
            group[key] = float(group[key])
    if "betas" in group:
        betas = group["betas"]
        if not (isinstance(betas, (tuple, list)) and len(betas) == 2
                and all(_is_number(b) and 0.0 <= b < 1.0 for b in betas)):
            raise ValueError(f"betas must be two numbers in [0, 1), got {betas!r}")
        group["betas"] = (float(betas[0]), float(betas[1]))


class Optimizer:
    """Holds parameter groups and per-parameter state; subclasses define `_update`."""

    def __init__(self, params, defaults):
        _check_hyperparameters(defaults)
        self.defaults = defaults
        items = _as_list(params, "params")
        if not items:
            raise ValueError("the optimizer got an empty parameter list")
        groups = items if all(isinstance(x, dict) for x in items) else [{"params": items}]
        self.param_groups = [self._make_group(g, i) for i, g in enumerate(groups)]
        ids = [id(p) for _, _, p in self._indexed()]
        if len(set(ids)) != len(ids):
            raise ValueError("a parameter appears more than once in the parameter groups")
        self.state = {}     # parameter index -> its moments and step count (saved)
        self._scratch = {}  # parameter index -> a reusable work buffer (not saved)

    def _make_group(self, group, g):
        unknown = set(group) - {"params"} - set(self.defaults)
        if "params" not in group or unknown:
            raise ValueError(f"param group {g} needs 'params' and may set only "
                             f"{sorted(self.defaults)}; got keys {sorted(group)}")
        params = _as_list(group["params"], f"param group {g}'s params")
        if not params:
            raise ValueError(f"param group {g} has an empty parameter list")
        _check_params(params, f"param group {g}'s params")
        merged = {**self.defaults, **group, "params": params}  # the group's own settings win
        _check_hyperparameters(merged)
        return merged

    def _indexed(self):
        """List (index, group, parameter) for every parameter, in a fixed order."""
        pairs = [(group, p) for group in self.param_groups for p in group["params"]]
        return [(i, group, p) for i, (group, p) in enumerate(pairs)]

    def step(self):
        """Update every parameter that has a gradient, in place."""
        for i, group, p in self._indexed():
            if p.grad is None:
                continue
            if p.grad.shape != p.data.shape:
                raise ValueError(f"parameter {i} has shape {p.data.shape}, its grad {p.grad.shape}")
            self._update(p.data, p.grad, self.state.setdefault(i, {}), group, i)

    def zero_grad(self):
        """Forget all gradients (backward() adds to .grad, so clear it between steps)."""
        for _, _, p in self._indexed():
            p.grad = None

    def _buffer(self, i, data):
        """A work array shaped like parameter i, allocated once and reused every step."""
        buf = self._scratch.get(i)
        if buf is None or buf.shape != data.shape or buf.dtype != data.dtype:
            buf = self._scratch[i] = np.empty_like(data)
        return buf

    def state_dict(self):
        """Settings and per-parameter state (copies), to save next to a model checkpoint."""
        groups, start = [], 0
        for group in self.param_groups:
            n = len(group["params"])
            groups.append({**group, "params": list(range(start, start + n))})
            start += n
        return {"state": _copy_state(self.state), "param_groups": groups}

    def load_state_dict(self, state_dict):
        """Restore what `state_dict` saved; the groups must hold as many parameters as then."""
        sizes = [len(g["params"]) for g in self.param_groups]
        if [len(g["params"]) for g in state_dict["param_groups"]] != sizes:
            raise ValueError(f"saved param groups differ from this optimizer's (sizes {sizes})")
        shapes = [p.data.shape for _, _, p in self._indexed()]
        for i, s in state_dict["state"].items():
            for key, v in s.items():
                if isinstance(v, np.ndarray) and v.shape != shapes[i]:
                    raise ValueError(f"saved {key!r} of parameter {i} has shape {v.shape}, "
                                     f"the parameter {shapes[i]}")
        for group, saved in zip(self.param_groups, state_dict["param_groups"]):
            group.update({k: v for k, v in saved.items() if k != "params"})
            _check_hyperparameters(group)
        self.state = _copy_state(state_dict["state"])


def _copy_state(state):
    return {i: {k: np.copy(v) if isinstance(v, np.ndarray) else v for k, v in s.items()}
            for i, s in state.items()}


class SGD(Optimizer):
    """p -= lr * g; with momentum, g is replaced by buf = momentum * buf + g (as PyTorch)."""

    def __init__(self, params, lr, momentum=0.0, weight_decay=0.0):
        super().__init__(params, {"lr": lr, "momentum": momentum, "weight_decay": weight_decay})

    def _update(self, data, grad, state, group, i):
        lr, wd = float(group["lr"]), group["weight_decay"]  # float(): a schedule may set lr
        if wd:
            grad = grad + wd * data  # L2 penalty's gradient; a new array, p.grad is untouched
        if group["momentum"]:
            if "momentum_buffer" not in state:  # the first step starts the sum at g itself
                state["momentum_buffer"] = np.array(grad, dtype=data.dtype)
            else:
                state["momentum_buffer"] *= group["momentum"]
                state["momentum_buffer"] += grad
            grad = state["momentum_buffer"]
        step = np.multiply(grad, lr, out=self._buffer(i, data))  # reused scratch: no new temporary
        data -= step


def _adam_step(data, grad, state, buf, lr, beta1, beta2, eps):
    """One Adam update of `data` in place; `buf` is scratch space shaped like `data`."""
    if not state:
        state.update(step=0, m=np.zeros_like(data), v=np.zeros_like(data))
    state["step"] += 1
    t, m, v = state["step"], state["m"], state["v"]
    m *= beta1                                              # m = b1 m + (1 - b1) g
    np.multiply(grad, 1.0 - beta1, out=buf)
    m += buf
    v *= beta2                                              # v = b2 v + (1 - b2) g^2
    np.multiply(grad, grad, out=buf)
    buf *= 1.0 - beta2
    v += buf
    # m and v start at 0, so early on they underestimate; dividing by 1 - beta^t corrects it.
    np.sqrt(v, out=buf)                                     # buf = sqrt(v_hat) + eps
    buf /= math.sqrt(1.0 - beta2 ** t)
    buf += eps
    np.divide(m, buf, out=buf)                              # p -= lr * m_hat / buf
    buf *= lr / (1.0 - beta1 ** t)
    data -= buf


class Adam(Optimizer):
    """Adam (Kingma & Ba 2015); weight_decay adds wd * p to the gradient (L2), as PyTorch's Adam."""

    decoupled = False

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0):
        super().__init__(params, {"lr": lr, "betas": betas, "eps": eps,
                                  "weight_decay": weight_decay})

    def _update(self, data, grad, state, group, i):
        lr, wd = float(group["lr"]), group["weight_decay"]  # Python floats keep float32 float32
        if wd and self.decoupled:
            data *= 1.0 - lr * wd        # AdamW: shrink the weights themselves, then step
        elif wd:
            grad = grad + wd * data      # Adam: the L2 penalty's gradient joins g (and m, v)
        _adam_step(data, grad, state, self._buffer(i, data), lr, *group["betas"], group["eps"])


class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov & Hutter 2019): p *= 1 - lr*wd, then Adam."""

    decoupled = True

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.01):
        super().__init__(params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay)


def clip_grad_norm(params, max_norm):
    """Scale all gradients together so their global L2 norm is at most `max_norm`.

    The norm treats every gradient as part of one long vector. If it exceeds
    `max_norm`, every gradient is multiplied in place by max_norm / norm: same
    direction, capped length (PyTorch adds 1e-6 to the norm; we don't, so the clipped
    norm is exactly max_norm). Returns the norm before clipping.
    """
    if not (_is_number(max_norm) and 0.0 < max_norm < math.inf):
        raise ValueError(f"max_norm must be a finite number > 0, got {max_norm!r}")
    params = _as_list(params, "params")
    _check_params(params, "params")
    grads = [p.grad for p in params if p.grad is not None]
    norm = math.sqrt(sum(float(np.vdot(g, g)) for g in grads))
    if not math.isfinite(norm):
        raise ValueError(f"the gradient norm is {norm}: a gradient holds inf or NaN "
                         "(a diverging loss? try a lower learning rate)")
    if norm > max_norm:
        scale = float(max_norm) / norm
        for g in grads:
            g *= scale
    return norm


def update(loss, optimizer, schedule=None, max_norm=None):
    """One training step once the loss is computed: the lines every training loop repeats.

    Clear the old gradients, backpropagate `loss`, clip the global gradient norm of the
    optimiser's parameters to `max_norm` (if given), take the optimiser's step, then
    advance `schedule` (if given). Lesson 00 writes these lines out; later lessons call
    this. Returns the loss as a float.
    """
    optimizer.zero_grad()
    loss.backward()
    if max_norm is not None:
        clip_grad_norm([p for group in optimizer.param_groups for p in group["params"]], max_norm)
    optimizer.step()
    if schedule is not None:
        schedule.step()
    return loss.item()


class LambdaLR:
    """Each group's lr = its initial lr * factor(step); call step() after optimizer.step()."""

    def __init__(self, optimizer, factor):
        if not callable(factor):
            raise TypeError(f"factor must be a function of the step number, got {factor!r}")
        self.optimizer, self.factor = optimizer, factor
        self.base_lrs = [group["lr"] for group in optimizer.param_groups]
        self.last_step = -1
        self.step()  # the first optimizer step already uses factor(0)

    def step(self):
        self.last_step += 1
        f = float(self.factor(self.last_step))
        for group, base_lr in zip(self.optimizer.param_groups, self.base_lrs):
            group["lr"] = base_lr * f

    def get_last_lr(self):
        return [group["lr"] for group in self.optimizer.param_groups]


def _warmup_then(warmup_steps, total_steps, decay):
    """A factor rising linearly 0 -> 1 over warmup_steps, then decay(progress 0 -> 1)."""
    if not (isinstance(warmup_steps, int) and isinstance(total_steps, int)
            and 0 <= warmup_steps <= total_steps and total_steps > 0):
        raise ValueError("need integers 0 <= warmup_steps <= total_steps, total_steps > 0; "
                         f"got warmup_steps={warmup_steps!r}, total_steps={total_steps!r}")

    def factor(step):
        if step < warmup_steps:
            return step / warmup_steps
        if step >= total_steps:
            return decay(1.0)  # stay at the floor after the schedule ends
        return decay((step - warmup_steps) / (total_steps - warmup_steps))
    return factor


def warmup_linear(warmup_steps, total_steps):
    """Warm up linearly, then decay linearly to 0 at total_steps (BERT's schedule)."""
    return _warmup_then(warmup_steps, total_steps, lambda progress: 1.0 - progress)


def warmup_cosine(warmup_steps, total_steps, min_ratio=0.0):
    """Warm up linearly, then follow half a cosine down to min_ratio (GPT's schedule)."""
    if not (_is_number(min_ratio) and 0.0 <= min_ratio <= 1.0):
        raise ValueError(f"min_ratio must be in [0, 1], got {min_ratio!r}")
    return _warmup_then(warmup_steps, total_steps, lambda progress: min_ratio + (
        1.0 - min_ratio) * 0.5 * (1.0 + math.cos(math.pi * progress)))
