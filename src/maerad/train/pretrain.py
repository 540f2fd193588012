"""The MAE pre-training loop: deterministic, resumable bit for bit, single- or multi-process.

All randomness is a function of ``(seed, step)``: the data order (:class:`MicroBatchOrder`), the
token masks (a generator seeded per micro-batch and rank) and stochastic depth / dropout (torch's
global generator, reseeded from the same stream each micro-batch). Resuming therefore only needs the
model, the optimizer state and the step, all of which the checkpoint holds; an interrupted run resumed
with ``resume=True`` ends with exactly the weights of an uninterrupted one (on the same device and
thread count).
"""

from __future__ import annotations

import contextlib
import functools
import math
import os
import shutil
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from maerad.atomic import unwritable_reason, write_text_atomic
from maerad.data.datasets import MissingLabelMapError, StudyDataset
from maerad.data.orientation import axis_codes
from maerad.data.study import voxel_sizes
from maerad.errors import CheckpointError, ConfigError, InputError
from maerad.losses.foreground import intensity_foreground
from maerad.masking import MaskSpec, RoiPriorMasking, create_masking, num_visible
from maerad.masking.lesion_maps import LesionDetector
from maerad.masking.multisequence import hidden_sequences
from maerad.models import MAE, SequenceTokenMAE, create_model, param_groups_lrd
from maerad.models.maep import PyramidStem
from maerad.models.registry import UnknownModelKwargsError
from maerad.progress import progress_bar, progress_iter
from maerad.train.checkpoint import load_checkpoint, save_checkpoint
from maerad.train.config import (
    MODEL_KEYS_SET_BY_CONFIG,
    PretrainConfig,
    default_patch_size,
    saved_pretrain_config,
)
from maerad.train.data_order import MicroBatchOrder
from maerad.train.detector_token_maps import DetectorTokenMaps
from maerad.train.distributed import (
    DistInfo,
    barrier,
    cleanup_distributed,
    from_main_process,
    init_distributed,
    mean_over_processes,
)
from maerad.train.held_out import held_out_loss, held_out_seed
from maerad.train.interrupt import stop_between_steps
from maerad.train.label_token_maps import LabelTokenMaps
from maerad.train.loss_figure import save_loss_figure
from maerad.train.optim import adamw
from maerad.train.precision import bf16_autocast, bf16_slow_warning
from maerad.train.recon_figure import save_reconstruction_figure, shown_slice
from maerad.train.run_folder import (
    append_log,
    check_only_maerad_outputs,
    earlier_run,
    remove_run_outputs,
    trim_log,
)
from maerad.train.schedule import cosine_lr, scaled_lr

__all__ = ["PretrainResult", "build_model", "compile_for_training", "pretrain"]

# Fields that may change between an interrupted run and its resumption without breaking exactness.
# (validation reads the weights and draws its masks from its own generators: it changes nothing in training;
# the disk cache holds the very arrays the memory would)
_RESUMABLE_CHANGES = {"out", "log_every", "image_every", "save_every", "max_steps", "epochs", "num_threads",
                      "val_data", "val_every", "cache_dir"}


@dataclass
class PretrainResult:
    """Summary of a pre-training run (on the main process)."""

    steps: int
    losses: list[float] = field(default_factory=list)
    checkpoint: Path | None = None
    seconds: float = 0.0
    """Wall time of the training loop, figures and checkpoints included."""
    samples_per_second: float = 0.0
    """Training throughput: samples over the time of the steps themselves (data, forward, backward,
    optimizer), without figures and checkpoints, which dominate short runs."""
    figures: list[Path] = field(default_factory=list)
    """The reconstruction figures written, of a training study and (with ``val_data``) of a held-out
    one (``figures/loss.png`` is redrawn beside them)."""
    val_losses: list[tuple[int, float]] = field(default_factory=list)
    """``(step, held-out loss)`` of each evaluation on ``val_data`` (empty without it)."""


def build_model(config: PretrainConfig, in_chans: int, img_size: tuple[int, ...]) -> MAE:
    """The model a config describes, for inputs of ``in_chans`` channels and spatial size ``img_size``."""
    kwargs: dict[str, Any] = {
        "spatial_dims": len(img_size),
        "in_chans": in_chans,
        "img_size": img_size,
        "patch_size": tuple(config.patch_size or default_patch_size(config.mode)),
        "mask_ratio": config.mask_ratio,
        "norm_pix_loss": config.norm_pix_loss,
    }
    kwargs.update(config.model_kwargs)
    try:
        model = create_model(config.model, **kwargs)
    except UnknownModelKwargsError as exc:
        # its list of accepted keywords includes those the config sets itself and refuses in model_kwargs
        allowed = [key for key in exc.accepted if key not in MODEL_KEYS_SET_BY_CONFIG]
        raise ConfigError(
            f"model {exc.model!r} does not accept {', '.join(exc.unknown)}; accepted in model_kwargs: "
            f"{', '.join(allowed)} (patch_size, mask_ratio and norm_pix_loss are top-level keys; "
            "spatial_dims, in_chans and img_size come from the data)"
        ) from None
    if not isinstance(model, MAE):
        raise ConfigError(f"model {config.model!r} is not a masked autoencoder (MAE / MAE-P)")
    return model


_RESUME_HINT = "continue with --resume (resume=True from Python)"


def pretrain(
    config: PretrainConfig,
    *,
    resume: bool = False,
    overwrite: bool = False,
    progress: bool = True,
    log: Callable[[str], None] = print,
    stop_hint: str = _RESUME_HINT,
) -> PretrainResult:
    """Pre-train an MAE as ``config`` says; writes ``<out>/checkpoint``, ``<out>/log.jsonl`` and figures.

    ``out`` must not hold an earlier run unless ``resume`` (continue it) or ``overwrite`` (replace its
    checkpoint, log and figures, once every check has passed) is given.

    A first Ctrl-C ends the run after the step under way, saves it and logs "interrupted: checkpoint of
    step … saved in …; <stop_hint>" before raising :class:`KeyboardInterrupt`; a caller that cannot
    resume (``maerad demo``) gives its own ``stop_hint`` instead of the ``--resume`` advice.

    Every study is loaded (and kept in memory) before the first step, and a ``roi_prior`` run checks
    its ROI budget on every item then, so bad data stops the run before anything is written.

    Raises:
        ConfigError: an unknown model or masking name, a batch larger than the dataset, a ``roi_prior``
            ROI larger than the visible-token budget, ``out`` holding an earlier run (without ``resume``
            or ``overwrite``), or a ``resume`` whose checkpoint was made with an incompatible config.
        InputError: a study that cannot be read or does not match the others (names its folder or file).
        CheckpointError: ``resume`` without a readable checkpoint.
    """
    info = init_distributed(config.device)
    try:
        return _pretrain(config, info, resume=resume, overwrite=overwrite, progress=progress and info.is_main,
                         log=log, stop_hint=stop_hint)
    finally:
        cleanup_distributed(info)


