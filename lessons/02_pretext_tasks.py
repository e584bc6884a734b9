"""Lesson 02: pretext tasks, the labels a foundation model makes for itself.

Papers: BERT, RoBERTa, XLNet, T5, BART, ALBERT, ELECTRA (MODELS.md §1, 5-8, 10, 11).
No model is trained: the lesson is about the data each model learns from.

What it shows:
  1. The self-supervised learning map (pretext vs downstream; self-prediction vs
     contrastive), with every scheme of `minifm/masking.py` placed on it.
  2. One validation story through every corruption, printed next to its targets;
     T5 and BART infilling are undone again: input + target hold the whole original.
  3. The masking zoo: one figure, one row per scheme, each token coloured by its fate.
  4. Every scheme over the training corpus (230k tokens), its rates next to the papers'.

We simplify: one WordPiece vocabulary for all ([MASK] stands in for BART's <mask>), and
ELECTRA's generator is a word-frequency sampler, not a network.

Run:     python lessons/02_pretext_tasks.py            (about 5 s on a 2-core laptop)
         python lessons/02_pretext_tasks.py --smoke    (about 3 s, 300 stories)
Expect:  BERT selects 0.150 of the tokens, split 0.80 / 0.10 / 0.10; ELECTRA 0.85 [MASK];
         T5 density 0.150, mean span 2.96, input 461 / target 103 at length 512; BART
         infilling covers 0.30 in spans of mean 2.86, about 0.05 of them empty (e^-3);
         XLNet predicts 86/512 = 0.168; NSP and SOP labels about 0.50; 10 distinct static
         masks per story in 40 epochs vs 40 dynamic; T5 and BART infilling reconstruct
         every sequence; all 7 claims hold.
"""

# %% [markdown]
# # 02 · Pretext tasks: how a model makes its own labels
#
# A *foundation model* is trained once on broad data, without labels made for any task,
# and then adapted to many *downstream* tasks (the ones we care about, each with few
# labels). CLIP learns from 400M image-caption pairs found on the web, then classifies
# images into classes it never saw labelled; Whisper learns from 680k hours of audio with
# web transcripts, then transcribes and translates speech. What makes broad training
# possible is a *pretext* task: a task cut from the data itself, so its labels are free.
#
# ## Step 1 — the self-supervised learning map
#
# Pretext tasks come in two families. **Self-prediction** (intra-sample): hide part of
# one sample and predict it from the rest. **Contrastive** (inter-sample): take pairs
# of samples, pull the ones that belong together close and push the others apart.
# Next sentence and sentence order prediction sit in between: they classify a *pair*
# of text segments, but the label is still made by cutting up the data.
#
# | scheme (`minifm/masking.py`) | model | family | the model reads | it predicts |
# |---|---|---|---|---|
# | `bert_mask` | BERT | self-prediction | 15% of tokens hidden: 80% [MASK], 10% random, 10% kept | those 15% |
# | `StaticMasking`, `DynamicMasking` | RoBERTa | self-prediction | the same, masked once or per pass | those 15% |
# | none: `targets = ids[1:]` | GPT | self-prediction | the tokens to the left | the next token, everywhere |
# | `xlnet_permutation` | XLNet | self-prediction | the tokens before it in a random order | the last 1/6 of it |
# | `t5_span_corrupt` | T5 | self-prediction | 15% in spans, one sentinel per span | each span after its sentinel |
# | `bart_*` (5 noisings) | BART | self-prediction | a noised document | the whole original document |
# | `electra_mask`, `electra_replace` | ELECTRA | self-prediction | 15% of tokens resampled | per token: replaced? |
# | `nsp_pairs` | BERT | pair classification | [CLS] A [SEP] B [SEP] | is B the next sentence? |
# | `sop_pairs` | ALBERT | pair classification | two consecutive sentences | in order or swapped? |
# | none (images) | CLIP | contrastive | a batch of images and captions | which caption goes with which image |

# %%
import math
from dataclasses import dataclass, replace

import numpy as np

from minifm import masking as M
from minifm.data import consecutive_windows, corpus_sentences, load_documents, pad_batch
from minifm.lesson import Lesson
from minifm.tokenizers import WordPieceTokenizer

lesson = Lesson("02_pretext_tasks")


