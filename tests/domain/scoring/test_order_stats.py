"""The wavelet matrix's order statistics against sorting each range."""

from __future__ import annotations

import numpy as np
import pytest

from addon.domain.scoring.order_stats import WaveletMatrix


@pytest.mark.parametrize(("seed", "high", "size"), [(1, 1, 50), (2, 7, 300), (3, 1000, 2000), (4, 2**20, 5000)])
def test_kth_smallest_and_middle_equal_sorting(seed: int, high: int, size: int) -> None:
    rng = np.random.default_rng(seed)
    values = rng.integers(0, high + 1, size)
    matrix = WaveletMatrix(values)
    lo = rng.integers(0, size, 400)
    hi = np.minimum(size, lo + rng.integers(1, size // 3 + 2, 400))
    k = (rng.random(400) * (hi - lo)).astype(np.int64)
    found = matrix.kth_smallest(lo, hi, k)
    low, high_ = matrix.middle(lo, hi)
    for i in range(400):
        ordered = np.sort(values[lo[i]:hi[i]])
        n = len(ordered)
        assert found[i] == ordered[k[i]]
        assert (low[i], high_[i]) == (ordered[(n - 1) // 2], ordered[n // 2])


def test_whole_array_ties_and_single_values() -> None:
    values = np.array([5, 5, 0, 5, 3, 3, 0])
    matrix = WaveletMatrix(values)
    assert matrix.kth_smallest(np.zeros(7, int), np.full(7, 7), np.arange(7)).tolist() == sorted(values.tolist())
    low, high = matrix.middle(np.array([0, 1, 4]), np.array([1, 3, 6]))  # [5], [5, 0], [3, 3]
    assert low.tolist() == [5, 0, 3]
    assert high.tolist() == [5, 5, 3]
    low, high = WaveletMatrix(np.zeros(4, int)).middle(np.array([0]), np.array([4]))
    assert (low.tolist(), high.tolist()) == ([0], [0])


def test_bad_input_is_refused() -> None:
    with pytest.raises(ValueError, match="non-negative"):
        WaveletMatrix(np.array([3, -1]))
    matrix = WaveletMatrix(np.array([1, 2, 3]))
    with pytest.raises(ValueError, match="k must lie"):
        matrix.kth_smallest(np.array([1]), np.array([1]), np.array([0]))  # an empty range has no k-th value
    empty = WaveletMatrix(np.array([], dtype=np.int64))
    assert empty.middle(np.array([], dtype=np.int64), np.array([], dtype=np.int64))[0].tolist() == []
