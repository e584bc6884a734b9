"""Tests for minifm.masking: each scheme's rates over >= 100k tokens (tolerances from the
binomial standard deviation), its invariants, small cases worked out by hand, and every
bad-input error. A tiny made-up vocabulary: ids 0-4 are special, 5..999 are words."""
import math

import numpy as np
import pytest

from minifm import masking as M
from minifm.masking import IGNORE_INDEX

PAD, UNK, CLS, SEP, MASK = 0, 1, 2, 3, 4
SPECIAL = np.array([PAD, UNK, CLS, SEP, MASK])
V = 1000
BERT = dict(mask_id=MASK, special_ids=SPECIAL, vocab_size=V)
SENTINELS = list(range(V - 1, V - 101, -1))  # T5 style: the first sentinel is vocab - 1
X = IGNORE_INDEX


def binomial_tol(p, n, sds=4.0):
    """sds standard deviations of a proportion p measured over n independent draws."""
    return sds * math.sqrt(p * (1 - p) / n)


def padded_batch(rng, B, T, min_len):
    """(B, T) rows of [CLS] words [SEP] then [PAD], with random lengths."""
    ids = np.full((B, T), PAD)
    for b, n in enumerate(rng.integers(min_len, T - 1, size=B)):
        ids[b, :n + 2] = np.concatenate([[CLS], rng.integers(5, V, size=n), [SEP]])
    return ids


def true_runs(mask):
    """Lengths of the runs of True in a 1-D boolean array."""
    edges = np.diff(np.concatenate([[0], mask.astype(int), [0]]))
    return np.flatnonzero(edges == -1) - np.flatnonzero(edges == 1)


def words(rng, n, high=V - 100):
    """n word ids that are neither special nor T5 sentinels."""
    return rng.integers(5, high, size=n)


# ---------------------------------------------------------------------------------
# BERT masking
# ---------------------------------------------------------------------------------

def test_bert_count_per_sequence_follows_bert_formula():
    rng = np.random.default_rng(0)
    ids = padded_batch(rng, 200, 64, min_len=0)
    n_candidates = (~np.isin(ids, SPECIAL)).sum(1)
    for max_predictions in (None, 5):
        out = M.bert_mask(ids, rng, max_predictions=max_predictions, **BERT)
        expected = [min(max_predictions or 10**9, max(1, round(0.15 * n)), n) for n in n_candidates]
        np.testing.assert_array_equal(out.selected.sum(1), expected)


def test_bert_8010_10_split_and_invariants():
    rng = np.random.default_rng(1)
    ids = padded_batch(rng, 1200, 256, min_len=150)  # about 240k maskable tokens
    out = M.bert_mask(ids, rng, **BERT)
    sel = out.selected
    n = int(sel.sum())
    pool = V - len(SPECIAL)
    as_mask = (out.input_ids == MASK)[sel].mean()
    as_same = (out.input_ids == ids)[sel].mean()
    as_random = 1 - as_mask - as_same
    expected = {"mask": (as_mask, 0.8), "unchanged": (as_same, 0.1 + 0.1 / pool),
                "random": (as_random, 0.1 * (1 - 1 / pool))}  # a random draw may hit the original
    for name, (measured, p) in expected.items():
        tol = binomial_tol(p, n)
        assert tol <= 0.01, f"sample too small for the +-1% claim ({tol:.4f})"
        assert abs(measured - p) < tol, f"{name}: {measured:.4f} vs {p:.4f} (+-{tol:.4f})"
    # specials are never selected nor changed; random tokens are never special
    assert not sel[np.isin(ids, SPECIAL)].any()
    np.testing.assert_array_equal(out.input_ids[~sel], ids[~sel])
    changed = sel & (out.input_ids != MASK) & (out.input_ids != ids)
    assert not np.isin(out.input_ids[changed], SPECIAL).any()
    assert len(np.unique(out.input_ids[changed])) > 0.9 * pool  # spread over the vocabulary
    np.testing.assert_array_equal(out.targets, np.where(sel, ids, IGNORE_INDEX))


def test_bert_selection_is_uniform_over_positions():
    rng = np.random.default_rng(2)
    ids = np.full((4000, 22), CLS)
    ids[:, 1:-1], ids[:, -1] = words(rng, (4000, 20)), SEP
    rate = M.bert_mask(ids, rng, **BERT).selected[:, 1:-1].mean(0)  # n = round(0.15*20) = 3 of 20
    assert np.abs(rate - 0.15).max() < binomial_tol(0.15, 4000, sds=5)


