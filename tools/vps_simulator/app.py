"""Flask application: the provider's Snapshots API under /api/v1 plus the /_sim control API.

Edge faults (latency, 429, 502/503, HTML proxy errors) and the provider's rate limit
(a token bucket, a setting) run before routing and authentication, as a proxy in front
of the real service would; body faults and dropped connections run after the real
handler, so the request is applied (late_answer too: the answer waits, the change does not). restore_refused and create_busy are decided by the
store, at the point where the request would otherwise be applied.
"""

import hmac
import json
import math
import time
from urllib.parse import urlencode

from flask import Flask, Response, g, jsonify, request
from werkzeug.exceptions import HTTPException
from werkzeug.routing import RequestRedirect

from .state import NAME_RE, NotFound, Rejected

API = "/api/v1"
CONTROL = "/_sim"
DROP_KEY = "vps_simulator.drop"
CREATE_MESSAGE = "Snapshot is being created. This may take 3-10 minutes depending on server size."
RESTORE_MESSAGE = "Server is being restored from snapshot. This may take 5-15 minutes."
HTML_ERROR = """<html>
<head><title>502 Bad Gateway</title></head>
<body>
<center><h1>502 Bad Gateway</h1></center>
<hr><center>nginx</center>
</body>
</html>
"""
# Per-server options of bulk seeding (POST /_sim/seed with "servers").
SEED_SERVER_OPTIONS = ("create_seconds", "create_spread", "restore_seconds", "restore_spread", "after_restore")
EDGE_ERRORS = {502: "Bad Gateway: the upstream server is unavailable.", 503: "Service temporarily unavailable, try again later."}


def _json(body, status=200, headers=None):
    resp = jsonify(body)
    resp.status_code = status
    if headers:
        resp.headers.update(headers)
    return resp


def _read_json():
    """(parsed body, error response); the body must be a JSON object."""
    raw = request.get_data(cache=True)
    try:
        body = json.loads(raw) if raw.strip() else None
    except ValueError as exc:
        return None, _json({"detail": f"JSON parse error - {exc}"}, 400)
    if not isinstance(body, dict):
        kind = "no data" if body is None else type(body).__name__
        return None, _json({"non_field_errors": [f"Invalid data. Expected a dictionary, but got {kind}."]}, 400)
    return body, None


def _validate_create(body):
    """Per-field error lists like the provider's framework would produce."""
    errors = {}
    server_id = body.get("server_id")
    if "server_id" not in body or server_id is None:
        errors["server_id"] = ["This field is required."]
    elif isinstance(server_id, bool) or not isinstance(server_id, int):
        errors["server_id"] = ["A valid integer is required."]
    name = body.get("name")
    if "name" not in body or name is None:
        errors["name"] = ["This field is required."]
    elif not isinstance(name, str):
        errors["name"] = ["Not a valid string."]
    elif not name:
        errors["name"] = ["This field may not be blank."]
    elif not NAME_RE.fullmatch(name):
        errors["name"] = ["Enter a valid name consisting of letters, numbers, underscores or hyphens."]
    if "description" in body and not isinstance(body["description"], str):
        errors["description"] = ["Not a valid string."]
    return errors


def _error_words(resp):
    """The provider's words in an error answer, for the request log: its detail or error, else the whole body."""
    body = resp.get_json(silent=True) if resp.is_json else None
    if isinstance(body, dict):
        for key in ("detail", "error", "message"):
            if isinstance(body.get(key), str):
                return body[key]
        return json.dumps(body)
    return resp.get_data(as_text=True)[:300] if not resp.is_streamed else None


def _page_url(page):
    """Absolute URL of another page of the current list, DRF style (page 1 has no page=)."""
    args = [(k, v) for k, v in request.args.items(multi=True) if k != "page"]
    if page > 1:
        args.append(("page", str(page)))
    query = urlencode(args)
    return request.base_url + ("?" + query if query else "")


def _authorised(tokens):
    header = request.headers.get("Authorization", "")
    scheme, dummy, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return _json({"detail": "Authentication credentials were not provided."}, 401, {"WWW-Authenticate": "Bearer"})
    token = token.strip().encode()
    # compare_digest on every token: no early exit that would leak timing.
    if not any(hmac.compare_digest(token, t.encode()) for t in tokens):
        return _json({"detail": "Invalid token."}, 401, {"WWW-Authenticate": "Bearer"})
    return None


