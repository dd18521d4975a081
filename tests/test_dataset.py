"""The example dataset in data/: readable without e2ckit, shaped as documented, and reproducible."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pandas as pd
import pytest

import e2ckit

ROOT = Path(__file__).resolve().parents[1]
DATASET = ROOT / "data" / "outage-recovery"


def _script():
    spec = importlib.util.spec_from_file_location("make_outage_dataset", ROOT / "data" / "make_outage_dataset.py")
    mod = importlib.util.module_from_spec(spec)
    assert spec.loader is not None
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture(scope="module")
def df() -> pd.DataFrame:
    return e2ckit.load(DATASET)


def test_two_days_at_one_sample_per_minute_on_four_antennas(df: pd.DataFrame) -> None:
    mod = _script()
    assert sorted(df["antenna"].unique()) == sorted(mod.ANTENNAS)
    times = df["time"].drop_duplicates().sort_values()
    assert len(times) == 48 * 60
    assert (times.diff().dropna() == pd.Timedelta(minutes=1)).all()
    per_cycle = df.groupby(["time", "antenna"]).size()
    assert per_cycle.nunique() == 1  # every cycle logged every point of the group


def test_outage_shows_as_error_rows_and_a_warm_cryostat_after(df: pd.DataFrame) -> None:
    errors = df[df["error"].notna()]
    assert set(errors["antenna"]) == {"DV01", "DV02"}  # DV03 and DA41 stayed up
    dv01 = errors[errors.antenna == "DV01"]["time"]
    # recovery scenario: power lost 30 min in, for 6 h
    assert dv01.min() == pd.Timestamp("2026-01-01T00:30:00Z")
    assert dv01.max() < pd.Timestamp("2026-01-01T06:31:00Z")
    t4 = df[(df.point == "FEMC.TEMP0") & (df.antenna == "DV01")].set_index("time")["value"]
    after = t4[t4.index > dv01.max()].dropna()
    assert after.iloc[0] > 30.0, "the 4K stage is above the 30 K LO threshold when power returns"
    assert after.iloc[-1] < 10.0, "and on its way back to 4 K two days later"


def test_readable_with_duckdb_alone() -> None:
    duckdb = pytest.importorskip("duckdb")
    n = duckdb.sql(
        f"select count(*) from read_parquet('{DATASET}/**/*.parquet', hive_partitioning = true)"
    ).fetchall()[0][0]
    assert n == 48 * 60 * 4 * 15


def test_regenerating_the_first_hour_gives_the_same_rows(tmp_path: Path, df: pd.DataFrame) -> None:
    mod = _script()
    fresh_path = tmp_path / "outage-recovery"
    mod.record(fresh_path, hours=1.0)
    fresh = mod.frame(fresh_path)
    old = mod.frame(DATASET)
    old = old[old["time"] <= fresh["time"].max()].reset_index(drop=True)
    assert mod.same_rows(fresh, old) == []
