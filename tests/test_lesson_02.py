"""Lesson 02 (pretext tasks) as a learner runs it: a seeded --smoke run in a subprocess.

One run, shared by the tests below, must exit cleanly and leave a summary.json whose
numbers make sense: finite metrics, rates near the papers' values (loose bounds: the
smoke run counts ~30k tokens), the exact T5 and XLNet counts at length 512, lossless
reconstruction for T5 and BART infilling, and the masking zoo figure.
"""

import math

import pytest
from lesson_smoke import run_smoke



@pytest.fixture(scope="module")
def smoke_run(tmp_path_factory):
    return run_smoke("02_pretext_tasks", tmp_path_factory)


def test_every_metric_is_a_finite_number(smoke_run):
    _, summary, _ = smoke_run
    expected = {"bert_selected_rate", "bert_mask_share", "bert_random_share", "bert_unchanged_share",
                "electra_mask_share", "t5_noise_density", "t5_mean_span_length", "bart_infill_coverage",
                "bart_mean_span_length", "bart_zero_span_share", "xlnet_target_share", "nsp_label1_share",
                "sop_label1_share", "static_distinct_masks", "dynamic_distinct_masks"}
    assert expected <= set(summary["metrics"]), f"missing metrics: {expected - set(summary['metrics'])}"
    for name, value in summary["metrics"].items():
        assert isinstance(value, (int, float)) and math.isfinite(value), f"metric {name} = {value!r}"


def test_t5_and_bart_infilling_reconstruct_the_original(smoke_run):
    _, summary, stdout = smoke_run
    assert summary["metrics"]["t5_reconstructs"] is True
    assert summary["metrics"]["bart_infill_reconstructs"] is True
    assert "T5 input + target give back the original: True; BART infilling + its spans: True" in stdout


def test_rates_are_near_the_papers_values(smoke_run):
    m = smoke_run[1]["metrics"]
    assert abs(m["bert_selected_rate"] - 0.15) < 0.01
    split = (m["bert_mask_share"], m["bert_random_share"], m["bert_unchanged_share"])
    assert abs(sum(split) - 1.0) < 1e-9, f"BERT's three outcomes do not add up to 1: {split}"
    for share, paper in zip(split, (0.8, 0.1, 0.1)):
        assert abs(share - paper) < 0.03, f"BERT split {split} is far from 80/10/10"
    assert abs(m["electra_mask_share"] - 0.85) < 0.03
    assert abs(m["t5_noise_density"] - 0.15) < 0.005
    assert 2.7 < m["t5_mean_span_length"] <= 3.2
    assert 0.30 <= m["bart_infill_coverage"] < 0.32  # the budget is ceil(0.3 n): never below 30%
    assert 2.5 < m["bart_mean_span_length"] < 3.2
    assert abs(m["bart_zero_span_share"] - math.exp(-3)) < 0.02
    assert abs(m["nsp_label1_share"] - 0.5) < 0.05 and abs(m["sop_label1_share"] - 0.5) < 0.05


def test_exact_counts_at_length_512_and_mask_copies(smoke_run):
    m = smoke_run[1]["metrics"]
    # T5's unit check (77 noise tokens in 26 spans) and XLNet's ceil(512 / 6) = 86 targets
    assert (m["t5_input_len_512"], m["t5_target_len_512"]) == (512 - 77 + 26, 77 + 26)
    assert m["xlnet_target_share"] == pytest.approx(math.ceil(512 / 6) / 512, abs=1e-12)
    assert m["static_distinct_masks"] == 10 and m["dynamic_distinct_masks"] == 40


def test_claims_are_consistent_and_papers_numbers_recorded(smoke_run):
    _, summary, _ = smoke_run
    assert len(summary["claims"]) >= 5
    for c in summary["claims"]:
        expected = c["measured"] <= c["threshold"] if c["direction"] == "<=" else c["measured"] >= c["threshold"]
        assert c["holds"] == expected, f"claim {c['claim']!r} records holds={c['holds']}"
    assert any("BERT" in key for key in summary["paper"]), f"paper numbers: {summary['paper']}"


def test_masking_zoo_figure_is_written(smoke_run):
    out, _, _ = smoke_run
    figure = out / "masking_zoo.png"
    assert figure.exists() and figure.stat().st_size > 10_000, f"{figure} missing or empty"
