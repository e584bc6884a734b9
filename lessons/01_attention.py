"""Lesson 01: attention (Vaswani et al. 2017, "Attention Is All You Need").

What it shows: (1) scaled dot-product attention by hand on four named tokens, with
the 1/sqrt(d) scaling, a causal mask and the softmax, checked against the library;
(2) the masks of BERT, GPT, a prefix LM and XLNet as heatmaps; (3) a two-layer
transformer that learns to reverse digit strings (`3 1 4 1 5 9 2 6 = _ _ _ _ _ _ _ _`
-> `6 2 9 5 1 4 1 3`) and the anti-diagonal attention map of the head that does it.
We simplify: toy sizes (d_model 32, 2 heads); an encoder fills every output slot at
once instead of the paper's encoder-decoder writing one token at a time.

Run:     python lessons/01_attention.py            (about 15 s on an idle 2-core laptop)
         python lessons/01_attention.py --smoke    (about 4 s, tiny sizes, for tests)
Expect:  hand and library attention agree (~1e-16); var(q.k) / d = 0.99; at d = 512 the
         top key gets 0.94 of the softmax weight unscaled, 0.24 scaled; loss from ln 12
         = 2.48 to below 0.01; held-out sequence accuracy 1.00 (claim: >= 0.95); one head
         puts ~0.99 of its attention on the reversed source (claim: >= 0.9; uniform: 0.06).
"""

# %% [markdown]
# # 01 · Attention: every token a weighted average of the others
#
# In a transformer each position asks a question (its *query*), compares it with what
# every position offers (its *key*), and takes a mix of their contents (their
# *values*), weighted by how well they matched. A *mask* decides which positions may
# be compared, and that choice is most of what separates BERT, GPT, T5 and XLNet.
# We compute attention by hand, draw the masks, then watch a small model learn to use it.

# %%
from __future__ import annotations

import math
import time
from dataclasses import dataclass, replace

import numpy as np
from tqdm import tqdm

import minifm as mf
import minifm.functional as F
from minifm import nn, optim
from minifm.attention import causal_mask, padding_mask, prefix_mask, xlnet_masks
from minifm.lesson import Lesson
from minifm.models.transformer import TransformerLayer, normal_init_

lesson = Lesson("01_attention")


@dataclass
class Config:
    n_digits: int = 8        # length n of the strings to reverse
    n_train: int = 20000     # distinct training strings
    n_test: int = 1000       # held-out strings, none of them in the training set
    d_model: int = 32        # channels C
    n_heads: int = 2         # H heads of size C / H = 16
    n_layers: int = 2
    d_ff: int = 128          # feed-forward width, 4 C as in the paper
    steps: int = 300         # AdamW steps; the loss collapses after ~80
    batch_size: int = 64
    lr: float = 3e-3         # peak learning rate, after a linear warm-up
    warmup: int = 30


config = Config()
if lesson.smoke:
    config = replace(config, n_digits=5, n_train=2000, n_test=200, n_layers=1, steps=60)
print(config)

# %% [markdown]
# ## Step 1 — scaled dot-product attention by hand
#
# Four tokens, each with a query, a key and a value of size d = 3. In a model these
# come from three learned linear maps of each token's vector; here we write them down.
# Attention(Q, K, V) = softmax(Q Kᵀ / √d) V. Row i of Q Kᵀ says how well token i's
# query matches each key. We let "sat" look for its subject: its query matches the
# key of "cat" best, then that of "down", a word that comes later.

# %%
lesson.step("Attention by hand")
tokens = ["the", "cat", "sat", "down"]
Q = np.array([[1.0, 0.0, 1.0], [0.0, 2.0, 0.0], [0.0, 1.0, 1.0], [0.0, 1.0, 2.0]])  # (T, d)
K = np.array([[1.0, 0.0, 0.0], [0.0, 2.0, 1.0], [1.0, 1.0, 0.0], [0.0, 0.0, 2.0]])  # (T, d)
V = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0], [1.0, 1.0, 1.0]])  # (T, d)