def test_bert_small_cases_by_hand():
    rng = np.random.default_rng(3)
    ids = np.array([CLS, 10, 11, 12, SEP, PAD])
    all_mask = M.bert_mask(ids, rng, mask_prob=1.0, proportions=(1, 0, 0), **BERT)
    np.testing.assert_array_equal(all_mask.input_ids, [CLS, MASK, MASK, MASK, SEP, PAD])
    np.testing.assert_array_equal(all_mask.targets, [X, 10, 11, 12, X, X])
    keep = M.bert_mask(ids, rng, mask_prob=1.0, proportions=(0, 0, 1), **BERT)
    np.testing.assert_array_equal(keep.input_ids, ids)
    only_specials = M.bert_mask(np.array([[CLS, SEP, PAD]]), rng, **BERT)
    assert not only_specials.selected.any() and only_specials.input_ids.shape == (1, 3)


def test_electra_selection_is_85_0_15():
    rng = np.random.default_rng(4)
    ids = padded_batch(rng, 600, 256, min_len=150)
    out = M.electra_mask(ids, rng, **BERT)
    sel = out.selected
    as_mask = (out.input_ids == MASK)[sel].mean()
    assert abs(as_mask - 0.85) < binomial_tol(0.85, sel.sum())
    no_random = (out.input_ids[sel] == MASK) | (out.input_ids[sel] == ids[sel])
    assert no_random.all()


# ---------------------------------------------------------------------------------
# RoBERTa static vs dynamic masking
# ---------------------------------------------------------------------------------

def test_static_masks_repeat_every_dupe_factor_epochs_dynamic_never():
    ids = padded_batch(np.random.default_rng(5), 30, 48, min_len=30)
    static = M.StaticMasking(ids, np.random.default_rng(6), dupe_factor=10, **BERT)
    dynamic = M.DynamicMasking(ids, np.random.default_rng(6), **BERT)
    rows = np.arange(30)
    for masking, distinct_expected in ((static, 10), (dynamic, 40)):
        masks = [masking(rows, epoch).selected for epoch in range(40)]
        for row in rows:
            distinct = {masks[e][row].tobytes() for e in range(40)}
            assert len(distinct) == distinct_expected
    np.testing.assert_array_equal(static(rows, 3).input_ids, static(rows, 13).input_ids)
    assert static(rows[:4], 0).input_ids.shape == dynamic(rows[:4], 0).input_ids.shape == (4, 48)


# ---------------------------------------------------------------------------------
# NSP and SOP
# ---------------------------------------------------------------------------------

def tagged_documents(rng, n_docs=200, n_sentences=30):
    """Sentence i of document d starts with tokens (100 + d, 600 + i), then filler words."""
    return [[np.concatenate([[100 + d, 600 + i], rng.integers(5, 100, size=rng.integers(1, 12))])
             for i in range(n_sentences)] for d in range(n_docs)]


def split_pair(row, segments):
    sep = np.flatnonzero(row == SEP)
    a, b = row[1:sep[0]], row[sep[0] + 1:sep[1]]
    expected_segments = np.zeros(len(row), int)
    expected_segments[sep[0] + 1:sep[1] + 1] = 1
    np.testing.assert_array_equal(segments, expected_segments)
    assert row[0] == CLS and np.all(row[sep[1] + 1:] == PAD)
    return a, b


@pytest.mark.parametrize("scheme", ["nsp", "sop"])
def test_sentence_pairs_labels_are_balanced_and_correct(scheme):
    rng = np.random.default_rng(7)
    docs = tagged_documents(rng)
    make = M.nsp_pairs if scheme == "nsp" else M.sop_pairs
    out = make(docs, rng, cls_id=CLS, sep_id=SEP, pad_id=PAD, max_len=32)
    n = len(out.labels)
    assert n == 200 * 29 and out.input_ids.shape == out.segment_ids.shape == (n, 32)
    assert abs(out.labels.mean() - 0.5) < binomial_tol(0.5, n)
    for row, segments, label in zip(out.input_ids, out.segment_ids, out.labels):
        a, b = split_pair(row, segments)
        (doc_a, sent_a), (doc_b, sent_b) = a[:2] - (100, 600), b[:2] - (100, 600)
        if scheme == "nsp":
            assert (doc_a, sent_a + 1) == (doc_b, sent_b) if label == 0 else doc_a != doc_b
        else:
            assert doc_a == doc_b and sent_b - sent_a == (1 if label == 0 else -1)


