"""Pretext tasks: how each foundation model corrupts its input to make its own labels.

Self-supervised pre-training needs no annotations: we damage a text and ask the model
to undo the damage. Each model in the lecture damages text in its own way, and that one
choice is most of what separates them. Here every corruption is a pure function of
token ids (NumPy integer arrays), a seeded ``np.random.Generator`` and the special ids
it needs, passed explicitly. It returns the corrupted input *and* the targets, with
``IGNORE_INDEX`` (-100, cross-entropy's default) wherever no loss is taken.

    function                      paper (section of shared/MODELS.md)
    ----------------------------  -------------------------------------------------------
    bert_mask                     BERT (§1): pick 15% of tokens, then 80% [MASK] / 10%
                                  random token / 10% unchanged; predict the originals
    StaticMasking, DynamicMasking RoBERTa (§6): masks drawn once (BERT's dupe_factor copies)
                                  or drawn fresh every time a sequence is fed
    nsp_pairs                     BERT (§1): next sentence prediction, [CLS] A [SEP] B [SEP]
    sop_pairs                     ALBERT (§10): sentence order prediction (B A = swapped)
    t5_span_corrupt               T5 (§8): noise spans -> one sentinel each; the target
    t5_reconstruct                  lists each span after its sentinel
    bart_token_mask, bart_token_delete, bart_text_infill, bart_sentence_permute,
    bart_rotate                   BART (§7): five noising functions; the target is
                                  always the whole original document
    xlnet_permutation             XLNet (§5): a random factorisation order whose last
    partial_prediction              ~1/K positions are predicted (optionally n-gram spans)
    electra_mask, electra_replace ELECTRA (§11): BERT-style selection (85% [MASK] / 15%
    sample_from_logits              kept), generator samples fill the slots, and the
                                  discriminator learns which tokens were replaced

Shape letters: B batch, T time (sequence length), V vocabulary. Functions that keep the
length (BERT, ELECTRA, XLNet) take ids of shape (T,) or (B, T); padding counts as a
special id, so it is never selected. Functions that change the length (T5, BART) take
one sequence of shape (T,).

This module imports only NumPy: it sits below the tokenizers, so the ids of [MASK],
[CLS], ... are always arguments, never constants.
"""
from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

IGNORE_INDEX = -100  # targets equal to this take no loss (same default as F.cross_entropy)


# ----------------------------------------------------------------------------------
# Argument checks shared by every scheme
# ----------------------------------------------------------------------------------

def _check_rng(rng):
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"rng must be a np.random.Generator (e.g. np.random.default_rng(0)), "
                        f"got {type(rng).__name__}")


def _check_prob(name, value):
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{name} must be a number in [0, 1], got {value!r}")
    if not 0.0 <= value <= 1.0:  # why: written this way, NaN fails too
        raise ValueError(f"{name} must be in [0, 1], got {value}")
    return float(value)


