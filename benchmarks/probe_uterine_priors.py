"""How well do the anatomical-prior measurements read the phantom's own anatomy? (a probe, not a test)

Synthetic data only: every number this writes is measured on the maerad phantom, not on patients.

For normal phantom studies it runs :func:`maerad.losses.anatomy.uterine_prior_loss` on the
ground-truth region masks (:func:`~maerad.losses.anatomy.phantom_region_masks`) and the T2W image,
and compares each measurement with the value the phantom was built with (``metadata["anatomy"]``):
uterine length (external os to fundus), cervical length, endometrial double-layer thickness,
junctional-zone thickness and ovarian volumes. It prints measured / true ratios (min, median, max), how
many normal studies each term penalises, and the total loss; it writes the table as JSON.

It also re-derives :data:`~maerad.losses.anatomy.UTERUS_LENGTH_FACTOR`: the median over the studies of
true length / standard deviation along the uterus's principal axis.

Usage::

    python benchmarks/probe_uterine_priors.py                 # 30 studies, seeds 200-229 (≈ 1 min)
    python benchmarks/probe_uterine_priors.py --n 60 --seed 500
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
from pathlib import Path
from typing import Any

import numpy as np
import torch

from maerad.atomic import write_text_atomic

RESULTS = Path(__file__).resolve().parent / "results" / "uterine_priors_probe.json"

#: term name → (what the phantom was built with, read from the study's anatomy metadata)
TRUTH = {
    "major_length[uterus]": ("uterine length (mm)", lambda a: a["uterus"]["length_mm"]),
    "major_length[cervix]": ("cervical length (mm)", lambda a: a.get("cervix_length_rendered_mm",
                                                                       a["cervix_length_mm"])),
    "minor_length[endometrium]": ("endometrium, double layer (mm)",
                                  lambda a: a["uterus"]["endometrial_thickness_mm"]),
    "thickness[junctional_zone]": ("junctional zone (mm)",
                                   lambda a: a["uterus"]["junctional_zone_thickness_mm"]),
    "volume[ovary_left]": ("left ovary (mL)", lambda a: a["ovary_volume_ml"]["left"]),
    "volume[ovary_right]": ("right ovary (mL)", lambda a: a["ovary_volume_ml"]["right"]),
}


def measure(n: int, seed: int) -> list[dict[str, Any]]:
    """One row per study: menopausal status, per term (truth, measured, penalty), loss and the uterus's
    principal-axis standard deviation."""
    from tqdm import tqdm

    from maerad.data.phantom import generate_case
    from maerad.losses.anatomy import phantom_region_masks, region_moments, uterine_prior_loss

    rows = []
    for s in tqdm(range(seed, seed + n), desc="phantom studies", unit="study"):
        study = generate_case("normal", seed=s).study
        anatomy = study.metadata["anatomy"]
        post = anatomy["menopausal_status"] == "postmenopausal"
        masks = phantom_region_masks(study.labels[None], study.spacing)
        t2w = torch.from_numpy(np.ascontiguousarray(study.sequences["t2w"], dtype=np.float32))[None, None]
        out = uterine_prior_loss(menopausal="post" if post else "pre")(t2w, masks, study.spacing)
        _, _, cov = region_moments(masks["uterus"], study.spacing)
        terms = {name: {"true": float(truth(anatomy)), "measured": float(out.values[name][0]),
                        "penalty": float(out.penalties[name][0])} for name, (_, truth) in TRUTH.items()}
        rows.append({"seed": s, "postmenopausal": post, "terms": terms, "loss": float(out.loss),
                     "uterus_sd_mm": float(torch.linalg.eigvalsh(cov)[0, -1].sqrt())})
    return rows


def summarise(rows: list[dict[str, Any]]) -> dict[str, Any]:
    table = {}
    for name, (what, _) in TRUTH.items():
        ratios = [r["terms"][name]["measured"] / r["terms"][name]["true"] for r in rows
                  if r["terms"][name]["true"] > 0]
        table[name] = {"quantity": what, "ratio_min": min(ratios), "ratio_median": statistics.median(ratios),
                       "ratio_max": max(ratios),
                       "penalised": sum(r["terms"][name]["penalty"] > 0 for r in rows)}
    factor = statistics.median(r["terms"]["major_length[uterus]"]["true"] / r["uterus_sd_mm"] for r in rows)
    return {"terms": table, "studies": len(rows), "loss_nonzero": sum(r["loss"] > 0 for r in rows),
            "loss_max": max(r["loss"] for r in rows), "uterus_length_factor_median": factor}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=30, help="normal phantom studies (default: %(default)s)")
    parser.add_argument("--seed", type=int, default=200, help="first phantom seed (default: %(default)s)")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    rows = measure(args.n, args.seed)
    summary = summarise(rows)
    print(f"\nuterine_prior_loss on the ground truth of {summary['studies']} normal phantom studies "
          f"(seeds {args.seed}-{args.seed + args.n - 1}; synthetic data)")
    print(f"{'term':28} {'quantity':32} {'measured / true: min':>21} {'median':>7} {'max':>6} "
          f"{'penalised':>10}")
    for name, row in summary["terms"].items():
        print(f"{name:28} {row['quantity']:32} {row['ratio_min']:21.2f} {row['ratio_median']:7.2f} "
              f"{row['ratio_max']:6.2f} {row['penalised']:>10}")
    print(f"studies with a non-zero loss: {summary['loss_nonzero']} (largest {summary['loss_max']:.4f}); "
          f"median true length / uterus sd: {summary['uterus_length_factor_median']:.2f}")
    payload = {"benchmark": "uterine_priors_probe", "synthetic": True, "seed": args.seed,
               "python": sys.version.split()[0], "platform": platform.platform(), "summary": summary,
               "rows": rows}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    write_text_atomic(args.out, json.dumps(payload, indent=2) + "\n")
    print(f"written to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
