"""PyTorch datasets over study folders: 3D volumes or 2D slices, sequences as channels.

Study folders are maerad study folders (``case.json``), folders of NIfTI files named by sequence, or
folders of DICOM series, one sub-folder per sequence: see :mod:`maerad.data.discovery`.

A dataset item is a dict of tensors:

* ``"image"``: ``(C, D, H, W)`` in 3D mode or ``(C, H, W)`` in 2D mode, ``float32``, channels in the
  order of ``sequences`` (this order is recorded in checkpoints so models always see the same channel
  layout);
* ``"labels"``: the label map on the same spatial grid (``int64``), only with ``with_labels=True``;
* ``"index"``: the item index (``int64`` scalar), for tracing a batch back to its case.

Studies are presented in one orientation: a study whose axes run in the opposite direction to the
first study's (the same anatomy stored as NIfTI and as DICOM, say) is flipped to match it, its
``affine`` updated (:meth:`StudyDataset.affine`); a study with another axis order (sagittal beside
axial) is refused, since that needs resampling. A voxel size more than 10 % away from the first study's
gives a warning: the patches then cover different physical sizes. A held-out set is matched to a
training set's first study instead with ``orientation_from=``.

Intensities are normalised per study and **per channel** (never across sequences): by default each
channel is mapped so that its 0.5th and 99.5th percentiles become 0 and 1 (values beyond are kept, not
clipped), which puts T2W, DWI, ADC and T1c — whose raw scales differ by orders of magnitude — on a
comparable footing.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Literal

import numpy as np
import torch
from torch.utils.data import Dataset

from maerad.data.discovery import find_study_folders, load_study_folder, outline_study_folder
from maerad.data.orientation import axis_codes, flip_axes_to_match, flipped_affine
from maerad.data.study import FloatArray, Study
from maerad.data.study_cache import CachedStudy, StudyCache
from maerad.errors import ConfigError, InputError
from maerad.progress import progress_iter

__all__ = [
    "MissingLabelMapError",
    "StudyDataset",
    "check_same_sequences",
    "find_study_folders",
    "normalize_channels",
]

Normalization = Literal["percentile", "zscore", "none"]


def normalize_channels(image: FloatArray, method: Normalization = "percentile") -> FloatArray:
    """Normalise each channel of ``image`` ``(C, ...)`` independently.

    ``percentile`` maps the 0.5th/99.5th percentiles to 0/1; ``zscore`` subtracts the mean and divides
    by the standard deviation; ``none`` returns the input. A constant channel becomes zeros.
    """
    if method == "none":
        return image
    out = np.empty_like(image, dtype=np.float32)
    for c in range(image.shape[0]):
        ch = image[c]
        if method == "percentile":
            lo, hi = np.percentile(ch, [0.5, 99.5])
            shift, scale = float(lo), float(hi - lo)
        elif method == "zscore":
            shift, scale = float(ch.mean()), float(ch.std())
        else:
            raise ConfigError(f"unknown normalization {method!r}; use percentile, zscore or none")
        out[c] = (ch - shift) / scale if scale > 0 else 0.0
    return out


class MissingLabelMapError(InputError):
    """A dataset built to read label maps met a study without one (callers can say why they need it)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        super().__init__(f"{folder}: has no label map (labels.nii.gz), and label maps were asked for "
                         "(with_labels=True)")


