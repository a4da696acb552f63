# Copyright (c) vps.cloud contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""vps.cloud.snapshots: an Event-Driven Ansible event source watching the provider's snapshots.

It polls the account's snapshot listing (optionally one server's) and puts one event per change on the
rulebook's queue. Statuses mean what the collection's modules say they mean (module_utils/selection.py),
and every request goes through the collection's one API client (module_utils/client.py), run in a worker
thread so that the rulebook's event loop never waits on the network.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import copy
import datetime
import logging
import math
import os
import random
import sys
import time
from pathlib import Path
from typing import Any

DOCUMENTATION = r"""
---
short_description: Events about the provider's VPS snapshots (created, completed, failed, deleted, limits, stale restore points).
description:
  - An ansible-rulebook event source plugin that polls the provider's snapshot listing (all of the account's
    servers, or one server's) every O(interval) seconds and sends one event per change.
  - 'Snapshot events: C(snapshot.created), C(snapshot.completed), C(snapshot.failed), C(snapshot.deleted) and
    C(snapshot.status_changed) (any other transition). Each carries the snapshot as the API last showed it,
    C(previous_status) and the server''s C(id) and C(name).'
  - 'Server events: C(server.at_limit) when a server holds O(limit) snapshots (the provider''s limit of 5: the
    next creation will have to delete something), and C(server.no_restore_point) when a server''s newest
    completed snapshot is older than O(max_age_hours), or it has none. Each is sent once per crossing: again
    only after the server went back under the limit, or got a fresh completed snapshot.'
  - The first poll sets the baseline and sends nothing, unless O(emit_existing=true). The same change is never
    sent twice, and a change between two polls is never lost (a snapshot that appeared and completed between
    two polls gives C(snapshot.created) and then C(snapshot.completed)).
  - A poll that gets no answer, a 5xx or a 429 is logged and tried again after a growing pause that honours
    C(Retry-After); the source only ends on what cannot heal (the token refused with 401 or 403, a bad
    argument), with a message saying what to fix.
  - The API token is never put in an event or a log.
  - Requires the Python library C(requests) in the decision environment.
author:
  - vps.cloud contributors
options:
  api_url:
    description:
      - Base URL of the provider's API.
      - Falls back to the environment variable E(VPS_API_URL), then to U(https://admin.vps.org/api/v1).
    type: str
  api_token:
    description:
      - The API token. Prefer the environment variable E(VPS_API_TOKEN) (or an EDA credential) to writing it in
        the rulebook.
    type: str
  server_id:
    description:
      - Watch only this server's snapshots. Without it, every server of the account is watched.
    type: int
  interval:
    description:
      - Seconds between two polls (at least 1).
    type: float
    default: 60
  max_age_hours:
    description:
      - Send C(server.no_restore_point) when a server's newest completed snapshot is older than this many hours,
        or when it has none. V(0) turns that event off.
    type: float
    default: 24
  limit:
    description:
      - The number of snapshots per server at which C(server.at_limit) is sent (the provider allows 5).
    type: int
    default: 5
  emit_existing:
    description:
      - On the first poll, send events for what is already there (C(snapshot.created) for each snapshot, plus
        C(snapshot.completed) or C(snapshot.failed) for those that ended, and the server events that hold)
        instead of taking it silently as the baseline.
    type: bool
    default: false
  validate_certs:
    description:
      - Verify the API's TLS certificate. Set to V(false) only for a test endpoint.
    type: bool
    default: true
  ca_path:
    description:
      - PEM file of CA certificates to verify the API's certificate with.
    type: str
  api_timeout:
    description:
      - Seconds to wait for an answer to one request.
    type: int
    default: 30
  max_backoff:
    description:
      - The longest pause, in seconds, between two polls after failed ones.
    type: float
    default: 300
notes:
  - A server is known to the source once a listing has shown one of its snapshots (or when it is O(server_id)); a
    server that never had a snapshot since the source started cannot be reported as C(server.no_restore_point).
  - The source cannot tell who deleted a snapshot; C(snapshot.deleted) is sent for every snapshot that vanished.
  - A snapshot created and deleted between two polls is never seen.
"""

