"""Lesson 07 (GPT-3, in-context learning) as a learner runs it: a seeded --smoke run.

One run, shared by the tests below, must exit cleanly and leave a summary.json whose
numbers make sense: finite metrics, a first loss near ln 12 (twelve equally likely
tokens) that goes down, accuracies that are probabilities, claims whose verdicts
follow from their numbers, the paper's facts, and the figure.
"""

import math

import pytest
from lesson_smoke import run_smoke

VOCAB = 12  # six letters and six digits
SHOTS = (0, 1, 2, 4, 8)


@pytest.fixture(scope="module")
def smoke_run(tmp_path_factory):
    return run_smoke("07_gpt3", tmp_path_factory)


def test_every_metric_is_a_finite_number(smoke_run):
    _, summary, _ = smoke_run
    metrics = summary["metrics"]
    expected = {"loss_first", "loss_last", "train_seconds", "in_context_accuracy_8_shot_training_tables",
                "finetuned_on_letters_shown", "finetuned_on_letters_not_shown",
                "in_context_on_letters_shown", "in_context_on_letters_not_shown"}
    expected |= {f"in_context_accuracy_{K}_shot" for K in SHOTS}
    expected |= {f"best_possible_accuracy_{K}_shot" for K in SHOTS}
    expected |= {f"finetuned_accuracy_k{k}" for k in SHOTS[1:]}
    assert expected <= set(metrics), f"missing metrics: {sorted(expected - set(metrics))}"
    for name, value in metrics.items():
        assert isinstance(value, (int, float)) and math.isfinite(value), f"metric {name} = {value!r}"


def test_loss_starts_near_ln_vocab_and_decreases(smoke_run):
    _, summary, _ = smoke_run
    first, last = summary["metrics"]["loss_first"], summary["metrics"]["loss_last"]
    assert abs(first - math.log(VOCAB)) < 0.5, f"first loss {first} is far from ln {VOCAB} = {math.log(VOCAB):.3f}"
    assert last < first, f"the loss did not decrease: first {first}, last {last}"


def test_accuracies_are_probabilities_and_best_possible_is_the_formula(smoke_run):
    _, summary, _ = smoke_run
    metrics = summary["metrics"]
    for name, value in metrics.items():
        if "accuracy" in name or "letters" in name:
            assert 0.0 <= value <= 1.0, f"{name} = {value} is not a probability"
    best = [metrics[f"best_possible_accuracy_{K}_shot"] for K in SHOTS]
    assert best[0] == pytest.approx(1 / 6), "with no demonstration the best possible is chance, 1/6"
    assert best == sorted(best), f"more demonstrations can never lower the best possible: {best}"
    for K in SHOTS:  # nothing beats the best possible, up to the noise of a tiny smoke evaluation
        assert metrics[f"in_context_accuracy_{K}_shot"] <= best[SHOTS.index(K)] + 0.15


def test_claims_follow_from_their_numbers(smoke_run):
    _, summary, _ = smoke_run
    claims = summary["claims"]
    assert len(claims) == 4
    for c in claims:
        expected = c["measured"] <= c["threshold"] if c["direction"] == "<=" else c["measured"] >= c["threshold"]
        assert c["holds"] == expected, f"claim {c['claim']!r} has the wrong verdict: {c}"
    metrics = summary["metrics"]
    gap = next(c for c in claims if "few-shot beats zero-shot" in c["claim"])
    assert gap["measured"] == pytest.approx(metrics["in_context_accuracy_8_shot"]
                                            - metrics["in_context_accuracy_0_shot"])
    assert gap["threshold"] == 0.4


def test_paper_facts_are_recorded(smoke_run):
    _, summary, _ = smoke_run
    paper = summary["paper"]
    assert paper["GPT-3 175B: layers / d_model / heads"] == "96 / 12288 / 96"
    assert paper["LAMBADA accuracy zero / one / few-shot (%)"] == "76.2 / 72.5 / 86.4"
    assert paper["two-digit addition, few-shot accuracy (%)"] == 100.0


def test_prompts_are_printed_and_the_figure_is_written(smoke_run):
    out, _, stdout = smoke_run
    assert "a training sequence:" in stdout and "a 4-shot prompt:" in stdout
    figure = out / "few_shot.png"
    assert figure.exists() and figure.stat().st_size > 1000, f"{figure} missing or empty"