def show(title: str, matrix: np.ndarray, rows: list, cols: list):
    """Print a small matrix with its row and column labels."""
    print(f"{title}\n{'':>7}" + "".join(f"{c:>8}" for c in cols))
    for name, row in zip(rows, matrix):
        print(f"{name:>7}" + "".join(f"{x:>8.3f}" for x in row))


d = Q.shape[1]
scores = Q @ K.T                     # (T, T): query i . key j
scaled = scores / math.sqrt(d)       # (T, T)
show("scores = Q K^T (rows: queries, columns: keys)", scores, tokens, tokens)
show(f"scaled by 1/sqrt(d) = 1/sqrt({d})", scaled, tokens, tokens)

# %% [markdown]
# Why divide by √d? If the entries of q and k are independent, with mean 0 and
# variance 1, then q·k is a sum of d such products and its variance is d. The wider
# the head, the larger the scores, and the softmax of large scores is nearly one-hot:
# the top key takes almost all the weight, and that weight's gradient with respect
# to its own score, p(1 − p), is nearly 0, so learning stalls. Dividing by √d brings
# the variance back to 1 for any d. We measure it: one query against 16 keys, 1000 times.

# %%
rng = np.random.default_rng(lesson.seed)
print(f"{'d':>5}{'var(q.k)':>10}{'var/d':>7}   top weight p, p(1-p): unscaled | scaled by 1/sqrt(d)")
for width in (3, 64, 512):
    q = rng.standard_normal((1000, 1, width)).astype(np.float32)   # (N, 1, d)
    k = rng.standard_normal((1000, 16, width)).astype(np.float32)  # (N, 16, d)
    dots = (q @ k.transpose(0, 2, 1))[:, 0]                          # (N, 16)
    top_raw, top_scaled = [F.softmax(mf.Tensor(dots * s)).data.max(axis=-1) for s in (1.0, width ** -0.5)]
    print(f"{width:>5}{dots.var():>10.1f}{dots.var() / width:>7.2f}   " +
          " | ".join(f"{p.mean():.3f}, {np.mean(p * (1 - p)):.3f}" for p in (top_raw, top_scaled)))
variance_over_d = lesson.metric("dot_variance_over_d_at_512", float(dots.var() / width))
lesson.metric("top_softmax_weight_unscaled_d512", float(top_raw.mean()))
lesson.metric("top_softmax_weight_scaled_d512", float(top_scaled.mean()))

# %% [markdown]
# Now the mask. GPT may not look ahead: token i sees tokens 0..i only, so "sat" must
# do without "down". A boolean mask (True = may attend) turns each forbidden score
# into −∞ *before* the softmax. Since exp(−∞) = 0, the forbidden weights are exactly
# zero, and each row still sums to 1 over the keys it may see. Each output row is its
# weights times V.

# %%
mask = causal_mask(len(tokens))                                   # (T, T), lower triangular
masked = np.where(mask, scaled, -np.inf)                          # (T, T)
weights = np.exp(masked - masked.max(axis=1, keepdims=True))      # shift by the row max: no overflow
weights = weights / weights.sum(axis=1, keepdims=True)            # softmax along each row
out = weights @ V                                                 # (T, d)
show("causal mask (1 = may attend)", mask.astype(float), tokens, tokens)
show("weights = softmax(masked scores), each row sums to 1", weights, tokens, tokens)
show("output = weights @ V", out, tokens, ["v0", "v1", "v2"])
assert np.all(weights[~mask] == 0.0), "masked weights must be exactly zero"

library = F.scaled_dot_product_attention(mf.tensor(Q), mf.tensor(K), mf.tensor(V), mask=mask).data
hand_error = lesson.metric("hand_vs_library_max_error", float(np.abs(library - out).max()))
assert np.allclose(library, out, rtol=0, atol=1e-12), f"hand and library attention differ by {hand_error}"
print(f"F.scaled_dot_product_attention agrees with the hand computation (max difference {hand_error:.1e})")

