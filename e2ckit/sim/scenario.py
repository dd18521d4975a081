"""Scenarios: what happens to which antennas, when, written as small TOML files.

A scenario is data (``e2ckit/sim/scenarios/NAME.toml``) so that users can read, copy and
change one without reading code. Times are offsets from the clock's start (``"30m"``,
``"2h"``, ``"1d6h"``, or seconds). A file looks like::

    name = "compressor-trip"
    description = "DV05's compressor trips after an hour; its cryostat warms."

    [[steps]]
    at = "1h"
    antennas = ["DV05"]          # or "all"
    action = "trip_compressor"

Actions (each takes ``at`` and ``antennas``):

================  ==================================================================
power_off         the antennas lose power (the E2C goes silent)
power_on          power returns; nodes reboot; the compressor drive stays off
outage            ``duration``: power_off at ``at``, power_on after ``duration``
trip_compressor   the compressor faults and stops (latched)
leak              ``rate`` mbar/h: a vacuum leak opens (0 closes it)
missing           ``lru`` (abbreviation such as "FEPS" or a node id): the LRU is absent
control           ``point``, ``value``: a control request through the model, honoured or
                  refused as a user's would be; ``retry_every``/``retries`` repeat a refused one
femc_mode         ``maintenance`` and/or ``async_monitoring`` (true/false): the FEMC's modes;
                  maintenance answers the status byte −3 alone, async off puts −3 on the
                  temperatures, pressures, 230 V current and cold-head hours (firmware)
fetim_turbo_temp  ``celsius``: the FETIM turbo temperature; outside 10–45 °C the FEMC
                  refuses to start the turbo pump (firmware)
flag              ``point`` (a monitor point, e.g. "FEPS.OVER_VOLT_P7", "FETIM.SHUTDOWN"),
                  ``value`` (default 1; omit with ``clear = true``): the point reads it from
                  then on; FEPS trips drop the FEPS outputs, a FETIM shutdown silences the FEMC
================  ==================================================================

Transport faults for the server go in ``[[faults]]`` tables (``antenna``, ``kind``,
``probability``, ``delay``...), with a top-level ``seed`` for their random draws; they are
exposed unchanged as :attr:`Scenario.faults` and applied by the server, not here.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from importlib import resources
from pathlib import Path
from typing import Any

from e2ckit.clock import SimClock, parse_duration
from e2ckit.errors import ValidationError
from e2ckit.names import ANTENNA_RE
from e2ckit.usertext import read_user_text

__all__ = ["ACTIONS", "Scenario", "list_scenarios", "load_scenario"]

ACTIONS = (
    "power_off", "power_on", "outage", "trip_compressor", "leak", "missing", "control",
    "femc_mode", "fetim_turbo_temp", "flag",
)  # fmt: skip
_REQUIRED = {
    "outage": ("duration",),
    "leak": ("rate",),
    "missing": ("lru",),
    "control": ("point", "value"),
    "fetim_turbo_temp": ("celsius",),
    "flag": ("point",),
}


def _scenario_dir() -> Any:
    return resources.files("e2ckit.sim").joinpath("scenarios")


def list_scenarios() -> list[str]:
    """Names of the scenarios shipped with e2ckit."""
    return sorted(
        p.name[: -len(".toml")] for p in _scenario_dir().iterdir() if p.name.endswith(".toml")
    )


def load_scenario(name_or_path: str | Path) -> Scenario:
    """A shipped scenario by name (``"outage"``) or any scenario file by path."""
    text: str
    source: str
    path = Path(name_or_path)
    if path.suffix == ".toml" and path.exists():
        text, source = read_user_text(path, "scenario file"), str(path)
    else:
        res = _scenario_dir().joinpath(f"{name_or_path}.toml")
        if not res.is_file():
            raise ValueError(
                f"no scenario {str(name_or_path)!r}; shipped: {', '.join(list_scenarios())}"
            )
        text, source = res.read_text(encoding="utf-8"), f"e2ckit/sim/scenarios/{name_or_path}.toml"
    try:
        data = _loads_toml(text)
    except ValueError as exc:  # tomllib.TOMLDecodeError and the subset parser's errors
        raise ValidationError(f"{source}: not a TOML file: {exc}") from None
    return Scenario.from_dict(data, source=source)


@dataclass
class Scenario:
    """A named list of scheduled steps, plus transport faults for the server."""

    name: str
    description: str = ""
    steps: list[dict[str, Any]] = field(default_factory=list)
    faults: list[dict[str, Any]] = field(default_factory=list)
    seed: int = 0
    source: str | None = None

    @classmethod
    def from_dict(cls, data: dict[str, Any], source: str | None = None) -> Scenario:
        """Build and validate a scenario from parsed TOML. Anything wrong is a
        :class:`~e2ckit.errors.ValidationError` (a ValueError) of one line naming the file,
        the field (``steps[2].at``) and the problem."""
        where = source or "scenario"
        if not isinstance(data, dict):
            raise ValidationError(f"{where}: not a scenario (a TOML table), got {type(data).__name__}")
        steps = [_step(where, i, s) for i, s in enumerate(_tables(where, data, "steps"), 1)]
        faults = [_fault(where, i, f) for i, f in enumerate(_tables(where, data, "faults"), 1)]
        seed = data.get("seed", 0)
        if isinstance(seed, bool) or not isinstance(seed, int):
            raise ValidationError(f"{where}: seed: {seed!r} is not an integer")
        return cls(
            name=str(data.get("name", Path(where).stem)),
            description=str(data.get("description", "")).strip(),
            steps=steps,
            faults=faults,
            seed=seed,
            source=source,
        )

    def antennas(self) -> list[str]:
        """Every antenna a step or fault names ("all" not expanded)."""
        out: list[str] = []
        for s in self.steps:
            for a in _names(s["antennas"]):
                if a not in out:
                    out.append(a)
        for f in self.faults:
            if f["antenna"] not in out:
                out.append(f["antenna"])
        return out

    def retarget(self, antennas: Iterable[str]) -> Scenario:
        """The same scenario happening to ``antennas`` instead (every step and fault
        that names antennas now names these): ``outage=["DV01"]`` without a TOML file."""
        names = [str(a).strip().upper() for a in antennas if str(a).strip()]
        if not names:
            raise ValueError("give at least one antenna for the scenario to happen to")
        steps = [dict(s, antennas=list(names)) if s["antennas"] != "all" else dict(s) for s in self.steps]
        faults = [dict(f, antenna=a) for f in self.faults for a in names]
        faults = list({(f["antenna"], f["kind"]): f for f in faults}.values())
        note = f"(here on {', '.join(names)} instead) "
        return replace(self, steps=steps, faults=faults, description=note + self.description)

    def timeline(self) -> list[tuple[float, str, str]]:
        """(seconds from start, antennas, what) for every step, in time order: a readable plan."""
        rows = []
        for s in self.steps:
            ants = s["antennas"] if isinstance(s["antennas"], str) else ",".join(s["antennas"])
            what = s["action"]
            if what == "control":
                what += f" {s['point']}={s['value']}"
            elif what == "outage":
                what += f" for {s['duration'] / 3600:g} h"
            elif what == "leak":
                what += f" {s['rate']:g} mbar/h"
            elif what == "missing":
                what += f" {s['lru']}"
            elif what == "femc_mode":
                what += "".join(f" {k}={s[k]}" for k in ("maintenance", "async_monitoring") if k in s)
            elif what == "fetim_turbo_temp":
                what += f" {s['celsius']:g} °C"
            elif what == "flag":
                what += f" {s['point']}=" + ("cleared" if s.get("clear") else f"{s.get('value', 1)}")
            rows.append((s["at"], ants, what))
        return sorted(rows, key=lambda r: r[0])

    def apply(self, models: dict[str, Any], clock: SimClock) -> None:
        """Schedule every step on the models it names. A user's scenario naming an antenna the
        array has not is a ValidationError; a shipped one skips the antennas absent."""
        start = getattr(clock, "start", None)
        if start is None:
            start = clock.now()
        by_name = {k.upper(): m for k, m in models.items()}
        absent = [a for a in self.antennas() if a not in by_name]
        shipped = (self.source or "").startswith("e2ckit/sim/scenarios/")
        # a shipped scenario is written for the whole array and may run on part of it (the
        # notebooks combine several on a few antennas); a user's file naming an antenna the
        # array has not is a mistake: refused, rather than accepted doing nothing
        if absent and not shipped:
            have = sorted(by_name)
            shown = ", ".join(have[:8]) + (f", ... ({len(have)} antennas)" if len(have) > 8 else "")
            raise ValidationError(
                f"{self.source or self.name}: antennas: {', '.join(absent)} not in the simulated array ({shown or 'none'})"
            )
        for s in self.steps:
            names = list(by_name) if s["antennas"] == "all" else _names(s["antennas"])
            t = start + s["at"]
            for name in names:
                model = by_name.get(name)
                if model is not None:
                    _schedule(model, s, t)

    def __repr__(self) -> str:
        return f"Scenario({self.name!r}, {len(self.steps)} steps, {len(self.faults)} faults)"


def _tables(where: str, data: dict[str, Any], key: str) -> list[dict[str, Any]]:
    """``data[key]`` as an array of tables (``[[steps]]``), or a clear error."""
    items = data.get(key, [])
    if not isinstance(items, list):
        raise ValidationError(f"{where}: {key}: must be an array of tables ([[{key}]] blocks), got {items!r}")
    for i, item in enumerate(items, 1):
        if not isinstance(item, dict):
            raise ValidationError(f"{where}: {key}[{i}]: must be a table ([[{key}]] with key = value lines), got {item!r}")
    return [dict(item) for item in items]


def _antenna_names(where: str, field_: str, value: Any) -> Any:
    """``"all"`` or a list of ALMA antenna names (upper case), or a clear error."""
    if value == "all":
        return value
    names = [value] if isinstance(value, str) else value
    if not isinstance(names, list) or not names or not all(isinstance(a, str) for a in names):
        raise ValidationError(f"{where}: {field_}: must be \"all\" or a list of antenna names, got {value!r}")
    for a in names:
        if not ANTENNA_RE.match(a.strip().upper()):
            raise ValidationError(f"{where}: {field_}: {a!r} is not an ALMA antenna name (CMnn, DAnn, DVnn or PMnn)")
    return [a.strip().upper() for a in names]


def _step(where: str, i: int, s: dict[str, Any]) -> dict[str, Any]:
    """One ``[[steps]]`` table checked, its durations in seconds."""
    field_ = f"steps[{i}]"
    action = s.get("action")
    if action not in ACTIONS:
        raise ValidationError(f"{where}: {field_}.action: {action!r} is not one of {', '.join(ACTIONS)}")
    for key in ("at", "antennas", *_REQUIRED.get(action, ())):
        if key not in s:
            raise ValidationError(f"{where}: {field_}.{key}: missing (the {action} action needs it)")
    if action == "femc_mode" and not {"maintenance", "async_monitoring"} & set(s):
        raise ValidationError(f"{where}: {field_}: femc_mode needs 'maintenance' or 'async_monitoring'")
    s["antennas"] = _antenna_names(where, f"{field_}.antennas", s["antennas"])
    for key in ("at", "duration", "retry_every"):
        if key in s:
            try:
                s[key] = parse_duration(s[key])
            except (ValueError, TypeError) as exc:
                raise ValidationError(f"{where}: {field_}.{key}: {exc}") from None
    for key in ("rate", "celsius"):
        if key in s and (isinstance(s[key], bool) or not isinstance(s[key], (int, float))):
            raise ValidationError(f"{where}: {field_}.{key}: {s[key]!r} is not a number")
    if "retries" in s and (isinstance(s["retries"], bool) or not isinstance(s["retries"], int) or s["retries"] < 0):
        raise ValidationError(f"{where}: {field_}.retries: {s['retries']!r} is not a count")
    return s


def _fault(where: str, i: int, f: dict[str, Any]) -> dict[str, Any]:
    """One ``[[faults]]`` table checked (its kind and numbers are the server's to check)."""
    for key in ("antenna", "kind"):
        if key not in f:
            raise ValidationError(f"{where}: faults[{i}].{key}: missing (a fault needs 'antenna' and 'kind')")
    if not isinstance(f["kind"], str):
        raise ValidationError(f"{where}: faults[{i}].kind: {f['kind']!r} is not a fault kind")
    f["antenna"] = _antenna_names(where, f"faults[{i}].antenna", str(f["antenna"]))[0]
    return f


def _names(antennas: Any) -> list[str]:
    if isinstance(antennas, str):
        return [antennas.upper()] if antennas != "all" else []
    return [str(a).upper() for a in antennas]


def _schedule(model: Any, step: dict[str, Any], t: float) -> None:
    action = step["action"]
    if action == "power_off":
        model.schedule(t, lambda m, ta: m.power_off(ta))
    elif action == "power_on":
        model.schedule(t, lambda m, ta: m.power_on(ta))
    elif action == "outage":
        back = t + step["duration"]
        model.schedule(t, lambda m, ta: m.power_off(ta))
        model.schedule(back, lambda m, ta: m.power_on(ta))
    elif action == "trip_compressor":
        model.schedule(t, lambda m, ta: m.trip_compressor(ta))
    elif action == "leak":
        rate = float(step["rate"])
        model.schedule(t, lambda m, ta: m.start_leak(ta, rate))
    elif action == "missing":
        lru = step["lru"]
        missing = bool(step.get("missing", True))
        model.schedule(t, lambda m, ta: m.set_missing(lru, missing))
    elif action == "femc_mode":
        if "maintenance" in step:
            on = bool(step["maintenance"])
            model.schedule(t, lambda m, ta: m.set_maintenance_mode(on))
        if "async_monitoring" in step:
            on_async = bool(step["async_monitoring"])
            model.schedule(t, lambda m, ta: m.set_async_monitoring(on_async))
    elif action == "fetim_turbo_temp":
        celsius = float(step["celsius"])
        model.schedule(t, lambda m, ta: m.set_fetim_turbo_temp(celsius))
    elif action == "flag":
        reading = None if step.get("clear") else float(step.get("value", 1))
        model.schedule(t, lambda m, ta: m.inject(ta, step["point"], reading))
    elif action == "control":
        model.control_at(
            t,
            step["point"],
            step["value"],
            retry_every=step.get("retry_every"),
            retries=int(step.get("retries", 0)),
        )


# --------------------------------------------------------------------------------------
# TOML: tomllib on 3.11+, tomli if installed, else a parser for the small subset the
# scenario files use (key = string/number/bool/array of scalars, [table], [[array]]).


def _loads_toml(text: str) -> dict[str, Any]:
    try:
        import tomllib  # type: ignore[import-not-found]
    except ModuleNotFoundError:  # Python 3.10
        try:
            import tomli as tomllib  # type: ignore[no-redef]
        except ModuleNotFoundError:
            return _loads_toml_subset(text)
    return tomllib.loads(text)


_KEY = re.compile(r"^([A-Za-z0-9_-]+)\s*=\s*(.+)$")


def _loads_toml_subset(text: str) -> dict[str, Any]:
    root: dict[str, Any] = {}
    cur = root
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        line = _strip_comment(lines[i]).strip()
        i += 1
        if not line:
            continue
        if line.startswith("[["):
            name = line.strip("[] ")
            cur = {}
            root.setdefault(name, []).append(cur)
            continue
        if line.startswith("["):
            cur = root.setdefault(line.strip("[] "), {})
            continue
        m = _KEY.match(line)
        if not m:
            raise ValueError(f"TOML line {i}: cannot read {line!r}")
        key, raw = m.group(1), m.group(2).strip()
        if raw.startswith('"""'):  # multi-line basic string
            body = raw[3:]
            while '"""' not in body:
                body += "\n" + lines[i]
                i += 1
            cur[key] = body[: body.index('"""')].removeprefix("\n")
            continue
        elif raw.startswith("[") and not raw.endswith("]"):
            while not raw.endswith("]"):
                raw += " " + _strip_comment(lines[i]).strip()
                i += 1
        cur[key] = _value(raw)
    return root


def _strip_comment(line: str) -> str:
    out, quoted = [], False
    for c in line:
        if c == '"':
            quoted = not quoted
        if c == "#" and not quoted:
            break
        out.append(c)
    return "".join(out)


def _value(raw: str) -> Any:
    raw = raw.strip()
    if raw.startswith("["):
        inner = raw[1:-1].strip()
        items = [x for x in re.findall(r'"[^"]*"|[^,\s][^,]*', inner) if x.strip()]
        return [_value(x) for x in items]
    if raw.startswith('"') and raw.endswith('"'):
        body = raw[1:-1]
        return body.replace('\\"', '"').replace("\\n", "\n").replace("\\\\", "\\")
    if raw in ("true", "false"):
        return raw == "true"
    try:
        return int(raw.replace("_", ""), 0)
    except ValueError:
        return float(raw.replace("_", ""))