@dataclass
class Config:
    vocab_size: int = 3155     # WordPiece: the most this corpus supports, every word one token
    n_sentinels: int = 100     # T5's <extra_id_0> ... <extra_id_99>
    n_train_docs: int = 2400   # stories for the statistics (the whole training split)
    chunk_len: int = 512       # T5 and XLNet pack text into sequences of this length
    n_static_seqs: int = 400   # stories for static vs dynamic masking
    epochs: int = 40           # RoBERTa's comparison: 40 epochs, dupe_factor 10
    dupe_factor: int = 10


config = Config()
if lesson.smoke:
    config = replace(config, n_train_docs=300, n_static_seqs=50)
print(config)
lesson.step("The self-supervised learning map (the table above)")

# %% [markdown]
# ## Step 2 — one story through every corruption
#
# We train a WordPiece vocabulary on the training sentences and add the specials the
# schemes need: BART's `<s>` and `</s>` (also T5's end of sequence), then T5's 100
# sentinels, added so that `<extra_id_0>` gets the last id, as in T5. Our example is
# three sentences of a validation story: a problem, its fix and its result. We also count
# the words of the training stories: ELECTRA's stand-in generator samples from them.

# %%
lesson.step("One story through every corruption")
tok = WordPieceTokenizer.train(corpus_sentences("train"), config.vocab_size)
bos_id, eos_id = tok.add_special_tokens(["<s>", "</s>"])
sentinel_ids = tok.add_special_tokens([f"<extra_id_{k}>" for k in reversed(range(config.n_sentinels))])[::-1]
V, special, mask_id = tok.vocab_size, tok.special_ids, tok.mask_id
assert sentinel_ids[0] == V - 1
rng = np.random.default_rng(lesson.seed)


def encode_doc(sentences):
    """One id array per sentence."""
    return [np.array(tok.encode(s), dtype=np.int64) for s in sentences]


story = load_documents("valid")[0].sentences[4:7]
body = np.concatenate(encode_doc(story))                      # (T,) the three sentences
bert_in = np.concatenate([[tok.cls_id], body, [tok.sep_id]])  # [CLS] text [SEP]
bart_in = np.concatenate([[bos_id], body, [eos_id]])          # <s> text </s>
print(f"{len(body)} tokens: {tok.decode(body)}")
train_docs = [encode_doc(d.sentences) for d in load_documents("train")]
counts = np.bincount(np.concatenate([np.concatenate(doc) for doc in train_docs]), minlength=V)
counts[special] = 0                   # the generator never proposes a special token
with np.errstate(divide="ignore"):
    unigram_logits = np.log(counts)   # log 0 = -inf: never sampled

# %% [markdown]
# BERT picks 15% of the non-special tokens: 5 of our 34, so one draw often misses one
# of the three outcomes. For the picture we redraw until none is missing and say how
# often; step 4 measures the rates with no such choice. ELECTRA selects the same way,
# with 85% [MASK] and 15% unchanged; a generator then fills every selected slot with a
# sample, and the discriminator labels every token: 1 if it now differs from the original.
#
# > Simplification: ELECTRA's generator is a small masked LM that reads the context. Our
# > stand-in ignores the context and samples words by their corpus frequency, so it is
# > rarely right: almost every selected token gets flagged.

# %%


def bert_kinds(m, ids):
    """Boolean masks of what happened to the selected tokens of a MaskedTokens."""
    is_mask = m.selected & (m.input_ids == mask_id)
    same = m.selected & (m.input_ids == ids)
    return {"[MASK]": is_mask, "random token": m.selected & ~is_mask & ~same, "unchanged, predicted": same}


for draws in range(1, 1000):
    bert = M.bert_mask(bert_in, rng, mask_id=mask_id, special_ids=special, vocab_size=V)
    if all(kind.any() for kind in bert_kinds(bert, bert_in).values()):
        break
print(f"BERT: {draws} draw(s) until one shows all three outcomes")
electra = M.electra_mask(bert_in, rng, mask_id=mask_id, special_ids=special, vocab_size=V)
samples = M.sample_from_logits(np.tile(unigram_logits, (electra.selected.sum(), 1)), rng)
replaced = M.electra_replace(bert_in, electra.selected, samples)
xlnet = M.xlnet_permutation(bert_in, rng, special_ids=special)


def cell(i):
    return "·" if i == M.IGNORE_INDEX else tok.id_to_token(i)


print(f"\n{'pos':>3} {'original':<14}| {'BERT in':<14}{'target':<14}| {'ELECTRA in':<14}"
      f"{'label':<6}| {'XLNet rank':<11}{'target'}")
