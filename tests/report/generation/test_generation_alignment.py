"""Term embeddings from the ontology and the cross-modal alignment (InfoNCE, soft labels, temperature)."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from maerad.errors import ConfigError
from maerad.report.generation.alignment import MAX_LOGIT_SCALE, AlignmentHead
from maerad.report.generation.alignment_loss import ALIGNMENT_LOSSES, soft_targets, symmetric_info_nce
from maerad.report.generation.term_embeddings import TermEmbeddings, concept_texts
from maerad.report.generation.text_hashing import normalise_text, text_features
from maerad.report.generation.threads import single_thread
from maerad.terminology.bundled import load_bundled

GRAPH = load_bundled()


def test_text_features_are_stable_and_normalised() -> None:
    a = text_features("Deep myometrial invasion", buckets=4096)
    assert a == text_features("  deep   MYOMETRIAL invasion ", buckets=4096)
    assert a != text_features("superficial myometrial invasion", buckets=4096)
    assert all(0 <= i < 4096 for i in a)
    # "<de", "dee", …: with boundary marks "<deep myometrial invasion>" has 26 characters
    n = 26
    assert len(a) == sum(n - k + 1 for k in (2, 3, 4)) + 3  # + one feature per word
    assert normalise_text("ＦＩＧＯ  IIB") == "figo iib"  # NFKC folds full-width letters
    with pytest.raises(ConfigError):
        text_features("x", buckets=0)


def test_concept_embeddings_come_from_all_terms() -> None:
    texts = concept_texts(GRAPH, "MR:O003")
    assert "adnexal lesion" in texts and "adnexal mass" in texts  # preferred term and synonym
    ids = ["MR:F060", "MR:F061", "MR:F062", "MR:F063", "MR:O003"]
    emb = TermEmbeddings.from_graph(GRAPH, ids, dim=16, buckets=256, smoothing=0.0)
    raw = emb.raw()
    texts_vec = emb.text_vectors()
    owner = emb.text_owner.tolist()
    rows = [i for i, o in enumerate(owner) if o == ids.index("MR:O003")]
    assert torch.allclose(raw[ids.index("MR:O003")], texts_vec[rows].mean(dim=0), atol=1e-6)


def test_graph_smoothing_pulls_children_towards_their_parent() -> None:
    ids = ["MR:F060", "MR:F061", "MR:F062", "MR:F063"]  # the parent and its three children
    torch.manual_seed(0)
    plain = TermEmbeddings.from_graph(GRAPH, ids, dim=16, buckets=256, smoothing=0.0)
    torch.manual_seed(0)
    smooth = TermEmbeddings.from_graph(GRAPH, ids, dim=16, buckets=256, smoothing=0.5)
    a, b = plain(), smooth()
    for child in (1, 2, 3):  # e' = 0.5 e + 0.5 parent
        assert torch.allclose(b[child], 0.5 * a[child] + 0.5 * a[0], atol=1e-6)
        assert (b[child] - b[0]).norm() < (a[child] - a[0]).norm()


def test_ontology_loss_teaches_synonyms_their_concept() -> None:
    ids = sorted(GRAPH)
    torch.manual_seed(0)
    emb = TermEmbeddings.from_graph(GRAPH, ids, dim=32, buckets=2048)
    opt = torch.optim.Adam(emb.parameters(), lr=0.05)
    start = float(emb.ontology_loss().detach())
    with single_thread():  # EmbeddingBag's backward is slow on several busy threads
        for _ in range(60):
            opt.zero_grad()
            loss = emb.ontology_loss()
            loss.backward()  # type: ignore[no-untyped-call]
            opt.step()
    assert float(loss.detach()) < 0.5 * start
    with torch.no_grad():
        concepts = F.normalize(emb(), dim=-1)
        texts = F.normalize(emb.text_vectors(), dim=-1)
        nearest = (texts @ concepts.T).argmax(dim=1)
    hits = (nearest == emb.text_owner).float().mean()
    assert hits > 0.8


def test_soft_targets_treat_shared_keys_as_positives() -> None:
    t = soft_targets(["IIB", "IB2", "IIB"])
    assert torch.allclose(t, torch.tensor([[0.5, 0, 0.5], [0, 1, 0], [0.5, 0, 0.5]]))


def test_info_nce_matches_the_definition() -> None:
    torch.manual_seed(1)
    img = F.normalize(torch.randn(4, 8), dim=-1)
    txt = F.normalize(torch.randn(4, 8), dim=-1)
    scale = torch.tensor(5.0)
    logits = scale * img @ txt.T
    labels = torch.arange(4)
    expected = (F.cross_entropy(logits, labels) + F.cross_entropy(logits.T, labels)) / 2
    assert torch.allclose(symmetric_info_nce(img, txt, scale), expected)
    # soft labels: swapping the texts of two studies with the same key changes nothing
    keys = ["a", "b", "a", "c"]
    swapped = txt[[2, 1, 0, 3]]
    soft = symmetric_info_nce(img, txt, scale, keys)
    assert torch.allclose(soft, symmetric_info_nce(img, swapped, scale, keys))
    assert not torch.allclose(symmetric_info_nce(img, txt, scale), symmetric_info_nce(img, swapped, scale))
    assert ALIGNMENT_LOSSES.get("info_nce") is symmetric_info_nce


def test_alignment_head_temperature_is_learnable_and_clamped() -> None:
    head = AlignmentHead(image_dim=12, term_dim=6, dim=4, temperature=0.1)
    assert float(head.scale().detach()) == pytest.approx(10.0)
    images, terms = head.embed_images(torch.randn(3, 12)), head.embed_terms(torch.randn(5, 6))
    loss = symmetric_info_nce(images, terms[:3], head.scale())
    loss.backward()  # type: ignore[no-untyped-call]
    assert head.logit_scale.grad is not None and head.logit_scale.grad != 0
    with torch.no_grad():
        head.logit_scale.fill_(math.log(1e4))
    assert float(head.scale().detach()) == MAX_LOGIT_SCALE
    frozen = AlignmentHead(image_dim=12, term_dim=6, dim=4, learn_temperature=False)
    assert not frozen.logit_scale.requires_grad


def test_alignment_loss_plug_in() -> None:
    def cosine_loss(images: torch.Tensor, texts: torch.Tensor, scale: torch.Tensor,
                    keys: object = None) -> torch.Tensor:
        return (1 - (images * texts).sum(-1)).mean()

    ALIGNMENT_LOSSES.add("test_cosine", cosine_loss, overwrite=True)
    x = F.normalize(torch.randn(3, 4), dim=-1)
    assert float(ALIGNMENT_LOSSES.get("test_cosine")(x, x, torch.tensor(1.0))) == pytest.approx(0.0, abs=1e-6)
