"""Bounded subset-sum: which two to four open invoices of one customer add up exactly to a payment."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

MAX_SUPPORTED_SIZE = 4


def subset_sums(amounts: Sequence[int], target: int, *, max_size: int = MAX_SUPPORTED_SIZE,
                max_solutions: int = 32) -> list[tuple[int, ...]]:
    """Index tuples (ascending, size 2..max_size) of ``amounts`` summing exactly to ``target``.

    Hash joins instead of a search tree: pairs in O(n), triples and quadruples in O(n^2), so the
    cost is predictable whatever the amounts. Sizes above four are not searched: such payments come
    with a remittance advice naming the invoices, which the reference groups handle.
    """
    size = min(max_size, MAX_SUPPORTED_SIZE)
    by_value: defaultdict[int, list[int]] = defaultdict(list)
    for i, amount in enumerate(amounts):
        by_value[amount].append(i)
    found: list[tuple[int, ...]] = []
    n = len(amounts)
    for i in range(n):
        found.extend((i, j) for j in by_value.get(target - amounts[i], ()) if j > i)
    pair_sums: defaultdict[int, list[tuple[int, int]]] = defaultdict(list)
    if size >= 3:
        for i in range(n):
            for j in range(i + 1, n):
                total = amounts[i] + amounts[j]
                if total >= target:
                    continue
                found.extend((i, j, k) for k in by_value.get(target - total, ()) if k > j)
                if size >= 4:
                    pair_sums[total].append((i, j))
        for total, pairs in pair_sums.items():
            for i, j in pairs:
                found.extend((i, j, k, m) for k, m in pair_sums.get(target - total, ()) if k > j)
            if len(found) > max_solutions:
                break
    found.sort(key=len)  # fewer invoices first: the simpler explanation
    return found[:max_solutions]
