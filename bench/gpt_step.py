"""How fast is one GPT-2 training step in minifm, next to the same step in PyTorch?

One step = forward, next-token cross-entropy, backward, AdamW update, of a GPT-2-style
model (pre-LN, tanh GELU, learned positions, output layer tied to the token embedding):
vocabulary 512, context 64, batch 16, width 128, 4 heads, 4 layers, float32,
dropout 0.1 by default (--dropout 0 turns it off in both models).

If PyTorch is importable, the same model is built in PyTorch (2 threads by default) from minifm's
initial weights, and we first check that both give the same loss and gradients with
dropout off: the race is only fair if they do the same work. Then the two steps
alternate, round by round, so a busy spell of the machine hits both alike. The last
line printed is the ratio minifm / PyTorch of the median step times.

    python bench/gpt_step.py                      # minifm alone (and PyTorch if installed)
    python bench/gpt_step.py --rounds 40 --profile  # plus a cProfile of the minifm step
    OPENBLAS_NUM_THREADS=1 python bench/gpt_step.py --torch-threads 1   # one thread each

Shape letters: B batch, T time, C channels, H heads, D head size, V vocabulary.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats

import numpy as np

from minifm import optim
from minifm.models.gpt import GPT, GPTConfig, lm_loss
from timing import timed_step  # bench/timing.py: the shared timed step

try:  # optional: only for the comparison
    import torch
except ImportError:
    torch = None

V, T, B, C, H, L = 512, 64, 16, 128, 4, 4
LR, WEIGHT_DECAY = 3e-4, 0.01


# ---- minifm ----------------------------------------------------------------------


def minifm_step(model, opt, ids, clock=None) -> float:
    """One training step; returns the loss. `clock` collects (forward, backward, update) times."""
    return timed_step(lambda: lm_loss(model(ids), ids), opt.zero_grad, opt.step, clock)


# ---- the same model in PyTorch (built only when torch is importable) --------------


def build_torch_gpt(model: GPT, dropout: float):
    """A PyTorch GPT-2 with the layout of minifm's GPT, holding a copy of its weights."""
    nn, F = torch.nn, torch.nn.functional

    class Attention(nn.Module):
        def __init__(self):
            super().__init__()
            self.query, self.key, self.value, self.output = (nn.Linear(C, C) for _ in range(4))

        def forward(self, x):
            def heads(y):
                return y.view(B_, T_, H, C // H).transpose(1, 2)  # (B, H, T, D)
            B_, T_, _ = x.shape
            y = F.scaled_dot_product_attention(heads(self.query(x)), heads(self.key(x)), heads(self.value(x)),
                                               is_causal=True, dropout_p=dropout if self.training else 0.0)
            return self.output(y.transpose(1, 2).reshape(B_, T_, C))

    class Layer(nn.Module):
        def __init__(self):
            super().__init__()
            self.attention_norm, self.ffn_norm = nn.LayerNorm(C), nn.LayerNorm(C)
            self.attention = Attention()
            self.ffn = nn.ModuleDict({"up": nn.Linear(C, 4 * C), "down": nn.Linear(4 * C, C)})
            self.dropout = nn.Dropout(dropout)

        def forward(self, x):
            x = x + self.dropout(self.attention(self.attention_norm(x)))
            h = F.gelu(self.ffn["up"](self.ffn_norm(x)), approximate="tanh")
            return x + self.dropout(self.ffn["down"](h))

    class TorchGPT(nn.Module):
        def __init__(self):
            super().__init__()
            self.token_embedding, self.position_embedding = nn.Embedding(V, C), nn.Embedding(T, C)
            self.dropout = nn.Dropout(dropout)
            self.layers = nn.ModuleList(Layer() for _ in range(L))
            self.final_norm = nn.LayerNorm(C)

        def forward(self, ids):
            x = self.dropout(self.token_embedding(ids) + self.position_embedding.weight[:ids.shape[1]])
            for layer in self.layers:
                x = layer(x)
            return self.final_norm(x) @ self.token_embedding.weight.T  # (B, T, V): tied

    reference = TorchGPT()
    ours = dict(model.named_parameters())
    with torch.no_grad():
        for name, p in reference.named_parameters():
            p.copy_(torch.from_numpy(ours[name].data))
    if set(ours) != {name for name, _ in reference.named_parameters()}:
        raise AssertionError("the PyTorch model's parameters do not match minifm's one to one")
    return reference


def torch_loss(reference, ids):
    logits = reference(ids)  # (B, T, V)
    return torch.nn.functional.cross_entropy(logits[:, :-1].reshape(-1, V), ids[:, 1:].reshape(-1))


def torch_step(reference, opt, ids, clock=None) -> float:
    return timed_step(lambda: torch_loss(reference, ids), lambda: opt.zero_grad(set_to_none=True), opt.step, clock)


# ---- set-up, fairness check, timing ---------------------------------------------


def make_problem(seed: int, dropout: float):
    rng = np.random.default_rng(seed)
    model = GPT(GPTConfig.gpt2(vocab_size=V, n_ctx=T, n_embd=C, n_layer=L, n_head=H, dropout=dropout), rng)
    ids = rng.integers(0, V, size=(B, T))  # (B, T)
    return model, ids


def check_same_step(seed: int):
    """Dropout off: the same loss and the same gradients in both frameworks?"""
    model, ids = make_problem(seed, dropout=0.0)
    reference = build_torch_gpt(model, dropout=0.0)
    loss = lm_loss(model(ids), ids)
    loss.backward()
    reference_loss = torch_loss(reference, torch.from_numpy(ids))
    reference_loss.backward()
    if not np.isclose(loss.item(), reference_loss.item(), rtol=1e-5):
        raise AssertionError(f"losses differ: minifm {loss.item():.6f} vs PyTorch {reference_loss.item():.6f}")
    ours = dict(model.named_parameters())
    # relative to each gradient's largest element; key biases get exactly zero gradient in
    # theory (softmax ignores a shift shared by all keys), so rounding noise there is measured against 1e-6
    worst = max(np.abs(ours[n].grad - p.grad.numpy()).max() / max(np.abs(p.grad.numpy()).max(), 1e-6)
                for n, p in reference.named_parameters())
    if worst > 1e-3:
        raise AssertionError(f"gradients differ by {worst:.1e} of their size")
    print(f"same step: loss {loss.item():.5f} (minifm) vs {reference_loss.item():.5f} (PyTorch), "
          f"gradients agree to {worst:.1e} of their largest element")


def time_steps(rounds: int, warmup: int, seed: int, dropout: float, with_torch: bool):
    """Median-ready (rounds, 3) arrays of (forward, backward, update) ms for each framework."""
    model, ids = make_problem(seed, dropout)
    opt = optim.AdamW(model.parameters(), lr=LR, weight_decay=WEIGHT_DECAY)
    steps = [lambda clock=None: minifm_step(model, opt, ids, clock)]
    if with_torch:
        reference = build_torch_gpt(model, dropout)
        torch_opt = torch.optim.AdamW(reference.parameters(), lr=LR, weight_decay=WEIGHT_DECAY)
        torch_ids = torch.from_numpy(ids)
        steps.append(lambda clock=None: torch_step(reference, torch_opt, torch_ids, clock))
    for _ in range(warmup):
        for step in steps:
            step()
    clocks = [[] for _ in steps]
    for r in range(rounds):
        order = range(len(steps)) if r % 2 == 0 else reversed(range(len(steps)))  # neither always first
        for i in order:
            steps[i](clocks[i])
    return [np.array(clock) * 1e3 for clock in clocks]


def profile_minifm(seed: int, dropout: float, steps: int = 20):
    model, ids = make_problem(seed, dropout)
    opt = optim.AdamW(model.parameters(), lr=LR, weight_decay=WEIGHT_DECAY)
    minifm_step(model, opt, ids)
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(steps):
        minifm_step(model, opt, ids)
    profiler.disable()
    print(f"\ncProfile of {steps} minifm steps (tottime = time inside the function itself, ms per step):")
    stats = pstats.Stats(profiler).sort_stats("tottime")
    for (path, line, function), (_, calls, tottime, cumtime, _) in list(
            sorted(stats.stats.items(), key=lambda kv: -kv[1][2]))[:25]:
        where = f"{path.split('/')[-1]}:{line}({function})"
        print(f"  {tottime / steps * 1e3:8.2f} ms  {calls // steps:6d} calls  {where}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--dropout", type=float, default=0.1)
    parser.add_argument("--no-torch", action="store_true", help="time minifm alone")
    parser.add_argument("--torch-threads", type=int, default=2,
                        help="PyTorch threads (NumPy's BLAS threads: set OPENBLAS_NUM_THREADS before starting)")
    parser.add_argument("--profile", action="store_true", help="also cProfile the minifm step")
    args = parser.parse_args()
    with_torch = torch is not None and not args.no_torch

    print(f"numpy {np.__version__}" + (f", torch {torch.__version__}" if with_torch else ", PyTorch not used"))
    print(f"GPT-2 style: V {V}, T {T}, B {B}, C {C}, H {H}, L {L}, float32, dropout {args.dropout}, "
          f"AdamW lr {LR} wd {WEIGHT_DECAY}")
    if with_torch:
        torch.set_num_threads(args.torch_threads)
        torch.manual_seed(args.seed)
        check_same_step(args.seed)
    clocks = time_steps(args.rounds, args.warmup, args.seed, args.dropout, with_torch)
    names = ["minifm", "PyTorch"][:len(clocks)]
    print(f"\nmedian of {args.rounds} {'alternated ' if with_torch else ''}steps (ms)  total  forward  backward  update")
    for name, t in zip(names, clocks):
        phases = np.median(t, axis=0)
        print(f"  {name:<28} {np.median(t.sum(axis=1)):7.2f}  {phases[0]:7.2f}  {phases[1]:8.2f}  {phases[2]:6.2f}")
    if args.profile:
        profile_minifm(args.seed, args.dropout)
    if with_torch:
        print(f"ratio minifm / PyTorch: {np.median(clocks[0].sum(axis=1)) / np.median(clocks[1].sum(axis=1)):.3f}")


if __name__ == "__main__":
    main()
