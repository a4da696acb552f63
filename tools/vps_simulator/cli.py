"""Command line: `serve` runs a simulator, `ctl` drives a running one via /_sim/."""

import argparse
import json
import os
import signal
import ssl
import sys
import threading
import urllib.error
import urllib.request

from .app import API
from .server import Simulator
from .settings import AFTER_RESTORE_STATUSES, SETTING_NAMES

FAULT_FLAGS = (
    # (flag, dest, type, help)
    ("--error-rate", "error_rate", float, "fraction (0..1) of API requests answered 502/503, not applied"),
    ("--rate-limit-burst", "rate_limit_burst", int, "the next N API requests get 429"),
    ("--retry-after", "retry_after", float, "Retry-After seconds sent with 429 (default 1)"),
    ("--latency", "latency", float, "seconds added before answering"),
    ("--drop-after-post", "drop_after_post", int, "the next N POSTs are applied, then the connection is dropped"),
    (
        "--drop-after-apply",
        "drop_after_apply",
        int,
        "the next N requests that reach the service (any method; scope with --methods) are applied, then the connection is dropped",
    ),
    ("--late-answer", "late_answer", float, "seconds added after a request is applied, before its answer"),
    ("--fail-next", "fail_next", int, "the next N created snapshots end failed"),
    ("--truncated", "truncated", int, "the next N responses have their JSON body cut in half"),
    ("--non-json", "non_json", int, "the next N responses are 200 text/plain garbage"),
    ("--html-error", "html_error", int, "the next N responses are a 502 HTML proxy page"),
    ("--restore-refused", "restore_refused", int, "the next N restores that would start are refused 400 for a reason other than the server's state"),
    ("--create-busy", "create_busy", int, "the next N creations that would start are refused 400 'Server is busy'"),
    ("--servers-endpoint", "servers_endpoint", str, "GET /servers/{id}/ behaviour: ok, 404 or 405"),
    ("--random-seed", "random_seed", int, "seed for error_rate (and sizes/durations with serve)"),
)


_SPREAD = {"type": float, "nargs": 2, "metavar": ("MIN", "MAX")}
_SWITCH = {"nargs": "?", "const": "on", "metavar": "on|off"}
SETTING_FLAGS = (
    # (flag, dest, argparse options, help); provider settings, kept by a plain reset
    ("--time-scale", "time_scale", {"type": float}, "multiplies the provider's 3-10 min create / 5-15 min restore (default 1)"),
    ("--create-seconds", "create_seconds", {"type": float}, "fixed create duration"),
    ("--restore-seconds", "restore_seconds", {"type": float}, "fixed restore duration"),
    ("--create-spread", "create_spread", _SPREAD, "create duration drawn per server in [MIN, MAX] seconds from --random-seed (beats --create-seconds)"),
    ("--restore-spread", "restore_spread", _SPREAD, "restore duration drawn per server in [MIN, MAX] seconds"),
    (
        "--create-seconds-by-server",
        "create_seconds_by_server",
        {"action": "append", "metavar": "ID=SECONDS"},
        "create duration of one server (repeatable; beats everything else)",
    ),
    ("--restore-seconds-by-server", "restore_seconds_by_server", {"action": "append", "metavar": "ID=SECONDS"}, "restore duration of one server (repeatable)"),
    ("--after-restore", "after_restore", {"choices": AFTER_RESTORE_STATUSES}, "the server's status once a restore ends (default running)"),
    ("--after-restore-by-server", "after_restore_by_server", {"action": "append", "metavar": "ID=STATUS"}, "after-restore status of one server (repeatable)"),
    (
        "--snapshotting-during-create",
        "snapshotting_during_create",
        _SWITCH,
        "servers read 'snapshotting' while one of their snapshots is in progress (default off)",
    ),
    ("--server-restore-detail", "server_restore_detail", _SWITCH, "GET /servers/{id}/ of a restoring server carries restoring_from (default off)"),
    ("--rate-limit-rps", "rate_limit_rps", {"type": float}, "provider rate limit: R requests per second over all /api/v1/ requests (default off)"),
    ("--rate-limit-bucket", "rate_limit_bucket", {"type": int}, "burst of the rate limit: bucket size (default: one second's worth, at least 1)"),
    ("--page-size", "page_size", {"type": int}, "list page size (default 20)"),
)


