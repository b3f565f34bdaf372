"""Figure of the attention benchmark of record (``docs/benchmarks/attention.md``).

Reads the results table that ``benchmarks/attention.py`` wrote (no new
measurement) and plots time and peak memory against the sequence length, to
``docs/images/attention_benchmark.png``.

    python docs/examples/attention_benchmark_figure.py
"""

from pathlib import Path

import matplotlib.pyplot as plt

DOCS = Path(__file__).resolve().parents[1]  # docs/

# rows "| L | method | time (s) | runs | peak MiB | peak MiB, default malloc | ..."
results = {}  # method -> list of (L, seconds, MiB)
skipped = []  # "method at L: skipped (needs ...)"
for line in (DOCS / "benchmarks" / "attention.md").read_text().splitlines():
    cells = [c.strip() for c in line.strip().strip("|").split("|")]
    if len(cells) < 6 or not cells[0].isdigit():
        continue
    length, method, seconds, _, mib = cells[:5]
    if seconds.startswith("skipped"):
        skipped.append(f"{method} at L={length}: {seconds}")
    else:
        results.setdefault(method, []).append((int(length), float(seconds), int(mib)))
if not {"sparse", "dense", "sdpa"} <= set(results):
    raise ValueError(f"unexpected results table in attention.md: {sorted(results)}")

# time and memory of each method relative to the sparse kernel, per length
sparse = {length: (sec, mib) for length, sec, mib in results["sparse"]}
for method in [m for m in results if m != "sparse"]:
    for length, sec, mib in results[method]:
        base_sec, base_mib = sparse[length]
        print(
            f"L={length:>5}: {method:>5} takes {sec / base_sec:5.1f}x the time "
            f"and {mib / base_mib:5.1f}x the memory of sparse "
            f"({sec:.3f} s vs {base_sec:.3f} s, {mib} vs {base_mib} MiB)"
        )

labels = {
    "sparse": "sparse (this package)",
    "sparse_eager": "sparse, never compiled",
    "dense": "dense L x L mask",
    "sdpa": "full causal (torch SDPA)",
}
fig, (ax_time, ax_mem) = plt.subplots(1, 2, figsize=(10, 3.6))
for method, rows in results.items():
    lengths, seconds, mib = zip(*rows, strict=True)
    ax_time.plot(lengths, seconds, marker="o", label=labels[method])
    ax_mem.plot(lengths, mib, marker="o", label=labels[method])
for ax, ylabel in [(ax_time, "forward + backward (s)"), (ax_mem, "peak memory (MiB)")]:
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xlabel("sequence length L")
    ax.set_ylabel(ylabel)
    ax.grid(True, which="major", alpha=0.3)
ax_time.legend(fontsize=8)
if skipped:
    ax_mem.set_title("\n".join(skipped), fontsize=7)
fig.tight_layout()
fig.savefig(DOCS / "images" / "attention_benchmark.png", dpi=100)