class StudyDataset(Dataset[dict[str, torch.Tensor]]):
    """Study folders as a map-style dataset of 3D volumes or 2D slices.

    Args:
        studies: study folder paths, or a single root folder whose sub-folders are studies (any layout of
            :mod:`maerad.data.discovery`; other files and folders below the root are skipped).
        sequences: the channel order; default: the sequences of the first study, which every study must
            then hold exactly (else an error asks for ``sequences``, rather than dropping some silently).
        mode: ``"3d"`` (one item per study) or ``"2d"`` (one item per slice along ``d``).
        normalization: per-channel intensity normalisation, see :func:`normalize_channels`.
        with_labels: also return the label map (studies without one give an error).
        cache: keep loaded, normalised studies in memory (a default phantom case is ~6 MB).
        cache_dir: keep them on disk instead, in this folder, memory-mapped (:mod:`maerad.data.study_cache`):
            processes (``torchrun`` ranks) share one copy through the page cache, datasets larger than
            memory work, and later runs skip decoding and normalising. Items are copies of the mapped
            arrays (the same values), as writable as without it. Needs ``cache=True``.
        orientation_from: another dataset whose orientation and voxel size (those of its first study)
            this one's studies are matched to, instead of this one's first study: a validation set built
            beside a training set then presents the anatomy the same way round.

    Raises:
        InputError: no study found, a study lacks one of ``sequences`` or (with ``with_labels``) its label
            map, studies hold different sequences and ``sequences`` is not given, or the studies' grids
            differ (3D mode needs one grid to batch; 2D mode needs one in-plane size). These are found
            when the dataset is built; the message names the study folder.

    Examples::

        >>> ds = StudyDataset("maerad-demo/phantom", sequences=["t2w", "adc"])   # doctest: +SKIP
        >>> ds[0]["image"].shape                                                  # doctest: +SKIP
        torch.Size([2, 24, 128, 128])
    """

    def __init__(
        self,
        studies: str | os.PathLike[str] | Sequence[str | os.PathLike[str]],
        *,
        sequences: Sequence[str] | None = None,
        mode: Literal["2d", "3d"] = "3d",
        normalization: Normalization = "percentile",
        with_labels: bool = False,
        cache: bool = True,
        cache_dir: str | os.PathLike[str] | None = None,
        orientation_from: StudyDataset | None = None,
    ) -> None:
        if mode not in ("2d", "3d"):
            raise ConfigError(f"mode must be '2d' or '3d', got {mode!r}")
        if cache_dir is not None and not cache:
            raise ConfigError("cache_dir keeps studies in a cache (on disk); it needs cache=True")
        if isinstance(studies, (str, os.PathLike)):
            self.folders = find_study_folders(studies)
        else:
            self.folders = [Path(s) for s in studies]
            if not self.folders:
                raise InputError("StudyDataset needs at least one study folder")
        self.mode = mode
        self.normalization = normalization
        self.with_labels = with_labels
        self.cache = cache
        self._cache: dict[int, tuple[FloatArray, np.ndarray | None]] = {}
        self.disk_cache = StudyCache(cache_dir) if cache_dir is not None else None
        # the first study's axis codes and voxel size (or orientation_from's), which every study is matched to
        self._reference: tuple[tuple[str, ...], tuple[float, ...]] | None = None
        # only the reference itself is kept (not the other dataset and its cache)
        self._reference_study: Path | None = None
        if orientation_from is not None:
            self._reference = orientation_from.orientation
            self._reference_study = orientation_from.folders[0]
        self._affines: dict[int, np.ndarray] = {}
        # what each study holds, read up front so that a bad study fails here, not mid-training
        outlines = [outline_study_folder(f) for f in self.folders]
        self._shapes = shapes = [list(o.shape) for o in outlines]
        self._synthetic = [o.synthetic for o in outlines]
        if sequences is None:
            check_same_sequences(self.folders, [o.sequences for o in outlines])
        self.sequences = list(outlines[0].sequences if sequences is None else sequences)
        if not self.sequences:
            raise ConfigError("sequences must name at least one sequence")
        repeated = sorted({s for s in self.sequences if self.sequences.count(s) > 1})
        if repeated:
            raise ConfigError(f"sequences names {', '.join(map(repr, repeated))} more than once: each "
                              "sequence is one channel")
        ref = shapes[0]
        for folder, outline, shape in zip(self.folders, outlines, shapes, strict=True):
            missing = [s for s in self.sequences if s not in outline.sequences]
            if missing:
                raise InputError(
                    f"{folder}: study has no sequence {', '.join(map(repr, missing))}; "
                    f"available: {', '.join(outline.sequences)} (every study needs the sequences used)"
                )
            if with_labels and not outline.has_labels:
                raise MissingLabelMapError(folder)
            same = shape == ref if mode == "3d" else shape[1:] == ref[1:]
            if not same:
                raise InputError(
                    f"{folder}: grid {tuple(shape)} differs from {self.folders[0]} {tuple(ref)}; "
                    "resample the studies to one grid first"
                )
        self.spatial_shape: tuple[int, ...] = tuple(ref) if mode == "3d" else tuple(ref[1:])
        self._index: list[tuple[int, int]] = (
            [(i, -1) for i in range(len(self.folders))]
            if mode == "3d"
            else [(i, z) for i, s in enumerate(shapes) for z in range(s[0])]
        )

    @property
    def in_chans(self) -> int:
        """Number of channels (sequences) per item."""
        return len(self.sequences)

    def __len__(self) -> int:
        return len(self._index)

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        study_idx, z = self._index[index]
        image, labels = self._load(study_idx)
        item: dict[str, torch.Tensor] = {"index": torch.tensor(index, dtype=torch.int64),
                                         "image": _item_image(image, z)}
        if labels is not None:
            item["labels"] = torch.from_numpy((labels if z < 0 else labels[z]).astype(np.int64))
        return item

    def item_image(self, index: int) -> torch.Tensor:
        """The image of item ``index`` alone (``item["image"]``), without building its label map: for
        loops that take their label-derived maps elsewhere (e.g. pre-computed per item)."""
        study_idx, z = self._index[index]
        return _item_image(self._load(study_idx)[0], z)

    def preload(self, *, progress: bool = False) -> None:
        """Load and cache every study now.

        Building the dataset reads headers only; a voxel payload that cannot be read (a truncated NIfTI
        file, a cut-short DICOM slice, NaN voxels) shows when its study is loaded. Preloading turns such
        a fault into an error before training starts instead of part-way through its first epoch (which
        would load and cache every study anyway).

        Raises:
            ConfigError: the dataset was built with ``cache=False`` (nothing would be kept).
            InputError: a study cannot be loaded (the message names its folder or file).
        """
        if not self.cache:
            raise ConfigError("preload() keeps the studies in memory; build the dataset with cache=True")
        for study_idx in progress_iter(range(len(self.folders)), enabled=progress, desc="loading studies",
                                       unit="study"):
            self._load(study_idx)

    def item_labels(self, index: int) -> torch.Tensor:
        """The label map of item ``index`` (``int16``, sharing the cached study's memory where it can: no
        image is built).

        Raises:
            ConfigError: the dataset was built without ``with_labels``.
        """
        if not self.with_labels:
            raise ConfigError("item_labels() needs a dataset built with with_labels=True")
        study_idx, z = self._index[index]
        labels = self._load(study_idx)[1]
        assert labels is not None  # _load checks with_labels studies
        return _as_tensor(labels if z < 0 else labels[z])

    def item_source(self, index: int) -> tuple[int, int | None]:
        """Where item ``index`` comes from: its study's position in :attr:`folders`, and its slice
        (``None`` in 3D mode)."""
        study_idx, z = self._index[index]
        return study_idx, (None if z < 0 else z)

    def volume(self, study_idx: int) -> torch.Tensor:
        """The normalised image ``(C, D, H, W)`` of study ``study_idx`` (position in :attr:`folders`),
        whole also in 2D mode: for computations that need a slice's whole volume."""
        return _as_tensor(self._load(study_idx)[0])

    @property
    def synthetic_share(self) -> float:
        """The fraction of the studies that are synthetic (``maerad phantom`` cases)."""
        return sum(self._synthetic) / len(self._synthetic)

    def is_synthetic(self, index: int) -> bool:
        """Whether item ``index`` comes from a synthetic study (a ``maerad phantom`` case), so that
        figures and results made from it say so."""
        return self._synthetic[self._index[index][0]]

    def describe_item(self, index: int) -> str:
        """Where item ``index`` comes from, for messages: the study folder, and the slice in 2D mode."""
        study_idx, z = self._index[index]
        return str(self.folders[study_idx]) + ("" if z < 0 else f", slice {z}")

    def study(self, index: int) -> Study:
        """The raw :class:`Study` behind item ``index`` (not normalised, in its own orientation: see
        :meth:`affine` for the one this dataset presents)."""
        return load_study_folder(self.folders[self._index[index][0]])

    def affine(self, study_idx: int) -> np.ndarray:
        """The 4×4 voxel ``(d, h, w)`` → RAS+ mm affine of the arrays this dataset returns for study
        ``study_idx`` (position in :attr:`folders`): the study's own, or the flipped one when it was
        turned to the first study's orientation."""
        if study_idx not in self._affines:
            self._load(study_idx)
        return np.array(self._affines[study_idx])

    @property
    def cached_bytes(self) -> int:
        """Size of the cached studies (images and label maps), in bytes: held in this process's memory,
        or mapped from :attr:`disk_cache` (then shared by processes and paged as memory allows)."""
        return sum(image.nbytes + (0 if labels is None else labels.nbytes)
                   for image, labels in self._cache.values())

    @property
    def orientation(self) -> tuple[tuple[str, ...], tuple[float, ...]]:
        """The orientation every study is presented in: the ``(d, h, w)`` axis codes (e.g. ``('S', 'A',
        'R')``) and the voxel size in mm of the reference study (the first, or ``orientation_from``'s).
        Reads the reference study if it is not loaded yet."""
        if self._reference is None:
            self._load(0)
        assert self._reference is not None
        return self._reference

    # ----------------------------------------------------------------------------------------------
    def _load(self, study_idx: int) -> tuple[FloatArray, np.ndarray | None]:
        if study_idx in self._cache:
            return self._cache[study_idx]
        folder = self.folders[study_idx]
        study = self._normalised_study(folder)
        # the outline came from headers / case.json
        if list(study.image.shape[1:]) != self._shapes[study_idx]:
            raise InputError(
                f"{folder}: grid {tuple(study.image.shape[1:])} differs from "
                f"{tuple(self._shapes[study_idx])} found when the dataset was built (changed on disk?)"
            )
        flips = self._flips_to_reference(study_idx, study.affine, study.spacing)
        image, labels = study.image, None
        if self.with_labels:
            if study.labels is None:
                raise MissingLabelMapError(folder)
            labels = study.labels
        if flips:
            # a view: a memory-mapped study stays mapped (its items are copies: _as_tensor)
            image = np.flip(image, axis=tuple(a + 1 for a in flips))
            labels = None if labels is None else np.flip(labels, axis=flips)
            if self.disk_cache is None:
                image = np.ascontiguousarray(image)
                labels = None if labels is None else np.ascontiguousarray(labels)
        if self.cache:
            self._cache[study_idx] = (image, labels)
        return image, labels

    def _normalised_study(self, folder: Path) -> CachedStudy:
        """The study in ``folder`` stacked in channel order and normalised, in its own orientation: from
        :attr:`disk_cache` when it holds it (written there first when not)."""
        if self.disk_cache is None:
            return self._read_normalised(folder)
        key = self.disk_cache.key(folder, self.sequences, self.normalization)
        cached = self.disk_cache.load(key, channels=len(self.sequences))
        if cached is not None:
            return cached
        return self.disk_cache.store(key, self._read_normalised(folder), source=folder)

    def _read_normalised(self, folder: Path) -> CachedStudy:
        """The study in ``folder`` read from its files, stacked in channel order and normalised."""
        study = load_study_folder(folder)
        try:
            image = normalize_channels(study.stack(self.sequences), self.normalization)
        except InputError as exc:
            raise InputError(f"{folder}: {exc}") from None
        assert study.affine is not None and study.spacing is not None  # set by Study's validation
        return CachedStudy(image=image, labels=study.labels, affine=study.affine,
                           spacing=tuple(study.spacing))

    def _flips_to_reference(self, study_idx: int, affine: np.ndarray, spacing: tuple[float, ...]
                            ) -> tuple[int, ...]:
        """The axes to reverse so that study ``study_idx`` (its own ``affine`` and voxel ``spacing``) runs
        like the first study (recording its affine), after refusing another axis order and warning about
        another voxel size."""
        codes = axis_codes(affine)
        if self._reference is None:
            if study_idx != 0:
                self._load(0)  # sets the reference
            else:
                self._reference = (codes, spacing)
        assert self._reference is not None
        ref_codes, ref_spacing = self._reference
        flips = flip_axes_to_match(codes, ref_codes)
        folder = self.folders[study_idx]
        first = (f"the reference dataset's first study ({self._reference_study})"
                 if self._reference_study is not None else f"the first study's ({self.folders[0]})")
        if flips is None:
            raise InputError(
                f"{folder}: its (d, h, w) axes run {''.join(codes)}, {first} "
                f"{''.join(ref_codes)}: another axis order (e.g. sagittal beside axial), which flipping "
                "cannot fix; resample the studies to one orientation and grid first"
            )
        if any(abs(s - r) > 0.1 * r for s, r in zip(spacing, ref_spacing, strict=True)) \
                and study_idx not in self._affines:
            warnings.warn(
                f"{folder}: voxel size {tuple(round(s, 3) for s in spacing)} mm differs by more than "
                f"10 % from {first} {tuple(round(r, 3) for r in ref_spacing)} mm: the same patch "
                "covers a different physical size; resample to one voxel size for a consistent scale",
                stacklevel=2,
            )
        self._affines[study_idx] = flipped_affine(affine, self._shapes[study_idx], flips)
        return flips