def _pretrain(
    config: PretrainConfig,
    info: DistInfo,
    *,
    resume: bool,
    overwrite: bool,
    progress: bool,
    log: Callable[[str], None],
    stop_hint: str,
) -> PretrainResult:
    if config.num_threads:
        torch.set_num_threads(config.num_threads)
    out = Path(config.out)
    ckpt_dir = out / "checkpoint"
    if resume and overwrite:
        raise ConfigError("resume and overwrite exclude each other: continue the run in out, or start again")
    peak_lr = _peak_lr(config, info)
    if (why := unwritable_reason(out, folder=True)) is not None:
        raise ConfigError(f"out {out}: {why}; choose another --out")
    earlier = earlier_run(out)
    if earlier and not (resume or overwrite):
        again = "continue it with --resume (resume=True), " if (ckpt_dir / "state.json").is_file() else ""
        raise ConfigError(f"{out} already holds a pre-training run ({earlier}); {again}choose another "
                          "--out, or start it again with --overwrite (overwrite=True)")
    if overwrite:
        check_only_maerad_outputs(out)
    detector = _lesion_detector(config, info)
    needs_labels = config.masking in ("lesion_aware", "roi_prior") and detector is None
    try:
        dataset = StudyDataset(config.data, sequences=config.sequences, mode=config.mode,
                               normalization=config.normalization, with_labels=needs_labels,
                               cache_dir=config.cache_dir)
    except MissingLabelMapError as exc:
        instead = ", or give a lesion_detector" if config.masking == "lesion_aware" else ""
        raise InputError(f"{exc.folder}: has no label map (labels.nii.gz); masking {config.masking!r} reads "
                         f"the lesion / ROI labels of every study{instead}") from None
    config = config.model_copy(update={"sequences": dataset.sequences, **_absolute_paths(dict(config))})
    if detector is not None and detector.in_chans != len(dataset.sequences):
        raise ConfigError(f"lesion_detector takes {detector.in_chans} channel(s), the data gives "
                          f"{len(dataset.sequences)} ({', '.join(dataset.sequences)}); set sequences to the "
                          "ones the detector was trained on")
    if detector is not None and detector.sequences and list(detector.sequences) != dataset.sequences:
        raise ConfigError(f"lesion_detector was trained on sequences {list(detector.sequences)}, the data "
                          f"gives {dataset.sequences}; set sequences to the detector's order")

    # an explicit patch size, so that config.json and resume see what the model was built with
    config = config.model_copy(update={"patch_size": config.patch_size or default_patch_size(config.mode)})
    if info.is_main and (warning := bf16_slow_warning(config.bf16, info.device)):
        log(warning)
    _check_patch_fits_grid(config, dataset.spatial_shape)
    torch.manual_seed(config.seed)  # identical initial weights on every rank
    model = build_model(config, dataset.in_chans, dataset.spatial_shape).to(info.device)
    # recorded on resume too: _restore then compares the heads with the run's (older records get theirs)
    config = _with_stage_heads(config, model)
    masking = create_masking(config.masking, mask_ratio=config.mask_ratio,
                             **_masking_options(config, dataset.sequences))
    _check_masking_fits_layout(config.masking, model, config.mode)
    _check_masking_hides_tokens(masking, model)
    if isinstance(masking, RoiPriorMasking) and not config.roi_labels:
        raise ConfigError("masking 'roi_prior' needs roi_labels (label values to keep visible)")
    _check_masking_draws(masking, model, config)
    token_maps = _token_maps(config, dataset, detector, model, info)

    order = MicroBatchOrder(len(dataset), config.batch_size, seed=config.seed, rank=info.rank,
                            world_size=info.world_size)
    total_steps = _total_steps(config.max_steps, config.epochs, order.batches_per_epoch, config.accum_steps)
    groups = param_groups_lrd(model, weight_decay=config.weight_decay, layer_decay=1.0)
    optimizer = adamw(groups, lr=peak_lr, betas=config.betas)

    start_step, saved_warmup, saved_total = 0, None, None
    if resume:
        start_step, saved_warmup, saved_config = _restore(ckpt_dir, config, model, optimizer)
        saved_total = _total_steps(saved_config.get("max_steps"), int(saved_config.get("epochs") or 1),
                                   order.batches_per_epoch, config.accum_steps)
    if start_step >= total_steps:
        raise ConfigError(f"checkpoint is already at step {start_step}; raise max_steps/epochs to continue")
    # MAE warms up for 40 of its 800 epochs: 5 % of the run unless the config says otherwise; a resumed
    # run keeps the warm-up it started with, and the checkpoint records the number actually used
    if config.warmup_steps is None:
        warmup = saved_warmup if saved_warmup is not None else total_steps // 20
        config = config.model_copy(update={"warmup_steps": warmup})
    warmup_steps = int(config.warmup_steps or 0)
    _check_warmup_fits(warmup_steps, total_steps)
    # the data checks that read voxels come last, after every check that needs none
    # the held-out set after every configuration check: matching its orientation reads study 0
    held_out = _held_out_set(config, dataset, detector, needs_labels, model, info)
    dataset.preload(progress=progress and info.is_main)  # unreadable voxels stop the run before step 1
    if held_out is not None:
        held_out.dataset.preload(progress=progress and info.is_main)
    if info.is_main:
        log(_run_outline(model, dataset, held_out, info))
    if isinstance(masking, RoiPriorMasking):
        assert token_maps is not None  # roi_prior reads the ROI labels
        _check_roi_budget(dataset, token_maps, model, config, masking, progress=progress and info.is_main)
        if held_out is not None:
            assert held_out.token_maps is not None
            _check_roi_budget(held_out.dataset, held_out.token_maps, model, config, masking,
                              progress=progress and info.is_main)
    if config.masking == "lesion_aware" and detector is None:
        _check_lesion_labels_present(dataset, config)

    train_model: nn.Module = model
    if info.world_size > 1:
        _grads_in_parameter_layout(model)
        train_model = nn.parallel.DistributedDataParallel(model)
    if config.compile:
        train_model = compile_for_training(train_model, info.device)

    result = PretrainResult(steps=start_step)
    log_path = out / "log.jsonl"
    if info.is_main:
        if overwrite:  # every check passed: only now is the earlier run's output removed
            remove_run_outputs(out)
        if resume:
            change = _schedule_change(start_step, saved_total, total_steps, peak_lr, warmup_steps,
                                      config.min_lr)
            log(f"resuming from {ckpt_dir} at step {start_step}/{total_steps}{change}")
            trim_log(out / "log.jsonl", start_step)
        out.mkdir(parents=True, exist_ok=True)
        write_text_atomic(out / "config.json", config.model_dump_json(indent=2) + "\n")
    bar = progress_bar(total_steps, initial=start_step, enabled=progress, desc="pretrain", unit="step")
    t0 = time.perf_counter()
    samples, step_seconds = 0, 0.0
    # since the last log record: the step losses (the record holds their mean) and the samples and
    # seconds of those steps (its throughput)
    window: list[float] = []
    window_samples, window_seconds = 0, 0.0
    figure_item = _figure_item(dataset) if info.is_main else None
    held_out_item = _figure_item(held_out.dataset) if info.is_main and held_out is not None else None
    # the first Ctrl-C ends the run after the step under way, with a checkpoint (one process only)
    with stop_between_steps(enabled=info.world_size == 1) as stop:
        for step in range(start_step, total_steps):
            step_start = time.perf_counter()
            lr = cosine_lr(step, peak_lr=peak_lr, total_steps=total_steps, warmup_steps=warmup_steps,
                           min_lr=config.min_lr)
            for group in optimizer.param_groups:
                group["lr"] = lr * float(group.get("lr_scale", 1.0))
            step_loss = 0.0
            for micro in range(config.accum_steps):
                m = step * config.accum_steps + micro
                x, spec = _micro_batch(dataset, order.indices(m), masking, model, config, info, m,
                                       token_maps)
                sync = micro == config.accum_steps - 1
                # DDP: forward and backward of non-final micro-batches both inside no_sync (no all-reduce)
                with _no_sync(train_model, not sync):
                    weights = _voxel_weights(x, config)
                    with bf16_autocast(config.bf16, info.device):
                        loss = train_model(x, mask=spec, voxel_weights=weights).loss / config.accum_steps
                    loss.backward()
                step_loss += float(loss.detach())
                samples += x.shape[0] * info.world_size
                window_samples += x.shape[0] * info.world_size
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
            # the loss of the whole batch, not of this process's share; every rank then stops together
            step_loss = mean_over_processes(step_loss, info)
            if not math.isfinite(step_loss):
                raise ConfigError(f"loss became {step_loss} at step {step + 1}; lower the learning rate")
            result.losses.append(step_loss)
            window.append(step_loss)
            result.steps = step + 1
            seconds = time.perf_counter() - step_start
            step_seconds += seconds
            window_seconds += seconds
            throughput = window_samples / max(window_seconds, 1e-9)
            last = step + 1 == total_steps
            record: dict[str, float] = {}
            if (step + 1) % config.log_every == 0 or last:
                record = {"step": step + 1, "loss": sum(window) / len(window), "lr": lr,
                          "samples_per_second": throughput}
                window.clear()
                window_samples, window_seconds = 0, 0.0
            evaluated = bool(config.val_every and (step + 1) % config.val_every == 0) or last
            if held_out is not None and evaluated:
                val_loss = _evaluate_held_out(model, held_out, masking, config, info)
                if not math.isfinite(val_loss):
                    raise ConfigError(f"the held-out loss became {val_loss} at step {step + 1} (the training "
                                      f"loss is {step_loss}); check the held-out studies' intensities")
                result.val_losses.append((step + 1, val_loss))
                record.update({"step": step + 1, "val_loss": val_loss})
            if record and info.is_main:
                append_log(log_path, record)
            postfix = {"loss": f"{step_loss:.4f}", "lr": f"{lr:.2e}", "img_s": f"{throughput:.3g}"}
            if result.val_losses:
                postfix["val"] = f"{result.val_losses[-1][1]:.4f}"
            bar.set_postfix(postfix, refresh=False)  # redrawn by update, within the bar's throttle
            bar.update(1)
            saved = bool(config.save_every and (step + 1) % config.save_every == 0) or last
            if saved:
                barrier(info)
                if info.is_main:
                    result.checkpoint = _save(ckpt_dir, model, optimizer, config, step + 1, dataset)
            drawn = bool(config.image_every and (step + 1) % config.image_every == 0) or last
            if figure_item is not None and drawn:
                figure = _figure(model, dataset, masking, config, info, out, step + 1, token_maps,
                                 figure_item)
                result.figures.append(figure)
                if held_out is not None and held_out_item is not None:
                    result.figures.append(_figure(model, held_out.dataset, masking, config, info, out,
                                                  step + 1, held_out.token_maps, held_out_item,
                                                  held_out=True))
                _draw_loss(log_path, out / "figures" / "loss.png", dataset, log)
            if stop.requested and not last:  # Ctrl-C: this step is complete; keep it and stop
                if not saved:
                    result.checkpoint = _save(ckpt_dir, model, optimizer, config, step + 1, dataset)
                bar.close()
                log(f"interrupted: checkpoint of step {step + 1}/{total_steps} saved in {ckpt_dir}; "
                    f"{stop_hint}")
                raise KeyboardInterrupt
    bar.close()
    result.seconds = time.perf_counter() - t0
    result.samples_per_second = samples / max(step_seconds, 1e-9)
    return result


