"""The host map: the 66 default antennas, selections, the ``E2CKIT_ARRAY`` override, CSV errors.

Nothing here connects anywhere: the default map (real ALMA host names) is only constructed.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from e2ckit.array import (
    ANTENNAS,
    CENTRAL_HOSTS,
    Array,
    Endpoint,
    antenna_family,
    default_array,
)
from e2ckit.errors import ValidationError


def write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "array.csv"
    p.write_text(text, encoding="utf-8")
    return p


# -- the default map -------------------------------------------------------------------


def test_default_map_has_the_66_antennas_at_their_e2c_host_names():
    arr = Array.default()
    assert len(arr) == 66
    counts = {fam: sum(a.startswith(fam) for a in arr) for fam in ("CM", "DA", "DV", "PM")}
    assert counts == {"CM": 12, "DA": 25, "DV": 25, "PM": 4}
    assert arr.antennas[0] == "CM01" and "DA65" in arr and "DV25" in arr and "PM04" in arr
    assert "DA40" not in arr and "DV26" not in arr and "CM13" not in arr
    for name, ep in arr.items():
        assert ep == Endpoint(name, f"{name.lower()}-e2c", 2000)
    assert arr["dv01"].host == "dv01-e2c", "look-ups ignore case"


def test_default_map_with_central_hosts():
    arr = Array.default(include_central=True)
    assert len(arr) == 66 + len(CENTRAL_HOSTS) == 75
    assert arr["LO-LMC-1"].host == "lo-lmc-1-e2c"


def test_default_array_without_override_is_the_alma_map(monkeypatch):
    monkeypatch.delenv("E2CKIT_ARRAY", raising=False)
    arr = default_array()
    assert arr.antennas == ANTENNAS
    assert arr["CM12"].host == "cm12-e2c"


# -- selections --------------------------------------------------------------------


@pytest.fixture
def arr():
    return Array.default()


@pytest.mark.parametrize(
    "selection, expected",
    [
        ("DV01", ["DV01"]),
        ("dv01", ["DV01"]),
        (" DV02 , CM01 ", ["CM01", "DV02"]),  # map order, not request order
        (["DV02", "CM01"], ["CM01", "DV02"]),
        ("PM", ["PM01", "PM02", "PM03", "PM04"]),
        ("pm,CM12", ["CM12", "PM01", "PM02", "PM03", "PM04"]),
        (["PM", "PM02"], ["PM01", "PM02", "PM03", "PM04"]),  # no duplicates
        ("DV01,,DV01", ["DV01"]),
    ],
)
def test_select_names_families_and_comma_strings(arr, selection, expected):
    assert arr.select(selection) == expected


@pytest.mark.parametrize("selection", [None, "all", "ALL", "DV01,all", ["all"]])
def test_select_all(arr, selection):
    assert arr.select(selection) == ANTENNAS


def test_select_family_sizes(arr):
    assert len(arr.select("DA")) == 25
    assert len(arr.select("DV,CM")) == 37


@pytest.mark.parametrize("bad", ["DV99", "XX01", "D", "DVV", "DV01,ZZ77", ["CM01", "nope"]])
def test_select_unknown_names_raise_naming_them(arr, bad):
    with pytest.raises(ValidationError) as exc:
        arr.select(bad)
    wrong = {"DV99": "DV99", "XX01": "XX01", "D": "'D'", "DVV": "DVV"}.get(bad if isinstance(bad, str) else "", "")
    if isinstance(bad, list):
        wrong = "nope"
    elif bad == "DV01,ZZ77":
        wrong = "ZZ77"
    assert wrong in str(exc.value)
    assert isinstance(exc.value, ValueError), "ValidationError is a ValueError"


@pytest.mark.parametrize("empty", ["", " , ", []])
def test_select_nothing_is_an_error(arr, empty):
    with pytest.raises(ValidationError, match="no antenna selected"):
        arr.select(empty)


def test_unknown_antenna_lookup_names_it(arr):
    with pytest.raises(ValidationError, match="DV77"):
        arr["DV77"]


def test_select_on_a_small_map_only_knows_its_antennas():
    small = Array([Endpoint("DV01", "127.0.0.1", 4001), Endpoint("CM02", "127.0.0.1", 4002)])
    assert small.select("all") == ["DV01", "CM02"]
    assert small.select("DV") == ["DV01"]
    with pytest.raises(ValidationError, match="DV02"):
        small.select("DV02")
    with pytest.raises(ValidationError, match="DA"):
        small.select("DA")  # a family with no member in this map


def test_antenna_family():
    assert antenna_family("dv01") == "DV"
    assert antenna_family("PM04") == "PM"
    with pytest.raises(ValidationError, match="XY01"):
        antenna_family("XY01")


def test_duplicate_antenna_is_refused():
    with pytest.raises(ValidationError, match="DV01 appears twice"):
        Array([Endpoint("DV01", "127.0.0.1", 1), Endpoint("dv01", "127.0.0.1", 2)])


# -- CSV and the E2CKIT_ARRAY override ---------------------------------------------------


def test_csv_round_trip(tmp_path):
    arr = Array([Endpoint("DV01", "127.0.0.1", 40001), Endpoint("CM01", "127.0.1.2", 2000)], source="x")
    path = arr.to_csv(tmp_path / "a.csv")
    back = Array.from_csv(path)
    assert dict(back) == dict(arr)
    assert back.antennas == ["DV01", "CM01"]
    assert back.source == str(path)


def test_csv_port_defaults_to_2000_and_spaces_are_trimmed(tmp_path):
    p = write(tmp_path, "antenna, host\nDV01 , 127.0.0.1 \n")
    assert Array.from_csv(p)["DV01"] == Endpoint("DV01", "127.0.0.1", 2000)
    p = write(tmp_path, "antenna,host,port\nDV01,127.0.0.1,\n")
    assert Array.from_csv(p)["DV01"].port == 2000


def test_env_override(tmp_path, monkeypatch):
    p = write(tmp_path, "antenna,host,port\nDV01,127.0.0.1,41001\nDA41,127.0.0.1,41002\n")
    monkeypatch.setenv("E2CKIT_ARRAY", str(p))
    arr = default_array()
    assert arr.antennas == ["DV01", "DA41"]
    assert arr["DA41"] == Endpoint("DA41", "127.0.0.1", 41002)
    assert arr.source == str(p)
    assert arr.select("all") == ["DV01", "DA41"]


def test_env_override_to_a_missing_file_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv("E2CKIT_ARRAY", str(tmp_path / "nope.csv"))
    with pytest.raises(ValidationError, match="nope.csv"):
        default_array()


@pytest.mark.parametrize(
    "text, message",
    [
        ("antenna,host,port\nDV01,127.0.0.1,2000\nDV02,,2000\n", "line 3: antenna and host must not be empty"),
        ("antenna,host,port\nDV01,127.0.0.1,abc\n", "line 2: port 'abc' is not a number"),
        ("antenna,host,port\nDV01,127.0.0.1,1\nDV02,127.0.0.1,2\nDV03,127.0.0.1,70000\n", "line 4: port 70000 is out of range"),
        ("antenna,host,port\nDV01,127.0.0.1,0\n", "line 2: port 0 is out of range"),
        ("antenna,host,port\n,127.0.0.1,2000\n", "line 2: antenna and host"),
        ("name,address\nDV01,127.0.0.1\n", "header must name columns antenna,host"),
        ("", "header must name columns"),
        ("antenna,host,port\nDV01,127.0.0.1,1\ndv01,127.0.0.1,2\n", "DV01 appears twice"),
    ],
)
def test_bad_csv_rows_are_named_by_line(tmp_path, text, message):
    p = write(tmp_path, text)
    with pytest.raises(ValidationError) as exc:
        Array.from_csv(p)
    assert message in str(exc.value)
    assert str(p) in str(exc.value)


def test_membership_and_get_do_not_raise_for_unknown_names(arr):
    # Mapping's defaults catch only KeyError; the map raises ValidationError on [].
    assert "DV01" in arr and "dv01" in arr
    assert "DV99" not in arr and 42 not in arr
    assert arr.get("DV99") is None
    assert arr.get("dv02") == Endpoint("DV02", "dv02-e2c", 2000)


def test_a_selection_matches_names_and_families_one_way():
    """One rule for a selection against names at hand (load's antennas=, a figure's
    highlight=): a name, or its family's two letters, case-insensitively."""
    from e2ckit.names import selected

    assert selected("dv01", {"DV"}) and selected("DV01", {"DV01"})
    assert not selected("DA41", {"DV", "DA42"})
