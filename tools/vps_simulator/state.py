"""State of the simulated provider: servers, snapshots and the id counter.

Everything lives in memory behind one lock; when a state file is given every
change is also written through to SQLite so a restarted simulator resumes.
Statuses are computed lazily from timestamps on read, so no background
threads are needed to move a snapshot from in_progress to completed, or a
server from restoring (or a held status such as stopping) to its next status.

A server record is {id, name, status, until, then, restoring_from}: `status`
holds until the epoch `until` (None: for good), then the server is `then`.
"""

import json
import random
import re
import sqlite3
import threading
import time
from datetime import datetime, timezone

from . import settings as settings_mod

FIRST_SNAPSHOT_ID = 801
SNAPSHOT_LIMIT = 5
# The provider's documented durations, in seconds (scaled by time_scale).
CREATE_RANGE = (180.0, 600.0)
RESTORE_RANGE = (300.0, 900.0)
SIZE_RANGE = (2000, 8000)
RESTORABLE_SERVER_STATUSES = ("running", "stopped")
SNAPSHOT_STATUSES = ("in_progress", "completed", "failed")
NAME_RE = re.compile(r"[A-Za-z0-9_-]+")

DEFAULT_SERVERS = [
    {"id": 101, "name": "web-01", "status": "running"},
    {"id": 102, "name": "web-02", "status": "running"},
    {"id": 103, "name": "db-01", "status": "running"},
]

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS servers (
    id INTEGER PRIMARY KEY, name TEXT NOT NULL, status TEXT NOT NULL, restore_until REAL,
    then_status TEXT, restoring_from TEXT);
CREATE TABLE IF NOT EXISTS snapshots (
    id INTEGER PRIMARY KEY, server_id INTEGER NOT NULL, name TEXT NOT NULL,
    description TEXT NOT NULL, created REAL NOT NULL, ready REAL NOT NULL,
    outcome TEXT NOT NULL, size_mb INTEGER NOT NULL);
