"""Provider settings (not faults): durations, restore behaviour, page size, rate limit.

Settings describe how the simulated provider behaves; unlike faults they are not
cleared by a plain reset (reset(settings=True) goes back to the values the
simulator was started with). One table drives the Python API
(`Simulator(...)`, `sim.set_settings(...)`), the control API (`/_sim/settings`)
and the CLI (`serve` flags, `ctl settings`).
"""

import math
import random
import re

AFTER_RESTORE_STATUSES = ("running", "stopped")
_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off", "")

# name -> default. The first group lives in the Store, the second in the Simulator.
STORE_DEFAULTS = {
    "time_scale": 1.0,
    "create_seconds": None,
    "restore_seconds": None,
    "create_spread": None,
    "restore_spread": None,
    "create_seconds_by_server": {},
    "restore_seconds_by_server": {},
    "after_restore": "running",
    "after_restore_by_server": {},
    "snapshotting_during_create": False,
    "server_restore_detail": False,
}
SIM_DEFAULTS = {
    "page_size": 20,
    "rate_limit_rps": None,
    "rate_limit_bucket": None,
}
DEFAULTS = {**STORE_DEFAULTS, **SIM_DEFAULTS}
SETTING_NAMES = tuple(DEFAULTS)


def number(name, value, integer=False, low=0.0):
    if isinstance(value, bool):
        raise ValueError(f"{name} must be a number")
    try:
        result = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number") from None
    if math.isnan(result) or math.isinf(result) or result < low:
        raise ValueError(f"{name} must be a finite number >= {low:g}")
    if integer:
        if result != int(result):
            raise ValueError(f"{name} must be an integer")
        return int(result)
    return result


def _seconds(name, value):
    return None if value is None else number(name, value)


def _spread(name, value):
    """(min, max) seconds; also "MIN,MAX" (or "MIN MAX") from a command line or JSON string."""
    if value is None:
        return None
    if isinstance(value, str):
        value = [v for v in re.split(r"[,\s]+", value.strip()) if v]
    if not isinstance(value, (list, tuple)) or len(value) != 2:
        raise ValueError(f"{name} must be a pair [min, max] of seconds")
    low, high = number(name, value[0]), number(name, value[1])
    if low > high:
        raise ValueError(f"{name}: min must not be greater than max")
    return (low, high)


def _after_restore(name, value):
    if str(value) not in AFTER_RESTORE_STATUSES:
        raise ValueError(f"{name} must be one of {', '.join(AFTER_RESTORE_STATUSES)}")
    return str(value)


def _by_server(name, value, item):
    """{server_id: value}; also a list of "ID=VALUE" strings (the CLI form), or one "ID=V,ID=V" string."""
    if value is None:
        return {}
    if isinstance(value, str):
        value = [v for v in re.split(r"[,\s]+", value.strip()) if v]
    if isinstance(value, (list, tuple)):
        pairs = {}
        for entry in value:
            key, sep, val = str(entry).partition("=")
            if not sep:
                raise ValueError(f"{name}: expected ID=VALUE, got {entry!r}")
            pairs[key] = val
        value = pairs
    if not isinstance(value, dict):
        raise ValueError(f"{name} must be a mapping of server id to value")
    out = {}
    for key, val in value.items():
        try:
            server_id = int(key)
        except (TypeError, ValueError):
            raise ValueError(f"{name}: server id must be an integer, got {key!r}") from None
        out[server_id] = item(f"{name}[{server_id}]", val)
    return out


def _flag(name, value):
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float)) and value in (0, 1):
        return bool(value)
    text = str(value).strip().lower() if value is not None else ""
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ValueError(f"{name} must be true/false (on/off)")


def _rps(name, value):
    if value is None:
        return None
    return number(name, value) or None  # 0 means off


def _bucket(name, value):
    return None if value is None else number(name, value, integer=True, low=1)


PARSERS = {
    "time_scale": number,
    "create_seconds": _seconds,
    "restore_seconds": _seconds,
    "create_spread": _spread,
    "restore_spread": _spread,
    "create_seconds_by_server": lambda n, v: _by_server(n, v, number),
    "restore_seconds_by_server": lambda n, v: _by_server(n, v, number),
    "after_restore": _after_restore,
    "after_restore_by_server": lambda n, v: _by_server(n, v, _after_restore),
    "snapshotting_during_create": _flag,
    "server_restore_detail": _flag,
    "page_size": lambda n, v: number(n, v, integer=True, low=1),
    "rate_limit_rps": _rps,
    "rate_limit_bucket": _bucket,
}


def parse(settings):
    """Validate and normalise settings (None means the default); ValueError names the first bad one."""
    unknown = set(settings) - set(SETTING_NAMES)
    if unknown:
        raise ValueError(f"unknown setting(s): {', '.join(sorted(unknown))}; known: {', '.join(SETTING_NAMES)}")
    out = {}
    for name, value in settings.items():
        if value is None:  # None: back to the provider default
            default = DEFAULTS[name]
            out[name] = default.copy() if isinstance(default, dict) else default
        else:
            out[name] = PARSERS[name](name, value)
    return out


def describe(values):
    """JSON-friendly copy (server-id keys become strings in JSON anyway; spreads become lists)."""
    out = {}
    for name in SETTING_NAMES:
        value = values[name]
        if isinstance(value, dict):
            value = {str(k): v for k, v in sorted(value.items())}
        elif isinstance(value, tuple):
            value = list(value)
        out[name] = value
    return out


def draw(spread, kind, server_id, seed):
    """A duration from `spread` that depends only on (seed, kind, server id): reproducible, varied per server."""
    low, high = spread
    # String seeds are hashed with SHA-512 by random.seed: stable across runs and PYTHONHASHSEED.
    return random.Random(f"{0 if seed is None else seed}:{kind}:{server_id}").uniform(low, high)
