"""Lesson 01 (attention) as a learner runs it: a seeded --smoke run in a subprocess.

One run, shared by the tests below, must exit cleanly and leave a summary.json whose
numbers make sense: finite metrics, hand attention equal to the library's, the
variance of q.k close to d, a loss that starts near ln 12 (twelve equally likely
symbols) and goes down, shares and accuracies that are probabilities, and the figures.
"""

import math

import pytest
from lesson_smoke import run_smoke



@pytest.fixture(scope="module")
def smoke_run(tmp_path_factory):
    return run_smoke("01_attention", tmp_path_factory)


def test_every_metric_is_a_finite_number(smoke_run):
    _, summary, _ = smoke_run
    expected = {"loss_first", "loss_last", "sequence_accuracy", "attention_on_reversed_source",
                "hand_vs_library_max_error", "dot_variance_over_d_at_512", "top_softmax_weight_unscaled_d512",
                "top_softmax_weight_scaled_d512", "train_seconds"}
    assert expected <= set(summary["metrics"]), f"missing metrics: {expected - set(summary['metrics'])}"
    for name, value in summary["metrics"].items():
        assert isinstance(value, (int, float)) and math.isfinite(value), f"metric {name} = {value!r}"


def test_hand_attention_matches_the_library(smoke_run):
    _, summary, stdout = smoke_run
    assert summary["metrics"]["hand_vs_library_max_error"] < 1e-12
    assert "agrees with the hand computation" in stdout


def test_scaling_keeps_the_softmax_from_saturating(smoke_run):
    _, summary, _ = smoke_run
    m = summary["metrics"]
    assert abs(m["dot_variance_over_d_at_512"] - 1.0) < 0.1, "var(q.k) should be close to d"
    # at d = 512 the unscaled softmax is nearly one-hot; scaling spreads the weight out
    assert m["top_softmax_weight_unscaled_d512"] > 0.8
    assert 1 / 16 <= m["top_softmax_weight_scaled_d512"] < 0.5


def test_loss_starts_near_ln12_and_decreases(smoke_run):
    _, summary, _ = smoke_run
    first, last = summary["metrics"]["loss_first"], summary["metrics"]["loss_last"]
    assert abs(first - math.log(12)) < 0.2, f"first loss {first} is far from ln 12 = {math.log(12):.4f}"
    assert last < first, f"the loss did not decrease: first {first}, last {last}"


def test_accuracy_and_attention_share_are_probabilities_and_claims(smoke_run):
    _, summary, _ = smoke_run
    metrics = summary["metrics"]
    claims = {c["claim"]: c for c in summary["claims"]}
    for metric, word, threshold in [("sequence_accuracy", "reverses", 0.95),
                                    ("attention_on_reversed_source", "attends", 0.9)]:
        value = metrics[metric]
        assert 0.0 <= value <= 1.0, f"{metric} = {value} is not a share"
        claim = next(c for text, c in claims.items() if word in text)
        assert claim["measured"] == value and claim["threshold"] == threshold
        assert claim["holds"] == (value >= threshold)


def test_figures_are_written(smoke_run):
    out, _, _ = smoke_run
    for name in ("masks", "loss_curve", "attention"):
        figure = out / f"{name}.png"
        assert figure.exists() and figure.stat().st_size > 1000, f"{figure} missing or empty"
