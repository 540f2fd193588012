"""The fixed label table of the synthetic pelvic phantom.

Values are stable (never re-used): organs and normal tissues below 100, lesions at 100 and above,
so ``labels >= LESION_MIN`` selects every lesion voxel. ``0`` is air outside the body.

Examples::

    >>> LABELS["endometrium"], LABELS["tumour_cervix"] >= LESION_MIN
    (30, True)
"""

from __future__ import annotations

__all__ = ["LABELS", "LESION_LABELS", "LESION_MIN", "label_names"]

LABELS: dict[str, int] = {
    "background": 0,
    # body wall, fat, muscles (SPEC §5.3 reference tissues)
    "fat": 1,
    "muscle_other": 2,  # gluteal and anterior abdominal wall muscles
    "obturator_internus": 3,
    "levator_ani": 4,
    "piriformis": 5,
    "iliopsoas": 6,
    # bones (landmarks for SPEC §4.1)
    "bone_pelvic_ring": 10,
    "bone_sacrum_coccyx": 11,
    "vessel": 12,  # iliac arteries and veins, aorta, inferior vena cava
    "lymph_node": 13,  # normal-sized node
    "ureter": 14,
    # urinary and bowel
    "bladder_wall": 20,
    "bladder_lumen": 21,
    "rectum_wall": 22,
    "rectum_lumen": 23,
    "vagina": 24,
    "urethra": 25,
    "bowel_wall": 26,  # sigmoid colon and small-bowel loops
    "bowel_lumen": 27,
    # uterus (SPEC §5.1, §5.3 zonal anatomy)
    "endometrium": 30,
    "junctional_zone": 31,
    "outer_myometrium": 32,
    "cervical_stroma": 33,
    "cervical_canal": 34,
    # adnexa
    "ovary_left": 40,
    "ovary_right": 41,
    "follicle": 42,
    # fluid
    "free_fluid": 50,  # physiologic fluid or ascites
    # lesions
    "tumour_cervix": 100,
    "tumour_endometrium": 101,
    "adnexal_lesion_fluid": 102,  # cyst locules (any fluid type) of an adnexal lesion
    "adnexal_lesion_solid": 103,  # solid tissue of an adnexal lesion (O-RADS lexicon, SPEC §3.1)
    "adnexal_lesion_wall": 104,  # cyst wall and septa
    "node_suspicious": 105,  # lymph node meeting the short-axis criterion
    "bone_metastasis": 106,
    "peritoneal_implant": 107,
}

LESION_MIN = 100
"""Every label value at or above this is a lesion."""

LESION_LABELS: frozenset[int] = frozenset(v for v in LABELS.values() if v >= LESION_MIN)


def label_names() -> dict[int, str]:
    """Label value → name, as stored in :attr:`maerad.data.study.Study.label_names`."""
    return {value: name for name, value in LABELS.items() if value != 0}
