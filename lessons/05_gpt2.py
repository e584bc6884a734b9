"""Lesson 05: GPT-2, or what scale buys a language model.

Paper: Radford et al. 2019, "Language Models are Unsupervised Multitask Learners".

What it shows:
  1. GPT-2's changes to GPT-1; the residual stream of a deep model at initialisation.
  2. Scaling: four GPT-2 models (width 16, 32, 64, 128; 2 layers) trained on the same
     tokens; validation loss against non-embedding parameters N on log-log axes, with a
     fitted power law L(N) = a * N^(-alpha).
  3. Zero-shot spam detection, with no labels and no gradient step: which reaction of a
     story's hero does the model find likelier after a message?

We simplify: a word-level vocabulary (~1,200 words) instead of byte-level BPE; context
64; 2 layers; no dropout; a fixed token budget instead of training to convergence.

Run:     python lessons/05_gpt2.py            (about 2 minutes on a 2-core laptop)
         python lessons/05_gpt2.py --smoke    (about 10 s, tiny sizes, for tests)
Expect:  first loss near ln V = ln 1179 = 7.07; validation loss about 2.8 / 2.1 / 1.1 / 0.85
         (claims: it falls at every size), alpha about 0.3; zero-shot spam accuracy about
         0.5 (chance) for the three smaller models, about 0.8 for the largest (claim: >= 0.65).
"""

# %% [markdown]
# # 05 · GPT-2: scale up, then ask
#
# GPT-1 was pre-trained, then fine-tuned on each task with labels. GPT-2 asked a bolder
# question: if a language model is big enough and reads enough text, does it learn tasks
# *without* being told? A task can be stated inside the text itself, and the model's
# next-token probabilities give the answer. The paper's evidence has two parts: loss
# falls smoothly with size, and zero-shot scores on tasks rise with it. We measure both.

# %%
from __future__ import annotations

import math
import time
from dataclasses import dataclass, replace

import numpy as np
from tqdm import tqdm

import minifm as mf
import minifm.functional as F
from minifm import optim
from minifm.data import consecutive_windows, load_documents, load_spam, pad_batch, random_windows
from minifm.lesson import Lesson
from minifm.models.gpt import GPT, GPTConfig, lm_loss
from minifm.tokenizers import SPECIAL_TOKENS, WordPieceTokenizer, basic_tokenize

lesson = Lesson("05_gpt2")


@dataclass
class Config:
    widths: tuple = (16, 32, 64, 128)  # n_embd of the models we compare
    n_layer: int = 2
    head_size: int = 16                # n_head = n_embd // head_size
    n_ctx: int = 64                    # tokens per training window (GPT-2: 1,024)
    batch_size: int = 16
    tokens: int = 800_000              # training tokens per model, the same for every size
    lr: float = 3e-3                   # peak learning rate; a cosine takes it to a tenth
    warmup: int = 30                   # steps of linear warm-up
    spam_messages: int = 300           # labelled test messages for the zero-shot task


config = Config()
if lesson.smoke:
    config = replace(config, widths=(8, 16), tokens=10_000, warmup=2, spam_messages=20)
print(config)

# %% [markdown]
# ## Step 1 — what GPT-2 changed
#
# GPT-2 keeps GPT-1's decoder and changes three things (paper §2.3), all in
# `minifm/models/gpt.py` behind the one switch `GPTConfig.pre_ln`:
#
# - **Pre-LN.** Each sub-block normalises its *input*, x = x + f(LN(x)), where GPT-1 had
#   x = LN(x + f(x)) (`TransformerLayer._residual`): the residual path from the
#   embeddings to the output is never normalised away.
# - **A final LayerNorm** (`GPT.final_norm`), since no sub-block normalises the stream
#   on its way out any more.
# - **Scaled residual init.** The projections that *write into* the residual stream
#   (`attention.output`, `ffn.down`) start with std 0.02 / √(2·n_layer) (`GPT._init_weights`).
#
# It also grew: context 512 → 1,024 tokens, vocabulary 40,478 → 50,257. Why the scaled
# init? With pre-LN, each of the 2·n_layer sub-blocks adds its output to the stream, so
# the stream grows with depth. We watch it at initialisation in a 24-layer model (width
# 64), with and without the factor 1/√(2·n_layer) = 1/√48.

