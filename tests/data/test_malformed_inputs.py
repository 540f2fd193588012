"""Malformed inputs: damaged or inconsistent files end in a MaeradError or load a valid Study.

The claim tested everywhere is "a MaeradError, or a valid Study — never another exception". Where
more can be said it is asserted: a DICOM file cut before the end of its pixel data must fail (cut
after it, it may load, but then with unchanged pixels); a cut NIfTI must fail; a damaged ``.nii.gz``
must fail or (damage in gzip header fields outside the CRC) give identical data.
All corruption is deterministic (fixed seeds) and a timer fails any case that takes over 10 s.
"""

from __future__ import annotations

import json
import signal
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from types import FrameType
from typing import Any

import nibabel as nib
import numpy as np
import pydicom
import pytest
from pydicom.data import get_testdata_file

from maerad.cli import main as cli_main
from maerad.data import Study, load_any, load_dicom_series, load_nifti, load_study, save_nifti, save_study
from maerad.errors import MaeradError

pytestmark = pytest.mark.filterwarnings("ignore")  # pydicom and nibabel warn about the damage they see

DICOM_SOURCES = ["MR_small.dcm", "MR_small_RLE.dcm", "MR_small_jp2klossless.dcm"]
N_DICOM_CUTS = 26
N_DICOM_GARBAGE = 20
PADDING_TAG = b"\xfc\xff\xfc\xff"  # (FFFC,FFFC) Data Set Trailing Padding, little endian
SEQUENCE_DELIMITER = b"\xfe\xff\xdd\xe0"  # (FFFE,E0DD), closes encapsulated pixel data


class _Hang(BaseException):
    """Raised by the timer; a BaseException so that no `except Exception` in a loader swallows it."""


@pytest.fixture(autouse=True)
def _no_hang() -> Iterator[None]:
    if not hasattr(signal, "SIGALRM"):  # Windows: no timer, the cases still run
        yield
        return

    def alarm(signum: int, frame: FrameType | None) -> None:
        raise _Hang("a malformed input took more than 10 s")

    previous = signal.signal(signal.SIGALRM, alarm)
    signal.setitimer(signal.ITIMER_REAL, 10.0)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def outcome(load: Callable[[], Study]) -> Study | MaeradError:
    """Run a loader: a MaeradError with a message is returned; a Study must be valid; nothing else."""
    try:
        study = load()
    except MaeradError as exc:
        assert str(exc).strip()
        return exc
    assert isinstance(study, Study)
    for arr in study.sequences.values():
        assert arr.dtype == np.float32 and arr.ndim == 3 and bool(np.isfinite(arr).all())
    assert study.affine is not None and study.spacing is not None
    assert bool(np.isfinite(study.affine).all()) and all(s > 0 for s in study.spacing)
    return study


@pytest.fixture(scope="session")
def sources(
    tmp_path_factory: pytest.TempPathFactory,
    pydicom_file: Callable[[str], Path],
    nibabel_file: Callable[[str], Path],
) -> dict[str, bytes]:
    """Original bytes of every file that gets damaged."""
    folder = tmp_path_factory.mktemp("sources")
    volume = np.random.default_rng(0).normal(100, 20, size=(4, 5, 6)).astype(np.float32)
    affine = np.array([[0, 0, 0.9, -10], [0, 0.9, 0, 5], [3.0, 0, 0, 2], [0, 0, 0, 1]])
    out = {name: pydicom_file(name).read_bytes() for name in DICOM_SOURCES}
    out["small.nii"] = save_nifti(volume, affine, folder / "small.nii").read_bytes()
    out["small.nii.gz"] = save_nifti(volume, affine, folder / "small.nii.gz").read_bytes()
    out["anatomical.nii"] = nibabel_file("anatomical.nii").read_bytes()
    out["example4d.nii.gz"] = nibabel_file("example4d.nii.gz").read_bytes()
    return out


