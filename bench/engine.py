"""How much does the autograd engine cost? minifm against a hand-written NumPy step.

One training step (forward, backward, SGD update) of an MLP 784-1000-1000-10 with
ReLU, batch 100, float32, softmax cross-entropy, done two ways from the same initial
weights and data:

  (a) minifm:        nn.Linear, F.relu, F.cross_entropy, loss.backward(), optim.SGD
  (b) hand-written:  the same maths in plain NumPy, backward derived by hand,
                     in-place ReLU, bias add and SGD update, no needless copies

Both run in one process, interleaved round by round (so a slow spell of the machine
hits both alike), after a warm-up. We print each median, the ratio minifm / hand
(project target: <= 1.15) and a breakdown into forward / backward / update, so that
any overhead can be pinned on one phase. Before timing we check, once, that both
give the same loss and the same updated weights (float32 tolerance): the race is
only fair if they do the same work.

    python bench/engine.py                # 50 rounds after 10 warm-up
    python bench/engine.py --rounds 100 --profile   # plus cProfile of the minifm step

Shape letters: B batch, C_in = 784 inputs, H = 1000 hidden units, K = 10 classes.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import time

import numpy as np

import minifm as mf
import minifm.functional as F
from minifm import nn, optim
from timing import timed_step  # bench/timing.py: the shared timed step

B, C_IN, H, K = 100, 784, 1000, 10
LR = 0.01


# ---- (a) minifm ----------------------------------------------------------------


class MLP(nn.Module):
    def __init__(self, rng: np.random.Generator):
        self.fc1 = nn.Linear(C_IN, H, rng=rng)
        self.fc2 = nn.Linear(H, H, rng=rng)
        self.fc3 = nn.Linear(H, K, rng=rng)

    def forward(self, x):
        return self.fc3(F.relu(self.fc2(F.relu(self.fc1(x)))))  # (B, K)


def minifm_step(model, opt, x, y, clock=None):
    """One minifm training step; returns the loss. `clock` collects phase times."""
    # F.linear takes Tensors, not bare arrays
    return timed_step(lambda: F.cross_entropy(model(mf.Tensor(x)), y), opt.zero_grad, opt.step, clock)


# ---- (b) the same step by hand ---------------------------------------------------


def hand_step(params, x, y, clock=None):
    """Forward, backward and SGD update of the MLP in plain NumPy; returns the loss.

    params = [W1, b1, W2, b2, W3, b3], weights (out, in) as in nn.Linear; updated in place.
    """
    W1, b1, W2, b2, W3, b3 = params
    t0 = time.perf_counter()
    h1 = x @ W1.T                                    # (B, H)
    h1 += b1
    np.maximum(h1, 0.0, out=h1)                      # ReLU in place: h1 > 0 is also its mask
    h2 = h1 @ W2.T                                   # (B, H)
    h2 += b2
    np.maximum(h2, 0.0, out=h2)
    logits = h2 @ W3.T                               # (B, K)
    logits += b3
    logits -= logits.max(axis=1, keepdims=True)      # shift for a stable log-sum-exp
    p = np.exp(logits)                               # (B, K)
    z = p.sum(axis=1, keepdims=True)                 # (B, 1)
    rows = np.arange(len(y))
    loss = float(np.mean(np.log(z[:, 0]) - logits[rows, y]))
    t1 = time.perf_counter()

    # d loss / d logits = (softmax - onehot) / B
    p /= z
    p[rows, y] -= 1.0
    p *= 1.0 / len(y)
    dW3, db3 = p.T @ h2, p.sum(axis=0)               # (K, H), (K,)
    dh2 = p @ W3                                     # (B, H)
    dh2 *= h2 > 0                                    # through ReLU
    dW2, db2 = dh2.T @ h1, dh2.sum(axis=0)           # (H, H), (H,)
    dh1 = dh2 @ W2                                   # (B, H)
    dh1 *= h1 > 0
    dW1, db1 = dh1.T @ x, dh1.sum(axis=0)            # (H, C_in), (H,); no gradient for x
    t2 = time.perf_counter()

    for param, grad in zip(params, (dW1, db1, dW2, db2, dW3, db3)):
        grad *= LR                                   # in place: the gradient is ours to spend
        param -= grad
    t3 = time.perf_counter()
    if clock is not None:
        clock.append((t1 - t0, t2 - t1, t3 - t2))
    return loss


# ---- set-up, fairness check, timing --------------------------------------------


def make_problem(seed: int = 0):
    rng = np.random.default_rng(seed)
    model = MLP(rng)
    x = rng.standard_normal((B, C_IN)).astype(np.float32)   # (B, C_in)
    y = rng.integers(0, K, size=B)                          # (B,)
    return model, x, y


def hand_params(model) -> list:
    """Copies of the model's weights, in the order hand_step expects."""
    return [p.data.copy() for p in (model.fc1.weight, model.fc1.bias, model.fc2.weight,
                                    model.fc2.bias, model.fc3.weight, model.fc3.bias)]


