"""Suanli: a compute-power scheduler for Kubernetes."""

__version__ = "0.1.0"
