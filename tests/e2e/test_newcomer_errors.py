"""Issue #10 (h): errors a newcomer can act on. Each message names what is wrong and what to do, in the words of
the situation (not a generic "does not exist" or "set validate_certs=false"), and a hanging API fails in bounded time.
"""

from __future__ import annotations

import pytest

from ansible_collections.vps.cloud.tests.e2e.e2e_helpers import (
    BATCH,
    INFO,
    PRUNE,
    SERVER_INFO,
    SNAP,
    TOKEN,
    SilentServer,
)
from ansible_collections.vps.cloud.tests.harness.seeding import seed
from ansible_collections.vps.cloud.tests.harness.simulator import calls, restore_posts

pytestmark = pytest.mark.timeout(180)

PROXY_ENV = ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy", "NO_PROXY", "no_proxy")


def test_errors_say_what_is_wrong_and_what_to_do(sim, play):
    """h: a snapshot of another server, an api_url without the version, https:// to a plain-HTTP API, an absurd
    api_timeout, and an API that accepts connections but never answers (bounded by about 2 x api_timeout)."""
    [theirs] = seed(sim, 102, ["theirs"])
    root = sim.root_url
    with SilentServer() as silent:
        run = play(
            [
                {SNAP: {"state": "restored", "snapshot_id": theirs, "server_id": 101}},
                {INFO: {"api_url": root}},
                {SNAP: {"api_url": root + "/", "server_id": 101, "name": "x"}},
                {INFO: {"api_url": sim.base_url.replace("http://", "https://")}},
                {SNAP: {"server_id": 101, "name": "x", "api_timeout": 9999999999}},
                {INFO: {"api_url": "http://127.0.0.1:%d/api/v1" % silent.port, "api_timeout": 2}},
            ],
            drop_env=PROXY_ENV,
        )
    other_server, no_version, no_version_present, no_tls, timeout_range, hanging = run.results

    assert other_server["failed"] is True
    assert "belongs to server 102 (web-02), not to server 101" in other_server["msg"]
    assert "does not exist" not in other_server["msg"]
    assert other_server["snapshot"]["id"] == theirs
    assert restore_posts(calls(sim)) == []

    for result in (no_version, no_version_present):
        assert result["failed"] is True
        assert "%s/snapshots/" % root in result["msg"], result["msg"]
        assert "HTTP 404" in result["msg"]
        assert "up to and including its version" in result["msg"] and "/api/v1" in result["msg"]

    assert no_tls["failed"] is True
    assert "does not answer TLS" in no_tls["msg"] and "plain HTTP" in no_tls["msg"]
    assert "validate_certs" not in no_tls["msg"]

    assert timeout_range["failed"] is True
    assert timeout_range["msg"] == "api_timeout must be between 1 and 3600 seconds, got 9999999999"

    assert hanging["failed"] is True
    assert "no answer within api_timeout=2s" in hanging["msg"]
    assert len(silent.accepted) == 2, "one request and one retry after a timeout: %s" % silent.accepted
    elapsed = max(silent.closed + silent.accepted) - silent.accepted[0]
    assert 2 * 2 <= elapsed < 2 * 2 + 5, "the hanging API held the task %.1f s" % elapsed


def test_a_dead_proxy_is_named_without_its_credentials(sim, play):
    """h: HTTPS_PROXY points to a dead proxy with user:password: the message names the proxy, never the password."""
    proxy = "http://proxyuser:pr0xy-pw-SECRET@127.0.0.1:9"
    run = play(
        [{INFO: {"api_url": "https://vps.example.test/api/v1", "api_retries": 0}}], env={"HTTPS_PROXY": proxy, "https_proxy": proxy}, drop_env=PROXY_ENV[2:]
    )
    result = run[0]
    assert result["failed"] is True
    assert "proxy http://127.0.0.1:9" in result["msg"], result["msg"]
    assert "HTTPS_PROXY" in result["msg"] and "NO_PROXY" in result["msg"]
    assert "pr0xy-pw-SECRET" not in run.stdout + run.stderr + "".join(run.files.values())
    assert "proxyuser" not in result["msg"]
    assert TOKEN not in result["msg"]


def test_every_module_explains_an_api_url_without_the_version(sim, play):
    """h: api_url without /api/v1, with the modules a newcomer starts from: each message shows the full URL that
    answered 404 and says that api_url must include the API's version."""
    root = sim.root_url
    run = play(
        [
            {BATCH: {"servers": [101], "name": "x", "api_url": root}},
            {PRUNE: {"servers": [101], "keep": 1, "api_url": root}},
        ]
    )
    for result in run.results:
        assert result["failed"] is True
        assert "%s/snapshots/" % root in result["msg"], result["msg"]
        assert "up to and including its version" in result["msg"]


def test_server_info_explains_an_api_url_without_the_version(sim, play):
    """h: the same for vps_server_info, which reads GET /servers/{id}/ only."""
    root = sim.root_url
    result = play([{SERVER_INFO: {"server_id": 101, "api_url": root}}])[0]
    assert result["failed"] is True
    assert "%s/servers/101/" % root in result["msg"], result["msg"]
    assert "up to and including its version" in result["msg"]
