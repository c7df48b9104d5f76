"""Kubernetes API clients from a kubeconfig file or the in-cluster service account."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import orjson
from kubernetes import client, config
from kubernetes.client import rest

# Long enough for a loaded apiserver, short enough that a stuck write is retried.
_REQUEST_TIMEOUT_SECONDS = 30.0


# Connections per client (urllib3 pool): enough for a process's concurrent calls.
API_CONNECTIONS = 16


def api_client(
    kubeconfig: Path | None = None, pool_size: int = API_CONNECTIONS
) -> client.ApiClient:
    configuration = client.Configuration()
    if kubeconfig is not None:
        config.load_kube_config(  # type: ignore[no-untyped-call]
            config_file=str(kubeconfig), client_configuration=configuration
        )
    else:
        config.load_incluster_config(client_configuration=configuration)  # type: ignore[no-untyped-call]
    configuration.connection_pool_maxsize = pool_size
    return client.ApiClient(configuration)


def client_for(kubeconfig: Path | None) -> client.ApiClient:
    """kubectl's own order: --kubeconfig, then $KUBECONFIG, then ~/.kube/config, then the pod's
    service account."""
    if kubeconfig is None:
        listed = os.environ.get("KUBECONFIG", "").split(os.pathsep)[0]
        default = Path.home() / ".kube" / "config"
        kubeconfig = Path(listed) if listed else (default if default.exists() else None)
    return api_client(kubeconfig)


def raw_json(response: Any) -> Any:
    """Decode a `_preload_content=False` response: plain JSON, far cheaper than client models."""
    return orjson.loads(response.data)


def send_json(
    api: client.ApiClient,
    method: str,
    path: str,
    body: Any,
    *,
    content_type: str = "application/json",
    accept: str = "application/json",
    query: Sequence[tuple[str, str]] = (),
) -> Any:
    """Send `body` to `path` as it is and return the decoded answer; ApiException on refusal.

    Straight to the client's connection pool, with its TLS and credentials: the generated
    methods validate their arguments, check bodies against their own models and walk them
    again to serialise, which costs more CPU than the request itself on paths taken once per
    pod (a Binding, an Event, a pod). They also refuse what the apiserver accepts (a quantity
    written as a number, a field newer than the client); for objects built from a user's
    template the apiserver's verdict is the one that counts.
    """
    configuration = api.configuration
    headers = {**api.default_headers, "Content-Type": content_type, "Accept": accept}
    for setting in configuration.auth_settings().values():
        if setting["in"] == "header" and setting["value"]:
            headers[setting["key"]] = setting["value"]
    url = f"{configuration.host}{path}"
    if query:
        url += "?" + urlencode(query)
    raw = api.rest_client.pool_manager.request(
        method,
        url,
        body=None if body is None else orjson.dumps(body),
        headers=headers,
        timeout=_REQUEST_TIMEOUT_SECONDS,
        preload_content=False,
    )
    response = rest.RESTResponse(raw)
    response.read()  # type: ignore[no-untyped-call]
    if not 200 <= response.status < 300:
        raise client.ApiException(http_resp=response)
    return orjson.loads(response.data) if response.data else None


# Names and labels only (the apiserver's metadata-only list): a fraction of full objects.
METADATA_ONLY = "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1"


def post_json(
    api: client.ApiClient, path: str, body: dict[str, Any], *, dry_run: bool = False
) -> Any:
    """POST `body` to `path` (see `send_json`), optionally as a server-side dry run."""
    return send_json(api, "POST", path, body, query=[("dryRun", "All")] if dry_run else ())