def _item_image(image: FloatArray, z: int) -> torch.Tensor:
    """An item's image: the whole ``(C, D, H, W)`` study (``z < 0``, 3D) or its slice ``z`` (2D)."""
    return _as_tensor(image if z < 0 else image[:, z])


def _as_tensor(array: np.ndarray) -> torch.Tensor:
    """``array`` as a tensor: sharing its memory when that is writable and contiguous (a study cached
    in memory), else a copy (read-only maps of the disk cache: a tensor may not point into memory it
    must not write; flipped or sliced views: torch has no negative strides)."""
    if not (array.flags.writeable and array.flags.c_contiguous):
        array = np.array(array, order="C")
    return torch.from_numpy(array)


def check_same_sequences(folders: Sequence[Path], held: Sequence[Sequence[str]],
                         option: str = "--set sequences=[{names}]") -> None:
    """Without ``sequences``, the first study's decide the channels: a study holding more would lose its
    extra sequences without a word. Refuse any difference, naming the study and the sequences, and
    suggest the sequences every study holds (as the command-line ``option``, ``{names}`` filled in).

    Raises:
        InputError: the studies hold different sets of sequences.
    """
    first = held[0]
    common = [s for s in first if all(s in other for other in held)]
    hint = (f"name the channels to train on, e.g. {option.format(names=','.join(common))} "
            f"(sequences={common!r} from Python), the ones every study holds" if common
            else "the studies share no sequence")
    for folder, names in zip(folders[1:], held[1:], strict=True):
        missing = [s for s in first if s not in names]
        extra = [s for s in names if s not in first]
        if missing:
            also = f", and holds {', '.join(map(repr, extra))} instead" if extra else ""
            raise InputError(f"{folder}: study has no sequence {', '.join(map(repr, missing))}; available: "
                             f"{', '.join(names)}{also}; the first study, {folders[0]}, holds "
                             f"{', '.join(first)}: {hint}")
        if extra:
            raise InputError(f"{folder}: study holds {', '.join(map(repr, extra))} as well, which the first "
                             f"study, {folders[0]} ({', '.join(first)}), lacks; without sequences they would "
                             f"be left out: {hint}")