def test_truncation_trims_the_longer_segment_from_either_end():
    a, b = np.arange(10, 20), np.arange(30, 33)
    fronts = set()
    for seed in range(40):
        ids, segments = M.pack_pair(a, b, cls_id=CLS, sep_id=SEP, max_len=10,
                                    rng=np.random.default_rng(seed))
        np.testing.assert_array_equal(ids[-5:], [SEP, 30, 31, 32, SEP])  # B is shorter: untouched
        kept_a = ids[1:5]
        assert len(ids) == 10 and np.all(np.diff(kept_a) == 1)  # a contiguous slice of A
        fronts.add(int(kept_a[0]))
        np.testing.assert_array_equal(segments, [0] * 6 + [1] * 4)
    assert len(fronts) > 1  # tokens were dropped from the front in some runs, the back in others


# ---------------------------------------------------------------------------------
# T5 span corruption
# ---------------------------------------------------------------------------------

def test_t5_unit_check_at_length_512():
    rng = np.random.default_rng(8)
    out = M.t5_span_corrupt(words(rng, 512), rng, sentinel_ids=SENTINELS)
    n_spans = int(np.isin(out.input_ids, SENTINELS).sum())
    counts = (out.noise_mask.sum(), n_spans, len(out.input_ids), len(out.targets))
    assert counts == (77, 26, 461, 103)
    np.testing.assert_array_equal(out.input_ids[np.isin(out.input_ids, SENTINELS)], SENTINELS[:26])
    assert out.targets[0] == SENTINELS[0] and not out.noise_mask[0]  # starts with non-noise
    with_eos = M.t5_span_corrupt(words(rng, 512), rng, sentinel_ids=SENTINELS, eos_id=1)
    assert (len(with_eos.input_ids), len(with_eos.targets)) == (462, 104)
    assert with_eos.input_ids[-1] == with_eos.targets[-1] == 1


def test_t5_reconstructs_and_has_t5_statistics():
    rng = np.random.default_rng(9)
    noise = spans = tokens = 0
    span_lengths = []
    for length in rng.integers(2, 700, size=300):  # about 100k tokens
        ids = words(rng, length)
        out = M.t5_span_corrupt(ids, rng, sentinel_ids=SENTINELS, eos_id=1)
        np.testing.assert_array_equal(M.t5_reconstruct(out.input_ids, out.targets,
                                                       sentinel_ids=SENTINELS, eos_id=1), ids)
        np.testing.assert_array_equal(out.input_ids[~np.isin(out.input_ids, SENTINELS)][:-1],
                                      ids[~out.noise_mask])
        span_lengths += list(true_runs(out.noise_mask))
        noise, spans, tokens = noise + out.noise_mask.sum(), len(span_lengths), tokens + length
    assert abs(noise / tokens - 0.15) < 0.002  # rounding per sequence only
    assert abs(noise / spans - 3.0) < 0.1
    assert sum(span_lengths) == noise and min(span_lengths) >= 1


def test_t5_span_lengths_are_a_uniform_random_split():
    # 77 noise tokens in 26 spans: P(a span has length 1) = (k - 1) / (m - 1) = 25 / 76
    rng = np.random.default_rng(10)
    lengths = np.concatenate([true_runs(M.t5_noise_mask(512, rng)) for _ in range(300)])
    p = 25 / 76
    assert len(lengths) == 300 * 26
    assert abs((lengths == 1).mean() - p) < binomial_tol(p, len(lengths))


def test_random_segmentation_is_uniform_over_splits():
    rng = np.random.default_rng(11)
    draws = [tuple(M.random_segmentation(5, 3, rng)) for _ in range(12000)]
    splits = {s: draws.count(s) / len(draws) for s in set(draws)}
    assert len(splits) == 6 and all(sum(s) == 5 and min(s) >= 1 for s in splits)  # C(4, 2) splits
    assert all(abs(f - 1 / 6) < binomial_tol(1 / 6, len(draws)) for f in splits.values())


# ---------------------------------------------------------------------------------
# BART noising
# ---------------------------------------------------------------------------------

def document(rng, n):
    return np.concatenate([[CLS], words(rng, n), [SEP]])  # <s> text </s>


