"""Lesson 00: automatic differentiation, the engine under every model in this course.

What it shows:
  1. A small expression L = tanh(a*b + c) * a, its graph printed in topological order,
     and the chain rule done by hand in NumPy, one local derivative at a time. `a` is
     used twice, so its gradient is a sum (the `+=` rule). Every hand gradient is
     checked against `backward()` and against finite differences (`mf.gradcheck`).
  2. A small MLP (2-32-32-2, tanh) trained with AdamW on two noisy moons made in NumPy:
     the same engine, now with a thousand parameters.
  3. What reverse mode buys: one backward pass gives every parameter's derivative for
     about the price of one more forward pass (the "cheap gradient principle",
     Griewank & Walther 2008: often within a factor of 5), where finite differences
     would need two forward passes per parameter.

Run:     python lessons/00_autograd.py            (about 2 s on a 2-core laptop)
         python lessons/00_autograd.py --smoke    (about 2 s, tiny sizes, for tests)
Expect:  hand, backward() and gradcheck agree (hand vs backward to ~1e-16, float64);
         first training loss near ln 2 = 0.693, last about 0.01; test accuracy about
         0.99 (the claim: >= 0.97); forward + backward about 2 forward passes.
"""

# %% [markdown]
# # 00 · Autograd: the chain rule, mechanised
#
# Every model in this course learns by gradient descent, and every gradient comes from
# one small engine, `minifm/tensor.py`. Each operation on a `Tensor` records its inputs
# and a `backward` closure holding its local derivative. `loss.backward()` then walks
# the recorded graph from the loss back to the inputs, multiplying local derivatives.
# That walk is the chain rule. We first do it once by hand, on five nodes; then we let
# the engine train a network; then we ask why this backward walk is the right one.

# %%
from __future__ import annotations

import time
import timeit
from dataclasses import dataclass, replace

import numpy as np
from tqdm import tqdm

import minifm as mf
import minifm.functional as F
from minifm import nn, optim
from minifm.lesson import Lesson
from minifm.tensor import topological_order

lesson = Lesson("00_autograd")


@dataclass
class Config:
    n_points: int = 2000        # two-moons points, half per class
    noise: float = 0.15         # std of the Gaussian jitter: the moons touch but stay separable
    test_fraction: float = 0.3  # held out, never trained on
    hidden: int = 32            # width of both hidden layers
    steps: int = 1500           # AdamW steps on mini-batches
    batch_size: int = 64
    lr: float = 0.01            # peak learning rate; a cosine takes it to 0
    eval_every: int = 100       # steps between test-accuracy checks
    timing_repeats: int = 50    # repeats when timing forward vs backward


config = Config()
if lesson.smoke:
    config = replace(config, n_points=300, steps=120, eval_every=20, timing_repeats=5)
print(config)

# %% [markdown]
# ## Step 1 — one expression, differentiated by hand
#
# We build L = tanh(a·b + c) · a from three leaves. The engine does not name its nodes,
# so the lesson keeps a dict `names` from each tensor to a letter. The op of a node we
# read off its backward closure, e.g. `Tensor.__mul__.<locals>.backward` -> `mul`.
# We use float64 throughout: later we compare with finite differences, which need it.

# %%
lesson.step("A scalar expression and its graph")
a = mf.tensor(0.8, dtype=np.float64, requires_grad=True)
b = mf.tensor(-1.5, dtype=np.float64, requires_grad=True)
c = mf.tensor(0.5, dtype=np.float64, requires_grad=True)
e = a * b
f = e + c
t = f.tanh()
L = t * a        # `a` again: it reaches L along two paths
names = {id(a): "a", id(b): "b", id(c): "c", id(e): "e", id(f): "f", id(t): "t", id(L): "L"}


def op_name(node) -> str:
    """'leaf' for an input, else the op that made the node (from its backward closure)."""
    if node._backward is None:
        return "leaf"
    return node._backward.__qualname__.split(".")[-3].strip("_")


print(f"{'node':<5}{'op':<6}{'value':>10}   parents")
for node in topological_order(L):  # each node after its parents
    parents = ", ".join(names[id(p)] for p in node._parents)
    print(f"{names[id(node)]:<5}{op_name(node):<6}{node.item():>10.5f}   {parents}")

