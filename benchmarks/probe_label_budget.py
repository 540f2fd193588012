"""How many labelled studies does the phantom need? A ceiling probe on ground-truth tissue maps.

Synthetic data only: every number this writes is measured on the maerad phantom, not on patients.

The generation experiment (``bench_generation_experiment.py``) finds that no generator beats the
no-image majority baseline at 32 labels. This probe asks whether *any* model could at that budget:
it replaces the image encoder by a perfect one. For every cervical phantom study it pools the
**ground-truth label map** to a token grid (:func:`maerad.report.generation.tissue.token_composition`)
and takes the tissue statistics the generator's tissue summary reads (group volumes and pairwise
contacts, :func:`~maerad.report.generation.tissue.tissue_statistics`). An L2-regularised logistic
regression per key field (and for the FIGO 2018 stage) and a ridge regression for the maximum tumour
diameter are fitted on the first N labelled studies and scored on held-out studies, for several N
and two token grids: the experiment's (4, 16, 16) patches and a finer (2, 8, 8).

The regularisation strength is chosen per field by 4-fold cross-validation on the labelled studies
only (never on the test studies).

Usage::

    python benchmarks/probe_label_budget.py                   # 512 train + 128 test studies (≈ 6 min)
    python benchmarks/probe_label_budget.py --quick           # smoke run (not a result)
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from maerad.atomic import write_text_atomic

RESULTS = Path(__file__).resolve().parent / "results" / "label_budget_probe.json"
TRAIN_SEED, TEST_SEED = 300, 302
GRIDS = {"token 4x16x16": (4, 16, 16), "token 2x8x8": (2, 8, 8)}
STRENGTHS = (1e-3, 1e-2, 1e-1, 1.0)


def phantom_studies(n: int, seed: int,
                    grids: dict[str, tuple[int, int, int]]) -> list[tuple[Any, dict[str, torch.Tensor]]]:
    """``n`` cervical phantom studies (``seed``, indices 0…n−1) with a ground truth: their targets and
    the true token shares ``(L, G)`` of their label maps on each grid (groups sorted by name, as in a
    generator config)."""
    from tqdm import tqdm

    from maerad.data.phantom import generate_case
    from maerad.report.generation.targets import targets_from_metadata
    from maerad.report.generation.tissue import PHANTOM_TISSUE_GROUPS, token_composition
    from maerad.terminology.bundled import load_bundled
    from maerad.terminology.consistency import ConsistencyChecker

    graph = load_bundled()
    checker = ConsistencyChecker(graph)
    groups = [PHANTOM_TISSUE_GROUPS[k] for k in sorted(PHANTOM_TISSUE_GROUPS)]
    studies = []
    for i in tqdm(range(n), desc=f"phantom seed {seed}", unit="study"):
        case = generate_case("cervical", seed=seed, index=i)
        targets = targets_from_metadata(case.study.metadata, graph=graph, checker=checker)
        if targets is None or case.study.labels is None:
            continue
        labels = torch.from_numpy(case.study.labels.astype(np.int64)).unsqueeze(0)
        studies.append((targets, {name: token_composition(labels, groups, grid)[0]
                                  for name, grid in grids.items()}))
    return studies


def phantom_features(n: int, seed: int) -> dict[str, Any]:
    """Tissue statistics per grid and the ground-truth fields of ``n`` cervical phantom studies."""
    from maerad.report.generation.tissue import tissue_statistics

    studies = phantom_studies(n, seed, GRIDS)
    return {"features": {g: tissue_statistics(torch.stack([shares[g] for _, shares in studies]))
                         for g in GRIDS},
            "fields": [dict(t.report.values()) for t, _ in studies],
            "stages": [str(t.headline) for t, _ in studies]}


def save_results(out: Path, payload: dict[str, Any], t0: float) -> None:
    """Write ``payload`` with the machine and the elapsed seconds to ``out`` (atomically)."""
    payload = {**payload, "machine": {"platform": platform.platform(), "torch": torch.__version__},
               "seconds": round(time.perf_counter() - t0, 1)}
    write_text_atomic(out, json.dumps(payload, indent=2) + "\n")
    print(f"\nwrote {out}")


def key_fields() -> list[str]:
    """The mandatory, non-derived concept and boolean fields of the cervical template."""
    from maerad.report.templates import get_template

    template = get_template("cervix-figo2018")
    return [f.id for f in template.fields
            if f.mandatory and not f.derived and f.type not in ("number", "text")]


def _frozen(value: object) -> str:
    return json.dumps(sorted(value) if isinstance(value, list) else value)


def _fit_logistic(x: torch.Tensor, y: torch.Tensor, classes: int, strength: float) -> torch.Tensor:
    w = torch.zeros(x.shape[1] + 1, classes, dtype=torch.float64, requires_grad=True)
    xb = torch.cat([x, torch.ones(len(x), 1, dtype=x.dtype)], dim=1)
    opt = torch.optim.LBFGS([w], max_iter=100, line_search_fn="strong_wolfe")

    def closure() -> torch.Tensor:
        opt.zero_grad()
        loss = F.cross_entropy(xb @ w, y) + strength * (w[:-1] ** 2).sum()
        loss.backward()  # type: ignore[no-untyped-call]
        return loss

    opt.step(closure)  # type: ignore[no-untyped-call]
    return w.detach()


def _predict(w: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    return (torch.cat([x, torch.ones(len(x), 1, dtype=x.dtype)], dim=1) @ w).argmax(dim=1)


def _choose_strength(x: torch.Tensor, y: torch.Tensor, classes: int) -> float:
    """4-fold cross-validated accuracy on the labelled studies; ties go to the stronger penalty."""
    folds = torch.arange(len(x)) % 4
    best, best_acc = STRENGTHS[-1], -1.0
    for strength in reversed(STRENGTHS):
        hits = 0
        for k in range(4):
            train, held = folds != k, folds == k
            w = _fit_logistic(x[train], y[train], classes, strength)
            hits += int((_predict(w, x[held]) == y[held]).sum())
        if hits / len(x) > best_acc:
            best, best_acc = strength, hits / len(x)
    return best


def probe_classifier(xtr: torch.Tensor, ytr: Sequence[str], xte: torch.Tensor,
                     yte: Sequence[str]) -> tuple[int, int, int]:
    """(probe hits, majority hits, scored) on the test studies."""
    classes = sorted(set(ytr))
    majority = Counter(ytr).most_common(1)[0][0]
    majority_hits = sum(v == majority for v in yte)
    if len(classes) == 1:
        return majority_hits, majority_hits, len(yte)
    y = torch.tensor([classes.index(v) for v in ytr])
    w = _fit_logistic(xtr, y, len(classes), _choose_strength(xtr, y, len(classes)))
    pred = [classes[i] for i in _predict(w, xte).tolist()]
    return sum(p == t for p, t in zip(pred, yte, strict=True)), majority_hits, len(yte)


def probe(train: dict[str, Any], test: dict[str, Any], grid: str, n_labels: int) -> dict[str, Any]:
    """Stage / key-field accuracy and size MAE of the probe with the first ``n_labels`` studies."""
    xtr = train["features"][grid][:n_labels].double()
    mean, sd = xtr.mean(0), xtr.std(0).clamp(min=1e-6)
    xtr, xte = (xtr - mean) / sd, (test["features"][grid].double() - mean) / sd
    hits = majority = total = 0
    per_field = {}
    for key in key_fields():
        pairs_tr = [(i, _frozen(f.get(key))) for i, f in enumerate(train["fields"][:n_labels])
                    if f.get(key) is not None]
        pairs_te = [(i, _frozen(f.get(key))) for i, f in enumerate(test["fields"]) if f.get(key) is not None]
        if not pairs_tr or not pairs_te:
            continue
        h, m, t = probe_classifier(xtr[[i for i, _ in pairs_tr]], [v for _, v in pairs_tr],
                                   xte[[i for i, _ in pairs_te]], [v for _, v in pairs_te])
        hits, majority, total = hits + h, majority + m, total + t
        per_field[key] = {"probe": h / t, "majority": m / t}
    s_hits, s_major, s_total = probe_classifier(xtr, train["stages"][:n_labels], xte, test["stages"])
    size = _size_mae(xtr, [f.get("max_diameter_mm") for f in train["fields"][:n_labels]], xte,
                     [f.get("max_diameter_mm") for f in test["fields"]])
    return {"labels": n_labels, "grid": grid, "stage_accuracy": s_hits / s_total,
            "stage_majority": s_major / s_total, "key_field_accuracy": hits / max(total, 1),
            "key_field_majority": majority / max(total, 1), **size, "per_field": per_field}


def _size_mae(xtr: torch.Tensor, ytr: Sequence[float | None], xte: torch.Tensor,
              yte: Sequence[float | None]) -> dict[str, float]:
    """Ridge regression of the maximum diameter (studies with a measured tumour), penalty by 4-fold CV."""
    tr = [i for i, v in enumerate(ytr) if v is not None]
    te = [i for i, v in enumerate(yte) if v is not None]
    x, y = xtr[tr], torch.tensor([float(ytr[i]) for i in tr], dtype=torch.float64)  # type: ignore[arg-type]
    xt, yt = xte[te], torch.tensor([float(yte[i]) for i in te], dtype=torch.float64)  # type: ignore[arg-type]

    def fit(a: torch.Tensor, b: torch.Tensor, lam: float) -> torch.Tensor:
        ab = torch.cat([a, torch.ones(len(a), 1, dtype=a.dtype)], dim=1)
        reg = lam * torch.eye(ab.shape[1], dtype=a.dtype)
        reg[-1, -1] = 0.0
        solution: torch.Tensor = torch.linalg.solve(ab.T @ ab + reg, ab.T @ b)
        return solution

    def mae(w: torch.Tensor, a: torch.Tensor, b: torch.Tensor) -> float:
        return float((torch.cat([a, torch.ones(len(a), 1, dtype=a.dtype)], dim=1) @ w - b).abs().mean())

    folds = torch.arange(len(x)) % 4
    scores = {lam: sum(mae(fit(x[folds != k], y[folds != k], lam), x[folds == k], y[folds == k])
                       for k in range(4)) for lam in (0.1, 1.0, 10.0, 100.0, 1000.0)}
    lam = min(scores, key=lambda k: scores[k])
    return {"size_mae_mm": mae(fit(x, y, lam), xt, yt),
            "size_mae_mean_predictor_mm": float((y.mean() - yt).abs().mean())}


def table(rows: list[dict[str, Any]]) -> str:
    lines = [f"{'grid':<15}{'labels':>7}  {'stage':>6} {'(maj.)':>7}  {'key fields':>10} {'(maj.)':>7}  "
             f"{'size MAE':>8} {'(mean)':>7}"]
    for r in rows:
        lines.append(f"{r['grid']:<15}{r['labels']:>7}  "
                     f"{r['stage_accuracy']:>6.3f} {r['stage_majority']:>7.3f}  "
                     f"{r['key_field_accuracy']:>10.3f} {r['key_field_majority']:>7.3f}  "
                     f"{r['size_mae_mm']:>8.1f} {r['size_mae_mean_predictor_mm']:>7.1f}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    p.add_argument("--n-train", type=int, default=512)
    p.add_argument("--n-test", type=int, default=128)
    p.add_argument("--labels", type=int, nargs="+", default=[32, 64, 128, 256, 512])
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--quick", action="store_true", help="tiny smoke run (not a result)")
    p.add_argument("--out", type=Path, default=RESULTS)
    args = p.parse_args(argv)
    if args.quick:
        args.n_train, args.n_test, args.labels = 16, 8, [8, 16]
    torch.set_num_threads(args.threads)
    t0 = time.perf_counter()
    train = phantom_features(args.n_train, TRAIN_SEED)
    test = phantom_features(args.n_test, TEST_SEED)
    budgets = [n for n in args.labels if n <= len(train["stages"])]
    rows = [probe(train, test, grid, n) for grid in GRIDS for n in budgets]
    print("\nSYNTHETIC phantom data — not clinical validation; features from ground-truth label maps\n")
    print(table(rows))
    payload = {"synthetic_data": True,
               "note": "Ceiling probe: linear models on tissue statistics of the ground-truth label maps of "
                       "maerad's synthetic phantom; not clinical validation.",
               "protocol": {**{k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
                            "train_seed": TRAIN_SEED, "test_seed": TEST_SEED,
                            "n_test_scored": len(test["stages"]),
                            "grids": {k: list(v) for k, v in GRIDS.items()}},
               "rows": rows}
    if not args.quick:
        save_results(args.out, payload, t0)
    return 0


if __name__ == "__main__":
    sys.exit(main())
