"""Training throughput of the forecaster's network: LogSparse against full attention.

Windows per second of complete training steps (forward, Gaussian NLL,
backward, gradient clipping, Adam) of :class:`LogSparseTransformer` at the
forecaster's default size (d_model 32, 4 heads, 3 layers, kernel 3), with
``attention="logsparse"`` and ``attention="full"`` (SDPA, causal) side by
side in one run, alternating between them so that machine noise hits both
alike.

Usage::

    python benchmarks/training.py --markdown docs/benchmarks/training.md
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import torch

from sktime_logsparse.nn import LogSparseConfig, LogSparseTransformer


def make_step(kind: str, length: int, batch: int, dropout: float, n_inputs: int = 8):
    torch.manual_seed(0)
    config = LogSparseConfig(
        n_inputs=n_inputs,
        attention=kind,
        max_length=length,
        n_series=16,
        dropout=dropout,
    )
    net = LogSparseTransformer(config).train()
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    x = torch.randn(batch, length, n_inputs)
    ids = torch.randint(0, 16, (batch,))
    target, scale = torch.randn(batch, length), torch.ones(batch, 1)

    def step():
        params = net(x, ids)
        loss = -net.likelihood.log_prob(params, scale, target).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(net.parameters(), 1.0)
        opt.step()

    return step


def measure(length: int, batch: int, repeats: int, dropout: float) -> dict:
    steps = {
        kind: make_step(kind, length, batch, dropout) for kind in ("logsparse", "full")
    }
    for step in steps.values():
        step()  # warm-up
    times = {kind: [] for kind in steps}
    for _ in range(repeats):
        for kind, step in steps.items():
            t = time.perf_counter()
            step()
            times[kind].append(time.perf_counter() - t)
    return {kind: batch / min(ts) for kind, ts in times.items()}


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lengths", default="512,2048")
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--markdown", type=Path, default=None)
    args = parser.parse_args(argv)
    rows = []
    for length in map(int, args.lengths.split(",")):
        for dropout in (0.1, 0.0):
            r = measure(length, args.batch, args.repeats, dropout)
            ratio = r["logsparse"] / r["full"]
            rows.append((length, dropout, r["logsparse"], r["full"], ratio))
            print(
                f"L={length} dropout {dropout}: "
                f"logsparse {r['logsparse']:.1f} windows/s, "
                f"full {r['full']:.1f} windows/s, ratio {ratio:.2f}",
                flush=True,
            )
    if args.markdown:
        command = "python benchmarks/training.py " + " ".join(sys.argv[1:])
        lines = [
            "# Training throughput: LogSparse against full attention",
            "",
            f"Command: `{command}`",
            "",
            f"Machine: {os.cpu_count()} CPU cores, torch {torch.__version__}, "
            f"{torch.get_num_threads()} threads. Network at the forecaster's "
            f"default size (d_model 32, 4 heads, 3 layers, kernel 3; dropout "
            "0.1 is the default, 0.0 shown too because SDPA with dropout is "
            f"slow on CPU), batch {args.batch}, float32; complete training steps "
            f"(forward, NLL, backward, clipping, Adam); best of {args.repeats}, "
            "the two kinds alternating.",
            "",
            "| window length | dropout | logsparse (windows/s) | full (windows/s) "
            "| ratio |",
            "|---|---|---|---|---|",
        ]
        lines += [
            f"| {L} | {d} | {a:.1f} | {b:.1f} | {c:.2f}x |" for L, d, a, b, c in rows
        ]
        args.markdown.write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