# %% [markdown]
# Read the table top to bottom and you have the forward pass: each node appears after
# the nodes it was computed from. `backward()` visits the same rows bottom to top,
# because a node's gradient is complete only once every node that *uses* it has passed
# its share back. The engine finds this order with an explicit stack rather than
# recursion: a deep model's graph would exceed Python's recursion limit.
#
# Now by hand, in NumPy. Start from dL/dL = 1. At each node, multiply the gradient
# arriving from above by the node's local derivative; the running product is the
# gradient of L with respect to that node's input. Two paths lead from L to `a`
# (directly, and through e), so `a` collects two products.

# %%
va, vb, vc = a.item(), b.item(), c.item()
vt = np.tanh(va * vb + vc)
dL_dt = 1.0 * va                    # L = t * a   -> dL/dt = a
dL_da_direct = 1.0 * vt             #             -> dL/da = t   (first path to a)
dL_df = dL_dt * (1.0 - vt * vt)     # t = tanh f  -> dt/df = 1 - t^2
dL_de = dL_df * 1.0                 # f = e + c   -> df/de = 1
dL_dc = dL_df * 1.0                 #             -> df/dc = 1
dL_db = dL_de * va                  # e = a * b   -> de/db = a
dL_da_via_e = dL_de * vb            #             -> de/da = b   (second path to a)
dL_da = dL_da_direct + dL_da_via_e  # a is used twice: the two contributions add up
print(f"{'node and local derivative':<28}{'value':>10}{'running product':>18}")
for text, local, product in [("L = t*a     dL/dt = a", va, dL_dt), ("L = t*a     dL/da = t", vt, dL_da_direct),
                             ("t = tanh f  dt/df = 1-t^2", 1.0 - vt * vt, dL_df),
                             ("f = e+c     df/de = 1", 1.0, dL_de), ("f = e+c     df/dc = 1", 1.0, dL_dc),
                             ("e = a*b     de/db = a", va, dL_db), ("e = a*b     de/da = b", vb, dL_da_via_e)]:
    print(f"{text:<28}{local:>10.5f}{product:>18.5f}")
print(f"dL/da = {dL_da_direct:.5f} + {dL_da_via_e:.5f} = {dL_da:.5f}  (the += rule)")

# %% [markdown]
# Now the engine does the same walk. `a.grad` receives two contributions, one per use,
# and `_accumulate` adds them. For the same reason a second `backward()` would add to
# the gradients already there; that is why every training loop calls `zero_grad()`.
#
# A second, independent check needs no calculus at all: nudge one input by ±ε and
# watch L move. `mf.gradcheck` compares (L(x+ε) − L(x−ε)) / 2ε with `backward()` for
# every input and raises, naming the input, if any disagree.

# %%
L.backward()
hand = {"a": dL_da, "b": dL_db, "c": dL_dc}
engine = {"a": a.grad.item(), "b": b.grad.item(), "c": c.grad.item()}
for name in hand:
    print(f"dL/d{name}: by hand {hand[name]:+.12f}   backward() {engine[name]:+.12f}")
hand_error = max(abs(hand[k] - engine[k]) for k in hand)
assert hand_error < 1e-12, f"hand and backward() disagree by {hand_error}"
lesson.metric("hand_vs_backward_max_error", hand_error)
mf.gradcheck(lambda a, b, c: (a * b + c).tanh() * a, [a, b, c])  # raises if any gradient is off
print(f"largest hand-vs-backward difference {hand_error:.1e}; gradcheck passed")

# %% [markdown]
# ## Step 2 — the same engine trains a network
#
# Two interleaved half circles ("moons") with Gaussian noise, made in NumPy from a
# seeded generator. No straight line separates them, so the network must bend its
# decision boundary. Each example is a point (x, y) and a class, 0 or 1. A fixed share
# of the points is held out as a test set that training never sees.

# %%
lesson.step("An MLP on two moons")


def make_moons(config: Config, seed: int):
    """Points (N, 2) float32 and labels (N,), split into train and test sets."""
    rng = np.random.default_rng(seed)
    half = config.n_points // 2
    angle = rng.uniform(0.0, np.pi, config.n_points)
    upper = np.stack([np.cos(angle[:half]), np.sin(angle[:half])], axis=1)                # (N/2, 2)
    lower = np.stack([1.0 - np.cos(angle[half:]), 0.5 - np.sin(angle[half:])], axis=1)  # (N - N/2, 2)
    points = np.concatenate([upper, lower]) + config.noise * rng.standard_normal((config.n_points, 2))
    labels = np.concatenate([np.zeros(half, dtype=np.int64), np.ones(config.n_points - half, dtype=np.int64)])
    order = rng.permutation(config.n_points)
    points, labels = points[order].astype(np.float32), labels[order]
    n_test = int(config.test_fraction * config.n_points)
    return (points[n_test:], labels[n_test:]), (points[:n_test], labels[:n_test])