# --------------------------------------------------------------------------------------------------
def _draw_loss(log_path: Path, png: Path, dataset: StudyDataset, log: Callable[[str], None]) -> None:
    """The loss figure is for looking at: a log it cannot read is reported, and training goes on."""
    if not log_path.is_file():
        return
    try:
        save_loss_figure(log_path, png, title=_loss_title(dataset))
    except InputError as exc:
        log(f"warning: loss figure not drawn: {exc}")


def _loss_title(dataset: StudyDataset) -> str:
    """The loss figure's title, saying when the studies trained on are synthetic (all or some)."""
    share = dataset.synthetic_share
    if share == 0:
        return "MAE pre-training"
    return "MAE pre-training (synthetic data)" if share == 1 else "MAE pre-training (partly synthetic data)"


def _save(
    ckpt_dir: Path,
    model: MAE,
    optimizer: torch.optim.Optimizer,
    config: PretrainConfig,
    step: int,
    dataset: StudyDataset,
) -> Path:
    # the input grid is recorded so that load_pretrained can rebuild the model from the folder alone;
    # the orientation and voxel size the studies were presented in, so users can check their data
    affine = dataset.affine(0)
    extra = {"kind": "mae-pretrain", "img_size": list(dataset.spatial_shape),
             "orientation": list(axis_codes(affine)),
             "spacing": [round(v, 6) for v in voxel_sizes(affine)]}
    save_checkpoint(ckpt_dir, model, step=step, config=config.model_dump(mode="json"), optimizer=optimizer,
                    extra=extra)
    return ckpt_dir