EXAMPLES = r"""
- name: React to the VPS provider's snapshots
  hosts: localhost
  sources:
    - vps.cloud.snapshots:
        interval: 60
        max_age_hours: 24
  rules:
    - name: A snapshot failed
      condition: event.type == "snapshot.failed"
      action:
        run_playbook:
          name: vps.cloud.eda_retake_failed
    - name: A server is at the provider's limit
      condition: event.type == "server.at_limit"
      action:
        debug:
          msg: "Server {{ event.server.name }} holds {{ event.count }} snapshots"

- name: Watch one server, on a test endpoint
  hosts: localhost
  sources:
    - vps.cloud.snapshots:
        api_url: https://vps.example.test/api/v1
        server_id: 12345
        interval: 30
        ca_path: /etc/pki/vps-test-ca.pem
  rules:
    - name: The snapshot the upgrade waits on completed
      condition: event.type == "snapshot.completed" and event.snapshot.name == "pre-upgrade"
      action:
        run_job_template:
          name: Upgrade web servers
          organization: Default
"""

SOURCE_NAME = "vps.cloud.snapshots"
LOG = logging.getLogger(SOURCE_NAME)

DEFAULTS = {
    "interval": 60.0,
    "max_age_hours": 24.0,
    "limit": 5,
    "emit_existing": False,
    "validate_certs": True,
    "api_timeout": 30,
    "max_backoff": 300.0,
}
KNOWN_ARGS = frozenset(("api_url", "api_token", "server_id", "ca_path")) | frozenset(DEFAULTS)
# The first pause after a failed poll; it doubles (with jitter) up to max_backoff.
BACKOFF_FIRST = 2.0
# HTTP statuses after which polling again may help.
TRANSIENT_4XX = frozenset((408, 425, 429))
FATAL_STATUSES = frozenset((401, 403))
# A listing that changed while it was read page by page is read again at most this many times per poll.
LISTING_READS = 3


class VpsSourceError(Exception):
    """What cannot heal by polling again: a bad argument, a refused token. ansible-rulebook shows the message."""


def _module_utils():
    """The collection's client and selection modules (found from this file if ansible_collections is not importable)."""
    try:
        from ansible_collections.vps.cloud.plugins.module_utils import client, selection  # pylint: disable=import-outside-toplevel
    except ImportError:
        # ansible-rulebook runs the file with runpy: put the folder holding ansible_collections on sys.path.
        # snapshots.py < event_source < plugins < eda < extensions < cloud < vps < ansible_collections < root
        root = str(Path(__file__).resolve().parents[7])
        if root not in sys.path:
            sys.path.append(root)
        from ansible_collections.vps.cloud.plugins.module_utils import client, selection  # pylint: disable=import-outside-toplevel
    return client, selection


CLIENT, SELECTION = _module_utils()


# Arguments ------------------------------------------------------------------------------------------


def _as_bool(name, value):
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "yes", "on", "1"):
        return True
    if isinstance(value, str) and value.strip().lower() in ("false", "no", "off", "0"):
        return False
    raise VpsSourceError(f"{name} must be true or false, got {value!r}")


def _as_number(name, value, minimum, integer=False):
    number = None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        number = value
    elif isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            number = None
    if number is None or not math.isfinite(number) or number < minimum or (integer and number != int(number)):
        kind = "a whole number" if integer else "a number"
        raise VpsSourceError(f"{name} must be {kind} of at least {minimum}, got {value!r}")
    return int(number) if integer else float(number)


