"""The bundled ontology: transcription of SPEC §6, the generated OWL file, the source parser."""

from __future__ import annotations

import json
from pathlib import Path

import owlready2
import pytest

from maerad.errors import InputError
from maerad.terminology import BUNDLED_OWL, BUNDLED_SOURCE, load_bundled, load_owl
from maerad.terminology.build_ontology import main as build_main
from maerad.terminology.build_ontology import ontology_xml
from maerad.terminology.source import parse_source, parse_zh_cell, read_source

# (id, preferred English term, exclusion groups, parent) of every row of the SPEC §6.2 tables, plus the
# section roots named in the table captions (N000, F000, O000, P000, S000, D000). Written from the SPEC.
SPEC_ROWS = [
    ("MR:A000", "anatomical structure", (), None),
    ("MR:A001", "uterus", (), "MR:A000"),
    ("MR:A002", "uterine corpus", (), "MR:A001"),
    ("MR:A003", "uterine fundus", (), "MR:A002"),
    ("MR:A004", "endometrium", (), "MR:A002"),
    ("MR:A005", "junctional zone", (), "MR:A006"),
    ("MR:A006", "myometrium", (), "MR:A002"),
    ("MR:A007", "uterine serosa", (), "MR:A002"),
    ("MR:A008", "uterine cervix", (), "MR:A001"),
    ("MR:A009", "cervical stroma", (), "MR:A008"),
    ("MR:A010", "internal cervical os", (), "MR:A008"),
    ("MR:A011", "parametrium", (), "MR:A000"),
    ("MR:A012", "vagina", (), "MR:A000"),
    ("MR:A013", "upper two-thirds of vagina", ("E-VAG",), "MR:A012"),
    ("MR:A014", "lower third of vagina", ("E-VAG",), "MR:A012"),
    ("MR:A015", "ovary", (), "MR:A000"),
    ("MR:A016", "fallopian tube", (), "MR:A000"),
    ("MR:A017", "uterine adnexa", (), "MR:A000"),
    ("MR:A018", "urinary bladder", (), "MR:A000"),
    ("MR:A019", "rectum", (), "MR:A000"),
    ("MR:A020", "anal canal", (), "MR:A000"),
    ("MR:A021", "ureter", (), "MR:A000"),
    ("MR:A022", "kidney", (), "MR:A000"),
    ("MR:A023", "pelvic sidewall", (), "MR:A000"),
    ("MR:A024", "pubic symphysis", (), "MR:A000"),
    ("MR:A025", "coccyx", (), "MR:A000"),
    ("MR:A026", "levator ani", (), "MR:A000"),
    ("MR:A027", "iliopsoas muscle", (), "MR:A000"),
    ("MR:A028", "rectouterine pouch", (), "MR:A000"),
    ("MR:A029", "peritoneum", (), "MR:A000"),
    ("MR:A030", "true pelvis", (), "MR:A000"),
    ("MR:N000", "lymph node group", (), None),
    ("MR:N001", "pelvic lymph nodes", (), "MR:N000"),
    ("MR:N002", "parametrial lymph node", (), "MR:N001"),
    ("MR:N003", "obturator lymph node", (), "MR:N001"),
    ("MR:N004", "internal iliac lymph nodes", (), "MR:N001"),
    ("MR:N005", "external iliac lymph nodes", (), "MR:N001"),
    ("MR:N006", "common iliac lymph nodes", (), "MR:N001"),
    ("MR:N007", "presacral lymph nodes", (), "MR:N001"),
    ("MR:N008", "para-aortic lymph nodes", (), "MR:N000"),
    ("MR:N009", "inguinal lymph nodes", (), "MR:N000"),
    ("MR:F000", "imaging finding", (), None),
    ("MR:F001", "primary tumour", (), "MR:F000"),
    ("MR:F002", "tumour maximum diameter", (), "MR:F001"),
    ("MR:F003", "depth of stromal invasion", (), "MR:F001"),
    ("MR:F010", "stromal ring intact", ("E-RING",), "MR:F000"),
    ("MR:F011", "stromal ring thinned", ("E-RING",), "MR:F000"),
    ("MR:F012", "stromal ring disrupted", ("E-RING",), "MR:F000"),
    ("MR:F020", "parametrial invasion present", ("E-PARAM",), "MR:F000"),
    ("MR:F021", "parametrial invasion absent", ("E-PARAM",), "MR:F000"),
    ("MR:F022", "parametrial invasion equivocal", ("E-PARAM",), "MR:F000"),
    ("MR:F030", "no vaginal invasion", ("E-VAG",), "MR:F000"),
    ("MR:F031", "vaginal invasion, upper two-thirds", ("E-VAG",), "MR:F000"),
    ("MR:F032", "vaginal invasion, lower third", ("E-VAG",), "MR:F000"),
    ("MR:F040", "pelvic sidewall involvement", (), "MR:F000"),
    ("MR:F041", "hydronephrosis", (), "MR:F000"),
    ("MR:F042", "bladder mucosal invasion", (), "MR:F000"),
    ("MR:F043", "rectal mucosal invasion", (), "MR:F000"),
    ("MR:F044", "bullous oedema", (), "MR:F000"),
    ("MR:F050", "suspicious lymph node", (), "MR:F000"),
    ("MR:F051", "distant metastasis", (), "MR:F000"),
    ("MR:F052", "peritoneal disease", (), "MR:F000"),
    ("MR:F053", "ascites", ("E-FLUID",), "MR:F000"),
    ("MR:F054", "physiologic pelvic fluid", ("E-FLUID",), "MR:F000"),
    ("MR:F060", "myometrial invasion", (), "MR:F000"),
    ("MR:F061", "no myometrial invasion", ("E-MI",), "MR:F060"),
    ("MR:F062", "superficial myometrial invasion (< 50 %)", ("E-MI",), "MR:F060"),
    ("MR:F063", "deep myometrial invasion (≥ 50 %)", ("E-MI",), "MR:F060"),
    ("MR:F064", "junctional zone disruption", (), "MR:F000"),
    ("MR:F065", "subendometrial enhancement disruption", (), "MR:F000"),
    ("MR:F066", "cervical stromal invasion", ("E-CX",), "MR:F000"),
    ("MR:F067", "endocervical mucosal/glandular extension only", ("E-CX",), "MR:F000"),
    ("MR:F068", "serosal invasion", (), "MR:F000"),
    ("MR:F069", "adnexal involvement", (), "MR:F000"),
    ("MR:F070", "uterine version: anteverted", ("E-VER",), "MR:F000"),
    ("MR:F071", "uterine version: retroverted", ("E-VER",), "MR:F000"),
    ("MR:F072", "uterine flexion: anteflexed", ("E-FLX",), "MR:F000"),
    ("MR:F073", "uterine flexion: retroflexed", ("E-FLX",), "MR:F000"),
    ("MR:O000", "adnexal observation", (), None),
    ("MR:O001", "follicle", (), "MR:O000"),
    ("MR:O002", "corpus luteum", (), "MR:O000"),
    ("MR:O003", "adnexal lesion", (), "MR:O000"),
    ("MR:O010", "cystic lesion without solid tissue", ("E-LTYPE",), "MR:O003"),
    ("MR:O011", "cystic lesion with solid tissue", ("E-LTYPE",), "MR:O003"),
    ("MR:O012", "solid lesion", ("E-LTYPE",), "MR:O003"),
    ("MR:O020", "unilocular", ("E-LOC",), "MR:O000"),
    ("MR:O021", "multilocular", ("E-LOC",), "MR:O000"),
    ("MR:O030", "solid tissue", (), "MR:O000"),
    ("MR:O031", "papillary projection", (), "MR:O030"),
    ("MR:O032", "mural nodule", (), "MR:O030"),
    ("MR:O033", "irregular septation", (), "MR:O030"),
    ("MR:O034", "irregular wall", (), "MR:O030"),
    ("MR:O035", "larger solid portion", (), "MR:O030"),
    ("MR:O036", "dark T2 / dark DWI solid tissue", (), "MR:O030"),
    ("MR:O040", "simple fluid", ("E-FLUIDTYPE",), "MR:O000"),
    ("MR:O041", "haemorrhagic fluid", ("E-FLUIDTYPE",), "MR:O000"),
    ("MR:O042", "endometriotic fluid", ("E-FLUIDTYPE",), "MR:O000"),
    ("MR:O043", "proteinaceous / mucinous fluid", ("E-FLUIDTYPE",), "MR:O000"),
    ("MR:O044", "lipid content", ("E-FLUIDTYPE",), "MR:O000"),
    ("MR:O045", "Rokitansky nodule", (), "MR:O000"),
    ("MR:O050", "TIC low risk", ("E-TIC",), "MR:O000"),
    ("MR:O051", "TIC intermediate risk", ("E-TIC",), "MR:O000"),
    ("MR:O052", "TIC high risk", ("E-TIC",), "MR:O000"),
    ("MR:O060", "dilated fallopian tube", (), "MR:O000"),
    ("MR:O061", "paraovarian cyst", (), "MR:O000"),
    ("MR:P000", "pelvic floor finding/measurement", (), None),
    ("MR:P001", "pubococcygeal line", (), "MR:P000"),
    ("MR:P002", "H-line", (), "MR:P000"),
    ("MR:P003", "M-line", (), "MR:P000"),
    ("MR:P004", "anorectal junction", (), "MR:P000"),
    ("MR:P005", "anorectal angle", (), "MR:P000"),
    ("MR:P006", "levator hiatus", (), "MR:P000"),
    ("MR:P010", "pelvic organ prolapse", (), "MR:P000"),
    ("MR:P011", "cystocele", (), "MR:P010"),
    ("MR:P012", "uterine / vaginal vault prolapse", (), "MR:P010"),
    ("MR:P013", "enterocele / peritoneocele", (), "MR:P010"),
    ("MR:P014", "rectocele", (), "MR:P010"),
    ("MR:P015", "excessive ARJ descent", (), "MR:P010"),
    ("MR:P016", "urethral hypermobility", (), "MR:P000"),
    ("MR:P020", "prolapse severity: mild", ("E-POPSEV",), "MR:P000"),
    ("MR:P021", "prolapse severity: moderate", ("E-POPSEV",), "MR:P000"),
    ("MR:P022", "prolapse severity: severe", ("E-POPSEV",), "MR:P000"),
    ("MR:P030", "HMO grade 0–3 (H, M, O each)", ("E-HMO-H", "E-HMO-M", "E-HMO-O"), "MR:P000"),
    ("MR:S000", "classification value", (), None),
    ("MR:S001", "FIGO 2018 cervical stage", ("E-FIGO-CX",), "MR:S000"),
    ("MR:S002", "FIGO 2009 endometrial stage", ("E-FIGO-EC09",), "MR:S000"),
    ("MR:S003", "FIGO 2023 endometrial stage", ("E-FIGO-EC23",), "MR:S000"),
    ("MR:S004", "FIGO 2014 ovarian stage", ("E-FIGO-OV",), "MR:S000"),
    ("MR:S010", "O-RADS MRI score", ("E-ORADS",), "MR:S000"),
    ("MR:S011", "RMI (I/II/III)", (), "MR:S000"),
    ("MR:S012", "CA-125 raised", ("E-CA125",), "MR:S000"),
    ("MR:S020", "menopausal status", ("E-MENO",), "MR:S000"),
    ("MR:S030", "histotype class (2023)", ("E-HIST",), "MR:S000"),
    ("MR:S031", "LVSI", ("E-LVSI",), "MR:S000"),
    ("MR:S032", "molecular class", ("E-MOL",), "MR:S000"),
    ("MR:S040", "ESGO/ESTRO/ESP 2020 risk group", ("E-RISK",), "MR:S000"),
    ("MR:D000", "disorder", (), None),
    ("MR:D001", "cervical carcinoma", (), "MR:D000"),
    ("MR:D002", "endometrial carcinoma", (), "MR:D000"),
    ("MR:D003", "ovarian cancer", (), "MR:D000"),
    ("MR:D004", "adenomyosis", (), "MR:D000"),
    ("MR:D005", "leiomyoma", (), "MR:D000"),
    ("MR:D006", "endometrioma", (), "MR:D000"),
    ("MR:D007", "mature cystic teratoma", (), "MR:D000"),
    ("MR:D008", "metastatic malignant neoplasm", (), "MR:D000"),
]