for t, i in enumerate(bert_in):
    print(f"{t:>3} {cell(i):<14}| {cell(bert.input_ids[t]):<14}{cell(bert.targets[t]):<14}| "
          f"{cell(replaced.input_ids[t]):<14}{replaced.targets[t]:<6}| {xlnet.rank[t]:<11}{cell(xlnet.targets[t])}")
print("XLNet order (* = predicted):",
      " ".join(cell(bert_in[p]) + "*" * int(xlnet.target_mask[p]) for p in xlnet.order))

# %% [markdown]
# Read the table by columns. BERT's loss sees only the selected rows, and an unchanged
# row is predicted too, so the model can trust no visible token. ELECTRA's label column
# covers *every* token: more signal per sequence. XLNet predicts the tokens ranked last
# in a random order, each from those ranked before it (specials first: always context),
# so over many orders every token learns from both sides.
#
# The sequence-to-sequence schemes change the length. T5 replaces each noise span by
# one sentinel and asks for the spans; BART asks for the whole document back.

# %%
t5 = M.t5_span_corrupt(body, rng, sentinel_ids=sentinel_ids, eos_id=eos_id)
enders = [tok.token_to_id(p) for p in ".?!"]
bart = {"token masking": M.bart_token_mask(bart_in, rng, mask_id=mask_id, special_ids=special),
        "token deletion": M.bart_token_delete(bart_in, rng, special_ids=special),
        "text infilling": M.bart_text_infill(bart_in, rng, mask_id=mask_id, special_ids=special),
        "sentence permutation": M.bart_sentence_permute(bart_in, rng, sentence_end_ids=enders, special_ids=special),
        "document rotation": M.bart_rotate(bart_in, rng, special_ids=special)}
print(f"T5 input:  {tok.decode(t5.input_ids)}\nT5 target: {tok.decode(t5.targets)}")
for name, noised in bart.items():
    print(f"BART {name + ':':<22}{tok.decode(noised.input_ids)}")
print(f"BART target (all five):    {tok.decode(bart_in)}")
infill = bart["text infilling"]
print(f"BART infilling spans: {[tok.decode(s) if len(s) else '(empty)' for s in infill.spans]}")
t5_ok = np.array_equal(M.t5_reconstruct(t5.input_ids, t5.targets, sentinel_ids=sentinel_ids, eos_id=eos_id),
                       body)
infill_ok = np.array_equal(M.infill_reconstruct(infill.input_ids, infill.spans, mask_id=mask_id), bart_in)
assert t5_ok and infill_ok, "a reconstruction failed"
print(f"T5 input + target give back the original: {t5_ok}; BART infilling + its spans: {infill_ok}")

# %% [markdown]
# Sentence pairs. NSP pairs a sentence with its true successor (label 0) or with one of
# another story (label 1); another story has another hero and often another topic, so
# NSP can be solved without reading order at all. SOP takes two consecutive sentences of
# one story and swaps them half the time (label 1): only order cues can tell.

# %%
pair_kwargs = dict(cls_id=tok.cls_id, sep_id=tok.sep_id, pad_id=tok.pad_id, max_len=64)
for name, make in (("NSP", M.nsp_pairs), ("SOP", M.sop_pairs)):
    pairs = make([encode_doc(d.sentences) for d in load_documents("valid")[:4]], rng, **pair_kwargs)
    for label in (0, 1):
        ids = pairs.input_ids[np.flatnonzero(pairs.labels == label)[0]]
        print(f"{name} label {label}: {tok.decode(ids[ids != tok.pad_id])}")

# %% [markdown]
# ## Step 3 — the masking zoo
#
# One row per scheme, over the same 34 tokens (the column heads). A cell shows what
# the model reads at that token's place, coloured by the token's fate; for permutation
# and rotation it shows the token's new position. BART's decoder and ELECTRA's
# discriminator take a loss at every token; the colours show what was done to them.

# %%
lesson.step("The masking zoo")
FATES = {"kept": "#eeeeee", "[MASK]": "#4c72b0", "random token": "#dd8452", "unchanged, predicted": "#55a868",
         "replaced (flagged)": "#c44e52", "target (predicted)": "#8172b3", "sentinel span": "#e5c44b",
         "deleted": "#333333", "moved (permuted)": "#64b5cd", "moved (rotated)": "#a6d854"}
inner = slice(1, -1)  # the text between [CLS] / [SEP] or <s> / </s>