def create_app(sim):
    """Build the Flask app around a simulator (needs .store, .faults, .limiter, .log, .tokens, .page_size)."""
    app = Flask("vps_simulator")
    app.json.sort_keys = False  # keep the contract's field order
    store, faults = sim.store, sim.faults

    @app.before_request
    def edge():
        g.faults = []
        g.applied = True
        path, method = request.path, request.method
        if not path.startswith(API + "/"):
            return None
        latency = faults.level("latency", method, path)
        if latency:
            g.faults.append("latency")
            time.sleep(latency)
        early = None
        # The provider's own rate limit (a setting) comes first: a throttled request takes no token.
        if (wait := sim.limiter.take()) is not None:
            g.faults.append("rate_limited")
            early = _json({"detail": f"Request was throttled. Expected available in {wait} seconds."}, 429, {"Retry-After": str(wait)})
        elif faults.take("rate_limit_burst", method, path):
            g.faults.append("rate_limit")
            retry = faults.retry_after
            early = _json({"detail": f"Request was throttled. Expected available in {retry:g} seconds."}, 429, {"Retry-After": str(math.ceil(retry))})
        elif (code := faults.roll_error(method, path)) is not None:
            g.faults.append("error_rate")
            early = _json({"detail": EDGE_ERRORS[code]}, code)
        elif faults.take("html_error", method, path):
            g.faults.append("html_error")
            early = Response(HTML_ERROR, 502, mimetype="text/html")
        if early is not None:
            g.applied = False
            return early
        # Every API path ends with a slash: no redirect from the slash-less form, a plain 404.
        if isinstance(request.routing_exception, RequestRedirect):
            return _json({"detail": "Not found."}, 404)
        if request.url_rule is None:
            return None  # let Flask raise its 404/405, rendered as JSON below
        if request.endpoint == "get_server" and faults.servers_endpoint != "ok":
            g.faults.append("servers_endpoint")
            if faults.servers_endpoint == "405":
                return _json({"detail": f'Method "{method}" not allowed.'}, 405, {"Allow": "OPTIONS"})
            return _json({"detail": "Not found."}, 404)
        return _authorised(sim.tokens)

    @app.after_request
    def finish(resp):
        path, method = request.path, request.method
        if path.startswith(CONTROL + "/"):
            return resp
        if path.startswith(API + "/") and g.get("applied", True):
            if method == "POST" and faults.take("drop_after_post", method, path):
                g.faults.append("drop_after_post")
                request.environ[DROP_KEY] = True
            elif faults.take("drop_after_apply", method, path):
                # Any method (scope it with methods): handled by the service, then no answer at all.
                g.faults.append("drop_after_apply")
                request.environ[DROP_KEY] = True
            elif faults.take("non_json", method, path):
                g.faults.append("non_json")
                resp = Response("upstream: OK <garbage> \x00{not json", 200, mimetype="text/plain")
            elif faults.take("truncated", method, path):
                g.faults.append("truncated")
                data = resp.get_data()
                resp.set_data(data[: len(data) // 2])
        if path.startswith(API + "/") and g.get("applied", True) and faults.level("late_answer", method, path):
            g.faults.append("late_answer")
        entry = {
            "method": method,
            "path": path,
            "query": request.args.to_dict(flat=True),
            "status": resp.status_code,
            "fault": ",".join(g.get("faults", [])) or None,
            "applied": g.get("applied", True),
        }
        if method == "POST":
            try:
                entry["body"] = json.loads(request.get_data(cache=True) or b"null")
            except ValueError:
                entry["body"] = None
        if resp.status_code >= 400 and path.startswith(API + "/"):
            entry["error"] = _error_words(resp)
        sim.log.add(**entry)
        late = faults.level("late_answer", method, path) if path.startswith(API + "/") and g.get("applied", True) else 0
        if late:
            # Applied (and logged) already: only the answer is late, so a client that gives up first misses it.
            time.sleep(late)
        return resp

    @app.errorhandler(HTTPException)
    def http_error(exc):
        detail = {404: "Not found.", 405: f'Method "{request.method}" not allowed.'}.get(exc.code, exc.description)
        resp = _json({"detail": detail}, exc.code)
        if exc.code == 405:
            resp.headers["Allow"] = ", ".join(exc.valid_methods or [])
        return resp

    @app.errorhandler(Exception)
    def unexpected(exc):  # a bug in the simulator: still answer JSON, never a traceback
        app.logger.exception("unexpected error: %s", exc)
        return _json({"detail": "Internal server error."}, 500)

    # -- the provider's API -----------------------------------------------------
    @app.get(API + "/snapshots/")
    def list_snapshots():
        server_id = request.args.get("server_id")
        if server_id is not None:
            try:
                server_id = int(server_id)
            except ValueError:
                return _json({"server_id": ["A valid integer is required."]}, 400)
        try:
            page = int(request.args.get("page", "1"))
        except ValueError:
            page = 0
        size = sim.page_size
        # Only this page's views are built (from a cached newest-first order); an
        # out-of-range page is an empty slice, answered 404 below.
        count, results = store.list_page(server_id, max(0, page - 1) * size, size)
        pages = max(1, math.ceil(count / size))
        if not 1 <= page <= pages:
            return _json({"detail": "Invalid page."}, 404)
        return _json(
            {
                "count": count,
                "next": _page_url(page + 1) if page < pages else None,
                "previous": _page_url(page - 1) if page > 1 else None,
                "results": results,
            }
        )

    @app.post(API + "/snapshots/")
    def create_snapshot():
        body, error = _read_json()
        if error is not None:
            return error
        errors = _validate_create(body)
        if errors:
            return _json(errors, 400)
        failed, busy = [], []

        def fail():
            # Consulted by the store only once the snapshot will really be created,
            # so a 400/404 does not use up a fail_next.
            failed.append(faults.take("fail_next", request.method, request.path))
            return failed[-1]

        def refuse_busy():
            # Consulted only when the server exists and is running or stopped.
            busy.append(faults.take("create_busy", request.method, request.path))
            return busy[-1]

        try:
            snap = store.create_snapshot(body["server_id"], body["name"], body.get("description", ""), fail=fail, busy=refuse_busy)
        except NotFound as exc:
            return _json({"detail": str(exc)}, 404)
        except Rejected as exc:
            if any(busy):
                g.faults.append("create_busy")
                g.applied = False
            return _json({"error": str(exc)}, 400)
        if any(failed):
            g.faults.append("fail_next")
        return _json({**snap, "message": CREATE_MESSAGE}, 201)

    @app.post(API + "/snapshots/<int:snapshot_id>/restore/")
    def restore_snapshot(snapshot_id):
        refused = []

        def refuse():
            # Consulted only when the restore would otherwise start.
            refused.append(faults.take("restore_refused", request.method, request.path))
            return refused[-1]

        try:
            snap, server = store.restore(snapshot_id, refuse=refuse)
        except NotFound as exc:
            return _json({"detail": str(exc)}, 404)
        except Rejected as exc:
            if any(refused):
                g.faults.append("restore_refused")
                g.applied = False
            return _json({"error": str(exc)}, 400)
        return _json(
            {
                "status": "success",
                "message": RESTORE_MESSAGE,
                "snapshot": {"id": snap["id"], "name": snap["name"], "created_at": snap["created_at"]},
                "server": server,
            }
        )

    @app.delete(API + "/snapshots/<int:snapshot_id>/")
    def delete_snapshot(snapshot_id):
        try:
            store.delete_snapshot(snapshot_id)
        except NotFound as exc:
            return _json({"detail": str(exc)}, 404)
        return Response(status=204)

    @app.get(API + "/servers/<int:server_id>/", endpoint="get_server")
    def get_server(server_id):
        try:
            return _json(store.get_server(server_id))
        except NotFound as exc:
            return _json({"detail": str(exc)}, 404)

    register_control(app, sim)
    return app


def register_control(app, sim):
    """/_sim/...: unauthenticated test controls, never logged."""
    store = sim.store

    def body_or_empty():
        data = request.get_json(silent=True)
        return data if isinstance(data, dict) else {}

    @app.get(CONTROL + "/health")
    def control_health():
        return _json({"ok": True, "base_url": sim.base_url})

    @app.route(CONTROL + "/faults", methods=["GET", "POST"])
    def control_faults():
        if request.method == "POST":
            try:
                sim.set_faults(**body_or_empty())
            except ValueError as exc:
                return _json({"detail": str(exc)}, 400)
        return _json(sim.faults.describe())

    @app.route(CONTROL + "/settings", methods=["GET", "POST"])
    def control_settings():
        if request.method == "POST":
            try:
                sim.set_settings(**body_or_empty())
            except ValueError as exc:
                return _json({"detail": str(exc)}, 400)
        return _json(sim.settings())

    @app.post(CONTROL + "/reset")
    def control_reset():
        body = body_or_empty()
        sim.reset(state=bool(body.get("state", False)), log=bool(body.get("log", False)), settings=bool(body.get("settings", False)))
        return _json({"ok": True})

    @app.get(CONTROL + "/state")
    def control_state():
        return _json(sim.state())

    @app.route(CONTROL + "/servers/<int:server_id>", methods=["GET", "POST"])
    def control_server(server_id):
        try:
            if request.method == "GET":
                return _json(store.get_server(server_id))
            body = body_or_empty()
            if not isinstance(body.get("status"), str):
                return _json({"detail": "status (string) is required"}, 400)
            return _json(
                store.set_server_status(server_id, body["status"], name=body.get("name"), hold_seconds=body.get("hold_seconds"), then=body.get("then"))
            )
        except NotFound as exc:
            return _json({"detail": str(exc)}, 404)
        except ValueError as exc:
            return _json({"detail": str(exc)}, 400)

    @app.post(CONTROL + "/seed")
    def control_seed():
        body = body_or_empty()
        status = body.get("status", "completed")
        try:
            if "server_id" in body:
                ids = store.add_snapshots(int(body["server_id"]), int(body.get("count", 1)), status=status)
                return _json({"snapshot_ids": ids, "count": len(ids)}, 201)
            per_server = {k: body[k] for k in SEED_SERVER_OPTIONS if body.get(k) is not None}
            ids = store.add_servers(
                int(body.get("servers", 0)), int(body.get("snapshots_per_server", 0)), status=status, start_id=body.get("start_id"), **per_server
            )
            return _json({"server_ids": ids, "count": len(ids)}, 201)
        except NotFound as exc:
            return _json({"detail": str(exc)}, 404)
        except (TypeError, ValueError) as exc:
            return _json({"detail": str(exc)}, 400)

    @app.route(CONTROL + "/log", methods=["GET", "DELETE"])
    def control_log():
        if request.method == "DELETE":
            sim.clear_log()
            return Response(status=204)
        return _json(sim.request_log())
