#!/usr/bin/env bash
# The demo: a local control plane with a heterogeneous GPU / HPC / edge fleet, Suanli's extender
# and operator, the example ComputeJobs, and a table of where each pod went and why.
# Everything keeps running afterwards; stop it with `.venv/bin/suanli dev down`.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source hack/lib.sh

ensure_venv
bash hack/compile.sh  # the decider's hot modules compiled with mypyc (pyproject.toml)
bin_dir=$(ensure_tools)
suanli dev down >/dev/null
suanli demo "$@"
kubeconfig=$(suanli dev kubeconfig)
echo
"$bin_dir/kubectl" --kubeconfig "$kubeconfig" get computejobs -n suanli-demo -o wide
echo
echo "Try:"
echo "  export KUBECONFIG=$kubeconfig PATH=$bin_dir:\$PATH"
echo "  kubectl get nodes -L nvidia.com/gpu.product,suanli.dev/tier"
echo "  kubectl describe computejob llm-finetune -n suanli-demo"
echo "  .venv/bin/suanli dev down"