def _check_int(name, value, minimum):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be an integer, got {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    return int(value)


def _check_proportions(proportions):
    values = np.asarray(proportions, dtype=np.float64)
    if values.shape != (3,) or not np.all((values >= 0) & (values <= 1)) \
            or abs(values.sum() - 1.0) > 1e-6:
        raise ValueError("proportions must be three numbers in [0, 1] summing to 1 "
                         f"(mask, random, unchanged), got {tuple(proportions)}")
    return tuple(float(v) for v in values)


def _as_ids(x, name, *, ndims=(1, 2), vocab_size=None):
    """Turn x into an int64 array of token ids, or fail with a message naming x."""
    if not isinstance(x, np.ndarray) and isinstance(getattr(x, "data", None), np.ndarray):
        x = x.data  # why: accept a minifm Tensor without importing tensor.py
    try:
        arr = np.asarray(x)
    except ValueError:
        raise ValueError(f"{name} must be a rectangular array of token ids; "
                         f"rows of different lengths are not allowed") from None
    if arr.size == 0 and arr.dtype.kind == "f" and not isinstance(x, np.ndarray):
        arr = arr.astype(np.int64)  # why: np.asarray([]) is float64, yet [] is a valid id list
    if arr.dtype.kind not in "iu":
        raise TypeError(f"{name} must hold integer token ids, got dtype {arr.dtype}")
    if arr.ndim not in ndims:
        raise ValueError(f"{name} must have {' or '.join(map(str, ndims))} dimension(s), "
                         f"got shape {arr.shape}")
    if arr.size and arr.min() < 0:
        where = np.unravel_index(np.argmin(arr), arr.shape)
        raise ValueError(f"{name} holds the negative id {arr.min()} at index {where}")
    if vocab_size is not None and arr.size and arr.max() >= vocab_size:
        where = np.unravel_index(np.argmax(arr), arr.shape)
        raise ValueError(f"{name} holds id {arr.max()} at index {where}, "
                         f"but vocab_size is {vocab_size}")
    return arr.astype(np.int64, copy=False)


def _check_id(name, value, vocab_size=None):
    value = _check_int(name, value, 0)
    if vocab_size is not None and value >= vocab_size:
        raise ValueError(f"{name} is {value}, but vocab_size is {vocab_size}")
    return value


def sample_positions(candidates, counts, rng):
    """Choose counts[b] positions of row b, uniformly without replacement among its
    True entries of `candidates` (shape (T,) or (B, T)). Returns a boolean mask."""
    keys = rng.random(candidates.shape)
    keys[~candidates] = np.inf                  # why: non-candidates sort last, never chosen
    order = np.argsort(keys, axis=-1)
    rank = np.empty_like(order)                 # rank[b, t] = place of t in its row's shuffle
    np.put_along_axis(rank, order, np.broadcast_to(np.arange(order.shape[-1]), order.shape), -1)
    return rank < np.asarray(counts)[..., None]


# ----------------------------------------------------------------------------------
# 1. BERT masked language modelling (and ELECTRA's selection)
# ----------------------------------------------------------------------------------

class MaskedTokens(NamedTuple):
    input_ids: np.ndarray  # (…, T) the corrupted input the model reads
    targets: np.ndarray    # (…, T) the original id where selected, IGNORE_INDEX elsewhere
    selected: np.ndarray   # (…, T) bool, True at the positions chosen for prediction


def num_to_mask(n_candidates, mask_prob=0.15, max_predictions=None):
    """BERT's count per sequence: min(max_predictions, max(1, round(p * n))), capped at n."""
    n = np.asarray(n_candidates, dtype=np.int64)
    count = np.maximum(1, np.round(mask_prob * n)).astype(np.int64)  # half to even, as round()
    if max_predictions is not None:
        count = np.minimum(count, max_predictions)
    return np.minimum(count, n)  # why: a row of nothing but padding has nothing to select


def bert_mask(ids, rng, *, mask_id, special_ids, vocab_size, mask_prob=0.15,
              max_predictions=None, proportions=(0.8, 0.1, 0.1)):
    """BERT's masked-LM corruption (Devlin et al. 2018, §3.1; create_pretraining_data.py).

    In each sequence, n = min(max_predictions, max(1, round(mask_prob * n_candidates)))
    positions are drawn uniformly without replacement among the non-special tokens. Each
    chosen token becomes [MASK], a random non-special token, or stays unchanged, with
    probabilities `proportions` (BERT: 0.8 / 0.1 / 0.1; ELECTRA: 0.85 / 0 / 0.15).
    The loss is taken only at chosen positions, whatever happened to them.

    Simplification: BERT's script computes n from the whole length including [CLS] and
    [SEP] and may draw special words as random replacements; we count and draw only
    non-special tokens, so the rate is exactly 15% of the maskable tokens.

    ids: (T,) or (B, T) ints. Returns MaskedTokens(input_ids, targets, selected).
    """
    _check_rng(rng)
    vocab_size = _check_int("vocab_size", vocab_size, 1)
    ids = _as_ids(ids, "ids", vocab_size=vocab_size)
    mask_id = _check_id("mask_id", mask_id, vocab_size)
    special = _as_ids(np.atleast_1d(special_ids), "special_ids", ndims=(1,))
    mask_prob = _check_prob("mask_prob", mask_prob)
    if max_predictions is not None:
        max_predictions = _check_int("max_predictions", max_predictions, 1)
    p_mask, p_random, _ = _check_proportions(proportions)
    random_pool = np.setdiff1d(np.arange(vocab_size), np.append(special, mask_id))
    if p_random > 0 and random_pool.size == 0:
        raise ValueError("proportions ask for random tokens, but every id in the "
                         f"vocabulary of {vocab_size} is special")

    candidates = ~np.isin(ids, special)
    selected = sample_positions(candidates, num_to_mask(candidates.sum(-1), mask_prob,
                                                        max_predictions), rng)
    action = rng.random(ids.shape)  # one draw per position: [MASK] / random / unchanged
    use_mask = selected & (action < p_mask)
    use_random = selected & (action >= p_mask) & (action < p_mask + p_random)
    random_ids = random_pool[rng.integers(random_pool.size, size=ids.shape)] if p_random else ids

    input_ids = np.where(use_mask, mask_id, np.where(use_random, random_ids, ids))
    targets = np.where(selected, ids, IGNORE_INDEX)
    return MaskedTokens(input_ids, targets, selected)


def electra_mask(ids, rng, *, mask_id, special_ids, vocab_size, mask_prob=0.15,
                 max_predictions=None):
    """ELECTRA's selection (Clark et al. 2020; pretrain_helpers.py): BERT's masking with
    85% [MASK], no random tokens and 15% left unchanged. Returns MaskedTokens."""
    return bert_mask(ids, rng, mask_id=mask_id, special_ids=special_ids, vocab_size=vocab_size,
                     mask_prob=mask_prob, max_predictions=max_predictions,
                     proportions=(0.85, 0.0, 0.15))


# ----------------------------------------------------------------------------------
# 2. RoBERTa: static vs dynamic masking (same interface, so a lesson can swap them)
# ----------------------------------------------------------------------------------

class StaticMasking:
    """BERT's offline masking, as RoBERTa (§4.1) describes it: the data is duplicated
    `dupe_factor` times (10) with a different mask drawn once for each copy, and epoch e
    reads copy e % dupe_factor, so over 40 epochs every mask is seen 4 times.

    sequences: (N, T) padded ids; mask_kwargs: the keyword arguments of bert_mask.
    Call with (indices, epoch) to get the MaskedTokens of those sequences.
    """

    def __init__(self, sequences, rng, *, dupe_factor=10, **mask_kwargs):
        _check_rng(rng)
        self.dupe_factor = _check_int("dupe_factor", dupe_factor, 1)
        sequences = _as_ids(sequences, "sequences", ndims=(2,))
        # why: all masks are drawn here, up front, like BERT's data-generation script
        self.copies = [bert_mask(sequences, rng, **mask_kwargs) for _ in range(self.dupe_factor)]

    def __call__(self, indices, epoch):
        _check_int("epoch", epoch, 0)
        copy = self.copies[epoch % self.dupe_factor]
        return MaskedTokens(*(field[indices] for field in copy))


class DynamicMasking:
    """RoBERTa's dynamic masking (§4.1): a fresh bert_mask every time a sequence is fed,
    so no mask repeats. Same constructor and call as StaticMasking (epoch is unused)."""

    def __init__(self, sequences, rng, **mask_kwargs):
        _check_rng(rng)
        self.sequences = _as_ids(sequences, "sequences", ndims=(2,))
        self.rng = rng
        self.mask_kwargs = mask_kwargs

    def __call__(self, indices, epoch):
        _check_int("epoch", epoch, 0)
        return bert_mask(self.sequences[indices], self.rng, **self.mask_kwargs)


# ----------------------------------------------------------------------------------
# 3. Sentence pairs: NSP (BERT) and SOP (ALBERT)
# ----------------------------------------------------------------------------------

class SentencePairs(NamedTuple):
    input_ids: np.ndarray    # (N, max_len) [CLS] A [SEP] B [SEP], then pad_id
    segment_ids: np.ndarray  # (N, max_len) 0 through the first [SEP], 1 after, 0 at padding
    labels: np.ndarray       # (N,) NSP: 1 = B is random; SOP: 1 = swapped


def truncate_pair(a, b, max_tokens, rng):
    """BERT's truncate_seq_pair: while the pair is too long, drop one token from the
    longer segment (B on a tie), from its front or back with equal chance."""
    a_lo, a_hi, b_lo, b_hi = 0, len(a), 0, len(b)
    while (a_hi - a_lo) + (b_hi - b_lo) > max_tokens:
        from_front = rng.random() < 0.5  # why: trimming both ends avoids a bias to one end
        if a_hi - a_lo > b_hi - b_lo:
            a_lo, a_hi = (a_lo + 1, a_hi) if from_front else (a_lo, a_hi - 1)
        else:
            b_lo, b_hi = (b_lo + 1, b_hi) if from_front else (b_lo, b_hi - 1)
    return a[a_lo:a_hi], b[b_lo:b_hi]


def pack_pair(a, b, *, cls_id, sep_id, max_len, rng):
    """[CLS] A [SEP] B [SEP] with segment ids 0 through the first [SEP] and 1 after,
    truncated to max_len. Returns (ids, segment_ids), each (len,) with len <= max_len."""
    a, b = truncate_pair(a, b, max_len - 3, rng)  # why: 3 slots go to [CLS] and two [SEP]
    ids = np.concatenate([[cls_id], a, [sep_id], b, [sep_id]]).astype(np.int64)
    segment_ids = np.concatenate([np.zeros(len(a) + 2, np.int64), np.ones(len(b) + 1, np.int64)])
    return ids, segment_ids


def nsp_pairs(documents, rng, *, cls_id, sep_id, pad_id, max_len):
    """BERT's next sentence prediction (Devlin et al. 2018, §3.1).

    For every sentence A that has a successor in its document: with probability 1/2,
    B is that successor (label 0, "IsNext"); otherwise B is a random sentence of a
    random *other* document (label 1, "NotNext").

    Simplification: BERT packs several sentences into each segment to fill the length
    budget (and uses short_seq_prob = 0.1); here a segment is one sentence, so pass
    longer "sentences" to get longer segments.

    documents: list of documents, each a list of sentences (1-D id arrays or lists).
    Returns SentencePairs with arrays padded to max_len.
    """
    docs = _check_pair_args(documents, rng, cls_id, sep_id, pad_id, max_len)
    if len(docs) < 2:
        raise ValueError(f"nsp_pairs needs at least 2 documents to draw negatives, got {len(docs)}")
    pairs, labels = [], []
    for d, doc in enumerate(docs):
        for i in range(len(doc) - 1):
            if rng.random() < 0.5:
                pairs.append((doc[i], doc[i + 1]))
                labels.append(0)
            else:
                other = rng.integers(len(docs) - 1)
                other += other >= d  # why: skip d itself, so the draw is uniform over the others
                pairs.append((doc[i], docs[other][rng.integers(len(docs[other]))]))
                labels.append(1)
    return _stack_pairs(pairs, labels, rng, cls_id, sep_id, pad_id, max_len)


def sop_pairs(documents, rng, *, cls_id, sep_id, pad_id, max_len):
    """ALBERT's sentence order prediction (Lan et al. 2019, §3.1; evaluated in §4.6).

    For every two consecutive sentences of a document: label 0 keeps them in order,
    label 1 (probability 1/2) swaps them. Both segments always come from the same
    document, so topic gives nothing away: only the order does.

    Simplification: one sentence per segment, as in nsp_pairs.
    """
    docs = _check_pair_args(documents, rng, cls_id, sep_id, pad_id, max_len)
    pairs, labels = [], []
    for doc in docs:
        for i in range(len(doc) - 1):
            swap = rng.random() < 0.5
            pairs.append((doc[i + 1], doc[i]) if swap else (doc[i], doc[i + 1]))
            labels.append(int(swap))
    return _stack_pairs(pairs, labels, rng, cls_id, sep_id, pad_id, max_len)


def _check_pair_args(documents, rng, cls_id, sep_id, pad_id, max_len):
    _check_rng(rng)
    for name, value in (("cls_id", cls_id), ("sep_id", sep_id), ("pad_id", pad_id)):
        _check_id(name, value)
    _check_int("max_len", max_len, 5)  # why: [CLS] a [SEP] b [SEP] needs at least 5 slots
    if not isinstance(documents, (list, tuple)):
        raise TypeError(f"documents must be a list of documents, got {type(documents).__name__}")
    docs = []
    for d, doc in enumerate(documents):
        if not isinstance(doc, (list, tuple)) or len(doc) == 0:
            raise ValueError(f"document {d} must be a non-empty list of sentences, got {doc!r:.60}")
        sentences = [_as_ids(s, f"sentence {i} of document {d}", ndims=(1,))
                     for i, s in enumerate(doc)]
        for i, s in enumerate(sentences):
            if s.size == 0:
                raise ValueError(f"sentence {i} of document {d} is empty")
        docs.append(sentences)
    return docs


def _stack_pairs(pairs, labels, rng, cls_id, sep_id, pad_id, max_len):
    input_ids = np.full((len(pairs), max_len), pad_id, dtype=np.int64)
    segment_ids = np.zeros((len(pairs), max_len), dtype=np.int64)
    for row, (a, b) in enumerate(pairs):
        ids, segments = pack_pair(a, b, cls_id=cls_id, sep_id=sep_id, max_len=max_len, rng=rng)
        input_ids[row, :len(ids)] = ids
        segment_ids[row, :len(ids)] = segments
    return SentencePairs(input_ids, segment_ids, np.array(labels, dtype=np.int64))


# ----------------------------------------------------------------------------------
# 4. T5 span corruption
# ----------------------------------------------------------------------------------

class SpanCorruption(NamedTuple):
    input_ids: np.ndarray   # (T_in,) non-noise tokens, one sentinel per noise span [, eos]
    targets: np.ndarray     # (T_out,) sentinel_0 span_0 sentinel_1 span_1 ... [, eos]
    noise_mask: np.ndarray  # (T,) bool over the original, True on noise tokens


def random_segmentation(n_items, n_segments, rng):
    """Split n_items into n_segments positive lengths, every split equally likely
    (choose n_segments - 1 distinct cut points among the n_items - 1 gaps)."""
    n_items = _check_int("n_items", n_items, 1)
    n_segments = _check_int("n_segments", n_segments, 1)
    if n_segments > n_items:
        raise ValueError(f"cannot split {n_items} items into {n_segments} non-empty segments")
    cuts = np.sort(rng.choice(n_items - 1, size=n_segments - 1, replace=False)) + 1
    return np.diff(np.concatenate([[0], cuts, [n_items]]))


def t5_noise_mask(length, rng, *, noise_density=0.15, mean_span_length=3.0):
    """T5's random_spans_noise_mask: round(density * length) noise tokens (at least 1)
    in round(n_noise / mean_span_length) spans (at least 1). Noise and non-noise counts
    are each split at random into that many runs, interleaved starting with non-noise.

    Simplification: we cap the span count at the number of non-noise tokens, so that a
    very high density still leaves one non-noise token before each span."""
    _check_rng(rng)
    length = _check_int("length", length, 2)  # why: one noise and one non-noise token at least
    noise_density = _check_prob("noise_density", noise_density)
    if not mean_span_length >= 1:
        raise ValueError(f"mean_span_length must be >= 1, got {mean_span_length}")
    n_noise = min(max(round(noise_density * length), 1), length - 1)
    n_spans = min(max(round(n_noise / mean_span_length), 1), length - n_noise)
    noise_lengths = random_segmentation(n_noise, n_spans, rng)
    keep_lengths = random_segmentation(length - n_noise, n_spans, rng)
    run_lengths = np.stack([keep_lengths, noise_lengths], axis=1).reshape(-1)  # keep, noise, ...
    return np.repeat(np.tile([False, True], n_spans), run_lengths)


def _spans_to_sentinels(ids, mask, sentinels):
    """Replace each run of True in `mask` by one sentinel (the k-th run gets sentinels[k])."""
    starts = mask & ~np.concatenate([[False], mask[:-1]])
    run_index = np.cumsum(starts) - 1
    replaced = np.where(starts, sentinels[np.maximum(run_index, 0)], ids)
    return replaced[~mask | starts]  # why: keep unmasked tokens and only the first of each run


def t5_span_corrupt(ids, rng, *, sentinel_ids, noise_density=0.15, mean_span_length=3.0,
                    eos_id=None):
    """T5's span corruption (Raffel et al. 2019, §3.1.4; preprocessors.span_corruption).

    The input keeps the non-noise tokens and replaces each noise span by one sentinel;
    the target is the complement: each noise span after its sentinel. The k-th span uses
    sentinel_ids[k] (T5: <extra_id_0> = vocab - 1, counting down). If eos_id is given it
    is appended to both. At length 512: 77 noise tokens in 26 spans, input 461 and target
    103 tokens before EOS.

    ids: (T,) one unpadded sequence. Returns SpanCorruption(input_ids, targets, noise_mask).
    """
    ids = _as_ids(ids, "ids", ndims=(1,))
    sentinels = _as_ids(np.atleast_1d(sentinel_ids), "sentinel_ids", ndims=(1,))
    if np.isin(ids, sentinels).any():
        raise ValueError("ids already contain a sentinel id; the output could not be decoded")
    noise_mask = t5_noise_mask(len(ids), rng, noise_density=noise_density,
                               mean_span_length=mean_span_length)
    n_spans = int((noise_mask & ~np.concatenate([[False], noise_mask[:-1]])).sum())
    if n_spans > len(sentinels):
        raise ValueError(f"{n_spans} noise spans need {n_spans} sentinel ids, got {len(sentinels)}")
    input_ids = _spans_to_sentinels(ids, noise_mask, sentinels)
    targets = _spans_to_sentinels(ids, ~noise_mask, sentinels)  # why: T5 masks the complement
    if eos_id is not None:
        eos = [_check_id("eos_id", eos_id)]
        input_ids, targets = np.append(input_ids, eos), np.append(targets, eos)
    return SpanCorruption(input_ids, targets, noise_mask)


def t5_reconstruct(input_ids, targets, *, sentinel_ids, eos_id=None):
    """Undo t5_span_corrupt: put each target span back in place of its sentinel."""
    input_ids = _as_ids(input_ids, "input_ids", ndims=(1,))
    targets = _as_ids(targets, "targets", ndims=(1,))
    if eos_id is not None:  # why: EOS ends both sequences but belongs to neither text
        input_ids = input_ids[:-1] if len(input_ids) and input_ids[-1] == eos_id else input_ids
        targets = targets[:-1] if len(targets) and targets[-1] == eos_id else targets
    sentinels = set(int(s) for s in np.atleast_1d(sentinel_ids))
    cuts = [i for i, t in enumerate(targets) if int(t) in sentinels] + [len(targets)]
    spans = {int(targets[i]): targets[i + 1:j] for i, j in zip(cuts[:-1], cuts[1:])}
    pieces = []
    for token in input_ids:
        if int(token) in sentinels:
            if int(token) not in spans:
                raise ValueError(f"sentinel {int(token)} appears in input_ids but not in targets")
            pieces.append(spans[int(token)])
        else:
            pieces.append(np.array([token]))
    return np.concatenate(pieces).astype(np.int64) if pieces else np.zeros(0, np.int64)


# ----------------------------------------------------------------------------------
# 5. BART noising: the target is always the original document
# ----------------------------------------------------------------------------------

class TokenNoise(NamedTuple):
    input_ids: np.ndarray  # the noised document
    targets: np.ndarray    # the original document
    positions: np.ndarray  # bool over the original: the masked (or deleted) tokens


class Infilled(NamedTuple):
    input_ids: np.ndarray  # the document with each span replaced by one mask_id
    targets: np.ndarray    # the original document
    spans: list            # spans[k] = original tokens behind the k-th mask_id (may be empty)


class Reordered(NamedTuple):
    input_ids: np.ndarray  # the permuted or rotated document
    targets: np.ndarray    # the original document
    order: np.ndarray      # the original pieces in their new order: sentence indices
                           # (permutation) or text-token indices (rotation; order[0] = start)


def _budget(prob, n):
    """fairseq's number of tokens to noise: ceil(prob * n)."""
    return math.ceil(prob * n - 1e-9)  # why: float noise (0.1 * 3 = 0.30000000000000004) adds none


def _body_bounds(ids, special):
    """(lo, hi) such that ids[:lo] and ids[hi:] are the special tokens at the two ends
    (e.g. <s> ... </s>) and ids[lo:hi] is the text; specials inside the text are refused."""
    is_special = np.isin(ids, special)
    lo = int(np.argmin(is_special)) if not is_special.all() else len(ids)
    hi = len(ids) - int(np.argmin(is_special[::-1])) if not is_special.all() else len(ids)
    inside = np.flatnonzero(is_special[lo:hi])
    if inside.size:
        at = lo + int(inside[0])
        raise ValueError(f"special id {ids[at]} at position {at} lies inside the document; "
                         "BART noising expects special ids only at the two ends")
    return lo, hi


def _bart_args(ids, rng, special_ids):
    _check_rng(rng)
    ids = _as_ids(ids, "ids", ndims=(1,))
    return ids, _as_ids(np.atleast_1d(special_ids), "special_ids", ndims=(1,))


def bart_token_mask(ids, rng, *, mask_id, special_ids, mask_prob=0.15):
    """BART token masking (Lewis et al. 2019, §2.2): as in BERT, random tokens are
    replaced by [MASK]. We mask exactly ceil(mask_prob * n) non-special tokens
    (fairseq's budget) and never use random or unchanged replacements."""
    ids, special = _bart_args(ids, rng, special_ids)
    mask_id = _check_id("mask_id", mask_id)
    candidates = ~np.isin(ids, special)
    chosen = sample_positions(candidates, _budget(_check_prob("mask_prob", mask_prob),
                                                  candidates.sum()), rng)
    return TokenNoise(np.where(chosen, mask_id, ids), ids.copy(), chosen)


def bart_token_delete(ids, rng, *, special_ids, delete_prob=0.15):
    """BART token deletion (§2.2): ceil(delete_prob * n) random non-special tokens are
    removed, so the model must also find *where* input is missing."""
    ids, special = _bart_args(ids, rng, special_ids)
    candidates = ~np.isin(ids, special)
    chosen = sample_positions(candidates, _budget(_check_prob("delete_prob", delete_prob),
                                                  candidates.sum()), rng)
    return TokenNoise(ids[~chosen], ids.copy(), chosen)


def poisson_span_lengths(budget, poisson_lambda, rng):
    """fairseq's span lengths: draw Poisson(lambda) lengths until they cover `budget`
    tokens, then cut the last one so they sum to exactly `budget`. Zeros are kept."""
    if budget == 0:
        return np.zeros(0, dtype=np.int64)
    lengths = rng.poisson(poisson_lambda, size=budget)
    while lengths.sum() < budget:  # why: many zero draws can leave the budget uncovered
        lengths = np.concatenate([lengths, rng.poisson(poisson_lambda, size=budget)])
    covered = np.cumsum(lengths)
    last = int(np.searchsorted(covered, budget))  # first span reaching the budget
    lengths = lengths[:last + 1].astype(np.int64)
    lengths[-1] = budget - (covered[last - 1] if last > 0 else 0)
    return lengths


def bart_text_infill(ids, rng, *, mask_id, special_ids, mask_prob=0.3, poisson_lambda=3.0):
    """BART text infilling (§2.2), the noise of the final BART recipe.

    Span lengths ~ Poisson(lambda = 3) are drawn until they cover ceil(mask_prob * n)
    text tokens (fairseq's budget, last span cut). Each span is replaced by a *single*
    mask_id, so the model must also predict how many tokens are missing; a 0-length span
    inserts a mask_id that hides nothing.

    Simplification: spans are placed at random without overlap (fairseq places starts
    independently and lets spans merge), and masks are never swapped for random tokens.
    Special ids must sit only at the two ends. Returns Infilled(input_ids, targets, spans).
    """
    ids, special = _bart_args(ids, rng, special_ids)
    mask_id = _check_id("mask_id", mask_id)
    mask_prob = _check_prob("mask_prob", mask_prob)
    if not poisson_lambda > 0:
        raise ValueError(f"poisson_lambda must be > 0, got {poisson_lambda}")
    lo, hi = _body_bounds(ids, special)
    budget = _budget(mask_prob, hi - lo)
    lengths = poisson_span_lengths(budget, poisson_lambda, rng)
    lengths = rng.permutation(lengths)  # why: the cut last span must not always come last
    # Interleave the spans with the hi - lo - budget untouched tokens in a random order.
    n_slots = (hi - lo - budget) + len(lengths)
    is_span = np.zeros(n_slots, dtype=bool)
    is_span[rng.choice(n_slots, size=len(lengths), replace=False)] = True

    pieces, spans, pos, k = [ids[:lo]], [], lo, 0
    for slot_is_span in is_span:
        if slot_is_span:
            spans.append(ids[pos:pos + lengths[k]])
            pieces.append([mask_id])
            pos, k = pos + lengths[k], k + 1
        else:
            pieces.append(ids[pos:pos + 1])
            pos += 1
    pieces.append(ids[hi:])
    return Infilled(np.concatenate(pieces).astype(np.int64), ids.copy(), spans)


def infill_reconstruct(input_ids, spans, *, mask_id):
    """Undo bart_text_infill: replace the k-th mask_id by spans[k]."""
    input_ids = _as_ids(input_ids, "input_ids", ndims=(1,))
    n_masks = int((input_ids == mask_id).sum())
    if n_masks != len(spans):
        raise ValueError(f"input_ids hold {n_masks} masks but {len(spans)} spans were given")
    next_span = iter(spans)
    pieces = [next(next_span) if token == mask_id else [token] for token in input_ids]
    return np.concatenate([np.asarray(p, np.int64) for p in pieces]) if pieces else input_ids


def bart_sentence_permute(ids, rng, *, sentence_end_ids, special_ids):
    """BART sentence permutation (§2.2): split the text after each sentence-end token
    (e.g. the id of "."), and shuffle the sentences. A run of end tokens ("...") ends a
    single sentence; text after the last end token is a final sentence of its own."""
    ids, special = _bart_args(ids, rng, special_ids)
    enders = _as_ids(np.atleast_1d(sentence_end_ids), "sentence_end_ids", ndims=(1,))
    lo, hi = _body_bounds(ids, special)
    body = ids[lo:hi]
    is_end = np.isin(body, enders)
    ends = is_end & ~np.append(is_end[1:], False)  # why: cut after the last end token of a run
    sentences = [s for s in np.split(body, np.flatnonzero(ends) + 1) if s.size]
    order = rng.permutation(len(sentences))
    shuffled = [sentences[i] for i in order]
    return Reordered(np.concatenate([ids[:lo], *shuffled, ids[hi:]]), ids.copy(), order)


def bart_rotate(ids, rng, *, special_ids):
    """BART document rotation (§2.2): a token is chosen uniformly and the text is rotated
    to begin with it; the model must find the true start. End specials stay in place."""
    ids, special = _bart_args(ids, rng, special_ids)
    lo, hi = _body_bounds(ids, special)
    start = int(rng.integers(hi - lo)) if hi > lo else 0
    order = np.roll(np.arange(hi - lo), -start)  # text token indices, beginning at `start`
    rotated = np.concatenate([ids[:lo], ids[lo:hi][order], ids[hi:]])
    return Reordered(rotated, ids.copy(), order)


# ----------------------------------------------------------------------------------
# 6. XLNet: permutation language modelling with partial prediction
# ----------------------------------------------------------------------------------

class PermutationTargets(NamedTuple):
    order: np.ndarray        # (…, T) the factorisation order: order[i] = position predicted i-th
    rank: np.ndarray         # (…, T) rank[order[i]] = i, the place of each position in the order
    target_mask: np.ndarray  # (…, T) bool, True at the positions that are predicted
    targets: np.ndarray      # (…, T) the original id where target_mask, IGNORE_INDEX elsewhere


def ranks_from_order(order):
    """Invert a permutation along the last axis: rank[..., order[..., i]] = i."""
    rank = np.empty_like(order)
    np.put_along_axis(rank, order, np.broadcast_to(np.arange(order.shape[-1]), order.shape), -1)
    return rank


def partial_prediction(ids, order, num_predict):
    """XLNet's partial prediction (Yang et al. 2019, §2.3) for a given order: only the
    last num_predict positions of the factorisation order are targets; the rest are
    context. num_predict: an int, or one per row for (B, T) ids."""
    ids = _as_ids(ids, "ids")
    order = _as_ids(order, "order")
    T = ids.shape[-1]
    if order.shape != ids.shape or not np.all(np.sort(order, axis=-1) == np.arange(T)):
        raise ValueError(f"order must be a permutation of 0..{T - 1} in each row, shaped like ids "
                         f"{ids.shape}, got shape {order.shape}")
    num_predict = np.asarray(num_predict)
    if num_predict.dtype.kind not in "iu" or np.any((num_predict < 0) | (num_predict > T)):
        raise ValueError(f"num_predict must be integers in [0, {T}], got {num_predict}")
    rank = ranks_from_order(order)
    target_mask = rank >= T - num_predict[..., None]  # why: the tail of the order is predicted
    return PermutationTargets(order, rank, target_mask, np.where(target_mask, ids, IGNORE_INDEX))


def xlnet_ngram_spans(n_tokens, rng, *, goal, k=6, max_ngram=5):
    """XLNet's n-gram target sampler (data_utils._sample_mask), on token ids.

    Walks left to right: draw n in 1..max_ngram with p(n) proportional to 1/n, give the
    n-gram k*n tokens of context split at random between its left and right, and stop at
    the end of the sequence or once `goal` targets are reached (the last n is cut).
    Returns a list of (start, n) spans, non-overlapping and in order."""
    ngrams = np.arange(1, max_ngram + 1)
    p = (1.0 / ngrams) / (1.0 / ngrams).sum()
    spans, cursor, n_targets = [], 0, 0
    while cursor < n_tokens and n_targets < goal:
        n = min(int(rng.choice(ngrams, p=p)), goal - n_targets)
        context = k * n  # XLNet: mask_alpha / mask_beta = 6 context tokens per target
        left = int(rng.integers(context))
        start = cursor + left
        if start + n > n_tokens:
            break
        spans.append((start, n))
        n_targets += n
        cursor = start + n + (context - left)
    return spans


def _span_target_mask(n_tokens, rng, goal, k, max_ngram):
    is_target = np.zeros(n_tokens, dtype=bool)
    for start, n in xlnet_ngram_spans(n_tokens, rng, goal=goal, k=k, max_ngram=max_ngram):
        is_target[start:start + n] = True
    missing = goal - int(is_target.sum())  # why: XLNet tops up with single tokens to reach the goal
    is_target[rng.choice(np.flatnonzero(~is_target), size=missing, replace=False)] = True
    return is_target


def xlnet_permutation(ids, rng, *, special_ids, k=6, span_targets=False, max_ngram=5):
    """XLNet's permutation sampling with partial prediction (§2.3, §5 of MODELS.md).

    Draw a random factorisation order over the non-special positions; the last
    ceil(n / k) of the order are the targets (k = 6: XLNet predicts 85 of 512 tokens).
    With span_targets=True the targets are n-grams (xlnet_ngram_spans, topped up with
    single tokens to the same count) and the order puts them last.

    Simplification: special positions (padding, [CLS], [SEP]) come first in the order,
    so they are always context and never targets.

    ids: (T,) or (B, T). Returns PermutationTargets(order, rank, target_mask, targets).
    """
    _check_rng(rng)
    ids = _as_ids(ids, "ids")
    special = _as_ids(np.atleast_1d(special_ids), "special_ids", ndims=(1,))
    k = _check_int("k", k, 1)
    max_ngram = _check_int("max_ngram", max_ngram, 1)
    orders, num_predict = [], []
    for row in np.atleast_2d(ids):
        is_special = np.isin(row, special)
        positions = np.flatnonzero(~is_special)
        goal = math.ceil(len(positions) / k)
        if span_targets:
            is_target = _span_target_mask(len(positions), rng, goal, k, max_ngram)
            shuffled = np.concatenate([rng.permutation(positions[~is_target]),
                                       rng.permutation(positions[is_target])])
        else:
            shuffled = rng.permutation(positions)
        orders.append(np.concatenate([np.flatnonzero(is_special), shuffled]))
        num_predict.append(goal)
    order = np.array(orders, dtype=np.int64).reshape(ids.shape)
    return partial_prediction(ids, order, np.array(num_predict).reshape(ids.shape[:-1]))


# ----------------------------------------------------------------------------------
# 7. ELECTRA: replaced token detection
# ----------------------------------------------------------------------------------

class ReplacedTokens(NamedTuple):
    input_ids: np.ndarray  # (…, T) discriminator input: generator samples in the masked slots
    targets: np.ndarray    # (…, T) 1 = replaced, 0 = original, IGNORE_INDEX at padding


def electra_replace(original_ids, masked_positions, sampled_ids, *, pad_mask=None):
    """ELECTRA's discriminator data (Clark et al. 2020, §2; run_pretraining.py).

    The generator's samples go into the masked slots. The label is 1 where the result
    differs from the original and 0 elsewhere: a sample that happens to equal the
    original counts as original. The loss covers every non-pad token, not only the
    masked ones, which is where ELECTRA's sample efficiency comes from.

    original_ids: (…, T) ids before masking. masked_positions: bool, same shape (the
    `selected` field of electra_mask). sampled_ids: same shape (only the masked slots are
    read) or one id per masked position, in row-major order. pad_mask: optional bool,
    True at padding.
    """
    original = _as_ids(original_ids, "original_ids")
    masked = np.asarray(masked_positions)
    if masked.dtype != bool or masked.shape != original.shape:
        raise ValueError(f"masked_positions must be a bool array of shape {original.shape}, "
                         f"got {masked.dtype} {masked.shape}")
    sampled = _as_ids(sampled_ids, "sampled_ids", ndims=(1, 2))
    if sampled.shape == original.shape:
        sampled = sampled[masked]
    elif sampled.shape != (int(masked.sum()),):
        raise ValueError(f"sampled_ids must have shape {original.shape} or ({int(masked.sum())},) "
                         f"(one per masked position), got {sampled.shape}")
    input_ids = original.copy()
    input_ids[masked] = sampled
    targets = (input_ids != original).astype(np.int64)
    if pad_mask is not None:
        pad_mask = np.asarray(pad_mask)
        if pad_mask.dtype != bool or pad_mask.shape != original.shape:
            raise ValueError(f"pad_mask must be a bool array of shape {original.shape}, "
                             f"got {pad_mask.dtype} {pad_mask.shape}")
        targets[pad_mask] = IGNORE_INDEX
    return ReplacedTokens(input_ids, targets)


def sample_from_logits(logits, rng, temperature=1.0):
    """Draw one id per row from softmax(logits / temperature) along the last axis.

    ELECTRA samples the generator's output at temperature 1. The softmax is shifted by
    the row maximum, so large logits cannot overflow; -inf logits are never drawn.
    logits: (…, V) floats (a minifm Tensor is accepted). Returns int64 ids of shape (…).
    """
    _check_rng(rng)
    if not isinstance(logits, np.ndarray) and isinstance(getattr(logits, "data", None), np.ndarray):
        logits = logits.data
    x = np.asarray(logits, dtype=np.float64)
    if x.ndim < 1 or x.shape[-1] == 0:
        raise ValueError(f"logits must have shape (..., V) with V >= 1, got {x.shape}")
    if isinstance(temperature, bool) or not isinstance(temperature, (int, float)) \
            or not (0 < temperature < math.inf):
        raise ValueError(f"temperature must be a finite number > 0, got {temperature!r}")
    if np.isnan(x).any() or np.isposinf(x).any():
        raise ValueError("logits contain NaN or +inf")
    if np.isneginf(x).all(axis=-1).any():
        raise ValueError("a row of logits is all -inf: there is nothing to sample")
    z = x / temperature
    weights = np.exp(z - z.max(axis=-1, keepdims=True))  # why: the max shift keeps exp <= 1
    cdf = np.cumsum(weights, axis=-1)
    u = 1.0 - rng.random(x.shape[:-1] + (1,))  # in (0, 1], so a 0-probability id is never hit
    return (cdf < u * cdf[..., -1:]).sum(axis=-1).astype(np.int64)
