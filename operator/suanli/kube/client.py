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


def post_json(
    api: client.ApiClient, path: str, body: dict[str, Any], *, dry_run: bool = False
) -> Any:
    """POST `body` to `path` as it is and return the decoded answer; ApiException on refusal.

    The generated client checks bodies against its own models first, and refuses what the
    apiserver accepts (a quantity written as a number, a field newer than the client): for
    objects built from a user's template the apiserver's verdict is the one that counts.
    """
    method, url, headers, payload, post_params = api.param_serialize(
        method="POST",
        resource_path=path,
        query_params=[("dryRun", "All")] if dry_run else [],
        header_params={"Content-Type": "application/json", "Accept": "application/json"},
        body=body,
        auth_settings=["BearerToken"],
    )
    response = api.call_api(method, url, headers, payload, post_params)
    response.read()  # type: ignore[no-untyped-call]
    if not 200 <= response.status < 300:
        raise client.ApiException(http_resp=response)
    return orjson.loads(response.data) if response.data else None