def parse_args(args: dict[str, Any], environ=None) -> dict[str, Any]:
    """The source's settings from the rulebook's arguments and the environment; VpsSourceError names every problem."""
    environ = os.environ if environ is None else environ
    args = dict(args or {})
    # ansible-rulebook adds its own arguments (eda_feedback_queue...): they are not the user's.
    unknown = sorted(key for key in args if key not in KNOWN_ARGS and not str(key).startswith("eda_"))
    problems = []
    if unknown:
        problems.append(f"unknown argument(s) {', '.join(unknown)}; the arguments are: {', '.join(sorted(KNOWN_ARGS))}")
    settings: dict[str, Any] = {}
    checks = (
        ("interval", lambda v: _as_number("interval", v, 1)),
        ("max_age_hours", lambda v: _as_number("max_age_hours", v, 0)),
        ("limit", lambda v: _as_number("limit", v, 1, integer=True)),
        ("api_timeout", lambda v: _as_number("api_timeout", v, 1, integer=True)),
        ("max_backoff", lambda v: _as_number("max_backoff", v, 1)),
        ("emit_existing", lambda v: _as_bool("emit_existing", v)),
        ("validate_certs", lambda v: _as_bool("validate_certs", v)),
    )
    for name, check in checks:
        value = args.get(name)
        try:
            settings[name] = DEFAULTS[name] if value is None else check(value)
        except VpsSourceError as exc:
            problems.append(str(exc))
    server_id = args.get("server_id")
    settings["server_id"] = None
    if server_id is not None and server_id != "":
        try:
            settings["server_id"] = _as_number("server_id", server_id, 1, integer=True)
        except VpsSourceError as exc:
            problems.append(str(exc))
    settings["api_url"] = args.get("api_url") or environ.get("VPS_API_URL") or CLIENT.DEFAULT_API_URL
    settings["api_token"] = args.get("api_token") or environ.get("VPS_API_TOKEN")
    settings["ca_path"] = args.get("ca_path") or None
    if not settings["api_token"]:
        problems.append("no API token: set the api_token argument or the VPS_API_TOKEN environment variable")
    if problems:
        raise VpsSourceError("vps.cloud.snapshots: " + "; ".join(problems))
    return settings


# What changed between two listings --------------------------------------------------------------------