# %%
lesson.step("GPT-2's architecture: the residual stream at initialisation")


def residual_std(model: GPT, ids: np.ndarray) -> float:
    """Std of the residual stream after the last layer (before the final LayerNorm)."""
    with mf.no_grad():
        x = model.token_embedding(ids) + model.position_embedding(np.arange(ids.shape[1]))
        for layer in model.layers:
            x = layer(x, causal=True)  # (B, T, C)
    return float(x.data.std())


deep = GPTConfig.gpt2(vocab_size=256, n_ctx=32, n_embd=64, n_layer=24, dropout=0.0)
probe = np.random.default_rng(lesson.seed).integers(0, 256, (4, 32))
scaled, unscaled = GPT(deep, np.random.default_rng(lesson.seed)), GPT(deep, np.random.default_rng(lesson.seed))
for layer in unscaled.layers:  # undo GPT-2's change: every weight N(0, 0.02)
    for projection in (layer.attention.output, layer.ffn.down):
        projection.weight.data *= math.sqrt(2 * deep.n_layer)
std_scaled = lesson.metric("residual_std_24_layers_scaled", residual_std(scaled, probe))
std_unscaled = lesson.metric("residual_std_24_layers_unscaled", residual_std(unscaled, probe))
print(f"residual stream std after 24 layers: {std_unscaled:.3f} with N(0, 0.02) everywhere, "
      f"{std_scaled:.3f} with GPT-2's scaled init (the embeddings alone: about 0.02)")

# %% [markdown]
# The 48 writes add up like a random walk: the stream ends several times larger than
# the embeddings it started from. Scaled by 1/√48, it stays near their size.
#
# ## Step 2 — the data: every story, as one stream of words
#
# GPT-2 read 8M web pages; we read the toy world's 2,400 training stories (about 230k
# tokens). The world has only ~1,200 distinct words, so each word is one token. As in
# GPT-2, the documents are joined into one stream, each opened by `<|endoftext|>`, and a
# training example is any window of `n_ctx` tokens from it.
#
# > Simplification: a word-level vocabulary instead of byte-level BPE; unseen words become [UNK].

# %%
lesson.step("A word-level vocabulary and the token stream")
END_OF_TEXT = "<|endoftext|>"


def build_tokenizer(docs) -> WordPieceTokenizer:
    """A WordPieceTokenizer whose vocabulary is every word of the training stories, plus the specials."""
    words = sorted({word for doc in docs for sentence in doc.sentences for word in basic_tokenize(sentence)})
    tokenizer = WordPieceTokenizer(list(SPECIAL_TOKENS) + words)
    tokenizer.add_special_tokens([END_OF_TEXT])
    return tokenizer


def token_stream(tokenizer: WordPieceTokenizer, docs) -> np.ndarray:
    """All documents as one array of ids, each opened by <|endoftext|>."""
    eot = tokenizer.token_to_id(END_OF_TEXT)
    return np.array([i for doc in docs for i in [eot] + tokenizer.encode(" ".join(doc.sentences))], dtype=np.int64)


train_docs = load_documents("train")
tokenizer = build_tokenizer(train_docs)
train_ids, valid_ids = token_stream(tokenizer, train_docs), token_stream(tokenizer, load_documents("valid"))
V = lesson.metric("vocab_size", tokenizer.vocab_size)
print(f"vocabulary {V}; train {len(train_ids):,} tokens, validation {len(valid_ids):,}")
print(f"a window: {train_ids[:16].tolist()}\n       -> {tokenizer.decode(train_ids[:16])!r}")

