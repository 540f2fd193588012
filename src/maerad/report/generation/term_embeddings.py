"""Concept embeddings learned from the ontology's terms (no downloads, no pretrained text model).

Each concept of the terminology has texts: its preferred terms (English, Chinese) and synonyms.
A text is a bag of hashed character n-gram / word features (:mod:`.text_hashing`) embedded with a
trainable ``EmbeddingBag``; a concept is the mean of its texts. A graph-smoothing step mixes each
concept with its ``is_a`` neighbours (parents and children present in the vocabulary):
``e' = (1 − α)·e + α·mean(neighbours)``, so that e.g. the FIGO stage values sit near each other and
near their classification. :meth:`TermEmbeddings.ontology_loss` trains the embeddings from the
ontology alone: every text should be closest to its own concept (InfoNCE over concepts, synonyms
included) and linked concepts should be close (squared distance to the neighbour mean).

Examples::

    >>> from maerad.terminology.bundled import load_bundled
    >>> g = load_bundled()
    >>> emb = TermEmbeddings.from_graph(g, ["MR:F061", "MR:F062", "MR:F063", "MR:F060"], dim=16, buckets=256)
    >>> tuple(emb().shape), emb.index("MR:F063")
    ((4, 16), 2)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from maerad.errors import ConfigError
from maerad.report.generation.text_hashing import text_features
from maerad.terminology.graph import TermGraph
from maerad.terminology.model import IS_A_ONLY

__all__ = ["TermEmbeddings", "concept_texts"]


def concept_texts(graph: TermGraph, cid: str) -> list[str]:
    """Every term of ``cid`` (preferred terms and synonyms, all languages); the id when it has none."""
    texts = list(dict.fromkeys(graph.concept(cid).texts()))
    return texts or [cid]


def _bag_inputs(texts: Sequence[str], buckets: int, ngram_range: tuple[int, int]
                ) -> tuple[torch.Tensor, torch.Tensor]:
    ids: list[int] = []
    offsets: list[int] = []
    for text in texts:
        offsets.append(len(ids))
        ids.extend(text_features(text, buckets=buckets, ngram_range=ngram_range))
    return torch.tensor(ids, dtype=torch.long), torch.tensor(offsets, dtype=torch.long)


class TermEmbeddings(nn.Module):
    """Trainable embeddings of a fixed list of concepts, computed from their texts.

    Args:
        concept_ids: the vocabulary (row order of the output).
        texts: per concept, its texts (at least one each).
        neighbours: per concept, the indices of its ``is_a`` neighbours in the vocabulary.
        dim: embedding width.
        buckets: hash slots of the text features.
        ngram_range: character n-gram lengths.
        smoothing: graph-smoothing weight ``α`` in ``[0, 1)``.

    Raises:
        ConfigError: mismatched lengths, a concept without text, or bad sizes.
    """

    text_ids: torch.Tensor
    text_offsets: torch.Tensor
    text_owner: torch.Tensor
    has_neighbours: torch.Tensor
    adjacency: torch.Tensor

    def __init__(self, concept_ids: Sequence[str], texts: Sequence[Sequence[str]],
                 neighbours: Sequence[Sequence[int]], *, dim: int = 128, buckets: int = 4096,
                 ngram_range: tuple[int, int] = (2, 4), smoothing: float = 0.5) -> None:
        super().__init__()
        n = len(concept_ids)
        if n == 0 or len(texts) != n or len(neighbours) != n:
            raise ConfigError("TermEmbeddings needs one text list and one neighbour list per concept")
        if any(not t for t in texts):
            raise ConfigError("every concept needs at least one text")
        if dim < 1 or buckets < 1 or not 0.0 <= smoothing < 1.0:
            raise ConfigError(f"bad TermEmbeddings sizes: dim={dim}, buckets={buckets}, "
                              f"smoothing={smoothing}")
        self.concept_ids = list(concept_ids)
        self._index = {cid: i for i, cid in enumerate(self.concept_ids)}
        self.dim, self.buckets, self.ngram_range, self.smoothing = dim, buckets, tuple(ngram_range), smoothing
        flat = [t for group in texts for t in group]
        owner = [i for i, group in enumerate(texts) for _ in group]
        ids, offsets = _bag_inputs(flat, buckets, (ngram_range[0], ngram_range[1]))
        self.register_buffer("text_ids", ids, persistent=False)
        self.register_buffer("text_offsets", offsets, persistent=False)
        self.register_buffer("text_owner", torch.tensor(owner, dtype=torch.long), persistent=False)
        adjacency = torch.zeros(n, n)
        for i, group in enumerate(neighbours):
            for j in group:
                if j != i:
                    adjacency[i, j] = 1.0
        degree = adjacency.sum(dim=1, keepdim=True)
        self.register_buffer("has_neighbours", (degree > 0).float(), persistent=False)
        self.register_buffer("adjacency", adjacency / degree.clamp(min=1.0), persistent=False)
        self.bag = nn.EmbeddingBag(buckets, dim, mode="mean")
        nn.init.normal_(self.bag.weight, std=0.1)

    @classmethod
    def from_graph(cls, graph: TermGraph, concept_ids: Sequence[str], **kwargs: object) -> TermEmbeddings:
        """Embeddings of ``concept_ids`` with texts and ``is_a`` neighbours from ``graph``."""
        index = {cid: i for i, cid in enumerate(concept_ids)}
        texts = [concept_texts(graph, cid) for cid in concept_ids]
        neighbours = [
            sorted({index[c] for c in (*graph.parents(cid, IS_A_ONLY), *graph.children(cid, IS_A_ONLY))
                    if c in index})
            for cid in concept_ids
        ]
        return cls(concept_ids, texts, neighbours, **kwargs)  # type: ignore[arg-type]

    def index(self, cid: str) -> int:
        """Row of ``cid`` in the output.

        Raises:
            KeyError: ``cid`` is not in the vocabulary.
        """
        return self._index[cid]

    @property
    def vocabulary(self) -> Mapping[str, int]:
        """Concept id → row."""
        return self._index

    def encode_texts(self, ids: torch.Tensor, offsets: torch.Tensor) -> torch.Tensor:
        """Embed bags of hashed features: flat ``ids`` with ``offsets`` (N,) → ``(N, dim)``."""
        return self.bag(ids, offsets)  # type: ignore[no-any-return]

    def text_vectors(self) -> torch.Tensor:
        """``(T, dim)``: one vector per text of every concept (owner in ``text_owner``)."""
        return self.encode_texts(self.text_ids, self.text_offsets)

    def raw(self) -> torch.Tensor:
        """``(C, dim)``: the mean of each concept's text vectors, before smoothing."""
        vectors = self.text_vectors()
        n = len(self.concept_ids)
        sums = torch.zeros(n, self.dim, dtype=vectors.dtype, device=vectors.device)
        sums.index_add_(0, self.text_owner, vectors)
        counts = torch.bincount(self.text_owner, minlength=n).clamp(min=1).to(vectors.dtype)
        return sums / counts[:, None]

    def forward(self) -> torch.Tensor:
        """``(C, dim)``: concept embeddings after graph smoothing."""
        raw = self.raw()
        mixed = self.adjacency.to(raw.dtype) @ raw
        alpha = self.smoothing * self.has_neighbours.to(raw.dtype)
        return (1.0 - alpha) * raw + alpha * mixed

    def ontology_loss(self, temperature: float = 0.1, smoothness: float = 0.1) -> torch.Tensor:
        """Self-supervised loss from the ontology alone (scalar).

        ``InfoNCE(text → its concept among all concepts)`` on cosine similarities divided by
        ``temperature``, plus ``smoothness`` × the mean squared distance between a concept and the
        mean of its neighbours.
        """
        concepts = self.forward()
        texts = self.text_vectors()
        logits = F.normalize(texts, dim=-1) @ F.normalize(concepts, dim=-1).T / temperature
        nce = F.cross_entropy(logits, self.text_owner)
        mask = self.has_neighbours[:, 0] > 0
        if not bool(mask.any()):
            return nce
        gap = (concepts - self.adjacency.to(concepts.dtype) @ concepts)[mask]
        return nce + smoothness * gap.pow(2).sum(dim=-1).mean()
