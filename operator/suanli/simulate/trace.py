"""Cluster traces: nodes and pods as CSV rows, and the Kubernetes objects they stand for.

Nodes: `sn,cpu_milli,memory_mib,gpu,model`. Pods: at least
`name,cpu_milli,memory_mib,num_gpu,gpu_milli,gpu_spec` (other columns are ignored), the layout
of Alibaba's GPU cluster traces: `num_gpu` whole devices of `gpu_milli` each, where
`num_gpu=1, gpu_milli<1000` is a share of one device; `gpu_spec` lists the accepted models
separated by `|` (empty: any).

The replay does not read the rows directly: each row becomes the Node or Pod object a cluster
would hold (GPU Feature Discovery labels, resource requests, the `suanli.dev/gpu-milli` and
`suanli.dev/demand` annotations), which goes through the same parsing as in the extender.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from suanli.keys import DEMAND_ANNOTATION, GPU_MILLI_ANNOTATION
from suanli.scoring import MILLI_PER_DEVICE, AcceleratorType, Catalog, Vendor

NODE_COLUMNS = ("sn", "cpu_milli", "memory_mib", "gpu", "model")
POD_COLUMNS = ("name", "cpu_milli", "memory_mib", "num_gpu", "gpu_milli", "gpu_spec")
GPU_RESOURCE = "nvidia.com/gpu"
PODS_PER_NODE = 110  # the kubelet default
SCHEDULER = "suanli-scheduler"


class TraceError(ValueError):
    """A trace file that cannot be read; the message names the file, line and column."""


@dataclass(frozen=True, slots=True)
class NodeRow:
    sn: str
    cpu_milli: int
    memory_mib: int
    gpu: int
    model: str

    @property
    def signature(self) -> tuple[int, int, int, str]:
        """Everything about the node except its name: nodes alike are parsed alike."""
        return (self.cpu_milli, self.memory_mib, self.gpu, self.model)


@dataclass(frozen=True, slots=True)
class PodRow:
    name: str
    cpu_milli: int
    memory_mib: int
    num_gpu: int
    gpu_milli: int
    gpu_spec: tuple[str, ...] = ()

    @property
    def is_share(self) -> bool:
        return self.num_gpu == 1 and 0 < self.gpu_milli < MILLI_PER_DEVICE

    @property
    def gpu_request_milli(self) -> int:
        """What the pod asks of the cluster's GPU capacity, in milli-devices."""
        if self.num_gpu <= 0:
            return 0
        return self.gpu_milli if self.is_share else self.num_gpu * MILLI_PER_DEVICE

    @property
    def signature(self) -> tuple[int, int, int, int, tuple[str, ...]]:
        """Everything about the request except the name: pods alike are scored alike."""
        return (self.cpu_milli, self.memory_mib, self.num_gpu, self.gpu_milli, self.gpu_spec)


# --- reading ---------------------------------------------------------------------------------


def _int(row: dict[str, str], column: str, where: str) -> int:
    text = (row.get(column) or "").strip()
    try:
        value = int(float(text)) if text else 0
    except ValueError:
        raise TraceError(f"{where}: column {column}: {text!r} is not a number") from None
    if value < 0:
        raise TraceError(f"{where}: column {column}: {value} is negative")
    return value


def _rows(text: str, required: Sequence[str], source: str) -> Iterable[tuple[str, dict[str, str]]]:
    reader = csv.DictReader(io.StringIO(text))
    missing = [c for c in required if c not in (reader.fieldnames or ())]
    if missing:
        raise TraceError(f"{source}: missing columns {', '.join(missing)}")
    for row in reader:
        yield f"{source}:{reader.line_num}", row


def parse_nodes(text: str, source: str = "nodes") -> list[NodeRow]:
    nodes: list[NodeRow] = []
    seen: set[str] = set()
    for where, row in _rows(text, NODE_COLUMNS, source):
        sn = (row.get("sn") or "").strip()
        if not sn or sn in seen:
            raise TraceError(f"{where}: column sn: {sn!r} is empty or repeated")
        seen.add(sn)
        gpu = _int(row, "gpu", where)
        model = (row.get("model") or "").strip()
        if gpu and not model:
            raise TraceError(f"{where}: column model: a node with GPUs needs its model")
        cpu, memory = _int(row, "cpu_milli", where), _int(row, "memory_mib", where)
        nodes.append(NodeRow(sn, cpu, memory, gpu, model if gpu else ""))
    if not nodes:
        raise TraceError(f"{source}: no nodes")
    return nodes


def _gpu_spec(text: str) -> tuple[str, ...]:
    models: list[str] = []
    for item in text.split("|"):
        if item.strip() and item.strip() not in models:
            models.append(item.strip())
    return tuple(models)


