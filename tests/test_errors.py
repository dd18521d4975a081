"""Failures as values: one type, rendered in one place, read back from a log's text,
mapped to the blocking client's exceptions by one table."""

from __future__ import annotations

import math

import pytest

from e2ckit import analysis
from e2ckit.errors import (
    DOWN_KINDS,
    EXCEPTIONS,
    KINDS,
    CatalogError,
    E2CConnectionError,
    E2CError,
    E2CTimeoutError,
    Failure,
    ProtocolError,
    TransportError,
)


@pytest.mark.parametrize("kind", list(KINDS))
def test_every_kind_renders_parses_back_and_maps_to_an_exception(kind):
    f = Failure.of(kind)
    assert str(f) == f.text == f"{kind}: {KINDS[kind]}"
    assert Failure.parse(f.text) == f
    exc = f.exception("dv01-e2c", 2000)
    assert isinstance(exc, EXCEPTIONS[kind]) and exc.failure is f
    if isinstance(exc, TransportError):
        assert (exc.host, exc.port) == ("dv01-e2c", 2000) and str(exc) == f"dv01-e2c:2000: {KINDS[kind]}"


def test_the_table():
    assert EXCEPTIONS["timeout"] is E2CTimeoutError and EXCEPTIONS["deadline"] is E2CTimeoutError
    assert EXCEPTIONS["refused"] is E2CConnectionError and EXCEPTIONS["unresolved"] is E2CConnectionError
    assert EXCEPTIONS["protocol"] is ProtocolError
    assert EXCEPTIONS["catalog"] is CatalogError
    assert set(EXCEPTIONS) == set(KINDS)


def test_an_e2c_error_reply_as_a_failure():
    f = Failure.e2c(5002)
    assert f.text == "E2C:TIMEOUT_ERROR: 5002 CAN bus timeout: the node did not answer"
    assert f.e2c_name == "TIMEOUT_ERROR" and not f.down
    assert Failure.parse(f.text) == f
    exc = f.exception("h", 1)
    assert isinstance(exc, E2CError) and exc.code == 5002


def test_not_sent_keeps_the_cause():
    f = Failure.of("refused").not_sent()
    assert f.kind == "refused" and f.cause == Failure.of("refused").text
    assert f.text.endswith("(not sent: an earlier request to this antenna failed)")


@pytest.mark.parametrize("empty", [None, math.nan])
def test_no_error_parses_to_none(empty):
    assert Failure.parse(empty) is None


def test_analysis_classifies_by_kind_with_the_same_public_names():
    assert set(analysis.DOWN_ERRORS) == DOWN_KINDS
    assert analysis.DOWN_ERRORS == ("refused", "timeout", "deadline", "closed", "unreachable", "unresolved")
    assert analysis.explain("unresolved: host name did not resolve within 2.5 s").startswith("host name did not resolve")
    assert "E2C error 5002 TIMEOUT_ERROR" in analysis.explain(Failure.e2c(5002).text)
