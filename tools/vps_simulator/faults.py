"""Fault injection settings shared by the Python API, the control API and the CLI.

Each fault is stored with an optional scope (HTTP methods and a path regex,
searched in the request path such as /api/v1/snapshots/). Counter faults
("the next N ...") are consumed one per matching request.
"""

import random
import re
import threading

# "Next N matching requests/responses" faults.
COUNTERS = ("rate_limit_burst", "drop_after_post", "drop_after_apply", "fail_next", "truncated", "non_json", "html_error", "restore_refused", "create_busy")
# Continuous faults.
LEVELS = ("error_rate", "latency", "late_answer")
# Plain settings (not scoped).
SETTINGS = ("retry_after", "random_seed", "servers_endpoint")
SCOPE = ("methods", "path")
SERVERS_ENDPOINT_MODES = ("ok", "404", "405")
FAULT_NAMES = COUNTERS + LEVELS + SETTINGS


def _number(name, value, low=0.0, high=None, integer=False):
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        try:
            value = float(value)
        except (TypeError, ValueError):
            raise ValueError(f"{name} must be a number") from None
    if integer:
        if float(value) != int(value):
            raise ValueError(f"{name} must be an integer")
        value = int(value)
    if value < low or (high is not None and value > high):
        raise ValueError(f"{name} must be between {low} and {high if high is not None else 'infinity'}")
    return value


class Faults:
    """Current fault settings; thread-safe."""

    def __init__(self, **settings):
        self._lock = threading.Lock()
        self._rng = random.Random()
        self.reset()
        if settings:
            self.set(**settings)

    def reset(self):
        with self._lock:
            self._active = {}  # name -> {"value", "methods", "path", "regex"}
            self.retry_after = 1
            self.servers_endpoint = "ok"
            self.random_seed = None

    def set(self, **settings):
        """Set faults; `methods`/`path` scope every fault named in the same call."""
        unknown = set(settings) - set(FAULT_NAMES) - set(SCOPE)
        if unknown:
            raise ValueError(f"unknown fault(s): {', '.join(sorted(unknown))}; known: {', '.join(FAULT_NAMES)}")
        methods = settings.pop("methods", None)
        path = settings.pop("path", None)
        if isinstance(methods, str):
            methods = [m for m in re.split(r"[,\s]+", methods) if m]
        if methods is not None:
            methods = [str(m).upper() for m in methods]
        try:
            regex = re.compile(path) if path else None
        except re.error as exc:
            raise ValueError(f"path is not a valid regex: {exc}") from None
        parsed = {}
        for name, value in settings.items():
            if name in COUNTERS:
                parsed[name] = _number(name, value or 0, integer=True)
            elif name == "error_rate":
                parsed[name] = _number(name, value or 0, high=1.0)
            elif name in ("latency", "late_answer", "retry_after"):
                parsed[name] = _number(name, value or 0)
            elif name == "servers_endpoint":
                if str(value) not in SERVERS_ENDPOINT_MODES:
                    raise ValueError(f"servers_endpoint must be one of {SERVERS_ENDPOINT_MODES}")
                parsed[name] = str(value)
            elif name == "random_seed":
                parsed[name] = None if value is None else _number(name, value, low=float("-inf"), integer=True)
        with self._lock:
            for name, value in parsed.items():
                if name in SETTINGS:
                    setattr(self, name, value)
                    if name == "random_seed":
                        self._rng.seed(value)
                elif value:
                    self._active[name] = {"value": value, "methods": methods, "path": path, "regex": regex}
                else:
                    self._active.pop(name, None)

    def describe(self):
        """JSON-friendly view of the current settings."""
        with self._lock:
            out = {name: {k: v for k, v in spec.items() if k != "regex"} for name, spec in self._active.items()}
            return {"active": out, "retry_after": self.retry_after, "servers_endpoint": self.servers_endpoint, "random_seed": self.random_seed}

    @staticmethod
    def _matches(spec, method, path):
        if spec["methods"] and method.upper() not in spec["methods"]:
            return False
        return spec["regex"] is None or spec["regex"].search(path) is not None

    def take(self, name, method, path):
        """Consume one unit of a counter fault if it applies to this request."""
        with self._lock:
            spec = self._active.get(name)
            if spec is None or not self._matches(spec, method, path):
                return False
            spec["value"] -= 1
            if spec["value"] <= 0:
                del self._active[name]
            return True

    def level(self, name, method, path):
        """Value of a continuous fault (error_rate, latency, late_answer) for this request, 0 when off."""
        with self._lock:
            spec = self._active.get(name)
            if spec is None or not self._matches(spec, method, path):
                return 0
            return spec["value"]

    def roll_error(self, method, path):
        """502 or 503 with probability error_rate, else None (deterministic with random_seed)."""
        rate = self.level("error_rate", method, path)
        with self._lock:
            if rate and self._rng.random() < rate:
                return self._rng.choice((502, 503))
        return None
