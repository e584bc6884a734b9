"""What every lesson script shares: its flags, its steps, and its summary.

    lesson = Lesson("03_bert")            # reads --smoke --step --seed --out
    lesson.step("Pre-train with MLM")     # a heading; waits for Enter under --step
    lesson.metric("mlm_accuracy", 0.41)
    lesson.claim("pre-training beats scratch at 32 labels", measured=0.17, threshold=0.10)
    lesson.paper({"GLUE (BERT-base)": 79.6})
    lesson.savefig(fig, "losses")         # lessons/out/03_bert/losses.png
    lesson.finish()                       # summary.json + a table of what was measured

Every number in summary.json is one the lesson measured in that run.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

LESSONS_DIR = Path(__file__).resolve().parent.parent / "lessons"


class Lesson:
    def __init__(self, name: str, argv=None):
        parser = argparse.ArgumentParser(description=f"minifm lesson {name}")
        parser.add_argument("--smoke", action="store_true", help="tiny sizes: finishes in seconds (for tests)")
        parser.add_argument("--step", action="store_true", help="pause after each step until Enter")
        parser.add_argument("--seed", type=int, default=0, help="seed of every random number in the lesson")
        parser.add_argument("--out", type=Path, default=None, help="where summary.json and figures go")
        args, _ = parser.parse_known_args(argv)  # known: notebooks pass their own arguments
        self.name = name
        self.smoke, self.pause, self.seed = args.smoke, args.step, args.seed
        self.out = (args.out or LESSONS_DIR / "out" / name).resolve()
        self.out.mkdir(parents=True, exist_ok=True)
        self.metrics, self.claims, self.paper_numbers = {}, [], {}
        self._start, self._steps = time.perf_counter(), 0

    def step(self, title: str):
        """Announce the next step; under --step, first wait for Enter."""
        if self.pause and self._steps:
            input("\n[Enter] for the next step ")
        self._steps += 1
        print(f"\n=== Step {self._steps}: {title} ===")

    def metric(self, name: str, value):
        self.metrics[name] = _plain(value)
        return value

    def claim(self, claim: str, measured: float, threshold: float, at_most: bool = False):
        """A paper's claim, checked at toy scale: holds when measured >= threshold
        (or measured <= threshold with at_most=True, for costs and errors)."""
        holds = bool(measured <= threshold) if at_most else bool(measured >= threshold)
        self.claims.append({"claim": claim, "measured": _plain(measured), "threshold": _plain(threshold),
                            "direction": "<=" if at_most else ">=", "holds": holds})
        return holds

    def paper(self, numbers: dict):
        self.paper_numbers.update({k: _plain(v) for k, v in numbers.items()})

    def savefig(self, fig, name: str) -> Path:
        path = self.out / f"{name}.png"
        fig.savefig(path, dpi=110, bbox_inches="tight")
        import matplotlib.pyplot as plt  # imported here: `import minifm` stays fast
        plt.close(fig)
        print(f"  figure: {path}")
        return path

    def finish(self) -> dict:
        summary = {"lesson": self.name, "seconds": round(time.perf_counter() - self._start, 1),
                   "smoke": self.smoke, "metrics": self.metrics, "claims": self.claims,
                   "paper": self.paper_numbers}
        (self.out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
        print(f"\n=== {self.name}: what we measured ({summary['seconds']} s{', smoke run' if self.smoke else ''}) ===")
        for key, value in self.metrics.items():
            print(f"  {key:<40} {_fmt(value)}")
        for c in self.claims:
            mark = "holds" if c["holds"] else "DOES NOT HOLD"
            print(f"  claim: {c['claim']}: measured {_fmt(c['measured'])}, needs {c['direction']} "
                  f"{_fmt(c['threshold'])} -> {mark}")
        if self.paper_numbers:
            print("  the paper reports:")
            for key, value in self.paper_numbers.items():
                print(f"    {key:<38} {_fmt(value)}")
        print(f"  summary: {self.out / 'summary.json'}")
        return summary


def _plain(value):
    """NumPy scalars and arrays as plain Python values, for JSON."""
    if hasattr(value, "tolist"):
        return value.tolist()
    return value


def _fmt(value) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)
