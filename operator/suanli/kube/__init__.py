"""Thin Kubernetes I/O shared by the extender and the operator: clients and list-watch caches."""