def test_bart_text_infill_reconstructs_and_has_poisson_spans():
    rng = np.random.default_rng(12)
    lengths, covered, text_tokens = [], 0, 0
    for _ in range(120):  # 120k text tokens
        doc = document(rng, 1000)
        out = M.bart_text_infill(doc, rng, mask_id=MASK, special_ids=SPECIAL)
        rebuilt = M.infill_reconstruct(out.input_ids, out.spans, mask_id=MASK)
        np.testing.assert_array_equal(rebuilt, doc)
        np.testing.assert_array_equal(out.targets, doc)
        assert out.input_ids[0] == CLS and out.input_ids[-1] == SEP
        assert (out.input_ids == MASK).sum() == len(out.spans)  # one mask per span
        lengths += [len(s) for s in out.spans]
        covered, text_tokens = covered + sum(len(s) for s in out.spans), text_tokens + 1000
    lengths = np.array(lengths)
    assert covered / text_tokens == pytest.approx(0.3)  # ceil(0.3 * 1000) per document
    n = len(lengths)
    assert abs(lengths.mean() - 3.0) < 4 * math.sqrt(3.0 / n) + 0.02  # + bias of the cut last span
    assert abs((lengths == 0).mean() - math.exp(-3)) < binomial_tol(math.exp(-3), n)
    p3 = 27 * math.exp(-3) / 6  # P(length = 3) = 22.4%, the "always 3" baseline of the lesson
    assert abs((lengths == 3).mean() - p3) < binomial_tol(p3, n) + 0.01


def test_bart_token_mask_and_delete():
    rng = np.random.default_rng(13)
    doc = document(rng, 40)
    masked = M.bart_token_mask(doc, rng, mask_id=MASK, special_ids=SPECIAL)
    assert masked.positions.sum() == 6 and not masked.positions[[0, -1]].any()  # ceil(0.15 * 40)
    np.testing.assert_array_equal(masked.input_ids, np.where(masked.positions, MASK, doc))
    deleted = M.bart_token_delete(doc, rng, special_ids=SPECIAL, delete_prob=0.3)
    assert deleted.positions.sum() == 12 and len(deleted.input_ids) == 42 - 12
    np.testing.assert_array_equal(deleted.input_ids, doc[~deleted.positions])
    rates = [M.bart_token_mask(doc, rng, mask_id=MASK, special_ids=SPECIAL).positions[1:-1]
             for _ in range(3000)]
    assert np.abs(np.mean(rates, 0) - 6 / 40).max() < binomial_tol(6 / 40, 3000, sds=5)


def test_bart_sentence_permutation_keeps_the_sentences():
    rng = np.random.default_rng(14)
    dot = 7
    sentences = [[20, 21, dot], [30, dot, dot], [50]]  # ". ." ends one sentence; 50 is unterminated
    doc = np.concatenate([[CLS], *sentences, [SEP]])
    seen = {}
    for _ in range(3000):
        out = M.bart_sentence_permute(doc, rng, sentence_end_ids=[dot], special_ids=SPECIAL)
        assert sorted(out.order) == [0, 1, 2]
        np.testing.assert_array_equal(out.input_ids, np.concatenate(
            [[CLS], *[sentences[i] for i in out.order], [SEP]]))
        seen[tuple(out.order)] = seen.get(tuple(out.order), 0) + 1
    assert len(seen) == 6  # every order of the 3 sentences, about equally often
    assert all(abs(c / 3000 - 1 / 6) < binomial_tol(1 / 6, 3000) for c in seen.values())


def test_bart_rotation_is_a_rotation_with_a_uniform_start():
    rng = np.random.default_rng(15)
    doc = document(rng, 5)
    starts = []
    for _ in range(4000):
        out = M.bart_rotate(doc, rng, special_ids=SPECIAL)
        start = out.order[0]
        rotated = np.concatenate([[CLS], np.roll(doc[1:-1], -start), [SEP]])
        np.testing.assert_array_equal(out.input_ids, rotated)
        starts.append(start)
    freq = np.bincount(starts, minlength=5) / 4000
    assert np.abs(freq - 0.2).max() < binomial_tol(0.2, 4000)


# ---------------------------------------------------------------------------------
# XLNet
# ---------------------------------------------------------------------------------