def parse_pods(text: str, source: str = "pods") -> list[PodRow]:
    pods: list[PodRow] = []
    for where, row in _rows(text, POD_COLUMNS, source):
        num_gpu, milli = _int(row, "num_gpu", where), _int(row, "gpu_milli", where)
        if num_gpu and milli > MILLI_PER_DEVICE:
            raise TraceError(f"{where}: column gpu_milli: {milli} is more than one device")
        if num_gpu > 1 and 0 < milli < MILLI_PER_DEVICE:
            raise TraceError(f"{where}: a share of a device is for one GPU, not {num_gpu}")
        # Whole devices are `gpu_milli=1000`; a missing value means whole devices too.
        milli = (milli or MILLI_PER_DEVICE) if num_gpu else 0
        pods.append(
            PodRow(
                name=(row.get("name") or "").strip() or f"pod-{len(pods)}",
                cpu_milli=_int(row, "cpu_milli", where),
                memory_mib=_int(row, "memory_mib", where),
                num_gpu=num_gpu,
                gpu_milli=milli,
                gpu_spec=_gpu_spec(row.get("gpu_spec") or "") if num_gpu else (),
            )
        )
    if not pods:
        raise TraceError(f"{source}: no pods")
    return pods


def load_nodes(path: Path) -> list[NodeRow]:
    return parse_nodes(path.read_text(encoding="utf-8"), str(path))


def load_pods(path: Path) -> list[PodRow]:
    return parse_pods(path.read_text(encoding="utf-8"), str(path))


# --- writing ---------------------------------------------------------------------------------


def nodes_csv(nodes: Iterable[NodeRow]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(NODE_COLUMNS)
    for n in nodes:
        writer.writerow((n.sn, n.cpu_milli, n.memory_mib, n.gpu, n.model))
    return out.getvalue()


def pods_csv(pods: Iterable[PodRow]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(POD_COLUMNS)
    for p in pods:
        milli = p.gpu_milli if p.num_gpu else 0
        writer.writerow((p.name, p.cpu_milli, p.memory_mib, p.num_gpu, milli, "|".join(p.gpu_spec)))
    return out.getvalue()


# --- the objects a cluster would hold --------------------------------------------------------


def node_object(row: NodeRow) -> dict[str, Any]:
    """The Node as GPU Feature Discovery and the device plugin would show it."""
    labels = {"kubernetes.io/hostname": row.sn}
    allocatable = {
        "cpu": f"{row.cpu_milli}m",
        "memory": f"{row.memory_mib}Mi",
        "pods": str(PODS_PER_NODE),
    }
    if row.gpu:
        labels.update({"nvidia.com/gpu.product": row.model, "nvidia.com/gpu.count": str(row.gpu)})
        allocatable[GPU_RESOURCE] = str(row.gpu)
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": row.sn, "labels": labels, "annotations": {}},
        "status": {"capacity": dict(allocatable), "allocatable": allocatable},
    }


def pod_object(
    row: PodRow, *, namespace: str = "default", scheduler: str = SCHEDULER
) -> dict[str, Any]:
    """The Pod a user would submit: whole devices as the extended resource, a share as the
    `suanli.dev/gpu-milli` annotation, accepted models in the demand annotation."""
    annotations: dict[str, str] = {}
    resources: dict[str, Any] = {
        "requests": {"cpu": f"{row.cpu_milli}m", "memory": f"{row.memory_mib}Mi"}
    }
    if row.is_share:
        annotations[GPU_MILLI_ANNOTATION] = str(row.gpu_milli)
    elif row.num_gpu:
        resources["limits"] = {GPU_RESOURCE: str(row.num_gpu)}
    if row.gpu_spec:
        annotations[DEMAND_ANNOTATION] = json.dumps({"acceleratorTypes": list(row.gpu_spec)})
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": row.name, "namespace": namespace, "annotations": annotations},
        "spec": {
            "schedulerName": scheduler,
            "containers": [{"name": "main", "image": "busybox", "resources": resources}],
        },
    }


# Models a trace names that the catalog does not know are added with neutral figures, so that
# `gpu_spec` constraints on them still work (an unknown type never matches a constraint).
UNKNOWN_MODEL_MEMORY_GIB = 16.0
UNKNOWN_MODEL_PERFORMANCE = 0.1
UNKNOWN_MODEL_PRICE = 1.0


def trace_catalog(base: Catalog, nodes: Iterable[NodeRow]) -> Catalog:
    """The catalog plus a neutral type for every node model it cannot resolve."""
    extra: dict[str, AcceleratorType] = {}
    for row in nodes:
        if row.model and base.resolve(row.model) is None and row.model not in extra:
            extra[row.model] = AcceleratorType(
                row.model,
                Vendor.NVIDIA,
                UNKNOWN_MODEL_MEMORY_GIB,
                UNKNOWN_MODEL_PERFORMANCE,
                UNKNOWN_MODEL_PRICE,
            )
    if not extra:
        return base
    return Catalog((*base.types, *(extra[name] for name in sorted(extra))))
