"""Few-label fine-tuning: determinism, the label budget, splits, frozen / pre-trained encoders,
layer-wise lr decay, bf16, the time budget and the checkpoint."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import pytest
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "report" / "generation"))
from helpers_generation import ENCODER, SEQUENCES, tiny_finetune_config, write_tiny_phantom

from maerad.errors import ConfigError, InputError
from maerad.report.generation.cases import split_study_folders
from maerad.report.generation.config import GeneratorConfig
from maerad.report.generation.generator import ReportGenerator
from maerad.train.config import PretrainConfig
from maerad.train.finetune import build_optimizer, finetune
from maerad.train.pretrain import pretrain


def _quiet(message: str) -> None:
    pass


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_tiny_phantom(tmp_path_factory.mktemp("ft-data") / "phantom", 12, seed=5)


def _weights(gen: ReportGenerator) -> dict[str, torch.Tensor]:
    return {k: v.clone() for k, v in gen.model.state_dict().items()}


def test_same_seed_same_weights(data: Path, tmp_path: Path) -> None:
    runs = [finetune(tiny_finetune_config(data, tmp_path / name, seed=seed), progress=False, log=_quiet)
            for name, seed in (("a", 3), ("b", 3), ("c", 4))]
    a, b, c = (_weights(r.generator) for r in runs)
    assert a.keys() == b.keys()
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert runs[0].losses == runs[1].losses
    assert any(not torch.equal(a[k], c[k]) for k in a)


def test_augmentation_is_seeded_and_changes_training(data: Path, tmp_path: Path) -> None:
    runs = [finetune(tiny_finetune_config(data, tmp_path / name, seed=3, augment=augment, balance=0.5),
                     progress=False, log=_quiet)
            for name, augment in (("a", True), ("b", True), ("plain", False))]
    assert runs[0].losses == runs[1].losses  # same seed: the same shifts and gains
    assert runs[0].losses[0] != runs[2].losses[0]  # the first batch already sees augmented volumes
    messages: list[str] = []
    finetune(tiny_finetune_config(data, tmp_path / "frozen", augment=True, freeze_encoder=True, max_steps=1),
             progress=False, log=messages.append)
    assert any("augment has no effect with a frozen encoder" in m for m in messages)


def test_first_n_labelled_cases_of_the_training_split(data: Path, tmp_path: Path) -> None:
    result = finetune(tiny_finetune_config(data, tmp_path, labels=4), progress=False, log=_quiet)
    state = json.loads((result.checkpoint / "state.json").read_text(encoding="utf-8"))
    # 12 studies: train = the first 60 % (8), every phantom study is labelled (normal ones as adnexa)
    assert state["extra"]["labelled"] == ["case-0000", "case-0001", "case-0002", "case-0003"]
    assert result.n_labelled == 4 and state["extra"]["synthetic"] is True
    assert state["extra"]["finetune"]["labels"] == 4
    config = GeneratorConfig.model_validate(state["config"])  # everything needed to rebuild
    assert config.encoder.sequences == SEQUENCES and config.encoder.volume_shape == (8, 32, 32)
    assert ReportGenerator.from_checkpoint(result.checkpoint).config == config
    log = [json.loads(line) for line in (tmp_path / "log.jsonl").read_text(encoding="utf-8").splitlines()]
    assert [r["step"] for r in log] == [1, 2, 3] and {"pointer", "alignment", "regression"} <= set(log[0])


def test_split_rules(data: Path, tmp_path: Path) -> None:
    names = [[f.name for f in split_study_folders(data, s)] for s in ("train", "val", "test")]
    assert [len(n) for n in names] == [8, 2, 2] and names[2] == ["case-0010", "case-0011"]
    assert len(split_study_folders(data, "all")) == 12
    index = json.loads((data / "index.json").read_text(encoding="utf-8"))
    copy = tmp_path / "indexed"
    copy.mkdir()
    for i, case in enumerate(index["cases"]):
        (copy / case["case"]).symlink_to(data / case["case"])
        case["split"] = "test" if i % 3 == 0 else "train"
    (copy / "index.json").write_text(json.dumps(index), encoding="utf-8")
    assert [f.name for f in split_study_folders(copy, "test")] == ["case-0000", "case-0003", "case-0006",
                                                                   "case-0009"]
    (copy / "index.json").write_text("[1, 2]", encoding="utf-8")  # not the phantom's layout: fractions
    assert [f.name for f in split_study_folders(copy, "test")] == ["case-0010", "case-0011"]
    nested = tmp_path / "nested"
    (nested / "test").mkdir(parents=True)
    (nested / "test" / "case-0005").symlink_to(data / "case-0005")
    assert [f.name for f in split_study_folders(nested, "test")] == ["case-0005"]
    with pytest.raises(ConfigError, match="split"):
        split_study_folders(data, "holdout")
    with pytest.raises(InputError):
        split_study_folders(tmp_path / "nothing", "train")


def test_frozen_encoder_stays_fixed(data: Path, tmp_path: Path) -> None:
    result = finetune(tiny_finetune_config(data, tmp_path, freeze_encoder=True, seed=2), progress=False,
                      log=_quiet)
    torch.manual_seed(2)
    initial = ReportGenerator.build(result.generator.config)
    before, after = _weights(initial), _weights(result.generator)
    enc = [k for k in before if k.startswith("encoder.")]
    heads = [k for k in before if not k.startswith("encoder.")]
    assert enc and all(torch.equal(before[k], after[k]) for k in enc)
    assert any(not torch.equal(before[k], after[k]) for k in heads)


def test_pretrained_encoder_is_used(data: Path, tmp_path: Path) -> None:
    config = PretrainConfig(data=str(data), out=str(tmp_path / "pre"), sequences=SEQUENCES,
                            patch_size=[4, 16, 16], max_steps=1, batch_size=2, num_threads=1,
                            model_kwargs={**ENCODER, "decoder_embed_dim": 16, "decoder_depth": 1,
                                          "decoder_num_heads": 2})
    pre = pretrain(config, progress=False, log=_quiet)
    assert pre.checkpoint is not None
    from maerad.train.checkpoint import load_checkpoint

    state = load_checkpoint(pre.checkpoint).model_state
    result = finetune(tiny_finetune_config(data, tmp_path / "ft", pretrained=str(pre.checkpoint),
                                           freeze_encoder=True), progress=False, log=_quiet)
    own = result.generator.model.encoder.mae.state_dict()
    assert all(torch.equal(own[k], v) for k, v in state.items() if not k.startswith("decoder."))


def test_layer_wise_lr_decay(data: Path, tmp_path: Path) -> None:
    result = finetune(tiny_finetune_config(data, tmp_path, model_kwargs={**ENCODER, "depth": 3}, max_steps=1),
                      progress=False, log=_quiet)
    config = tiny_finetune_config(data, tmp_path, layer_decay=0.5)
    groups = build_optimizer(result.generator, config).param_groups
    enc_ids = {id(p) for p in result.generator.model.encoder.parameters()}
    blocks = result.generator.model.encoder.mae.blocks
    scale_of = {id(p): g["lr_scale"] for g in groups for p in g["params"]}
    depth_scales = [scale_of[id(next(iter(b.parameters())))] for b in blocks]
    assert depth_scales == [0.5 ** 3, 0.5 ** 2, 0.5 ** 1]  # deeper blocks learn faster
    assert scale_of[id(result.generator.model.encoder.mae.patch_embed.proj.weight)] == 0.5 ** 4
    assert all(g["lr_scale"] == 1.0 for g in groups if not any(id(p) in enc_ids for p in g["params"]))
    frozen = build_optimizer(result.generator, config.model_copy(update={"freeze_encoder": True}))
    assert not any(id(p) in enc_ids for g in frozen.param_groups for p in g["params"])


def test_bf16_and_time_budget(data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("maerad.train.precision.bf16_is_native", lambda device: False)
    lines: list[str] = []
    result = finetune(tiny_finetune_config(data, tmp_path, bf16=True, max_steps=50, time_budget_s=0.001),
                      progress=False, log=lines.append)
    assert any("no native bfloat16" in line for line in lines)  # an emulating CPU is named as slow
    assert result.stopped_early and result.steps == 1
    assert all(torch.isfinite(torch.tensor(result.losses)))
    assert (result.checkpoint / "model.safetensors").is_file()


def test_configuration_errors(data: Path, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no labelled case"):
        finetune(tiny_finetune_config(data, tmp_path, templates=["no-such-template"]), progress=False,
                 log=_quiet)
    with pytest.raises(ConfigError, match="loss_weights"):
        finetune(tiny_finetune_config(data, tmp_path, loss_weights={"pointer": 1.0, "bogus": 1.0}),
                 progress=False, log=_quiet)
    with pytest.raises(InputError, match="no such folder"):
        finetune(tiny_finetune_config(tmp_path / "missing", tmp_path), progress=False, log=_quiet)
    with pytest.raises(ConfigError, match="decoder"):
        finetune(tiny_finetune_config(data, tmp_path, decoder="no-such-decoder"), progress=False, log=_quiet)


def test_an_unreadable_study_stops_the_run_before_anything_is_written(data: Path, tmp_path: Path) -> None:
    copy = tmp_path / "phantom"
    shutil.copytree(data, copy)
    for volume in copy.glob("case-*/t2w.nii.gz"):  # the folders are outlined from case.json alone
        volume.write_bytes(volume.read_bytes()[:100])
    with pytest.raises(InputError, match=r"t2w\.nii\.gz"):
        finetune(tiny_finetune_config(copy, tmp_path / "run"), progress=False, log=_quiet)
    assert not (tmp_path / "run").exists()


def test_tissue_supervision(data: Path, tmp_path: Path) -> None:
    from maerad.report.generation.tissue import PHANTOM_TISSUE_GROUPS

    only_tissue = {"tissue": 1.0}
    result = finetune(tiny_finetune_config(data, tmp_path / "t", tissue_supervision=True, augment=True,
                                           loss_weights=only_tissue, max_steps=25, lr=3e-3),
                      progress=False, log=_quiet)
    assert result.losses[-1] < 0.7 * result.losses[0]  # the head learns the label maps' tissue shares
    config = result.generator.config
    assert config.tissue_groups == PHANTOM_TISSUE_GROUPS
    loaded = ReportGenerator.from_checkpoint(result.checkpoint)
    assert loaded.model.tissue_head is not None and loaded.config == config
    head = result.generator.model.tissue_head
    assert head is not None and torch.equal(loaded.model.tissue_head.proj.weight, head.proj.weight)
    # the tissue gradient reaches the encoder: with it on, the encoder ends elsewhere
    on = finetune(tiny_finetune_config(data, tmp_path / "on", tissue_supervision=True), progress=False,
                  log=_quiet)
    off = finetune(tiny_finetune_config(data, tmp_path / "off"), progress=False, log=_quiet)
    assert off.generator.model.tissue_head is None and off.last_losses["tissue"] == 0.0
    assert on.last_losses["tissue"] > 0.0
    a, b = _weights(on.generator), _weights(off.generator)
    assert any(not torch.equal(a[k], b[k]) for k in a if k.startswith("encoder."))
    # a frozen encoder: targets are cached with the features and the head is still trained
    frozen = finetune(tiny_finetune_config(data, tmp_path / "frozen", tissue_supervision=True,
                                           freeze_encoder=True), progress=False, log=_quiet)
    assert frozen.last_losses["tissue"] > 0.0
    # the summary's standardisation is fitted on the labelled studies' true shares and saved
    summed = finetune(tiny_finetune_config(data, tmp_path / "sum", tissue_supervision=True,
                                           tissue_summary=True, max_steps=1), progress=False, log=_quiet)
    summary = summed.generator.model.tissue_summary
    assert summary is not None and float(summary.std.min()) > 0 and bool((summary.mean != 0).any())
    reloaded = ReportGenerator.from_checkpoint(summed.checkpoint).model.tissue_summary
    assert reloaded is not None and torch.equal(reloaded.mean, summary.mean)
    assert not (summary.std == 1).all()


def test_tissue_segmenter(data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                          segmenter_autocast_switches: list[bool]) -> None:
    # segmenter_bf16 left unset: bf16 only where it is native, here a CPU that emulates it
    monkeypatch.setattr("maerad.train.precision.bf16_is_native", lambda device: False)
    seg = {"channels": [4, 8]}
    runs = [finetune(tiny_finetune_config(data, tmp_path / name, tissue_segmenter=True, segmenter=seg,
                                          segmenter_steps=4, augment=True), progress=False, log=_quiet)
            for name in ("a", "b")]
    a, b = (_weights(r.generator) for r in runs)
    assert all(torch.equal(a[k], b[k]) for k in a)  # deterministic, segmenter included
    model = runs[0].generator.model
    segmenter, summary = model.tissue_segmenter, model.tissue_summary
    assert segmenter is not None and summary is not None and model.tissue_head is None
    assert not any(p.requires_grad for p in segmenter.parameters())  # frozen after its own training
    assert not (summary.std == 1).all()  # standardised with the segmenter's shares of the labelled studies
    log = (tmp_path / "a" / "segmenter_log.jsonl").read_text(encoding="utf-8").splitlines()
    assert [json.loads(line)["step"] for line in log] == [1, 2, 3, 4]
    assert segmenter_autocast_switches and not any(segmenter_autocast_switches)
    loaded = ReportGenerator.from_checkpoint(runs[0].checkpoint)
    assert loaded.model.tissue_segmenter is not None
    assert torch.equal(loaded.model.tissue_segmenter.unet.head.weight, segmenter.unet.head.weight)
    study = split_study_folders(data, "test")[0]
    assert loaded.generate(study).fields  # the generator runs its segmenter at inference
    # the segmenter's weights are not touched by the generator's optimizer
    untrained = finetune(tiny_finetune_config(data, tmp_path / "c", tissue_segmenter=True, segmenter=seg,
                                              segmenter_steps=4, augment=True, max_steps=1),
                         progress=False, log=_quiet)
    c = _weights(untrained.generator)
    assert all(torch.equal(a[k], c[k]) for k in a if k.startswith("tissue_segmenter."))
    assert any(not torch.equal(a[k], c[k]) for k in a if k.startswith("decoder."))
    # a trained segmenter is reused by another run: same weights, no segmenter training
    reused = finetune(tiny_finetune_config(data, tmp_path / "d", tissue_segmenter=True, segmenter=seg,
                                           segmenter_from=str(runs[0].checkpoint), seed=9),
                      progress=False, log=_quiet)
    d = _weights(reused.generator)
    assert all(torch.equal(a[k], d[k]) for k in a if k.startswith("tissue_segmenter."))
    assert not (tmp_path / "d" / "segmenter_log.jsonl").exists()
    with pytest.raises(ConfigError, match="segmenter spec"):
        finetune(tiny_finetune_config(data, tmp_path / "e", tissue_segmenter=True,
                                      segmenter={"channels": [4, 4]}, segmenter_from=str(runs[0].checkpoint)),
                 progress=False, log=_quiet)
    plain = finetune(tiny_finetune_config(data, tmp_path / "f", max_steps=1), progress=False, log=_quiet)
    with pytest.raises(ConfigError, match="has no tissue segmenter"):
        finetune(tiny_finetune_config(data, tmp_path / "g", tissue_segmenter=True, segmenter=seg,
                                      segmenter_from=str(plain.checkpoint)), progress=False, log=_quiet)


def test_tissue_supervision_errors(data: Path, tmp_path: Path) -> None:
    import shutil

    with pytest.raises(ConfigError, match="in tissue groups"):
        finetune(tiny_finetune_config(data, tmp_path, tissue_supervision=True,
                                      tissue_groups={"a": [100], "b": [100, 33]}), progress=False, log=_quiet)
    copy = tmp_path / "unlabelled"
    shutil.copytree(data, copy)
    (copy / "case-0000" / "labels.nii.gz").unlink()
    case = json.loads((copy / "case-0000" / "case.json").read_text(encoding="utf-8"))
    case["labels"], case["label_names"] = None, {}
    (copy / "case-0000" / "case.json").write_text(json.dumps(case), encoding="utf-8")
    with pytest.raises(InputError, match="case-0000: has no label map"):
        finetune(tiny_finetune_config(copy, tmp_path / "u", tissue_supervision=True), progress=False,
                 log=_quiet)
    with pytest.raises(InputError, match="case-0000: has no label map"):
        finetune(tiny_finetune_config(copy, tmp_path / "v", tissue_segmenter=True, segmenter_steps=1),
                 progress=False, log=_quiet)
    messages: list[str] = []
    finetune(tiny_finetune_config(data, tmp_path / "m", tissue_groups={"a": [100]}, max_steps=1),
             progress=False, log=messages.append)
    assert any("unused without tissue_supervision" in m for m in messages)