def test_every_spec_concept_has_its_id_preferred_term_group_and_parent() -> None:
    graph = load_bundled()
    for cid, preferred, groups, parent in SPEC_ROWS:
        concept = graph.concept(cid)
        assert concept.preferred("en") == preferred, cid
        assert concept.exclusion_groups == groups, cid
        assert (concept.parents[0][0] if concept.parents else None) == parent, cid
    spec_ids = {row[0] for row in SPEC_ROWS}
    # the only other concepts are derived ordinal values "<system>.<value>" of SPEC concepts
    extra = [cid for cid in graph if cid not in spec_ids]
    assert extra and all("." in cid and cid.split(".")[0] in spec_ids for cid in extra)


def test_part_and_measurement_links_follow_the_spec_annotations() -> None:
    graph = load_bundled()
    assert graph.concept("MR:A002").parents == (("MR:A001", "part_of"),)  # "A001 (part)"
    assert graph.concept("MR:A005").parents == (("MR:A006", "part_of"),)
    assert graph.concept("MR:F002").parents == (("MR:F001", "measurement_of"),)  # "F001 (measurement)"
    assert graph.concept("MR:F063").parents == (("MR:F060", "is_a"),)
    assert graph.concept("MR:F003").note == "PATH"


def test_synonyms_and_chinese_terms_are_transcribed() -> None:
    graph = load_bundled()
    assert graph.synonyms("MR:A008", "en") == ("cervix uteri", "cervix")
    assert graph.preferred("MR:A008", "zh") == "子宫颈"
    assert graph.synonyms("MR:A008", "zh") == ("宫颈",)
    f063 = graph.concept("MR:F063")
    zh = {t.text: t for t in f063.terms if t.lang == "zh"}
    assert set(zh) == {"深肌层浸润", "深肌层侵犯", "子宫肌层浸润深度≥50%"}
    assert zh["深肌层浸润"].variant and zh["深肌层浸润"].sources == ("Z13",)
    assert f063.preferred("zh") == "子宫肌层浸润深度≥50%"  # the sourced, non-variant term
    assert graph.synonyms("MR:P001", "zh") == ("PCL线",)  # "耻尾线 (PCL线) [Z11]"
    assert graph.preferred("MR:S020.premenopausal", "zh") == "绝经前"
    assert graph.concept("MR:N009").synonyms("en") == ("groin nodes", "femoral nodes")


