"""Lesson 05 (GPT-2) as a learner runs it: a seeded --smoke run in a subprocess.

One run, shared by the tests below, must exit cleanly and leave a summary.json whose
numbers make sense: finite metrics, a language-model loss that starts near ln V (every
token equally likely) and goes down, accuracies that are probabilities, a power-law
exponent that agrees with the losses it was fitted to, and the figure.
"""

import math

import numpy as np
import pytest
from lesson_smoke import run_smoke



@pytest.fixture(scope="module")
def smoke_run(tmp_path_factory):
    return run_smoke("05_gpt2", tmp_path_factory)[:2]


def sizes(metrics: dict) -> list[int]:
    """The model widths of the run, read from the metric names (valid_loss_<width>)."""
    return sorted(int(name.rsplit("_", 1)[1]) for name in metrics if name.startswith("valid_loss_"))


def test_every_metric_is_a_finite_number(smoke_run):
    _, summary = smoke_run
    metrics = summary["metrics"]
    expected = {"loss_first", "loss_last", "vocab_size", "alpha",
                "residual_std_24_layers_scaled", "residual_std_24_layers_unscaled"}
    assert expected <= set(metrics), f"missing metrics: {expected - set(metrics)}"
    assert len(sizes(metrics)) >= 2, f"the smoke run should compare at least two sizes: {sorted(metrics)}"
    for name, value in metrics.items():
        assert isinstance(value, (int, float)) and math.isfinite(value), f"metric {name} = {value!r}"


def test_lm_loss_starts_near_ln_vocab_and_decreases(smoke_run):
    _, summary = smoke_run
    metrics = summary["metrics"]
    first, last, ln_v = metrics["loss_first"], metrics["loss_last"], math.log(metrics["vocab_size"])
    assert abs(first - ln_v) < 0.5, f"first loss {first} is far from ln V = {ln_v:.3f}"
    assert last < first, f"the loss did not decrease: first {first}, last {last}"


def test_each_size_has_parameters_loss_and_a_zero_shot_accuracy(smoke_run):
    _, summary = smoke_run
    metrics = summary["metrics"]
    widths = sizes(metrics)
    params = [metrics[f"non_embedding_params_{w}"] for w in widths]
    assert params == sorted(params) and len(set(params)) == len(params), f"wider must be larger: {params}"
    for w in widths:
        assert 0.0 < metrics[f"valid_loss_{w}"] < math.log(metrics["vocab_size"]) + 0.5
        assert 0.0 <= metrics[f"zero_shot_spam_accuracy_{w}"] <= 1.0


def test_alpha_is_the_slope_of_the_losses_on_log_log_axes(smoke_run):
    _, summary = smoke_run
    metrics = summary["metrics"]
    widths = sizes(metrics)
    log_n = np.log([metrics[f"non_embedding_params_{w}"] for w in widths])
    log_loss = np.log([metrics[f"valid_loss_{w}"] for w in widths])
    slope = np.polyfit(log_n, log_loss, 1)[0]
    assert metrics["alpha"] == pytest.approx(-slope, rel=1e-3, abs=1e-4)


def test_scaled_residual_init_keeps_the_stream_smaller(smoke_run):
    _, summary = smoke_run
    metrics = summary["metrics"]
    assert metrics["residual_std_24_layers_scaled"] < metrics["residual_std_24_layers_unscaled"]


def test_claims_are_recorded_and_consistent(smoke_run):
    _, summary = smoke_run
    assert len(summary["claims"]) >= 3
    for claim in summary["claims"]:
        ok = claim["measured"] <= claim["threshold"] if claim["direction"] == "<=" else \
            claim["measured"] >= claim["threshold"]
        assert claim["holds"] == ok, f"claim {claim['claim']!r} records holds={claim['holds']}"
    assert summary["paper"], "the summary should carry the paper's numbers"


def test_figures_are_written(smoke_run):
    out, _ = smoke_run
    figure = out / "scaling.png"
    assert figure.exists() and figure.stat().st_size > 1000, f"{figure} missing or empty"
