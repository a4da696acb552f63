"""Simulator: runs the Flask app on a threaded werkzeug server in a background thread."""

import logging
import os
import socket
import ssl
import tempfile
import threading
import time

from werkzeug.serving import WSGIRequestHandler, make_server

from .app import API, DROP_KEY, create_app
from .faults import FAULT_NAMES, SCOPE, Faults
from . import settings as settings_mod
from .log import RequestLog
from .ratelimit import TokenBucket
from .state import Store, load_seed_file


class _QuietHandler(WSGIRequestHandler):
    """No per-request access log lines (the request log is the record); errors still go to stderr."""

    def log_request(self, code="-", size="-"):
        if self.server.verbose:
            super().log_request(code, size)


class _DropMiddleware:
    """Closes the connection without any response when the app flagged the request.

    The app has already applied the request; we shut the socket down and raise a
    ConnectionError, which werkzeug treats as a dropped connection (no 500, no
    traceback), so the client sees a connection error.
    """

    def __init__(self, app):
        self.app = app

    def __call__(self, environ, start_response):
        captured = []

        def capture(status, headers, exc_info=None):
            captured.append((status, headers, exc_info))
            return lambda data: None

        body = self.app(environ, capture)
        if not environ.get(DROP_KEY):
            start_response(*captured[0])
            return body
        if hasattr(body, "close"):
            body.close()
        sock = environ.get("werkzeug.socket")
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        raise ConnectionAbortedError("vps_simulator: connection dropped on purpose (drop_after_post or drop_after_apply)")


