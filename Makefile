.PHONY: demo test tools bench bench-jobs bench-scheduler unit down

demo:  ## bring up the local control plane with the demo fleet and show it
	bash hack/demo.sh

test:  ## static checks, unit tests, then integration tests against a real control plane
	bash hack/test.sh

tools:  ## build the pinned control-plane binaries (cached by pin hash)
	bash hack/build-tools.sh

bench:  ## control-plane start time and memory with 0, 100 and 5000 fake nodes
	.venv/bin/python bench/controlplane.py

bench-jobs:  ## 1000 ComputeJobs (4000 pods) on 1000 nodes through operator, scheduler and extender
	.venv/bin/python bench/computejobs.py

down:  ## stop the local control plane
	.venv/bin/suanli dev down

unit:  ## static checks and unit tests only (no control plane): the fast loop
	.venv/bin/ruff check . && .venv/bin/ruff format --check . && .venv/bin/mypy && .venv/bin/lint-imports
	.venv/bin/python -m pytest tests/unit -q

bench-scheduler:  ## decision latency in-process and over HTTP at 1k/5k/10k nodes; end to end vs default-scheduler
	.venv/bin/python bench/scheduler.py
