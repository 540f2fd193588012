"""``maerad evaluate``: score a report generator on labelled studies with ``maerad.eval``.

For every labelled study of the split (phantom ground truth, :mod:`maerad.report.generation.targets`)
reported with one of the generator's templates (others are counted in ``n_skipped_other_templates``),
the generator writes a report; the scores are:

* ``stage_accuracy`` — FIGO 2018 cervical stage exact accuracy (rule-derived stage of the generated
  report vs the phantom's), with a confusion-matrix PNG; ``figo2009_stage_accuracy`` (endometrium),
  ``orads_score_accuracy`` (adnexa and normal controls), ``template_accuracy``;
* ``key_field_accuracy`` — correct (case, field) pairs over the mandatory, non-derived categorical
  fields (booleans and concepts) of each case's template; per-field accuracy and macro-F1 under
  ``fields``;
* ``size_mae_mm`` (tumour / lesion maximum diameter), ``volume_relative_error`` (cervical tumour
  volume);
* ``completeness`` (mandatory fields filled, by each generated report's own template rules),
  ``consistency_violations`` (terminology flags), ``rule_model_stage_agreement`` (rule-derived vs
  direct stage head);
* ``bleu`` / ``rouge_l`` of the English text against the ground-truth report's text (secondary);
* 95 % CIs: Wilson score intervals for the per-case accuracies (stage, O-RADS, template; the table
  shows ``k/n`` next to them), a bootstrap over cases for ``key_field_accuracy`` (its (case, field)
  pairs are clustered by case) and for the errors. A percentile bootstrap of an accuracy collapses to
  a point when every case is right or every case is wrong; where the key-field bootstrap collapses,
  the Wilson interval with the cases as units is given instead (``n_key_field_cases``).

Synthetic data are labelled as such in the table and in ``metrics.json`` (``synthetic_data``).

Examples::

    maerad evaluate --checkpoint ft/checkpoint --data phantom --split test --out results/metrics.json
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from maerad.progress import progress_iter

__all__ = ["EvaluationResult", "add_parser", "evaluate_checkpoint", "evaluate_generations", "run"]

SIZE_FIELDS = {"cervix-figo2018": "max_diameter_mm", "endometrium-figo2009": "tumour_size_mm",
               "adnexa-orads-mri": "lesion_max_diameter_mm"}
VOLUME_FIELDS = {"cervix-figo2018": "tumour_volume_ml"}
STAGE_METRICS = {"cervix-figo2018": "stage_accuracy", "endometrium-figo2009": "figo2009_stage_accuracy",
                 "adnexa-orads-mri": "orads_score_accuracy"}
SYNTHETIC_NOTE = "synthetic phantom data: software validation, not clinical validation"


@dataclass
class EvaluationResult:
    """What :func:`evaluate_checkpoint` returns: the metrics (as in ``metrics.json``), the printed
    table, the confusion-matrix figure path (None without cervical cases or output folder) and the
    generations."""

    metrics: dict[str, Any]
    table: str
    figure: Path | None = None
    generations: list[Any] = field(default_factory=list)


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``maerad evaluate``."""
    p = subparsers.add_parser(
        "evaluate", help="score a report generator on labelled (phantom) studies",
        description="Generate a report for every labelled study of a split and score it: per-field accuracy "
        "and macro-F1, FIGO stage accuracy with a confusion matrix, O-RADS accuracy, size MAE, volume error, "
        "completeness, consistency violations, rule-vs-model stage agreement, BLEU/ROUGE-L, 95 % CIs "
        "(Wilson for accuracies, bootstrap for errors).")
    p.add_argument("--checkpoint", required=True, help="report-generator checkpoint (from maerad finetune)")
    p.add_argument("--data", required=True, help="folder of study folders")
    p.add_argument("--split", default="test", choices=("train", "val", "test", "all"),
                   help="which split to score (default: %(default)s)")
    p.add_argument("--out", type=Path, help="write metrics JSON here (the confusion PNG goes next to it)")
    p.add_argument("--beam", type=int, default=1, help="beam size (1: greedy with backtracking)")
    p.add_argument("--limit", type=int, help="score only the first N labelled studies")
    p.add_argument("--bootstrap", type=int, default=1000, help="bootstrap resamples (default: %(default)s)")
    p.add_argument("--no-text-metrics", action="store_true", help="skip BLEU / ROUGE-L")
    p.add_argument("--threads", type=int, help="torch threads while generating (1 is often fastest)")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Evaluate and print the metric table."""
    from maerad.errors import ConfigError

    if min(args.beam, args.bootstrap, args.limit or 1, args.threads or 1) < 1:
        raise ConfigError("--beam, --bootstrap, --limit and --threads must be at least 1")
    result = evaluate_checkpoint(args.checkpoint, args.data, split=args.split, out=args.out,
                                 beam_size=args.beam, limit=args.limit, n_bootstrap=args.bootstrap,
                                 text_metrics=not args.no_text_metrics, progress=not args.no_progress,
                                 threads=args.threads)
    print(result.table)
    if args.out is not None:
        print(f"metrics written to {args.out}")
    return 0


def evaluate_checkpoint(checkpoint: str | os.PathLike[str] | None, data: str | os.PathLike[str], *,
                        split: str = "test", out: str | os.PathLike[str] | None = None, beam_size: int = 1,
                        limit: int | None = None, n_bootstrap: int = 1000, text_metrics: bool = True,
                        progress: bool = True, generator: Any = None,
                        threads: int | None = None) -> EvaluationResult:
    """Load a generator (or use ``generator``), generate a report per labelled study and score them.

    Args:
        checkpoint: report-generator checkpoint folder (ignored when ``generator`` is given).
        data: folder of study folders; split: ``train`` / ``val`` / ``test`` / ``all``
            (:func:`maerad.train.finetune.split_study_folders`).
        out: path of ``metrics.json`` (written atomically; ``stage_confusion.png`` next to it).
        beam_size, limit, n_bootstrap, text_metrics, progress, threads: see ``maerad evaluate --help``.
        generator: an already loaded :class:`~maerad.report.generation.ReportGenerator`.

    Raises:
        ConfigError: no labelled study in the split. CheckpointError / InputError: unreadable inputs.
    """
    from maerad.errors import ConfigError
    from maerad.report.generation.cases import labelled_cases, split_study_folders
    from maerad.report.generation.generator import ReportGenerator

    if generator is not None:
        gen = generator
    elif checkpoint is not None:
        gen = ReportGenerator.from_checkpoint(checkpoint)
    else:
        raise ConfigError("give a checkpoint or a generator to evaluate")
    written = [t.id for t in gen.templates]
    everything = labelled_cases(split_study_folders(data, split), graph=gen.graph)
    cases = [c for c in everything if c.targets.template in written][:limit]
    if not cases:
        raise ConfigError(f"{data}: no labelled study of split {split!r} is reported with a template of the "
                          f"generator ({', '.join(written)})")
    generations = []
    for case in progress_iter(cases, desc="evaluate", unit="study", enabled=progress):
        generations.append(gen.generate_detailed(case.folder, beam_size=beam_size, threads=threads))
    skipped = sum(c.targets.template not in written for c in everything)
    return evaluate_generations([c.targets for c in cases], generations, out=out, n_bootstrap=n_bootstrap,
                                text_metrics=text_metrics, extra={"n_skipped_other_templates": skipped},
                                split=split)


def _ci(fn: Callable[..., Any], *arrays: Any, n: int, batched: bool = False) -> Any:
    from maerad.eval import bootstrap_ci

    return bootstrap_ci(fn, *arrays, n_resamples=n, seed=0, batched=batched)


def _mean_ci(values: Sequence[float], n: int) -> Any:
    return _ci(lambda a: a.mean(axis=-1), np.asarray(values, dtype=np.float64), n=n, batched=True)


def _key_field_ci(hits: Any, totals: Any, n: int) -> Any:
    """Bootstrap (over cases) CI of the pooled key-field accuracy; where it collapses to a point
    (every case all right or all wrong), the Wilson interval with the cases as units instead."""
    from maerad.eval import wilson_interval

    result = _ci(lambda h, t: h.sum(axis=-1) / np.maximum(t.sum(axis=-1), 1), hits, totals, n=n, batched=True)
    if not result.low < result.high:
        cases = int(np.count_nonzero(totals))
        fallback = wilson_interval(round(result.estimate * cases), cases)
        return dataclasses.replace(fallback, estimate=result.estimate)
    return result


def evaluate_generations(truths: Sequence[Any], generations: Sequence[Any], *,
                         out: str | os.PathLike[str] | None = None, n_bootstrap: int = 1000,
                         text_metrics: bool = True, extra: dict[str, Any] | None = None,
                         split: str | None = None) -> EvaluationResult:
    """Score generations (:class:`~maerad.report.generation.Generation`) against their
    :class:`~maerad.report.generation.targets.CaseTargets` (module docstring for the metrics);
    ``extra`` entries are added to the metrics after ``n_test``; ``split`` names the split in the
    confusion figure's title."""
    from maerad.atomic import atomic_path, write_text_atomic
    from maerad.eval import (
        FieldKind,
        accuracy,
        agreement_rate,
        confusion_matrix,
        confusion_matrix_figure,
        corpus_bleu,
        evaluate_reports,
        evaluation_table,
        mandatory_completeness,
        rouge_l,
        size_mae,
        to_json,
        volume_relative_error,
        wilson_interval,
    )
    from maerad.report.render_text import render_text
    from maerad.report.rules import CERVIX_STAGE_ORDER
    from maerad.report.templates import get_template

    t0 = time.perf_counter()
    synthetic = all(t.synthetic for t in truths)
    same = [g.template.split("@")[0] == t.template for t, g in zip(truths, generations, strict=True)]
    metrics: dict[str, Any] = {"synthetic_data": synthetic, "n_test": len(truths),
                               **(extra or {}), "template_accuracy": wilson_interval(sum(same), len(same))}
    # always present (null when the split holds no case of that template), so consumers need no guard
    metrics.update({name: None for name in STAGE_METRICS.values()})
    metrics["n_stage_cases"] = sum(t.template == "cervix-figo2018" for t in truths)
    details: dict[str, Any] = {"fields": {}}
    key_hits: list[float] = []
    key_totals: list[float] = []
    for template_id in sorted({t.template for t in truths}):
        template = get_template(template_id)
        rows = [i for i, t in enumerate(truths) if t.template == template_id]
        truth_values = [truths[i].report.values() for i in rows]
        pred_values = [generations[i].report.values() if same[i] else {} for i in rows]
        scored = [f for f in template.fields if f.type != "text" and any(f.id in v for v in truth_values)]
        kinds: dict[str, FieldKind] = {f.id: "numeric" if f.type == "number" else "categorical"
                                       for f in scored}
        ev = evaluate_reports(truth_values, pred_values, fields=[f.id for f in scored], field_kinds=kinds)
        details["fields"][template_id] = ev.summary()
        keys = [f.id for f in scored if f.mandatory and not f.derived and f.type != "number"]
        for t, p in zip(truth_values, pred_values, strict=True):
            present = [k for k in keys if t.get(k) is not None]
            key_hits.append(sum(_same_value(t[k], p.get(k)) for k in present))
            key_totals.append(len(present))
        if template_id in STAGE_METRICS:
            stage_truth = [truths[i].headline for i in rows]
            stage_pred = [generations[i].rule_headline if same[i] else None for i in rows]
            right = round(accuracy(stage_truth, stage_pred) * len(rows))
            metrics[STAGE_METRICS[template_id]] = wilson_interval(right, len(rows))
            if template_id == "cervix-figo2018":
                labels = [f"MR:S001.{s}" for s in CERVIX_STAGE_ORDER] + ["missing"]
                cm = confusion_matrix(stage_truth, [p or "missing" for p in stage_pred], labels)
                details["stage_confusion"] = cm.to_dict()
                details["_cm"] = cm
    hits, totals = np.asarray(key_hits), np.asarray(key_totals)
    if totals.sum() > 0:
        metrics["key_field_accuracy"] = _key_field_ci(hits, totals, n_bootstrap)
        metrics["n_key_field_cases"] = int(np.count_nonzero(totals))
        metrics["n_key_field_pairs"] = int(totals.sum())
    templates = {t.template for t in truths}
    sizes = _pairs(truths, generations, same, SIZE_FIELDS)
    if templates & set(SIZE_FIELDS):  # None: no case where truth and prediction both give a size
        err = size_mae([a for a, _ in sizes], [b for _, b in sizes]) if sizes else None
        metrics["size_mae_mm"] = _mean_ci(list(err.per_case), n_bootstrap) if err is not None else None
    volumes = [(a, b) for a, b in _pairs(truths, generations, same, VOLUME_FIELDS) if a > 0]
    if templates & set(VOLUME_FIELDS):
        rel = volume_relative_error([a for a, _ in volumes], [b for _, b in volumes]) if volumes else None
        metrics["volume_relative_error"] = (_mean_ci(list(rel.per_case), n_bootstrap) if rel is not None
                                            else None)
    filled = slots = 0
    for g in generations:
        template = get_template(g.report.template_id, g.report.template_version)
        values = g.report.values()
        mandatory = [f.id for f in template.fields if f.mandatory and f.applies(values)]
        if mandatory:
            res = mandatory_completeness([values], mandatory)
            filled, slots = filled + round(res.rate * len(mandatory)), slots + len(mandatory)
    metrics["completeness"] = filled / slots if slots else None
    metrics["consistency_violations"] = sum(f.kind == "terminology" for g in generations
                                            for f in g.report.flags)
    metrics["invalid_reports"] = sum(not g.valid for g in generations)
    rule = [g.rule_headline for g in generations if g.headline_field is not None]
    model = [g.model_headline for g in generations if g.headline_field is not None]
    if rule:
        metrics["rule_model_stage_agreement"] = agreement_rate(rule, model).rate
    if text_metrics:
        refs = [render_text(t.report, "en") for t in truths]
        hyps = [render_text(g.report, "en") for g in generations]
        metrics["bleu"] = corpus_bleu(hyps, refs, smoothing="add1").score
        metrics["rouge_l"] = rouge_l(hyps, refs).f
    metrics["seconds_per_report"] = float(np.mean([g.seconds for g in generations]))
    table = evaluation_table({k: v for k, v in metrics.items() if not isinstance(v, bool)})
    table = (f"maerad evaluate — {SYNTHETIC_NOTE}\n" if synthetic else "maerad evaluate\n") + table
    figure = None
    if out is not None:
        out_path = Path(out)
        cm = details.pop("_cm", None)
        if cm is not None:
            short: dict[Any, str] = {f"MR:S001.{s}": s for s in CERVIX_STAGE_ORDER}
            where = f", {split} split" if split and split != "all" else ""
            title = f"FIGO 2018 stage{where}, n={cm.n}" + (" (synthetic phantom)" if synthetic else "")
            fig = confusion_matrix_figure(cm, display_labels=short, title=title)
            figure = out_path.parent / "stage_confusion.png"
            figure.parent.mkdir(parents=True, exist_ok=True)
            with atomic_path(figure) as tmp:
                fig.savefig(tmp, dpi=100, format="png")
        payload = {**metrics, "note": SYNTHETIC_NOTE if synthetic else "", **details,
                   "evaluation_seconds": time.perf_counter() - t0}
        write_text_atomic(out_path, to_json(payload) + "\n")
    details.pop("_cm", None)
    metrics.update(details)
    return EvaluationResult(metrics, table, figure, list(generations))


def _same_value(a: object, b: object) -> bool:
    if isinstance(a, list) and isinstance(b, list):
        return set(a) == set(b)
    return type(a) is type(b) and a == b


def _pairs(truths: Sequence[Any], generations: Sequence[Any], same: Sequence[bool],
           fields: dict[str, str]) -> list[tuple[float, float]]:
    found = []
    for t, g, ok in zip(truths, generations, same, strict=True):
        name = fields.get(t.template)
        a = t.report.value(name) if name else None
        b = g.report.value(name) if (name and ok) else None
        if isinstance(a, (int, float)) and isinstance(b, (int, float)) and not isinstance(a, bool):
            found.append((float(a), float(b)))
    return found
