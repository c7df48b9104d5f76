from __future__ import annotations

import os
import pickle
import subprocess
import sys
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from suanli.scoring import QuantityError, Resources, pod_requests


def _c(
    requests: dict[str, str] | None = None, limits: dict[str, str] | None = None, **extra: Any
) -> dict[str, Any]:
    return {"name": "c", "resources": {"requests": requests or {}, "limits": limits or {}}, **extra}


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        pytest.param({}, {}, id="no containers"),
        pytest.param(
            {"containers": [_c({"cpu": "1", "memory": "1Gi"}), _c({"cpu": "500m"})]},
            {"cpu": 1500, "memory": 2**30},
            id="containers are summed",
        ),
        pytest.param(
            {"containers": [_c(limits={"nvidia.com/gpu": "8", "cpu": "2"})]},
            {"nvidia.com/gpu": 8, "cpu": 2000},
            id="a missing request defaults to the limit",
        ),
        pytest.param(
            {"containers": [_c({"cpu": "1"}, {"cpu": "4"})]},
            {"cpu": 1000},
            id="a request wins over the limit",
        ),
        pytest.param(
            {
                "containers": [_c({"cpu": "1"})],
                "initContainers": [_c({"cpu": "3", "memory": "1Gi"})],
            },
            {"cpu": 3000, "memory": 2**30},
            id="init containers are maxed, not summed",
        ),
        pytest.param(
            {
                "containers": [_c({"cpu": "1"})],
                "initContainers": [_c({"cpu": "500m"}, restartPolicy="Always"), _c({"cpu": "2"})],
            },
            {"cpu": 2500},
            id="a sidecar runs alongside later init containers",
        ),
        pytest.param(
            {
                "containers": [_c({"cpu": "2"})],
                "initContainers": [_c({"cpu": "500m"}, restartPolicy="Always"), _c({"cpu": "1"})],
            },
            {"cpu": 2500},
            id="a sidecar adds to the main containers",
        ),
        pytest.param(
            {"containers": [_c({"cpu": "1"})], "overhead": {"cpu": "250m", "memory": "120Mi"}},
            {"cpu": 1250, "memory": 120 * 2**20},
            id="pod overhead is added",
        ),
    ],
)
def test_pod_requests(spec: dict[str, Any], expected: dict[str, int]) -> None:
    assert pod_requests({"spec": spec}) == Resources(expected)


def test_bad_quantity_names_the_field() -> None:
    pod = {"spec": {"containers": [_c({"memory": "lots"})]}}
    with pytest.raises(QuantityError, match=r"spec\.containers\[0\]\.resources\.requests\.memory"):
        pod_requests(pod)


def test_resources_arithmetic() -> None:
    a = Resources({"cpu": 1000, "memory": 0})
    b = Resources({"cpu": 500, "nvidia.com/gpu": 2})
    assert a + b == Resources({"cpu": 1500, "nvidia.com/gpu": 2})
    assert (a - b).amount("nvidia.com/gpu") == -2
    assert a.maximum(b) == Resources({"cpu": 1000, "nvidia.com/gpu": 2})
    assert "memory" not in a  # zeros carry no information
    assert hash(Resources({"cpu": 1})) == hash(Resources([("cpu", 1)]))


def test_a_pickled_list_hashes_afresh_where_it_is_read() -> None:
    """Its hash is kept once worked out, but str hashes differ between processes: a copy sent
    to a worker process works it out there."""
    amounts = Resources({"cpu": 1000, "nvidia.com/gpu": 2})
    hash(amounts)
    script = (
        "import pickle, sys\n"
        "from suanli.scoring import Resources\n"
        "copy = pickle.loads(sys.stdin.buffer.read())\n"
        "same = Resources({'cpu': 1000, 'nvidia.com/gpu': 2})\n"
        "print(copy == same, hash(copy) == hash(same), {same: 1}.get(copy))\n"
    )
    shown = subprocess.run(
        [sys.executable, "-c", script],
        input=pickle.dumps(amounts),
        capture_output=True,
        check=True,
        env={**os.environ, "PYTHONHASHSEED": "12345"},
    )
    assert shown.stdout.decode().split() == ["True", "True", "1"]


_AMOUNTS = st.dictionaries(
    st.sampled_from(["cpu", "memory", "pods", "nvidia.com/gpu"]), st.integers(-3, 3)
)


@settings(max_examples=300, deadline=None)
@given(_AMOUNTS, _AMOUNTS)
def test_adding_and_taking_is_the_plain_sum_per_name(
    left: dict[str, int], right: dict[str, int]
) -> None:
    """Equal, and in the same order of names, as the list made from the sums afresh."""
    a, b = Resources(left), Resources(right)
    names = set(left) | set(right)
    for found, sign in ((a + b, 1), (a - b, -1)):
        expected = Resources({n: a.amount(n) + sign * b.amount(n) for n in names})
        assert found == expected
        assert list(found.items()) == list(expected.items())
        assert hash(found) == hash(expected)
