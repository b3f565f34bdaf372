"""Time and peak memory of sparse, dense-mask and SDPA attention, forward+backward.

Three ways to compute causal attention on q, k, v of shape (B, H, L, D) =
(8, 4, L, 32), float32, on the CPU:

* ``sparse``: ``sparse_attention`` with the LogSparse pattern (offset table,
  no L x L tensor anywhere), as the package runs it in training: from
  L = 2,048 on by kernels compiled with ``torch.compile`` where a C++ compiler
  is available (``sktime_logsparse.nn._compiled``), eager below;
* ``sparse_eager``: the same with ``SKTIME_LOGSPARSE_COMPILE=never``, the
  pure-PyTorch kernel at every length;
* ``dense``: ``dense_reference_attention`` with the same pattern, i.e. a dense
  (L, L) masked score matrix, as public LogSparse implementations do;
* ``sdpa``: ``sparse_attention`` with the ``"full"`` pattern, which is torch's
  ``scaled_dot_product_attention`` with ``is_causal=True``.

One step is ``out = attention(q, k, v)`` then ``out.backward(grad)``. Every
(L, method) configuration runs in two fresh subprocesses, so that nothing
(allocator state, thread pools, caches) leaks from one configuration to another.
Both first run a tiny step (L=64) to initialise libraries and thread pools, then:

* time: one warm-up step (for ``sparse`` where compiled, the first step at
  the length, compilation included, is recorded as ``first_step_s``; the
  warm-up follows it), then the best of up to ``--repeats`` timed steps,
  stopping early once the timed steps have taken 5 s (so slow configurations
  get one or two);
* memory: allocate q, k, v and grad, read VmRSS from /proc/self/status as the
  baseline, reset the peak with ``echo 5 > /proc/self/clear_refs``, run one
  step and read VmHWM. Peak = VmHWM - baseline: everything the step adds to the
  inputs, including ``out`` and the gradients of q, k and v. This run sets
  ``MALLOC_MMAP_THRESHOLD_`` so that glibc serves every block of 64 KiB or more
  with its own mmap and unmaps it on free: the resident set then follows the
  live tensors. With glibc's default (dynamic) threshold, freed blocks up to
  32 MiB stay in the heap and the resident peak depends on fragmentation; the
  warm-up step of the time run measures that figure too ("default malloc").

Configurations whose estimated memory exceeds 80 % of MemAvailable are skipped
before they start, so the OOM killer never fires. Linux only (reads /proc).

With ``--markdown`` the run is the record: its results go to
``benchmarks/results/attention.json`` (or ``--json PATH``), the page is
rendered from that same dict and its figure redrawn; ``--from-results``
rewrites the page from the results file without measuring.

    python benchmarks/attention.py --markdown docs/benchmarks/attention.md
    python benchmarks/attention.py --from-results \
        --markdown docs/benchmarks/attention.md
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

import _report as R  # benchmarks/_report.py

B, H, D = 8, 4, 32
LENGTHS = (256, 1024, 4096, 8192, 16384)
METHODS = ("sparse", "sparse_eager", "dense", "sdpa")
TIME_BUDGET_S = 5.0
GiB = 2**30
NAME = "attention"


# --------------------------------------------------------------------- worker --


def proc_field(path: str, key: str) -> str:
    """Value of the ``key: value`` line of a /proc file."""
    with open(path) as f:
        for line in f:
            name, _, value = line.partition(":")
            if name.strip() == key:
                return value.strip()
    raise RuntimeError(f"{key} not in {path}")


def kib(path: str, key: str) -> int:
    """A ``key: N kB`` field of a /proc file, in KiB."""
    return int(proc_field(path, key).split()[0])


def worker(mode: str, method: str, length: int, repeats: int, threads: int) -> dict:
    """Run one configuration in this process; return its measurements."""
    import torch

    from sktime_logsparse.nn import (
        _compiled,
        dense_reference_attention,
        make_pattern,
        sparse_attention,
    )

    torch.set_num_threads(threads)
    torch.manual_seed(0)
    attend = dense_reference_attention if method == "dense" else sparse_attention
    kind = "full" if method == "sdpa" else "logsparse"

    def setup(L):
        q, k, v = (torch.randn(B, H, L, D, requires_grad=True) for _ in range(3))
        return q, k, v, torch.randn(B, H, L, D), make_pattern(kind, L)

    def step(q, k, v, grad, pattern) -> float:
        t0 = time.perf_counter()
        attend(q, k, v, pattern).backward(grad)
        elapsed = time.perf_counter() - t0
        q.grad = k.grad = v.grad = None
        return elapsed

    step(*setup(64))
    inputs = setup(length)
    first = None
    if method == "sparse" and length >= _compiled.MIN_LENGTH:
        first = step(*inputs)  # compiles, outside the measurements
    baseline = kib("/proc/self/status", "VmRSS")
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")
    step(*inputs)
    peak_mib = (kib("/proc/self/status", "VmHWM") - baseline) / 1024
    if mode == "memory":
        return {"peak_mib": peak_mib}
    times = []
    while len(times) < repeats and sum(times) < TIME_BUDGET_S:
        times.append(step(*inputs))
    out = {"time_s": min(times), "runs": len(times), "default_peak_mib": peak_mib}
    if first is not None:
        out.update(first_step_s=first, compiled=not _compiled._failed)
    return out


# --------------------------------------------------------------------- driver --


def estimate_bytes(method: str, L: int) -> int:
    """Generous estimate of a worker's total memory (measured factors, rounded up).

    n is one (B, H, L, D) tensor, s one (B, H, L, L) score matrix. Measured
    peaks: dense ~3.1 s, sparse ~5.5 n live (~10 n with default malloc), sdpa
    ~5.2 n. On top come the inputs (4 n) and the interpreter with torch.
    """
    n, s = B * H * L * D * 4, B * H * L * L * 4
    step = {"dense": 4 * s + 8 * n, "sdpa": 8 * n}.get(method, 12 * n)
    return step + 4 * n + GiB // 2


def run_worker(mode, method, L, args) -> dict:
    """Run one configuration in a fresh subprocess; {"error": ...} on failure."""
    cmd = [sys.executable, os.path.abspath(__file__), "--worker", mode, method]
    cmd += [str(L), str(args.repeats), str(args.threads)]
    env = dict(os.environ)
    if method == "sparse_eager":
        env["SKTIME_LOGSPARSE_COMPILE"] = "never"
    if mode == "memory":
        env["MALLOC_MMAP_THRESHOLD_"] = str(64 * 1024)
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    try:
        return json.loads(proc.stdout.strip().splitlines()[-1])
    except (IndexError, json.JSONDecodeError):
        last = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        return {"error": f"failed ({mode} run, exit code {proc.returncode}: {last})"}


def measure(method: str, L: int, args) -> dict:
    need, avail = estimate_bytes(method, L), kib("/proc/meminfo", "MemAvailable") * 1024
    if need > 0.8 * avail:
        return {
            "error": f"skipped (needs ~{need / GiB:.0f} GiB)",
            "needs_gib": need / GiB,
        }
    result = {}
    for mode in ("time", "memory"):
        result.update(run_worker(mode, method, L, args))
        if "error" in result:
            return result
    return result


def ratio(a: dict | None, b: dict | None, key: str) -> float | None:
    """``a[key] / b[key]``, or None where either did not run."""
    if not a or not b or key not in a or key not in b:
        return None
    return a[key] / b[key]


def ratios(results: dict) -> dict:
    """Per length: SDPA/sparse time (also eager), dense/sparse and SDPA/sparse peak."""
    out = {}
    for L, by_method in results.items():
        sp, eager, de, sd = (by_method.get(m) for m in METHODS)
        out[L] = {
            "sdpa_over_sparse_time": ratio(sd, sp, "time_s"),
            "sdpa_over_sparse_eager_time": ratio(sd, eager, "time_s"),
            "dense_over_sparse_peak": ratio(de, sp, "peak_mib"),
            "sdpa_over_sparse_peak": ratio(sd, sp, "peak_mib"),
        }
    return out


def main_row(L, method: str, r: dict) -> list:
    """One row of the main table."""
    if "error" in r:
        return [L, method, r["error"], "", "", "", ""]
    first = f"{r['first_step_s']:.1f}" if "first_step_s" in r else ""
    return [
        L,
        method,
        f"{r['time_s']:.3f}",
        r["runs"],
        f"{r['peak_mib']:.0f}",
        f"{r['default_peak_mib']:.0f}",
        first,
    ]


def tables(result: dict) -> tuple[list, list]:
    """Rows of the main table and of the ratio table, from a results dict."""
    main = [
        main_row(L, method, r)
        for L, by_method in result["results"].items()
        for method, r in by_method.items()
    ]

    def times(x):
        return "–" if x is None else f"{x:.1f}x"

    ratio_rows = [
        [
            L,
            times(r["sdpa_over_sparse_time"]),
            times(r.get("sdpa_over_sparse_eager_time")),
            times(r["dense_over_sparse_peak"]),
            times(r["sdpa_over_sparse_peak"]),
        ]
        for L, r in result["ratios"].items()
    ]
    return main, ratio_rows


MAIN_HEAD = [
    "L",
    "method",
    "time (s)",
    "runs",
    "peak MiB",
    "peak MiB, default malloc",
    "first step (s), compiling",
]
RATIO_HEAD = [
    "L",
    "sdpa/sparse time",
    "sdpa/sparse_eager time",
    "dense/sparse peak",
    "sdpa/sparse peak",
]


def cpu_seconds() -> float:
    """Busy CPU-seconds of the whole machine minus those of this run (so far).

    The difference between two calls is what other work took from the CPUs in
    between, the source of noise in the timings.
    """
    with open("/proc/stat") as f:
        user, nice, system, _, _, irq, softirq, steal = f.readline().split()[1:9]
    busy = sum(map(int, (user, nice, system, irq, softirq, steal)))
    return busy / os.sysconf("SC_CLK_TCK") - sum(os.times()[:4])


def markdown(result: dict, stem: str = NAME) -> str:
    """The generated part of the page (hand-written notes are kept apart)."""
    main, ratio_rows = tables(result)
    shape = result["shape"]
    versions = result.get("versions", {})
    return f"""# Attention benchmark: sparse vs dense mask vs SDPA

