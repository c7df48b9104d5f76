"""A declarative inventory of a heterogeneous fleet, turned into fake (KWOK) Kubernetes nodes."""

from suanli.fleet.files import default_fleet, load_fleet, parse_fleet
from suanli.fleet.inventory import Fleet, FleetError, NodePool
from suanli.fleet.nodes import node_manifests
from suanli.fleet.scale import scale_fleet

__all__ = [
    "Fleet",
    "FleetError",
    "NodePool",
    "default_fleet",
    "load_fleet",
    "node_manifests",
    "parse_fleet",
    "scale_fleet",
]
