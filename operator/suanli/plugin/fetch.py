"""One read of the cluster: nodes, pods, ComputeJobs and ComputeQueues, as plain JSON dicts.

The nodes and pods go into a `ClusterFeed`, exactly as the extender's watches feed its own, so
what is counted and judged here is what the scheduler sees.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from kubernetes import client
from kubernetes.client.exceptions import ApiException

from suanli.api import GROUP, PLURAL, VERSION
from suanli.api.queues import QUEUE_PLURAL
from suanli.configfiles import ScoringConfigFiles
from suanli.kube.client import client_for, raw_json

__all__ = ["ClusterRead", "client_for", "feed_of", "judging_of"]
from suanli.keys import JOB_LABEL
from suanli.state import ClusterFeed
from suanli.view.explain import Judging


def _items(response: Any) -> list[dict[str, Any]]:
    return list(raw_json(response).get("items") or [])


@dataclass
class ClusterRead:
    api: client.ApiClient

    def nodes(self) -> list[dict[str, Any]]:
        return _items(client.CoreV1Api(self.api).list_node(_preload_content=False))

    def pods(
        self, namespace: str | None = None, selector: str | None = None
    ) -> list[dict[str, Any]]:
        core = client.CoreV1Api(self.api)
        kwargs: dict[str, Any] = {"_preload_content": False}
        if selector:
            kwargs["label_selector"] = selector
        if namespace is None:
            return _items(core.list_pod_for_all_namespaces(**kwargs))
        return _items(core.list_namespaced_pod(namespace, **kwargs))

    def job(self, namespace: str, name: str) -> dict[str, Any] | None:
        custom = client.CustomObjectsApi(self.api)
        try:
            found: Any = custom.get_namespaced_custom_object(
                GROUP, VERSION, namespace, PLURAL, name
            )
        except ApiException as error:
            if error.status == 404:
                return None
            raise
        return dict(found) if isinstance(found, dict) else None

    def job_pods(self, namespace: str, name: str) -> list[dict[str, Any]]:
        return self.pods(namespace, f"{JOB_LABEL}={name}")

    def queues(self) -> list[dict[str, Any]]:
        custom = client.CustomObjectsApi(self.api)
        try:
            listed: Any = custom.list_cluster_custom_object(GROUP, VERSION, QUEUE_PLURAL)
        except ApiException as error:
            if error.status == 404:  # the CRD is not installed: no queues
                return []
            raise
        return list(listed.get("items") or [])


def feed_of(read: ClusterRead, files: ScoringConfigFiles) -> ClusterFeed:
    feed = ClusterFeed(lambda: files.catalog)
    feed.replace_nodes(read.nodes())
    feed.replace_pods(read.pods())
    return feed


def judging_of(feed: ClusterFeed, files: ScoringConfigFiles) -> Judging:
    return Judging(feed, files.catalog, files.latency, files.data_policy)
