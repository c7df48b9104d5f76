"""Trace files: the CSV layouts, their errors, and the objects a cluster would hold."""

from __future__ import annotations

import json
from importlib import resources

import pytest

from suanli.keys import GPU_MILLI_ANNOTATION
from suanli.scoring import parse_catalog, parse_pod
from suanli.simulate.trace import (
    NodeRow,
    PodRow,
    TraceError,
    node_object,
    nodes_csv,
    parse_nodes,
    parse_pods,
    pod_object,
    pods_csv,
    trace_catalog,
)

NODES = "sn,cpu_milli,memory_mib,gpu,model\nn1,64000,262144,8,V100\nn2,32000,131072,0,\n"
# Alibaba's layout, with columns the replay ignores.
PODS = (
    "name,cpu_milli,memory_mib,num_gpu,gpu_milli,gpu_spec,qos,creation_time\n"
    "p1,4000,16384,1,250,,LS,0\n"
    "p2,8000,32768,2,1000,V100M32|V100M16,BE,1\n"
    "p3,2000,4096,0,0,,BE,2\n"
    "p4,1000,1024,1,0,,LS,3\n"
)


def test_parse_nodes_and_pods() -> None:
    assert parse_nodes(NODES) == [
        NodeRow("n1", 64000, 262144, 8, "V100"),
        NodeRow("n2", 32000, 131072, 0, ""),
    ]
    pods = parse_pods(PODS)
    assert pods[0] == PodRow("p1", 4000, 16384, 1, 250)
    assert pods[0].is_share
    assert pods[0].gpu_request_milli == 250
    assert pods[1].gpu_spec == ("V100M32", "V100M16")
    assert pods[1].gpu_request_milli == 2000
    assert pods[2].gpu_request_milli == 0
    assert pods[3].gpu_milli == 1000  # no milli given: whole devices


@pytest.mark.parametrize(
    ("text", "message"),
    [
        pytest.param("sn,cpu_milli\n", "missing columns memory_mib, gpu, model", id="columns"),
        pytest.param(
            NODES + "n1,1,1,0,\n", "nodes:4: column sn: 'n1' is empty or repeated", id="dup"
        ),
        pytest.param(
            "sn,cpu_milli,memory_mib,gpu,model\nn,lots,1,0,\n",
            "nodes:2: column cpu_milli: 'lots' is not a number",
            id="number",
        ),
        pytest.param(
            "sn,cpu_milli,memory_mib,gpu,model\nn,1,1,4,\n", "nodes:2: column model", id="model"
        ),
        pytest.param("sn,cpu_milli,memory_mib,gpu,model\n", "no nodes", id="empty"),
    ],
)
def test_node_errors_name_the_line(text: str, message: str) -> None:
    with pytest.raises(TraceError, match=message):
        parse_nodes(text)


@pytest.mark.parametrize(
    ("row", "message"),
    [
        pytest.param("p,1,1,2,500,", "a share of a device is for one GPU, not 2", id="split"),
        pytest.param("p,1,1,1,1500,", "1500 is more than one device", id="too much"),
        pytest.param("p,1,-1,0,0,", "column memory_mib: -1 is negative", id="negative"),
    ],
)
def test_pod_errors_name_the_line(row: str, message: str) -> None:
    with pytest.raises(TraceError, match=f"pods:2: .*{message}"):
        parse_pods("name,cpu_milli,memory_mib,num_gpu,gpu_milli,gpu_spec\n" + row + "\n")


def test_csv_round_trip() -> None:
    nodes, pods = parse_nodes(NODES), parse_pods(PODS)
    assert parse_nodes(nodes_csv(nodes)) == nodes
    assert parse_pods(pods_csv(pods)) == pods


def test_objects_read_as_the_extender_reads_them() -> None:
    share, multi, cpu, _ = parse_pods(PODS)
    demand = parse_pod(pod_object(share, namespace="t"))
    assert (demand.gpu_milli, demand.accelerator_count, demand.key) == (250, 0, "t/p1")
    assert pod_object(share)["metadata"]["annotations"] == {GPU_MILLI_ANNOTATION: "250"}
    multi_pod = pod_object(multi)
    assert multi_pod["spec"]["containers"][0]["resources"]["limits"] == {"nvidia.com/gpu": "2"}
    annotation = multi_pod["metadata"]["annotations"]["suanli.dev/demand"]
    assert json.loads(annotation) == {"acceleratorTypes": ["V100M32", "V100M16"]}
    assert parse_pod(pod_object(cpu)).gpu.wants is False
    node = node_object(NodeRow("n1", 64000, 262144, 8, "V100"))
    assert node["metadata"]["labels"]["nvidia.com/gpu.product"] == "V100"
    assert node["status"]["allocatable"] == {
        "cpu": "64000m",
        "memory": "262144Mi",
        "pods": "110",
        "nvidia.com/gpu": "8",
    }


def test_unknown_models_join_the_catalog() -> None:
    base = parse_catalog(resources.files("suanli.data").joinpath("catalog.yaml").read_text())
    rows = [
        NodeRow("a", 1, 1, 8, "V100M32"),
        NodeRow("b", 1, 1, 8, "V100"),
        NodeRow("c", 1, 1, 0, ""),
    ]
    catalog = trace_catalog(base, rows)
    added = catalog.resolve("V100M32")
    assert added is not None
    assert added.name == "V100M32"
    assert catalog.resolve("V100") == base.resolve("V100")
    assert trace_catalog(base, rows[1:]) is base