# %% [markdown]
# ## Step 3 — the same token budget, four model sizes
#
# Kaplan et al. (2020) found that a language model's loss falls as a power of its size N,
# counted in *non-embedding* parameters (the embeddings are a lookup table; the layers
# compute), when data and training time do not hold it back. Our four GPT-2 models
# differ only in width and each reads `config.tokens` tokens: the very same batches in
# the same order. The objective is GPT's, every next token (`lm_loss`); at the start all
# tokens are equally likely, so the first loss is ≈ ln V. AdamW as in GPT-3 (β₂ 0.95,
# weight decay 0.1, gradient norm clipped at 1).
#
# > Simplification: no dropout (each model reads the data 3.4 times) and one learning
# > rate for all sizes; Kaplan et al. trained each size to convergence, we stop at a budget.

# %%
lesson.step("Train four sizes on the same tokens")


def train(config: Config, n_embd: int, seed: int) -> dict:
    """Train one size on random windows of the stream; returns the model and its losses."""
    gpt2 = GPTConfig.gpt2(vocab_size=V, n_ctx=config.n_ctx, n_embd=n_embd, n_layer=config.n_layer,
                          n_head=max(1, n_embd // config.head_size), dropout=0.0)
    model = GPT(gpt2, np.random.default_rng([seed, n_embd]))
    batches = np.random.default_rng(seed)  # the same windows for every size
    steps = config.tokens // (config.batch_size * config.n_ctx)
    opt = optim.AdamW(model.parameters(), lr=config.lr, betas=(0.9, 0.95), weight_decay=0.1)
    schedule = optim.LambdaLR(opt, optim.warmup_cosine(config.warmup, steps, min_ratio=0.1))
    history = {"model": model, "loss": []}
    bar = tqdm(range(steps), desc=f"n_embd {n_embd:>3}", mininterval=0.5)
    for step in bar:
        ids = random_windows(train_ids, config.n_ctx, config.batch_size, batches)  # (B, T)
        loss = optim.update(lm_loss(model(ids), ids), opt, schedule, max_norm=1.0)
        history["loss"].append(loss)
        if step % 10 == 0:
            bar.set_postfix(loss=f"{loss:.3f}", refresh=False)  # redrawn every 0.5 s
    return history


def validation_loss(model: GPT, ids: np.ndarray, T: int) -> float:
    """Mean next-token loss over consecutive windows of the held-out stream."""
    windows = consecutive_windows(ids, T)  # (n, T)
    model.eval()
    with mf.no_grad():
        return float(np.mean([lm_loss(model(chunk), chunk).item() for chunk in np.array_split(windows, 8)]))


runs = {}
for n_embd in config.widths:
    start = time.perf_counter()
    run = runs[n_embd] = train(config, n_embd, lesson.seed)
    N = sum(p.size for name, p in run["model"].named_parameters() if "embedding" not in name)
    run["N"] = lesson.metric(f"non_embedding_params_{n_embd}", N)
    run["valid_loss"] = lesson.metric(f"valid_loss_{n_embd}", validation_loss(run["model"], valid_ids, config.n_ctx))
    print(f"n_embd {n_embd:>3}: {run['N']:>7,} non-embedding parameters, validation loss "
          f"{run['valid_loss']:.3f} ({time.perf_counter() - start:.0f} s)")
first_run = runs[config.widths[0]]["loss"]
loss_first = lesson.metric("loss_first", first_run[0])
loss_last = lesson.metric("loss_last", float(np.mean(first_run[-max(1, len(first_run) // 10):])))
print(f"smallest model: first loss {loss_first:.3f} (ln V = {math.log(V):.3f}), last {loss_last:.3f}")

# %% [markdown]
# ## Step 4 — a power law in N
#
# If L(N) = a·N^(−α), then log L = log a − α·log N: a straight line on log-log axes, and
# NumPy's least squares fits it directly. Kaplan et al. report α ≈ 0.076 for models
# trained to convergence on web text; under our fixed budget the larger models are also
# further from done, so only the falling, roughly straight line carries over.
#
# > Simplification: no irreducible-loss offset c (L = a·N^(−α) + c).

# %%
lesson.step("Fit L(N) = a * N^(-alpha)")
N = np.array([runs[w]["N"] for w in config.widths], dtype=np.float64)
valid = np.array([runs[w]["valid_loss"] for w in config.widths])
design = np.stack([np.ones_like(N), np.log(N)], axis=1)  # columns: 1, log N
(log_a, slope), *_ = np.linalg.lstsq(design, np.log(valid), rcond=None)
alpha = lesson.metric("alpha", -slope)
print(f"L(N) = {math.exp(log_a):.2f} * N^(-{alpha:.3f})")
lesson.claim("validation loss falls with model size (smallest minus largest, nats)", valid[0] - valid[-1], 0.5)
lesson.claim("validation loss falls at every step up in size (count of falls)",
             int(np.sum(np.diff(valid) < 0)), len(valid) - 1)

# %% [markdown]
# ## Step 5 — zero-shot: spam detection by prompting alone
#
# No model here has seen a label. But in the `messages` stories a hero reads a message,
# then reacts: "he was glad and answered quickly", or "he knew it was a scam and
# reported it". So we can *state the task in the corpus's own words*: open a story,
# paste in a labelled test message (no test message occurs in the stories), and ask
# which kind of reaction the model expects next. No gradient step, no example.
#
# As GPT-2 and GPT-3 do for multiple choice, we score candidates by likelihood instead
# of generating freely: log p(reaction | story so far), summed over its tokens. A class's
# probability is the sum over its 7 reactions (log-sum-exp); the likelier class is the
# answer. Half the test set is spam: a coin flip, or a constant answer, scores 0.5.

# %%
lesson.step("Zero-shot spam detection")
INTRO = "one day at noon, tom hayes checked his phone at home in new york."
NOT_SPAM = ["smiled and wrote back at once", "replied that he would be there", "was glad and answered quickly",
            "called back right away", "saved the message to answer later", "sent back a happy face",
            "read it twice and laughed"]  # the reactions the stories use (data/make_toy_world.py)
SPAM = ["did not trust it and deleted it", "thought it was a trick and ignored it", "blocked the sender at once",
        "knew it was a scam and reported it", "laughed and threw it away", "did not click anything and deleted it",
        "shook his head and marked it as junk"]


def reaction_logprobs(model: GPT, messages: list[str], reactions: list[str]) -> np.ndarray:
    """log p(reaction | intro + message), summed over the reaction's tokens: (messages, reactions)."""
    eot, continuations = tokenizer.token_to_id(END_OF_TEXT), [tokenizer.encode(f"he {r}.") for r in reactions]
    rows = [([eot] + tokenizer.encode(f"{INTRO} {m}") + c)[-config.n_ctx - 1:]  # too long: drop the start
            for m in messages for c in continuations]
    scores = np.zeros(len(rows))
    model.eval()
    with mf.no_grad():
        for start in range(0, len(rows), 128):
            ids, _ = pad_batch(rows[start:start + 128], tokenizer.pad_id)  # (B, T + 1), padded on the right
            logp = F.log_softmax(model(ids[:, :-1])).data                  # (B, T, V)
            for r in range(len(ids)):
                end, n = len(rows[start + r]) - 1, len(continuations[(start + r) % len(continuations)])
                predicting = np.arange(end - n, end)  # the positions whose next token is the reaction's
                scores[start + r] = logp[r, predicting, ids[r, predicting + 1]].sum()
    return scores.reshape(len(messages), len(reactions))


def zero_shot_spam(model: GPT, messages: list[str], labels: np.ndarray) -> tuple[float, np.ndarray]:
    """Accuracy of 'is a spam reaction likelier?', and log p(spam) - log p(not spam) per message."""
    logp = reaction_logprobs(model, messages, NOT_SPAM + SPAM)         # (messages, 14)
    log_odds = (np.logaddexp.reduce(logp[:, len(NOT_SPAM):], axis=1)  # log p(a spam reaction)
                - np.logaddexp.reduce(logp[:, :len(NOT_SPAM)], axis=1))  # - log p(a friendly one)
    return float(np.mean((log_odds > 0) == labels)), log_odds


messages, labels = (column[:config.spam_messages] for column in load_spam("test"))
print(f"prompt: {INTRO} {messages[3]} he ...   (label: {'spam' if labels[3] else 'not spam'})")
for w in config.widths:
    accuracy, log_odds = zero_shot_spam(runs[w]["model"], messages, labels)
    runs[w]["zero_shot"] = lesson.metric(f"zero_shot_spam_accuracy_{w}", accuracy)
    print(f"n_embd {w:>3}: zero-shot accuracy {accuracy:.3f} (chance 0.5), answers spam for "
          f"{np.mean(log_odds > 0):.0%} of messages; p(spam) for the one above {1 / (1 + math.exp(-log_odds[3])):.2f}")
largest, smallest = runs[config.widths[-1]]["zero_shot"], runs[config.widths[0]]["zero_shot"]
lesson.claim("the largest model detects spam zero-shot, well above chance (accuracy; chance 0.5)", largest, 0.65)
lesson.claim("zero-shot accuracy grows with size (largest minus smallest)", largest - smallest, 0.15)

# %% [markdown]
# Look at how the smaller models fail: the smallest answer "spam" for nearly every
# message (they learned which reactions are common, not which message calls for which);
# the next ones vary their answers, but hardly better than chance. The link from a
# message's words ("reward", "lottery", "refund" or "grandma", "cake") to the hero's
# reaction a sentence or two later is longer-range, and at this budget only the largest
# model picks it up well. GPT-2's LAMBADA accuracy rose with size too.

# %%


def plot_scaling(runs: dict, alpha: float, log_a: float):
    """Training loss per size; validation loss against N (log-log) with the power law; zero-shot accuracy."""
    import matplotlib.pyplot as plt
    fig, (ax1, ax2, ax3) = plt.subplots(1, 3, figsize=(14, 3.8))
    for w, run in runs.items():
        window = max(1, len(run["loss"]) // 40)  # a running mean: single batches are noisy
        ax1.plot(np.convolve(run["loss"], np.ones(window) / window, mode="valid"), label=f"n_embd {w}")
    ax1.set(xlabel="step", ylabel="cross-entropy (nats)", yscale="log", title="training loss")
    n = np.array([run["N"] for run in runs.values()], dtype=np.float64)
    ax2.loglog(n, [run["valid_loss"] for run in runs.values()], "o", label="measured")
    grid = np.geomspace(n.min() / 1.5, n.max() * 1.5, 50)
    ax2.loglog(grid, np.exp(log_a) * grid ** -alpha, "--", label=f"{np.exp(log_a):.1f} N^-{alpha:.2f}")
    ax2.set(xlabel="non-embedding parameters N", ylabel="validation loss", title="scaling")
    ax3.semilogx(n, [run["zero_shot"] for run in runs.values()], "o-", label="zero-shot spam")
    ax3.axhline(0.5, color="gray", linestyle=":", label="chance")
    ax3.set(xlabel="non-embedding parameters N", ylabel="accuracy", ylim=(0.3, 1.0), title="zero-shot")
    for ax in (ax1, ax2, ax3):
        ax.legend()
    fig.tight_layout()
    return fig


lesson.savefig(plot_scaling(runs, alpha, log_a), "scaling")

# %% [markdown]
# ## Summary
#
# Same tokens, bigger model, lower loss, close to a straight line on log-log axes; and a
# task nobody trained for appears only in the largest model. The paper's numbers below
# come from models of 124M to 1.5B parameters (ours: under 1M) trained on 40 GB of text.

# %%
lesson.paper({"GPT-2 sizes (layers/width)": "12/768, 24/1024, 36/1280, 48/1600",
              "LAMBADA accuracy by size (%)": "45.99 / 55.48 / 60.12 / 63.24",
              "LAMBADA perplexity, 1542M model": 8.63, "CoQA zero-shot F1": 55,
              "vocabulary (byte-level BPE) / context": "50,257 / 1,024"})
lesson.finish()
