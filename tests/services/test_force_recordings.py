"""Reading force recordings from CSV and Parquet: columns by name, units from the file or the caller."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from strigil.force import RecordingError, SyntheticSpec, Target, generate_recording
from strigil.services.force_recordings import (
    Columns,
    Units,
    analyse_recording,
    read_recording,
    reliability_of_table,
)

MADE = generate_recording(SyntheticSpec(n_strokes=6, noise_sd_n=0.05, shear_ratio=0.2), seed=3)


def _csv(path: Path, header: list[str], columns: list[np.ndarray]) -> Path:
    body = np.column_stack(columns)
    np.savetxt(path, body, delimiter=",", fmt="%.6f", header=",".join(header), comments="")
    return path


@pytest.mark.parametrize(
    ("header", "scale"),
    [
        (["time [s]", "normal [N]"], 1.0),
        (["Time (ms)", "Fz (N)"], 1.0),
        (["t_s", "force_kgf"], 1 / 9.80665),
        (["timestamp_ms", "load_gf"], 1000 / 9.80665),
    ],
)
def test_units_are_read_from_the_header(tmp_path: Path, header: list[str], scale: float) -> None:
    rec = MADE.recording
    t = rec.time_s * (1000.0 if "ms" in header[0] else 1.0)
    path = _csv(tmp_path / "rec.csv", header, [t, rec.normal_n * scale])
    read = read_recording(path)
    assert read.sampling_hz == pytest.approx(1000.0, rel=1e-6)
    assert read.normal_n == pytest.approx(rec.normal_n, abs=1e-4)
    assert read.source == "rec.csv"


def test_units_are_never_guessed(tmp_path: Path) -> None:
    rec = MADE.recording
    path = _csv(tmp_path / "bare.csv", ["time", "Fz"], [rec.time_s, rec.normal_n])
    with pytest.raises(RecordingError, match="column 'time': no unit in the file and no --time-unit"):
        read_recording(path)
    with pytest.raises(RecordingError, match="column 'Fz': no unit in the file and no --unit"):
        read_recording(path, units=Units(time="s"))
    read = read_recording(path, units=Units(force="lbf", time="s"))
    assert read.normal_n == pytest.approx(rec.normal_n * 4.4482216152605, abs=1e-3)
    stated = _csv(tmp_path / "stated.csv", ["time [s]", "Fz [N]"], [rec.time_s, rec.normal_n])
    with pytest.raises(RecordingError, match="the file says 'N' but --unit says 'kgf'"):
        read_recording(stated, units=Units(force="kgf"))


def test_columns_are_found_by_name_or_named_by_the_caller(tmp_path: Path) -> None:
    rec = MADE.recording
    path = _csv(tmp_path / "odd.csv", ["when [s]", "push [N]"], [rec.time_s, rec.normal_n])
    with pytest.raises(RecordingError, match="no time column: expected a column named 'time' or 't'"):
        read_recording(path)
    read = read_recording(path, columns=Columns(time="when [s]", normal="push [N]"))
    assert read.n_samples == rec.n_samples
    with pytest.raises(RecordingError, match="--normal-column 'Fz': no such column"):
        read_recording(path, columns=Columns(time="when [s]", normal="Fz"))
    both = _csv(
        tmp_path / "both.csv", ["time [s]", "Fz [N]", "force [N]"], [rec.time_s, rec.normal_n, rec.normal_n]
    )
    with pytest.raises(RecordingError, match="could each be the normal channel"):
        read_recording(both)


def test_parquet_with_unit_metadata_and_shear_channels(tmp_path: Path) -> None:
    rec = MADE.recording
    assert rec.shear_x_n is not None and rec.shear_y_n is not None
    fields = [
        pa.field("time", pa.float64(), metadata={"unit": "s"}),
        pa.field("Fz", pa.float64(), metadata={"unit": "N"}),
        pa.field("Fx", pa.float64(), metadata={"unit": "mN"}),
        pa.field("Fy", pa.float64(), metadata={"unit": "mN"}),
    ]
    table = pa.table(
        [rec.time_s, rec.normal_n, rec.shear_x_n * 1000, rec.shear_y_n * 1000], schema=pa.schema(fields)
    )
    pq.write_table(table, tmp_path / "rec.parquet")
    result = analyse_recording(tmp_path / "rec.parquet")
    assert result.analysis.session.shear_ratio == pytest.approx(0.2, rel=0.05)
    assert result.feedback is None


def test_uploaded_bytes_and_the_bad_files(tmp_path: Path) -> None:
    rec = MADE.recording
    data = _csv(tmp_path / "up.csv", ["time [s]", "normal [N]"], [rec.time_s, rec.normal_n]).read_bytes()
    result = analyse_recording(data, "up.csv", target=Target.between(6.0, 9.0))
    assert len(result.analysis.strokes) == 6 and result.feedback is not None
    assert result.to_json()["feedback"]["n_strokes"] == 6
    with pytest.raises(RecordingError, match="column 'normal \\[N\\]': holds text"):
        read_recording(b"time [s],normal [N]\n0,1\n0.001,abc\n", "t.csv")
    with pytest.raises(RecordingError, match="cannot be read as Parquet"):
        read_recording(b"not parquet", "t.parquet")
    with pytest.raises(RecordingError, match="no such file"):
        read_recording(tmp_path / "missing.csv")


def test_reliability_from_a_wide_table(tmp_path: Path) -> None:
    path = tmp_path / "days.csv"
    path.write_text("clinician,day1,day2\nA,8.1,8.4\nB,6.0,6.3\nC,10.2,9.8\nD,7.5,7.9\nE,9.0,9.4\n")
    result = reliability_of_table(path, id_column="clinician")
    assert result.sessions == ("day1", "day2") and result.n_subjects == 5
    assert result.get("ICC(3,1)").value > 0.9
    with pytest.raises(RecordingError, match="--id 'who': no such column"):
        reliability_of_table(path, id_column="who")