Produced by `benchmarks/attention.py` (its docstring has the details) with

```bash
{result.get("command", "(not recorded)")}
```

Forward + backward of causal attention, q, k, v of shape (B, H, L, D) =
({shape["B"]}, {shape["H"]}, L, {shape["D"]}), {result.get("dtype", "float32")}, CPU.
`sparse` is `sparse_attention` with the LogSparse pattern as training runs it
(compiled by `torch.compile` from L = 2,048 on where a C++ compiler is
available), `sparse_eager` the same kernel never compiled, `dense` is
`dense_reference_attention` with the same pattern (a dense L x L masked score
matrix, as public LogSparse implementations do), `sdpa` is torch's
`scaled_dot_product_attention(is_causal=True)`. Lower is better.

{R.figure_markdown(stem, "Time and peak memory of sparse, dense and SDPA attention")}

* **time**: best of `runs` timed steps after one warm-up step, each
  configuration in a fresh subprocess (up to `--repeats` steps, fewer once they
  have taken {result.get("time_budget_s", TIME_BUDGET_S):.0f} s).
* **peak MiB**: resident memory the step adds to its inputs (VmHWM after the
  step minus VmRSS before it, peak reset through `/proc/self/clear_refs`),
  including the output and the gradients of q, k and v, in a separate fresh
  subprocess with `MALLOC_MMAP_THRESHOLD_=65536` so that the resident set
  follows the live tensors.
