"""DICOM series loading on pydicom's real test files and on series written here with pydicom."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pydicom
import pytest
from pydicom.pixels.decoders.base import get_decoder
from pydicom.uid import JPEGLSLossless, RLELossless

from maerad.data import dicom as dicom_module
from maerad.data import list_dicom_series, load_dicom_series, read_dicom_series_geometry
from maerad.errors import InputError, MissingDependencyError

UID = "1.2.826.0.1.3680043.8.498."
WriteDicom = Callable[..., Path]


def lps_to_ras(p: object) -> np.ndarray:
    x, y, z = (float(v) for v in p)  # type: ignore[attr-defined]
    return np.array([-x, -y, z])


def dicomdir_tests(pydicom_file: Callable[[str], Path]) -> Path:
    return pydicom_file("MR_small.dcm").parent / "dicomdirtests"


# --------------------------------------------------------------------------------------------------
# Real single files
# --------------------------------------------------------------------------------------------------
def test_mr_small_matches_its_header(pydicom_file: Callable[[str], Path]) -> None:
    path = pydicom_file("MR_small.dcm")
    ds = pydicom.dcmread(path)
    study = load_dicom_series(path, sequence="t2w")
    assert study.sequence_names == ["t2w"]
    assert study.shape == (1, 64, 64)
    assert "RescaleSlope" not in ds  # so the stored values are the intensities
    np.testing.assert_array_equal(study.sequences["t2w"][0], ds.pixel_array.astype(np.float32))
    # d spacing: a single slice uses SliceThickness (0.8 mm in this file); in-plane: PixelSpacing
    assert study.spacing == pytest.approx((float(ds.SliceThickness), *map(float, ds.PixelSpacing)))
    assert study.spacing == pytest.approx((0.8, 0.3125, 0.3125))
    # voxel (0, 0, 0) is ImagePositionPatient, converted from LPS to RAS
    np.testing.assert_allclose(
        study.voxel_to_world((0, 0, 0)), lps_to_ras(ds.ImagePositionPatient), atol=1e-6
    )
    np.testing.assert_allclose(study.voxel_to_world((0, 0, 0)), [83.9063, 91.2, 6.6406], atol=1e-6)
    # identity orientation: moving down the rows (h) goes +y in LPS = posterior = -y in RAS
    step_h = study.voxel_to_world((0, 1, 0)) - study.voxel_to_world((0, 0, 0))
    step_w = study.voxel_to_world((0, 0, 1)) - study.voxel_to_world((0, 0, 0))
    np.testing.assert_allclose(step_h, [0, -0.3125, 0], atol=1e-9)
    np.testing.assert_allclose(step_w, [-0.3125, 0, 0], atol=1e-9)
    assert study.metadata["Modality"] == "MR"
    assert study.metadata["EchoTime"] == 240.0 and study.metadata["RepetitionTime"] == 4000.0
    assert study.metadata["SeriesInstanceUID"] == ds.SeriesInstanceUID
    json.dumps(study.metadata)


@pytest.mark.parametrize(
    "name",
    [
        "MR_small_RLE.dcm",
        "MR_small_jp2klossless.dcm",
        "MR_small_bigendian.dcm",
        "MR_small_expb.dcm",
        "MR_small_implicit.dcm",
        "MR_small_padded.dcm",
    ],
)
def test_encoded_variants_decode_to_the_same_pixels(pydicom_file: Callable[[str], Path], name: str) -> None:
    reference = load_dicom_series(pydicom_file("MR_small.dcm"))
    variant = load_dicom_series(pydicom_file(name))
    np.testing.assert_array_equal(variant.sequences["image"], reference.sequences["image"])
    np.testing.assert_array_equal(variant.affine, reference.affine)


def test_jpeg_ls_decodes_or_names_the_extra(pydicom_file: Callable[[str], Path]) -> None:
    path = pydicom_file("MR_small_jpeg_ls_lossless.dcm")
    if get_decoder(JPEGLSLossless).is_available:
        study = load_dicom_series(path)
        reference = load_dicom_series(pydicom_file("MR_small.dcm"))
        np.testing.assert_array_equal(study.sequences["image"], reference.sequences["image"])
    else:
        with pytest.raises(MissingDependencyError, match=r"maerad\[dicom-codecs\]"):
            load_dicom_series(path)


def test_missing_codec_plugin_names_the_extra(
    pydicom_file: Callable[[str], Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    decoder = get_decoder(RLELossless)
    monkeypatch.setattr(decoder, "_available", {})
    monkeypatch.setattr(decoder, "_unavailable", {"pylibjpeg": ("pylibjpeg>=2.0", "pylibjpeg-rle>=2.0")})
    path = pydicom_file("MR_small_RLE.dcm")
    with pytest.raises(MissingDependencyError) as info:
        load_dicom_series(path)
    assert "pip install 'maerad[dicom-codecs]'" in str(info.value) and path.name in str(info.value)
    # the same when only pydicom's own decoding notices the missing plugins
    monkeypatch.setattr(dicom_module, "_decoder_available", lambda syntax: True)
    with pytest.raises(MissingDependencyError, match=r"pip install 'maerad\[dicom-codecs\]'"):
        load_dicom_series(path)
    # an uncompressed file needs no plugin at all
    assert load_dicom_series(pydicom_file("MR_small.dcm")).shape == (1, 64, 64)


def test_truncated_file_is_an_input_error_naming_it(pydicom_file: Callable[[str], Path]) -> None:
    path = pydicom_file("MR_truncated.dcm")
    with pytest.raises(InputError, match=r"MR_truncated\.dcm"):
        load_dicom_series(path)


@pytest.mark.parametrize(
    ("name", "message"),
    [("rtdose.dcm", "multi-frame"), ("SC_rgb_rle.dcm", "colour"), ("rtplan.dcm", "without an image")],
)
def test_unsupported_objects_are_refused_clearly(
    pydicom_file: Callable[[str], Path], name: str, message: str
) -> None:
    with pytest.raises(InputError, match=message):
        load_dicom_series(pydicom_file(name))


# --------------------------------------------------------------------------------------------------
# Real multi-file series (pydicom's dicomdirtests)
# --------------------------------------------------------------------------------------------------
def test_real_ct_series_is_ordered_along_the_normal(pydicom_file: Callable[[str], Path]) -> None:
    folder = dicomdir_tests(pydicom_file) / "98892001" / "CT5N"
    datasets = [pydicom.dcmread(p) for p in sorted(folder.iterdir())]
    assert len(datasets) == 5
    study = load_dicom_series(folder)
    assert study.shape == (5, 16, 16)
    # axial identity orientation: the slice normal is +z, slices 2.5 mm apart
    by_z = sorted(datasets, key=lambda ds: float(ds.ImagePositionPatient[2]))
    assert study.spacing == pytest.approx(
        (2.5, float(by_z[0].PixelSpacing[0]), float(by_z[0].PixelSpacing[1]))
    )
    for d, ds in enumerate(by_z):
        np.testing.assert_allclose(
            study.voxel_to_world((d, 0, 0)), lps_to_ras(ds.ImagePositionPatient), atol=1e-4
        )
        expected = ds.pixel_array * float(ds.RescaleSlope) + float(ds.RescaleIntercept)
        np.testing.assert_array_equal(study.sequences["image"][d], expected.astype(np.float32))
    assert study.metadata["SeriesDescription"] == "SmartScore - Gated 0.5 sec"
    assert study.metadata["n_files"] == 5


def test_real_uneven_series_errors_and_an_even_subset_loads(pydicom_file: Callable[[str], Path]) -> None:
    folder = dicomdir_tests(pydicom_file) / "77654033" / "CT2"
    files = sorted(folder.iterdir())
    z = {p.name: float(pydicom.dcmread(p).ImagePositionPatient[2]) for p in files}
    assert len(files) == 4
    with pytest.raises(InputError, match="not evenly spaced"):
        load_dicom_series(folder)
    subset = sorted(files, key=lambda p: z[p.name])[1:]  # the three contiguous slices
    study = load_dicom_series(subset)
    assert study.shape[0] == 3
    assert study.spacing[0] == pytest.approx(z[subset[1].name] - z[subset[0].name], abs=1e-4)
    assert study.spacing[0] == pytest.approx(1.25, abs=1e-4)


def test_real_series_with_varying_orientation_is_refused(pydicom_file: Callable[[str], Path]) -> None:
    with pytest.raises(InputError, match="ImageOrientationPatient"):
        load_dicom_series(dicomdir_tests(pydicom_file) / "98892003" / "MR700")


def test_real_folder_with_several_series_needs_a_choice(pydicom_file: Callable[[str], Path]) -> None:
    folder = dicomdir_tests(pydicom_file) / "98892001"
    series = list_dicom_series(folder)
    counts = {s.description: s.n_files for s in series}
    assert counts == {"Scout": 2, "SmartScore - Gated 0.5 sec": 5}
    with pytest.raises(InputError) as info:
        load_dicom_series(folder)
    for s in series:
        assert s.uid in str(info.value) and s.description in str(info.value)
    chosen = next(s for s in series if s.n_files == 5)
    assert load_dicom_series(folder, series_uid=chosen.uid).shape[0] == 5
    with pytest.raises(InputError, match="no DICOM series"):
        load_dicom_series(folder, series_uid="1.2.3.4")


def test_real_fileset_without_images_is_an_error(pydicom_file: Callable[[str], Path]) -> None:
    # TINY_ALPHA is a DICOMDIR file-set of "CT Image Storage" objects stripped of their image
    # attributes: that is what a cut-short image looks like, so it is an error naming the file
    with pytest.raises(InputError, match=r"IM\w+: CT Image Storage object without image attributes"):
        load_dicom_series(dicomdir_tests(pydicom_file) / "TINY_ALPHA")


def test_cut_short_image_in_a_folder_is_not_skipped(tmp_path: Path, write_dicom: WriteDicom) -> None:
    # without the check, losing the middle slice would leave an evenly spaced series of two
    for k in range(3):
        write_dicom(tmp_path / f"{k}.dcm", np.zeros((4, 4)), position=(0, 0, 2 * k), instance=k + 1)
    (tmp_path / "1.dcm").write_bytes((tmp_path / "1.dcm").read_bytes()[:400])
    with pytest.raises(InputError, match=r"1\.dcm: MR Image Storage object without image attributes"):
        load_dicom_series(tmp_path)


# --------------------------------------------------------------------------------------------------
# Series written here
# --------------------------------------------------------------------------------------------------
def _oblique() -> tuple[np.ndarray, np.ndarray]:
    a, b = np.deg2rad(20.0), np.deg2rad(-12.0)
    row = np.array([np.cos(a), np.sin(a), 0.0])
    col = np.array([-np.sin(a) * np.cos(b), np.cos(a) * np.cos(b), np.sin(b)])
    return row, col


def _write_series(
    write_dicom: WriteDicom,
    folder: Path,
    n: int = 6,
    gap: float = 3.5,
    shuffle: bool = True,
    **fields: object,
) -> tuple[list[np.ndarray], np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(7)
    row, col = _oblique()
    normal = np.cross(row, col)
    origin = np.array([-120.0, -80.5, 40.25])
    names = rng.permutation(n) if shuffle else np.arange(n)
    stored = []
    for k in range(n):
        pixels = rng.integers(0, 2000, size=(5, 7)).astype(np.int16)
        pixels[0, 0] = k  # identifies the slice
        stored.append(pixels)
        write_dicom(
            folder / f"im{names[k]:03d}.dcm",
            pixels,
            position=origin + k * gap * normal,
            orientation=[*row, *col],
            pixel_spacing=(0.8, 0.6),
            instance=k + 1,
            **fields,
        )
    return stored, origin, row, col


def test_written_oblique_series_geometry_order_and_rescale(tmp_path: Path, write_dicom: WriteDicom) -> None:
    stored, origin, row, col = _write_series(
        write_dicom,
        tmp_path,
        RescaleSlope="2.5",
        RescaleIntercept="-100",
        SeriesDescription="T2 OBL",
        MagneticFieldStrength="1.5",
        EchoTime="90",
        RepetitionTime="4000",
    )
    (tmp_path / "README.txt").write_text("not DICOM")  # skipped quietly
    study = load_dicom_series(tmp_path, sequence="t2w")
    assert study.shape == (6, 5, 7)
    assert study.spacing == pytest.approx((3.5, 0.8, 0.6))
    normal = np.cross(row, col)
    rng = np.random.default_rng(1)
    for _ in range(20):
        d, h, w = int(rng.integers(6)), int(rng.integers(5)), int(rng.integers(7))
        # DICOM PS3.3 C.7.6.2.1.1: P = IPP + row_cos * col_spacing * w + col_cos * row_spacing * h
        lps = origin + d * 3.5 * normal + row * 0.6 * w + col * 0.8 * h
        np.testing.assert_allclose(study.voxel_to_world((d, h, w)), lps_to_ras(lps), atol=1e-4)
    for d in range(6):
        np.testing.assert_allclose(study.sequences["t2w"][d], stored[d] * 2.5 - 100.0, rtol=0, atol=1e-4)
    assert study.metadata["SeriesDescription"] == "T2 OBL"
    assert study.metadata["MagneticFieldStrength"] == 1.5 and isinstance(study.metadata["EchoTime"], float)
    assert study.metadata["RepetitionTime"] == 4000.0
    json.dumps(study.metadata)


def test_two_series_in_one_folder(tmp_path: Path, write_dicom: WriteDicom) -> None:
    _write_series(write_dicom, tmp_path / "a", n=4, series_uid=UID + "10", SeriesDescription="T2 SAG")
    _write_series(write_dicom, tmp_path / "b", n=3, series_uid=UID + "20", SeriesDescription="DWI")
    infos = list_dicom_series(tmp_path)
    assert {(s.uid, s.description, s.modality, s.n_files) for s in infos} == {
        (UID + "10", "T2 SAG", "MR", 4),
        (UID + "20", "DWI", "MR", 3),
    }
    with pytest.raises(InputError, match=r"2 DICOM series.*T2 SAG.*4 files.*DWI.*3 files"):
        load_dicom_series(tmp_path)
    assert load_dicom_series(tmp_path, series_uid=UID + "20").shape[0] == 3


def test_jitter_within_tolerance_loads_and_is_recorded(tmp_path: Path, write_dicom: WriteDicom) -> None:
    for k, z in enumerate([0.0, 3.02, 5.99, 9.0]):
        write_dicom(tmp_path / f"{k}.dcm", np.full((4, 4), k), position=(0, 0, z), instance=k + 1)
    study = load_dicom_series(tmp_path)
    assert study.spacing[0] == pytest.approx(3.0)
    assert study.metadata["slice_position_max_deviation_mm"] == pytest.approx(0.02, abs=1e-6)
    with pytest.raises(InputError, match="not evenly spaced"):
        load_dicom_series(tmp_path, spacing_tolerance=0.005)


@pytest.mark.parametrize("positions", [[0.0, 3.0, 6.0, 10.0], [0.0, 3.0, 9.0, 12.0]])
def test_uneven_positions_are_an_error(
    tmp_path: Path, write_dicom: WriteDicom, positions: list[float]
) -> None:
    for k, z in enumerate(positions):
        write_dicom(tmp_path / f"{k}.dcm", np.zeros((4, 4)), position=(0, 0, z), instance=k + 1)
    with pytest.raises(InputError, match="not evenly spaced"):
        load_dicom_series(tmp_path)


def test_duplicated_positions_name_both_files(tmp_path: Path, write_dicom: WriteDicom) -> None:
    for k, z in enumerate([0.0, 2.0, 2.0, 4.0]):
        write_dicom(tmp_path / f"s{k}.dcm", np.zeros((4, 4)), position=(0, 0, z), instance=k + 1)
    with pytest.raises(InputError, match=r"s1\.dcm and .*s2\.dcm: two slices at the same position"):
        load_dicom_series(tmp_path)


@pytest.mark.parametrize(
    ("fields", "spacing", "note"),
    [
        ({"SliceThickness": "4", "SpacingBetweenSlices": "4.4"}, 4.4, None),
        ({"SliceThickness": "3"}, 3.0, None),
        ({}, 1.0, "1 mm assumed"),
    ],
)
def test_single_slice_d_spacing(
    tmp_path: Path, write_dicom: WriteDicom, fields: dict[str, str], spacing: float, note: str | None
) -> None:
    path = write_dicom(tmp_path / "one.dcm", np.arange(12).reshape(3, 4), **fields)
    study = load_dicom_series([path])
    assert study.shape == (1, 3, 4) and study.spacing[0] == pytest.approx(spacing)
    # the single slice's normal is +z (LPS) = +z (RAS) for an axial slice
    np.testing.assert_allclose(
        study.voxel_to_world((1, 0, 0)) - study.voxel_to_world((0, 0, 0)), [0, 0, spacing], atol=1e-9
    )
    notes = study.metadata.get("geometry_notes", [])
    assert (note is None and not notes) or any(note in n for n in notes)


def test_corrupt_file_in_a_folder_is_named(
    tmp_path: Path, write_dicom: WriteDicom, pydicom_file: Callable[[str], Path]
) -> None:
    _write_series(write_dicom, tmp_path, n=3)
    bad = tmp_path / "im001.dcm"
    bad.write_bytes(bad.read_bytes()[:-20])
    with pytest.raises(InputError, match=r"im001\.dcm"):
        load_dicom_series(tmp_path)


def test_folder_without_dicom_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(InputError, match="no readable DICOM"):
        load_dicom_series(tmp_path)
    with pytest.raises(InputError, match="not a DICOM file"):
        load_dicom_series(tmp_path / "notes.txt")
    with pytest.raises(InputError, match="no such DICOM file"):
        load_dicom_series([tmp_path / "missing.dcm"])


def test_dicomdir_in_folder_is_skipped(
    tmp_path: Path, write_dicom: WriteDicom, pydicom_file: Callable[[str], Path]
) -> None:
    _write_series(write_dicom, tmp_path, n=3)
    shutil.copy(dicomdir_tests(pydicom_file) / "DICOMDIR", tmp_path / "DICOMDIR")
    shutil.copy(dicomdir_tests(pydicom_file) / "DICOMDIR-implicit", tmp_path / "index.dcm")
    assert load_dicom_series(tmp_path).shape == (3, 5, 7)


# --------------------------------------------------------------------------------------------------
# Geometry from headers alone (what a dataset checks when it is built)
# --------------------------------------------------------------------------------------------------
def _no_pixel_decoding(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(path: Path, ds: pydicom.Dataset) -> np.ndarray:
        raise AssertionError(f"{path}: pixel data decoded")

    monkeypatch.setattr(dicom_module, "_decode_pixels", refuse)


def test_header_geometry_equals_the_loaded_series(
    tmp_path: Path,
    write_dicom: WriteDicom,
    pydicom_file: Callable[[str], Path],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _write_series(write_dicom, tmp_path / "oblique")
    folders = [tmp_path / "oblique", dicomdir_tests(pydicom_file) / "98892001" / "CT5N"]
    loaded = [load_dicom_series(f) for f in folders]
    _no_pixel_decoding(monkeypatch)
    for folder, study in zip(folders, loaded, strict=True):
        geometry = read_dicom_series_geometry(folder)
        assert geometry.shape == study.shape
        assert study.affine is not None
        np.testing.assert_array_equal(geometry.affine, study.affine)
        assert not geometry.affine.flags.writeable


def test_header_geometry_runs_the_header_checks(
    pydicom_file: Callable[[str], Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    _no_pixel_decoding(monkeypatch)
    root = dicomdir_tests(pydicom_file)
    with pytest.raises(InputError, match="not evenly spaced"):
        read_dicom_series_geometry(root / "77654033" / "CT2")
    with pytest.raises(InputError, match="ImageOrientationPatient"):
        read_dicom_series_geometry(root / "98892003" / "MR700")
    with pytest.raises(InputError, match="2 DICOM series"):
        read_dicom_series_geometry(root / "98892001")
    with pytest.raises(InputError, match="multi-frame"):
        read_dicom_series_geometry(pydicom_file("rtdose.dcm"))


def test_pixel_faults_are_found_on_loading_not_from_headers(tmp_path: Path, write_dicom: WriteDicom) -> None:
    for k in range(3):  # the header claims 8 rows, the pixel data holds 4
        write_dicom(tmp_path / f"{k}.dcm", np.zeros((4, 4), np.int16), position=(0, 0, 2.0 * k),
                    instance=k + 1, Rows=8)
    assert read_dicom_series_geometry(tmp_path).shape == (3, 8, 4)
    with pytest.raises(InputError, match=r"\d\.dcm"):
        load_dicom_series(tmp_path)