def _add_setting_flags(parser):
    for flag, dest, options, text in SETTING_FLAGS:
        parser.add_argument(flag, dest=dest, default=None, help=text, **options)


def _settings(args):
    settings = {dest: getattr(args, dest) for dummy, dest, dummy2, dummy3 in SETTING_FLAGS if getattr(args, dest) is not None}
    for name in getattr(args, "unset", None) or ():
        settings[name] = None
    return settings


def _add_fault_flags(parser):
    for flag, dest, kind, text in FAULT_FLAGS:
        parser.add_argument(flag, dest=dest, type=kind, default=None, help=text)
    parser.add_argument("--methods", default=None, help="scope the faults of this command to methods, e.g. POST,DELETE")
    parser.add_argument("--path", default=None, help="scope the faults of this command to paths matching this regex")


def _fault_settings(args):
    dests = [flag[1] for flag in FAULT_FLAGS]
    settings = {dest: getattr(args, dest) for dest in dests if getattr(args, dest) is not None}
    if settings and args.methods:
        settings["methods"] = args.methods
    if settings and args.path:
        settings["path"] = args.path
    return settings


def build_parser():
    parser = argparse.ArgumentParser(prog="python -m vps_simulator", description="VPS Snapshots API simulator")
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="run the simulator until SIGTERM/SIGINT")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=0, help="0 picks a free port")
    serve.add_argument("--token", action="append", dest="tokens", help='accepted bearer token (repeatable; default "demo-token")')
    serve.add_argument("--seed", help="YAML or JSON list of servers {id, name, status}")
    serve.add_argument("--state-file", help="SQLite file; resume state across restarts")
    serve.add_argument("--tls", action="store_true", help="HTTPS with a throwaway CA (trustme)")
    serve.add_argument("--cert-dir", help="where the CA bundle ca.pem is written (default: a temp dir)")
    serve.add_argument("--url-file", help="write the base URL here once listening")
    serve.add_argument("--verbose", action="store_true", help="log every request line to stderr")
    _add_setting_flags(serve)
    _add_fault_flags(serve)

    ctl = sub.add_parser("ctl", help="control a running simulator")
    ctl.add_argument("--url", required=True, help="base URL (…/api/v1) or root URL of the simulator")
    ctl.add_argument("--ca-bundle", help="CA PEM to verify an HTTPS simulator")
    ctl.add_argument("--insecure", action="store_true", help="do not verify TLS")
    actions = ctl.add_subparsers(dest="action", required=True)
    faults = actions.add_parser("faults", help="set faults (no flags: show them)")
    _add_fault_flags(faults)
    settings = actions.add_parser("settings", help="change provider settings (no flags: show them)")
    _add_setting_flags(settings)
    settings.add_argument(
        "--unset", action="append", choices=SETTING_NAMES, metavar="NAME", help="back to the provider default (repeatable), e.g. --unset create_spread"
    )
    reset = actions.add_parser("reset", help="clear faults")
    reset.add_argument("--state", action="store_true", help="also back to the seed servers, no snapshots")
    reset.add_argument("--log", action="store_true", help="also clear the request log")
    reset.add_argument("--settings", action="store_true", help="also back to the settings the simulator started with")
    actions.add_parser("state", help="print servers, snapshots and faults")
    log = actions.add_parser("log", help="print the request log")
    log.add_argument("--clear", action="store_true")
    server = actions.add_parser("server", help="set a server's status")
    server.add_argument("server_id", type=int)
    server.add_argument("--status", required=True)
    server.add_argument("--hold-seconds", type=float, help="the status lasts this long, then the server is --then")
    server.add_argument("--then", help="status after --hold-seconds (default running)")
    server.add_argument("--name", help="also rename (creates the server if missing)")
    seed = actions.add_parser("seed", help="bulk seeding, bypassing the 5-snapshot limit")
    seed.add_argument("--servers", type=int, default=0, help="add K servers ...")
    seed.add_argument("--snapshots-per-server", type=int, default=0, help="... with N snapshots each")
    seed.add_argument("--server-id", type=int, help="or add --count snapshots to this existing server")
    seed.add_argument("--count", type=int, default=1)
    seed.add_argument("--status", default="completed", choices=["completed", "failed", "in_progress"])
    seed.add_argument("--create-seconds", type=float, help="with --servers: the new servers' create duration")
    seed.add_argument("--create-spread", **_SPREAD, help="with --servers: create durations drawn per server")
    seed.add_argument("--restore-seconds", type=float, help="with --servers: the new servers' restore duration")
    seed.add_argument("--restore-spread", **_SPREAD, help="with --servers: restore durations drawn per server")
    seed.add_argument("--after-restore", choices=AFTER_RESTORE_STATUSES, help="with --servers: status after a restore")
    return parser


