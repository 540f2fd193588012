"""Report generation: from an MRI study to a complete, terminology-consistent structured report.

A pre-trained MAE / MAE-P encoder gives image tokens; a pointer-network decoder walks the template's
fields in clinical order (:class:`~maerad.report.template_state.TemplateState`) and, at each concept
field, points into the allowed concepts (term embeddings learned from the ontology) with the
template / terminology mask applied before the softmax; numbers come from a regression head; the rule
engines derive stage / score / grades. Cross-modal alignment (InfoNCE with learnable temperature and
soft labels) ties image features to term embeddings and doubles as a direct stage head whose
disagreement with the rule engines becomes a flag. Optional tissue supervision (:mod:`.tissue`) makes
image tokens predict their tissue-group shares from label maps; an optional voxel-level tissue segmenter
(:mod:`.segmenter`) measures tissue volumes and contacts for the decoder. Decoders and alignment losses
are plug-ins (:data:`DECODERS`, :data:`ALIGNMENT_LOSSES`). See ``docs/generation.md``.

Examples::

    >>> from maerad.report.generation import ReportGenerator
    >>> gen = ReportGenerator.from_checkpoint("ft/checkpoint")          # doctest: +SKIP
    >>> report = gen.generate("phantom/case-0007")                      # doctest: +SKIP
"""

from maerad.report.generation.alignment import AlignmentHead
from maerad.report.generation.alignment_loss import ALIGNMENT_LOSSES, soft_targets, symmetric_info_nce
from maerad.report.generation.cases import LabelledCase, labelled_cases, split_study_folders
from maerad.report.generation.config import EncoderSpec, GeneratorConfig
from maerad.report.generation.decoding import DecodeResult, beam_decode, greedy_decode
from maerad.report.generation.field_steps import FieldStep, FieldWalker, Option
from maerad.report.generation.generator import CHECKPOINT_KIND, Generation, ReportGenerator
from maerad.report.generation.numeric_constraints import NUMERIC_CONSTRAINTS
from maerad.report.generation.pointer_decoder import DECODERS, PointerDecoder, ReportDecoder
from maerad.report.generation.segmenter import SegmenterSpec, TissueSegmenter, segmentation_loss
from maerad.report.generation.targets import CaseTargets, headline_field, targets_from_metadata
from maerad.report.generation.term_embeddings import TermEmbeddings
from maerad.report.generation.tissue import (
    PHANTOM_TISSUE_GROUPS,
    TissueHead,
    TissueSummary,
    group_fractions,
    tissue_loss,
    tissue_statistics,
    token_composition,
)

__all__ = [
    "ALIGNMENT_LOSSES",
    "CHECKPOINT_KIND",
    "DECODERS",
    "NUMERIC_CONSTRAINTS",
    "PHANTOM_TISSUE_GROUPS",
    "AlignmentHead",
    "CaseTargets",
    "DecodeResult",
    "EncoderSpec",
    "FieldStep",
    "FieldWalker",
    "Generation",
    "GeneratorConfig",
    "LabelledCase",
    "Option",
    "PointerDecoder",
    "ReportDecoder",
    "ReportGenerator",
    "SegmenterSpec",
    "TermEmbeddings",
    "TissueHead",
    "TissueSegmenter",
    "TissueSummary",
    "beam_decode",
    "greedy_decode",
    "group_fractions",
    "headline_field",
    "labelled_cases",
    "segmentation_loss",
    "soft_targets",
    "split_study_folders",
    "symmetric_info_nce",
    "targets_from_metadata",
    "tissue_loss",
    "tissue_statistics",
    "token_composition",
]
