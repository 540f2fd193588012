"""MAE models: N-D patch / position embeddings, `MAE`, pyramid `MAEP`, interop with HF and timm.

Examples::

    >>> import torch
    >>> from maerad.models import create_model
    >>> model = create_model("mae_vit_tiny", img_size=32, patch_size=8, in_chans=1, depth=2,
    ...                      decoder_depth=1, norm_pix_loss=True)
    >>> out = model(torch.randn(2, 1, 32, 32))
    >>> out.loss.ndim, tuple(out.pred.shape), tuple(out.mask.shape)
    (0, (2, 16, 64), (2, 16))
"""

from maerad.models.decoder import MAEDecoder
from maerad.models.factory import VIT_SIZES, create_mae
from maerad.models.hf_vitmae import load_hf_vitmae
from maerad.models.lr_decay import param_groups_lrd
from maerad.models.mae import MAE
from maerad.models.maep import MAEP, PyramidStem
from maerad.models.output import MAEOutput
from maerad.models.patch import PatchEmbed, PatchGeometry, patchify, unpatchify
from maerad.models.pos_embed import interpolate_pos_embed, sincos_pos_embed
from maerad.models.registry import MODELS, create_model
from maerad.models.sequence_tokens import SequenceTokenMAE
from maerad.models.timm_vit import load_timm_vit
from maerad.models.unit_attention import UnitAttentionBlock

__all__ = [
    "MAE",
    "MAEP",
    "MODELS",
    "VIT_SIZES",
    "MAEDecoder",
    "MAEOutput",
    "PatchEmbed",
    "PatchGeometry",
    "PyramidStem",
    "SequenceTokenMAE",
    "UnitAttentionBlock",
    "create_mae",
    "create_model",
    "interpolate_pos_embed",
    "load_hf_vitmae",
    "load_timm_vit",
    "param_groups_lrd",
    "patchify",
    "sincos_pos_embed",
    "unpatchify",
]
