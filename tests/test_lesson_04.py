"""Lesson 04 (GPT-1) as a learner runs it: a seeded --smoke run in a subprocess.

One run, shared by the tests below, must exit cleanly and leave a summary.json whose
numbers make sense: finite metrics, a language-model loss that starts at ln V (a fresh
model guesses uniformly) and goes down, accuracies that are probabilities, the headline
claim recorded with GPT-1's threshold, and both figures.
"""

import math

import pytest
from lesson_smoke import run_smoke



@pytest.fixture(scope="module")
def smoke_run(tmp_path_factory):
    return run_smoke("04_gpt", tmp_path_factory)


def test_every_metric_is_a_finite_number(smoke_run):
    _, summary, _ = smoke_run
    expected = {"lm_first_loss", "lm_last_loss", "ln_vocab", "valid_loss", "valid_perplexity"}
    assert expected <= set(summary["metrics"]), f"missing metrics: {expected - set(summary['metrics'])}"
    for name, value in summary["metrics"].items():
        assert isinstance(value, (int, float)) and math.isfinite(value), f"metric {name} = {value!r}"


def test_lm_loss_starts_at_ln_vocab_and_decreases(smoke_run):
    _, summary, _ = smoke_run
    metrics = summary["metrics"]
    ln_v = math.log(metrics["vocab_size"])
    assert metrics["ln_vocab"] == pytest.approx(ln_v)
    first, last = metrics["lm_first_loss"], metrics["lm_last_loss"]
    assert abs(first - ln_v) < 0.5, f"first LM loss {first} is far from ln V = {ln_v:.3f}"
    assert last < first - 0.5, f"pre-training did not lower the loss: first {first}, last {last}"
    assert metrics["valid_perplexity"] == pytest.approx(math.exp(metrics["valid_loss"]), rel=1e-6)


def test_accuracies_are_probabilities_for_every_variant(smoke_run):
    _, summary, _ = smoke_run
    accuracies = {k: v for k, v in summary["metrics"].items() if k.startswith("accuracy_")}
    for variant in ("pretrained_aux", "pretrained", "scratch"):
        assert any(k.startswith(f"accuracy_{variant}_") for k in accuracies), f"no accuracy for {variant}"
    for name, value in accuracies.items():
        assert 0.0 <= value <= 1.0, f"{name} = {value}"


def test_headline_claim_is_the_gap_at_the_fewest_labels(smoke_run):
    _, summary, _ = smoke_run
    metrics = summary["metrics"]
    fewest = min(int(k.rsplit("_", 1)[1]) for k in metrics if k.startswith("accuracy_scratch_"))
    gap = metrics[f"accuracy_pretrained_aux_{fewest}"] - metrics[f"accuracy_scratch_{fewest}"]
    claim = next(c for c in summary["claims"] if "beats scratch" in c["claim"])
    assert claim["measured"] == pytest.approx(gap)
    assert claim["threshold"] == 0.10
    assert claim["holds"] == (gap >= 0.10)
    assert summary["paper"], "the paper's numbers are missing from the summary"


def test_samples_and_figures_are_written(smoke_run):
    out, _, stdout = smoke_run
    assert "greedy" in stdout and "top-k" in stdout, "no generated samples were printed"
    for name in ("attention_masks", "pretraining_and_accuracy"):
        figure = out / f"{name}.png"
        assert figure.exists() and figure.stat().st_size > 1000, f"{figure} missing or empty"
