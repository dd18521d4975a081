"""Golden replies (issue #17): real reply bytes written by hand from the public firmware,
decoded with the catalog, and the simulator's replies checked against the same layouts.

``tests/golden/replies.csv`` is data, not generated: each row cites the firmware rule
(ALMA-FEMC, ALMA-COMPRESSOR-AMBSI1, the protocol notes) that fixes its bytes. Nothing here
encodes through the catalog or reads the table back from the simulator, so a wrong size in
the catalog (COLDHEAD_HOURS as a u32) fails here even though the simulator agrees with it.
"""

from __future__ import annotations

import csv
import struct
from pathlib import Path

import pytest

from e2ckit.catalog import default_catalog
from e2ckit.clock import SimClock
from e2ckit.sim.model import AntennaModel
from e2ckit.wire.frames import Request

TABLE = Path(__file__).parent / "golden" / "replies.csv"


def _rows() -> list[dict[str, str]]:
    lines = [ln for ln in TABLE.read_text(encoding="utf-8").splitlines() if ln and not ln.startswith("#")]
    return list(csv.DictReader(lines))


ROWS = _rows()


def _bytes(row: dict[str, str]) -> bytes:
    return bytes.fromhex(row["reply_hex"].replace(" ", ""))


def _size(layout: str) -> int:
    return 4 if layout == "ds18s20" else struct.calcsize(layout)


def _id(row: dict[str, str]) -> str:
    return f"{row['point']}:{row['reply_hex'].replace(' ', '')}"


def test_every_catalog_point_has_a_golden_row():
    """A new point needs a golden reply, written from its firmware, before it ships."""
    cat = default_catalog()
    covered = {r["point"] for r in ROWS}
    missing = sorted((set(cat.points) | set(cat.templates)) - covered)
    assert missing == [], f"points with no row in {TABLE.name}: {missing}"
    unknown = sorted(covered - set(cat.points) - set(cat.templates))
    assert unknown == [], f"rows for points the catalog does not have: {unknown}"


@pytest.mark.parametrize("row", ROWS, ids=_id)
def test_golden_row_fits_its_own_layout_and_cites_a_rule(row):
    assert len(_bytes(row)) == _size(row["layout"]), "the bytes and the firmware layout disagree"
    assert row["rule"].strip(), "every golden row names the rule it follows"


@pytest.mark.parametrize("row", ROWS, ids=_id)
def test_catalog_decodes_golden_reply(row):
    p = default_catalog().point(row["point"])
    d = p.decode(_bytes(row))
    assert d.error is None, d.error
    assert d.status == row["status"]
    assert p.unit == row["unit"]
    if row["value"]:
        assert d.value is not None and d.value == pytest.approx(float(row["value"]), rel=1e-6, abs=1e-12)
    else:
        assert d.value is None
    if row["text"]:
        assert d.text == row["text"]


# -- the simulator's replies have the golden layouts -------------------------------------

#: layouts whose first field is the point's raw value with no scaling
_PLAIN = {">fb", ">Bb", ">Hb", ">f", ">B", ">I"}
_REFERENCE = {}
for _r in ROWS:
    if _r["layout"] != "b":
        _REFERENCE.setdefault(_r["point"], _r)


def _address(cat, name: str, antenna: str) -> tuple[int, int, int]:
    p = cat.point(name)
    if p.template:  # the generic AMBSI points, asked of the FEMC's node
        return 1, 0x13, p.rca
    return p.channel_for(antenna), p.node, p.rca


@pytest.mark.parametrize("antenna", ["DV01", "CM01"])
def test_simulator_replies_have_the_golden_layouts(antenna):
    cat = default_catalog()
    m = AntennaModel(antenna, seed=5, clock=SimClock(rate=None))
    checked = 0
    for name, row in _REFERENCE.items():
        p = cat.point(name)
        if p.kind == "control":
            continue
        layout = row["layout"]
        data = m.handle(Request(*_address(cat, name, antenna))).data
        assert len(data) == _size(layout), (name, data.hex(), layout)
        if p.template:
            peek = m.peek(name.split(".", 1)[1], node=0x13, channel=1)
        else:
            peek = m.peek(name)
        if layout in _PLAIN:
            fields = struct.unpack(layout, data)
            raw = fields[0]
            if layout.startswith(">f"):
                peek = struct.unpack(">f", struct.pack(">f", peek))[0]  # floats travel as float32
            assert raw == pytest.approx(peek, rel=1e-6), (name, data.hex())
            if layout.endswith("b"):  # the FEMC status byte is the last byte, signed
                assert fields[-1] == m.peek_status(name), (name, data.hex())
        elif layout in (">BBB", ">BB"):
            assert struct.unpack(layout, data) == tuple(peek), (name, data.hex())
        elif layout == ">8s":
            assert data == bytes(peek)
        elif layout == "ds18s20":
            # §5: big-endian when the first byte is 0x00 or 0xFF, else little-endian
            temp, remain, per_c = struct.unpack((">" if data[0] in (0, 0xFF) else "<") + "hBB", data)
            assert (temp >> 1) - 0.25 + (per_c - remain) / per_c == pytest.approx(peek, abs=1 / 16)
        elif layout == ">hh":
            cabin, pedestal = struct.unpack(layout, data)
            field = cabin if name.endswith("CABIN_TEMP") else pedestal
            assert field * 0.01 == pytest.approx(peek, abs=0.006)
        elif name == "LORR.RX_OPT_PWR":
            assert struct.unpack(layout, data)[0] * 20 / 4095 == pytest.approx(peek, abs=20 / 4095)
        checked += 1
    assert checked > 80, "most monitor points checked"
