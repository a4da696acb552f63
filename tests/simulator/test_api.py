"""The documented API: every status code, validation case, pagination and async transitions."""

import concurrent.futures
import time

import pytest

from ansible_collections.vps.cloud.tests.harness.waiting import wait_until
from ansible_collections.vps.cloud.tests.simulator.sim_helpers import TOKEN, Client


def snapshot(api, server_id, snapshot_id):
    results = api.get("/snapshots/", params={"server_id": server_id}).json()["results"]
    return next(s for s in results if s["id"] == snapshot_id)


def test_create_201_contract_fields(api):
    resp = api.post("/snapshots/", json={"server_id": 101, "name": "before-update_1", "description": "Before update"})
    assert resp.status_code == 201
    body = resp.json()
    assert body["id"] == 801
    assert body["server"] == {"id": 101, "name": "web-01"}
    assert body["name"] == "before-update_1"
    assert body["status"] == "in_progress"
    assert body["size_mb"] is None
    assert body["description"] == "Before update"
    assert body["created_at"].endswith("Z") and "T" in body["created_at"]
    assert body["message"].startswith("Snapshot is being created")
    assert set(body) == {"id", "server", "name", "status", "size_mb", "created_at", "description", "message"}
    # ids increase; names are not unique; description is optional
    again = api.post("/snapshots/", json={"server_id": 101, "name": "before-update_1"})
    assert again.status_code == 201 and again.json()["id"] == 802 and again.json()["description"] == ""


def test_default_seed_and_get_server(api):
    assert api.get("/servers/101/").json() == {"id": 101, "name": "web-01", "status": "running"}
    assert api.get("/servers/102/").json()["name"] == "web-02"
    assert api.get("/servers/103/").json()["name"] == "db-01"
    missing = api.get("/servers/999/")
    assert missing.status_code == 404 and "detail" in missing.json()


def test_async_completion(api):
    created = api.post("/snapshots/", json={"server_id": 102, "name": "snap"}).json()
    assert snapshot(api, 102, created["id"])["status"] == "in_progress"
    done = wait_until(lambda: (s := snapshot(api, 102, created["id"]))["status"] == "completed" and s, timeout=5.0, interval=0.02)
    assert isinstance(done["size_mb"], int) and 2000 <= done["size_mb"] <= 8000


@pytest.mark.parametrize(
    "body, field",
    [
        ({"name": "x"}, "server_id"),
        ({"server_id": "101", "name": "x"}, "server_id"),
        ({"server_id": True, "name": "x"}, "server_id"),
        ({"server_id": 1.5, "name": "x"}, "server_id"),
        ({"server_id": 101}, "name"),
        ({"server_id": 101, "name": ""}, "name"),
        ({"server_id": 101, "name": "has space"}, "name"),
        ({"server_id": 101, "name": "dot.name"}, "name"),
        ({"server_id": 101, "name": "new\nline"}, "name"),
        ({"server_id": 101, "name": 7}, "name"),
        ({"server_id": 101, "name": "ok", "description": 5}, "description"),
    ],
)
def test_create_400_field_errors(api, sim, body, field):
    resp = api.post("/snapshots/", json=body)
    assert resp.status_code == 400
    errors = resp.json()
    assert isinstance(errors[field], list) and errors[field] and all(isinstance(m, str) for m in errors[field])
    assert sim.snapshots() == []


@pytest.mark.parametrize("data", [b"[1, 2]", b"not json", b"", b"null", b'"text"'])
def test_create_400_body_not_an_object(api, data):
    resp = api.post("/snapshots/", data=data, headers={"Content-Type": "application/json"})
    assert resp.status_code == 400
    assert resp.json()


def test_create_404_unknown_server(api):
    resp = api.post("/snapshots/", json={"server_id": 999, "name": "x"})
    assert resp.status_code == 404 and resp.json()["detail"]