def compile_for_training(module: nn.Module, device: torch.device | str) -> nn.Module:
    """``torch.compile(module)`` (inductor), after checking what it needs up front.

    Compiling happens at the first step (about a minute for a ViT-B on 2 CPU cores; the module's
    parameters and state dict are unchanged). Inductor fuses the element-wise work between the
    matrix products (bias + GELU, residual + LayerNorm), which eager PyTorch runs one op at a time.
    The compiled step rounds differently from the eager one, so a run cannot switch between the two
    on ``resume`` and stay bit-exact; compiled runs themselves are deterministic.

    Raises:
        ConfigError: on CPU without a C++ compiler (inductor writes and builds C++ kernels there).
    """
    if torch.device(device).type == "cpu" and not (
        os.environ.get("CXX") or any(shutil.which(c) for c in ("g++", "c++", "clang++"))
    ):
        raise ConfigError("compile=true on CPU needs a C++ compiler (g++ or clang++, or set CXX); "
                          "install one or train without compile")
    return torch.compile(module)  # type: ignore[return-value]


def _micro_batch(
    dataset: StudyDataset,
    indices: list[int],
    masking: Callable[..., MaskSpec],
    model: MAE,
    config: PretrainConfig,
    info: DistInfo,
    micro_batch: int,
    token_maps: TokenMaps | None = None,
) -> tuple[torch.Tensor, MaskSpec]:
    """Training micro-batch ``micro_batch`` (items ``indices``) and its mask, from the seed stream."""
    gen = torch.Generator().manual_seed(_micro_batch_seed(config.seed, micro_batch, info))
    x, spec = _masked_batch(dataset, indices, masking, model, config, info.device, gen, token_maps)
    # stochastic depth and dropout draw from the global generator: seed it from the same stream, so
    # that they too depend on (seed, micro-batch, rank) only (exact resume; different draws per rank)
    torch.manual_seed(int(torch.randint(2**62, (1,), generator=gen)))
    return x, spec


def _masked_batch(
    dataset: StudyDataset,
    indices: Sequence[int],
    masking: Callable[..., MaskSpec],
    model: MAE,
    config: PretrainConfig,
    device: torch.device,
    generator: torch.Generator,
    token_maps: TokenMaps | None,
) -> tuple[torch.Tensor, MaskSpec]:
    """Items ``indices`` of ``dataset`` as a batch on ``device``, and their mask drawn with ``generator``
    (from ``token_maps``, the lesion or ROI map per token, where the masking uses one)."""
    grid = model.mask_grid
    x = torch.stack([dataset.item_image(i) for i in indices]).to(device)
    kwargs: dict[str, Any] = {}
    if token_maps is not None:
        per_token = _per_token(token_maps(indices).flatten(1), grid).to(device)
        if config.masking == "lesion_aware":
            kwargs["weights"] = per_token
        else:
            kwargs["roi"] = per_token > 0
    return x, masking(x.shape[0], grid, generator=generator, device=device, **kwargs)


#: ``maps(indices) -> (B, *grid or P)``: a lesion (probability or fraction) or ROI map per token.
TokenMaps = DetectorTokenMaps | LabelTokenMaps


def _token_maps(config: PretrainConfig, dataset: StudyDataset, detector: LesionDetector | None, model: MAE,
                info: DistInfo) -> TokenMaps | None:
    """The per-token maps the masking reads: a detector's lesion probabilities, or the lesion / ROI label
    fractions of ``dataset``'s label maps (computed once per item); ``None`` for masking without maps."""
    patch = model.geometry.patch_size
    if detector is not None:
        return DetectorTokenMaps(detector, dataset, patch, info.device)
    if config.masking == "lesion_aware":
        return LabelTokenMaps(dataset, patch, _lesion_labels(config))
    if config.masking == "roi_prior":
        assert config.roi_labels  # checked before any data is read
        return LabelTokenMaps(dataset, patch, config.roi_labels)
    return None


@dataclass(frozen=True)
class _HeldOutSet:
    """The ``val_data`` studies, matched to the training data, and their token maps (``lesion_aware``,
    ``roi_prior``; ``None`` for masking without maps)."""

    dataset: StudyDataset
    token_maps: TokenMaps | None


