"""The linear autoregressive term under the Transformer, fitted by least squares.

With ``LogSparseConfig(ar_skip=True)`` the location of the likelihood is a
linear function of the step's inputs (lagged targets, covariates) plus the
Transformer's output. The linear part is fitted here, once, before training,
and then kept fixed: a linear seasonal autoregression is a stable base for
forecasts that iterate a one-step model many steps ahead, and the Transformer
learns what it misses.

The least-squares problem has one row per trained target of up to 4096
windows: millions of rows at long contexts. It is never formed whole. Windows
are read a chunk at a time, and each chunk is folded into the ``(p, p)``
triangular factor ``R`` of the rows so far (``R^T R = X^T X``: the normal
equations, kept in factored form, in float64). ``R`` has the singular values
of the whole design, so the minimum-norm solution of ``R c = Q^T y`` by
``gelsd``, with the cutoff that ``gelsd`` applies to the whole design, is the
solution of the whole problem: also where inputs are constant or collinear
(the observed flag and the intercept), and without the squared condition
number of solving ``X^T X c = X^T y`` directly.

Under data-parallel training each rank folds its share of the windows, and
the factors of all ranks are all-gathered and folded in rank order on every
rank (a factor stacked on another is folded like rows): every rank solves the
same problem, the one of all windows, and gets the same coefficients.
"""

from __future__ import annotations

import torch

from ._distributed import SINGLE, Ranks
from ._series import SeriesTensors, WindowIndex, window_batch
from ._windows import WindowLayout

#: design entries (rows x columns) read per chunk of windows: 8 MiB in float64
CHUNK_ENTRIES = 2**20


class LeastSquares:
    """A least-squares problem ``min |X c - y|`` fed rows a chunk at a time.

    Keeps the triangular factor of ``[X, y]`` (``(p + 1, p + 1)``, float64)
    and the number of rows, never the rows themselves.

    Parameters
    ----------
    n_columns : int
        Columns ``p`` of ``X``.
    """

    def __init__(self, n_columns: int):
        self.n_columns = n_columns
        self.n_rows = 0
        self.factor = torch.zeros(n_columns + 1, n_columns + 1, dtype=torch.float64)

    def add(self, x: torch.Tensor, y: torch.Tensor) -> None:
        """Fold rows ``x`` ``(m, p)`` with targets ``y`` ``(m,)`` into the factor."""
        m, p = len(y), self.n_columns
        if m == 0:
            return
        # the factor so far on top of the new rows, one float64 copy
        stacked = torch.empty(p + 1 + m, p + 1, dtype=torch.float64)
        stacked[: p + 1] = self.factor
        stacked[p + 1 :, :p] = x.cpu()
        stacked[p + 1 :, p] = y.cpu()
        self.factor = torch.linalg.qr(stacked, mode="r").R
        self.n_rows += m

    @classmethod
    def merged(cls, parts: list[tuple[torch.Tensor, int]]) -> LeastSquares:
        """One problem from the factors and row counts of problems on other rows."""
        p = parts[0][0].shape[0] - 1
        problem = cls(p)
        for factor, _ in parts:  # R^T R of each part is its X^T X: fold as rows
            problem.add(factor[:, :p], factor[:, p])
        problem.n_rows = sum(n_rows for _, n_rows in parts)
        return problem

    def solve(self) -> torch.Tensor | None:
        """The minimum-norm solution ``c`` ``(p,)``, or None without any row.

        ``gelsd`` on the factor, with the cutoff ``eps * max(rows, p)`` (relative
        to the largest singular value) that it applies to a whole design.
        """
        if self.n_rows == 0:
            return None
        p = self.n_columns
        r, qty = self.factor[:p, :p], self.factor[:p, p:]
        rcond = torch.finfo(torch.float64).eps * max(self.n_rows, p)
        return torch.linalg.lstsq(r, qty, rcond=rcond, driver="gelsd").solution[:, 0]


def chunk_windows(length: int, n_inputs: int) -> int:
    """Windows per chunk: about :data:`CHUNK_ENTRIES` design entries, at least 1."""
    return max(1, CHUNK_ENTRIES // (length * (n_inputs + 2)))


@torch.no_grad()
def fit_skip(
    network: torch.nn.Module,
    data: SeriesTensors,
    windows: WindowIndex,
    layout: WindowLayout,
    generator: torch.Generator,
    n_windows: int = 4096,
    ranks: Ranks = SINGLE,
) -> None:
    """Fit the network's linear skip by least squares on training windows.

    The skip maps a step's inputs to the location of the scaled target; it is
    fitted to the trained targets of up to ``n_windows`` windows drawn at
    random (with ``generator``), in float64, a chunk of windows at a time
    (:class:`LeastSquares`): memory does not grow with ``n_windows``.
    ``ranks`` fold their shares of the windows, then merge the factors.
    """
    n = min(ranks.draws(n_windows), len(windows))
    rows = ranks.local(torch.randint(len(windows), (n,), generator=generator))
    problem = LeastSquares(layout.n_inputs + 1)
    step = chunk_windows(layout.length, layout.n_inputs)
    threads = torch.get_num_threads()
    if data.z.device.type == "cpu":
        # a chunk is thousands of small operations: split across threads, each
        # waits for the slowest thread, which stalls whenever another process
        # holds a core (as in the sampler, see _sampling.SamplerSettings)
        torch.set_num_threads(1)
    try:
        for chunk in rows.to(data.z.device).split(step):
            batch, _ = window_batch(data, windows, chunk, layout)
            u = layout.scaler.transform(
                batch.target, batch.loc.unsqueeze(-1), batch.scale.unsqueeze(-1)
            )
            x = batch.x[batch.observed]
            # the intercept is the design's last column
            ones = torch.ones_like(x[:, :1])
            problem.add(torch.cat([x, ones], dim=1), u[batch.observed])
    finally:
        torch.set_num_threads(threads)
    if ranks.world > 1:
        problem = LeastSquares.merged(ranks.gather((problem.factor, problem.n_rows)))
    coef = problem.solve()
    if coef is None:
        return
    skip = network.skip
    skip.weight.copy_(coef[:-1].to(skip.weight.dtype).unsqueeze(0))
    skip.bias.copy_(coef[-1:].to(skip.bias.dtype))