def row(label, masks, texts=None, empty=()):
    """(label, a fate per token of `body`: 'kept' unless {fate: bool mask} says otherwise,
    the text of each cell, the places of empty infilling spans)."""
    fate = np.full(len(body), "kept", dtype=object)
    for name, mask in masks.items():
        fate[mask] = name
    return label, list(fate), texts or [""] * len(body), list(empty)


def zoo_rows():
    def shown(ids, where):
        return [cell(i) if w else "" for i, w in zip(ids, where)]
    t5_starts = t5.noise_mask & ~np.concatenate([[False], t5.noise_mask[:-1]])
    is_mask = infill.input_ids[inner] == mask_id
    width = np.ones(len(is_mask), dtype=np.int64)   # tokens of `body` behind each input token
    width[is_mask] = [len(span) for span in infill.spans]
    begin = np.cumsum(width) - width                 # where in `body` each input token begins
    starts = np.isin(np.arange(len(body)), begin[is_mask & (width > 0)])
    sentences = np.split(np.arange(len(body)), np.cumsum([len(s) for s in encode_doc(story)])[:-1])
    permuted = M.ranks_from_order(np.concatenate([sentences[k] for k in bart["sentence permutation"].order]))
    rotated = M.ranks_from_order(bart["document rotation"].order)  # the new place of each token
    masked = bart["token masking"]
    return [row("BERT MLM (80/10/10)", {k: m[inner] for k, m in bert_kinds(bert, bert_in).items()},
                shown(bert.input_ids[inner], bert.selected[inner])),
            row("ELECTRA (unigram generator)", {"unchanged, predicted": electra.selected[inner],
                                                "replaced (flagged)": replaced.targets[inner] == 1},
                shown(replaced.input_ids[inner], electra.selected[inner])),
            row("XLNet (rank in the order)", {"target (predicted)": xlnet.target_mask[inner]},
                [str(r) for r in xlnet.rank[inner]]),
            row("T5 span corruption", {"sentinel span": t5.noise_mask},
                [f"<X{k}>" if s else "" for k, s in zip(np.cumsum(t5_starts) - 1, t5_starts)]),
            row("BART token masking", {"[MASK]": masked.positions[inner]},
                shown(masked.input_ids[inner], masked.positions[inner])),
            row("BART token deletion", {"deleted": bart["token deletion"].positions[inner]}),
            row("BART text infilling", {"[MASK]": np.repeat(is_mask, width)}, ["[MASK]" if s else "" for s in starts],
                begin[is_mask & (width == 0)]),
            row("BART sentence permutation (new place)", {"moved (permuted)": permuted != np.arange(len(body))},
                [str(p) for p in permuted]),
            row("BART document rotation (new place)", {"moved (rotated)": rotated != np.arange(len(body))},
                [str(p) for p in rotated])]


def plot_zoo(rows):
    import matplotlib.pyplot as plt
    from matplotlib.colors import ListedColormap
    from matplotlib.patches import Patch
    grid = np.array([[list(FATES).index(f) for f in fates] for _, fates, _, _ in rows])  # (schemes, T)
    fig, ax = plt.subplots(figsize=(0.5 * len(body) + 2.5, 0.55 * len(rows) + 2.2))
    ax.pcolormesh(grid, cmap=ListedColormap(list(FATES.values())), vmin=-0.5, vmax=len(FATES) - 0.5,
                  edgecolors="white", linewidth=1.5)
    for r, (_, fates, texts, empty) in enumerate(rows):
        for t, text in enumerate(texts):
            dark = fates[t] in ("[MASK]", "deleted", "target (predicted)", "replaced (flagged)")
            ax.text(t + 0.5, r + 0.5, text[:8], ha="center", va="center", fontsize=6,
                    color="white" if dark else "black")
        for t in empty:  # a zero-length span: a [MASK] inserted before token t
            ax.plot([t, t], [r + 0.05, r + 0.95], color=FATES["[MASK]"], lw=4)
    ax.set_xticks(np.arange(len(body)) + 0.5, [cell(i) for i in body], rotation=60, ha="left", fontsize=8)
    ax.set_yticks(np.arange(len(rows)) + 0.5, [r[0] for r in rows], fontsize=9)
    ax.xaxis.tick_top()
    ax.invert_yaxis()
    handles = [Patch(color=c, label=name) for name, c in FATES.items()]
    handles.append(Patch(color=FATES["[MASK]"], label="thin bar: empty span, a [MASK] inserted"))
    ax.legend(handles=handles, loc="upper center", bbox_to_anchor=(0.5, -0.02), ncol=6, fontsize=8, frameon=False)
    ax.set_title("the masking zoo: one story, every pretext corruption", pad=12)
    return fig