class Simulator:
    """The provider's Snapshots API on 127.0.0.1; see tools/vps_simulator/README.md."""

    def __init__(
        self,
        tokens=("demo-token",),
        servers=None,
        host="127.0.0.1",
        port=0,
        time_scale=1.0,
        create_seconds=None,
        restore_seconds=None,
        page_size=20,
        state_file=None,
        tls=False,
        cert_dir=None,
        random_seed=None,
        seed_file=None,
        verbose=False,
        faults=None,
        create_spread=None,
        restore_spread=None,
        create_seconds_by_server=None,
        restore_seconds_by_server=None,
        after_restore="running",
        after_restore_by_server=None,
        snapshotting_during_create=False,
        server_restore_detail=False,
        rate_limit_rps=None,
        rate_limit_bucket=None,
        settings=None,
        clock=None,
        **fault_settings,
    ):
        if isinstance(tokens, str):
            tokens = [tokens]
        self.tokens = list(tokens)
        if not self.tokens:
            raise ValueError("at least one token is required")
        if isinstance(servers, (str, os.PathLike)):
            seed_file, servers = servers, None
        if seed_file is not None:
            servers = load_seed_file(seed_file)
        given = {
            "time_scale": time_scale,
            "create_seconds": create_seconds,
            "restore_seconds": restore_seconds,
            "create_spread": create_spread,
            "restore_spread": restore_spread,
            "create_seconds_by_server": create_seconds_by_server,
            "restore_seconds_by_server": restore_seconds_by_server,
            "after_restore": after_restore,
            "after_restore_by_server": after_restore_by_server,
            "snapshotting_during_create": snapshotting_during_create,
            "server_restore_detail": server_restore_detail,
            "page_size": page_size,
            "rate_limit_rps": rate_limit_rps,
            "rate_limit_bucket": rate_limit_bucket,
        }
        given.update(settings or {})
        # The settings the simulator starts with: reset(settings=True) goes back to them.
        self._initial_settings = settings_mod.parse(given)
        self.host, self.port = host, int(port)
        self.tls, self.cert_dir, self.verbose = bool(tls), cert_dir, verbose
        self.ca_bundle = None
        store_settings = {k: v for k, v in self._initial_settings.items() if k in settings_mod.STORE_DEFAULTS}
        self.store = Store(servers=servers, state_file=state_file, random_seed=random_seed, clock=clock or time.time, **store_settings)
        self.page_size = self._initial_settings["page_size"]
        self.limiter = TokenBucket(self._initial_settings["rate_limit_rps"], self._initial_settings["rate_limit_bucket"], clock=clock or time.monotonic)
        initial_faults = dict(faults or {})
        initial_faults.update(fault_settings)
        unknown = set(initial_faults) - set(FAULT_NAMES) - set(SCOPE)
        if unknown:
            raise TypeError(f"unexpected argument(s): {', '.join(sorted(unknown))}")
        if random_seed is not None:
            initial_faults.setdefault("random_seed", random_seed)
        self.faults = Faults(**initial_faults)
        self._rate = {k: self._initial_settings[k] for k in ("rate_limit_rps", "rate_limit_bucket")}
        self.log = RequestLog()
        self.app = create_app(self)
        self.app.wsgi_app = _DropMiddleware(self.app.wsgi_app)
        self._server = None
        self._thread = None
        self.base_url = None

    # -- lifecycle -------------------------------------------------------------
    def _ssl_context(self):
        import trustme  # pylint: disable=import-outside-toplevel  # only needed with TLS

        ca = trustme.CA()
        cert = ca.issue_cert("127.0.0.1", "localhost")
        if self.cert_dir is None:
            self.cert_dir = tempfile.mkdtemp(prefix="vps-sim-tls-")
        os.makedirs(self.cert_dir, exist_ok=True)
        self.ca_bundle = os.path.join(self.cert_dir, "ca.pem")
        ca.cert_pem.write_to_path(self.ca_bundle)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        cert.configure_cert(ctx)
        return ctx

    def start(self):
        if self._server is not None:
            return self
        ctx = self._ssl_context() if self.tls else None
        self._server = make_server(self.host, self.port, self.app, threaded=True, ssl_context=ctx, request_handler=_QuietHandler)
        self._server.verbose = self.verbose
        if self.verbose:
            logging.getLogger("werkzeug").setLevel(logging.INFO)
        self.port = self._server.server_port
        shown = "127.0.0.1" if self.host in ("0.0.0.0", "") else self.host
        self.base_url = f"{'https' if ctx else 'http'}://{shown}:{self.port}{API}"
        # A short poll interval keeps stop() fast (it waits for the serving loop to notice); 10 ms
        # costs next to nothing while idle and saves ~40 ms per stop (test suites start hundreds).
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.01}, name="vps-simulator", daemon=True)
        self._thread.start()
        return self

    def stop(self):
        if self._server is None:
            return
        self._server.shutdown()
        self._thread.join(timeout=10)
        self._server.server_close()
        self._server = self._thread = None
        self.store.close()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    @property
    def root_url(self):
        """http(s)://host:port (the control API lives under /_sim/)."""
        return self.base_url[: -len(API)] if self.base_url else None

    # -- controls (same names as the HTTP control API) ---------------------------
    def set_faults(self, **settings):
        self.faults.set(**settings)
        return self.faults.describe()

    def set_settings(self, **settings):
        """Change provider settings at run time (names: settings.SETTING_NAMES); returns them all."""
        parsed = settings_mod.parse(settings)
        store_part = {k: v for k, v in parsed.items() if k in settings_mod.STORE_DEFAULTS}
        if store_part:
            self.store.configure(**store_part)
        if "page_size" in parsed:
            self.page_size = parsed["page_size"]
        if "rate_limit_rps" in parsed or "rate_limit_bucket" in parsed:
            # Only rps given: keep the bucket size asked for before (None: one second's worth).
            self._rate = {**self._rate, **{k: v for k, v in parsed.items() if k.startswith("rate_limit_")}}
            self.limiter.configure(self._rate["rate_limit_rps"], self._rate["rate_limit_bucket"])
        return self.settings()

    def settings(self):
        """All provider settings (JSON-friendly), for GET /_sim/settings."""
        values = {**self.store.settings(), "page_size": self.page_size, **self._rate}
        return settings_mod.describe(values)

    def reset(self, state=False, log=False, settings=False):
        """Clear all faults; with state=True also back to the seed servers and no snapshots;
        settings=True: back to the settings the simulator was started with (and a full rate-limit bucket)."""
        self.faults.reset()
        if state:
            self.store.reset()
        if log:
            self.log.clear()
        if settings:
            self._rate = {"rate_limit_rps": None, "rate_limit_bucket": None}
            self.set_settings(**self._initial_settings)

    def request_log(self):
        return self.log.entries()

    def clear_log(self):
        self.log.clear()

    def snapshots(self):
        return self.store.dump()["snapshots"]

    def servers(self):
        return self.store.dump()["servers"]

    def state(self):
        return {**self.store.dump(), "faults": self.faults.describe(), "settings": self.settings(), "rate_limit": self.limiter.describe()}

    def holds(self):
        """Servers in a timed status (set_server_status with hold_seconds, or a restore) that is not over yet."""
        return self.store.holds()

    def set_server_status(self, server_id, status, name=None, hold_seconds=None, then=None):
        """Force a server's status (creates it when name is given); with hold_seconds it lasts that
        long, then the server is `then` (default running)."""
        return self.store.set_server_status(int(server_id), status, name=name, hold_seconds=hold_seconds, then=then)

    def add_snapshots(self, server_id, count, status="completed"):
        return self.store.add_snapshots(int(server_id), int(count), status=status)

    def seed_snapshots(self, server_id, specs, spacing=60.0, days_old=0.0):
        """Snapshots with exact names and statuses, oldest first (see SnapshotStore.seed_snapshots)."""
        return self.store.seed_snapshots(int(server_id), specs, spacing=spacing, days_old=days_old)

    def add_servers(
        self,
        count,
        snapshots_per_server=0,
        status="completed",
        start_id=None,
        create_seconds=None,
        create_spread=None,
        restore_seconds=None,
        restore_spread=None,
        after_restore=None,
    ):
        return self.store.add_servers(
            int(count),
            int(snapshots_per_server),
            status=status,
            start_id=start_id,
            create_seconds=create_seconds,
            create_spread=create_spread,
            restore_seconds=restore_seconds,
            restore_spread=restore_spread,
            after_restore=after_restore,
        )


# werkzeug logs "Error on request" through this logger; keep it but not the info noise.
logging.getLogger("werkzeug").setLevel(logging.WARNING)