"""


class NotFound(Exception):
    """The server or snapshot does not exist."""


class Rejected(Exception):
    """The request is valid but the provider refuses it (400 with {"error": ...})."""


SERVER_COLUMNS = ("id", "name", "status", "restore_until", "then_status", "restoring_from")
RESTORE_REFUSED_MESSAGE = "Restores are not available for this server's plan."


def busy_message(status):
    """400 answer to a creation while the server is in a transitional state."""
    return f"Server is busy (status: {status}); a snapshot can be taken when it is running or stopped."


def not_restorable_message(status):
    """400 answer to a restore while the server is neither running nor stopped."""
    return f"Server is not in a valid state for restoration (status: {status})."


def iso(ts):
    """Render an epoch timestamp the way the provider does: ISO-8601 UTC with Z."""
    return datetime.fromtimestamp(ts, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def load_seed_file(path):
    """Read a YAML or JSON list of servers (JSON is valid YAML, but YAML is optional)."""
    with open(path, encoding="utf-8") as handle:
        text = handle.read()
    try:
        data = json.loads(text)
    except ValueError:
        import yaml  # pylint: disable=import-outside-toplevel

        data = yaml.safe_load(text)
    if isinstance(data, dict):
        data = data.get("servers", [])
    return data


def normalise_server(raw):
    """Validate one seed entry and return a fresh internal server record."""
    if not isinstance(raw, dict) or "id" not in raw or "name" not in raw:
        raise ValueError(f"seed server needs id and name: {raw!r}")
    return new_server(int(raw["id"]), str(raw["name"]), str(raw.get("status", "running")))


def new_server(server_id, name, status="running"):
    return {"id": server_id, "name": name, "status": status, "until": None, "then": None, "restoring_from": None}


class Store:
    """Thread-safe provider state; all public methods take the lock."""

    def __init__(self, servers=None, time_scale=1.0, create_seconds=None, restore_seconds=None, state_file=None, random_seed=None, clock=time.time, **settings):
        self.lock = threading.RLock()
        self.clock = clock
        self.random_seed = random_seed
        # Provider settings (see settings.py): attributes of the same names.
        for name, value in settings_mod.STORE_DEFAULTS.items():
            setattr(self, name, value.copy() if isinstance(value, dict) else value)
        self.configure(time_scale=time_scale, create_seconds=create_seconds, restore_seconds=restore_seconds, **settings)
        self._rng = random.Random(random_seed)
        self._seed = [normalise_server(s) for s in (DEFAULT_SERVERS if servers is None else servers)]
        self.servers = {}
        self.snapshots = {}
        self._by_server = {}  # server id -> set of snapshot ids, so the limit check is O(1)
        # Cached newest-first orders (lists of snapshot ids): None / missing = to be rebuilt.
        self._order_all = None
        self._order_by_server = {}
        self.next_id = FIRST_SNAPSHOT_ID
        self._db = None
        self._state_file = state_file
        if state_file:
            self._connect()
            if self._load():
                return
        self.reset()

    # -- settings -------------------------------------------------------------
    def configure(self, **settings):
        """Change store settings (names from settings.STORE_DEFAULTS); validated first, then all applied."""
        unknown = set(settings) - set(settings_mod.STORE_DEFAULTS)
        if unknown:
            raise ValueError(f"unknown store setting(s): {', '.join(sorted(unknown))}")
        parsed = settings_mod.parse(settings)
        with self.lock:
            for name, value in parsed.items():
                setattr(self, name, value)

    def settings(self):
        """A copy of the store's settings (dicts copied under the lock: bulk seeding may add to them)."""
        with self.lock:
            values = {name: getattr(self, name) for name in settings_mod.STORE_DEFAULTS}
            return {k: dict(v) if isinstance(v, dict) else v for k, v in values.items()}

    # -- persistence -------------------------------------------------------
    def _load(self):
        """Load a previous run from SQLite; False when the file holds nothing yet."""
        row = self._db.execute("SELECT value FROM meta WHERE key = 'next_id'").fetchone()
        if row is None:
            return False
        self.next_id = int(row[0])
        for sid, name, status, until, then, origin in self._db.execute(f"SELECT {', '.join(SERVER_COLUMNS)} FROM servers"):
            server = new_server(sid, name, status)
            server["until"] = until
            # Files written before holds existed only had restores: they end running.
            server["then"] = then if then is not None or until is None else "running"
            server["restoring_from"] = json.loads(origin) if origin else None
            self.servers[sid] = server
        cols = ("id", "server_id", "name", "description", "created", "ready", "outcome", "size_mb")
        for row in self._db.execute(f"SELECT {', '.join(cols)} FROM snapshots"):
            self._index(dict(zip(cols, row)))
        self._invalidate()
        return True

    def _connect(self):
        self._db = sqlite3.connect(str(self._state_file), check_same_thread=False)
        self._db.executescript(SCHEMA)
        # State files from before holds: add the new columns.
        have = {row[1] for row in self._db.execute("PRAGMA table_info(servers)")}
        with self._db:
            for column in ("then_status", "restoring_from"):
                if column not in have:
                    self._db.execute(f"ALTER TABLE servers ADD COLUMN {column} TEXT")

    def _persist(self, servers=(), snapshots=(), deleted=(), wipe=False):
        if not self._state_file:
            return
        if self._db is None:  # closed by a stop(); the simulator was started again
            self._connect()
        with self._db:
            if wipe:
                self._db.execute("DELETE FROM servers")
                self._db.execute("DELETE FROM snapshots")
            self._db.executemany(
                f"INSERT OR REPLACE INTO servers ({', '.join(SERVER_COLUMNS)}) VALUES (?, ?, ?, ?, ?, ?)",
                [(s["id"], s["name"], s["status"], s["until"], s["then"], json.dumps(s["restoring_from"]) if s["restoring_from"] else None) for s in servers],
            )
            self._db.executemany(
                "INSERT OR REPLACE INTO snapshots VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [(s["id"], s["server_id"], s["name"], s["description"], s["created"], s["ready"], s["outcome"], s["size_mb"]) for s in snapshots],
            )
            self._db.executemany("DELETE FROM snapshots WHERE id = ?", [(i,) for i in deleted])
            self._db.execute("INSERT OR REPLACE INTO meta VALUES ('next_id', ?)", (str(self.next_id),))

    def close(self):
        with self.lock:
            if self._db is not None:
                self._db.close()
                self._db = None

    # -- helpers -----------------------------------------------------------
    def duration(self, kind, server_id):
        """Seconds a creation ("create") or restore ("restore") of this server takes.

        Precedence: <kind>_seconds_by_server, then <kind>_spread (drawn once per server
        from random_seed), then the fixed <kind>_seconds, then the provider's range
        times time_scale (drawn per operation).
        """
        by_server = getattr(self, f"{kind}_seconds_by_server")
        if server_id in by_server:
            return float(by_server[server_id])
        spread = getattr(self, f"{kind}_spread")
        if spread is not None:
            return settings_mod.draw(spread, kind, server_id, self.random_seed)
        fixed = getattr(self, f"{kind}_seconds")
        if fixed is not None:
            return float(fixed)
        return self._rng.uniform(*(CREATE_RANGE if kind == "create" else RESTORE_RANGE)) * self.time_scale

    def _index(self, snap):
        self.snapshots[snap["id"]] = snap
        self._by_server.setdefault(snap["server_id"], set()).add(snap["id"])

    def _invalidate(self, server_ids=None):
        """Forget the cached orders (all of them, or the global one and these servers')."""
        self._order_all = None
        if server_ids is None:
            self._order_by_server = {}
        else:
            for server_id in server_ids:
                self._order_by_server.pop(server_id, None)

    def _sort_newest_first(self, ids):
        """The only full sort: created_at desc, then id desc (called once per cache rebuild)."""
        snaps = self.snapshots
        return sorted(ids, key=lambda i: (snaps[i]["created"], i), reverse=True)

    def _ordered(self, server_id):
        if server_id is None:
            if self._order_all is None:
                self._order_all = self._sort_newest_first(self.snapshots)
            return self._order_all
        order = self._order_by_server.get(server_id)
        if order is None:
            order = self._order_by_server[server_id] = self._sort_newest_first(self._by_server.get(server_id, ()))
        return order

    def _creating(self, server_id, now):
        """True while a snapshot of this server is in progress."""
        snaps = self.snapshots
        return any(now < snaps[i]["ready"] for i in self._by_server.get(server_id, ()))

    def _base_status(self, server, now):
        # A timed status (restore or hold) ends on its own: past `until` the server is `then`.
        if server["until"] is not None and now >= server["until"]:
            return server["then"] or "running"
        return server["status"]

    def _server_status(self, server, now):
        status = self._base_status(server, now)
        if self.snapshotting_during_create and status in RESTORABLE_SERVER_STATUSES and self._creating(server["id"], now):
            return "snapshotting"
        return status

    def _server_view(self, server, now, detail=False):
        view = {"id": server["id"], "name": server["name"], "status": self._server_status(server, now)}
        if detail and self.server_restore_detail and view["status"] == "restoring" and server["restoring_from"]:
            view["restoring_from"] = dict(server["restoring_from"])
        return view

    def _snapshot_view(self, snap, now):
        server = self.servers.get(snap["server_id"], {"id": snap["server_id"], "name": ""})
        status = "in_progress" if now < snap["ready"] else snap["outcome"]
        return {
            "id": snap["id"],
            "server": {"id": server["id"], "name": server["name"]},
            "name": snap["name"],
            "status": status,
            "size_mb": snap["size_mb"] if status == "completed" else None,
            "created_at": iso(snap["created"]),
            "description": snap["description"],
        }

    def _new_snapshot(self, server_id, name, description, created, ready, outcome):
        snap = {
            "id": self.next_id,
            "server_id": server_id,
            "name": name,
            "description": description,
            "created": created,
            "ready": ready,
            "outcome": outcome,
            "size_mb": self._rng.randint(*SIZE_RANGE),
        }
        self.next_id += 1
        self._index(snap)
        return snap

    # -- provider operations -----------------------------------------------
    def reset(self):
        """Back to the seed servers, no snapshots, ids from 801."""
        with self.lock:
            self.servers = {s["id"]: dict(s) for s in self._seed}
            self.snapshots = {}
            self._by_server = {}
            self._invalidate()
            self.next_id = FIRST_SNAPSHOT_ID
            self._persist(servers=self.servers.values(), wipe=True)

    def get_server(self, server_id):
        """GET /servers/{id}/: {id, name, status}, plus restoring_from with server_restore_detail."""
        with self.lock:
            server = self.servers.get(server_id)
            if server is None:
                raise NotFound("Server not found.")
            return self._server_view(server, self.clock(), detail=True)

    def list_snapshots(self, server_id=None):
        """All snapshots (or one server's), newest first: created_at desc, then id desc."""
        return self.list_page(server_id)[1]

    def list_page(self, server_id=None, offset=0, limit=None):
        """(count, views of [offset, offset + limit)) newest first; only the page's statuses are computed."""
        with self.lock:
            now = self.clock()
            order = self._ordered(server_id)
            end = len(order) if limit is None else offset + limit
            return len(order), [self._snapshot_view(self.snapshots[i], now) for i in order[offset:end]]

    def create_snapshot(self, server_id, name, description="", fail=False, busy=False):
        """Start a creation. `fail`/`busy` (bool or callable) are consulted only when the creation
        would otherwise go ahead: fail makes it end failed, busy refuses it as if the server were snapshotting."""
        with self.lock:
            server = self.servers.get(server_id)
            if server is None:
                raise NotFound("Server not found.")
            now = self.clock()
            status = self._server_status(server, now)
            if status not in RESTORABLE_SERVER_STATUSES:
                raise Rejected(busy_message(status))
            if busy() if callable(busy) else busy:
                raise Rejected(busy_message("snapshotting"))
            # The limit counts every snapshot of the server, whatever its status.
            if len(self._by_server.get(server_id, ())) >= SNAPSHOT_LIMIT:
                raise Rejected(f"Snapshot limit reached: at most {SNAPSHOT_LIMIT} snapshots per server. Delete an old snapshot first.")
            ready = now + self.duration("create", server_id)
            failed = fail() if callable(fail) else fail
            snap = self._new_snapshot(server_id, name, description, now, ready, "failed" if failed else "completed")
            self._invalidate([server_id])
            self._persist(snapshots=[snap])
            return self._snapshot_view(snap, now)

    def delete_snapshot(self, snapshot_id):
        with self.lock:
            snap = self.snapshots.pop(snapshot_id, None)
            if snap is None:
                raise NotFound("Snapshot not found.")
            self._by_server.get(snap["server_id"], set()).discard(snapshot_id)
            self._invalidate([snap["server_id"]])
            self._persist(deleted=[snapshot_id])

    def restore(self, snapshot_id, refuse=False):
        """Start a restore; returns (snapshot view, server view).

        `refuse` (bool or callable) is consulted only when the restore would otherwise
        start; when true the restore is refused for a reason unrelated to the server's state.
        """
        with self.lock:
            snap = self.snapshots.get(snapshot_id)
            if snap is None:
                raise NotFound("Snapshot not found.")
            now = self.clock()
            view = self._snapshot_view(snap, now)
            if view["status"] != "completed":
                raise Rejected(f"Snapshot is not completed (status: {view['status']}); it cannot be restored.")
            server = self.servers.get(snap["server_id"])
            if server is None:
                raise NotFound("Server not found.")
            status = self._server_status(server, now)
            if status not in RESTORABLE_SERVER_STATUSES:
                raise Rejected(not_restorable_message(status))
            if refuse() if callable(refuse) else refuse:
                raise Rejected(RESTORE_REFUSED_MESSAGE)
            # The provider stops the server, then restores; we show only "restoring".
            server["status"] = "restoring"
            server["until"] = now + self.duration("restore", server["id"])
            server["then"] = self.after_restore_by_server.get(server["id"], self.after_restore)
            server["restoring_from"] = {"id": view["id"], "name": view["name"], "created_at": view["created_at"]}
            self._persist(servers=[server])
            return view, self._server_view(server, now)

    # -- simulator controls --------------------------------------------------
    def set_server_status(self, server_id, status, name=None, hold_seconds=None, then=None):
        """Force a server's status; creates the server when name is given.

        With hold_seconds the status lasts that long, then the server is `then`
        (default running); without it the status stays until changed.
        """
        if not isinstance(status, str) or not status:
            raise ValueError("status must be a non-empty string")
        if then is not None and (not isinstance(then, str) or not then):
            raise ValueError("then must be a non-empty string")
        if then is not None and hold_seconds is None:
            raise ValueError("then needs hold_seconds")
        hold = None if hold_seconds is None else settings_mod.number("hold_seconds", hold_seconds)
        with self.lock:
            server = self.servers.get(server_id)
            if server is None:
                if name is None:
                    raise NotFound("Server not found.")
                server = self.servers[server_id] = new_server(server_id, str(name), status)
            now = self.clock()
            server["status"] = status
            server["until"] = None if hold is None else now + hold
            server["then"] = None if hold is None else (then or "running")
            server["restoring_from"] = None
            if name is not None:
                server["name"] = str(name)
            self._persist(servers=[server])
            return self._server_view(server, now, detail=True)

    def add_snapshots(self, server_id, count, status="completed", name_prefix="bulk"):
        """Bulk seeding for benchmarks; bypasses the per-server limit. Returns the new ids."""
        with self.lock:
            if server_id not in self.servers:
                raise NotFound("Server not found.")
            made = self._make_snapshots(server_id, count, status, name_prefix)
            self._invalidate([server_id])
            self._persist(snapshots=made)
            return [s["id"] for s in made]

    def seed_snapshots(self, server_id, specs, spacing=60.0, days_old=0.0):
        """Snapshots with exact names for tests; bypasses the per-server limit. `specs`, oldest first: each a name or
        (name, status), status completed, failed or in_progress (an in-progress one stays so for 10 minutes). The
        i-th of n was created (n - i) x `spacing` seconds ago, plus `days_old` days. Returns their ids, in order."""
        with self.lock:
            if server_id not in self.servers:
                raise NotFound("Server not found.")
            specs = [(spec, "completed") if isinstance(spec, str) else tuple(spec) for spec in specs]
            if any(status not in SNAPSHOT_STATUSES for unused, status in specs):
                raise ValueError(f"status must be one of {SNAPSHOT_STATUSES}")
            now = self.clock()
            made = []
            for index, (name, status) in enumerate(specs):
                created = now - (len(specs) - index) * spacing - days_old * 86400
                ready = now + 600 if status == "in_progress" else created
                outcome = "failed" if status == "failed" else "completed"
                made.append(self._new_snapshot(server_id, name, "", created, ready, outcome))
            self._invalidate([server_id])
            self._persist(snapshots=made)
            return [s["id"] for s in made]

    def _make_snapshots(self, server_id, count, status, name_prefix):
        if status not in SNAPSHOT_STATUSES:
            raise ValueError(f"status must be one of {SNAPSHOT_STATUSES}")
        now = self.clock()
        made = []
        for i in range(int(count)):
            # Spread creation times in the past (one minute apart) so ordering is stable.
            created = now - (int(count) - i) * 60.0
            ready = now + self.duration("create", server_id) if status == "in_progress" else created
            outcome = "failed" if status == "failed" else "completed"
            made.append(self._new_snapshot(server_id, f"{name_prefix}-{i + 1}", "", created, ready, outcome))
        return made

    def add_servers(
        self,
        count,
        snapshots_per_server=0,
        status="completed",
        name_prefix="bench",
        start_id=None,
        create_seconds=None,
        create_spread=None,
        restore_seconds=None,
        restore_spread=None,
        after_restore=None,
    ):
        """Add `count` running servers, each with N snapshots. Returns the new server ids.

        create_seconds / restore_seconds (fixed) or create_spread / restore_spread ((min, max),
        drawn per server from random_seed) and after_restore give the new servers their own
        durations and after-restore status: they are written into the *_by_server settings.
        """
        if status not in SNAPSHOT_STATUSES:
            raise ValueError(f"status must be one of {SNAPSHOT_STATUSES}")
        per_server = settings_mod.parse(
            {
                k: v
                for k, v in (
                    ("create_seconds", create_seconds),
                    ("create_spread", create_spread),
                    ("restore_seconds", restore_seconds),
                    ("restore_spread", restore_spread),
                )
                if v is not None
            }
        )
        if after_restore is not None:
            per_server["after_restore"] = settings_mod.parse({"after_restore": after_restore})["after_restore"]
        with self.lock:
            first = int(start_id) if start_id is not None else max(self.servers, default=0) + 1
            ids = list(range(first, first + int(count)))
            clash = [i for i in ids if i in self.servers]
            if clash:
                raise ValueError(f"server ids already exist: {clash[:5]}")
            for sid in ids:
                for kind in ("create", "restore"):
                    if per_server.get(f"{kind}_seconds") is not None:
                        getattr(self, f"{kind}_seconds_by_server")[sid] = per_server[f"{kind}_seconds"]
                    elif per_server.get(f"{kind}_spread") is not None:
                        getattr(self, f"{kind}_seconds_by_server")[sid] = settings_mod.draw(per_server[f"{kind}_spread"], kind, sid, self.random_seed)
                if "after_restore" in per_server:
                    self.after_restore_by_server[sid] = per_server["after_restore"]
            new, snaps = [], []
            for sid in ids:
                server = self.servers[sid] = new_server(sid, f"{name_prefix}-{sid}")
                new.append(server)
                snaps.extend(self._make_snapshots(sid, snapshots_per_server, status, "snap"))
            self._invalidate(ids)
            # One transaction for the whole batch: 10,000 rows stay well under a second.
            self._persist(servers=new, snapshots=snaps)
            return ids

    def holds(self):
        """Servers whose status is timed (a hold or a restore) and not over yet."""
        with self.lock:
            now = self.clock()
            return [
                {"id": s["id"], "status": s["status"], "then": s["then"], "until": iso(s["until"]), "seconds_left": round(s["until"] - now, 3)}
                for s in sorted(self.servers.values(), key=lambda s: s["id"])
                if s["until"] is not None and now < s["until"]
            ]

    def dump(self):
        """Everything, for GET /_sim/state (servers with their current, lazily computed statuses)."""
        with self.lock:
            now = self.clock()
            return {
                "servers": [self._server_view(s, now, detail=True) for s in sorted(self.servers.values(), key=lambda s: s["id"])],
                "snapshots": [self._snapshot_view(s, now) for s in sorted(self.snapshots.values(), key=lambda s: s["id"])],
                "next_id": self.next_id,
                "holds": self.holds(),
            }
