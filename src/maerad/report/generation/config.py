"""``GeneratorConfig``: everything needed to rebuild a report generator (stored in its checkpoint).

Examples::

    >>> spec = EncoderSpec(volume_shape=(8, 32, 32), patch_size=[4, 16, 16], sequences=["t2w"])
    >>> spec.img_size, spec.in_chans
    ((8, 32, 32), 1)
    >>> EncoderSpec(mode="2d", volume_shape=(8, 32, 32), patch_size=[16, 16], sequences=["t2w"]).img_size
    (32, 32)
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from maerad.errors import ConfigError
from maerad.report.generation.segmenter import SegmenterSpec
from maerad.report.generation.tissue import check_tissue_groups

__all__ = ["EncoderSpec", "GeneratorConfig"]


class EncoderSpec(BaseModel):
    """The image encoder: an MAE / MAE-P encoder from ``maerad.models`` and the input it expects.

    Attributes:
        model: registered model name (``mae_vit_tiny``, ``maep_tiny``, …).
        mode: ``3d`` (one volume → one token grid) or ``2d`` (each slice encoded; tokens of all slices
            are concatenated with a slice-position embedding: a 2D slice stack).
        volume_shape: the study grid ``(D, H, W)`` the model takes (other grids are resampled).
        patch_size: patch size per encoder axis (3 values in 3D, 2 in 2D).
        sequences: the channel order (MRI sequence names).
        normalization: per-channel intensity normalisation (:func:`maerad.data.datasets.normalize_channels`).
        model_kwargs: extra ``create_model`` keywords (depth, embed_dim, …; decoder keywords are unused).
    """

    model_config = ConfigDict(extra="forbid")

    model: str = "mae_vit_tiny"
    mode: Literal["2d", "3d"] = "3d"
    volume_shape: tuple[int, int, int]
    patch_size: list[int]
    sequences: list[str] = Field(min_length=1)
    normalization: Literal["percentile", "zscore", "none"] = "percentile"
    model_kwargs: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _dims(self) -> EncoderSpec:
        want = 3 if self.mode == "3d" else 2
        if len(self.patch_size) != want:
            raise ValueError(f"patch_size must have {want} values in {self.mode} mode, got {self.patch_size}")
        if min(self.volume_shape) < 1:
            raise ValueError(f"volume_shape must be positive, got {self.volume_shape}")
        return self

    @property
    def in_chans(self) -> int:
        """Number of channels (sequences)."""
        return len(self.sequences)

    @property
    def token_shape(self) -> tuple[int, int, int]:
        """The voxel block ``(d, h, w)`` of one token: the patch in 3D, ``(1, ph, pw)`` in 2D."""
        p = self.patch_size
        return (p[0], p[1], p[2]) if self.mode == "3d" else (1, p[0], p[1])

    @property
    def img_size(self) -> tuple[int, ...]:
        """The encoder's input size: the volume in 3D, one slice ``(H, W)`` in 2D."""
        return tuple(self.volume_shape) if self.mode == "3d" else tuple(self.volume_shape[1:])


class GeneratorConfig(BaseModel):
    """Architecture and vocabulary of a report generator.

    Attributes:
        encoder: the image encoder.
        templates: template keys ``id@version`` the generator writes.
        concept_ids: the concept vocabulary (rows of the term embeddings).
        d_model: width of the decoder state and of field / option embeddings.
        term_dim, buckets, ngram_range, smoothing: term embeddings (:mod:`.term_embeddings`).
        align_dim, temperature, learn_temperature: alignment head (:mod:`.alignment`).
        decoder, decoder_kwargs: registered decoder (:data:`~.pointer_decoder.DECODERS`) and its options.
        skip_fields: field ids never generated.
        numeric_stats: field key → ``[mean, std]`` of the number targets.
        rule_options: options per rule system used when checking generated reports.
        max_leaves: decoding search budget (complete reports checked before giving up).
        stage_flag: add a flag when the direct stage head disagrees with the rule engines.
        tissue_groups: tissue-group name → label values; when given, a tissue head predicts each
            token's group shares (tissue supervision, :mod:`.tissue`); empty: no tissue head. Kept
            sorted by name: the head's outputs are in this order, which must survive a JSON round trip.
        tissue_head: with ``tissue_groups``, a per-token tissue head (:class:`.tissue.TissueHead`).
        tissue_segmenter: a voxel-level tissue segmenter (:mod:`.segmenter`) over the same groups; when
            given, the tissue summary reads its shares instead of the token head's.
        tissue_summary: add the predicted shares' volumes and contacts (:class:`.tissue.TissueSummary`)
            to the pooled study feature (needs ``tissue_groups`` and a head or a segmenter).
    """

    model_config = ConfigDict(extra="forbid")

    encoder: EncoderSpec
    templates: list[str] = Field(min_length=1)
    concept_ids: list[str] = Field(min_length=1)
    d_model: int = Field(128, ge=8)
    term_dim: int = Field(128, ge=8)
    buckets: int = Field(4096, ge=16)
    ngram_range: tuple[int, int] = (2, 4)
    smoothing: float = Field(0.5, ge=0.0, lt=1.0)
    align_dim: int = Field(64, ge=4)
    temperature: float = Field(0.07, gt=0.0)
    learn_temperature: bool = True
    decoder: str = "pointer"
    decoder_kwargs: dict[str, Any] = Field(default_factory=dict)
    skip_fields: list[str] = Field(default_factory=list)
    numeric_stats: dict[str, list[float]] = Field(default_factory=dict)
    rule_options: dict[str, dict[str, Any]] = Field(default_factory=dict)
    max_leaves: int = Field(64, ge=1)
    stage_flag: bool = True
    tissue_groups: dict[str, list[int]] = Field(default_factory=dict)
    tissue_head: bool = True
    tissue_segmenter: SegmenterSpec | None = None
    tissue_summary: bool = False

    @model_validator(mode="after")
    def _groups(self) -> GeneratorConfig:
        try:
            check_tissue_groups(self.tissue_groups)
        except ConfigError as exc:  # pydantic reports ValueErrors
            raise ValueError(str(exc)) from None
        self.tissue_groups = dict(sorted(self.tissue_groups.items()))
        if self.tissue_summary and not self.tissue_groups:
            raise ValueError("tissue_summary needs tissue_groups (the summary reads the tissue head)")
        if self.tissue_summary and not (self.tissue_head or self.tissue_segmenter):
            raise ValueError("tissue_summary needs a tissue head or a tissue segmenter to read")
        if self.tissue_segmenter is not None:
            if not self.tissue_groups:
                raise ValueError("tissue_segmenter needs tissue_groups (its classes)")
            self.tissue_segmenter.check_volume(self.encoder.volume_shape)
        return self