lesson.savefig(plot_zoo(zoo_rows()), "masking_zoo")

# %% [markdown]
# ## Step 4 — the rates, over the whole training corpus
#
# One draw says little; the papers' numbers are rates. We run every scheme over the
# training stories and count. BERT, ELECTRA, BART and the sentence pairs work on whole
# stories (`[CLS] story [SEP]`, padded into one batch: padding and specials are never
# picked). T5 and XLNet pack the token stream into sequences of 512, as their papers do.
# T5 and BART infilling are undone on every sequence, not only on our example.

# %%
lesson.step("The rates over the training corpus")
rng = np.random.default_rng(lesson.seed + 1)
train_docs = train_docs[:config.n_train_docs]
stories = [np.concatenate(doc) for doc in train_docs]
stream = np.concatenate(stories)
seqs, _ = pad_batch([np.concatenate([[tok.cls_id], s, [tok.sep_id]]) for s in stories], tok.pad_id)
chunks = consecutive_windows(stream, config.chunk_len)
maskable = ~np.isin(seqs, special)
print(f"{len(stories)} stories, {len(stream)} tokens; {len(chunks)} chunks of {config.chunk_len}")
table = []  # (scheme, quantity, measured, paper's value)


def measure(scheme, quantity, metric, value, paper):
    table.append((scheme, quantity, float(value), paper))
    return lesson.metric(metric, float(value))


bert = M.bert_mask(seqs, rng, mask_id=mask_id, special_ids=special, vocab_size=V)
electra = M.electra_mask(seqs, rng, mask_id=mask_id, special_ids=special, vocab_size=V)
bert_rate = measure("BERT", "selected share of tokens", "bert_selected_rate", bert.selected.sum() / maskable.sum(),
                    "0.15")
bert_split = [kind.sum() / bert.selected.sum() for kind in bert_kinds(bert, seqs).values()]
electra_split = [kind.sum() / electra.selected.sum() for kind in bert_kinds(electra, seqs).values()]
for share, name, paper in zip(bert_split, ("mask", "random", "unchanged"), ("0.80", "0.10", "0.10")):
    measure("BERT", f"selected -> {name}", f"bert_{name}_share", share, paper)
measure("ELECTRA", "selected -> [MASK]", "electra_mask_share", electra_split[0], "0.85")

# %% [markdown]
# A random replacement that happens to draw the original word counts as "unchanged"
# here (1 chance in ~3,000). At length 512 T5 must pass the unit check exactly: 77 noise
# tokens in 26 spans, an input of 512 - 77 + 26 = 461 tokens and a target of 77 + 26 = 103.

# %%
t5_noise = t5_spans = 0
for chunk in chunks:  # t5_ok and infill_ok: step 2's checks, now on every sequence
    t5 = M.t5_span_corrupt(chunk, rng, sentinel_ids=sentinel_ids)
    t5_noise, t5_spans = t5_noise + t5.noise_mask.sum(), t5_spans + np.isin(t5.input_ids, sentinel_ids).sum()
    t5_ok &= np.array_equal(M.t5_reconstruct(t5.input_ids, t5.targets, sentinel_ids=sentinel_ids), chunk)
t5_density = measure("T5", "noise density", "t5_noise_density", t5_noise / chunks.size, "0.15")
measure("T5", "mean noise span length", "t5_mean_span_length", t5_noise / t5_spans, "3")
measure("T5", "input length at 512", "t5_input_len_512", len(t5.input_ids), "461")
measure("T5", "target length at 512", "t5_target_len_512", len(t5.targets), "103")

# %% [markdown]
# BART infilling draws Poisson(3) span lengths until they cover 30% of a story. A
# Poisson(3) length is 0 with probability e^-3 ≈ 0.050: such a span inserts a [MASK]
# that hides nothing, so the model learns that a mask may stand for no token at all.
# The budget is ceil(0.3 n) tokens, a little over 30%, and the last span of each story
# is cut to fit it, which pulls the mean length below 3. XLNet: our rule predicts the
# last ceil(n / 6) tokens of each order, 86 of 512; XLNet's configuration sets 85.

# %%
span_lengths = []
for text in stories:
    ids = np.concatenate([[bos_id], text, [eos_id]])
    noised = M.bart_text_infill(ids, rng, mask_id=mask_id, special_ids=special)
    span_lengths += [len(s) for s in noised.spans]
    infill_ok &= np.array_equal(M.infill_reconstruct(noised.input_ids, noised.spans, mask_id=mask_id), ids)