def check_same_step(seed: int):
    """One step each from identical weights: same loss, same updated weights?"""
    model, x, y = make_problem(seed)
    params = hand_params(model)
    before = hand_params(model)
    loss_a = minifm_step(model, optim.SGD(model.parameters(), lr=LR), x, y)
    loss_b = hand_step(params, x, y)
    if not np.isclose(loss_a, loss_b, rtol=1e-5, atol=1e-6):
        raise AssertionError(f"losses differ: minifm {loss_a:.7f} vs hand {loss_b:.7f}")
    # Compare the updates, measured in float32 steps (ulps) of the weights: subtracting
    # two nearby float32 weights cannot be more exact than that.
    worst, smallest_update = 0.0, np.inf
    for name, p, q, q0 in zip(["W1", "b1", "W2", "b2", "W3", "b3"], hand_params(model), params, before):
        ulp = np.spacing(np.abs(q0).max())
        difference, update = np.max(np.abs((p - q0) - (q - q0))) / ulp, np.max(np.abs(q - q0)) / ulp
        if difference > 4:
            raise AssertionError(f"the SGD update of {name} differs by {difference:.1f} float32 steps "
                                 f"(its largest update is {update:.0f} steps)")
        worst, smallest_update = max(worst, difference), min(smallest_update, update)
    print(f"same step: loss {loss_a:.6f} (minifm) vs {loss_b:.6f} (hand)")
    print(f"           updated weights differ by at most {worst:.1f} float32 step(s) of the largest weight, "
          f"for updates of at least {smallest_update:.0f} steps")


def blas_line() -> str:
    line = f"numpy {np.__version__}"
    try:
        from threadpoolctl import threadpool_info  # optional: used only if already installed
        for info in threadpool_info():
            line += f", {info.get('internal_api')} {info.get('version')} ({info.get('num_threads')} threads)"
    except ImportError:
        blas = np.show_config(mode="dicts").get("Build Dependencies", {}).get("blas", {})
        line += f", BLAS {blas.get('name', '?')} {blas.get('version', '')} (threadpoolctl absent: threads unknown)"
    return line


def time_both(rounds: int, warmup: int, seed: int):
    model, x, y = make_problem(seed)
    params = hand_params(model)
    opt = optim.SGD(model.parameters(), lr=LR)
    for _ in range(warmup):
        minifm_step(model, opt, x, y)
        hand_step(params, x, y)
    clock_a, clock_b = [], []
    for r in range(rounds):
        # alternate which goes first, so neither always runs on a warm cache
        if r % 2 == 0:
            minifm_step(model, opt, x, y, clock_a)
            hand_step(params, x, y, clock_b)
        else:
            hand_step(params, x, y, clock_b)
            minifm_step(model, opt, x, y, clock_a)
    return np.array(clock_a) * 1e3, np.array(clock_b) * 1e3   # (rounds, 3) in ms


def profile_minifm(seed: int, steps: int = 20):
    model, x, y = make_problem(seed)
    opt = optim.SGD(model.parameters(), lr=LR)
    minifm_step(model, opt, x, y)
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(steps):
        minifm_step(model, opt, x, y)
    profiler.disable()
    print(f"\ncProfile of {steps} minifm steps (tottime = time inside the function itself):")
    pstats.Stats(profiler).sort_stats("tottime").print_stats(15)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=50)
    parser.add_argument("--warmup", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--profile", action="store_true", help="also cProfile the minifm step")
    args = parser.parse_args()

    print(blas_line())
    print(f"MLP {C_IN}-{H}-{H}-{K}, ReLU, batch {B}, float32, SGD lr {LR}")
    check_same_step(args.seed)
    a, b = time_both(args.rounds, args.warmup, args.seed)
    med_a, med_b = np.median(a.sum(axis=1)), np.median(b.sum(axis=1))
    print(f"\nmedian of {args.rounds} interleaved steps (ms)   total  forward  backward  update")
    for name, t in (("minifm", a), ("hand-written NumPy", b)):
        phases = np.median(t, axis=0)
        print(f"  {name:<30} {np.median(t.sum(axis=1)):7.2f}  {phases[0]:7.2f}  {phases[1]:8.2f}  {phases[2]:6.2f}")
    ratio = med_a / med_b
    verdict = "within" if ratio <= 1.15 else "ABOVE"
    print(f"ratio minifm / hand-written: {ratio:.3f}  ({verdict} the target 1.15)")
    if args.profile or ratio > 1.15:
        profile_minifm(args.seed)


if __name__ == "__main__":
    main()
