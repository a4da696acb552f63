"""State of the simulated provider: servers, snapshots and the id counter.

Everything lives in memory behind one lock; when a state file is given every
change is also written through to SQLite so a restarted simulator resumes.
Statuses are computed lazily from timestamps on read, so no background
threads are needed to move a snapshot from in_progress to completed.
"""

import json
import random
import re
import sqlite3
import threading
import time
from datetime import datetime, timezone

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
    id INTEGER PRIMARY KEY, name TEXT NOT NULL, status TEXT NOT NULL, restore_until REAL);
CREATE TABLE IF NOT EXISTS snapshots (
    id INTEGER PRIMARY KEY, server_id INTEGER NOT NULL, name TEXT NOT NULL,
    description TEXT NOT NULL, created REAL NOT NULL, ready REAL NOT NULL,
    outcome TEXT NOT NULL, size_mb INTEGER NOT NULL);
"""


class NotFound(Exception):
    """The server or snapshot does not exist."""


class Rejected(Exception):
    """The request is valid but the provider refuses it (400 with {"error": ...})."""


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
    return {"id": int(raw["id"]), "name": str(raw["name"]), "status": str(raw.get("status", "running")), "restore_until": None}


class Store:
    """Thread-safe provider state; all public methods take the lock."""

    def __init__(self, servers=None, time_scale=1.0, create_seconds=None, restore_seconds=None,
                 state_file=None, random_seed=None, clock=time.time):
        self.lock = threading.RLock()
        self.clock = clock
        self.time_scale = float(time_scale)
        self.create_seconds = create_seconds
        self.restore_seconds = restore_seconds
        self._rng = random.Random(random_seed)
        self._seed = [normalise_server(s) for s in (DEFAULT_SERVERS if servers is None else servers)]
        self.servers = {}
        self.snapshots = {}
        self._by_server = {}  # server id -> set of snapshot ids, so the limit check is O(1)
        self.next_id = FIRST_SNAPSHOT_ID
        self._db = None
        self._state_file = state_file
        if state_file:
            self._connect()
            if self._load():
                return
        self.reset()

    # -- persistence -------------------------------------------------------
    def _load(self):
        """Load a previous run from SQLite; False when the file holds nothing yet."""
        row = self._db.execute("SELECT value FROM meta WHERE key = 'next_id'").fetchone()
        if row is None:
            return False
        self.next_id = int(row[0])
        for sid, name, status, until in self._db.execute("SELECT id, name, status, restore_until FROM servers"):
            self.servers[sid] = {"id": sid, "name": name, "status": status, "restore_until": until}
        cols = ("id", "server_id", "name", "description", "created", "ready", "outcome", "size_mb")
        for row in self._db.execute(f"SELECT {', '.join(cols)} FROM snapshots"):
            self._index(dict(zip(cols, row)))
        return True

    def _connect(self):
        self._db = sqlite3.connect(str(self._state_file), check_same_thread=False)
        self._db.executescript(SCHEMA)

    def _persist(self, servers=(), snapshots=(), deleted=(), wipe=False):
        if not self._state_file:
            return
        if self._db is None:  # closed by a stop(); the simulator was started again
            self._connect()
        with self._db:
            if wipe:
                self._db.execute("DELETE FROM servers")
                self._db.execute("DELETE FROM snapshots")
            self._db.executemany("INSERT OR REPLACE INTO servers VALUES (?, ?, ?, ?)",
                                 [(s["id"], s["name"], s["status"], s["restore_until"]) for s in servers])
            self._db.executemany("INSERT OR REPLACE INTO snapshots VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                                 [(s["id"], s["server_id"], s["name"], s["description"], s["created"], s["ready"],
                                   s["outcome"], s["size_mb"]) for s in snapshots])
            self._db.executemany("DELETE FROM snapshots WHERE id = ?", [(i,) for i in deleted])
            self._db.execute("INSERT OR REPLACE INTO meta VALUES ('next_id', ?)", (str(self.next_id),))

    def close(self):
        with self.lock:
            if self._db is not None:
                self._db.close()
                self._db = None

    # -- helpers -----------------------------------------------------------
    def _duration(self, fixed, span):
        if fixed is not None:
            return float(fixed)
        return self._rng.uniform(*span) * self.time_scale

    def _index(self, snap):
        self.snapshots[snap["id"]] = snap
        self._by_server.setdefault(snap["server_id"], set()).add(snap["id"])

    def _server_status(self, server, now):
        # A restore ends on its own: past restore_until the server is running again.
        if server["status"] == "restoring" and server["restore_until"] is not None and now >= server["restore_until"]:
            return "running"
        return server["status"]

    def _server_view(self, server, now):
        return {"id": server["id"], "name": server["name"], "status": self._server_status(server, now)}

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
        snap = {"id": self.next_id, "server_id": server_id, "name": name, "description": description,
                "created": created, "ready": ready, "outcome": outcome, "size_mb": self._rng.randint(*SIZE_RANGE)}
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
            self.next_id = FIRST_SNAPSHOT_ID
            self._persist(servers=self.servers.values(), wipe=True)

    def get_server(self, server_id):
        with self.lock:
            server = self.servers.get(server_id)
            if server is None:
                raise NotFound("Server not found.")
            return self._server_view(server, self.clock())

    def list_snapshots(self, server_id=None):
        """All snapshots (or one server's), newest first: created_at desc, then id desc."""
        with self.lock:
            now = self.clock()
            if server_id is None:
                snaps = list(self.snapshots.values())
            else:
                snaps = [self.snapshots[i] for i in self._by_server.get(server_id, ())]
            snaps.sort(key=lambda s: (s["created"], s["id"]), reverse=True)
            return [self._snapshot_view(s, now) for s in snaps]

    def create_snapshot(self, server_id, name, description="", fail=False):
        with self.lock:
            if server_id not in self.servers:
                raise NotFound("Server not found.")
            # The limit counts every snapshot of the server, whatever its status.
            if len(self._by_server.get(server_id, ())) >= SNAPSHOT_LIMIT:
                raise Rejected(f"Snapshot limit reached: at most {SNAPSHOT_LIMIT} snapshots per server. Delete an old snapshot first.")
            now = self.clock()
            ready = now + self._duration(self.create_seconds, CREATE_RANGE)
            failed = fail() if callable(fail) else fail
            snap = self._new_snapshot(server_id, name, description, now, ready, "failed" if failed else "completed")
            self._persist(snapshots=[snap])
            return self._snapshot_view(snap, now)

    def delete_snapshot(self, snapshot_id):
        with self.lock:
            snap = self.snapshots.pop(snapshot_id, None)
            if snap is None:
                raise NotFound("Snapshot not found.")
            self._by_server.get(snap["server_id"], set()).discard(snapshot_id)
            self._persist(deleted=[snapshot_id])

    def restore(self, snapshot_id):
        """Start a restore; returns (snapshot view, server view)."""
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
                raise Rejected(f"Server is not in a state that allows a restore (status: {status}).")
            # The provider stops the server, then restores; we show only "restoring".
            server["status"] = "restoring"
            server["restore_until"] = now + self._duration(self.restore_seconds, RESTORE_RANGE)
            self._persist(servers=[server])
            return view, self._server_view(server, now)

    # -- simulator controls --------------------------------------------------
    def set_server_status(self, server_id, status, name=None):
        """Force a server's status; creates the server when name is given."""
        with self.lock:
            server = self.servers.get(server_id)
            if server is None:
                if name is None:
                    raise NotFound("Server not found.")
                server = self.servers[server_id] = {"id": server_id, "name": name, "status": status, "restore_until": None}
            server["status"] = str(status)
            server["restore_until"] = None
            if name is not None:
                server["name"] = name
            self._persist(servers=[server])
            return self._server_view(server, self.clock())

    def add_snapshots(self, server_id, count, status="completed", name_prefix="bulk"):
        """Bulk seeding for benchmarks; bypasses the per-server limit. Returns the new ids."""
        with self.lock:
            if server_id not in self.servers:
                raise NotFound("Server not found.")
            made = self._make_snapshots(server_id, count, status, name_prefix)
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
            ready = now + self._duration(self.create_seconds, CREATE_RANGE) if status == "in_progress" else created
            outcome = "failed" if status == "failed" else "completed"
            made.append(self._new_snapshot(server_id, f"{name_prefix}-{i + 1}", "", created, ready, outcome))
        return made

    def add_servers(self, count, snapshots_per_server=0, status="completed", name_prefix="bench", start_id=None):
        """Add `count` running servers, each with N snapshots. Returns the new server ids."""
        if status not in SNAPSHOT_STATUSES:
            raise ValueError(f"status must be one of {SNAPSHOT_STATUSES}")
        with self.lock:
            first = int(start_id) if start_id is not None else max(self.servers, default=0) + 1
            ids = list(range(first, first + int(count)))
            clash = [i for i in ids if i in self.servers]
            if clash:
                raise ValueError(f"server ids already exist: {clash[:5]}")
            new, snaps = [], []
            for sid in ids:
                server = self.servers[sid] = {"id": sid, "name": f"{name_prefix}-{sid}", "status": "running", "restore_until": None}
                new.append(server)
                snaps.extend(self._make_snapshots(sid, snapshots_per_server, status, "snap"))
            # One transaction for the whole batch: 10,000 rows stay well under a second.
            self._persist(servers=new, snapshots=snaps)
            return ids

    def dump(self):
        """Everything, for GET /_sim/state."""
        with self.lock:
            now = self.clock()
            return {
                "servers": [self._server_view(s, now) for s in sorted(self.servers.values(), key=lambda s: s["id"])],
                "snapshots": [self._snapshot_view(s, now) for s in sorted(self.snapshots.values(), key=lambda s: s["id"])],
                "next_id": self.next_id,
            }