span_lengths = np.array(span_lengths)
measure("BART", "infilled share of tokens", "bart_infill_coverage", span_lengths.sum() / len(stream), "0.30")
measure("BART", "mean span length", "bart_mean_span_length", span_lengths.mean(), "3 (Poisson)")
bart_zero = measure("BART", "zero-length spans", "bart_zero_span_share", np.mean(span_lengths == 0), "e^-3 = 0.050")
xlnet_share = measure("XLNet", "predicted share of tokens", "xlnet_target_share",
                      M.xlnet_permutation(chunks, rng, special_ids=special).target_mask.mean(), "85/512")

# %% [markdown]
# Sentence pairs: each label should come up half the time. Static vs dynamic masking
# (RoBERTa §4.1): BERT drew 10 masks per sequence up front and cycled through them for
# 40 epochs; RoBERTa draws a new one at every pass. We count the distinct masked inputs
# each story meets.

# %%
nsp_share = measure("NSP", "label 1 (random B) share", "nsp_label1_share",
                    M.nsp_pairs(train_docs, rng, **pair_kwargs).labels.mean(), "0.5")
sop_share = measure("SOP", "label 1 (swapped) share", "sop_label1_share",
                    M.sop_pairs(train_docs, rng, **pair_kwargs).labels.mean(), "0.5")
few, distinct = seqs[:config.n_static_seqs], {}
mask_kwargs = dict(mask_id=mask_id, special_ids=special, vocab_size=V)
for name, scheme in (("static", M.StaticMasking(few, rng, dupe_factor=config.dupe_factor, **mask_kwargs)),
                     ("dynamic", M.DynamicMasking(few, rng, **mask_kwargs))):
    masks_met = [set() for _ in few]  # per story: every masked input it was fed
    for epoch in range(config.epochs):
        for i, masked in enumerate(scheme(np.arange(len(few)), epoch).input_ids):
            masks_met[i].add(masked.tobytes())
    distinct[name] = measure("RoBERTa", f"{name}: distinct masks, {config.epochs} epochs", f"{name}_distinct_masks",
                             np.mean([len(m) for m in masks_met]), "10" if name == "static" else "40")

assert t5_ok and infill_ok, "a reconstruction failed"
lesson.metric("t5_reconstructs", bool(t5_ok))
lesson.metric("bart_infill_reconstructs", bool(infill_ok))
print(f"\n{'scheme':<9}{'quantity':<36}{'measured':>9}   paper")
for scheme, quantity, value, paper in table:
    print(f"{scheme:<9}{quantity:<36}{value:>9.4f}   {paper}")
print(f"T5 and BART infilling reconstruct all {len(chunks)} chunks and {len(stories)} stories: True")

# %% [markdown]
# ## Summary
#
# Every scheme produces the rate its paper states, and the sequence-to-sequence ones
# lose nothing: input and target together always hold the whole original. What differs
# is *where the signal is*: BERT, T5 and XLNet take a loss on ~15% of the tokens; BART's
# decoder and ELECTRA's discriminator on all of them; NSP and SOP on one label per pair.
# The claims check the rates within what a corpus of this size can resolve.

# %%
for text, deviation, tolerance in [
        ("BERT selects 15% of the tokens (|rate - 0.15|)", abs(bert_rate - 0.15), 0.005),
        ("BERT splits its selection 80/10/10 (largest deviation)",
         max(abs(a - b) for a, b in zip(bert_split, (0.8, 0.1, 0.1))), 0.01),
        ("T5 corrupts 15% of the tokens (|density - 0.15|)", abs(t5_density - 0.15), 0.005),
        ("a share e^-3 of BART's Poisson(3) spans is empty (|share - e^-3|)", abs(bart_zero - math.exp(-3)), 0.005),
        ("XLNet predicts 1/6 of the tokens (|share - 1/6|)", abs(xlnet_share - 1 / 6), 0.005),
        ("NSP and SOP labels are balanced (largest |share - 0.5|)",
         max(abs(nsp_share - 0.5), abs(sop_share - 0.5)), 0.02)]:
    lesson.claim(text, deviation, tolerance, at_most=True)
lesson.claim("dynamic masking meets 4x the distinct masks of static in 40 epochs (ratio)",
             distinct["dynamic"] / distinct["static"], 3.9)
lesson.paper({f"{scheme}: {quantity}": paper for scheme, quantity, _, paper in table})
lesson.finish()
