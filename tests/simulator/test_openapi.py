"""The simulator conforms to docs/openapi.yaml (status codes and response schemas)."""

import os

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import content_type_conformance, response_schema_conformance, status_code_conformance

from sim_helpers import REPO, TOKEN
from vps_simulator import Simulator

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
