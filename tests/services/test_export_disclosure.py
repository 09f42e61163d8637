"""The long table's birth years and sexes, attacked as a reader of the export would: seeded demo clinics of
several sizes, each export counted per shown cell and per band after subtracting every other band."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import select

from strigil.interop.research import BAND_WIDTHS, MIN_PATIENTS, pseudonym
from strigil.services.demo import write_bulk
from strigil.services.export import export_rows
from strigil.store.database import open_database
from strigil.store.record import PatientRow

KEY = b"the clinic's pseudonym key"
Shown = tuple[str, str, str]  # birth_year, birth_year_width, sex as the CSV writes them


def _export(
    tmp_path: Path, n_patients: int, seed: int
) -> tuple[dict[str, Shown], dict[str, tuple[int, str]]]:
    """Each patient of the export as shown, and as recorded (by pseudonym), for a seeded demo clinic."""
    database = open_database(f"sqlite:///{tmp_path / 'demo.sqlite'}")
    try:
        clinic = write_bulk(database, n_patients, seed=seed)
        with database.unit_of_work() as db:
            shown: dict[str, Shown] = {}
            for row in export_rows(db, clinic, key=KEY):
                cell = (str(row["birth_year"]), str(row["birth_year_width"]), str(row["sex"]))
                assert shown.setdefault(row["patient"], cell) == cell  # one patient, one cell
            recorded = {
                pseudonym(KEY, public_id): (year, sex)
                for public_id, year, sex in db.execute(
                    select(PatientRow.public_id, PatientRow.birth_year, PatientRow.sex)
                )
            }
    finally:
        database.dispose()
    return shown, recorded


def _band(cell: Shown) -> set[int]:
    first, width, _ = cell
    return set(range(int(first), int(first) + int(width))) if first else set()


@pytest.mark.parametrize(
    ("n_patients", "seed"), [(1, 3), (3, 5), (4, 8), (5, 13), (9, 2), (23, 7), (60, 4), (140, 11), (300, 1)]
)
def test_no_reader_of_the_export_can_count_fewer_than_five(
    tmp_path: Path, n_patients: int, seed: int
) -> None:
    shown, recorded = _export(tmp_path, n_patients, seed)
    assert len(shown) == n_patients  # every demo patient has measurements
    for name, cell in shown.items():  # what is shown is true: the band holds the year, the sex is the sex
        year, sex = recorded[name]
        assert (not cell[0] or year in _band(cell)) and cell[2] in (sex, "")
    said = {name: cell for name, cell in shown.items() if cell != ("", "", "")}
    if n_patients < MIN_PATIENTS:
        assert not said  # a clinic this small: neither birth year nor sex of anyone
        return
    # 1. every cell a reader can count, band × sex as shown, holds at least the minimum
    per_cell = Counter(said.values())
    assert min(per_cell.values()) >= MIN_PATIENTS, sorted(c for c, n in per_cell.items() if n < MIN_PATIENTS)
    # 2. complement: subtract from each band the years other bands show; what is left must still be the
    #    whole band (otherwise its patients are placed in fewer years than it claims, as in the review, where
    #    1990-1994 minus 1990, 1991, 1992 and 1994 left two patients in 1993)
    bands = {(c[0], c[1]) for c in said.values()}
    for band in bands:
        years = _band((*band, ""))
        others = set().union(*(_band((*b, "")) for b in bands if b != band))
        assert years - others == years, f"band {band} overlaps {sorted(years & others)}"
    if n_patients >= 140:  # a clinic of some size keeps aligned bands (no neighbours joined) and every sex
        assert max(int(c[1]) for c in said.values()) <= max(BAND_WIDTHS) and all(c[2] for c in said.values())
