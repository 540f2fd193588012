"""Flags raised as codes are written with labels, in English and Chinese (review D15)."""

from __future__ import annotations

from maerad.report.render_text import FLAG_LABELS, flag_text, impression_line
from maerad.report.structured_report import ReportFlag, StructuredReport


def _adnexal_report(*flags: ReportFlag) -> StructuredReport:
    from maerad.report.derive import derive_report

    report = derive_report(StructuredReport.model_validate({
        "template_id": "adnexa-orads-mri", "template_version": "1.0.0",
        "fields": {"menopausal_status": "MR:S020.premenopausal", "ca125_u_ml": 43.9,
                   "adnexal_lesion": False, "peritoneal_disease": False}}))
    return report.model_copy(update={"flags": (*report.flags, *flags)})


def test_code_flags_have_labels_in_both_languages() -> None:
    flag = ReportFlag(kind="rule", message="rmi_features_from_mri", source="rmi")
    for lang in ("en", "zh"):
        text = flag_text(flag, lang)
        assert text == FLAG_LABELS["rmi_features_from_mri"][lang] and "rmi_features_from_mri" not in text


def test_chinese_report_translates_the_rmi_summary_and_the_stage_head_note() -> None:
    stage = ReportFlag(kind="note", source="stage-head", field="orads_score",
                       message="the model's direct stage head predicts O-RADS MRI score 1; the rule engines "
                               "derive O-RADS MRI score 3 from the generated findings")
    rmi = ReportFlag(kind="rule", message="RMI I: U=0, M=1, cut-off 200", source="rmi")
    assert flag_text(rmi, "zh") == "RMI I：U=0，M=1，界值 200"
    assert flag_text(stage, "zh") == ("模型的直接分期头预测为O-RADS MRI 评分 1；"
                                      "规则引擎根据生成的所见推导为O-RADS MRI 评分 3")
    assert flag_text(stage, "en") == stage.message  # English keeps the message


def test_rendered_impression_has_no_raw_codes() -> None:
    report = _adnexal_report(ReportFlag(kind="rule", message="rmi_features_from_mri", source="rmi"))
    for lang in ("en", "zh"):
        assert "rmi_features_from_mri" not in impression_line(report, lang)
