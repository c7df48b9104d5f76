.PHONY: demo test tools bench bench-jobs down

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