def _iso(epoch):
    return datetime.datetime.fromtimestamp(epoch, tz=datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


class Tracker:
    """The snapshots and servers as last seen, and the events each new listing brings. Pure: no I/O, no clock."""

    def __init__(self, limit=5, max_age_hours=24.0, server_id=None, emit_existing=False):
        self.limit = limit
        self.max_age_hours = max_age_hours
        self.server_id = server_id
        self.emit_existing = emit_existing
        self.snapshots: dict[int, dict[str, Any]] = {}
        self.servers: dict[int, dict[str, Any]] = {}
        self.at_limit: dict[int, bool] = {}
        self.stale: dict[int, bool] = {}
        self.baseline_done = False
        if server_id is not None:
            self.servers[server_id] = {"id": server_id, "name": None}

    def update(self, items: list[dict[str, Any]], complete: bool, now: float) -> list[dict[str, Any]]:
        """Events for a new listing. `complete`: the listing is whole (read without changes under it).

        Without a whole listing, nothing is taken as deleted and the server events wait for the next one; a
        baseline is only set from a whole listing.
        """
        baseline = not self.baseline_done
        if baseline and not complete:
            return []
        emit = not baseline or self.emit_existing
        seen = {}
        for item in items:
            seen[item["id"]] = item
        events: list[dict[str, Any]] = []
        for snapshot_id in sorted(seen):
            item = seen[snapshot_id]
            self._remember_server(item)
            old = self.snapshots.get(snapshot_id)
            if old is None:
                if emit:
                    events.append(self._snapshot_event("snapshot.created", item, None, now))
                    kind = SELECTION.snapshot_kind(item)
                    if kind == SELECTION.RESTORE_POINT:
                        events.append(self._snapshot_event("snapshot.completed", item, None, now))
                    elif kind == SELECTION.FAILED:
                        events.append(self._snapshot_event("snapshot.failed", item, None, now))
            elif old.get("status") != item.get("status"):
                events.append(self._transition(old, item, now))
            self.snapshots[snapshot_id] = item
        if complete:
            for snapshot_id in sorted(set(self.snapshots) - set(seen)):
                gone = self.snapshots.pop(snapshot_id)
                events.append(self._snapshot_event("snapshot.deleted", gone, gone.get("status"), now))
            events.extend(self._server_events(now, emit))
        self.baseline_done = True
        return events

    def _remember_server(self, item):
        server = item.get("server") or {}
        known = self.servers.get(server["id"], {})
        self.servers[server["id"]] = {"id": server["id"], "name": server.get("name") or known.get("name")}

    def _transition(self, old, item, now):
        kind, old_kind = SELECTION.snapshot_kind(item), SELECTION.snapshot_kind(old)
        if kind != old_kind and kind == SELECTION.RESTORE_POINT:
            event_type = "snapshot.completed"
        elif kind != old_kind and kind == SELECTION.FAILED:
            event_type = "snapshot.failed"
        else:
            event_type = "snapshot.status_changed"
        return self._snapshot_event(event_type, item, old.get("status"), now)

    def _server_of(self, item):
        server_id = SELECTION.server_id_of(item)
        return dict(self.servers.get(server_id) or {"id": server_id, "name": None})

    def _snapshot_event(self, event_type, item, previous_status, now):
        return {
            "type": event_type,
            "snapshot": copy.deepcopy(item),
            "previous_status": previous_status,
            "server": self._server_of(item),
            "detected_at": _iso(now),
        }

    def _server_events(self, now, emit):
        events = []
        by_server: dict[int, list[dict[str, Any]]] = {server_id: [] for server_id in self.servers}
        for item in self.snapshots.values():
            by_server.setdefault(SELECTION.server_id_of(item), []).append(item)
        for server_id in sorted(by_server):
            snapshots = SELECTION.newest_first(by_server[server_id])
            server = dict(self.servers.get(server_id) or {"id": server_id, "name": None})
            at_limit = len(snapshots) >= self.limit
            if at_limit and not self.at_limit.get(server_id) and emit:
                events.append(
                    {
                        "type": "server.at_limit",
                        "server": server,
                        "count": len(snapshots),
                        "limit": self.limit,
                        "snapshots": copy.deepcopy(snapshots),
                        "detected_at": _iso(now),
                    }
                )
            self.at_limit[server_id] = at_limit
            if not self.max_age_hours:
                continue
            stale, last, age_hours, reason = self._restore_point(snapshots, now)
            if stale and not self.stale.get(server_id) and emit:
                events.append(
                    {
                        "type": "server.no_restore_point",
                        "server": server,
                        "reason": reason,
                        "max_age_hours": self.max_age_hours,
                        "last_completed": copy.deepcopy(last),
                        "age_hours": age_hours,
                        "detected_at": _iso(now),
                    }
                )
            self.stale[server_id] = stale
        return events

    def _restore_point(self, snapshots, now):
        """(stale, newest completed snapshot or None, its age in hours or None, why it is stale)."""
        last = SELECTION.last_completed(snapshots)
        if last is None:
            return True, None, None, "the server has no completed snapshot"
        created = SELECTION.created_epoch(last)
        if created is None:
            return (
                True,
                last,
                None,
                f"the age of its newest completed snapshot is unknown (created_at {last.get('created_at')!r})",
            )
        age_hours = round(max(0.0, now - created) / 3600.0, 2)
        if age_hours > self.max_age_hours:
            return (
                True,
                last,
                age_hours,
                f"its newest completed snapshot is {age_hours} hours old, more than max_age_hours={self.max_age_hours}",
            )
        return False, last, age_hours, None


# Polling ----------------------------------------------------------------------------------------------


class Listing:
    """One read of the listing: valid snapshots, whether it is whole, and what was wrong with it."""

    def __init__(self, items, complete, problems):
        self.items = items
        self.complete = complete
        self.problems = problems


def read_listing(client, params) -> Listing:
    """Read the listing once with the client (blocking: run it in a worker thread)."""
    pages: list[dict[str, Any]] = []
    raw = client.get_all("snapshots/", params=params, on_page=pages.append)
    items, problems, ids = [], [], set()
    duplicates = False
    for item in raw or []:
        problem = SELECTION.snapshot_shape_problem(item)
        if problem:
            problems.append(problem)
            continue
        if item["id"] in ids:
            duplicates = True
            continue
        ids.add(item["id"])
        items.append(item)
    counts = {page.get("count") for page in pages if isinstance(page, dict) and isinstance(page.get("count"), int)}
    complete = not problems and not duplicates and len(counts) <= 1 and (not counts or counts.pop() == len(raw or []))
    return Listing(items, complete, problems)


class SnapshotSource:
    """The polling loop: reads the listing in a worker thread, backs off on transient failures, feeds the queue."""

    def __init__(self, queue, settings, sleep=None, now=time.time, monotonic=time.monotonic, rand=random.random):
        """`sleep` (a coroutine function), `now` (epoch seconds, for ages) and `monotonic` (the client's pacing clock):
        the clock, injectable so that tests move time instead of waiting."""
        self.queue = queue
        self.settings = settings
        self.sleep = sleep or asyncio.sleep
        self.now = now
        self.rand = rand
        try:
            self.client = CLIENT.VpsClient(
                settings["api_url"],
                settings["api_token"],
                timeout=settings["api_timeout"],
                # No retries inside the client: every failure comes back here, and the source's own back-off
                # (logged) is what the user sees. The client's sleeps, if any, run in the worker thread.
                retries=0,
                validate_certs=settings["validate_certs"],
                ca_path=settings["ca_path"],
                clock=monotonic,
            )
        except CLIENT.VpsConfigError as exc:
            raise VpsSourceError(f"vps.cloud.snapshots: {exc}") from None
        if not CLIENT.HAS_REQUESTS:
            raise VpsSourceError("vps.cloud.snapshots needs the Python library requests in the decision environment")
        self.tracker = Tracker(
            limit=settings["limit"],
            max_age_hours=settings["max_age_hours"],
            server_id=settings["server_id"],
            emit_existing=settings["emit_existing"],
        )
        self.params = {"server_id": settings["server_id"]} if settings["server_id"] is not None else None
        self.retry_after: float | None = None
        self.failures = 0
        self.polls = 0
        self._executor: concurrent.futures.ThreadPoolExecutor | None = None

    def where(self):
        """The API's base URL, safe to show."""
        return CLIENT.without_credentials(self.client.base_url)

    def _capture_retry_after(self, response, *args, **kwargs):  # pylint: disable=unused-argument
        if response.status_code in (429, 503):
            self.retry_after = CLIENT.retry_after_seconds(response)

    def _read(self) -> Listing:
        """Blocking: one poll, in the worker thread. A listing that changed under the reading is read again."""
        session = self.client.session
        if self._capture_retry_after not in session.hooks["response"]:
            session.hooks["response"].append(self._capture_retry_after)
        listing = None
        for _attempt in range(LISTING_READS):
            self.retry_after = None
            listing = read_listing(self.client, self.params)
            if listing.complete:
                break
        return listing

    async def poll(self) -> Listing:
        """One poll, run in the worker thread."""
        loop = asyncio.get_running_loop()
        if self._executor is None:
            # One worker thread: the client's thread-local session (and its connections) is kept across polls.
            self._executor = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="vps-snapshots")
        return await loop.run_in_executor(self._executor, self._read)

    def backoff(self) -> float:
        """The pause after the latest failed poll: growing with jitter up to max_backoff, and at least Retry-After."""
        delay = CLIENT.backoff_delay(
            self.failures - 1, base=BACKOFF_FIRST, cap=self.settings["max_backoff"], rand=self.rand
        )
        if self.retry_after is not None:
            delay = max(delay, min(self.retry_after, self.settings["max_backoff"]))
        return delay

    def _fatal(self, exc) -> str | None:
        status = getattr(exc, "status", None)
        if status in FATAL_STATUSES:
            return (
                f"the API refused the token (HTTP {status}): {exc.message.rstrip('.')}. "
                "Check api_token or VPS_API_TOKEN (and that it may list snapshots)"
            )
        if (
            status is not None
            and 400 <= status < 500
            and status not in TRANSIENT_4XX
            and not self.tracker.baseline_done
        ):
            return (
                f"the first poll was refused (HTTP {status} on GET {self.where()}/snapshots/): "
                f"{exc.message.rstrip('.')}. Check api_url and server_id"
            )
        return None

    async def run(self):
        """Poll until cancelled."""
        scope = (
            f"server {self.settings['server_id']}"
            if self.settings["server_id"] is not None
            else "every server of the account"
        )
        LOG.info(
            "%s: watching the snapshots of %s at %s every %ss",
            SOURCE_NAME,
            scope,
            self.where(),
            self.settings["interval"],
        )
        for warning in self.client.warnings:
            LOG.warning("%s: %s", SOURCE_NAME, warning)
        try:
            while True:
                await self.step()
        finally:
            if self._executor is not None:
                self._executor.shutdown(wait=False, cancel_futures=True)

    async def step(self):
        """One poll, its events, and the pause after it."""
        try:
            listing = await self.poll()
        except CLIENT.VpsApiError as exc:
            fatal = self._fatal(exc)
            if fatal:
                raise VpsSourceError(f"{SOURCE_NAME}: {fatal}") from None
            await self._failed(str(exc), exc.status)
            return
        except Exception as exc:  # noqa: BLE001  # pylint: disable=broad-exception-caught
            # Anything else the transport raises (a proxy, a socket): logged, and polled again.
            await self._failed(f"{type(exc).__name__}: {exc}", None)
            return
        self.polls += 1
        if self.failures:
            LOG.warning("%s: the API answers again after %d failed poll(s)", SOURCE_NAME, self.failures)
            self.failures = 0
        if listing.problems:
            LOG.warning(
                "%s: the listing held %d entr%s that are not snapshots, ignored (first: %s); nothing is taken as "
                "deleted from this listing",
                SOURCE_NAME,
                len(listing.problems),
                "y" if len(listing.problems) == 1 else "ies",
                listing.problems[0],
            )
        elif not listing.complete:
            LOG.warning(
                "%s: the listing changed while it was read, %d times in a row; nothing is taken as deleted from it",
                SOURCE_NAME,
                LISTING_READS,
            )
        baseline = not self.tracker.baseline_done
        events = self.tracker.update(listing.items, listing.complete, self.now())
        if baseline and self.tracker.baseline_done:
            LOG.info(
                "%s: baseline of %d snapshot(s) on %d server(s)",
                SOURCE_NAME,
                len(self.tracker.snapshots),
                len(self.tracker.servers),
            )
        for event in events:
            await self.queue.put(event)
        await self.sleep(self.settings["interval"])

    async def _failed(self, message, status):
        self.failures += 1
        delay = self.backoff()
        level = (
            logging.ERROR
            if status is not None and 400 <= status < 500 and status not in TRANSIENT_4XX
            else logging.WARNING
        )
        LOG.log(
            level,
            "%s: poll failed (%s); polling again in %.1fs (failed %d time(s) in a row%s)",
            SOURCE_NAME,
            message,
            delay,
            self.failures,
            ", as Retry-After asks" if self.retry_after is not None and delay >= self.retry_after else "",
        )
        await self.sleep(delay)


async def main(queue: asyncio.Queue, args: dict[str, Any]) -> None:
    """Entry point of ansible-rulebook: poll until cancelled; raise VpsSourceError on what cannot heal."""
    settings = parse_args(args)
    await SnapshotSource(queue, settings).run()


if __name__ == "__main__":
    # Run outside ansible-rulebook: print the events (VPS_API_URL and VPS_API_TOKEN from the environment).

    class _PrintQueue:
        async def put(self, event):  # pylint: disable=missing-function-docstring
            print(event)

    logging.basicConfig(level=logging.INFO)
    asyncio.run(main(_PrintQueue(), {"interval": 10, "emit_existing": True}))