def make_simulator(args):
    """The (not yet started) Simulator that `serve` runs for these parsed arguments."""
    return Simulator(
        tokens=args.tokens or ["demo-token"],
        seed_file=args.seed,
        host=args.host,
        port=args.port,
        state_file=args.state_file,
        tls=args.tls,
        cert_dir=args.cert_dir,
        random_seed=args.random_seed,
        verbose=args.verbose,
        settings=_settings(args),
        faults=_fault_settings(args),
    )


def serve(args):
    sim = make_simulator(args)
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda signum, frame: stop.set())
    sim.start()
    try:
        print(f"VPS simulator listening on {sim.base_url}", flush=True)
        if sim.ca_bundle:
            print(f"CA bundle: {sim.ca_bundle}", flush=True)
        if args.url_file:
            # Write then rename, so a watcher never reads a half-written URL.
            tmp = args.url_file + ".tmp"
            with open(tmp, "w", encoding="utf-8") as handle:
                handle.write(sim.base_url + "\n")
            os.replace(tmp, args.url_file)
        while not stop.wait(0.5):
            pass
    finally:
        sim.stop()
    print("VPS simulator stopped", flush=True)
    return 0


def _ctl_request(args, method, path, body=None):
    root = args.url.rstrip("/")
    if root.endswith(API):
        root = root[: -len(API)]
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(root + "/_sim" + path, data=data, method=method, headers={"Content-Type": "application/json"})
    context = None
    if root.startswith("https"):
        context = ssl.create_default_context(cafile=args.ca_bundle)
        if args.insecure:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
    with urllib.request.urlopen(req, timeout=30, context=context) as resp:
        text = resp.read().decode()
    return json.loads(text) if text else None


def ctl(args):
    if args.action == "faults":
        settings = _fault_settings(args)
        result = _ctl_request(args, "POST", "/faults", settings) if settings else _ctl_request(args, "GET", "/faults")
    elif args.action == "settings":
        settings = _settings(args)
        result = _ctl_request(args, "POST", "/settings", settings) if settings else _ctl_request(args, "GET", "/settings")
    elif args.action == "reset":
        result = _ctl_request(args, "POST", "/reset", {"state": args.state, "log": args.log, "settings": args.settings})
    elif args.action == "state":
        result = _ctl_request(args, "GET", "/state")
    elif args.action == "log":
        result = _ctl_request(args, "DELETE" if args.clear else "GET", "/log")
    elif args.action == "server":
        body = {"status": args.status}
        if args.name:
            body["name"] = args.name
        if args.hold_seconds is not None:
            body["hold_seconds"] = args.hold_seconds
        if args.then is not None:
            body["then"] = args.then
        result = _ctl_request(args, "POST", f"/servers/{args.server_id}", body)
    else:
        per_server = {
            k: getattr(args, k)
            for k in ("create_seconds", "create_spread", "restore_seconds", "restore_spread", "after_restore")
            if getattr(args, k) is not None
        }
        if args.server_id is not None:
            if per_server:
                raise ValueError("--create-seconds, --create-spread, --restore-seconds, --restore-spread and --after-restore go with --servers")
            body = {"server_id": args.server_id, "count": args.count, "status": args.status}
        else:
            body = {"servers": args.servers, "snapshots_per_server": args.snapshots_per_server, "status": args.status, **per_server}
        result = _ctl_request(args, "POST", "/seed", body)
    if result is not None:
        print(json.dumps(result, indent=2))
    return 0


def main(argv=None):
    args = build_parser().parse_args(argv)
    try:
        return serve(args) if args.command == "serve" else ctl(args)
    except urllib.error.HTTPError as exc:
        print(f"error: HTTP {exc.code}: {exc.read().decode(errors='replace')}", file=sys.stderr)
        return 1
    except (OSError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
