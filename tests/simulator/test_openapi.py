"""The simulator conforms to docs/openapi.yaml (status codes and response schemas)."""

import json
import os

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import content_type_conformance, response_schema_conformance, status_code_conformance

from ansible_collections.vps.cloud.tests.simulator.sim_helpers import REPO, TOKEN
from ansible_collections.vps.cloud.tools.vps_simulator import Simulator

schema = schemathesis.openapi.from_path(os.path.join(REPO, "docs", "openapi.yaml"))
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


@pytest.fixture(scope="module")
def live():
    # create_seconds=0 so snapshots complete at once and restores can succeed.
    with Simulator(tokens=[TOKEN], create_seconds=0, restore_seconds=0, page_size=2) as simulator:
        for server_id in (101, 102):
            simulator.add_snapshots(server_id, 2)
        yield simulator


@schema.parametrize()
@settings(max_examples=15, deadline=None, database=None, suppress_health_check=list(HealthCheck))
def test_conforms_to_openapi(case, live):
    live.reset(state=False)  # no faults
    case.call_and_validate(base_url=live.base_url, headers={"Authorization": f"Bearer {TOKEN}"}, checks=CHECKS)


def test_server_restoring_from_conforms(live):
    """GET /servers/{id}/ with the optional restoring_from object (server_restore_detail on)."""
    live.reset(state=False)
    live.set_settings(server_restore_detail=True, restore_seconds_by_server={103: 600})
    try:
        snapshot_id = live.add_snapshots(103, 1)[0]
        headers = {"Authorization": f"Bearer {TOKEN}"}
        operation = schema["/snapshots/{snapshot_id}/restore/"]["POST"]
        restore = operation.Case(path_parameters={"snapshot_id": snapshot_id}, headers=headers)
        assert restore.call_and_validate(base_url=live.base_url, checks=CHECKS).status_code == 200
        server = schema["/servers/{server_id}/"]["GET"].Case(path_parameters={"server_id": 103}, headers=headers)
        server.call_and_validate(base_url=live.base_url, checks=CHECKS)
        resp = requests.get(live.base_url + "/servers/103/", headers=headers, timeout=10)
        assert resp.json()["restoring_from"]["id"] == snapshot_id
        assert schema["/servers/{server_id}/"]["GET"].is_valid_response(resp)
        # the schema does check the object: a wrong shape is a failure
        resp._content = json.dumps({**resp.json(), "restoring_from": {"id": "x"}}).encode()  # pylint: disable=protected-access
        assert not schema["/servers/{server_id}/"]["GET"].is_valid_response(resp)
    finally:
        live.set_settings(server_restore_detail=False, restore_seconds_by_server=None)
        live.set_server_status(103, "running")
