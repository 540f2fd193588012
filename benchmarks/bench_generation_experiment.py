"""Does pre-training help report generation? Scratch vs MAE (random / lesion-aware masking) vs MAE-P.

Synthetic data only: every number this writes is measured on the maerad phantom, not on patients.

Protocol (the same for every arm; only the encoder's initialisation differs):

* **data** — cervical phantom studies (default size 24×128×128, T2W / DWI / ADC / T1c), generated once
  into ``WORK/data``: ``train`` (``--n-train`` studies, seed 100) and ``test`` (``--n-test``, seed 102,
  disjoint). The data are the same for every seed; the seed changes initialisation, masks and order.
* **pre-training** (not for ``scratch``) — ``--pretrain-steps`` MAE steps (batch 8) on *all* training
  studies without labels, the demo's ViT (4 blocks, 96 wide, 3D patches (4, 16, 16)):
  ``random`` = random masking 75 %; ``lesion_aware`` = lesion-aware masking 75 % with the lesion map
  from the phantom's tumour / node labels; ``maep`` = the pyramid MAE-P of the same width and depth with
  random masking.
* **fine-tuning** — the report generator on the first ``--labels`` training studies (the label budget),
  ``--finetune-steps`` steps, batch 8, shift / intensity augmentation, the same settings for every arm.
* **evaluation** — ``maerad evaluate`` on the test split: FIGO 2018 stage exact accuracy and key-field
  accuracy (mandatory concept / boolean fields), plus size MAE and the per-run JSON; the same two
  accuracies on the labelled training studies (the first 64 of them at most) show how well each
  generator fits its own labels.

Each run writes ``WORK/runs/<arm>-s<seed>/result.json`` and is skipped when that file exists, so an
interrupted experiment continues where it stopped (use a new ``WORK`` folder when changing the
protocol: cached runs are not compared with the current settings). The summary (mean ± sd over
seeds) is printed as a table and written to ``benchmarks/results/generation_experiment.json``.

Usage::

    python benchmarks/bench_generation_experiment.py --work /tmp/maerad-exp          # full (≈ 1 h, 2 cores)
    python benchmarks/bench_generation_experiment.py --work /tmp/q --quick           # smoke run
    python benchmarks/bench_generation_experiment.py --work /tmp/maerad-exp --arms scratch random --seeds 0
    python benchmarks/bench_generation_experiment.py --work /tmp/maerad-exp --summary-only  # finished runs
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path
from typing import Any

import torch

from host_meta import host_record, write_json
from maerad.atomic import write_text_atomic

RESULTS = Path(__file__).resolve().parent / "results" / "generation_experiment.json"
ARMS = ("scratch", "random", "lesion_aware", "maep")
SEQUENCES = ["t2w", "dwi_b800", "adc", "t1c"]
PATCH = [4, 16, 16]
TRAIN_SEED, TEST_SEED = 100, 102
FIT_LIMIT = 64
TEMPLATE = "cervix-figo2018"
"""The fit to the labelled studies is measured on at most this many of them (evaluation time)."""


def encoder_kwargs() -> dict[str, Any]:
    """The demo's small ViT (see :data:`maerad.cli.demo.DEMO_MODEL`)."""
    from maerad.cli.demo import DEMO_MODEL

    return dict(DEMO_MODEL)


def make_data(work: Path, n_train: int, n_test: int) -> Path:
    """Cervical phantom train / test splits under ``work/data`` (reused when present and complete)."""
    from maerad.data.phantom import write_phantom_dataset

    data = work / "data"
    for name, n, seed in (("train", n_train, TRAIN_SEED), ("test", n_test, TEST_SEED)):
        index = data / name / "index.json"
        if index.exists() and len(json.loads(index.read_text(encoding="utf-8"))["cases"]) == n:
            continue
        print(f"phantom: {n} cervical {name} studies (seed {seed})")
        write_phantom_dataset(data / name, n, kind="cervical", seed=seed, progress=True)
    return data


