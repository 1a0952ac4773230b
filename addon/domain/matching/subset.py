"""Bounded subset-sum: which few open invoices of one customer add up to a payment."""

from __future__ import annotations

from collections.abc import Sequence


def subset_sums(amounts: Sequence[int], lo: int, hi: int, *, max_size: int, node_budget: int,
                max_solutions: int = 4) -> list[tuple[int, ...]]:
    """Index tuples (size 2..max_size) of ``amounts`` whose sum lies in [lo, hi].

    Depth-first over amounts sorted largest first, pruned by the remaining suffix sums; ``node_budget``
    caps the work per call so one customer with hundreds of open invoices cannot stall a run.
    """
    order = sorted(range(len(amounts)), key=lambda i: -amounts[i])
    values = [amounts[i] for i in order]
    suffix = [0] * (len(values) + 1)
    for i in range(len(values) - 1, -1, -1):
        suffix[i] = suffix[i + 1] + values[i]
    found: list[tuple[int, ...]] = []
    budget = [node_budget]

    def walk(start: int, total: int, chosen: list[int]) -> None:
        for i in range(start, len(values)):
            budget[0] -= 1
            if budget[0] < 0 or len(found) >= max_solutions:
                return
            new_total = total + values[i]
            if new_total > hi:
                continue  # sorted descending: smaller values further on may still fit
            if total + suffix[i] < lo:
                return  # even taking everything left cannot reach the target
            chosen.append(i)
            if new_total >= lo and len(chosen) >= 2:
                found.append(tuple(sorted(order[j] for j in chosen)))
            elif len(chosen) < max_size:
                walk(i + 1, new_total, chosen)
            chosen.pop()

    walk(0, 0, [])
    return found
