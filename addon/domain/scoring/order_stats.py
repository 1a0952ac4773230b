"""The k-th smallest value in any range of a fixed array of small non-negative integers (a wavelet matrix).

Features need medians of *prefixes* of each customer's history (the delays settled before a day, the
amounts issued before it) for many (customer, day) pairs at once. Sorting each prefix costs its length
per pair; the wavelet matrix answers every pair in ``bits`` vectorised steps after an ``O(n * bits)``
build, and returns exactly the values a sort would.

Built level by level from the top bit: each level records which values have that bit set (as running
counts, so ranks are lookups) and stably moves the zeros before the ones. A query follows its range
down the levels, going to the zeros' side when enough of them lie in the range.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

IntArray = npt.NDArray[np.int64]


class WaveletMatrix:
    """Order statistics of ``values[lo:hi]`` for any ranges, vectorised over queries."""

    def __init__(self, values: npt.ArrayLike) -> None:
        given = np.asarray(values, dtype=np.int64)
        if len(given) and int(given.min()) < 0:
            raise ValueError("WaveletMatrix holds non-negative integers only")
        self.size = len(given)
        self.bits = max(1, int(given.max()).bit_length()) if len(given) else 1
        # 32-bit when it fits: the levels are the structure's memory, and halving it halves the build.
        dtype = np.int32 if self.size < 2**31 and self.bits < 32 else np.int64
        current: npt.NDArray[np.signedinteger[Any]] = given.astype(dtype)
        self._ones: list[npt.NDArray[np.signedinteger[Any]]] = []
        self._zeros: list[int] = []
        for level in range(self.bits - 1, -1, -1):
            bit = ((current >> level) & 1).astype(bool)
            ones: npt.NDArray[np.signedinteger[Any]] = np.zeros(self.size + 1, dtype=dtype)
            np.cumsum(bit, out=ones[1:])
            self._ones.append(ones)
            self._zeros.append(self.size - int(ones[-1]))
            # Stable: zeros first, then ones (np.compress is several times faster than boolean indexing here).
            current = np.concatenate((np.compress(~bit, current), np.compress(bit, current)))

    def kth_smallest(self, lo: IntArray, hi: IntArray, k: IntArray) -> IntArray:
        """The ``k``-th smallest (0-based) of ``values[lo:hi]`` per query; requires 0 <= k < hi - lo."""
        lo, hi = np.asarray(lo, dtype=np.int64).copy(), np.asarray(hi, dtype=np.int64).copy()
        k = np.asarray(k, dtype=np.int64).copy()
        if np.any((k < 0) | (k >= hi - lo)):
            raise ValueError("k must lie in [0, hi - lo) for every query")
        value = np.zeros(len(k), dtype=np.int64)
        for depth, (ones, zeros) in enumerate(zip(self._ones, self._zeros, strict=True)):
            ones_lo, ones_hi = ones[lo], ones[hi]
            zeros_lo, zeros_hi = lo - ones_lo, hi - ones_hi
            in_range = zeros_hi - zeros_lo
            right = k >= in_range  # the k-th value has this bit set
            k = np.where(right, k - in_range, k)
            lo = np.where(right, zeros + ones_lo, zeros_lo)
            hi = np.where(right, zeros + ones_hi, zeros_hi)
            value |= right.astype(np.int64) << (self.bits - 1 - depth)
        return value

    def middle(self, lo: IntArray, hi: IntArray) -> tuple[IntArray, IntArray]:
        """The two middle values of each non-empty ``values[lo:hi]`` (the same one twice for an odd count),
        whose mean is the median."""
        n = np.asarray(hi, dtype=np.int64) - np.asarray(lo, dtype=np.int64)
        low = self.kth_smallest(lo, hi, (n - 1) // 2)
        odd = n % 2 == 1
        high = low.copy()
        if not odd.all():
            even = ~odd
            high[even] = self.kth_smallest(np.asarray(lo)[even], np.asarray(hi)[even], n[even] // 2)
        return low, high