(x_train, y_train), (x_test, y_test) = make_moons(config, lesson.seed)
print(f"train {x_train.shape}, test {x_test.shape}; first example: point {x_train[0]}, class {y_train[0]}")

# %% [markdown]
# The model: Linear → tanh → Linear → tanh → Linear, ending in two logits; the loss
# is softmax cross-entropy. Before training the two classes are equally likely, so
# the first loss should be near ln 2 ≈ 0.693. AdamW (the optimizer of BERT and GPT)
# scales each weight's step by its own gradient history; the learning rate follows a
# cosine from `lr` down to 0, so the last steps stop jostling the boundary. The loop
# is the one every lesson uses: forward, `zero_grad()`, `backward()`, `step()`.
# Evaluation runs under `mf.no_grad()`: no graph is recorded when no gradient is wanted.

# %%


def make_mlp(config: Config, rng: np.random.Generator) -> nn.Module:
    return nn.Sequential(nn.Linear(2, config.hidden, rng=rng), nn.Tanh(),
                         nn.Linear(config.hidden, config.hidden, rng=rng), nn.Tanh(),
                         nn.Linear(config.hidden, 2, rng=rng))


def accuracy(model: nn.Module, points: np.ndarray, labels: np.ndarray) -> float:
    with mf.no_grad():
        return float(np.mean(model(mf.Tensor(points)).data.argmax(axis=1) == labels))


def train(config: Config, seed: int) -> dict:
    """Train the MLP on two moons; returns the model, the test set and the history."""
    rng = np.random.default_rng(seed)
    (x_train, y_train), (x_test, y_test) = make_moons(config, seed)
    model = make_mlp(config, rng)
    opt = optim.AdamW(model.parameters(), lr=config.lr)
    schedule = optim.LambdaLR(opt, optim.warmup_cosine(0, config.steps))  # lr: cosine from lr to 0
    history = {"model": model, "test": (x_test, y_test), "loss": [], "eval_step": [], "test_accuracy": []}
    bar = tqdm(range(config.steps), desc="training", mininterval=0.5)
    for step in bar:
        batch = rng.integers(0, len(x_train), config.batch_size)
        loss = F.cross_entropy(model(mf.Tensor(x_train[batch])), y_train[batch])
        opt.zero_grad()   # these four lines are one training step; from lesson 01 on,
        loss.backward()   # optim.update(loss, opt, schedule) does them (and clips if asked)
        opt.step()
        schedule.step()
        history["loss"].append(loss.item())
        if step % 10 == 0:
            bar.set_postfix(loss=f"{loss.item():.3f}", refresh=False)  # redrawn every 0.5 s
        if (step + 1) % config.eval_every == 0:
            history["eval_step"].append(step + 1)
            history["test_accuracy"].append(accuracy(model, x_test, y_test))
    return history


start = time.perf_counter()
history = train(config, lesson.seed)
train_seconds = time.perf_counter() - start
model = history["model"]
print(f"{model.num_parameters()} parameters, {config.steps} steps in {train_seconds:.1f} s")

# %% [markdown]
# ## Evaluation
#
# The first loss tells us the initialisation is sane (near ln 2). The last one is a
# mean over the final tenth of the steps, since a single mini-batch loss is noisy.
# What counts is accuracy on the held-out test points.