def test_limit_counts_every_status(api, sim):
    sim.set_faults(fail_next=2)
    for i in range(5):
        assert api.post("/snapshots/", json={"server_id": 101, "name": f"s{i}"}).status_code == 201
    resp = api.post("/snapshots/", json={"server_id": 101, "name": "s6"})
    assert resp.status_code == 400
    assert "limit" in resp.json()["error"].lower()
    # other servers are not affected; deleting frees a slot
    assert api.post("/snapshots/", json={"server_id": 102, "name": "other"}).status_code == 201
    assert api.delete("/snapshots/801/").status_code == 204
    assert api.post("/snapshots/", json={"server_id": 101, "name": "s6"}).status_code == 201


def test_delete_204_and_404(api):
    sid = api.post("/snapshots/", json={"server_id": 101, "name": "x"}).json()["id"]
    resp = api.delete(f"/snapshots/{sid}/")
    assert resp.status_code == 204 and resp.content == b""
    assert api.delete(f"/snapshots/{sid}/").status_code == 404
    assert api.get("/snapshots/").json()["count"] == 0


def test_restore_cycle(api, sim):
    sid = api.post("/snapshots/", json={"server_id": 101, "name": "x"}).json()["id"]
    # not completed yet
    early = api.post(f"/snapshots/{sid}/restore/")
    assert early.status_code == 400 and early.json()["error"]
    wait_until(lambda: snapshot(api, 101, sid)["status"] == "completed", timeout=5.0, interval=0.02)
    resp = api.post(f"/snapshots/{sid}/restore/")
    assert resp.status_code == 200
    body = resp.json()
    assert body["status"] == "success" and "restored" in body["message"]
    assert body["snapshot"]["id"] == sid and body["snapshot"]["name"] == "x" and body["snapshot"]["created_at"].endswith("Z")
    assert body["server"] == {"id": 101, "name": "web-01", "status": "restoring"}
    assert api.get("/servers/101/").json()["status"] == "restoring"
    again = api.post(f"/snapshots/{sid}/restore/")
    assert again.status_code == 400 and "restoring" in again.json()["error"]
    wait_until(lambda: api.get("/servers/101/").json()["status"] == "running", timeout=5.0, interval=0.02)
    # a stopped server can be restored, a server in another state cannot
    sim.set_server_status(101, "stopped")
    assert api.post(f"/snapshots/{sid}/restore/").status_code == 200
    sim.set_server_status(101, "provisioning")
    assert api.post(f"/snapshots/{sid}/restore/").status_code == 400


def test_restore_404_and_failed_snapshot(api, sim):
    assert api.post("/snapshots/12345/restore/").status_code == 404
    sim.set_faults(fail_next=1)
    sid = api.post("/snapshots/", json={"server_id": 103, "name": "x"}).json()["id"]
    failed = wait_until(lambda: (s := snapshot(api, 103, sid))["status"] == "failed" and s, timeout=5.0, interval=0.02)
    assert failed["size_mb"] is None
    assert api.post(f"/snapshots/{sid}/restore/").status_code == 400


@pytest.mark.parametrize(
    "method, path",
    [
        ("GET", "/snapshots"),
        ("POST", "/snapshots"),
        ("DELETE", "/snapshots/801"),
        ("POST", "/snapshots/801/restore"),
        ("GET", "/servers/101"),
        ("GET", "/nothing/"),
        ("GET", "/snapshots/abc/restore/"),
    ],
)
def test_404_unknown_paths(api, method, path):
    resp = api(method, path, json={"server_id": 101, "name": "x"} if method == "POST" else None, allow_redirects=False)
    assert resp.status_code == 404
    assert resp.headers["Content-Type"].startswith("application/json") and resp.json()["detail"]


