# The two commands in the README, `make demo` and `make test`, and parts of `make test` alone.
# CORE=X.Y picks one ansible-core line (2.16, 2.18, 2.21; 2.19 is the tool venv .venv), e.g.
#   make units CORE=2.16      make test CORE=2.21      make demo CORE=2.16
# Without CORE, `make test` runs the whole matrix (scripts/test.sh lists it) and `make demo` runs on 2.19.
.PHONY: demo test test-one check sanity units simulator integration e2e playbooks faults quality eda venv venvs docs

CORE ?=
CORE_FLAG = $(if $(CORE),--core $(CORE))

demo:
	VPS_CORE=$(CORE) bash scripts/demo.sh

test:
	bash scripts/test.sh $(CORE_FLAG)

# One test: T=<pytest node id or path under tests/, or an integration target name>, e.g.
#   make test-one T=tests/unit/plugins/module_utils/test_client.py::test_post_sends_json_body
#   make test-one T=vps_snapshot CORE=2.16
test-one:
	bash scripts/test_one.sh $(CORE_FLAG) "$(T)"

# For a change under review, in a few minutes: sanity and units on the oldest and newest ansible-core, the integration
# targets on both, and the linters (quality). `make test` (and CI) runs the whole matrix.
check:
	bash scripts/test.sh --core 2.16,2.21 sanity units integration quality

sanity units simulator integration e2e playbooks faults quality eda:
	bash scripts/test.sh $(CORE_FLAG) $@

venv:
	bash scripts/venvs.sh 2.19

venvs:
	bash scripts/venvs.sh $(CORE)

# The docs site (antsibull-docs + Sphinx, warnings are errors) in build/docs/html; `bash scripts/test.sh docs` (a
# stage of `make test`) also lints the docs and checks the site in headless Chromium.
docs:
	bash scripts/docs.sh
