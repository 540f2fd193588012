"""``maerad evaluate``: the command end to end, and the metric values on hand-made generations."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "report" / "generation"))
from helpers_generation import SMALL, tiny_finetune_config, write_tiny_phantom

import maerad.cli.main as cli_main
from maerad.cli.evaluate import evaluate_generations
from maerad.cli.main import main
from maerad.data.phantom import generate_case
from maerad.report.generation.generator import Generation
from maerad.report.generation.targets import CaseTargets, targets_from_metadata
from maerad.report.rules import CERVIX_STAGE_ORDER
from maerad.report.structured_report import FieldEntry, ReportFlag, StructuredReport
from maerad.report.templates import get_template
from maerad.train.finetune import finetune


@pytest.fixture(autouse=True)
def _wired(monkeypatch: pytest.MonkeyPatch) -> None:
    if "evaluate" not in cli_main._COMMAND_MODULES:
        monkeypatch.setattr(cli_main, "_COMMAND_MODULES", (*cli_main._COMMAND_MODULES, "evaluate"))


def test_evaluate_writes_metrics_and_confusion_matrix(tmp_path: Path,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    data = write_tiny_phantom(tmp_path / "phantom", 10, kind="cervical", seed=1)
    result = finetune(tiny_finetune_config(data, tmp_path / "ft", labels=4), progress=False,
                      log=lambda m: None)
    out = tmp_path / "eval" / "metrics.json"
    status = main(["evaluate", "--checkpoint", str(result.checkpoint), "--data", str(data), "--out", str(out),
                   "--bootstrap", "50", "--no-progress"])
    assert status == 0
    printed = capsys.readouterr().out
    assert "synthetic" in printed and "stage_accuracy" in printed
    metrics = json.loads(out.read_text(encoding="utf-8"))
    assert metrics["synthetic_data"] is True and metrics["n_test"] == 2  # 10 studies: the last 20 %
    assert 0.0 <= metrics["stage_accuracy"] <= 1.0
    assert "stage_accuracy" in metrics["confidence_intervals"]
    assert metrics["completeness"] == 1.0 and metrics["consistency_violations"] == 0
    assert metrics["invalid_reports"] == 0
    assert sum(sum(row) for row in metrics["stage_confusion"]["counts"]) == 2
    assert (out.parent / "stage_confusion.png").read_bytes()[:4] == b"\x89PNG"
    for key in ("key_field_accuracy", "size_mae_mm", "rule_model_stage_agreement", "bleu", "rouge_l"):
        assert key in metrics, key
    assert "cervix-figo2018" in metrics["fields"]


def test_evaluate_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["evaluate", "--checkpoint", str(tmp_path), "--data", str(tmp_path), "--no-progress"]) == 2
    assert capsys.readouterr().err.startswith("maerad: error:")
    assert main(["evaluate", "--checkpoint", str(tmp_path), "--data", str(tmp_path), "--beam", "0"]) == 2


def _gen(report: StructuredReport, rule: str | None, model: str | None) -> Generation:
    template = get_template(report.template_id)
    return Generation(report, template.key, "figo2018_stage" if report.template_id == "cervix-figo2018"
                      else "orads_score", rule, model, 0.0, 1, True, 0.01)


def _with(report: StructuredReport, **changes: object) -> StructuredReport:
    fields = dict(report.fields)
    for key, value in changes.items():
        if value is None:
            fields.pop(key)
        else:
            fields[key] = FieldEntry(value=value, provenance="model")  # type: ignore[arg-type]
    return report.model_copy(update={"fields": fields})


def test_metric_values_on_known_generations() -> None:
    truths: list[CaseTargets] = []
    for i, stage in enumerate(("IB2", "IIB", "IIIB", "IVA")):
        t = targets_from_metadata(generate_case("cervical", seed=i, config=SMALL, stage=stage).study.metadata)
        assert t is not None
        truths.append(t)
    other = targets_from_metadata(generate_case("adnexal", seed=0, config=SMALL, score=3).study.metadata)
    assert other is not None
    t0, t1, t2 = (t.report for t in truths[:3])
    size = t1.value("max_diameter_mm")
    assert isinstance(size, float)
    flag = ReportFlag(kind="terminology", message="test violation", field="stromal_ring")
    gens = [
        _gen(t0.model_copy(update={"flags": (*t0.flags, flag)}), truths[0].headline, truths[0].headline),
        # one key field wrong, a size 4 mm off, a mandatory field missing; the stage still right
        _gen(_with(t1, pelvic_sidewall=not t1.value("pelvic_sidewall"), max_diameter_mm=size + 4.0,
                   distant_metastasis=None), truths[1].headline, "MR:S001.IB1"),
        _gen(t2, "MR:S001.IIA1", "MR:S001.IIA1"),  # wrong stage
        _gen(other.report, "MR:S010.3", "MR:S010.3"),  # wrong template: every field missing
    ]
    result = evaluate_generations(truths, gens, n_bootstrap=50, text_metrics=False)
    m = result.metrics
    assert m["n_test"] == 4 and m["template_accuracy"].estimate == 0.75
    assert m["stage_accuracy"].estimate == 0.5
    assert m["size_mae_mm"].estimate == pytest.approx(4.0 / 3.0)
    assert m["consistency_violations"] == 1
    assert m["rule_model_stage_agreement"] == 0.75
    template = get_template("cervix-figo2018")
    keys = [f.id for f in template.fields
            if f.mandatory and not f.derived and f.type in ("concept", "boolean")]
    totals = [sum(t.report.value(k) is not None for k in keys) for t in truths]
    # case 1: pelvic_sidewall wrong and distant_metastasis missing; case 3: nothing (wrong template)
    expected = (totals[0] + totals[1] - 2 + totals[2]) / sum(totals)
    assert m["key_field_accuracy"].estimate == pytest.approx(expected)
    slots = []
    for g in gens:
        tpl = get_template(g.report.template_id)
        values = g.report.values()
        slots.append(sum(f.mandatory and f.applies(values) for f in tpl.fields))
    assert m["completeness"] == pytest.approx((sum(slots) - 1) / sum(slots))
    counts, order = m["stage_confusion"]["counts"], list(CERVIX_STAGE_ORDER)
    assert counts[order.index("IB2")][order.index("IB2")] == 1
    assert counts[order.index("IIIB")][order.index("IIA1")] == 1  # rows truth, columns prediction
    assert counts[order.index("IVA")][len(order)] == 1  # wrong template: the stage is "missing"


def test_accuracy_intervals_never_collapse_and_carry_n(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Review D9 / D15: 0 of 3 stages right and every key field right gave the degenerate bootstrap
    "95 % CI"s [0, 0] and [1, 1]; a Wilson interval (with k/n) is given instead, and the confusion
    figure's title names the split."""
    import maerad.eval

    truths: list[CaseTargets] = []
    for i, stage in enumerate(("IB2", "IIB", "IIIB")):
        t = targets_from_metadata(generate_case("cervical", seed=i, config=SMALL, stage=stage).study.metadata)
        assert t is not None
        truths.append(t)
    gens = [_gen(t.report, "MR:S001.IA1", "MR:S001.IA1") for t in truths]  # every stage wrong
    titles: list[str | None] = []
    real_figure = maerad.eval.confusion_matrix_figure

    def spy(cm: object, **kwargs: object) -> object:
        titles.append(kwargs.get("title"))  # type: ignore[arg-type]
        return real_figure(cm, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(maerad.eval, "confusion_matrix_figure", spy)
    out = tmp_path / "metrics.json"
    result = evaluate_generations(truths, gens, n_bootstrap=200, text_metrics=False, out=out, split="test")
    stage = result.metrics["stage_accuracy"]
    assert (stage.estimate, stage.low, stage.successes, stage.n) == (0.0, 0.0, 0, 3)
    assert stage.high == pytest.approx(0.5615, abs=1e-4)  # Wilson 0/3
    keys = result.metrics["key_field_accuracy"]
    assert keys.estimate == 1.0 and keys.low < 0.6 and keys.high == 1.0  # not [1, 1]
    assert result.metrics["template_accuracy"].n == 3
    assert "[0.000, 0.561] (0/3)" in result.table and "[1.000, 1.000]" not in result.table
    assert "[0.000, 0.000]" not in result.table  # the errors are all 0 too: "n/a (every resample equal)"
    assert "size_mae_mm                 0.000  n/a (every resample equal)" in result.table
    saved = json.loads(out.read_text(encoding="utf-8"))
    ci = saved["confidence_intervals"]["stage_accuracy"]
    assert saved["stage_accuracy"] == 0.0 and (ci["method"], ci["successes"], ci["n"]) == ("wilson", 0, 3)
    assert saved["n_key_field_cases"] == 3 and saved["n_key_field_pairs"] > 3
    assert titles and "test split" in str(titles[0]) and "n=3" in str(titles[0])