def test_codes_from_the_spec_and_no_snomed_in_the_ontology() -> None:
    graph = load_bundled()
    assert graph.concept("MR:A001").code("RadLex") == ("RID302",)
    assert graph.concept("MR:S001").code("NCIt") == ("C186617",)
    assert graph.concept("MR:S001.IIIA").code("NCIt") == ("C96256",)  # SPEC §1.1 table
    assert graph.concept("MR:S001.IB3").code("NCIt") == ("C162222",)
    assert all(not c.code("SNOMED") for c in graph.concepts())
    assert "35039007" not in BUNDLED_OWL.read_text(encoding="utf-8")


def test_stage_values_are_ordered_and_nested() -> None:
    graph = load_bundled()
    assert graph.parents("MR:S001.IIIC1") == ("MR:S001.IIIC",)
    order = [
        graph.concept(f"MR:S001.{v}").order for v in ("IA1", "IB3", "IIA1", "IIB", "IIIA", "IIIC2", "IVB")
    ]
    ranks = [o for o in order if o is not None]
    assert len(ranks) == len(order) and ranks == sorted(ranks)
    assert set(graph.group_members("E-FIGO-CX")) >= {"MR:S001", "MR:S001.IIIA", "MR:S001.IVB"}


def test_shipped_owl_is_generated_from_the_source() -> None:
    assert BUNDLED_OWL.read_text(encoding="utf-8") == ontology_xml(read_source(BUNDLED_SOURCE))
    assert build_main(["--check"]) == 0