def pretrain_arm(arm: str, seed: int, data: Path, run: Path, steps: int, threads: int) -> tuple[str, float]:
    """Pre-train the encoder of ``arm``; returns the checkpoint path and the seconds it took."""
    from maerad.data.phantom import LABELS
    from maerad.train.config import PretrainConfig
    from maerad.train.pretrain import pretrain

    masking = "lesion_aware" if arm == "lesion_aware" else "random"
    lesions = [LABELS["tumour_cervix"], LABELS["node_suspicious"]] if masking == "lesion_aware" else None
    checkpoint = run / "pretrain" / "checkpoint"
    state, timing = checkpoint / "state.json", run / "pretrain_seconds.json"
    done = state.exists() and timing.exists()
    if done and json.loads(state.read_text(encoding="utf-8")).get("step") == steps:
        return str(checkpoint), float(json.loads(timing.read_text(encoding="utf-8")))  # done before
    config = PretrainConfig(
        data=str(data / "train"), out=str(run / "pretrain"), sequences=SEQUENCES,
        model="maep_tiny" if arm == "maep" else "mae_vit_tiny", model_kwargs=encoder_kwargs(),
        patch_size=PATCH, masking=masking,
        lesion_labels=lesions,
        max_steps=steps, batch_size=8, lr=1.5e-3, warmup_steps=max(1, steps // 10), seed=seed,
        num_threads=threads, log_every=max(1, steps // 10), image_every=0,
    )
    t0 = time.perf_counter()
    result = pretrain(config, overwrite=True, progress=True, log=print)  # an unfinished run starts again
    seconds = time.perf_counter() - t0
    write_text_atomic(timing, json.dumps(round(seconds, 1)) + "\n")
    return str(result.checkpoint), seconds


def finetune_arm(arm: str, seed: int, data: Path, run: Path, pretrained: str | None,
                 args: argparse.Namespace) -> tuple[Any, float, dict[str, Any]]:
    """Fine-tune the report generator; returns the generator, the seconds and a summary."""
    from maerad.train.finetune import FinetuneConfig, finetune

    config = FinetuneConfig(
        data=str(data), out=str(run / "finetune"), pretrained=pretrained, labels=args.labels, split="train",
        segmenter_from=trained_segmenter(args.work, seed, args) if args.tissue_segmenter else None,
        model="mae_vit_tiny", mode="3d", patch_size=PATCH, model_kwargs=encoder_kwargs(),
        max_steps=args.finetune_steps, batch_size=8, lr=1e-3, layer_decay=0.75, balance=args.balance,
        augment=not args.no_augment, tissue_supervision=args.tissue or args.tissue_summary,
        tissue_summary=args.tissue_summary, tissue_segmenter=args.tissue_segmenter,
        segmenter_steps=args.segmenter_steps, seed=seed, num_threads=args.threads,
    )
    t0 = time.perf_counter()
    result = finetune(config, progress=True, log=print)
    summary = {"steps": result.steps, "first_loss": result.losses[0], "final_loss": result.losses[-1],
               "n_labelled": result.n_labelled}
    return result.generator, time.perf_counter() - t0, summary


def run_folder(work: Path, arm: str, seed: int) -> Path:
    """Where one arm / seed run keeps its checkpoints and results (``result.json`` once finished)."""
    return work / "runs" / f"{arm}-s{seed}"


def trained_segmenter(work: Path, seed: int, args: argparse.Namespace) -> str | None:
    """The checkpoint of a finished arm of this seed whose tissue segmenter was trained with the same
    settings. The segmenter sees only the labelled studies, not the encoder, so the other arms of the
    seed reuse it: every arm then reads the same segmenter, which isolates the encoder's effect and
    saves the segmenter's training time."""
    for arm in ARMS:
        finished = run_folder(work, arm, seed) / "finetune"
        if not (finished.parent / "result.json").exists() or not (finished / "config.json").exists():
            continue
        settings = json.loads((finished / "config.json").read_text(encoding="utf-8"))
        same = (settings.get("segmenter_steps") == args.segmenter_steps
                and settings.get("labels") == args.labels
                and settings.get("augment") == (not args.no_augment))
        if settings.get("tissue_segmenter") and settings.get("segmenter_from") is None and same:
            return str(finished / "checkpoint")
    return None


def run_one(arm: str, seed: int, data: Path, work: Path, args: argparse.Namespace) -> dict[str, Any]:
    """Pre-train (unless scratch), fine-tune and evaluate one arm with one seed; cached on disk."""
    from maerad.cli.evaluate import evaluate_checkpoint

    run = run_folder(work, arm, seed)
    done = run / "result.json"
    if done.exists():
        result = dict(json.loads(done.read_text(encoding="utf-8")))
        stale = False
        if "train_stage_accuracy" not in result:  # runs from before this measurement existed
            result.update(fit_scores(run / "finetune" / "checkpoint", data, run, min(args.labels, FIT_LIMIT)))
            stale = True
        if "field_accuracy" not in result:  # likewise, read from the run's own evaluation
            metrics = json.loads((run / "metrics.json").read_text(encoding="utf-8"))
            result["field_accuracy"] = field_accuracy(metrics)
            stale = True
        if stale:
            write_text_atomic(done, json.dumps(result, indent=2) + "\n")
        return result
    run.mkdir(parents=True, exist_ok=True)
    print(f"\n=== {arm}, seed {seed} ===")
    torch.manual_seed(seed)
    pretrained, pretrain_s = (None, 0.0)
    if arm != "scratch":
        pretrained, pretrain_s = pretrain_arm(arm, seed, data, run, args.pretrain_steps, args.threads)
    generator, finetune_s, ft = finetune_arm(arm, seed, data, run, pretrained, args)
    evaluate_checkpoint(None, data, split="test", out=run / "metrics.json", generator=generator, threads=1,
                        progress=False, n_bootstrap=200, text_metrics=False)
    metrics = json.loads((run / "metrics.json").read_text(encoding="utf-8"))
    result = {"arm": arm, "seed": seed, "stage_accuracy": metrics["stage_accuracy"],
              "key_field_accuracy": metrics["key_field_accuracy"], "size_mae_mm": metrics.get("size_mae_mm"),
              "n_test": metrics["n_test"], "pretrain_s": round(pretrain_s, 1),
              "finetune_s": round(finetune_s, 1), "finetune": ft, "field_accuracy": field_accuracy(metrics),
              **fit_scores(generator, data, run, min(args.labels, FIT_LIMIT))}
    write_text_atomic(done, json.dumps(result, indent=2) + "\n")
    return result


def fit_scores(generator: Any, data: Path, run: Path, labels: int) -> dict[str, Any]:
    """Stage and key-field accuracy on the labelled training studies themselves: how well the
    generator fits what it was trained on (a generator or a checkpoint path)."""
    from maerad.cli.evaluate import evaluate_checkpoint

    gen = None if isinstance(generator, Path) else generator
    evaluate_checkpoint(generator if gen is None else None, data, split="train", limit=labels,
                        out=run / "metrics_train.json", generator=gen, threads=1, progress=False,
                        n_bootstrap=10, text_metrics=False)
    metrics = json.loads((run / "metrics_train.json").read_text(encoding="utf-8"))
    return {"train_stage_accuracy": metrics["stage_accuracy"],
            "train_key_field_accuracy": metrics["key_field_accuracy"]}


def key_fields() -> list[str]:
    """The key fields: mandatory, non-derived, categorical fields of the cervical template."""
    from maerad.report.templates import get_template

    template = get_template(TEMPLATE)
    return [f.id for f in template.fields
            if f.mandatory and not f.derived and f.type not in ("number", "text")]


def field_accuracy(metrics: dict[str, Any]) -> dict[str, float | None]:
    """Per key field test accuracy, from a ``maerad evaluate`` metrics document."""
    fields = metrics["fields"][TEMPLATE]
    return {key: fields.get(f"{key}/accuracy") for key in key_fields()}


def majority_baseline(data: Path, labels: int) -> dict[str, Any]:
    """What a generator that ignores the image scores: every key field set to its most frequent value
    among the labelled training reports, and the most frequent labelled stage."""
    from collections import Counter

    from maerad.report.generation.cases import labelled_cases, split_study_folders

    train = labelled_cases(split_study_folders(data, "train"), limit=labels)
    test = labelled_cases(split_study_folders(data, "test"))
    keys = key_fields()

    def frozen(value: object) -> object:
        return tuple(sorted(value)) if isinstance(value, list) else value

    majority = {}
    for key in keys:
        seen = Counter(frozen(c.targets.report.values().get(key)) for c in train)
        seen.pop(None, None)
        if seen:
            majority[key] = seen.most_common(1)[0][0]
    hits = total = 0
    for case in test:
        values = case.targets.report.values()
        for key in keys:
            if values.get(key) is not None:
                total += 1
                hits += frozen(values[key]) == majority.get(key)
    stage = Counter(c.targets.headline for c in train).most_common(1)[0][0]
    return {"stage_accuracy": sum(c.targets.headline == stage for c in test) / len(test),
            "key_field_accuracy": hits / max(total, 1), "majority_stage": stage, "n_test": len(test)}


def _mean_sd(values: list[float | None]) -> dict[str, float | None]:
    xs = [float(v) for v in values if v is not None]
    if not xs:
        return {"mean": None, "sd": None}
    return {"mean": statistics.fmean(xs), "sd": statistics.stdev(xs) if len(xs) > 1 else 0.0}


def summarise(results: list[dict[str, Any]], arms: list[str]) -> dict[str, Any]:
    """Mean ± sd over seeds per arm."""
    out: dict[str, Any] = {}
    for arm in arms:
        rows = [r for r in results if r["arm"] == arm]
        out[arm] = {"n_seeds": len(rows),
                    **{k: _mean_sd([r[k] for r in rows])
                       for k in ("stage_accuracy", "key_field_accuracy", "size_mae_mm",
                                 "train_stage_accuracy", "train_key_field_accuracy", "pretrain_s",
                                 "finetune_s")}}
    return out


def paired_differences(results: list[dict[str, Any]], arms: list[str],
                       reference: str = "scratch") -> dict[str, Any]:
    """Each arm minus ``reference`` within a seed (same data order and test split), mean ± sd over the
    seeds both ran, and in how many seeds the arm was ahead / level / behind."""
    by_key = {(r["arm"], r["seed"]): r for r in results}
    out: dict[str, Any] = {}
    for arm in arms:
        if arm == reference:
            continue
        seeds = sorted(s for (a, s) in by_key if a == arm and (reference, s) in by_key)
        row: dict[str, Any] = {"seeds": seeds}
        for key in ("stage_accuracy", "key_field_accuracy"):
            diffs = [by_key[(arm, s)][key] - by_key[(reference, s)][key] for s in seeds
                     if by_key[(arm, s)][key] is not None and by_key[(reference, s)][key] is not None]
            row[key] = {**_mean_sd(diffs), "ahead": sum(d > 0 for d in diffs),
                        "level": sum(d == 0 for d in diffs), "behind": sum(d < 0 for d in diffs)}
        out[arm] = row
    return out


def field_summary(results: list[dict[str, Any]], arms: list[str]) -> dict[str, dict[str, float | None]]:
    """Per key field: the mean test accuracy over seeds of each arm (``None`` when no run has it)."""
    out: dict[str, dict[str, float | None]] = {}
    for key in key_fields():
        out[key] = {}
        for arm in arms:
            values = [r["field_accuracy"][key] for r in results
                      if r["arm"] == arm and r.get("field_accuracy", {}).get(key) is not None]
            out[key][arm] = statistics.fmean(values) if values else None
    return out


def field_table(fields: dict[str, dict[str, float | None]], arms: list[str]) -> str:
    """A plain-text table: key fields as rows, arms as columns (mean test accuracy over seeds)."""
    lines = [f"{'key field':<26}" + "".join(f"{arm:>14}" for arm in arms)]
    for key, row in fields.items():
        lines.append(f"{key:<26}" + "".join(
            f"{'-' if row[arm] is None else format(row[arm], '.3f'):>14}" for arm in arms))
    return "\n".join(lines)


def table(summary: dict[str, Any]) -> str:
    """A plain-text table of the summary."""
    def cell(stat: dict[str, float | None], digits: int = 3) -> str:
        if stat["mean"] is None:
            return "-"
        return f"{stat['mean']:.{digits}f} ± {stat['sd']:.{digits}f}"

    lines = [f"{'arm':<14}{'seeds':>6}  {'stage accuracy':>16}  {'key-field acc.':>16}  {'size MAE mm':>14}"
             f"  {'train stage acc.':>17}  {'train key-field':>16}"]
    for arm, row in summary.items():
        lines.append(f"{arm:<14}{row['n_seeds']:>6}  {cell(row['stage_accuracy']):>16}  "
                     f"{cell(row['key_field_accuracy']):>16}  {cell(row['size_mae_mm'], 1):>14}  "
                     f"{cell(row['train_stage_accuracy']):>17}  {cell(row['train_key_field_accuracy']):>16}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--work", type=Path, required=True, help="working folder (data, runs; resumable)")
    p.add_argument("--arms", nargs="+", choices=ARMS, default=list(ARMS))
    p.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    p.add_argument("--n-train", type=int, default=64, help="training studies (all used for pre-training)")
    p.add_argument("--n-test", type=int, default=32)
    p.add_argument("--labels", type=int, default=32, help="label budget: labelled training studies")
    p.add_argument("--pretrain-steps", type=int, default=400)
    p.add_argument("--finetune-steps", type=int, default=400)
    p.add_argument("--balance", type=float, default=0.0, help="class balancing of the pointer loss")
    p.add_argument("--no-augment", action="store_true", help="fine-tune without augmentation")
    p.add_argument("--tissue", action="store_true",
                   help="tissue supervision: the labelled studies' label maps as an auxiliary target")
    p.add_argument("--tissue-summary", action="store_true",
                   help="tissue supervision, and the predicted tissue volumes / contacts feed the decoder")
    p.add_argument("--tissue-segmenter", action="store_true",
                   help="a voxel-level U-Net tissue segmenter, trained first on the labelled studies' label "
                   "maps, feeds its predicted tissue volumes / contacts to the decoder")
    p.add_argument("--segmenter-steps", type=int, default=800, help="training steps of the tissue segmenter")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--pretrain-only", action="store_true", help="only pre-train the encoders (cached)")
    p.add_argument("--summary-only", action="store_true",
                   help="summarise the runs finished in WORK; train nothing (missing runs are listed)")
    p.add_argument("--quick", action="store_true", help="tiny smoke run (not a result)")
    p.add_argument("--out", type=Path, default=RESULTS)
    args = p.parse_args(argv)
    if args.quick:
        args.n_train, args.n_test, args.labels = 8, 4, 8
        args.pretrain_steps, args.finetune_steps, args.seeds = 4, 4, args.seeds[:1]
        args.segmenter_steps = 2
    data = make_data(args.work, args.n_train, args.n_test)
    if args.pretrain_only:  # pre-train every encoder first; fine-tuning runs reuse the checkpoints
        for seed in args.seeds:
            for arm in (a for a in args.arms if a != "scratch"):
                run = run_folder(args.work, arm, seed)
                print(f"\n=== pre-training {arm}, seed {seed} ===")
                torch.manual_seed(seed)
                pretrain_arm(arm, seed, data, run, args.pretrain_steps, args.threads)
        return 0
    pairs = [(arm, seed) for seed in args.seeds for arm in args.arms]
    if args.summary_only:
        missing = [(arm, seed) for arm, seed in pairs
                   if not (run_folder(args.work, arm, seed) / "result.json").exists()]
        if missing:
            print("not finished (left out): " + ", ".join(f"{arm} seed {seed}" for arm, seed in missing))
        pairs = [pair for pair in pairs if pair not in missing]
    results = [run_one(arm, seed, data, args.work, args) for arm, seed in pairs]
    summary = summarise(results, args.arms)
    baseline = majority_baseline(data, args.labels)
    print("\nSYNTHETIC phantom data — not clinical validation\n")
    print(table(summary))
    print(f"{'majority':<14}{'-':>6}  {baseline['stage_accuracy']:>16.3f}  "
          f"{baseline['key_field_accuracy']:>16.3f}   (most frequent labelled value per field; no image)")
    paired = paired_differences(results, args.arms) if "scratch" in args.arms else {}
    if paired:
        print("\nminus scratch, same seed (mean ± sd; seeds ahead / level / behind):")
        for arm, row in paired.items():
            st, kf = row["stage_accuracy"], row["key_field_accuracy"]
            if st["mean"] is None:
                continue
            print(f"  {arm:<14} stage {st['mean']:+.3f} ± {st['sd']:.3f} ({st['ahead']}/{st['level']}/"
                  f"{st['behind']})   key fields {kf['mean']:+.3f} ± {kf['sd']:.3f} "
                  f"({kf['ahead']}/{kf['level']}/{kf['behind']})")
    fields = field_summary(results, args.arms)
    print("\nkey-field test accuracy per field, mean over seeds:\n" + field_table(fields, args.arms))
    payload = {
        "synthetic_data": True,
        "note": "Measured on maerad's synthetic pelvic-MRI phantom; not clinical validation.",
        "protocol": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
        "encoder": encoder_kwargs(), "patch_size": PATCH, "sequences": SEQUENCES,
        "host": host_record(synthetic_data=True),
        "summary": summary, "paired_vs_scratch": paired, "fields": fields, "majority_baseline": baseline,
        "runs": results,
    }
    if not args.quick:
        write_json(args.out, payload)
        print(f"\nwrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