def _write(tmp_path: Path, source: str, data: bytes) -> Path:
    suffix = ".nii.gz" if source.endswith(".nii.gz") else ".nii" if source.endswith(".nii") else ".dcm"
    path = tmp_path / f"damaged{suffix}"
    path.write_bytes(data)
    return path


def _garbage(data: bytes, seed: int) -> bytes:
    rng = np.random.default_rng(seed)
    out = bytearray(data)
    pos = int(rng.integers(0, len(out)))
    n = min(int(rng.integers(1, 17)), len(out) - pos)
    out[pos : pos + n] = rng.integers(0, 256, size=n, dtype=np.uint8).tobytes()
    if rng.random() < 0.3:  # sometimes also flip every bit of a second stretch
        pos = int(rng.integers(0, len(out)))
        out[pos : pos + 4] = bytes(b ^ 0xFF for b in out[pos : pos + 4])
    return bytes(out)


# --------------------------------------------------------------------------------------------------
# DICOM: truncation and garbage on real pydicom files
# --------------------------------------------------------------------------------------------------
def _dicom_cuts(data: bytes) -> tuple[list[int], int]:
    """Cut offsets, and where the pixel data ends (before trailing padding and, for compressed
    data, before the 8-byte sequence delimiter that closes the fragments)."""
    pixel_end = data.rfind(PADDING_TAG) if PADDING_TAG in data else len(data)
    if data[pixel_end - 8 : pixel_end - 4] == SEQUENCE_DELIMITER:
        pixel_end -= 8
    spread = [int(f * pixel_end) for f in np.linspace(0, 1, N_DICOM_CUTS - 6, endpoint=False)]
    cuts = sorted({*spread, 128, 132, pixel_end - 1, pixel_end, pixel_end + 1, len(data) - 1})
    return cuts[:N_DICOM_CUTS], pixel_end


@pytest.mark.parametrize("k", range(N_DICOM_CUTS))
@pytest.mark.parametrize("source", DICOM_SOURCES)
def test_truncated_dicom(
    tmp_path: Path, sources: dict[str, bytes], source: str, k: int, pydicom_file: Callable[[str], Path]
) -> None:
    data = sources[source]
    cuts, pixel_end = _dicom_cuts(data)
    cut = cuts[min(k, len(cuts) - 1)]
    path = _write(tmp_path, source, data[:cut])
    result = outcome(lambda: load_dicom_series(path))
    if cut < pixel_end:
        assert isinstance(result, MaeradError) and path.name in str(result)
    elif isinstance(result, Study):  # only padding or the closing delimiter was lost
        original = load_dicom_series(pydicom_file(source))
        np.testing.assert_array_equal(result.sequences["image"], original.sequences["image"])


@pytest.mark.parametrize("seed", range(N_DICOM_GARBAGE))
@pytest.mark.parametrize("source", DICOM_SOURCES)
def test_dicom_with_garbage_bytes(tmp_path: Path, sources: dict[str, bytes], source: str, seed: int) -> None:
    path = _write(tmp_path, source, _garbage(sources[source], seed))
    outcome(lambda: load_any(path))


# --------------------------------------------------------------------------------------------------
# NIfTI: truncation and garbage (.nii and .nii.gz)
# --------------------------------------------------------------------------------------------------
NIFTI_TRUNCATIONS = (
    [("small.nii", k, 15) for k in range(15)]
    + [("small.nii.gz", k, 15) for k in range(15)]
    + [("anatomical.nii", k, 6) for k in range(6)]
    + [("example4d.nii.gz", k, 6) for k in range(6)]
)


@pytest.mark.parametrize(("source", "k", "n"), NIFTI_TRUNCATIONS)
def test_truncated_nifti(tmp_path: Path, sources: dict[str, bytes], source: str, k: int, n: int) -> None:
    data = sources[source]
    cuts = [int(f * len(data)) for f in np.linspace(0, 1, n - 2, endpoint=False)]
    cuts += [len(data) - 8, len(data) - 1]
    path = _write(tmp_path, source, data[: cuts[k]])
    result = outcome(lambda: load_nifti(path))
    assert isinstance(result, MaeradError) and path.name in str(result)