def _held_out_set(
    config: PretrainConfig,
    train: StudyDataset,
    detector: LesionDetector | None,
    with_labels: bool,
    model: MAE,
    info: DistInfo,
) -> _HeldOutSet | None:
    """The held-out studies of ``config.val_data`` with the training data's sequences, mode,
    normalisation and orientation; refused when their grid differs or when they include a training
    study (the loss would not be held out)."""
    if not config.val_data:
        return None
    try:
        held = StudyDataset(config.val_data, sequences=train.sequences, mode=config.mode,
                            normalization=config.normalization, with_labels=with_labels,
                            orientation_from=train, cache_dir=config.cache_dir)
    except MissingLabelMapError as exc:
        raise InputError(f"val_data: {exc.folder}: has no label map (labels.nii.gz); masking "
                         f"{config.masking!r} reads the lesion / ROI labels of the held-out studies too"
                         f"{', or give a lesion_detector' if detector is None else ''}") from None
    if held.spatial_shape != train.spatial_shape:
        what = "grid" if config.mode == "3d" else "slice size"
        raise InputError(f"val_data {config.val_data}: {what} {held.spatial_shape} differs from the training "
                         f"data's {train.spatial_shape}; resample the held-out studies to the training grid")
    trained = {f.resolve() for f in train.folders}
    shared = [f for f in held.folders if f.resolve() in trained]
    if shared:
        raise ConfigError(f"val_data shares {len(shared)} of its {len(held.folders)} studies with data (e.g. "
                          f"{shared[0]}): a held-out loss needs studies the model is not trained on")
    return _HeldOutSet(held, _token_maps(config, held, detector, model, info))


def _evaluate_held_out(
    model: MAE,
    held_out: _HeldOutSet,
    masking: Callable[..., MaskSpec],
    config: PretrainConfig,
    info: DistInfo,
) -> float:
    """The held-out loss (:func:`maerad.train.held_out.held_out_loss`), computed on the main process and
    shared with the others (the same value in every log)."""
    value = 0.0
    if info.is_main:
        def inputs(indices: Sequence[int], generator: torch.Generator
                   ) -> tuple[torch.Tensor, MaskSpec, torch.Tensor | None]:
            x, spec = _masked_batch(held_out.dataset, indices, masking, model, config, info.device, generator,
                                    held_out.token_maps)
            return x, spec, _voxel_weights(x, config)

        value = held_out_loss(model, len(held_out.dataset), config.batch_size, inputs, seed=config.seed,
                              bf16=config.bf16, device=info.device)
    return from_main_process(value, info)


def _micro_batch_seed(seed: int, micro_batch: int, info: DistInfo) -> int:
    """The seed of a micro-batch's random draws on this process, distinct for every (micro-batch, rank).
    The stride is at least 131, the value of earlier versions, so runs of up to 131 processes keep
    their masks."""
    stride = max(131, info.world_size)
    return (seed * 1_000_003 + micro_batch) * stride + info.rank


def _check_roi_budget(
    dataset: StudyDataset,
    token_maps: TokenMaps,
    model: MAE,
    config: PretrainConfig,
    masking: RoiPriorMasking,
    *,
    progress: bool,
) -> None:
    """``roi_prior`` refuses a batch whose ROI needs more than ``K`` visible tokens (overflow="raise"):
    find such an item before the first step rather than hours into the run. Reads every item's ROI map
    (``token_maps`` keeps them for training), a training batch of items at a time."""
    if masking.overflow != "raise":
        return
    num_tokens = math.prod(model.mask_grid)
    keep = num_visible(num_tokens, masking.mask_ratio)
    chunk = config.batch_size
    for start in progress_iter(range(0, len(dataset), chunk), enabled=progress, desc="roi budget",
                               unit="batch"):
        indices = range(start, min(start + chunk, len(dataset)))
        counts = (_per_token(token_maps(indices).flatten(1), model.mask_grid) > 0).sum(dim=1)
        worst = int(counts.argmax())
        if int(counts[worst]) > keep:
            raise ConfigError(
                f"roi_prior: {dataset.describe_item(indices[worst])} has {int(counts[worst])} tokens of "
                f"roi_labels {config.roi_labels} but only K={keep} of {num_tokens} stay visible at "
                f"mask_ratio {masking.mask_ratio}; lower mask_ratio, narrow roi_labels, or set "
                "masking_kwargs.overflow=sample (keeps a random K of the ROI tokens)"
            )


def _lesion_detector(config: PretrainConfig, info: DistInfo) -> LesionDetector | None:
    """The lesion detector ``config`` names (for ``lesion_aware`` masking), loaded on the device."""
    if config.lesion_detector is None:
        return None
    if config.masking != "lesion_aware":
        raise ConfigError(f"lesion_detector is used by masking 'lesion_aware', not {config.masking!r}")
    detector = LesionDetector.from_checkpoint(config.lesion_detector, device=info.device)
    if detector.spatial_dims == 3 and config.mode == "2d":
        raise ConfigError("lesion_detector is a 3D detector; 2D slices need a 2D one "
                          "(maerad train-lesion --spatial-dims 2)")
    return detector


def _per_token(spatial: torch.Tensor, grid: tuple[int, ...]) -> torch.Tensor:
    """A ``(B, P)`` map over spatial positions for the tokens of ``grid``: repeated once per sequence
    (sequence-major) in the per-sequence layout, where a lesion is a lesion in every sequence."""
    repeats, rest = divmod(math.prod(grid), spatial.shape[1])
    assert repeats >= 1 and rest == 0, (tuple(spatial.shape), grid)
    return spatial.repeat(1, repeats)


# strategies for the per-sequence layout's (S, *G) grid, and those that would read S as a spatial axis
_PER_SEQUENCE_MASKINGS = ("joint", "independent", "drop_sequence")
_SPATIAL_ONLY_MASKINGS = ("block", "grid", "tube")


def _voxel_weights(x: torch.Tensor, config: PretrainConfig) -> torch.Tensor | None:
    """``(B, 1, *S)`` loss weights: 1 on foreground voxels, ``background_weight`` elsewhere (``None`` when
    that is 1: the unweighted MAE loss). See :func:`maerad.losses.intensity_foreground`."""
    if config.background_weight >= 1.0:
        return None
    foreground = intensity_foreground(x, config.foreground_threshold)[:, None].to(x.dtype)
    return config.background_weight + (1.0 - config.background_weight) * foreground


def _total_steps(max_steps: int | None, epochs: int, batches_per_epoch: int, accum_steps: int) -> int:
    """The optimizer steps of a run: ``max_steps``, else ``epochs`` passes rounded **up** to whole steps
    of ``accum_steps`` micro-batches, so that a run reads at least the epochs asked for."""
    if max_steps:
        return max_steps
    return max(1, math.ceil(epochs * batches_per_epoch / accum_steps))


