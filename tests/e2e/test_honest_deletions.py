"""Issue 22: what happened at the provider is what the task reports, for deletions.

A DELETE the provider applied is the task's deletion however its answer came back: a proxy's 200 text, a connection
dropped after it, an answer after api_timeout. `changed`, `pruned` and msg say so, and a warning says when the answer
was lost. An api_url with credentials in it is refused, naming why, without echoing them.
"""

from __future__ import annotations

import pytest

from ansible_collections.vps.cloud.tests.e2e.e2e_helpers import BATCH, PRUNE
from ansible_collections.vps.cloud.tests.harness.seeding import seed
from ansible_collections.vps.cloud.tests.harness.simulator import calls, deletes, names

pytestmark = pytest.mark.timeout(240)

SNAPSHOT = "vps.cloud.vps_snapshot"


def warning_texts(result):
    return " ".join(w["event"]["msg"] if isinstance(w, dict) else str(w) for w in result.get("warnings") or [])


def test_prune_reports_every_deletion_a_proxy_answered_with_text(sim, play):
    """The issue's reproducer: --non-json 2 --methods DELETE, then prune keep: 1. Each DELETE is sent once and every
    snapshot deleted is in pruned (it used to delete them, re-send, get 404 and list them as someone else's)."""
    ids = seed(sim, 101, ["p-1", "p-2", "p-3", "p-4"])
    sim.set_faults(non_json=2, methods=["DELETE"])

    run = play([{PRUNE: {"servers": {"web-01": 101}, "match": "p-*", "keep": 1}}])
    result = run[0]

    assert not result.get("failed"), result["msg"]
    assert result["changed"] is True
    assert names(result["pruned"]) == ["p-1", "p-2", "p-3"]
    assert sorted(int(c["path"].rstrip("/").split("/")[-1]) for c in deletes(calls(sim))) == ids[:3]  # once each
    assert [s["name"] for s in sim.snapshots() if s["server"]["id"] == 101] == ["p-4"]
    assert result["msg"] == "Prune: deleted 3 snapshot(s) on 1 server(s)."
    assert result["by_host"]["web-01"]["already_gone"] == []


def test_state_absent_answered_with_text_is_a_change(sim, play):
    [target] = seed(sim, 101, ["target"])
    sim.set_faults(non_json=2, methods=["DELETE"])

    result = play([{SNAPSHOT: {"state": "absent", "snapshot_id": target}}])[0]

    assert result["changed"] is True and not result.get("failed")
    assert result["msg"].startswith("Deleted snapshot target (id %d" % target)
    assert len(deletes(calls(sim))) == 1


@pytest.mark.parametrize(
    "faults, options, lost",
    [
        ({"drop_after_apply": 1}, {}, "connection failed"),
        ({"late_answer": 2.5}, {"api_timeout": 1, "api_retries": 1}, "no answer within api_timeout=1s"),
    ],
    ids=["dropped after it was applied", "answered after api_timeout"],
)
def test_a_delete_whose_answer_was_lost_is_reported_as_the_tasks_deletion(sim, play, faults, options, lost):
    """It used to say "Could not delete" (changed: false) and the rerun "nothing to delete": no run reported it."""
    [target] = seed(sim, 101, ["target"])
    sim.set_faults(methods=["DELETE"], **faults)

    run = play([{SNAPSHOT: dict({"state": "absent", "snapshot_id": target}, **options)}, {SNAPSHOT: {"state": "absent", "snapshot_id": target}}])
    first, rerun = run.results

    assert not first.get("failed"), first["msg"]
    assert first["changed"] is True
    assert first["msg"].startswith("Deleted snapshot target (id %d" % target)
    assert "The answer to its DELETE was lost (%s" % lost in first["msg"]
    assert "was deleted by this task, but the answer to its DELETE was lost (%s" % lost in warning_texts(first)
    assert (rerun["changed"], rerun["msg"]) == (False, "No such snapshot; nothing to delete.")
    assert sim.snapshots() == []


def test_retention_reports_the_deletion_a_proxy_answered_with_text(sim, play):
    old = seed(sim, 102, ["r-1", "r-2", "r-3", "r-4", "r-5"])
    sim.set_faults(non_json=2, methods=["DELETE"])

    result = play([{SNAPSHOT: {"server_id": 102, "name": "r-6", "retention": 5}}])[0]

    assert not result.get("failed"), result["msg"]
    assert [s["id"] for s in result["pruned"]] == [old[0]]
    assert "r-1" in result["msg"]
    assert len(deletes(calls(sim))) == 1


def test_batch_snapshot_ids_answered_with_text_are_changes(sim, play):
    ids = seed(sim, 103, ["b-1", "b-2", "b-3"])
    sim.set_faults(non_json=2, methods=["DELETE"])

    result = play([{BATCH: {"state": "absent", "snapshot_ids": ids[:2]}}])[0]

    assert not result.get("failed"), result["msg"]
    assert [r["changed"] for r in result["results"]] == [True, True]
    assert all(r["msg"].startswith("Deleted snapshot") for r in result["results"])
    assert len(deletes(calls(sim))) == 2


def test_an_api_url_with_credentials_is_refused_without_echoing_them(sim, play):
    url = sim.base_url.replace("http://", "http://alice:hunter2-pw@")

    run = play([{SNAPSHOT: {"state": "absent", "snapshot_id": 1, "api_url": url}}])
    result = run[0]

    assert result["failed"] is True
    assert "api_url must not carry credentials" in result["msg"] and "api_token" in result["msg"]
    assert "hunter2-pw" not in result["msg"]
    assert sim.request_log() == []