NIFTI_GARBAGE = (
    [("small.nii", s) for s in range(20)]
    + [("small.nii.gz", s) for s in range(20)]
    + [("anatomical.nii", s) for s in range(8)]
    + [("example4d.nii.gz", s) for s in range(8)]
)


@pytest.mark.parametrize(("source", "seed"), NIFTI_GARBAGE)
def test_nifti_with_garbage_bytes(tmp_path: Path, sources: dict[str, bytes], source: str, seed: int) -> None:
    path = _write(tmp_path, source, _garbage(sources[source], seed))
    result = outcome(lambda: load_nifti(path))
    if source.endswith(".gz") and isinstance(result, Study):  # gzip's CRC-32 guards the data
        original = load_nifti(_write(tmp_path / "orig", source, sources[source]))
        for name, arr in original.sequences.items():
            np.testing.assert_array_equal(result.sequences[name], arr)
        np.testing.assert_array_equal(result.affine, original.affine)


# --------------------------------------------------------------------------------------------------
# Named cases: empty files, wrong extensions, NaN/Inf, grids, spacing, DICOM series problems
# --------------------------------------------------------------------------------------------------
Loader = Callable[[], Study]


@dataclass
class Ctx:
    """What a named case may use: a scratch folder, the source bytes and the DICOM writer."""

    tmp: Path
    src: dict[str, bytes]
    write_dicom: Callable[..., Path]


def _nifti(path: Path, data: np.ndarray, zooms: tuple[float, ...] | None = None, slope: float = 1.0) -> Path:
    """Write a NIfTI with nibabel directly (maerad's writer refuses such data)."""
    img = nib.Nifti1Image(data, None if zooms is not None else np.eye(4))
    if zooms is not None:  # no sform/qform: nibabel builds the affine from pixdim
        img.header["pixdim"][1:4] = zooms
        img.header.set_sform(None, code=0)
        img.header.set_qform(None, code=0)
    img.header.set_slope_inter(slope, 0.0)
    nib.save(img, path)
    return path


def _file(c: Ctx, name: str, data: bytes) -> Loader:
    (c.tmp / name).write_bytes(data)
    return lambda: load_any(c.tmp / name)


def _renamed(c: Ctx, content: str, target: str) -> Loader:
    return _file(c, target, c.src[content])


def _real(c: Ctx, name: str) -> Loader:
    found = get_testdata_file(name, download=False)
    assert isinstance(found, str)
    return _file(c, name, Path(found).read_bytes())


def _non_finite_nifti(c: Ctx, bad: float, suffix: str) -> Loader:
    data = np.ones((3, 4, 5), dtype=np.float32)
    data[1, 2, 3] = bad
    path = _nifti(c.tmp / f"v{suffix}", data)
    return lambda: load_nifti(path)


def _odd_nifti(c: Ctx, kind: str) -> Loader:
    path = c.tmp / "odd.nii.gz"
    if kind == "overflow":  # int16 x scl_slope 1e36 exceeds float32
        _nifti(path, np.full((2, 3, 4), 30000, dtype=np.int16), slope=1e36)
    elif kind == "nan pixdim":
        _nifti(path, np.ones((2, 3, 4), dtype=np.float32), zooms=(1.0, float("nan"), 1.0))
    else:  # an sform whose y column is zero: a singular affine
        img = nib.Nifti1Image(np.ones((2, 3, 4), dtype=np.float32), None)
        img.header.set_sform(np.diag([1.0, 0.0, 1.0, 1.0]), code=1)
        nib.save(img, path)
    return lambda: load_nifti(path)


def _study(c: Ctx, spacing: tuple[float, ...] | None) -> Loader:
    if spacing is None:  # sequences on different grids
        return lambda: Study({"t2w": np.zeros((2, 3, 4)), "adc": np.zeros((2, 4, 3))}, spacing=(1, 1, 1))
    return lambda: Study({"t2w": np.zeros((2, 2, 2))}, spacing=spacing)