def test_xlnet_rank_and_targets_for_a_fixed_order_by_hand():
    ids = np.array([10, 11, 12, 13, 14, 15])
    out = M.partial_prediction(ids, np.array([3, 1, 4, 0, 5, 2]), num_predict=2)
    np.testing.assert_array_equal(out.rank, [3, 1, 5, 0, 2, 4])
    np.testing.assert_array_equal(out.target_mask, [False, False, True, False, False, True])
    np.testing.assert_array_equal(out.targets, [X, X, 12, X, X, 15])


@pytest.mark.parametrize("span_targets", [False, True])
def test_xlnet_predicts_one_in_six_and_never_specials(span_targets):
    rng = np.random.default_rng(16)
    ids = padded_batch(rng, 500, 256, min_len=150)  # about 100k real tokens
    out = M.xlnet_permutation(ids, rng, special_ids=SPECIAL, span_targets=span_targets)
    np.testing.assert_array_equal(np.sort(out.order, 1), np.broadcast_to(np.arange(256), ids.shape))
    np.testing.assert_array_equal(np.take_along_axis(out.rank, out.order, 1),
                                  np.broadcast_to(np.arange(256), ids.shape))
    real = ~np.isin(ids, SPECIAL)
    assert not out.target_mask[~real].any()
    np.testing.assert_array_equal(out.target_mask.sum(1), np.ceil(real.sum(1) / 6))
    assert abs(out.target_mask.sum() / real.sum() - 1 / 6) < 0.005  # ceil per row only
    np.testing.assert_array_equal(out.targets, np.where(out.target_mask, ids, IGNORE_INDEX))
    mean_run = np.concatenate([true_runs(row) for row in out.target_mask]).mean()
    assert mean_run > 1.6 if span_targets else mean_run < 1.3  # n-grams vs scattered tokens


def test_xlnet_ngram_lengths_follow_one_over_n():
    rng = np.random.default_rng(17)
    spans = M.xlnet_ngram_spans(200_000, rng, goal=200_000)
    n = np.array([s[1] for s in spans])
    p = (1 / np.arange(1, 6)) / (1 / np.arange(1, 6)).sum()
    for gram in range(1, 6):
        assert abs((n == gram).mean() - p[gram - 1]) < binomial_tol(p[gram - 1], len(n))
    starts = np.array([s[0] for s in spans])
    assert np.all(starts[1:] > starts[:-1] + n[:-1])  # in order, never touching


# ---------------------------------------------------------------------------------
# ELECTRA
# ---------------------------------------------------------------------------------

def test_electra_replace_by_hand():
    original = np.array([[CLS, 10, 11, 12, SEP, PAD]])
    masked = np.array([[False, True, True, False, False, False]])
    out = M.electra_replace(original, masked, np.array([10, 99]),  # 10 is a correct guess
                            pad_mask=original == PAD)
    np.testing.assert_array_equal(out.input_ids, [[CLS, 10, 99, 12, SEP, PAD]])
    np.testing.assert_array_equal(out.targets, [[0, 0, 1, 0, 0, IGNORE_INDEX]])
    full = M.electra_replace(original, masked, np.array([[7, 10, 99, 7, 7, 7]]))
    np.testing.assert_array_equal(full.input_ids, out.input_ids)  # only masked slots are read


def test_sample_from_logits_matches_softmax():
    rng = np.random.default_rng(18)
    p = np.array([0.5, 0.25, 0.15, 0.1, 0.0])
    with np.errstate(divide="ignore"):
        logits = np.tile(np.log(p) + 1000.0, (100_000, 1))  # huge logits must not overflow
    draws = M.sample_from_logits(logits, rng)
    freq = np.bincount(draws, minlength=5) / len(draws)
    assert freq[4] == 0
    assert all(abs(freq[i] - p[i]) < binomial_tol(p[i], len(draws)) for i in range(4))
    sharp = M.sample_from_logits(np.tile([1.0, 2.0, 0.0], (1000, 1)), rng, temperature=0.01)
    assert np.all(sharp == 1)
    flat = M.sample_from_logits(np.tile([1.0, 2.0, 0.0], (30000, 1)), rng, temperature=1e6)
    assert np.abs(np.bincount(flat) / 30000 - 1 / 3).max() < binomial_tol(1 / 3, 30000)


# ---------------------------------------------------------------------------------
# Same seed, same output
# ---------------------------------------------------------------------------------

