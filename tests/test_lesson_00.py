"""Lesson 00 (autograd) as a learner runs it: a seeded --smoke run in a subprocess.

One run, shared by the tests below, must exit cleanly and leave a summary.json whose
numbers make sense: finite metrics, a loss that starts near ln 2 (two equally likely
classes) and goes down, hand gradients equal to backward()'s, and both figures.
"""

import math

import pytest
from lesson_smoke import run_smoke



@pytest.fixture(scope="module")
def smoke_run(tmp_path_factory):
    return run_smoke("00_autograd", tmp_path_factory)


def test_every_metric_is_a_finite_number(smoke_run):
    _, summary, _ = smoke_run
    expected = {"loss_first", "loss_last", "test_accuracy", "hand_vs_backward_max_error",
                "gradient_cost_in_forward_passes"}
    assert expected <= set(summary["metrics"]), f"missing metrics: {expected - set(summary['metrics'])}"
    for name, value in summary["metrics"].items():
        assert isinstance(value, (int, float)) and math.isfinite(value), f"metric {name} = {value!r}"


def test_loss_starts_near_ln2_and_decreases(smoke_run):
    _, summary, _ = smoke_run
    first, last = summary["metrics"]["loss_first"], summary["metrics"]["loss_last"]
    assert abs(first - math.log(2)) < 0.15, f"first loss {first} is far from ln 2 = {math.log(2):.4f}"
    assert last < first, f"the loss did not decrease: first {first}, last {last}"


def test_hand_gradients_match_backward(smoke_run):
    _, summary, stdout = smoke_run
    assert summary["metrics"]["hand_vs_backward_max_error"] < 1e-12
    assert "gradcheck passed" in stdout


def test_accuracy_is_a_probability_and_recorded_as_a_claim(smoke_run):
    _, summary, _ = smoke_run
    accuracy = summary["metrics"]["test_accuracy"]
    assert 0.0 <= accuracy <= 1.0
    claims = {c["claim"]: c for c in summary["claims"]}
    claim = next(c for text, c in claims.items() if "two moons" in text)
    assert claim["measured"] == accuracy and claim["threshold"] == 0.97
    assert claim["holds"] == (accuracy >= 0.97)


def test_figures_are_written(smoke_run):
    out, _, _ = smoke_run
    for name in ("loss_curve", "decision_boundary"):
        figure = out / f"{name}.png"
        assert figure.exists() and figure.stat().st_size > 1000, f"{figure} missing or empty"