def test_check_mode_reports_a_stale_owl(tmp_path: Path) -> None:
    stale = tmp_path / "stale.owl"
    stale.write_text("<rdf:RDF/>", encoding="utf-8")
    assert build_main(["--check", "--out", str(stale)]) == 1
    assert build_main(["--out", str(stale)]) == 0
    assert build_main(["--check", "--out", str(stale)]) == 0


def test_owl_loads_with_owlready2_and_equals_the_source() -> None:
    world = owlready2.World()
    onto = world.get_ontology(BUNDLED_OWL.as_uri()).load()
    names = {c.name for c in onto.classes()}
    assert {"MR_F063", "MR_A001", "MR_S001.IIIA"} <= names
    from_owl, from_json = load_owl(BUNDLED_OWL), load_bundled()
    assert sorted(from_owl) == sorted(from_json)
    for cid in from_json:
        a, b = from_owl.concept(cid), from_json.concept(cid)
        for lang in ("en", "zh"):
            assert a.preferred(lang) == b.preferred(lang), cid
            assert a.synonyms(lang) == b.synonyms(lang), cid
        assert sorted((t.text, t.sources, t.variant, t.provenance) for t in a.terms) == sorted(
            (t.text, t.sources, t.variant, t.provenance) for t in b.terms
        )
        assert (a.parents, a.exclusion_groups, sorted(a.codes), a.note, a.order) == (
            b.parents,
            b.exclusion_groups,
            sorted(b.codes),
            b.note,
            b.order,
        )
    assert from_owl.rules == from_json.rules
    assert from_owl.exclusion_groups() == from_json.exclusion_groups()


