"""Shared by the bench scripts: one training step, timed phase by phase."""

import time


def timed_step(compute_loss, zero_grad, update, clock=None) -> float:
    """Run forward (`compute_loss()`), backward and `update()`; returns the loss.

    Works for minifm and PyTorch alike. `clock`, a list, collects (forward, backward,
    update) seconds of each call.
    """
    t0 = time.perf_counter()
    loss = compute_loss()
    t1 = time.perf_counter()
    zero_grad()
    loss.backward()
    t2 = time.perf_counter()
    update()
    t3 = time.perf_counter()
    if clock is not None:
        clock.append((t1 - t0, t2 - t1, t3 - t2))
    return loss.item()