# %% [markdown]
# ## Step 2 — one mechanism, four models: the masks
#
# - **Padding** (BERT, and every model fed a batch of unequal lengths): keys that are
#   padding are hidden from every query. Otherwise every token sees every token.
# - **Causal** (GPT): query i sees keys 0..i, so every position can learn to predict
#   its next token at once, and text is generated left to right.
# - **Prefix LM** (T5's prefix-LM variant, UniLM): the prefix sees itself in full and
#   the rest is causal: read the input both ways, write the output left to right.
# - **XLNet's two streams**: pick a factorisation order, here 2 → 0 → 3 → 1 → 4. The
#   *content* stream of a position sees itself and every position earlier in the order;
#   the *query* stream, which must predict the token at that position, sees only the
#   earlier ones, never the token itself. Position 2 comes first: its query row is empty.
#
# Masks combine with `&`: GPT on a padded batch uses causal & padding.

# %%
lesson.step("Masks")
PAD = 0
batch_ids = np.array([[5, 7, 3, 9, 4, 8], [6, 2, 8, 1, PAD, PAD], [3, 4, PAD, PAD, PAD, PAD]])  # (B, T)
order = [2, 0, 3, 1, 4]
content, query = xlnet_masks(order)  # (T, T) each
arrows = " → ".join(map(str, order))
panels = {"padding (BERT)\nbatch of 3, rows are sequences": padding_mask(batch_ids, PAD)[:, 0, 0],  # (B, T)
          "causal (GPT)": causal_mask(6),
          "causal & padding\n(GPT, sequence 1 of the batch)": causal_mask(6) & padding_mask(batch_ids, PAD)[1, 0],
          "prefix LM, prefix of 3\n(T5 prefix LM, UniLM)": prefix_mask(6, 3),
          f"XLNet content stream\norder {arrows}": content,
          f"XLNet query stream\norder {arrows}": query}
print(f"XLNet, order {arrows}: the query stream (1 = may attend); position {order[0]}, first, sees nothing")
print(query.astype(int))
assert not query[order[0]].any() and np.array_equal(content, query | np.eye(len(order), dtype=bool))


def plot_masks(panels: dict):
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(2, 3, figsize=(12, 7.5))
    for ax, (title, grid) in zip(axes.ravel(), panels.items()):
        ax.imshow(grid, cmap="Greys", vmin=0, vmax=1.6)
        ax.set(title=title, xticks=range(grid.shape[1]), yticks=range(grid.shape[0]), xlabel="key position",
               ylabel="query position" if grid.shape[0] == grid.shape[1] else "sequence")
    fig.suptitle("Attention masks: dark = may attend (True), white = hidden", fontsize=13)
    fig.tight_layout()
    return fig


lesson.savefig(plot_masks(panels), "masks")

# %% [markdown]
# ## Step 3 — a transformer learns to reverse
#
# Reversal needs attention: output slot i must fetch the digit at input position
# n − 1 − i, and only attention moves information between positions. Each example is
# n digits, "=", then n blank slots "_". The model fills every slot at once (as BERT
# fills its [MASK] tokens), and the loss counts only the slots: every other target is
# `ignore_index`. Training and test strings are distinct by construction.
#
# > Simplification: the paper's model is an encoder-decoder that writes the output
# > one token at a time; our encoder fills all the slots in one pass, needs no mask,
# > and trains in seconds. Its sizes are toys: d_model 32 and 2 heads, where the
# > paper's base model has 512 and 8.

# %%
lesson.step("Train a transformer to reverse digit strings")
EQUALS, BLANK, VOCAB = 10, 11, 12  # ids 0-9 are the digits themselves
SYMBOLS = [str(i) for i in range(10)] + ["=", "_"]


def make_dataset(config: Config, seed: int):
    """Distinct digit strings as (ids, targets), split into training and test sets."""
    rng, n = np.random.default_rng(seed), config.n_digits
    codes = rng.choice(10 ** n, size=config.n_train + config.n_test, replace=False)  # distinct numbers
    digits = codes[:, None] // 10 ** np.arange(n - 1, -1, -1) % 10                   # (N, n)
    ids = np.concatenate([digits, np.full((len(digits), 1), EQUALS), np.full(digits.shape, BLANK)], 1)  # (N, T)
    targets = np.full(ids.shape, -100)  # ignored...
    targets[:, n + 1:] = digits[:, ::-1]  # ...except the slots, which hold the reversed string
    train, test = slice(0, config.n_train), slice(config.n_train, None)
    return (ids[train], targets[train]), (ids[test], targets[test])


