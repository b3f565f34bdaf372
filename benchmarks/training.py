"""Training throughput of the forecaster's network: LogSparse against full attention.

Windows per second of complete training steps (forward, Gaussian NLL,
backward, gradient clipping, Adam) of :class:`LogSparseTransformer` at the
forecaster's default size (d_model 32, 4 heads, 3 layers, kernel 3), with
``attention="logsparse"`` and ``attention="full"`` (SDPA, causal) side by
side in one run, alternating between them so that machine noise hits both
alike.

With ``--markdown`` the run is the record: its results go to
``benchmarks/results/training.json`` (or ``--json PATH``), the page is rendered
from that same dict and its figure redrawn; ``--from-results`` rewrites the page
from the results file without measuring.

Usage::

    python benchmarks/training.py --markdown docs/benchmarks/training.md
    python benchmarks/training.py --from-results \
        --markdown docs/benchmarks/training.md
"""

from __future__ import annotations

import argparse
import time

import _report as R  # benchmarks/_report.py
import torch

from sktime_logsparse.nn import LogSparseConfig, LogSparseTransformer

NAME = "training"


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


def markdown(result: dict, stem: str = NAME) -> str:
    """The generated part of the page (hand-written notes are kept apart)."""
    net = result["network"]
    rows = [
        [
            r["length"],
            r["dropout"],
            f"{r['logsparse_windows_per_s']:.1f}",
            f"{r['full_windows_per_s']:.1f}",
            f"{r['ratio']:.1f}x",
        ]
        for r in result["rows"]
    ]
    head = [
        "window length",
        "dropout",
        "LogSparse (windows/s)",
        "full (windows/s)",
        "LogSparse / full",
    ]
    protocol = (
        "Windows per second of complete training steps (forward, Gaussian NLL, "
        "backward, gradient clipping, Adam) of the network at the forecaster's "
        f"default width and depth (d_model {net['d_model']}, {net['n_heads']} "
        f"heads, {net['n_layers']} layers), convolution kernel "
        f"{net['kernel_size']}, batch "
        f"{result['batch']}, {result.get('dtype', 'float32')}, on the CPU: "
        "LogSparse attention against full causal attention (torch SDPA), the "
        f"two alternating, best of {result['repeats']} steps each. Dropout 0.1 "
        "is the default; 0.0 is shown too because SDPA with dropout is slow on "
        "a CPU. Higher is better."
    )
    torch_version = (
        f"; torch {result['versions']['torch']}" if "versions" in result else ""
    )
    lines = R.page_head(
        result,
        stem,
        title="Training throughput: LogSparse against full attention",
        protocol=protocol,
        figure="Training windows per second, LogSparse and full",
        machine=R.run_line(result, detail=torch_version),
    ) + [
        "",
        "## Results",
        "",
        R.markdown_table(head, rows),
    ]
    return "\n".join(lines) + "\n"


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lengths", default="512,2048")
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=5)
    R.add_page_args(parser, json_of=NAME)
    args = parser.parse_args(argv)
    if args.from_results:
        R.page_from_results(parser, args, NAME, markdown)
        return
    info = R.start_run("training.py", threads=torch.get_num_threads())
    rows = []
    for length in map(int, args.lengths.split(",")):
        for dropout in (0.1, 0.0):
            r = measure(length, args.batch, args.repeats, dropout)
            ratio = r["logsparse"] / r["full"]
            rows.append(
                {
                    "length": length,
                    "dropout": dropout,
                    "logsparse_windows_per_s": r["logsparse"],
                    "full_windows_per_s": r["full"],
                    "ratio": ratio,
                }
            )
            print(
                f"L={length} dropout {dropout}: "
                f"logsparse {r['logsparse']:.1f} windows/s, "
                f"full {r['full']:.1f} windows/s, ratio {ratio:.2f}",
                flush=True,
            )
    config = LogSparseConfig(n_inputs=8, max_length=8, n_series=16)
    result = {
        **info,
        "network": {
            "d_model": config.d_model,
            "n_heads": config.n_heads,
            "n_layers": config.n_layers,
            "kernel_size": config.kernel_size,
        },
        "batch": args.batch,
        "repeats": args.repeats,
        "dtype": "float32",
        "rows": rows,
    }
    R.record(args, NAME, result, markdown, R.results_file(args, NAME))


if __name__ == "__main__":
    main()