def test_401_missing_and_wrong_token(sim):
    for client in (Client(sim, token=None), Client(sim, token="wrong-secret")):
        for method, path in (
            ("GET", "/snapshots/"),
            ("POST", "/snapshots/"),
            ("DELETE", "/snapshots/801/"),
            ("POST", "/snapshots/801/restore/"),
            ("GET", "/servers/101/"),
        ):
            resp = client(method, path, json={"server_id": 101, "name": "x"})
            assert resp.status_code == 401
            assert resp.json()["detail"] and "wrong-secret" not in resp.text
    bad_scheme = Client(sim, token=None)
    assert bad_scheme.get("/snapshots/", headers={"Authorization": f"Token {TOKEN}"}).status_code == 401
    assert sim.snapshots() == []


def test_several_tokens(sim):
    sim.tokens.append("second")
    assert Client(sim, token="second").get("/snapshots/").status_code == 200


def test_list_filter_and_400(api, sim):
    sim.add_snapshots(101, 2)
    sim.add_snapshots(102, 1)
    assert api.get("/snapshots/").json()["count"] == 3
    assert api.get("/snapshots/", params={"server_id": 101}).json()["count"] == 2
    unknown = api.get("/snapshots/", params={"server_id": 4242})
    assert unknown.status_code == 200 and unknown.json() == {"count": 0, "next": None, "previous": None, "results": []}
    bad = api.get("/snapshots/", params={"server_id": "abc"})
    assert bad.status_code == 400 and isinstance(bad.json()["server_id"], list)


def test_pagination_newest_first(api, sim):
    sim.add_snapshots(101, 5)  # bulk: created one minute apart in the past
    for name in ("n1", "n2"):
        api.post("/snapshots/", json={"server_id": 102, "name": name})
    first = api.get("/snapshots/").json()
    assert first["count"] == 7 and len(first["results"]) == 3 and first["previous"] is None
    assert first["next"].startswith(sim.base_url + "/snapshots/?") and "page=2" in first["next"]
    seen, url, pages = [], sim.base_url + "/snapshots/", 0
    while url:
        body = api.get(url).json()
        seen.extend(body["results"])
        url = body["next"]
        pages += 1
    assert pages == 3 and len(seen) == 7 and len({s["id"] for s in seen}) == 7
    keys = [(s["created_at"], s["id"]) for s in seen]
    assert keys == sorted(keys, reverse=True)
    assert [s["name"] for s in seen[:2]] == ["n2", "n1"]
    last = api.get("/snapshots/", params={"page": 3}).json()
    assert last["next"] is None and last["previous"].endswith("page=2")
    assert api.get("/snapshots/", params={"page": 4}).status_code == 404
    assert api.get("/snapshots/", params={"page": "x"}).status_code == 404
    filtered = api.get("/snapshots/", params={"server_id": 101}).json()
    assert "server_id=101" in filtered["next"]


def test_405_wrong_method(api):
    resp = api("PUT", "/snapshots/")
    assert resp.status_code == 405 and resp.json()["detail"]


def test_concurrent_creates_never_exceed_limit(api, sim):
    def create(i):
        return Client(sim).post("/snapshots/", json={"server_id": 101, "name": f"c{i}"}).status_code

    with concurrent.futures.ThreadPoolExecutor(max_workers=12) as pool:
        codes = list(pool.map(create, range(24)))
    assert codes.count(201) == 5 and codes.count(400) == 19
    assert api.get("/snapshots/", params={"server_id": 101}).json()["count"] == 5


def _walk(api, sim, params=None):
    """Every item of a listing, following next; (items, pages)."""
    items, url, pages = [], sim.base_url + "/snapshots/", 0
    first = True
    while url:
        body = api.get(url, params=params if first else None).json()
        first = False
        items.extend(body["results"])
        url = body["next"]
        pages += 1
    return items, pages


