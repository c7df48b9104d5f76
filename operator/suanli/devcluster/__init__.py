"""A real local control plane for tests and the demo: etcd, apiserver, schedulers, KWOK."""
