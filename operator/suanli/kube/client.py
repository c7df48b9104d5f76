"""Kubernetes API clients from a kubeconfig file or the in-cluster service account."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
from kubernetes import client, config


def api_client(kubeconfig: Path | None = None, pool_size: int = 16) -> client.ApiClient:
    configuration = client.Configuration()
    if kubeconfig is not None:
        config.load_kube_config(  # type: ignore[no-untyped-call]
            config_file=str(kubeconfig), client_configuration=configuration
        )
    else:
        config.load_incluster_config(client_configuration=configuration)  # type: ignore[no-untyped-call]
    configuration.connection_pool_maxsize = pool_size
    return client.ApiClient(configuration)


def raw_json(response: Any) -> Any:
    """Decode a `_preload_content=False` response: plain JSON, far cheaper than client models."""
    return orjson.loads(response.data)