def _pixel_spacing(c: Ctx, value: bytes) -> Loader:
    path = c.write_dicom(c.tmp / "ps.dcm", np.zeros((4, 4)), pixel_spacing=(0.5, 0.5))
    data = path.read_bytes()
    assert data.count(b"0.5\\0.5 ") == 1  # the 8-byte PixelSpacing value, patched in place
    path.write_bytes(data.replace(b"0.5\\0.5 ", value))
    return lambda: load_dicom_series(path)


def _one_slice(c: Ctx, **fields: Any) -> Loader:
    path = c.write_dicom(c.tmp / "one.dcm", np.zeros((4, 4)), **fields)
    return lambda: load_dicom_series(path)


def _series(c: Ctx, kind: str) -> Loader:
    for k in range(3):
        c.write_dicom(
            c.tmp / f"{k}.dcm",
            np.zeros((4, 4 + (kind == "sizes" and k == 2))),
            position=(0, 0, 0 if kind == "one position" else 2 * k),
            pixel_spacing=(0.7 if kind == "spacings" and k == 1 else 0.5, 0.5),
            instance=k + 1,
        )
    if kind == "no position":
        ds = pydicom.dcmread(c.tmp / "1.dcm")
        del ds.ImagePositionPatient
        ds.save_as(c.tmp / "1.dcm")
    if kind == "one truncated":
        (c.tmp / "1.dcm").write_bytes((c.tmp / "1.dcm").read_bytes()[:200])
    return lambda: load_any(c.tmp)


def _folder(c: Ctx, kind: str) -> Loader:
    if kind == "non-DICOM":
        (c.tmp / "notes.txt").write_text("x")
        (c.tmp / "img.png").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(100))
    return lambda: load_any(c.tmp)


NAMED: dict[str, Callable[[Ctx], Loader]] = {
    **{f"empty file {n}": partial(_file, name=n, data=b"") for n in ["a.nii", "a.nii.gz", "a.dcm", "a"]},
    **{
        f"{a} named {b}": partial(_renamed, content=a, target=b)
        for a, b in [
            ("small.nii", "x.dcm"),
            ("small.nii.gz", "x.dcm"),
            ("MR_small.dcm", "x.nii"),
            ("MR_small.dcm", "x.nii.gz"),
            ("small.nii", "x.nii.gz"),
            ("small.nii.gz", "x.nii"),
            ("small.nii.gz", "x.txt"),
            ("small.nii", "x"),
        ]
    },
    **{f"real {n}": partial(_real, name=n) for n in ["MR_truncated.dcm", "badVR.dcm"]},
    **{
        f"{bad} voxel {suffix}": partial(_non_finite_nifti, bad=bad, suffix=suffix)
        for bad in [np.nan, np.inf, -np.inf]
        for suffix in [".nii", ".nii.gz"]
    },
    **{
        f"NIfTI {k}": partial(_odd_nifti, kind=k)
        for k in ["overflow", "nan pixdim", "sform with a zero column"]
    },
    "Study with sequences on different grids": partial(_study, spacing=None),
    **{
        f"Study spacing {sp}": partial(_study, spacing=sp)
        for sp in [(0, 1, 1), (1, -1, 1), (1, 1, float("nan"))]
    },
    **{
        f"DICOM PixelSpacing {v.decode().strip()}": partial(_pixel_spacing, value=v)
        for v in [b"0\\0.5   ", b"-0.5\\0.5", b"nan\\0.5 ", b"0.5     ", b"abc\\1.0 ", b"0.5\\inf "]
    },
    **{f"single-slice SliceThickness {t}": partial(_one_slice, SliceThickness=t) for t in ["0", "-2", "nan"]},
    "DICOM orientation not orthogonal": partial(_one_slice, orientation=(1, 0, 0, 0.7, 0.7, 0)),
    "DICOM RescaleSlope 0": partial(_one_slice, RescaleSlope="0"),
    **{
        f"DICOM series, {k}": partial(_series, kind=k)
        for k in ["one position", "sizes", "spacings", "no position", "one truncated"]
    },
    **{f"folder, {k}": partial(_folder, kind=k) for k in ["non-DICOM", "empty"]},
}


