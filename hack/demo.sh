#!/usr/bin/env bash
# The demo: a local control plane with a heterogeneous GPU / HPC / edge fleet, shown.
# Stop it with `.venv/bin/suanli dev down`.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source hack/lib.sh

ensure_venv
bin_dir=$(ensure_tools)
suanli dev down >/dev/null
suanli dev up "$@"
kubeconfig=$(suanli dev kubeconfig)
echo
"$bin_dir/kubectl" --kubeconfig "$kubeconfig" get nodes \
  -L nvidia.com/gpu.product,amd.com/gpu.product-name,suanli.dev/accelerator.product \
  -L suanli.dev/tier,suanli.dev/site,suanli.dev/rack,topology.kubernetes.io/zone
echo
echo "The control plane keeps running. Try:"
echo "  export KUBECONFIG=$kubeconfig PATH=$bin_dir:\$PATH"
echo "  kubectl get nodes -L nvidia.com/gpu.product,suanli.dev/tier"
echo "  .venv/bin/suanli dev down"