def _check_warmup_fits(warmup_steps: int, total_steps: int) -> None:
    """A warm-up as long as the run leaves the lr short of its peak or at it with no decay. (A one-step
    run has no schedule: its step takes the peak whether warmup_steps is 0 or 1.)"""
    if warmup_steps < max(2, total_steps):
        return
    what = ("never reach its peak" if warmup_steps > total_steps
            else "reach its peak only at the last step and never decay")
    raise ConfigError(f"warmup_steps {warmup_steps} >= the run's {total_steps} steps: the learning rate "
                      f"would {what}; set warmup_steps below {total_steps} (leave it unset for 5 % of the "
                      f"run, {total_steps // 20}), or train longer (max_steps / epochs)")


def _schedule_change(
    step: int, saved_total: int | None, total_steps: int, peak_lr: float, warmup_steps: int, min_lr: float
) -> str:
    """For the "resuming" line: how the lr jumps when a resumed run ends at another step than before
    (the cosine is laid out again over the new length, not continued from the current lr)."""
    if saved_total is None or saved_total == total_steps:
        return ""
    before = cosine_lr(step - 1, peak_lr=peak_lr, total_steps=saved_total, warmup_steps=warmup_steps,
                       min_lr=min_lr)
    after = cosine_lr(step, peak_lr=peak_lr, total_steps=total_steps, warmup_steps=warmup_steps,
                      min_lr=min_lr)
    return (f"; the lr schedule now ends at step {total_steps}, not {saved_total}: the cosine is "
            f"stretched to the new end, so the lr goes from {before:.3g} (step {step}) to {after:.3g} "
            f"(step {step + 1})")


def _check_patch_fits_grid(config: PretrainConfig, grid: tuple[int, ...]) -> None:
    """The patch must tile the studies' grid: say so in terms the user sets (patch_size, mode,
    resampling) rather than the model's img_size, which comes from the data."""
    patch = tuple(config.patch_size or default_patch_size(config.mode))
    if len(patch) != len(grid):  # the model names this mismatch itself
        return
    bad = [axis for axis, (size, p) in enumerate(zip(grid, patch, strict=True)) if size % p]
    if not bad:
        return
    axis = bad[0]
    names = ("slice", "row", "column") if len(grid) == 3 else ("row", "column")
    # the largest patch size at most the set one that divides the grid, axis by axis
    fits = [max(d for d in range(1, p + 1) if size % d == 0) for size, p in zip(grid, patch, strict=True)]
    remedies = [f"--set patch_size=[{','.join(map(str, fits))}] (patch_size={fits} from Python)"]
    if len(grid) == 3 and axis == 0:
        remedies.append("--mode 2d (2D slices need no patch depth)")
    remedies.append(f"resample the studies to a grid whose {names[axis]} count {patch[axis]} divides")
    what = "the 3D patch depth must divide the slice count" if len(grid) == 3 and axis == 0 else (
        "the patch size must divide the grid along every axis")
    raise ConfigError(f"the studies' grid {grid} has {grid[axis]} {names[axis]}s, which patch_size "
                      f"{list(patch)} does not tile ({patch[axis]} per patch): {what}; use "
                      f"{', or '.join(remedies)}")


def _check_masking_hides_tokens(masking: Callable[..., MaskSpec], model: MAE) -> None:
    """A mask that hides nothing leaves the MAE no loss: refuse it before any data is read, not at step 1."""
    count = getattr(masking, "num_visible", None)
    if count is None:  # a user's strategy without the method: its masks are checked at step 1
        return
    total = math.prod(model.mask_grid)
    if count(model.mask_grid) >= total:
        raise ConfigError(f"masking {masking!r} hides no token of the model's {total}-token grid "
                          f"{tuple(model.mask_grid)}; raise mask_ratio")


def _check_masking_draws(masking: Callable[..., MaskSpec], model: MAE, config: PretrainConfig) -> None:
    """Draw one mask on the model's grid now: options that depend on the grid (a block cell or grid
    stride of the wrong rank, a sequence index beyond the data's) fail before any data is read or any
    output is touched, not at step 1."""
    num_tokens = math.prod(model.mask_grid)
    kwargs: dict[str, Any] = {}
    if config.masking == "lesion_aware":
        kwargs["weights"] = torch.zeros(1, num_tokens)
    elif config.masking == "roi_prior":
        kwargs["roi"] = torch.zeros(1, num_tokens, dtype=torch.bool)
    generator = torch.Generator().manual_seed(0)
    masking(1, model.mask_grid, generator=generator, device=torch.device("cpu"), **kwargs)


def _lesion_labels(config: PretrainConfig) -> tuple[int, ...]:
    """The label values ``lesion_aware`` treats as lesion (the phantom's unless the config names them)."""
    from maerad.data.phantom import LESION_LABELS

    return tuple(config.lesion_labels) if config.lesion_labels is not None else tuple(sorted(LESION_LABELS))


def _check_lesion_labels_present(dataset: StudyDataset, config: PretrainConfig) -> None:
    """``lesion_aware`` from label maps in which no voxel carries a lesion label would mask uniformly at
    random without a word: refuse it (real label maps rarely use the phantom's values)."""
    ids = _lesion_labels(config)
    if any(bool(np.isin(dataset.item_labels(i).numpy(), ids).any()) for i in range(len(dataset))):
        return
    raise ConfigError(f"masking 'lesion_aware': no voxel of the {len(dataset.folders)} studies carries a "
                      f"lesion label in {list(ids)}, so every mask would be uniformly random; set "
                      "lesion_labels to the label values of lesions in your label maps, or give a "
                      "lesion_detector")


def _with_stage_heads(config: PretrainConfig, model: MAE) -> PretrainConfig:
    """``config`` with the attention heads of a unit-attention MAE-P stem recorded in ``model_kwargs``:
    the head count is not in the weights, so a later default cannot change the model a checkpoint
    rebuilds."""
    stem = model.patch_embed
    if not (isinstance(stem, PyramidStem) and stem.stage_mixer == "unit_attention"):
        return config
    kwargs = {**config.model_kwargs, "stage_heads": list(stem.stage_heads)}
    return config.model_copy(update={"model_kwargs": kwargs})


