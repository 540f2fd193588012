"""Few-label fine-tuning of the report generator (``maerad finetune``).

The labelled cases are the **first N** study folders of the training split, in sorted folder order,
whose metadata gives a ground-truth report (phantom cases, :mod:`maerad.report.generation.targets`);
the other cases of the split are not used. Splits: a ``train`` / ``val`` / ``test`` sub-folder of
``data`` when present; else a ``"split"`` entry per case in ``data/index.json``; else the sorted
study folders cut into the first 60 % (train), the next 20 % (val) and the last 20 % (test, at least
one case) — :func:`split_study_folders`.

Losses (weights in ``loss_weights``): pointer cross-entropy, number regression, cross-modal
alignment, direct stage head, template head, the ontology loss of the term embeddings
(:class:`~maerad.report.generation.model.ReportModel`) and, with ``tissue_supervision``, the tissue
loss: every image token predicts its share of each tissue group of the labelled studies' label maps
(:mod:`maerad.report.generation.tissue`; the label maps move with the augmentation shifts). With
``tissue_segmenter``, a voxel-level U-Net is first trained on the same label maps, then frozen; its
predicted tissue volumes and contacts feed the tissue summary (:mod:`maerad.train.segmenter_training`,
``segmenter_from`` reuses a trained one). AdamW
with layer-wise lr decay on the encoder (:func:`maerad.models.param_groups_lrd`), warm-up + cosine
schedule; a frozen encoder's features are computed once and cached. Deterministic with a seed
(same seed and thread count → the same weights). The checkpoint (safetensors + JSON, atomic) holds
the generator config that rebuilds it.

Examples::

    >>> from maerad.train.finetune import FinetuneConfig, finetune
    >>> config = FinetuneConfig(data="phantom", labels=16, out="ft", time_budget_s=120)
    >>> result = finetune(config)                                   # doctest: +SKIP
    >>> report = result.generator.generate("phantom/case-0099")     # doctest: +SKIP
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import torch
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    ValidationError,
    field_validator,
)

from maerad.atomic import write_text_atomic
from maerad.data.datasets import StudyDataset
from maerad.data.study_folder import CASE_FILE
from maerad.errors import ConfigError, InputError
from maerad.models import param_groups_lrd
from maerad.progress import progress_bar
from maerad.report.generation.cases import (
    LabelledCase,
    labelled_cases,
    read_case_metadata,
    split_study_folders,
)
from maerad.report.generation.config import EncoderSpec, GeneratorConfig
from maerad.report.generation.encoder import pretrained_encoder
from maerad.report.generation.generator import ReportGenerator
from maerad.report.generation.model import LOSS_NAMES
from maerad.report.generation.numeric_heads import NumericStats
from maerad.report.generation.plans import CasePlan, collate_plans, option_weights, plan_targets
from maerad.report.generation.segmenter import SegmenterSpec
from maerad.report.generation.threads import single_thread
from maerad.report.generation.tissue import PHANTOM_TISSUE_GROUPS, check_tissue_groups, token_composition
from maerad.report.templates import get_template
from maerad.terminology.consistency import ConsistencyChecker
from maerad.train.augment import augment_study_batch
from maerad.train.config import FiniteFloat, min_lr_at_most_lr
from maerad.train.distributed import check_device
from maerad.train.precision import bf16_autocast, bf16_slow_warning
from maerad.train.schedule import cosine_lr
from maerad.train.segmenter_training import predict_shares, train_segmenter

__all__ = ["FinetuneConfig", "FinetuneResult", "LabelledCase", "build_optimizer", "finetune",
           "labelled_cases", "read_case_metadata", "split_study_folders"]

class FinetuneConfig(BaseModel):
    """Every knob of ``maerad finetune`` (see the module docstring for the data rules)."""

    model_config = ConfigDict(extra="forbid")

    data: str = Field("", description="folder of study folders (with optional train/val/test split)")
    out: str = Field("maerad-finetune", description="output folder: checkpoint, config, log")
    pretrained: str | None = Field(None, description="`maerad pretrain` checkpoint; None: from scratch")
    labels: StrictInt = Field(16, ge=1, description="labelled cases used: the first N of the training split")
    split: Literal["train", "val", "test", "all"] = "train"
    templates: list[str] | None = Field(None, description="only cases of these template ids")
    include_normal: StrictBool = Field(True, description="normal controls as adnexa reports (O-RADS 1)")
    sequences: list[str] | None = Field(None, description="channel order; default: pre-training's / common")
    normalization: Literal["percentile", "zscore", "none"] = "percentile"
    model: str = Field("mae_vit_tiny", description="encoder trained from scratch (without --pretrained)")
    mode: Literal["2d", "3d"] = "3d"
    patch_size: list[StrictInt] | None = None
    model_kwargs: dict[str, Any] = Field(default_factory=dict)
    freeze_encoder: StrictBool = False
    augment: StrictBool = Field(False, description="random shifts (±1 slice, ±8 px) and per-sequence "
                                "intensity gain / offset of the training volumes (not with a frozen encoder)")
    d_model: StrictInt = Field(128, ge=8)
    term_dim: StrictInt = Field(128, ge=8)
    buckets: StrictInt = Field(4096, ge=16)
    align_dim: StrictInt = Field(64, ge=4)
    decoder: str = "pointer"
    decoder_kwargs: dict[str, Any] = Field(default_factory=dict)
    alignment_loss: str = "info_nce"
    soft_labels: StrictBool = True
    loss_weights: dict[str, FiniteFloat] = Field(default_factory=lambda: {
        "pointer": 1.0, "regression": 1.0, "alignment": 0.5, "stage": 0.5, "template": 0.5, "ontology": 0.1,
        "tissue": 1.0})
    tissue_supervision: StrictBool = Field(False, description="auxiliary loss: every image token predicts "
                                           "its share of each tissue group in the labelled studies' label "
                                           "maps")
    tissue_groups: dict[str, list[StrictInt]] | None = Field(
        None, description="tissue-group name -> label values (None: the phantom's groups)"
    )
    tissue_summary: StrictBool = Field(False, description="with tissue_supervision: the predicted tissue "
                                       "volumes and contacts also feed the decoder's start and the stage / "
                                       "template heads")
    tissue_segmenter: StrictBool = Field(False, description="first train a voxel-level U-Net on the labelled "
                                   "studies' label maps; its predicted tissue volumes and contacts feed the "
                                   "tissue summary (implies tissue_summary)")
    segmenter: SegmenterSpec = Field(default_factory=SegmenterSpec, description="the tissue segmenter's "
                                     "U-Net channels, input pooling and summary cell")
    segmenter_steps: StrictInt = Field(800, ge=1, description="training steps of the tissue segmenter")
    segmenter_from: str | None = Field(None, description="a generator checkpoint whose trained tissue "
                                       "segmenter is reused instead of training one (same tissue groups, "
                                       "segmenter spec, sequences, normalisation and study grid)")
    segmenter_batch_size: StrictInt = Field(4, ge=1)
    segmenter_lr: FiniteFloat = Field(2e-3, gt=0)
    segmenter_bf16: StrictBool | None = Field(None, description="bfloat16 autocast for the tissue segmenter; "
                                        "null (default): where the device computes bfloat16 natively (its "
                                        "3D convolutions ran 2x faster on an AMX CPU, 60x slower on an "
                                        "AVX2-only CPU, which emulates bf16)")
    balance: FiniteFloat = Field(0.0, ge=0.0, le=1.0, description="class balancing of the pointer loss: "
                                 "weight (n / (k * count)) ** balance per true option (0: off, 1: inverse "
                                 "frequency)")
    skip_fields: list[str] = Field(default_factory=list)
    rule_options: dict[str, dict[str, Any]] = Field(default_factory=dict)
    # strict scalars, as in PretrainConfig: wrong JSON types are refused, not converted
    epochs: StrictInt = Field(20, ge=1)
    max_steps: StrictInt | None = Field(None, ge=1)
    batch_size: StrictInt = Field(8, ge=1)
    lr: FiniteFloat = Field(1e-3, gt=0,
                            description="peak lr of the heads; encoder groups scaled by layer decay")
    layer_decay: FiniteFloat = Field(0.75, gt=0, le=1)
    weight_decay: FiniteFloat = Field(0.05, ge=0)
    warmup_steps: StrictInt = Field(0, ge=0)
    min_lr: FiniteFloat = Field(0.0, ge=0, description="the cosine's floor; at most lr")
    bf16: StrictBool = False
    device: str = "cpu"
    seed: StrictInt = 0
    num_threads: StrictInt | None = Field(None, ge=1)
    time_budget_s: FiniteFloat | None = Field(None, gt=0,
                                              description="stop (and save) after this wall-clock time")

    @field_validator("segmenter_bf16", mode="before")
    @classmethod
    def _auto_is_null(cls, value: object) -> object:
        return None if value == "auto" else value  # the docs' word for null

    _min_lr_at_most_lr = field_validator("min_lr")(min_lr_at_most_lr)


@dataclass
class FinetuneResult:
    """Summary of a fine-tuning run; ``generator`` is the trained generator (ready to ``generate``)."""

    steps: int
    losses: list[float]
    checkpoint: Path
    seconds: float
    n_labelled: int
    templates: list[str]
    stopped_early: bool
    generator: ReportGenerator
    last_losses: dict[str, float] = field(default_factory=dict)


def _sequences(config: FinetuneConfig, cases: Sequence[LabelledCase]) -> list[str]:
    if config.sequences:
        return list(config.sequences)
    lists = []
    for case in cases:
        data = json.loads((case.folder / CASE_FILE).read_text(encoding="utf-8"))
        lists.append([s for s in data.get("sequences", []) if isinstance(s, str)])
    common = [s for s in lists[0] if all(s in other for other in lists[1:])]
    if not common:
        raise InputError("the labelled studies share no sequence; give --sequences")
    return common


def _encoder(config: FinetuneConfig, cases: Sequence[LabelledCase],
             shape: tuple[int, int, int]) -> tuple[EncoderSpec, dict[str, torch.Tensor] | None]:
    if config.pretrained:
        return pretrained_encoder(config.pretrained, shape, config.sequences)
    patch = config.patch_size or ([4, 16, 16] if config.mode == "3d" else [16, 16])
    try:
        spec = EncoderSpec(model=config.model, mode=config.mode, volume_shape=shape, patch_size=patch,
                           sequences=_sequences(config, cases), normalization=config.normalization,
                           model_kwargs=config.model_kwargs)
    except ValidationError as exc:
        raise ConfigError(f"encoder: {exc.errors()[0]['msg']}") from None
    return spec, None


def build_optimizer(gen: ReportGenerator, config: FinetuneConfig) -> torch.optim.Optimizer:
    """AdamW over the generator: encoder groups with layer-wise lr decay (``lr_scale``), the rest at
    scale 1; no weight decay on 1-D parameters. A frozen encoder contributes no group."""
    encoder = gen.model.encoder.mae
    if config.freeze_encoder:
        for p in gen.model.encoder.parameters():
            p.requires_grad_(False)
        groups: list[dict[str, Any]] = []
    else:
        groups = param_groups_lrd(encoder, weight_decay=config.weight_decay, layer_decay=config.layer_decay)
    own = {id(p) for p in gen.model.encoder.parameters()}
    rest = [p for p in gen.model.parameters() if p.requires_grad and id(p) not in own]
    groups.append({"params": [p for p in rest if p.ndim > 1], "weight_decay": config.weight_decay,
                   "lr_scale": 1.0})
    groups.append({"params": [p for p in rest if p.ndim <= 1], "weight_decay": 0.0, "lr_scale": 1.0})
    return torch.optim.AdamW(groups, lr=config.lr, betas=(0.9, 0.999), foreach=True)


def _batches(n: int, batch_size: int, seed: int) -> Iterator[list[int]]:
    gen = torch.Generator().manual_seed(seed)
    size = min(batch_size, n)
    while True:
        order = torch.randperm(n, generator=gen).tolist()
        for start in range(0, n - size + 1, size):
            yield order[start:start + size]


def finetune(config: FinetuneConfig, *, progress: bool = True,
             log: Callable[[str], None] = print) -> FinetuneResult:
    """Fine-tune a report generator as ``config`` says; writes ``<out>/checkpoint`` and ``<out>/log.jsonl``.

    Raises:
        ConfigError: bad settings (unknown decoder / loss / model, no labelled case, …).
        InputError: unreadable data. CheckpointError: an unusable ``pretrained`` checkpoint.
    """
    threads = torch.get_num_threads()
    if config.num_threads:
        torch.set_num_threads(config.num_threads)
    try:
        return _finetune(config, progress=progress, log=log)
    finally:
        torch.set_num_threads(threads)


def _finetune(config: FinetuneConfig, *, progress: bool, log: Callable[[str], None]) -> FinetuneResult:
    t0 = time.perf_counter()
    if not config.data:
        raise ConfigError("no training data: give --data DIR")
    check_tissue_groups(_tissue_groups(config))
    if ((config.tissue_groups is not None or config.tissue_summary) and not config.tissue_supervision
            and not config.tissue_segmenter):
        log("finetune: tissue_groups / tissue_summary are unused without tissue_supervision or "
            "tissue_segmenter")
    if config.segmenter_from and not config.tissue_segmenter:
        log("finetune: segmenter_from is unused without tissue_segmenter")
    unknown = sorted(set(config.loss_weights) - set(LOSS_NAMES))
    if unknown:
        raise ConfigError(f"loss_weights: unknown loss {', '.join(unknown)} (known: {', '.join(LOSS_NAMES)})")
    from maerad.terminology.bundled import load_bundled

    graph = load_bundled()
    checker = ConsistencyChecker(graph)
    folders = split_study_folders(config.data, config.split)
    cases = labelled_cases(folders, limit=config.labels, templates=config.templates,
                           include_normal=config.include_normal, graph=graph, checker=checker)
    if not cases:
        raise ConfigError(f"{config.data}: no labelled case in split {config.split!r} (phantom study folders "
                          "carry their ground truth in case.json)")
    if len(cases) < config.labels:
        log(f"finetune: only {len(cases)} labelled cases in split {config.split!r} "
            f"(asked for {config.labels})")
    templates = sorted({c.targets.template for c in cases})
    plans, stats, concepts = plan_targets([c.targets for c in cases], templates, graph, config.skip_fields)
    shape = tuple(json.loads((cases[0].folder / CASE_FILE).read_text(encoding="utf-8"))["shape"])
    spec, encoder_state = _encoder(config, cases, (int(shape[0]), int(shape[1]), int(shape[2])))
    try:
        gen_config = GeneratorConfig(
            encoder=spec, templates=[get_template(t).key for t in templates], concept_ids=concepts,
            d_model=config.d_model, term_dim=config.term_dim, buckets=config.buckets,
            align_dim=config.align_dim, decoder=config.decoder, decoder_kwargs=config.decoder_kwargs,
            skip_fields=config.skip_fields, numeric_stats=stats.to_dict(), rule_options=config.rule_options,
            tissue_groups=_tissue_groups(config),
            tissue_head=config.tissue_supervision,
            tissue_segmenter=config.segmenter if config.tissue_segmenter else None,
            tissue_summary=config.tissue_segmenter or (config.tissue_supervision and config.tissue_summary))
    except ValidationError as exc:  # e.g. a segmenter cell that does not divide the study grid
        raise ConfigError(f"generator: {exc.errors()[0]['msg']}") from None
    torch.manual_seed(config.seed)
    gen = ReportGenerator.build(gen_config, graph)
    if encoder_state is not None:
        gen.model.encoder.load_pretrained(encoder_state)
    device = check_device(config.device)
    for warning in _bf16_warnings(config, device):
        log(warning)
    gen.model.to(device).train()
    dataset = StudyDataset([c.folder for c in cases], sequences=spec.sequences, mode="3d",
                           normalization=spec.normalization,
                           with_labels=config.tissue_supervision or config.tissue_segmenter)
    dataset.preload(progress=progress)  # an unreadable study stops the run before anything is written
    groups = list(gen_config.tissue_groups.values())
    tissue = None
    if groups and config.tissue_supervision:
        per_sequence = spec.model_kwargs.get("token_layout", "channels") == "per_sequence"
        tissue = _Tissue(groups, spec.token_shape, sequences=len(spec.sequences) if per_sequence else 1,
                         slices=spec.volume_shape[0] if spec.mode == "2d" else 1)
    summary = gen.model.tissue_summary
    out = Path(config.out)
    out.mkdir(parents=True, exist_ok=True)
    write_text_atomic(out / "config.json", config.model_dump_json(indent=2) + "\n")
    segmented = _segmenter_shares(gen, dataset, groups, config, device, out, progress)
    true_shares = None  # per study, un-augmented: for the summary's standardisation and a frozen cache
    if tissue is not None and ((summary is not None and segmented is None) or config.freeze_encoder):
        true_shares = [tissue.shares(dataset[i]["labels"].unsqueeze(0)) for i in range(len(dataset))]
    if summary is not None:
        reference = segmented if segmented is not None else true_shares
        if reference is not None:
            summary.fit_normalization(torch.cat(reference))
    optimizer = build_optimizer(gen, config)
    cached = _cache_features(gen, dataset, config, device, true_shares) if config.freeze_encoder else None
    weights = option_weights(plans, config.balance) if config.balance > 0 else None
    if config.augment and config.freeze_encoder:
        log("finetune: augment has no effect with a frozen encoder (its features are computed once)")
    augmenter = torch.Generator().manual_seed(config.seed + 1) if config.augment else None
    n = len(cases)
    total = config.max_steps or config.epochs * max(1, n // min(config.batch_size, n))
    log_path = out / "log.jsonl"
    log_path.write_text("", encoding="utf-8")
    losses: list[float] = []
    parts: dict[str, float] = {}
    stopped = False
    batches = _batches(n, config.batch_size, config.seed)
    bar = progress_bar(total, enabled=progress, desc="finetune", unit="step")
    for step in range(total):
        lr = cosine_lr(step, peak_lr=config.lr, total_steps=total, warmup_steps=config.warmup_steps,
                       min_lr=config.min_lr)
        for group in optimizer.param_groups:
            group["lr"] = lr * float(group.get("lr_scale", 1.0))
        optimizer.zero_grad(set_to_none=True)
        value, parts = _step(gen, config, dataset, cached, next(batches), plans, stats, weights, augmenter,
                             tissue, segmented, device)
        if not math.isfinite(value):
            raise ConfigError(f"loss became {value} at step {step}; lower the learning rate")
        with single_thread(device.type == "cpu"):  # many small parameters: one thread is faster
            optimizer.step()
        losses.append(value)
        bar.set_postfix(loss=f"{value:.3f}", lr=f"{lr:.1e}", refresh=False)
        bar.update(1)
        with log_path.open("a", encoding="utf-8") as fh:
            fh.write(json.dumps({"step": step + 1, "loss": value, "lr": lr, **parts}) + "\n")
        if config.time_budget_s is not None and time.perf_counter() - t0 > config.time_budget_s:
            stopped = step + 1 < total
            break
    bar.close()
    gen.model.eval()
    checkpoint = gen.save(out / "checkpoint", step=len(losses), extra={
        "finetune": config.model_dump(mode="json"), "n_labelled": n,
        "labelled": [c.folder.name for c in cases],
        "synthetic": all(c.targets.synthetic for c in cases)})
    if stopped:
        log(f"finetune: time budget of {config.time_budget_s:g} s reached after {len(losses)}/{total} steps")
    return FinetuneResult(len(losses), losses, checkpoint, time.perf_counter() - t0, n, gen_config.templates,
                          stopped, gen, parts)


def _tissue_groups(config: FinetuneConfig) -> dict[str, list[int]]:
    if not (config.tissue_supervision or config.tissue_segmenter):
        return {}
    return dict(config.tissue_groups) if config.tissue_groups is not None else dict(PHANTOM_TISSUE_GROUPS)


def _bf16_warnings(config: FinetuneConfig, device: torch.device) -> list[str]:
    """A warning for each bf16 setting that is on for a device that only emulates bfloat16."""
    warnings = []
    if warning := bf16_slow_warning(config.bf16, device, "bf16"):
        warnings.append(warning)
    trains_segmenter = config.tissue_segmenter and not config.segmenter_from
    # an older run's config.json holds segmenter_bf16: true, the default then; null is auto now
    if warning := bf16_slow_warning(trains_segmenter and config.segmenter_bf16 is True, device,
                                    "segmenter_bf16"):
        warnings.append(warning + " (or set it to null: bf16 only where native)")
    return warnings


def _segmenter_shares(gen: ReportGenerator, dataset: StudyDataset, groups: list[list[int]],
                      config: FinetuneConfig, device: torch.device, out: Path,
                      progress: bool) -> list[torch.Tensor] | None:
    """Train the tissue segmenter (when configured), freeze it and return its shares of every study."""
    segmenter = gen.model.tissue_segmenter
    if segmenter is None:
        return None
    if config.segmenter_from:
        _reuse_segmenter(gen, config.segmenter_from)
    else:
        log_path = out / "segmenter_log.jsonl"
        log_path.write_text("", encoding="utf-8")
        train_segmenter(segmenter, dataset, groups, steps=config.segmenter_steps,
                        batch_size=config.segmenter_batch_size, lr=config.segmenter_lr, seed=config.seed,
                        augment=config.augment and not config.freeze_encoder, bf16=config.segmenter_bf16,
                        device=device, progress=progress, log_path=log_path)
    segmenter.requires_grad_(False)
    # float32, as the generator predicts at inference unless asked for bf16
    return predict_shares(segmenter, dataset, device=device, progress=progress)


def _reuse_segmenter(gen: ReportGenerator, checkpoint: str) -> None:
    """Copy the trained tissue segmenter of another generator checkpoint into ``gen``."""
    source = ReportGenerator.from_checkpoint(checkpoint)
    target, trained = gen.model.tissue_segmenter, source.model.tissue_segmenter
    if target is None or trained is None:
        raise ConfigError(f"segmenter_from {checkpoint}: that generator has no tissue segmenter")
    mine, theirs = gen.config, source.config
    checks = {"tissue groups": (mine.tissue_groups, theirs.tissue_groups),
              "segmenter spec": (mine.tissue_segmenter, theirs.tissue_segmenter),
              "sequences": (mine.encoder.sequences, theirs.encoder.sequences),
              "normalisation": (mine.encoder.normalization, theirs.encoder.normalization),
              "study grid": (mine.encoder.volume_shape, theirs.encoder.volume_shape)}
    for name, (want, got) in checks.items():
        if want != got:
            raise ConfigError(f"segmenter_from {checkpoint}: its {name} ({got}) differ from this run's "
                              f"({want})")
    target.load_state_dict(trained.state_dict())


@dataclass(frozen=True)
class _Tissue:
    """Tissue-supervision targets: the groups and the voxel block of one token, and the encoder's token
    layout: ``sequences`` tokens at each position in the per-sequence layout (sequence-major within each
    of ``slices`` encoded slices; ``slices`` is 1 in 3D)."""

    groups: list[list[int]]
    token_shape: tuple[int, int, int]
    sequences: int = 1
    slices: int = 1

    def shares(self, labels: torch.Tensor) -> torch.Tensor:
        """``(B, tokens, groups)``: each encoder token's tissue shares, in the encoder's token order."""
        shares = token_composition(labels, self.groups, self.token_shape)
        if self.sequences == 1:
            return shares
        # every sequence's token at a position covers the same voxels: repeat the position's shares
        batch, positions, groups = shares.shape
        per_slice = shares.reshape(batch, self.slices, positions // self.slices, groups)
        repeated = per_slice.unsqueeze(2).expand(-1, -1, self.sequences, -1, -1)
        return repeated.reshape(batch, positions * self.sequences, groups)


@dataclass(frozen=True)
class _Cached:
    """A frozen encoder's output for one study, and its tissue targets when supervised."""

    tokens: torch.Tensor
    pooled: torch.Tensor
    shares: torch.Tensor | None


