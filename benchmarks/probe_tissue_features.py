"""Are a generator's *predicted* tissue statistics as informative as the ground truth's?

Synthetic data only: every number this writes is measured on the maerad phantom, not on patients.

The label-budget probe (``probe_label_budget.py``) shows that the tissue statistics of the
**ground-truth** label maps (group volumes and contacts,
:func:`maerad.report.generation.tissue.tissue_statistics`) let linear models predict the FIGO
stage and the key fields at 256 labels. This script asks the same of the statistics a trained
generator *predicts*:

* ``token head``: a generator fine-tuned with tissue supervision (``--tissue-supervision``); the shares
  come from its per-token tissue head on the 4 × 16 × 16-voxel tokens;
* ``segmenter``: a generator fine-tuned with ``--tissue-segmenter``; the shares come from its voxel-level
  U-Net, averaged over its cells (2 × 8 × 8 voxels by default).

For each source, and for the ground truth on the same grid, L2-regularised logistic regressions (one
per key field, and for the stage) and a ridge regression of the maximum tumour diameter are fitted on
the training studies and scored on the test studies (penalty by 4-fold cross-validation on the training
studies only), exactly as in ``probe_label_budget.py``.

Usage::

    python benchmarks/probe_tissue_features.py --data /tmp/m256/data \\
        --token-head RUN/finetune/checkpoint --segmenter RUN2/finetune/checkpoint
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from probe_label_budget import probe, save_results

RESULTS = Path(__file__).resolve().parent / "results" / "tissue_features_probe.json"


def _studies(data: Path, split: str) -> list[Path]:
    return sorted(p for p in (data / split).iterdir() if p.is_dir())


def features(checkpoint: str, data: Path, split: str, source: str) -> dict[str, Any]:
    """Predicted and ground-truth tissue statistics (same grid) and the true fields of one split."""
    from tqdm import tqdm

    from maerad.data.study_folder import load_study
    from maerad.report.generation.generator import ReportGenerator
    from maerad.report.generation.targets import targets_from_metadata
    from maerad.report.generation.tissue import tissue_statistics, token_composition
    from maerad.terminology.bundled import load_bundled
    from maerad.terminology.consistency import ConsistencyChecker

    gen = ReportGenerator.from_checkpoint(checkpoint)
    gen.model.eval()
    groups = list(gen.config.tissue_groups.values())
    segmenter = gen.config.tissue_segmenter
    if source == "segmenter" and segmenter is None:
        raise SystemExit(f"{checkpoint}: this generator has no tissue segmenter")
    if source == "token head" and gen.model.tissue_head is None:
        raise SystemExit(f"{checkpoint}: this generator has no tissue head")
    block = segmenter.cell if source == "segmenter" and segmenter is not None else gen.spec.token_shape
    graph = load_bundled()
    checker = ConsistencyChecker(graph)
    predicted, true, fields, stages = [], [], [], []
    for folder in tqdm(_studies(data, split), desc=f"{source} {split}", unit="study"):
        study = load_study(folder)
        targets = targets_from_metadata(study.metadata, graph=graph, checker=checker)
        if targets is None or study.labels is None:
            continue
        x = gen.study_input(study)
        with torch.no_grad():
            if source == "segmenter":
                shares = gen.model.segmenter_shares(x)
            else:
                tokens, _ = gen.model.encode(x)
                shares = torch.softmax(gen.model.tissue_logits(tokens).float(), dim=-1)
        assert shares is not None
        labels = torch.from_numpy(study.labels.astype(np.int64)).unsqueeze(0)
        predicted.append(shares[0].float())
        true.append(token_composition(labels, groups, block)[0])
        fields.append(dict(targets.report.values()))
        stages.append(str(targets.headline))
    return {"features": {"predicted": tissue_statistics(torch.stack(predicted)),
                         "ground truth": tissue_statistics(torch.stack(true))},
            "fields": fields, "stages": stages, "block": list(block)}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--data", type=Path, required=True, help="folder with train/ and test/ study folders")
    p.add_argument("--token-head", help="generator checkpoint fine-tuned with --tissue-supervision")
    p.add_argument("--segmenter", help="generator checkpoint fine-tuned with --tissue-segmenter")
    p.add_argument("--out", type=Path, default=RESULTS)
    args = p.parse_args(argv)
    torch.set_num_threads(2)
    t0 = time.perf_counter()
    sources = {name: ckpt for name, ckpt in (("token head", args.token_head), ("segmenter", args.segmenter))
               if ckpt}
    if not sources:
        p.error("give --token-head and / or --segmenter")
    rows = []
    for source, ckpt in sources.items():
        train = features(ckpt, args.data, "train", source)
        test = features(ckpt, args.data, "test", source)
        for kind in ("ground truth", "predicted"):
            row = probe(train, test, kind, len(train["fields"]))
            row.update(source=source, statistics=kind, block=train["block"])
            rows.append(row)
    print("\nSYNTHETIC phantom data — not clinical validation\n")
    print(f"{'source':<12}{'statistics':<14}{'cell':<12}{'stage':>7}{'(major.)':>9}{'key':>7}"
          f"{'(major.)':>9}{'size MAE':>10}")
    for r in rows:
        cell = "x".join(str(v) for v in r["block"])
        print(f"{r['source']:<12}{r['statistics']:<14}{cell:<12}{r['stage_accuracy']:>7.3f}"
              f"{r['stage_majority']:>9.3f}{r['key_field_accuracy']:>7.3f}{r['key_field_majority']:>9.3f}"
              f"{r['size_mae_mm']:>10.1f}")
    save_results(args.out, {"synthetic_data": True, "data": str(args.data), "checkpoints": sources,
                            "n_train": rows[0]["labels"], "rows": rows}, t0)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
