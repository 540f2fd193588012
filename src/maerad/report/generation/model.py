"""``ReportModel``: the trainable network of the report generator and its training losses.

Parts: the image encoder (:mod:`.encoder`), term embeddings of the concept vocabulary
(:mod:`.term_embeddings`), a projection of term embeddings and special tokens into the decoder width
(the option vocabulary), field embeddings computed from the field ids and labels with the same text
encoder, the decoder from the registry (:mod:`.pointer_decoder`), the alignment head
(:mod:`.alignment`) — which also serves as the direct stage head — and a template head.

:meth:`ReportModel.losses` computes, for a batch of plans (:mod:`.plans`):

* ``pointer``: cross-entropy of the true option at every teacher-forced step (masked softmax),
  a weighted mean with the batch's step weights (class balancing, :func:`.plans.option_weights`);
* ``regression``: smooth-L1 of the standardised numbers;
* ``alignment``: the registered alignment loss between studies and their reports' concepts;
* ``stage``: cross-entropy of the true headline value among its value set (alignment logits);
* ``template``: cross-entropy of the study's template (only with several templates);
* ``ontology``: the term embeddings' own loss (synonyms, graph smoothness);
* ``tissue``: with tissue groups in the config and target shares given, the KL divergence of the
  tissue head's per-token group shares (tissue supervision, :mod:`.tissue`).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from maerad.errors import ConfigError
from maerad.report.generation.alignment import AlignmentHead
from maerad.report.generation.alignment_loss import ALIGNMENT_LOSSES
from maerad.report.generation.config import GeneratorConfig
from maerad.report.generation.encoder import ImageEncoder
from maerad.report.generation.field_steps import SPECIALS, field_key
from maerad.report.generation.plans import PlanBatch
from maerad.report.generation.pointer_decoder import DECODERS, ReportDecoder
from maerad.report.generation.segmenter import TissueSegmenter
from maerad.report.generation.term_embeddings import TermEmbeddings
from maerad.report.generation.text_hashing import text_features
from maerad.report.generation.tissue import TissueHead, TissueSummary, tissue_loss
from maerad.report.templates import ReportTemplate
from maerad.terminology.graph import TermGraph

__all__ = ["LOSS_NAMES", "ReportModel", "field_text", "gather_options"]

LOSS_NAMES: tuple[str, ...] = ("pointer", "regression", "alignment", "stage", "template", "ontology",
                               "tissue")


def field_text(template: ReportTemplate, field_id: str) -> str:
    """The text a field is embedded from: its id in words and its English label."""
    spec = template.field(field_id)
    return f"{field_id.replace('_', ' ')} | {spec.label.en}"


def gather_options(vocabulary: torch.Tensor, parts: torch.Tensor) -> torch.Tensor:
    """Mean of vocabulary rows: ``vocabulary (V, d)``, ``parts (..., P)`` (−1 = padding) → ``(..., d)``."""
    present = (parts >= 0).to(vocabulary.dtype)
    rows = vocabulary[parts.clamp(min=0)] * present.unsqueeze(-1)
    return rows.sum(dim=-2) / present.sum(dim=-1, keepdim=True).clamp(min=1.0)


class ReportModel(nn.Module):
    """The generator's network (see the module docstring).

    Args:
        config: the architecture.
        templates: the templates of ``config.templates``, in that order.
        graph: the terminology holding ``config.concept_ids``.
    """

    field_ids: torch.Tensor
    field_offsets: torch.Tensor

    def __init__(self, config: GeneratorConfig, templates: Sequence[ReportTemplate],
                 graph: TermGraph) -> None:
        super().__init__()
        self.config = config
        self.encoder = ImageEncoder(config.encoder)
        width = self.encoder.width
        self.terms = TermEmbeddings.from_graph(graph, config.concept_ids, dim=config.term_dim,
                                               buckets=config.buckets, ngram_range=config.ngram_range,
                                               smoothing=config.smoothing)
        self.term_to_model = nn.Linear(config.term_dim, config.d_model)
        self.specials = nn.Parameter(torch.randn(len(SPECIALS), config.d_model) * 0.02)
        self.field_keys = [field_key(t, f.id) for t in templates for f in t.fields]
        texts = [field_text(t, f.id) for t in templates for f in t.fields]
        ids: list[int] = []
        offsets: list[int] = []
        for text in texts:
            offsets.append(len(ids))
            ids.extend(text_features(text, buckets=config.buckets, ngram_range=config.ngram_range))
        self.register_buffer("field_ids", torch.tensor(ids, dtype=torch.long), persistent=False)
        self.register_buffer("field_offsets", torch.tensor(offsets, dtype=torch.long), persistent=False)
        self.field_proj = nn.Linear(config.term_dim, config.d_model)
        self.decoder: ReportDecoder = DECODERS.get(config.decoder)(  # type: ignore[assignment]
            d_model=config.d_model, image_dim=width, **config.decoder_kwargs)
        self.align = AlignmentHead(width, config.term_dim, config.align_dim, temperature=config.temperature,
                                   learn_temperature=config.learn_temperature)
        self.template_head = nn.Linear(width, len(templates))
        groups = config.tissue_groups
        self.tissue_head = TissueHead(width, len(groups)) if groups and config.tissue_head else None
        seg = config.tissue_segmenter
        self.tissue_segmenter = (TissueSegmenter(seg, config.encoder.in_chans, len(groups) + 1)
                                 if seg is not None else None)
        self.tissue_summary = TissueSummary(len(groups) + 1, width) if config.tissue_summary else None

    # ----------------------------------------------------------------------------------- pieces
    def vocabulary(self) -> torch.Tensor:
        """``(C + len(SPECIALS), d_model)``: concept rows then special tokens."""
        return torch.cat([self.term_to_model(self.terms()), self.specials], dim=0)

    def field_vectors(self) -> torch.Tensor:
        """``(F, d_model)``: one row per field of every template (order of ``field_keys``)."""
        return self.field_proj(self.terms.encode_texts(self.field_ids, self.field_offsets))  # type: ignore[no-any-return]

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(B, C, D, H, W)`` → tokens ``(B, L, w)`` and pooled ``(B, w)``."""
        return self.encoder(x)  # type: ignore[no-any-return]

    def template_logits(self, pooled: torch.Tensor) -> torch.Tensor:
        """``(B, n_templates)``."""
        return self.template_head(pooled)  # type: ignore[no-any-return]

    def headline_logits(self, pooled: torch.Tensor, candidates: Sequence[int]) -> torch.Tensor:
        """Direct stage head: ``(B, N)`` logits of the concepts ``candidates`` (vocabulary rows)."""
        rows = torch.tensor(list(candidates), dtype=torch.long, device=pooled.device)
        terms = self.align.embed_terms(self.terms()[rows])
        return self.align.candidate_logits(self.align.embed_images(pooled), terms)

    def study_feature(self, tokens: torch.Tensor, pooled: torch.Tensor,
                      tissue_logits: torch.Tensor | None = None,
                      tissue_shares: torch.Tensor | None = None) -> torch.Tensor:
        """The study feature the decoder starts from and the stage / template / alignment heads read:
        the pooled tokens, plus the tissue summary (:class:`.tissue.TissueSummary`) when configured.

        The summary reads ``tissue_shares`` ``(B, L, n_groups + 1)``, which a generator with a tissue
        segmenter must give (:meth:`segmenter_shares` of the study); otherwise the tissue head's shares
        (``tissue_logits``: its output on ``tokens`` when already computed).

        Raises:
            ConfigError: a segmenter-fed summary without ``tissue_shares``.
        """
        if self.tissue_summary is None:
            return pooled
        if tissue_shares is None:
            if self.tissue_segmenter is not None:
                raise ConfigError("this generator's tissue summary reads its segmenter: pass tissue_shares "
                                  "(segmenter_shares of the study)")
            logits = self.tissue_logits(tokens) if tissue_logits is None else tissue_logits
            tissue_shares = torch.softmax(logits.float(), dim=-1)
        summary: torch.Tensor = self.tissue_summary(tissue_shares.float())
        return pooled + summary.to(pooled.dtype)

    def segmenter_shares(self, x: torch.Tensor) -> torch.Tensor | None:
        """``(B, L, n_groups + 1)`` cell shares of the tissue segmenter on the input ``x``
        ``(B, C, D, H, W)``; None without a segmenter."""
        if self.tissue_segmenter is None:
            return None
        return self.tissue_segmenter.shares(x)

    def tissue_logits(self, tokens: torch.Tensor) -> torch.Tensor:
        """``(B, L, n_groups + 1)`` tissue-group logits per token (softmax: predicted shares).

        Raises:
            ConfigError: the generator has no tissue head (no ``tissue_groups`` in its config).
        """
        if self.tissue_head is None:
            raise ConfigError("this generator has no tissue head (trained without tissue supervision)")
        return self.tissue_head(tokens)  # type: ignore[no-any-return]

    # ----------------------------------------------------------------------------------- losses
    def losses(self, tokens: torch.Tensor, pooled: torch.Tensor, batch: PlanBatch, *,
               alignment_loss: str = "info_nce", soft_labels: bool = True,
               feed_true_numbers: bool = False,
               tissue: torch.Tensor | None = None,
               tissue_shares: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        """The training losses of a batch (see the module docstring); each a scalar tensor.

        Choices are teacher-forced (the true option feeds the next step); numbers are not: the
        decoder state reads the regression head's own detached prediction, as it will at inference,
        unless ``feed_true_numbers``. ``tissue``: target group shares ``(B, L, n_groups + 1)``
        (:func:`.tissue.token_composition`) for the ``tissue`` loss; without them that loss is 0.
        ``tissue_shares``: the segmenter's shares for the summary (see :meth:`study_feature`).
        """
        device = tokens.device
        tissue_logits = self.tissue_head(tokens) if self.tissue_head is not None else None
        pooled = self.study_feature(tokens, pooled, tissue_logits, tissue_shares)
        vocab = self.vocabulary()
        fields = self.field_vectors()
        memory = self.decoder.memory(tokens)
        state = self.decoder.initial_state(pooled)
        nll = torch.zeros((), device=device)
        weight = torch.where(batch.valid, batch.weight, torch.zeros_like(batch.weight)).to(device)
        reg = torch.zeros((), device=device)
        rows = torch.arange(tokens.shape[0], device=device)
        for t in range(batch.field.shape[1]):
            options = gather_options(vocab, batch.parts[:, t].to(device))
            field = fields[batch.field[:, t].to(device)]
            kind = batch.kind[:, t].to(device)
            target = batch.target[:, t].to(device)
            valid = batch.valid[:, t].to(device)
            out = self.decoder.step(state, memory, field, kind, options, batch.mask[:, t].to(device))
            picked = out.log_probs[rows, target]
            nll = nll - (weight[:, t] * torch.where(valid, picked, torch.zeros_like(picked))).sum()
            has = batch.has_number[:, t].to(device)
            number = batch.number[:, t].to(device)
            if bool(has.any()):
                reg = reg + F.smooth_l1_loss(out.number[has], number[has], reduction="sum")
            # The state reads the model's own (detached) number, as at inference: fed the true number,
            # the decoder learns to decide later fields from it (tumour size → stromal ring, ...) and
            # fails when its own estimate comes instead (exposure bias).
            fed = number if feed_true_numbers else out.number.detach()
            new_state = self.decoder.advance(state, field, kind, options[rows, target], fed, has)
            state = torch.where(valid.unsqueeze(-1), new_state, state)
        losses = {
            "pointer": nll / weight.sum().clamp(min=1e-6),
            "regression": reg / batch.has_number.sum().clamp(min=1).to(device),
        }
        terms = self.terms()
        images = self.align.embed_images(pooled)
        parts = batch.report_parts.to(device)
        texts = self.align.embed_terms(gather_options(terms, parts))
        keys = list(batch.keys) if soft_labels else None
        losses["alignment"] = ALIGNMENT_LOSSES.get(alignment_loss)(images, texts, self.align.scale(), keys)
        stage = [F.cross_entropy(self.headline_logits(pooled[i:i + 1], cands),
                                 torch.tensor([target], device=device))
                 for i, (cands, target) in enumerate(batch.headline) if target is not None and cands]
        losses["stage"] = torch.stack(stage).mean() if stage else torch.zeros((), device=device)
        if self.template_head.out_features > 1:
            losses["template"] = F.cross_entropy(self.template_logits(pooled), batch.template.to(device))
        else:
            losses["template"] = torch.zeros((), device=device)
        losses["ontology"] = self.terms.ontology_loss()
        if tissue is not None and tissue_logits is not None:
            losses["tissue"] = tissue_loss(tissue_logits, tissue.to(device))
        else:
            losses["tissue"] = torch.zeros((), device=device)
        return losses
