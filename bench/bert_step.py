"""How many BERT pre-training steps per second does minifm run?

One step = forward of BertForPreTraining, masked-LM + next-sentence loss, backward,
AdamW update. Sizes: batch 32, length 64, hidden 128, 4 layers, 4 heads, FFN 512,
vocabulary 2000 (a small WordPiece vocabulary), float32, dropout 0.1 (BERT's).
The batch is made once, as BERT's recipe would: [CLS] A [SEP] B [SEP], segment ids,
15% of the non-special positions chosen for prediction (80/10/10 is irrelevant to the
timing, so they are all replaced by [MASK]), and a random next-sentence label.

    python bench/bert_step.py                 # 20 timed steps after 3 warm-up steps
    python bench/bert_step.py --profile       # plus a cProfile of the step

We print the median step time and the steps per second it implies.
Shape letters: B batch, T time (sequence length), V vocabulary.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import time

import numpy as np

from minifm import optim
from minifm.models.bert import BertConfig, BertForPreTraining, pretraining_loss

B, T, V = 32, 64, 2000
PAD, CLS, SEP, MASK = 0, 1, 2, 3
LR, WEIGHT_DECAY = 1e-4, 0.01


def make_batch(rng: np.random.Generator):
    """ids (B, T), segment ids (B, T), MLM targets (B, T) with -100 off the chosen places, NSP labels (B,)."""
    ids = rng.integers(MASK + 1, V, size=(B, T))
    split = rng.integers(8, T - 8, size=B)  # where sentence A ends
    segments = (np.arange(T) > split[:, None]).astype(np.int64)  # 0 through A's [SEP], 1 after
    ids[:, 0], ids[:, -1] = CLS, SEP
    ids[np.arange(B), split] = SEP
    chosen = (rng.random((B, T)) < 0.15) & (ids != CLS) & (ids != SEP)
    targets = np.where(chosen, ids, -100)
    ids[chosen] = MASK
    return ids, segments, targets, rng.integers(0, 2, size=B)


def step(model, opt, batch) -> float:
    ids, segments, targets, nsp_labels = batch
    mlm_logits, nsp_logits = model(ids, segments)
    loss = pretraining_loss(mlm_logits, targets, nsp_logits, nsp_labels)
    opt.zero_grad()
    loss.backward()
    opt.step()
    return loss.item()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--dropout", type=float, default=0.1)
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()

    rng = np.random.default_rng(args.seed)
    config = BertConfig(vocab_size=V, hidden_size=128, num_hidden_layers=4, num_attention_heads=4,
                        intermediate_size=512, max_position_embeddings=T, hidden_dropout_prob=args.dropout,
                        attention_probs_dropout_prob=args.dropout)
    model = BertForPreTraining(config, rng)
    opt = optim.AdamW(model.parameters(), lr=LR, weight_decay=WEIGHT_DECAY)
    batch = make_batch(rng)
    print(f"BERT pre-training step: B {B}, T {T}, hidden 128, 4 layers, 4 heads, FFN 512, V {V}, "
          f"float32, dropout {args.dropout}, AdamW; {model.num_parameters():,} parameters")

    for _ in range(args.warmup):
        first = step(model, opt, batch)
    times = []
    for _ in range(args.steps):
        t0 = time.perf_counter()
        last = step(model, opt, batch)
        times.append(time.perf_counter() - t0)
    median = float(np.median(times))
    print(f"loss {first:.3f} -> {last:.3f} over {args.warmup + args.steps} steps")
    print(f"median step {median * 1e3:.1f} ms (min {min(times) * 1e3:.1f}, max {max(times) * 1e3:.1f})")

    if args.profile:
        profiler = cProfile.Profile()
        profiler.enable()
        for _ in range(10):
            step(model, opt, batch)
        profiler.disable()
        pstats.Stats(profiler).sort_stats("tottime").print_stats(20)
    print(f"{1.0 / median:.2f} steps/second")


if __name__ == "__main__":
    main()