# %%
losses = np.array(history["loss"])
loss_first, loss_last = losses[0], losses[-max(1, len(losses) // 10):].mean()
test_accuracy = accuracy(model, x_test, y_test)
print(f"loss: first {loss_first:.4f} (ln 2 = {np.log(2):.4f}), last {loss_last:.4f}")
print(f"train accuracy {accuracy(model, x_train, y_train):.4f}, test accuracy {test_accuracy:.4f}")
lesson.metric("loss_first", loss_first)
lesson.metric("loss_last", loss_last)
lesson.metric("test_accuracy", test_accuracy)
lesson.metric("train_seconds", round(train_seconds, 2))
lesson.claim("an MLP trained by backprop separates two moons (test accuracy)", test_accuracy, 0.97)

# %% [markdown]
# ## Step 3 — what reverse mode buys
#
# The network has P parameters and one loss. Finite differences would need two forward
# passes per parameter to get the gradient. Forward-mode differentiation would need one
# pass per parameter too. Reverse mode walks the graph backwards once and gets all P
# derivatives, for a small multiple of the forward pass's work whatever P is (a matmul
# needs two matmuls backwards: one for its input, one for its weight).
# We time, on one batch, a forward pass alone and a forward plus backward (medians).
#
# > Simplification: the cheap gradient principle bounds *operation counts*; we measure
# > wall-clock time, where Python overhead per op counts too.

# %%
lesson.step("The cost of a gradient")
batch, targets = mf.Tensor(x_train[:config.batch_size]), y_train[:config.batch_size]
forward_time = np.median(timeit.repeat(lambda: F.cross_entropy(model(batch), targets),
                                       number=1, repeat=config.timing_repeats))
gradient_time = np.median(timeit.repeat(lambda: F.cross_entropy(model(batch), targets).backward(),
                                        number=1, repeat=config.timing_repeats))
model.zero_grad()  # the timing runs left gradients behind
P = model.num_parameters()
cost_ratio = float(gradient_time / forward_time)
print(f"forward {forward_time * 1e3:.3f} ms; forward + backward {gradient_time * 1e3:.3f} ms "
      f"= {cost_ratio:.2f} forward passes for all {P} derivatives")
print(f"finite differences: {2 * P} forward passes, about {2 * P * forward_time:.2f} s per gradient")
lesson.metric("gradient_cost_in_forward_passes", cost_ratio)
lesson.claim("cheap gradient: forward + backward costs at most 5 forward passes", cost_ratio, 5.0,
             at_most=True)
lesson.paper({"gradient cost / function cost, reverse mode (Griewank & Walther 2008)": "often <= 5"})

# %% [markdown]
# ## Figures
#
# Left, the loss per step with its running mean (log scale); right, test accuracy as
# training goes. Then the decision boundary: the network's probability of class 1 over
# the plane, the 0.5 contour in black, and the test points coloured by their true class.

# %%


def plot_training(history: dict):
    import matplotlib.pyplot as plt
    loss = np.array(history["loss"])
    window = max(1, len(loss) // 40)
    smooth = np.convolve(loss, np.ones(window) / window, mode="valid")
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 3.5))
    ax1.plot(loss, alpha=0.3, label="mini-batch loss")
    ax1.plot(np.arange(window - 1, len(loss)), smooth, label=f"mean of {window}")
    ax1.set(xlabel="step", ylabel="cross-entropy", yscale="log", title="training loss")
    ax1.legend()
    ax2.plot(history["eval_step"], history["test_accuracy"], marker="o")
    ax2.set(xlabel="step", ylabel="accuracy", title="test accuracy")
    fig.tight_layout()
    return fig


def plot_boundary(model: nn.Module, points: np.ndarray, labels: np.ndarray):
    import matplotlib.pyplot as plt
    gx, gy = np.meshgrid(np.linspace(-1.7, 2.7, 200), np.linspace(-1.2, 1.7, 200))
    grid = np.stack([gx.ravel(), gy.ravel()], axis=1).astype(np.float32)  # (200*200, 2)
    with mf.no_grad():
        prob = F.softmax(model(mf.Tensor(grid))).data[:, 1].reshape(gx.shape)
    fig, ax = plt.subplots(figsize=(6, 4.5))
    shading = ax.contourf(gx, gy, prob, levels=20, cmap="RdBu_r", alpha=0.7)
    ax.contour(gx, gy, prob, levels=[0.5], colors="k")
    ax.scatter(points[:, 0], points[:, 1], c=labels, cmap="RdBu_r", edgecolors="k", s=14)
    fig.colorbar(shading, label="p(class 1)")
    ax.set(title="decision boundary (test points)", xlabel="x", ylabel="y")
    return fig


lesson.savefig(plot_training(history), "loss_curve")
lesson.savefig(plot_boundary(model, x_test, y_test), "decision_boundary")

# %% [markdown]
# ## Summary
#
# The table below is what this run measured. The engine agrees with the chain rule done
# by hand and with finite differences, trains a network to separate the moons, and
# pays about one extra forward pass for a full gradient. Every later lesson rests on it.

# %%
lesson.finish()
