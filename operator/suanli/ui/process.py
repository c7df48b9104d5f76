"""`suanli ui` as a process: watches into the model, the model served over HTTP."""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from pathlib import Path

from aiohttp import web
from kubernetes import client

from suanli.api import GROUP, PLURAL, VERSION
from suanli.api.queues import QUEUE_PLURAL
from suanli.configfiles import ScoringConfigFiles
from suanli.kube.client import api_client
from suanli.kube.reflector import Reflector
from suanli.kube.watches import BOUND_AND_LIVE
from suanli.state import ClusterFeed
from suanli.ui.model import UiModel
from suanli.ui.server import make_app


@dataclass(frozen=True)
class UiSettings:
    host: str = "127.0.0.1"
    port: int = 8090
    kubeconfig: Path | None = None
    catalog: Path | None = None
    interval: float = 1.0


def reflectors(api: client.ApiClient, model: UiModel) -> list[Reflector]:
    """Read-only list-watches: nodes, bound pods, ComputeJobs and ComputeQueues (get, list,
    watch; the chart's ClusterRole for the view holds nothing else)."""
    core, custom = client.CoreV1Api(api), client.CustomObjectsApi(api)
    feed = model.feed
    return [
        Reflector("nodes", core.list_node, feed.replace_nodes, feed.apply_node),
        Reflector(
            "pods",
            core.list_pod_for_all_namespaces,
            model.replace_pods,
            model.apply_pod,
            list_kwargs={"field_selector": BOUND_AND_LIVE},
        ),
        Reflector(
            "computejobs",
            partial(custom.list_cluster_custom_object, GROUP, VERSION, PLURAL),
            model.replace_jobs,
            model.apply_job,
            missing_ok=True,
        ),
        Reflector(
            "computequeues",
            partial(custom.list_cluster_custom_object, GROUP, VERSION, QUEUE_PLURAL),
            model.replace_queues,
            model.apply_queue,
            missing_ok=True,
        ),
    ]


def run(settings: UiSettings) -> None:
    files = ScoringConfigFiles(settings.catalog, None)
    model = UiModel(ClusterFeed(lambda: files.catalog))
    watches = reflectors(api_client(settings.kubeconfig), model)
    for reflector in watches:
        reflector.start()

    def ready() -> bool:
        return all(r.synced.is_set() for r in watches)

    app = make_app(model, ready, settings.interval)
    print(f"suanli ui on http://{settings.host}:{settings.port}/", flush=True)
    web.run_app(app, host=settings.host, port=settings.port, print=None)