@pytest.mark.parametrize("name", list(NAMED))
def test_named_malformed_case_is_an_error(
    tmp_path: Path, sources: dict[str, bytes], write_dicom: Callable[..., Path], name: str
) -> None:
    result = outcome(NAMED[name](Ctx(tmp_path, sources, write_dicom)))
    assert isinstance(result, MaeradError), f"{name} loaded instead of failing"


@pytest.mark.parametrize("zooms", [(0.0, 1.0, 1.0), (1.0, 0.0, 0.0), (-2.0, 1.0, 1.0)])
def test_nifti_without_sform_qform_and_bad_pixdim(tmp_path: Path, zooms: tuple[float, ...]) -> None:
    # nibabel repairs such pixdim (abs value, 0 -> 1) when it reads the header; maerad then loads
    # the volume but records that its geometry is a guess
    path = _nifti(tmp_path / "z.nii", np.ones((2, 3, 4), dtype=np.float32), zooms=zooms)
    result = outcome(lambda: load_nifti(path))
    if isinstance(result, Study):
        assert any("no sform/qform" in note for note in result.metadata["geometry_notes"])


# --------------------------------------------------------------------------------------------------
# Study folders with a bad case.json or bad files
# --------------------------------------------------------------------------------------------------
def _valid_case(folder: Path) -> dict[str, Any]:
    rng = np.random.default_rng(5)
    study = Study(
        {"t2w": rng.random((2, 3, 4)), "adc": rng.random((2, 3, 4))},
        spacing=(3, 1, 1),
        labels=rng.integers(0, 2, (2, 3, 4)),
        label_names={1: "uterus"},
        landmarks={"p": (1, 2, 3)},
    )
    save_study(study, folder)
    case: dict[str, Any] = json.loads((folder / "case.json").read_text())
    return case


# fmt: off
TEXT_VARIANTS = ["", "{", "[]", "null", "42", "{'format': 1}", '{"format": NaN}', "\x00\x01\x02", "{} {}",
                 '{"format": "maerad-study"}']
FIELD_MUTATIONS: list[tuple[str, Any]] = [
    ("format", None), ("format", "other"), ("format", 1), ("format_version", 2), ("format_version", "1"),
    ("format_version", True), ("format_version", None), ("sequences", []), ("sequences", "t2w"),
    ("sequences", ["t2w", "t2w"]), ("sequences", ["../t2w"]), ("sequences", ["missing"]), ("sequences", [1]),
    ("sequences", None), ("shape", [2, 3]), ("shape", "2x3x4"), ("shape", [2, 3, 5]), ("affine", None),
    ("affine", [[1, 0], [0, 1]]), ("affine", [[1, 0, 0, 0]] * 4), ("affine", [["a"] * 4] * 4),
    ("labels", "other.nii.gz"), ("labels", 1), ("label_names", {"x": "y"}), ("label_names", {"1": 2}),
    ("label_names", []), ("landmarks", {"p": [1, 2]}), ("landmarks", {"p": "here"}), ("landmarks", []),
    ("metadata", []), ("metadata", "x"),
]
DELETIONS = ["format", "format_version", "sequences", "shape", "affine", "labels", "label_names", "landmarks",
             "metadata"]
# fmt: on


@pytest.mark.parametrize("text", TEXT_VARIANTS)
def test_garbled_case_json(tmp_path: Path, text: str) -> None:
    _valid_case(tmp_path / "c")
    (tmp_path / "c" / "case.json").write_text(text)
    result = outcome(lambda: load_study(tmp_path / "c"))
    assert isinstance(result, MaeradError) and "case.json" in str(result)