(train_ids, train_targets), (test_ids, test_targets) = make_dataset(config, lesson.seed)
print("input  ", " ".join(SYMBOLS[i] for i in train_ids[0]))
print("targets", " ".join(" " if t < 0 else str(t) for t in train_targets[0]), "  (blank = ignored)")

# %% [markdown]
# The model: token embedding plus a learned position embedding, then `TransformerLayer`s
# (pre-LN as in GPT-2, no dropout: every string is new to it anyway), a final LayerNorm
# and a linear map to the 12 symbols. The position embedding is needed: a weighted sum
# of values ignores the order of the keys, so without it every blank slot would look the
# same. Weights start as N(0, 0.02), so the first loss is near ln 12 = 2.48 (a uniform guess).

# %%


class Reverser(nn.Module):
    def __init__(self, config: Config, rng: np.random.Generator):
        T, C = 2 * config.n_digits + 1, config.d_model
        self.token_embedding = nn.Embedding(VOCAB, C, rng=rng)
        self.position_embedding = nn.Embedding(T, C, rng=rng)
        self.layers = nn.ModuleList([TransformerLayer(C, config.n_heads, config.d_ff, norm_first=True, dropout=0.0,
                                                      attention_dropout=0.0, rng=rng) for _ in range(config.n_layers)])
        self.final_norm = nn.LayerNorm(C)
        self.head = nn.Linear(C, VOCAB, rng=rng)
        normal_init_(self, 0.02, rng)

    def forward(self, ids: np.ndarray):
        """ids (B, T) -> logits (B, T, V) and each layer's attention weights (B, H, T, T)."""
        x = self.token_embedding(ids) + self.position_embedding(np.arange(ids.shape[1]))  # (B, T, C)
        weights = []
        for layer in self.layers:
            x, w = layer(x, return_weights=True)  # no mask: every position may attend to every other
            weights.append(w)
        return self.head(self.final_norm(x)), weights  # (B, T, V), L x (B, H, T, T)


def train(config: Config, seed: int) -> dict:
    """Train a Reverser on the training strings; returns the model and the loss history."""
    rng = np.random.default_rng(seed)
    (ids, targets), _ = make_dataset(config, seed)
    model = Reverser(config, rng)
    opt = optim.AdamW(model.parameters(), lr=config.lr, weight_decay=0.01)
    schedule = optim.LambdaLR(opt, optim.warmup_cosine(config.warmup, config.steps))
    history = {"model": model, "loss": []}
    bar = tqdm(range(config.steps), desc="training", mininterval=0.5)
    for step in bar:
        batch = rng.integers(0, len(ids), config.batch_size)
        loss = F.cross_entropy(model(ids[batch])[0], targets[batch])
        loss_value = optim.update(loss, opt, schedule, max_norm=1.0)
        history["loss"].append(loss_value)
        bar.set_postfix(loss=f"{loss_value:.4f}", refresh=False)  # redrawn every 0.5 s
    return history


start = time.perf_counter()
history = train(config, lesson.seed)
train_seconds = time.perf_counter() - start
model = history["model"]
print(f"{model.num_parameters()} parameters, {config.steps} steps in {train_seconds:.1f} s")

# %% [markdown]
# ## Evaluation: accuracy, and where the attention goes
#
# A string counts only if every digit is right. Then the attention: for each layer and
# head, the share of output slot i's attention that lands on input position n − 1 − i,
# averaged over the held-out strings. Spread evenly it would be 1/T; a head that has
# learned the reversal puts nearly all of it there, drawing an anti-diagonal.
#
# The figures: the training loss per step (log scale), then every head's attention on
# one held-out string, rows the queries and columns the keys. Red rings mark where
# output slot i should look, n − 1 − i: the head that learned the reversal fills them,
# and the others do other work, or little at all.

