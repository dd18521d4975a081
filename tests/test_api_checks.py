"""Wrong types on the public API raise ValidationError naming the argument (issue #13.9),
not TypeError, AttributeError or OverflowError — checked before anything is sent."""

from __future__ import annotations

import pytest

import e2ckit
from e2ckit.client import Client
from e2ckit.errors import ValidationError


@pytest.mark.parametrize(
    ("call", "field"),
    [
        (lambda s: e2ckit.sweep("cryo", array=s, catalog=5), "catalog"),
        (lambda s: e2ckit.sweep("cryo", array=s, timeout=1e10), "timeout"),
        (lambda s: e2ckit.sweep("cryo", array=s, deadline=float("inf")), "deadline"),
        (lambda s: e2ckit.read("DV01", "cryo", array=s, catalog="x"), "catalog"),
        (lambda s: e2ckit.nodes(array=s, channels=5), "channels"),
        (lambda s: e2ckit.nodes(array=s, channels=[1, "2"]), "channels"),
        (lambda s: e2ckit.nodes(array=s, timeout=2e9), "timeout"),
        (lambda s: e2ckit.inventory(array=s, found=5), "found"),
        (lambda s: Client("127.0.0.1", 2000, timeout=1e10), "timeout"),
    ],
)
def test_wrong_types_are_validation_errors(memory_sim, call, field):
    sim = memory_sim
    before = sim.requests_served()
    with pytest.raises(ValidationError, match=field):
        call(sim)
    assert sim.requests_served() == before


def test_the_drop_in_is_one_class_under_two_names_and_the_old_path_says_where_it_went():
    import e2ckit.client
    from e2ckit.compat import E2CClient

    assert E2CClient is e2ckit.E2CClient
    with pytest.raises(AttributeError, match="from e2ckit.compat import E2CClient"):
        e2ckit.client.E2CClient  # noqa: B018


def test_client_module_no_longer_imports_the_catalog():
    import subprocess
    import sys

    code = "import sys, e2ckit.client; print('e2ckit.catalog' in sys.modules, 'e2ckit.compat' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]


@pytest.mark.parametrize("host", [5, None, "", "dv01 e2c", b"dv01-e2c"])
def test_a_client_host_that_is_no_host_name_is_a_validation_error(host):
    from e2ckit.client import Client

    with pytest.raises(e2ckit.ValidationError, match="host must be a host name"):
        Client(host, 2000)