def test_zh_cell_grammar() -> None:
    terms = parse_zh_cell("宫颈间质 [Z5][Z7]; 宫颈基质 [Z4]")
    assert [(t.text, t.sources, t.preferred) for t in terms] == [
        ("宫颈间质", ("Z5", "Z7"), True),
        ("宫颈基质", ("Z4",), False),
    ]
    only_variants = parse_zh_cell("浅肌层浸润 (var.) ; 子宫肌层浸润深度<50% [Z6]")
    assert [t.preferred for t in only_variants] == [False, True]
    assert parse_zh_cell("阴道上2/3 (var.)")[0].text == "阴道上2/3"


def _minimal() -> dict[str, object]:
    return {
        "format": "maerad-terminology-source/1",
        "groups": [{"id": "E-X"}],
        "concepts": [
            {"id": "MR:X000", "en": "root"},
            {"id": "MR:X001", "en": "child", "parent": "MR:X000", "groups": ["E-X"]},
        ],
    }


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda d: d.update(format="other"), "format"),
        (lambda d: d["concepts"][1].update(parent="MR:NOPE"), "MR:NOPE"),
        (lambda d: d["concepts"][1].update(groups=["E-UNDECLARED"]), "E-UNDECLARED"),
        (lambda d: d["concepts"][1].update(rel="sibling_of"), "rel"),
        (lambda d: d["concepts"].append({"id": "MR:X001", "en": "again"}), "twice"),
        (lambda d: d["concepts"][0].update(en=""), "en"),
        (lambda d: d.update(groups=[{"id": "E-X"}, {"id": "E-EMPTY"}]), "E-EMPTY"),
        (
            lambda d: d.update(
                rules=[{"id": "R", "kind": "at_least", "if_all": ["MR:X001"], "target": "MR:X000"}]
            ),
            "system",
        ),
    ],
)
def test_source_errors_name_the_field(mutate: object, message: str) -> None:
    data = _minimal()
    mutate(data)  # type: ignore[operator]
    with pytest.raises(InputError, match=message):
        parse_source(data, origin="src.json")


def test_unreadable_source_is_an_input_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text("{not json", encoding="utf-8")
    with pytest.raises(InputError, match=r"bad\.json"):
        read_source(bad)
    good = tmp_path / "good.json"
    good.write_text(json.dumps(_minimal()), encoding="utf-8")
    assert [c.id for c in read_source(good).concepts] == ["MR:X000", "MR:X001"]