# %%
with mf.no_grad():
    logits, attention = model(test_ids)  # attention: one (B, H, T, T) array per layer
n, losses = config.n_digits, np.array(history["loss"])
loss_first = lesson.metric("loss_first", float(losses[0]))
loss_last = lesson.metric("loss_last", float(losses[-max(1, len(losses) // 10):].mean()))  # the last tenth
right = (logits.data.argmax(axis=-1) == test_targets) | (test_targets < 0)  # (B, T); ignored count as right
accuracy = lesson.metric("sequence_accuracy", float(right.all(axis=1).mean()))  # every slot right
lesson.metric("train_seconds", round(train_seconds, 2))
slots = np.arange(n + 1, 2 * n + 1)  # output slot i sits at position n + 1 + i...
sources = n - 1 - np.arange(n)      # ...and should read input position n - 1 - i
on_source = np.array([[w[:, h, slots, sources].mean() for h in range(w.shape[1])] for w in attention])  # (L, H)
best = lesson.metric("attention_on_reversed_source", float(on_source.max()))
print(f"loss: first {loss_first:.3f} (ln 12 = {math.log(12):.3f}), last {loss_last:.5f}; "
      f"held-out sequence accuracy {accuracy:.4f}")
print(f"share of attention on the reversed source (uniform attention: 1/T = {1 / test_ids.shape[1]:.3f})")
for layer, row in enumerate(on_source):
    print(f"  layer {layer}, per head: {np.round(row, 3)}")
lesson.claim("a small transformer reverses held-out digit strings (exact sequence accuracy)", accuracy, 0.95)
lesson.claim("a trained head attends from output slot i to input n-1-i (attention share)", best, 0.9)
lesson.claim("var(q.k) of unit-variance vectors is d_k (|var / d - 1| at d = 512)",
             abs(variance_over_d - 1.0), 0.1, at_most=True)


def plot_training(history: dict):
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.plot(history["loss"])
    ax.set(xlabel="step", ylabel="cross-entropy on the slots", yscale="log", title="training loss")
    fig.tight_layout()
    return fig


def plot_attention(attention: list, ids: np.ndarray, on_source: np.ndarray):
    import matplotlib.pyplot as plt
    L, H = on_source.shape
    fig, axes = plt.subplots(L, H, figsize=(4.5 * H, 4.3 * L), squeeze=False)
    labels = [SYMBOLS[i] for i in ids]
    for (layer, head), ax in np.ndenumerate(axes):
        ax.imshow(attention[layer][0, head], cmap="viridis", vmin=0, vmax=1)  # (T, T) of the first string
        ax.scatter(sources, slots, s=90, facecolors="none", edgecolors="red", linewidths=1.2)
        ax.set(title=f"layer {layer}, head {head}: {on_source[layer, head]:.2f} on n-1-i", xlabel="key",
               ylabel="query", xticks=range(len(labels)), xticklabels=labels, yticks=range(len(labels)),
               yticklabels=labels)
    fig.suptitle("attention of the trained model on a held-out string (red: the reversed source)")
    fig.tight_layout()
    return fig


lesson.savefig(plot_training(history), "loss_curve")
lesson.savefig(plot_attention(attention, test_ids[0], on_source), "attention")

# %% [markdown]
# ## Summary
#
# Attention is a softmax over scaled query-key scores and a weighted sum of values. A
# mask decides which scores exist, and that choice makes a model BERT, GPT, a prefix
# LM or XLNet. Trained on reversal, one head learns to look exactly where the task needs.

# %%
lesson.paper({"attention (Vaswani et al. 2017)": "softmax(Q K^T / sqrt(d_k)) V",
              "var(q.k), unit-variance q and k": "d_k",
              "base model: d_model, heads, d_k = d_v": "512, 8, 64",
              "base model: layers N, d_ff": "6 (encoder), 6 (decoder), 2048"})
lesson.finish()