def _cache_features(gen: ReportGenerator, dataset: StudyDataset, config: FinetuneConfig,
                    device: torch.device, shares: list[torch.Tensor] | None) -> list[_Cached]:
    gen.model.encoder.eval()
    cached = []
    with torch.no_grad():
        for i in range(len(dataset)):
            with bf16_autocast(config.bf16, device):
                tokens, pooled = gen.model.encode(dataset[i]["image"].unsqueeze(0).to(device))
            cached.append(_Cached(tokens.float(), pooled.float(), None if shares is None else shares[i]))
    return cached


def _step(gen: ReportGenerator, config: FinetuneConfig, dataset: StudyDataset, cached: list[_Cached] | None,
          index: list[int], plans: list[CasePlan], stats: NumericStats,
          weights: dict[tuple[str, str, str], float] | None, augmenter: torch.Generator | None,
          tissue: _Tissue | None, segmented: list[torch.Tensor] | None,
          device: torch.device) -> tuple[float, dict[str, float]]:
    """Forward and backward of one batch (gradients accumulated into the parameters).

    The encoder runs with every thread; the decoder's many tiny operations run on one thread (CPU),
    their gradient flows back into the encoder in a second backward call — the same gradients as
    one backward pass.
    """
    batch = collate_plans([plans[i] for i in index], stats, weights)
    shares: torch.Tensor | None = None
    if cached is not None:
        tokens = torch.cat([cached[i].tokens for i in index])
        pooled = torch.cat([cached[i].pooled for i in index])
        if tissue is not None:
            shares = torch.cat([s for s in (cached[i].shares for i in index) if s is not None])
    else:
        items = [dataset[i] for i in index]
        x = torch.stack([item["image"] for item in items])
        labels = torch.stack([item["labels"] for item in items]) if tissue is not None else None
        if augmenter is not None:
            x, labels = augment_study_batch(x, labels, augmenter)
        shares = tissue.shares(labels) if tissue is not None and labels is not None else None
        with bf16_autocast(config.bf16, device):
            tokens, pooled = gen.model.encode(x.to(device))
    tokens_in = tokens.detach().float().requires_grad_(cached is None)
    pooled_in = pooled.detach().float().requires_grad_(cached is None)
    with single_thread(device.type == "cpu"), bf16_autocast(config.bf16, device):
        losses = gen.model.losses(tokens_in, pooled_in, batch, alignment_loss=config.alignment_loss,
                                  soft_labels=config.soft_labels, tissue=shares,
                                  tissue_shares=None if segmented is None else
                                  torch.cat([segmented[i] for i in index]).to(device))
        total = torch.zeros((), device=device)
        for name, value in losses.items():
            total = total + config.loss_weights.get(name, 0.0) * value
        total.backward()  # type: ignore[no-untyped-call]
    if cached is None and tokens_in.grad is not None and pooled_in.grad is not None:
        grads = [tokens_in.grad.to(tokens.dtype), pooled_in.grad.to(pooled.dtype)]
        torch.autograd.backward([tokens, pooled], grads)
    return float(total.detach()), {k: float(v.detach()) for k, v in losses.items()}
