"""Lesson 08 (RoBERTa) as a learner runs it: a seeded --smoke run in a subprocess.

One run, shared by the tests below, must exit cleanly and leave a summary.json whose
numbers make sense: finite metrics, an MLM loss that starts near ln V (every word equally
likely) and goes down, accuracies that are probabilities, both claims recorded with the
thresholds the lesson states, the paper's Table 1 numbers, and both figures.
"""

import math

import pytest
from lesson_smoke import run_smoke

RUNS = ("static", "dynamic", "nsp_pairs", "full_sentences", "full_sentences_2x_batch")


@pytest.fixture(scope="module")
def smoke_run(tmp_path_factory):
    return run_smoke("08_roberta", tmp_path_factory)[:2]


def test_every_metric_is_a_finite_number(smoke_run):
    _, summary = smoke_run
    metrics = summary["metrics"]
    expected = {"mlm_loss_first", "mlm_loss_last", "ln_vocab_size", "no_pretraining_spam_probe_accuracy",
                "static_train_mask_gap", "dynamic_train_mask_gap"}
    expected |= {f"{run}_{field}" for run in RUNS
                 for field in ("heldout_mlm_loss", "heldout_mlm_accuracy", "spam_probe_accuracy")}
    assert expected <= set(metrics), f"missing metrics: {sorted(expected - set(metrics))}"
    for name, value in metrics.items():
        assert isinstance(value, (int, float)) and math.isfinite(value), f"metric {name} = {value!r}"


def test_mlm_loss_starts_near_ln_vocab_and_decreases(smoke_run):
    _, summary = smoke_run
    m = summary["metrics"]
    first, last, ln_v = m["mlm_loss_first"], m["mlm_loss_last"], m["ln_vocab_size"]
    assert ln_v > math.log(1000), f"the vocabulary is unexpectedly small: ln V = {ln_v}"
    assert abs(first - ln_v) < 0.5, f"first MLM loss {first} is far from ln V = {ln_v:.3f}"
    assert last < first, f"the MLM loss did not decrease: first {first}, last {last}"
    for run in RUNS:  # every run learned something: held-out loss below the uniform guess
        assert m[f"{run}_heldout_mlm_loss"] < ln_v, f"{run}: held-out loss not below ln V"


def test_accuracies_are_probabilities_and_gaps_are_consistent(smoke_run):
    _, summary = smoke_run
    m = summary["metrics"]
    for name, value in m.items():
        if name.endswith("accuracy"):
            assert 0.0 <= value <= 1.0, f"{name} = {value}"
    for run in ("static", "dynamic"):
        gap = m[f"{run}_train_mask_accuracy"] - m[f"{run}_heldout_mlm_accuracy"]
        assert math.isclose(m[f"{run}_train_mask_gap"], gap, abs_tol=1e-9)


def test_claims_match_the_measured_metrics(smoke_run):
    _, summary = smoke_run
    m = summary["metrics"]
    claims = summary["claims"]
    assert len(claims) == 2
    by_text = {("dynamic masking" if "held-out" in c["claim"] else "memorises"): c for c in claims}
    dynamic = by_text["dynamic masking"]
    assert dynamic["threshold"] == -0.005 and dynamic["direction"] == ">="
    assert math.isclose(dynamic["measured"],
                        m["dynamic_heldout_mlm_accuracy"] - m["static_heldout_mlm_accuracy"], abs_tol=1e-9)
    gap = by_text["memorises"]
    assert math.isclose(gap["measured"], m["static_train_mask_gap"] - m["dynamic_train_mask_gap"], abs_tol=1e-9)
    for c in claims:
        assert c["holds"] == (c["measured"] >= c["threshold"])


def test_paper_numbers_are_table_1(smoke_run):
    _, summary = smoke_run
    paper = summary["paper"]
    assert paper["Table 1, static: SQuAD 2.0 F1"] == 78.3
    assert paper["Table 1, dynamic: SQuAD 2.0 F1"] == 78.7
    assert paper["Table 1, BERT-base reference: SST-2"] == 92.8


def test_figures_are_written(smoke_run):
    out, _ = smoke_run
    for name in ("static_vs_dynamic", "nsp_and_batch"):
        figure = out / f"{name}.png"
        assert figure.exists() and figure.stat().st_size > 1000, f"{figure} missing or empty"
