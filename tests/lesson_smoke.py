"""Run a lesson as a learner would, with --smoke, for the lesson tests."""

import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def run_smoke(name: str, tmp_path_factory, timeout: int = 300):
    """`python lessons/<name>.py --smoke --seed 0 --out DIR`; returns (DIR, summary, stdout).

    Checks on the way that the run exits cleanly and writes a summary.json naming the
    lesson, marked as a smoke run.

    One BLAS thread: the smoke models' matrices are tiny, and on a busy machine OpenBLAS's
    threads spin on loaded cores and slow such runs down several times.
    """
    out = tmp_path_factory.mktemp(f"lesson_{name}")
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}
    result = subprocess.run([sys.executable, str(REPO / "lessons" / f"{name}.py"), "--smoke", "--seed", "0",
                             "--out", str(out)], cwd=REPO, env=env, capture_output=True, text=True,
                            encoding="utf-8", timeout=timeout)
    assert result.returncode == 0, f"lesson {name} exited with {result.returncode}:\n{result.stderr[-3000:]}"
    summary_path = out / "summary.json"
    assert summary_path.exists(), f"no summary.json in {out}; stdout:\n{result.stdout[-2000:]}"
    summary = json.loads(summary_path.read_text(encoding="utf-8"))
    # every lesson's summary names itself and says it was a smoke run
    assert summary["lesson"] == name and summary["smoke"] is True and summary["seconds"] > 0, summary
    return out, summary, result.stdout