* **peak MiB, default malloc**: the same figure for the warm-up step of the
  timing run, with glibc's default allocator settings: blocks below its dynamic
  mmap threshold (which grows up to 32 MiB) come from the heap, whose freed
  memory stays resident, so this includes the heap's slack and fragmentation.
* **first step (s), compiling**: for `sparse` where it runs compiled, the
  first step at that length, which compiles the kernels (once per shape in a
  process); it is not part of the other figures.
* Configurations whose estimated memory exceeds 80 % of the available memory
  are skipped before they start.

## Results

{R.markdown_table(MAIN_HEAD, main)}

Ratios (time: speed-up of sparse over SDPA; peak: memory relative to sparse):

{R.markdown_table(RATIO_HEAD, ratio_rows)}

## Machine

* {R.machine_line(result)}
* memory: {result.get("memory_gib", float("nan")):.1f} GiB
* torch {versions.get("torch", "?")}, Python {result.get("python", "?")},
  {result.get("platform", "")}
* date: {result.get("date", "not recorded")}
* whole run: {noise(result)}
"""


def noise(result: dict) -> str:
    """Run time, and the CPU time other processes took meanwhile."""
    available = result["elapsed_s"] * result["cpu_count"]
    return (
        f"{result['elapsed_s'] / 60:.1f} min; other processes used "
        f"{result['other_cpu_s']:.0f} of the {available:.0f} CPU-seconds "
        f"available during the run ({result['other_cores']:.2f} cores on "
        "average), a source of noise in the times"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--lengths", type=int, nargs="+", default=list(LENGTHS))
    parser.add_argument("--methods", nargs="+", choices=METHODS, default=METHODS)
    parser.add_argument("--repeats", type=int, default=5, help="max timed steps")
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    R.add_page_args(parser, json_of=NAME)
    args = parser.parse_args()
    if args.from_results:
        R.page_from_results(parser, args, NAME, markdown)
        return

    info = R.start_run("attention.py", threads=args.threads)
    start, other = time.perf_counter(), cpu_seconds()
    print(f"B={B} H={H} D={D} float32, {args.threads} threads")
    fmt = "{:>6}  {:<12} {:>9} {:>5} {:>9} {:>9} {:>6}"
    print(fmt.format("L", "method", "time (s)", "runs", "peak MiB", "default", "first"))
    results = {}
    for L in args.lengths:
        for method in args.methods:
            r = results.setdefault(str(L), {})[method] = measure(method, L, args)
            if "error" in r:
                print(f"{L:>6}  {method:<12} {r['error']}", flush=True)
            else:
                print(fmt.format(*main_row(L, method, r)), flush=True)
    elapsed, other = time.perf_counter() - start, cpu_seconds() - other
    result = {
        **info,
        "memory_gib": kib("/proc/meminfo", "MemTotal") / 2**20,
        "elapsed_s": elapsed,
        "other_cpu_s": other,
        "other_cores": other / elapsed,
        "shape": {"B": B, "H": H, "D": D},
        "dtype": "float32",
        "time_budget_s": TIME_BUDGET_S,
        "repeats": args.repeats,
        "lengths": args.lengths,
        "methods": list(args.methods),
        "results": results,
        "ratios": ratios(results),
    }

    print()
    line = "{:>6}  {:>17} {:>23} {:>18} {:>17}"
    print(line.format(*RATIO_HEAD))
    for row in tables(result)[1]:
        print(line.format(*row))
    print(f"\nwhole run: {noise(result)}")
    R.record(args, NAME, result, markdown, R.results_file(args, NAME))


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--worker":
        mode, method, L, repeats, threads = sys.argv[2:7]
        print(json.dumps(worker(mode, method, int(L), int(repeats), int(threads))))
    else:
        main()
