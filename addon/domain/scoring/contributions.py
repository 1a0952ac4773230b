"""XGBoost's per-feature contributions (``pred_contribs``), computed once per distinct tree path.

Path-dependent TreeSHAP gives each tree's contributions as a function of the row's *decisions* at that
tree's split nodes only (left, right or missing-default), not of the feature values themselves. Scoring
a book of 100,000 invoices with depth-4 trees produces at most a few thousand distinct decision
patterns per tree, so each tree's contributions are computed by XGBoost itself for one representative
row per pattern and broadcast to the others. They are summed over trees in float32 in tree order, as
XGBoost sums them, so the result is the same as ``predict(..., pred_contribs=True)``; a test checks it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import xgboost as xgb

MAX_PATTERN_BITS = 20  # split nodes per tree up to which patterns are indexed through a lookup table
TREES_PER_CALL = 16


@dataclass(frozen=True, slots=True)
class _Tree:
    features: list[int]  # per split node
    thresholds: list[float]  # float32 values
    default_left: list[bool]
    used: list[int]  # distinct features the tree splits on


def _forest(booster: xgb.Booster, width: int, output: int | None = None
            ) -> tuple[list[_Tree], list[xgb.Booster]] | None:
    """Split nodes of every tree (of ``output``'s trees, for a multi-output model), and models of
    ``TREES_PER_CALL`` consecutive such trees whose k-th tree reads its features from columns
    ``k * width ...``; None for models this does not cover."""
    model = json.loads(bytes(booster.save_raw(raw_format="json")))
    learner = model["learner"]
    gbm = learner["gradient_booster"]
    params = learner["learner_model_param"]
    if gbm.get("name") != "gbtree" or int(params.get("num_class", "0")) > 1:
        return None
    forest = gbm["model"]
    if int(forest["gbtree_model_param"].get("num_parallel_tree", "1")) != 1:
        return None
    trees = forest["trees"]
    if int(params.get("num_target", "1")) > 1:
        if output is None:
            return None
        # One output of a multi-output model (the quantile models) is a forest of its own trees: keep
        # those, as a one-output model (its own base score; identity link, as the quantile loss has).
        trees = [t for t, k in zip(trees, forest["tree_info"], strict=True) if k == output]
        base = str(params.get("base_score", "0")).strip("[]").split(",")[output]
        learner["learner_model_param"] = params = dict(params, num_target="1", base_score=base)
        learner["objective"] = {"name": "reg:squarederror", "reg_loss_param": {"scale_pos_weight": "1"}}
    elif any(forest["tree_info"]):
        return None
    out = []
    for tree in trees:
        left = np.asarray(tree["left_children"], dtype=np.int64)
        split = np.flatnonzero(left != -1)
        if np.any(np.asarray(tree.get("split_type", [0] * len(left)))[split] != 0) or len(split) > MAX_PATTERN_BITS:
            return None  # categorical splits, or too many split nodes for a pattern table
        features = np.asarray(tree["split_indices"], dtype=np.int64)[split]
        out.append(_Tree(features.tolist(), np.asarray(tree["split_conditions"], dtype=np.float32)[split].tolist(),
                         np.asarray(tree["default_left"], dtype=bool)[split].tolist(), np.unique(features).tolist()))
    boosters = []
    for first in range(0, len(trees), TREES_PER_CALL):
        chunk = trees[first:first + TREES_PER_CALL]
        forest.update(trees=[dict(t, id=k, split_indices=[i + k * width for i in t["split_indices"]])
                             for k, t in enumerate(chunk)],
                      tree_info=[0] * len(chunk), iteration_indptr=list(range(len(chunk) + 1)),
                      gbtree_model_param=dict(forest["gbtree_model_param"], num_trees=str(len(chunk))))
        learner.update(feature_names=[], feature_types=[],
                       learner_model_param=dict(learner["learner_model_param"], num_feature=str(len(chunk) * width)))
        part = xgb.Booster()
        part.load_model(bytearray(json.dumps(model).encode()))
        part.set_param({"nthread": 1})
        boosters.append(part)
    return out, boosters


def contributions(booster: xgb.Booster, x: npt.NDArray[np.float64], base_margin: npt.NDArray[np.float64],
                  feature_names: list[str], output: int | None = None) -> npt.NDArray[np.float32]:
    """The same (n, features + 1) float32 array as ``booster.predict(DMatrix(x, base_margin=base_margin),
    pred_contribs=True)``: per-feature contributions, then the bias column (the trees' expected values
    plus ``base_margin``). For a multi-output model, ``output`` picks one output's (``[:, output]`` of
    XGBoost's array; ``base_margin`` then has one column per output).

    Each tree's contributions are computed by XGBoost for one representative row per decision pattern.
    Several trees go through one call: in a model whose trees read disjoint blocks of columns, a tree's
    contributions land in its own block, untouched by the others.
    """
    n, width = x.shape
    forest = _forest(booster, width, output)
    if forest is None:
        dm = xgb.DMatrix(x, base_margin=base_margin, feature_names=feature_names, nthread=1)
        native = np.asarray(booster.predict(dm, pred_contribs=True), dtype=np.float32)
        return native if output is None or native.ndim == 2 else native[:, output, :]
    trees, boosters = forest
    columns = np.ascontiguousarray(x.T, dtype=np.float32)  # one contiguous row per feature
    missing = np.isnan(columns)
    out = np.zeros((width + 1, n), dtype=np.float32)  # transposed: contiguous per feature
    decisions: dict[tuple[int, float, bool], npt.NDArray[np.int32]] = {}
    codes, shifted = np.empty(n, dtype=np.int32), np.empty(n, dtype=np.int32)
    rows = np.arange(n)
    for part, first in zip(boosters, range(0, len(trees), TREES_PER_CALL), strict=True):
        chunk = trees[first:first + TREES_PER_CALL]
        found = []
        for tree in chunk:
            codes[:] = 0
            for bit, (f, threshold, default) in enumerate(zip(tree.features, tree.thresholds, tree.default_left,
                                                              strict=True)):
                # Histogram trees reuse split values, so each (feature, threshold) is compared once.
                left = decisions.get((f, threshold, default))
                if left is None:
                    go = columns[f] < np.float32(threshold)
                    go[missing[f]] = default
                    left = decisions[(f, threshold, default)] = go.astype(np.int32)
                np.left_shift(left, bit, out=shifted)
                codes |= shifted
            present = np.zeros(1 << len(tree.features), dtype=bool)
            present[codes] = True
            patterns = np.flatnonzero(present)
            lookup = np.empty(len(present), dtype=np.int32)
            lookup[patterns] = np.arange(len(patterns), dtype=np.int32)
            inverse = lookup[codes]
            representative = np.empty(len(patterns), dtype=np.int64)
            representative[inverse] = rows
            found.append((representative, inverse))
        wide = np.full((max(len(r) for r, _ in found), len(chunk) * width), np.nan)
        for k, (representative, _) in enumerate(found):
            wide[:len(representative), k * width:(k + 1) * width] = x[representative]
        dm = xgb.DMatrix(wide, base_margin=np.zeros(len(wide)), nthread=1)
        part_contribs = np.asarray(part.predict(dm, pred_contribs=True), dtype=np.float32).T.copy()
        for k, (tree, (_, inverse)) in enumerate(zip(chunk, found, strict=True)):
            for f in tree.used:
                out[f] += part_contribs[k * width + f][inverse]  # float32, tree by tree, as XGBoost sums
    # The bias column: the trees' expected values (the same for every row) plus each row's base margin.
    dm = xgb.DMatrix(x[:1], base_margin=np.zeros((1, *base_margin.shape[1:])), feature_names=feature_names,
                     nthread=1)
    bias = np.asarray(booster.predict(dm, pred_contribs=True), dtype=np.float32)
    if output is None:
        out[width] = bias[0, width] + base_margin.astype(np.float32)
    else:
        out[width] = bias[0, output, width] + base_margin[:, output].astype(np.float32)
    return out.T