def _run_outline(model: MAE, dataset: StudyDataset, held_out: _HeldOutSet | None, info: DistInfo) -> str:
    """One line on what the run holds: the model's encoder and decoder sizes (MAE's default decoder, 512
    wide and 8 deep over every token, is most of a small encoder's step) and the studies in memory."""
    decoder = sum(p.numel() for name, p in model.named_parameters() if name.startswith("decoder."))
    encoder = sum(p.numel() for p in model.parameters()) - decoder
    cached = dataset.cached_bytes + (held_out.dataset.cached_bytes if held_out is not None else 0)
    studies = len(dataset.folders) + (len(held_out.dataset.folders) if held_out is not None else 0)
    size = f"{cached / 2**30:.2f} GiB" if cached >= 2**30 else f"{cached / 2**20:.1f} MiB"
    if dataset.disk_cache is not None:
        where = f"memory-mapped from {dataset.disk_cache.root}, {size} shared by every process"
    else:
        where = f"in memory, {size}{' per process' if info.world_size > 1 else ''}"
        if info.world_size > 1:
            where += " (--cache-dir keeps one copy for every process)"
        elif (memory := _physical_memory_bytes()) is not None and cached > memory // 4:
            where += f", {cached / memory:.0%} of this machine's memory (--cache-dir maps them from disk)"
    return (f"model: encoder {encoder / 1e6:.3g} M parameters, decoder {decoder / 1e6:.3g} M over all "
            f"{model.num_tokens} tokens (model_kwargs.decoder_depth / decoder_embed_dim make it smaller); "
            f"{studies} studies {where}")


def _physical_memory_bytes() -> int | None:
    """This machine's physical memory, where the platform says (``None`` elsewhere)."""
    try:
        return int(os.sysconf("SC_PAGE_SIZE")) * int(os.sysconf("SC_PHYS_PAGES"))
    except (AttributeError, OSError, ValueError):
        return None


def _masking_options(config: PretrainConfig, sequences: Sequence[str]) -> dict[str, Any]:
    """``masking_kwargs`` with ``drop_sequence``'s ``drop`` given by sequence name turned into channel
    indices (a name does not depend on the channel order, which real data may not share with the
    phantom)."""
    options = dict(config.masking_kwargs)
    drop = options.get("drop")
    if config.masking != "drop_sequence" or drop is None:
        return options
    items = [drop] if isinstance(drop, str) else drop
    if not isinstance(items, list):
        return options  # an int: DropSequenceMasking checks it
    resolved: list[Any] = []
    for item in items:
        if isinstance(item, str):
            if item not in sequences:
                raise ConfigError(f"masking_kwargs.drop names sequence {item!r}, which the data does not "
                                  f"hold; its sequences: {', '.join(sequences)}")
            item = list(sequences).index(item)
        resolved.append(item)
    return {**options, "drop": resolved}


def _check_masking_fits_layout(name: str, model: MAE, mode: str) -> None:
    """Refuse strategies the model's token layout cannot use, instead of masking the wrong axis."""
    per_sequence = isinstance(model, SequenceTokenMAE)
    if name == "tube" and mode == "2d":
        raise ConfigError("masking 'tube' repeats one mask along the slice axis; 2D slices have none "
                          "(use mode 3d)")
    if name in _PER_SEQUENCE_MASKINGS and not per_sequence:
        raise ConfigError(f"masking {name!r} needs the per-sequence token layout "
                          "(set model_kwargs.token_layout=per_sequence on an mae_vit_* model)")
    if name in _SPATIAL_ONLY_MASKINGS and per_sequence:
        raise ConfigError(f"masking {name!r} would treat the sequence axis of the per-sequence layout as "
                          f"space; use one of {', '.join(_PER_SEQUENCE_MASKINGS)}, random, lesion_aware or "
                          "roi_prior")
    if name == "scores":
        raise ConfigError("masking 'scores' needs per-token scores from the caller; pretrain has none "
                          "(call the model with noise= from Python instead)")


# Paths in the config: recorded resolved, so that --resume works from any folder and tells another
# folder of the same relative name from the run's own.
_PATH_FIELDS = ("data", "lesion_detector", "val_data", "cache_dir")


def _absolute_paths(config: Mapping[str, Any]) -> dict[str, str]:
    """The non-empty path fields of ``config`` (a config's fields by name), resolved (links followed)."""
    paths = {key: config.get(key) for key in _PATH_FIELDS}
    return {key: str(Path(path).resolve()) for key, path in paths.items() if isinstance(path, str) and path}


def _peak_lr(config: PretrainConfig, info: DistInfo) -> float:
    """The peak learning rate (``lr``, or ``base_lr`` scaled by the effective batch), after checking that
    ``min_lr`` is not above it: the cosine would then climb instead of decaying."""
    effective_batch = config.batch_size * config.accum_steps * info.world_size
    if config.lr is not None:
        peak, how = config.lr, "lr"
    else:
        peak = scaled_lr(config.base_lr, effective_batch)
        how = f"base_lr {config.base_lr:g} x effective batch {effective_batch} / 256"
    if config.min_lr > peak:
        raise ConfigError(f"min_lr {config.min_lr:g} is above the peak learning rate {peak:g} ({how}); lower "
                          "min_lr, or raise the peak")
    return peak


def _grads_in_parameter_layout(model: nn.Module) -> None:
    """Give every gradient its parameter's strides before it is accumulated.

    DDP copies each gradient into a bucket laid out like the parameter, and warns on every rank when the
    strides differ. They can for a size-1 axis: with a batch of one, the cls token's ``(1, 1, E)``
    gradient is a slice of the ``(1, 1 + N, E)`` gradient of the token sequence, with the stride of the
    whole sequence on its first axis. (``gradient_as_bucket_view`` would not help: the check comes before
    the gradient becomes a bucket view, on every step whose gradients were set to None.) Only gradients
    whose strides differ are copied, bit for bit."""
    for param in model.parameters():
        if param.requires_grad:
            param.register_hook(functools.partial(_as_laid_out, param))  # type: ignore[no-untyped-call]


def _as_laid_out(param: torch.Tensor, grad: torch.Tensor) -> torch.Tensor:
    if grad.layout != torch.strided or grad.stride() == param.stride():
        return grad
    return torch.empty_strided(param.shape, param.stride(), dtype=grad.dtype, device=grad.device).copy_(grad)


