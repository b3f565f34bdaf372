"""Attention patterns against row sets written out independently of the library.

Every expectation here is computed with plain Python loops over the definitions
in Li et al. (2019) and the ``make_pattern`` docstring; the library's own
helpers (``_log_offsets``, ``_validity``, ``to_dense`` as an oracle) are not used
to build expected values.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from sktime_logsparse.nn import KINDS, make_pattern

SPARSE_KINDS = ("logsparse", "local", "restart", "local_restart")
LENGTHS = (1, 2, 3, 7, 64, 200, 1000)


# ---------------------------------------------------------------------------
# independent references
# ---------------------------------------------------------------------------


def ceil_log2(n: int) -> int:
    """``ceil(log2 n)`` for ``n >= 1``, in exact integer arithmetic."""
    return (n - 1).bit_length()


def logsparse_row(l: int, start: int = 0) -> set[int]:  # noqa: E741
    """``{l} U {l - 2^j : j >= 0, l - 2^j >= start}``."""
    row = {l}
    step = 1
    while l - step >= start:
        row.add(l - step)
        step *= 2
    return row


def local_row(l: int, window: int, start: int = 0) -> set[int]:  # noqa: E741
    """``window`` dense previous positions, then ``l - window - 2^j >= start``."""
    row = {m for m in range(l - window, l + 1) if m >= start}
    step = 1
    while l - window - step >= start:
        row.add(l - window - step)
        step *= 2
    return row


def block_start(l: int, sub_len: int) -> int:  # noqa: E741
    """First position of the subsequence ``[b, b + sub_len)`` holding ``l``."""
    b = 0
    while b + sub_len <= l:
        b += sub_len
    return b


def expected_rows(
    kind: str, length: int, local_window: int | None = None, sub_len: int | None = None
) -> list[set[int]]:
    """Row sets of ``make_pattern(kind, length, ...)`` per the documented rules."""
    if kind == "full":
        return [set(range(l + 1)) for l in range(length)]  # noqa: E741
    if kind in ("restart", "local_restart") and sub_len is None:
        sub_len = -(-length // 4)  # ceil(L / 4), documented default
    if kind in ("local", "local_restart") and local_window is None:
        # documented defaults: ceil(log2 L) resp. ceil(log2 sub_len)
        local_window = ceil_log2(length if kind == "local" else sub_len)
    rows = []
    for l in range(length):  # noqa: E741
        start = block_start(l, sub_len) if kind in ("restart", "local_restart") else 0
        if kind in ("logsparse", "restart"):
            rows.append(logsparse_row(l, start))
        else:
            rows.append(local_row(l, local_window, start))
    return rows


def rows_to_mask(rows: list[set[int]]) -> np.ndarray:
    n = len(rows)
    mask = np.zeros((n, n), dtype=bool)
    for l, row in enumerate(rows):  # noqa: E741
        mask[l, sorted(row)] = True
    return mask


def pattern_rows_from_table(pattern) -> list[set[int]]:
    """Row sets read straight from ``offsets``/``valid`` (not via ``row``)."""
    offsets = pattern.offsets.tolist()
    valid = pattern.valid.tolist()
    return [
        {l - o for o, ok in zip(offsets, valid[l], strict=True) if ok}
        for l in range(pattern.length)  # noqa: E741
    ]


def assert_pattern_matches(pattern, rows: list[set[int]]) -> None:
    """``row``, the offset table and ``to_dense`` all agree with ``rows``."""
    assert pattern.length == len(rows)
    for l, row in enumerate(rows):  # noqa: E741
        assert pattern.row(l) == sorted(row), f"row {l}"
    if not pattern.is_full:
        assert pattern_rows_from_table(pattern) == rows
    np.testing.assert_array_equal(pattern.to_dense().numpy(), rows_to_mask(rows))


# ---------------------------------------------------------------------------
# sanity of the references themselves (they are the oracle, so pin them down)
# ---------------------------------------------------------------------------


def test_reference_matches_paper_example():
    # make_pattern docstring / paper Fig. 3: row 13 of LogSparse
    assert sorted(logsparse_row(13)) == [5, 9, 11, 12, 13]
    assert sorted(local_row(10, 2)) == [0, 4, 6, 7, 8, 9, 10]
    assert sorted(logsparse_row(9, start=8)) == [8, 9]
    assert block_start(9, 4) == 8
    assert [ceil_log2(n) for n in (1, 2, 3, 4, 5, 64, 65)] == [0, 1, 2, 2, 3, 6, 7]


# ---------------------------------------------------------------------------
# exact row sets
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("length", LENGTHS)
def test_logsparse_rows(length):
    pattern = make_pattern("logsparse", length)
    rows = []
    for l in range(length):  # noqa: E741
        row = {l}
        j = 0
        while l - 2**j >= 0:
            row.add(l - 2**j)
            j += 1
        rows.append(row)
    assert_pattern_matches(pattern, rows)


@pytest.mark.parametrize("length", LENGTHS)
@pytest.mark.parametrize("local_window", [None, 0, 1, 3, 6, 50, 999, 1000, 5000])
def test_local_rows(length, local_window):
    pattern = make_pattern("local", length, local_window=local_window)
    assert_pattern_matches(pattern, expected_rows("local", length, local_window))


def test_local_window_zero_is_logsparse():
    for length in LENGTHS:
        assert torch.equal(
            make_pattern("local", length, local_window=0).to_dense(),
            make_pattern("logsparse", length).to_dense(),
        )


@pytest.mark.parametrize("length", [1, 2, 7, 64])
def test_local_window_at_least_length_is_full_causal(length):
    for window in (length - 1, length, 3 * length):
        if window < 0:
            continue
        dense = make_pattern("local", length, local_window=window).to_dense()
        assert torch.equal(dense, torch.ones(length, length, dtype=torch.bool).tril())


@pytest.mark.parametrize("length", LENGTHS)
@pytest.mark.parametrize("sub_len", [None, 1, 2, 5, 16, 999, 1000, 4096])
def test_restart_rows(length, sub_len):
    pattern = make_pattern("restart", length, sub_len=sub_len)
    rows = expected_rows("restart", length, sub_len=sub_len)
    assert_pattern_matches(pattern, rows)
    if sub_len is not None:
        assert pattern.sub_len == sub_len


@pytest.mark.parametrize("length", LENGTHS)
@pytest.mark.parametrize(
    ("local_window", "sub_len"),
    [(0, 1), (0, 7), (2, 1), (2, 5), (3, 16), (40, 16), (0, 5000), (4, 5000)],
)
def test_local_restart_rows(length, local_window, sub_len):
    pattern = make_pattern(
        "local_restart", length, local_window=local_window, sub_len=sub_len
    )
    rows = expected_rows("local_restart", length, local_window, sub_len)
    assert_pattern_matches(pattern, rows)


@pytest.mark.parametrize("length", [4, 7, 64, 200, 1000])
def test_local_restart_default_window_when_sub_len_le_length(length):
    for sub_len in (None, 1, 3, length):
        pattern = make_pattern("local_restart", length, sub_len=sub_len)
        rows = expected_rows("local_restart", length, None, sub_len)
        assert_pattern_matches(pattern, rows)


@pytest.mark.parametrize("kind", ["restart", "local_restart"])
@pytest.mark.parametrize("length", LENGTHS)
def test_sub_len_one_attends_only_to_itself(kind, length):
    # the authors' code attended to the future in this case
    pattern = make_pattern(kind, length, sub_len=1, local_window=3)
    assert torch.equal(pattern.to_dense(), torch.eye(length, dtype=torch.bool))
    for l in range(length):  # noqa: E741
        assert pattern.row(l) == [l]


@pytest.mark.parametrize("length", LENGTHS)
def test_sub_len_at_least_length_is_unrestarted(length):
    for sub_len in (length, length + 1, 10 * length):
        assert torch.equal(
            make_pattern("restart", length, sub_len=sub_len).to_dense(),
            make_pattern("logsparse", length).to_dense(),
        )
        assert torch.equal(
            make_pattern(
                "local_restart", length, sub_len=sub_len, local_window=3
            ).to_dense(),
            make_pattern("local", length, local_window=3).to_dense(),
        )


@pytest.mark.parametrize("length", LENGTHS)
def test_restart_rows_stay_inside_their_subsequence(length):
    sub_len = 6
    dense = make_pattern("restart", length, sub_len=sub_len).to_dense().numpy()
    for l in range(length):  # noqa: E741
        attended = np.flatnonzero(dense[l])
        start = l // sub_len * sub_len
        assert attended.min() >= start
        # the subsequence start is reached iff l - start is 0 or a power of two
        gap = l - start
        assert (start in attended) == (gap & (gap - 1) == 0)


@pytest.mark.parametrize("length", LENGTHS)
def test_full_rows(length):
    pattern = make_pattern("full", length)
    assert pattern.is_full
    assert pattern.offsets is None and pattern.valid is None
    assert pattern.width == length
    assert_pattern_matches(pattern, expected_rows("full", length))


@pytest.mark.parametrize("kind", SPARSE_KINDS)
def test_ignored_parameters_do_not_change_rows(kind):
    base = make_pattern(kind, 64, local_window=3, sub_len=10).to_dense()
    if kind in ("logsparse", "restart"):
        other = make_pattern(kind, 64, local_window=9, sub_len=10)
        assert torch.equal(other.to_dense(), base)
    if kind in ("logsparse", "local"):
        other = make_pattern(kind, 64, local_window=3, sub_len=1)
        assert torch.equal(other.to_dense(), base)
        assert other.sub_len is None


# ---------------------------------------------------------------------------
# structural facts for every kind
# ---------------------------------------------------------------------------

CONFIGS = [
    ("logsparse", {}),
    ("local", {}),
    ("local", {"local_window": 0}),
    ("local", {"local_window": 5}),
    ("restart", {}),
    ("restart", {"sub_len": 1}),
    ("restart", {"sub_len": 24}),
    ("local_restart", {}),
    ("local_restart", {"sub_len": 1}),
    ("local_restart", {"sub_len": 24, "local_window": 2}),
    ("full", {}),
]


@pytest.mark.parametrize("length", LENGTHS)
@pytest.mark.parametrize(("kind", "params"), CONFIGS)
def test_structural_invariants(kind, params, length):
    pattern = make_pattern(kind, length, **params)
    assert pattern.kind == kind
    assert pattern.length == length
    dense = pattern.to_dense()
    assert dense.shape == (length, length)
    assert dense.dtype == torch.bool
    # causal: nothing above the diagonal; diagonal always attended
    assert not dense.triu(1).any()
    assert dense.diagonal().all()
    # no empty row
    assert dense.any(dim=1).all()
    if pattern.is_full:
        return
    offsets, valid = pattern.offsets, pattern.valid
    K = pattern.width
    # O(L*K) table: never an (L, L) tensor
    assert offsets.shape == (K,)
    assert offsets.dtype == torch.long
    assert valid.shape == (length, K)
    assert valid.dtype == torch.bool
    assert offsets[0].item() == 0
    assert (offsets[1:] > offsets[:-1]).all(), "offsets strictly increasing"
    assert valid[:, 0].all(), "column 0 (the position itself) always valid"
    # every offset is below L and is used by some row (no dead columns)
    assert offsets[-1].item() < length
    assert valid.any(dim=0).all()
    # a valid entry never points before position 0
    targets = torch.arange(length).unsqueeze(1) - offsets
    assert (targets[valid] >= 0).all()
    # number of attended positions equals the number of valid table entries
    assert int(valid.sum()) == int(dense.sum())


@pytest.mark.parametrize("length", [*LENGTHS, 2**10, 2**10 + 1, 2**16])
def test_logsparse_width_is_logarithmic(length):
    pattern = make_pattern("logsparse", length)
    floor_log2 = length.bit_length() - 1
    assert pattern.width <= floor_log2 + 2
    # exact: offsets 0, 1, 2, 4, ..., largest power of two <= L - 1
    expected = [0] + [2**j for j in range(max(length - 1, 0).bit_length())]
    assert pattern.offsets.tolist() == expected
    assert pattern.valid.shape == (length, pattern.width)


@pytest.mark.parametrize("length", [2, 7, 64, 1000, 2**16])
@pytest.mark.parametrize("kind", SPARSE_KINDS)
def test_sparse_width_is_logarithmic_with_default_parameters(kind, length):
    pattern = make_pattern(kind, length)
    log2 = ceil_log2(length)
    # dense window of <= ceil(log2 L) + 1 columns, plus <= floor(log2 L) + 1 jumps
    assert pattern.width <= 2 * log2 + 2
    assert pattern.valid.numel() == length * pattern.width


# ---------------------------------------------------------------------------
# rows do not depend on L once the parameters are pinned
# ---------------------------------------------------------------------------

PINNED = [
    ("logsparse", {}),
    ("local", {"local_window": 0}),
    ("local", {"local_window": 4}),
    ("local", {"local_window": 120}),
    ("restart", {"sub_len": 1}),
    ("restart", {"sub_len": 7}),
    ("restart", {"sub_len": 64}),
    ("restart", {"sub_len": 500}),
    ("local_restart", {"sub_len": 7, "local_window": 2}),
    ("local_restart", {"sub_len": 64, "local_window": 5}),
    ("local_restart", {"sub_len": 500, "local_window": 100}),
    ("local_restart", {"sub_len": 32}),
    ("full", {}),
]


@pytest.mark.parametrize(("kind", "params"), PINNED)
def test_rows_do_not_depend_on_length(kind, params):
    short = make_pattern(kind, 50, **params)
    long = make_pattern(kind, 200, **params)
    assert torch.equal(short.to_dense(), long.to_dense()[:50, :50])
    for l in range(50):  # noqa: E741
        assert short.row(l) == long.row(l)


def test_local_restart_default_window_is_length_independent():
    short = make_pattern("local_restart", 20, sub_len=64)
    long = make_pattern("local_restart", 200, sub_len=64)
    assert short.row(19) == long.row(19)
    assert short.row(19) == sorted(local_row(19, ceil_log2(64)))


# ---------------------------------------------------------------------------
# valid_for
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("length", LENGTHS)
@pytest.mark.parametrize(("kind", "params"), [c for c in CONFIGS if c[0] != "full"])
def test_valid_for_agrees_with_valid(kind, params, length):
    pattern = make_pattern(kind, length, **params)
    assert torch.equal(pattern.valid_for(torch.arange(length)), pattern.valid)
    gen = torch.Generator().manual_seed(length)
    positions = torch.randint(0, length, (37,), generator=gen)
    got = pattern.valid_for(positions)
    assert got.shape == (37, pattern.width)
    assert got.dtype == torch.bool
    assert torch.equal(got, pattern.valid[positions])


@pytest.mark.parametrize(("kind", "params"), [c for c in PINNED if c[0] != "full"])
def test_valid_for_beyond_length_uses_the_table_offsets(kind, params):
    # positions past L: the reference row restricted to the table's offsets
    pattern = make_pattern(kind, 40, **params)
    long_rows = expected_rows(kind, 300, **params)
    offsets = pattern.offsets.tolist()
    positions = torch.tensor([40, 41, 63, 64, 65, 127, 128, 299])
    got = pattern.valid_for(positions)
    for p, row_valid in zip(positions.tolist(), got.tolist(), strict=True):
        reachable = {p - o for o in offsets}
        attended = {p - o for o, ok in zip(offsets, row_valid, strict=True) if ok}
        assert attended == long_rows[p] & reachable, p


def test_valid_for_full_raises():
    with pytest.raises(ValueError, match="sparse"):
        make_pattern("full", 8).valid_for(torch.arange(8))


# ---------------------------------------------------------------------------
# bad arguments
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["", "LogSparse", "dense", "sparse", None])
def test_unknown_kind_raises(kind):
    with pytest.raises(ValueError, match="kind"):
        make_pattern(kind, 8)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("length", [0, -1, 2.0, True, "8"])
def test_bad_length_raises(kind, length):
    with pytest.raises(ValueError, match="length"):
        make_pattern(kind, length)


@pytest.mark.parametrize("kind", ["restart", "local_restart"])
@pytest.mark.parametrize("sub_len", [0, -3, 2.5, True])
def test_bad_sub_len_raises(kind, sub_len):
    with pytest.raises(ValueError, match="sub_len"):
        make_pattern(kind, 8, sub_len=sub_len)


@pytest.mark.parametrize("kind", ["local", "local_restart"])
@pytest.mark.parametrize("local_window", [-1, -10, 1.5, True])
def test_bad_local_window_raises(kind, local_window):
    with pytest.raises(ValueError, match="local_window"):
        make_pattern(kind, 8, local_window=local_window, sub_len=4)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("position", [-1, 8, 100])
def test_row_out_of_range_raises(kind, position):
    with pytest.raises(ValueError, match="position"):
        make_pattern(kind, 8).row(position)


# ---------------------------------------------------------------------------
# property test
# ---------------------------------------------------------------------------


@settings(max_examples=150, deadline=None)
@given(
    kind=st.sampled_from(KINDS),
    length=st.integers(1, 300),
    local_window=st.none() | st.integers(0, 40),
    sub_len=st.none() | st.integers(1, 80),
)
def test_property_matches_reference(kind, length, local_window, sub_len):
    pattern = make_pattern(kind, length, local_window=local_window, sub_len=sub_len)
    rows = expected_rows(kind, length, local_window, sub_len)
    assert_pattern_matches(pattern, rows)
    dense = pattern.to_dense()
    assert not dense.triu(1).any()
    assert dense.diagonal().all()
    if not pattern.is_full:
        assert pattern.valid.shape == (length, pattern.width)
        assert torch.equal(pattern.valid_for(torch.arange(length)), pattern.valid)