_ids = padded_batch(np.random.default_rng(19), 4, 40, min_len=20)
_doc = document(np.random.default_rng(20), 60)
SCHEMES = {
    "bert": lambda rng: M.bert_mask(_ids, rng, **BERT),
    "electra": lambda rng: M.electra_mask(_ids, rng, **BERT),
    "static": lambda rng: M.StaticMasking(_ids, rng, dupe_factor=2, **BERT)(np.arange(4), 1),
    "dynamic": lambda rng: M.DynamicMasking(_ids, rng, **BERT)(np.arange(4), 0),
    "nsp": lambda rng: M.nsp_pairs(tagged_documents(np.random.default_rng(0), 5, 4), rng,
                                   cls_id=CLS, sep_id=SEP, pad_id=PAD, max_len=12),
    "sop": lambda rng: M.sop_pairs(tagged_documents(np.random.default_rng(0), 5, 4), rng,
                                   cls_id=CLS, sep_id=SEP, pad_id=PAD, max_len=12),
    "t5": lambda rng: M.t5_span_corrupt(_doc, rng, sentinel_ids=SENTINELS),
    "bart_mask": lambda rng: M.bart_token_mask(_doc, rng, mask_id=MASK, special_ids=SPECIAL),
    "bart_delete": lambda rng: M.bart_token_delete(_doc, rng, special_ids=SPECIAL),
    "bart_infill": lambda rng: M.bart_text_infill(_doc, rng, mask_id=MASK, special_ids=SPECIAL),
    "bart_permute": lambda rng: M.bart_sentence_permute(
        _doc, rng, sentence_end_ids=np.arange(5, 200), special_ids=SPECIAL),
    "bart_rotate": lambda rng: M.bart_rotate(_doc, rng, special_ids=SPECIAL),
    "xlnet": lambda rng: M.xlnet_permutation(_ids, rng, special_ids=SPECIAL),
    "xlnet_spans": lambda rng: M.xlnet_permutation(_ids, rng, special_ids=SPECIAL,
                                                   span_targets=True),
    "sample": lambda rng: M.sample_from_logits(np.zeros((8, 50)), rng),
}


def _flat(result):
    parts = result if isinstance(result, tuple) else (result,)
    return [np.concatenate([np.ravel(s) for s in p] + [[]]) if isinstance(p, list) else np.ravel(p)
            for p in parts]


@pytest.mark.parametrize("name", SCHEMES)
def test_same_seed_same_output_other_seed_differs(name):
    run = SCHEMES[name]
    a, b = _flat(run(np.random.default_rng(123))), _flat(run(np.random.default_rng(123)))
    assert all(np.array_equal(x, y) for x, y in zip(a, b))
    others = [_flat(run(np.random.default_rng(seed))) for seed in range(5)]
    assert any(not all(np.array_equal(x, y) for x, y in zip(a, o)) for o in others)


# ---------------------------------------------------------------------------------
# Bad input gets a clear error
# ---------------------------------------------------------------------------------

_rng = np.random.default_rng(0)
_seq = np.array([CLS, 10, 11, SEP])
PAIRS = dict(cls_id=CLS, sep_id=SEP, pad_id=PAD, max_len=8)


def bert(ids=_seq, **changes):
    return M.bert_mask(ids, _rng, **{**BERT, **changes})


def t5(ids=_seq + 10, **changes):
    return M.t5_span_corrupt(ids, _rng, **{"sentinel_ids": SENTINELS, **changes})


def infill(ids=_seq, **changes):
    return M.bart_text_infill(ids, _rng, mask_id=MASK, special_ids=SPECIAL, **changes)


def sample(logits, **changes):
    return M.sample_from_logits(logits, _rng, **changes)