def _restore(
    ckpt_dir: Path, config: PretrainConfig, model: nn.Module, optimizer: torch.optim.Optimizer
) -> tuple[int, int | None, dict[str, Any]]:
    """Load weights and optimizer state; returns the step, the warm-up steps the run was started with and
    the checkpoint's config."""
    ckpt = load_checkpoint(ckpt_dir)
    saved = saved_pretrain_config(ckpt.config)
    # earlier versions recorded paths as typed: resolved against the working folder, those runs still
    # resume from where they were started (this run's own paths are absolute already)
    saved.update(_absolute_paths(saved))
    current = config.model_dump(mode="json")
    inherited = {"warmup_steps"} if config.warmup_steps is None else set()  # None: keep the run's own
    changed = sorted(k for k in current
                     if k not in _RESUMABLE_CHANGES | inherited and saved.get(k) != current[k])
    if changed:
        detail = "; ".join(f"{k}: checkpoint {saved.get(k)!r}, now {current[k]!r}" for k in changed)
        raise ConfigError(f"cannot resume {ckpt_dir}: config differs in {', '.join(changed)} ({detail}); "
                          "resume with the run's settings (maerad pretrain --out OUT --resume reads them "
                          "from OUT/config.json)")
    try:
        model.load_state_dict(ckpt.model_state)
    except RuntimeError as exc:
        first = str(exc).splitlines()[0]
        raise CheckpointError(f"{ckpt_dir}: weights do not fit the model ({first})") from None
    if ckpt.optimizer_state is None:
        raise CheckpointError(f"{ckpt_dir}: holds no optimizer state; cannot resume exactly")
    try:
        optimizer.load_state_dict(ckpt.optimizer_state)
    except ValueError as exc:
        raise CheckpointError(f"{ckpt_dir}: the optimizer state does not fit this model's parameter groups "
                              f"({exc}); was it written by another maerad version or model?") from None
    warmup = saved.get("warmup_steps")
    return ckpt.step, warmup if isinstance(warmup, int) else None, saved


@dataclass(frozen=True)
class _FigureItem:
    """What the reconstruction figures show: dataset item ``index``, slice ``z`` of the ``depth`` slices
    of study ``study`` (its folder name), drawn with the study's ``affine``."""

    index: int
    z: int
    depth: int
    study: str
    affine: np.ndarray | None


def _figure_item(dataset: StudyDataset) -> _FigureItem:
    """The middle slice of the first study (edge slices of a real field of view are mostly empty): the
    3D figure shows it from the study's volume, a 2D run draws that slice's item."""
    depth = int(dataset.volume(0).shape[1])
    z = shown_slice(depth)
    index = 0
    if dataset.mode == "2d":
        index = next(i for i in range(len(dataset)) if dataset.item_source(i) == (0, z))
    # the affine of the arrays the dataset returns (a study may be flipped to the first's orientation)
    return _FigureItem(index=index, z=z, depth=depth, study=dataset.folders[0].name, affine=dataset.affine(0))


def _figure(
    model: MAE,
    dataset: StudyDataset,
    masking: Callable[..., MaskSpec],
    config: PretrainConfig,
    info: DistInfo,
    out: Path,
    step: int,
    token_maps: TokenMaps | None,
    item: _FigureItem,
    *,
    held_out: bool = False,
) -> Path:
    # A fixed item and a fixed mask so figures of successive steps are comparable (a training study takes
    # micro-batch 0's seed, a held-out one a held-out seed of its own)
    seed = held_out_seed(config.seed, item.index) if held_out else _micro_batch_seed(config.seed, 0, info)
    x, spec = _masked_batch(dataset, [item.index], masking, model, config, info.device,
                            torch.Generator().manual_seed(seed), token_maps)
    model.eval()
    with torch.no_grad(), bf16_autocast(config.bf16, info.device):
        output = model(x, mask=spec)
        recon = model.reconstruct(x, output)
    model.train()
    patches = model.patchify(x.float())  # the model's own token layout
    hidden = output.mask.unsqueeze(-1).expand_as(patches)
    masked = model.unpatchify(patches.masked_fill(hidden, float("nan")))
    normalised: dict[str, torch.Tensor] = {}
    if model.norm_pix_loss:
        # reconstruct() rescales hidden patches with the original's own statistics, which carry most of
        # the picture: show the prediction next to its target in the normalised space the loss compares
        # the model's own targets (a sequence hidden whole is normalised over its image, not per patch)
        index = output.ids_hidden.unsqueeze(-1).expand(-1, -1, patches.shape[-1])
        empty = torch.full_like(patches, float("nan"))
        target = empty.scatter(1, index, model.hidden_targets(patches, output.ids_hidden).float())
        pred = empty.scatter(1, index, output.pred_hidden.float())
        normalised = {"norm_target": model.unpatchify(target)[0],
                      "norm_prediction": model.unpatchify(pred)[0]}
    split = "held-out" if held_out else "training"
    title = (f"MAE reconstruction, step {step}: {split} study {item.study}, slice {item.z} "
             f"(middle of {item.depth})")
    name = f"reconstruction-heldout-step{step:06d}.png" if held_out else f"reconstruction-step{step:06d}.png"
    whole: list[str] = []
    if isinstance(model, SequenceTokenMAE) and model.norm_pix_loss:  # whole sequences: image statistics
        whole = [n for n, hidden in zip(dataset.sequences, hidden_sequences(spec)[0].tolist(), strict=True)
                 if hidden]
    return save_reconstruction_figure(out / "figures" / name, x[0], masked[0],
                                      recon[0], dataset.sequences, title=title,
                                      synthetic=dataset.is_synthetic(item.index), affine=item.affine,
                                      hidden_whole=whole, **normalised)


@contextlib.contextmanager
def _no_sync(model: nn.Module, skip_sync: bool) -> Iterator[None]:
    """DDP's ``no_sync`` when ``skip_sync``, also for a DDP module inside a ``torch.compile`` wrapper."""
    model = getattr(model, "_orig_mod", model)
    if skip_sync and isinstance(model, nn.parallel.DistributedDataParallel):
        with model.no_sync():
            yield
    else:
        yield
