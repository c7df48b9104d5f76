.PHONY: demo test compile tools bench bench-jobs bench-scheduler bench-queues bench-simulate bench-simulate-speed bench-estimates bench-ui chaos unit down generate verify

demo:  ## bring up the local control plane with the demo fleet and show it
	bash hack/demo.sh

test:  ## static checks, unit tests, then integration tests against a real control plane
	bash hack/test.sh

compile:  ## compile the decider's hot modules with mypyc, in place (pyproject's [tool.suanli] compiled; hack/compile.sh --clean undoes it)
	bash hack/compile.sh

tools:  ## build the pinned control-plane binaries (cached by pin hash)
	bash hack/build-tools.sh

bench:  ## control-plane start time and memory with 0, 100 and 5000 fake nodes
	.venv/bin/python bench/controlplane.py

bench-jobs: compile  ## 1000 ComputeJobs (4000 pods) on 1000 nodes through operator, scheduler and extender
	.venv/bin/python bench/computejobs.py

down:  ## stop the local control plane
	.venv/bin/suanli dev down

unit: compile  ## static checks and unit tests only (no control plane): the fast loop
	.venv/bin/ruff check . && .venv/bin/ruff format --check . && .venv/bin/mypy && .venv/bin/lint-imports && bash hack/verify.sh
	.venv/bin/python -m pytest tests/unit -q

bench-queues: compile  ## one queue workload through Suanli's ComputeQueues and through Kueue (built on first use), side by side
	.venv/bin/python bench/queues.py

chaos: compile  ## fault suite: 500 ComputeJobs while the extender, operator and kube-scheduler are killed and kube-apiserver paused
	.venv/bin/python bench/chaos.py

bench-simulate: compile  ## suanli, fgd and bestfit on every trace variant, 10 seeds each, one table (ARGS=--quick: 400 nodes, 3 seeds)
	.venv/bin/python bench/simulate.py $(ARGS)

bench-simulate-speed: compile  ## CPU seconds of a suanli replay per seed against a baseline commit, interleaved (ARGS=--baseline d0bc543 --rounds 3)
	.venv/bin/python bench/simulate_speed.py $(ARGS)

bench-estimates: compile  ## per-reconcile cost of start estimates with 1000 and 3000 waiting jobs: the first 100 only vs every job
	.venv/bin/python bench/estimates.py $(ARGS)

bench-ui:  ## the web view's first render in headless Chromium at 50, 1000 and 5000 nodes (budget 2 s)
	.venv/bin/python bench/ui.py

bench-scheduler: compile  ## decision latency in-process and over HTTP at 1k/5k/10k nodes; end to end vs default-scheduler
	.venv/bin/python bench/scheduler.py

generate:  ## regenerate every generated file: CRDs, the chart's CRD templates, docs/api.md, docs/configuration.md
	.venv/bin/python -m suanli.api.crd > crds/suanli.dev_computejobs.yaml
	.venv/bin/python -m suanli.api.crd computequeues > crds/suanli.dev_computequeues.yaml
	.venv/bin/python -m tests.unit.chart.crd_template > charts/suanli/templates/crd-computejobs.yaml
	.venv/bin/python -m tests.unit.chart.crd_template computequeues > charts/suanli/templates/crd-computequeues.yaml
	.venv/bin/python -m suanli.api.reference > docs/api.md
	.venv/bin/python -m tests.unit.chart.configdoc --write

verify:  ## fail when a generated file is out of date with its source (run `make generate`)
	bash hack/verify.sh
