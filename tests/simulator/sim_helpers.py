"""Shared test helpers (imported by the tests; conftest puts this directory on sys.path)."""

import os

import requests

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TOOLS = os.path.join(REPO, "tools")
TOKEN = "test-token"


class Client:
    """Tiny requests wrapper bound to a simulator's base URL and token."""

    def __init__(self, sim, token=TOKEN, verify=True):
        self.sim = sim
        self.session = requests.Session()
        # Per request, not session.verify: REQUESTS_CA_BUNDLE in the environment would override the session's.
        self.verify = verify
        if token is not None:
            self.session.headers["Authorization"] = f"Bearer {token}"

    def __call__(self, method, path, **kwargs):
        url = path if path.startswith("http") else self.sim.base_url + path
        kwargs.setdefault("timeout", 10)
        kwargs.setdefault("verify", self.verify)
        return self.session.request(method, url, **kwargs)

    def get(self, path, **kwargs):
        return self("GET", path, **kwargs)

    def post(self, path, **kwargs):
        return self("POST", path, **kwargs)

    def delete(self, path, **kwargs):
        return self("DELETE", path, **kwargs)

    def control(self, method, path, **kwargs):
        kwargs.setdefault("timeout", 10)
        return requests.request(method, self.sim.root_url + "/_sim" + path, **kwargs)
