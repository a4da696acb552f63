# The two commands in the README: `make demo` and `make test`.
.PHONY: demo test sanity units simulator integration lint venv

demo:
	bash scripts/demo.sh

test:
	bash scripts/test.sh

sanity units simulator integration:
	bash scripts/test.sh $@

venv:
	bash -c '. scripts/lib.sh && ensure_venv'