@pytest.mark.parametrize(("field", "value"), FIELD_MUTATIONS, ids=[f"{f}={v!r}" for f, v in FIELD_MUTATIONS])
def test_case_json_with_a_wrong_field(tmp_path: Path, field: str, value: Any) -> None:
    case = _valid_case(tmp_path / "c")
    case[field] = value
    (tmp_path / "c" / "case.json").write_text(json.dumps(case))
    result = outcome(lambda: load_study(tmp_path / "c"))
    assert isinstance(result, MaeradError)


@pytest.mark.parametrize("field", DELETIONS)
def test_case_json_missing_a_field(tmp_path: Path, field: str) -> None:
    case = _valid_case(tmp_path / "c")
    del case[field]
    (tmp_path / "c" / "case.json").write_text(json.dumps(case))
    result = outcome(lambda: load_study(tmp_path / "c"))
    assert isinstance(result, MaeradError) and field in str(result)


@pytest.mark.parametrize(
    "damage", ["missing t2w", "missing labels", "garbage adc", "labels not integer", "adc on another grid"]
)
def test_study_folder_with_bad_files(tmp_path: Path, damage: str) -> None:
    folder = tmp_path / "c"
    _valid_case(folder)
    if damage == "missing t2w":
        (folder / "t2w.nii.gz").unlink()
    elif damage == "missing labels":
        (folder / "labels.nii.gz").unlink()
    elif damage == "garbage adc":
        (folder / "adc.nii.gz").write_bytes(b"\x1f\x8b" + bytes(range(256)) * 3)
    elif damage == "labels not integer":
        save_nifti(np.full((2, 3, 4), 0.5), json_affine(folder), folder / "labels.nii.gz")
    else:
        save_nifti(np.zeros((2, 4, 3)), json_affine(folder), folder / "adc.nii.gz")
    result = outcome(lambda: load_study(folder))
    assert isinstance(result, MaeradError)
    expected_file = {
        "missing t2w": "t2w.nii.gz",
        "missing labels": "labels.nii.gz",
        "garbage adc": "adc.nii.gz",
        "labels not integer": "labels.nii.gz",
        "adc on another grid": "adc.nii.gz",
    }[damage]
    assert expected_file in str(result)


def json_affine(folder: Path) -> np.ndarray:
    return np.array(json.loads((folder / "case.json").read_text())["affine"])


# --------------------------------------------------------------------------------------------------
# The same through `maerad info`: exit 2, one stderr line, nothing on stdout, nothing written
# --------------------------------------------------------------------------------------------------
# fmt: off
CLI_CASES = ["empty file a.nii.gz", "small.nii named x.dcm", "nan voxel .nii.gz", "folder, empty",
             "folder, non-DICOM", "DICOM series, one truncated", "DICOM series, one position",
             "DICOM PixelSpacing 0\\0.5", "real badVR.dcm", "real MR_truncated.dcm",
             "MR_small.dcm named x.nii.gz", "NIfTI sform with a zero column"]
# fmt: on


def _snapshot(root: Path) -> dict[str, tuple[int, int]]:
    return {
        str(p.relative_to(root)): (p.stat().st_size, p.stat().st_mtime_ns) for p in sorted(root.rglob("*"))
    }


@pytest.mark.parametrize("name", CLI_CASES)
def test_cli_info_on_malformed_input(
    tmp_path: Path,
    sources: dict[str, bytes],
    write_dicom: Callable[..., Path],
    name: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    work = tmp_path / "w"
    work.mkdir()
    NAMED[name](Ctx(work, sources, write_dicom))
    target = next(iter(work.iterdir())) if len(list(work.iterdir())) == 1 else work
    before = _snapshot(tmp_path)
    monkeypatch.setattr(cli_main, "_COMMAND_MODULES", ("info",))  # independent of the other sub-commands
    status = cli_main.main(["info", str(target)])
    captured = capsys.readouterr()
    assert status == 2
    assert captured.out == ""
    lines = captured.err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("maerad: error: ")
    assert _snapshot(tmp_path) == before