def test_listing_thousands_sorts_once_and_builds_only_each_page(api, sim, monkeypatch):
    start = time.monotonic()
    sim.add_servers(2000, snapshots_per_server=5)
    assert time.monotonic() - start < 2.0  # 10,000 snapshots seeded
    sim.set_settings(page_size=500)
    sorts, views = [], []
    real_sort, real_view = sim.store._sort_newest_first, sim.store._snapshot_view  # pylint: disable=protected-access
    monkeypatch.setattr(sim.store, "_sort_newest_first", lambda ids: sorts.append(1) or real_sort(ids))
    monkeypatch.setattr(sim.store, "_snapshot_view", lambda snap, now: views.append(1) or real_view(snap, now))
    items, pages = _walk(api, sim)
    assert pages == 20 and len(items) == 10000 and len({s["id"] for s in items}) == 10000
    keys = [(s["created_at"], s["id"]) for s in items]
    assert keys == sorted(keys, reverse=True)
    assert len(sorts) == 1  # one sort for 20 pages: the order is cached
    assert len(views) == 10000  # each page computes the statuses of its own items only
    views.clear()
    assert api.get("/snapshots/", params={"page": 7}).status_code == 200
    assert len(views) == 500 and len(sorts) == 1
    # a creation, a deletion and a seed each invalidate the cached order
    created = api.post("/snapshots/", json={"server_id": 101, "name": "newest"}).json()
    assert api.get("/snapshots/").json()["results"][0]["id"] == created["id"] and len(sorts) == 2
    assert api.delete(f"/snapshots/{created['id']}/").status_code == 204
    assert created["id"] not in [s["id"] for s in api.get("/snapshots/").json()["results"]] and len(sorts) == 3
    newest = sim.add_snapshots(101, 1)  # created a minute ago: newer than every seeded one
    top = api.get("/snapshots/").json()
    assert top["count"] == 10001 and top["results"][0]["id"] == newest[0] and len(sorts) == 4


def test_listing_cache_per_server_follows_changes(api, sim):
    sim.add_snapshots(101, 2)
    assert [s["name"] for s in api.get("/snapshots/", params={"server_id": 101}).json()["results"]] == ["bulk-2", "bulk-1"]
    assert api.get("/snapshots/", params={"server_id": 102}).json()["count"] == 0
    api.post("/snapshots/", json={"server_id": 102, "name": "fresh"})
    api.post("/snapshots/", json={"server_id": 101, "name": "fresh"})
    assert [s["name"] for s in api.get("/snapshots/", params={"server_id": 102}).json()["results"]] == ["fresh"]
    assert [s["name"] for s in api.get("/snapshots/", params={"server_id": 101}).json()["results"]] == ["fresh", "bulk-2", "bulk-1"]
    api.delete("/snapshots/801/")
    assert [s["name"] for s in api.get("/snapshots/", params={"server_id": 101}).json()["results"]] == ["fresh", "bulk-2"]
    sim.reset(state=True)
    assert api.get("/snapshots/", params={"server_id": 101}).json()["count"] == 0
    assert api.get("/snapshots/").json()["count"] == 0


def test_seed_snapshots_gives_exact_names_statuses_and_ages(capi, csim, clock):
    ids = csim.seed_snapshots(101, ["old", ("broken", "failed"), ("working", "in_progress")], spacing=3600, days_old=2)
    listed = capi.get("/snapshots/", params={"server_id": 101}).json()["results"]
    assert [(s["id"], s["name"], s["status"]) for s in listed] == [
        (ids[2], "working", "in_progress"),
        (ids[1], "broken", "failed"),
        (ids[0], "old", "completed"),
    ]
    # Three hours, two hours and one hour before two days ago, on the simulator's clock.
    ages = [clock() - csim.store.snapshots[i]["created"] for i in ids]
    assert ages == [2 * 86400 + 3 * 3600, 2 * 86400 + 2 * 3600, 2 * 86400 + 3600]
    clock.advance(599)
    assert capi.get("/snapshots/", params={"server_id": 101}).json()["results"][0]["status"] == "in_progress"
    clock.advance(2)
    assert capi.get("/snapshots/", params={"server_id": 101}).json()["results"][0]["status"] == "completed"
    with pytest.raises(ValueError):
        csim.seed_snapshots(101, ["fine", ("x", "lost")])
    assert len(capi.get("/snapshots/", params={"server_id": 101}).json()["results"]) == 3
