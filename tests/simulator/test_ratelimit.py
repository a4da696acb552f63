"""The provider's rate limit (token bucket): Python API, control API and CLI, on a fake clock."""

import concurrent.futures

import pytest

from ansible_collections.vps.cloud.tests.simulator.sim_helpers import CREATE, TOKEN, Client, FakeClock, ctl
from ansible_collections.vps.cloud.tools.vps_simulator import Simulator
from ansible_collections.vps.cloud.tools.vps_simulator.cli import build_parser, make_simulator
from ansible_collections.vps.cloud.tools.vps_simulator.ratelimit import TokenBucket


@pytest.fixture
def limited(clock):
    with Simulator(tokens=[TOKEN], clock=clock, create_seconds=0, rate_limit_rps=2, rate_limit_bucket=3) as sim:
        yield sim


def codes(client, count, method="GET", path="/snapshots/", **kwargs):
    return [client(method, path, **kwargs).status_code for dummy in range(count)]


def test_off_by_default(api, sim):
    assert sim.settings()["rate_limit_rps"] is None and sim.settings()["rate_limit_bucket"] is None
    assert set(codes(api, 30)) == {200}


def test_burst_then_throttled_not_applied_and_logged(limited, clock):
    api = Client(limited)
    assert codes(api, 3) == [200, 200, 200]
    resp = api.post("/snapshots/", json=CREATE)
    assert resp.status_code == 429
    assert resp.headers["Retry-After"] == "1"  # half a token short at 2/s: 0.5 s, rounded up to whole seconds
    assert resp.json() == {"detail": "Request was throttled. Expected available in 1 seconds."}
    assert limited.snapshots() == []  # not applied
    entry = limited.request_log()[-1]
    assert entry["status"] == 429 and entry["fault"] == "rate_limited" and entry["applied"] is False
    assert [e["fault"] for e in limited.request_log()[:3]] == [None, None, None]
    clock.advance(0.5)  # one token back
    assert codes(api, 2) == [200, 429]
    clock.advance(100)  # the bucket holds at most 3
    assert codes(api, 4) == [200, 200, 200, 429]


def test_retry_after_is_whole_seconds_until_a_token(clock):
    with Simulator(tokens=[TOKEN], clock=clock, rate_limit_rps=0.25, rate_limit_bucket=1) as sim:
        api = Client(sim)
        assert api.get("/snapshots/").status_code == 200
        first = api.get("/snapshots/")
        assert first.status_code == 429 and first.headers["Retry-After"] == "4"
        assert first.json()["detail"] == "Request was throttled. Expected available in 4 seconds."
        clock.advance(1.5)  # 2.5 s to go: 3
        assert api.get("/snapshots/").headers["Retry-After"] == "3"
        clock.advance(2.4)  # 0.1 s to go: at least 1
        assert api.get("/snapshots/").headers["Retry-After"] == "1"
        clock.advance(0.1)
        assert api.get("/snapshots/").status_code == 200


def test_every_api_request_counts_but_not_control(clock):
    with Simulator(tokens=[TOKEN], clock=clock, rate_limit_rps=1, rate_limit_bucket=2) as sim:
        assert Client(sim, token=None).get("/snapshots/").status_code == 401  # takes a token
        assert Client(sim).get("/nothing/").status_code == 404  # takes a token
        assert Client(sim).get("/servers/101/").status_code == 429
        for dummy in range(5):
            assert Client(sim).control("GET", "/state").status_code == 200
        assert [e["fault"] for e in sim.request_log()] == [None, None, "rate_limited"]


def test_default_bucket_is_one_second_of_requests(clock):
    with Simulator(tokens=[TOKEN], clock=clock, rate_limit_rps=3) as sim:
        assert codes(Client(sim), 4) == [200, 200, 200, 429]
        assert sim.state()["rate_limit"] == {"rps": 3.0, "capacity": 3, "tokens": 0.0}


def test_thread_safe_under_concurrency(clock):
    """The clock is frozen: exactly `bucket` requests get through, whatever the interleaving."""
    with Simulator(tokens=[TOKEN], clock=clock, rate_limit_rps=1, rate_limit_bucket=7) as sim:
        with concurrent.futures.ThreadPoolExecutor(max_workers=12) as pool:
            results = list(pool.map(lambda i: Client(sim).get("/snapshots/").status_code, range(30)))
        assert results.count(200) == 7 and results.count(429) == 23


def test_bucket_unit_thread_safe():
    clock = FakeClock()
    bucket = TokenBucket(rps=10, bucket=50, clock=clock)
    with concurrent.futures.ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(lambda i: bucket.take(), range(400)))
    assert results.count(None) == 50 and set(results) == {None, 1}


def test_set_at_run_time_and_kept_by_plain_reset(clock):
    with Simulator(tokens=[TOKEN], clock=clock) as sim:
        api = Client(sim)
        assert sim.set_settings(rate_limit_rps=1, rate_limit_bucket=2)["rate_limit_bucket"] == 2
        assert codes(api, 3) == [200, 200, 429]
        sim.reset(state=True, log=True)  # faults and state: the provider's rate limit stays
        assert codes(api, 1) == [429]
        sim.reset(settings=True)  # back to the settings it started with: off
        assert set(codes(api, 10)) == {200}
        sim.set_settings(rate_limit_rps=1, rate_limit_bucket=1)
        sim.set_settings(rate_limit_rps=0)  # 0 (or None) is off
        assert set(codes(api, 5)) == {200}
        with pytest.raises(ValueError):
            sim.set_settings(rate_limit_rps=-1)
        with pytest.raises(ValueError):
            sim.set_settings(rate_limit_bucket=0)


def test_control_api(limited, clock):
    api = Client(limited)
    resp = api.control("POST", "/settings", json={"rate_limit_rps": 0.5, "rate_limit_bucket": 1})
    assert resp.status_code == 200
    assert resp.json()["rate_limit_rps"] == 0.5 and resp.json()["rate_limit_bucket"] == 1
    assert api.control("GET", "/settings").json()["rate_limit_rps"] == 0.5
    assert codes(api, 2) == [200, 429]
    assert api.get("/snapshots/").headers["Retry-After"] == "2"
    bad = api.control("POST", "/settings", json={"rate_limit_bucket": "lots"})
    assert bad.status_code == 400 and "rate_limit_bucket" in bad.json()["detail"]
    assert api.control("POST", "/reset", json={"settings": True}).status_code == 200  # back to 2/s, bucket 3
    assert codes(api, 4) == [200, 200, 200, 429]


def test_cli_ctl_and_serve_flags(sim):
    code, out, err = ctl(sim, "settings", "--rate-limit-rps", "1", "--rate-limit-bucket", "1")
    assert code == 0, err
    assert out["rate_limit_rps"] == 1.0 and out["rate_limit_bucket"] == 1
    api = Client(sim)
    assert codes(api, 2) == [200, 429]
    code, out, err = ctl(sim, "settings", "--unset", "rate_limit_rps")
    assert code == 0 and out["rate_limit_rps"] is None
    assert set(codes(api, 3)) == {200}
    served = make_simulator(build_parser().parse_args(["serve", "--rate-limit-rps", "4", "--rate-limit-bucket", "9"]))
    assert served.settings()["rate_limit_rps"] == 4.0 and served.limiter.capacity == 9