BAD_INPUTS = [  # (call, error type, message it must contain)
    (lambda: bert(mask_prob=1.5), ValueError, r"mask_prob must be in \[0, 1\], got 1.5"),
    (lambda: bert(mask_prob=float("nan")), ValueError, "mask_prob"),
    (lambda: bert(np.array([CLS, 1000])), ValueError, "id 1000 .* vocab_size is 1000"),
    (lambda: bert(np.array([CLS, -3])), ValueError, "negative id -3"),
    (lambda: bert(np.zeros((2, 2, 2), int)), ValueError, r"got shape \(2, 2, 2\)"),
    (lambda: bert(np.array([2.0, 10.0])), TypeError, "integer token ids"),
    (lambda: bert([[2, 10], [3]]), ValueError, "rectangular"),
    (lambda: bert(proportions=(0.8, 0.1, 0.2)), ValueError, "summing to 1"),
    (lambda: bert(max_predictions=0), ValueError, "max_predictions must be >= 1"),
    (lambda: bert(mask_id=1000), ValueError, "mask_id is 1000"),
    (lambda: M.bert_mask(_seq, 0, **BERT), TypeError, "np.random.Generator"),
    (lambda: bert(np.array([5, 6]), special_ids=np.arange(7), vocab_size=7),
     ValueError, "every id .* is special"),
    (lambda: M.StaticMasking(_seq, _rng, **BERT), ValueError, "sequences must have 2"),
    (lambda: M.StaticMasking(_ids, _rng, dupe_factor=0, **BERT), ValueError, "dupe_factor must be >= 1"),
    (lambda: M.DynamicMasking(_ids, _rng, **BERT)(0, -1), ValueError, "epoch must be >= 0"),
    (lambda: M.nsp_pairs([[[5, 6], [7]]], _rng, **PAIRS), ValueError, "at least 2 documents"),
    (lambda: M.nsp_pairs([[[5], []], [[6]]], _rng, **PAIRS),
     ValueError, "sentence 1 of document 0 is empty"),
    (lambda: M.sop_pairs([[[5], [6]]], _rng, **{**PAIRS, "max_len": 4}),
     ValueError, "max_len must be >= 5"),
    (lambda: M.sop_pairs(np.array([[5, 6]]), _rng, **PAIRS), TypeError, "list of documents"),
    (lambda: t5(noise_density=1.5), ValueError, r"noise_density must be in \[0, 1\]"),
    (lambda: t5(mean_span_length=0), ValueError, "mean_span_length"),
    (lambda: t5(np.arange(10, 110), sentinel_ids=SENTINELS[:2]),
     ValueError, "need 5 sentinel ids, got 2"),
    (lambda: t5(np.array([10, V - 1])), ValueError, "already contain a sentinel"),
    (lambda: t5(np.array([10])), ValueError, "length must be >= 2"),
    (lambda: t5(_ids), ValueError, "ids must have 1 dimension"),
    (lambda: M.t5_reconstruct(np.array([10, V - 1]), np.array([V - 2, 11]), sentinel_ids=SENTINELS),
     ValueError, "not in targets"),
    (lambda: M.random_segmentation(3, 4, _rng), ValueError, "cannot split 3 items into 4"),
    (lambda: infill(np.array([CLS, 10, SEP, 11, SEP])), ValueError, "special id 3 at position 2"),
    (lambda: infill(poisson_lambda=0), ValueError, "poisson_lambda"),
    (lambda: infill(mask_prob=-0.1), ValueError, r"mask_prob must be in \[0, 1\], got -0.1"),
    (lambda: M.bart_token_delete(_seq, _rng, special_ids=SPECIAL, delete_prob=2),
     ValueError, r"delete_prob must be in \[0, 1\], got 2"),
    (lambda: M.infill_reconstruct(np.array([10, MASK]), [], mask_id=MASK),
     ValueError, "1 masks but 0 spans"),
    (lambda: M.partial_prediction(_seq, np.array([0, 1, 1, 2]), 1), ValueError, "permutation"),
    (lambda: M.partial_prediction(_seq, np.arange(4), 5),
     ValueError, r"num_predict must be .* \[0, 4\]"),
    (lambda: M.xlnet_permutation(_seq, _rng, special_ids=SPECIAL, k=0), ValueError, "k must be >= 1"),
    (lambda: M.electra_replace(_seq, np.array([0, 1, 0, 0]), np.array([5])),
     ValueError, "masked_positions must be a bool"),
    (lambda: M.electra_replace(_seq, _seq == 10, np.array([5, 6])),
     ValueError, r"\(1,\) \(one per masked position\)"),
    (lambda: M.electra_replace(_seq, _seq == 10, np.array([5]), pad_mask=np.zeros(3, bool)),
     ValueError, "pad_mask"),
    (lambda: sample(np.zeros(3), temperature=0), ValueError, "temperature must be a finite number > 0"),
    (lambda: sample(np.array([0.0, np.nan])), ValueError, "NaN"),
    (lambda: sample(np.full((2, 3), -np.inf)), ValueError, "all -inf"),
    (lambda: sample(np.float64(1.0)), ValueError, r"shape \(\.\.\., V\)"),
]


@pytest.mark.parametrize("call, error, message", BAD_INPUTS)
def test_bad_input_is_refused_with_a_clear_message(call, error, message):
    with pytest.raises(error, match=message):
        call()
