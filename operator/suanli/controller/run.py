"""`suanli operator`: the ComputeJob operator process, one leader at a time."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import socket
import tempfile
from collections.abc import Callable
from pathlib import Path

import kopf
from aiohttp import web
from kubernetes import client
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel, ConfigDict, Field, field_validator

from suanli.configfiles import ScoringConfigFiles
from suanli.controller.edge import DEFAULT_EDGE_TOLERATIONS, parse_tolerations
from suanli.controller.handlers import Webhook, register
from suanli.controller.service import JobController
from suanli.controller.store import JobStore
from suanli.devcluster.pki import CertificateAuthority
from suanli.kube.client import api_client
from suanli.kube.lease import LeaseConfig, LeaseElector
from suanli.kube.watches import cluster_reflectors
from suanli.metrics import OperatorMetrics
from suanli.state import ClusterFeed

log = logging.getLogger(__name__)
EXIT_LOST_LEASE = 2


class OperatorSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    kubeconfig: Path | None = None
    namespace: str = Field(default="suanli-system", description="where the leader Lease lives")
    leader_elect: bool = True
    lease_name: str = "suanli-operator"
    metrics_host: str = "0.0.0.0"
    metrics_port: int = Field(default=8080, ge=0, le=65535)
    catalog: Path | None = None
    latency: Path | None = None
    resync_seconds: float = Field(default=60.0, gt=0)
    webhook_port: int = Field(default=0, ge=0, le=65535, description="0: no validating webhook")
    webhook_addr: str = "127.0.0.1"
    webhook_host: str = Field(
        default="127.0.0.1", description="the address the apiserver calls the webhook on"
    )
    edge_tolerations: tuple[str, ...] = Field(
        default=DEFAULT_EDGE_TOLERATIONS,
        description="key[=value][:effect] taints the pods of jobs asking for the edge tolerate",
    )

    @field_validator("edge_tolerations")
    @classmethod
    def _tolerations_parse(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        parse_tolerations(value)  # a ValueError names the entry and the syntax
        return value

    identity: str = Field(
        default_factory=socket.gethostname,
        description="leader-election identity: the pod name, so a restarted container resumes",
    )


async def _serve_metrics(
    settings: OperatorSettings, metrics: OperatorMetrics, before_scrape: list[Callable[[], None]]
) -> web.AppRunner:
    async def metrics_handler(_: web.Request) -> web.Response:
        for refresh in before_scrape:
            refresh()
        body = generate_latest(metrics.registry)
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})

    async def healthz(_: web.Request) -> web.Response:
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_get("/metrics", metrics_handler)
    app.router.add_get("/healthz", healthz)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, settings.metrics_host, settings.metrics_port).start()
    return runner


def _webhook(settings: OperatorSettings, directory: Path) -> Webhook | None:
    """A serving certificate from a CA of our own; kopf puts the CA into the webhook config."""
    if not settings.webhook_port:
        return None
    authority = CertificateAuthority(directory)
    host = settings.webhook_host
    is_ip = host.replace(".", "").isdigit() or ":" in host
    pair = authority.issue(
        "webhook",
        host,
        server_ips=(host,) if is_ip else (),
        server_dns=() if is_ip else (host,),
    )
    return Webhook(
        addr=settings.webhook_addr,
        port=settings.webhook_port,
        host=host,
        certfile=pair.cert,
        keyfile=pair.key,
        cafile=authority.pair.cert,
    )


async def run_operator(settings: OperatorSettings) -> int:
    # kopf logs every handler run at INFO; the operator's own log says what matters.
    logging.getLogger("kopf.objects").setLevel(logging.WARNING)
    if settings.kubeconfig is not None:
        # kopf's own login reads the kubeconfig named here.
        os.environ["KUBECONFIG"] = str(settings.kubeconfig)
    api = api_client(settings.kubeconfig)
    metrics = OperatorMetrics()
    before_scrape: list[Callable[[], None]] = []
    runner = await _serve_metrics(settings, metrics, before_scrape)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    elector = None
    if settings.leader_elect:
        elector = LeaseElector(
            client.CoordinationV1Api(api),
            LeaseConfig(
                namespace=settings.namespace, name=settings.lease_name, identity=settings.identity
            ),
        )
        acquiring = asyncio.ensure_future(elector.acquire())
        stopping = asyncio.ensure_future(stop.wait())
        await asyncio.wait([acquiring, stopping], return_when=asyncio.FIRST_COMPLETED)
        if stop.is_set():
            acquiring.cancel()
            await runner.cleanup()
            return 0
    lost = asyncio.Event()
    holding = None
    if elector is not None:

        def on_lost() -> None:
            lost.set()
            stop.set()

        holding = asyncio.ensure_future(elector.hold(on_lost))
    store = JobStore(api)
    config_files = ScoringConfigFiles(settings.catalog, settings.latency)
    cluster = ClusterFeed(lambda: config_files.catalog)
    reflectors = cluster_reflectors(client.CoreV1Api(api), cluster)
    controller = JobController(
        store=store,
        cluster=cluster,
        config_files=config_files,
        metrics=metrics,
        post_event=store.post_event,
        edge_tolerations=parse_tolerations(settings.edge_tolerations),
    )
    before_scrape.append(controller.export_gauges)
    # Waiting gangs are re-planned as soon as a pod leaves a node or a node appears.
    cluster.listeners.append(controller.capacity_freed(asyncio.get_running_loop()))
    registry = kopf.OperatorRegistry()
    webhook = _webhook(settings, Path(tempfile.mkdtemp(prefix="suanli-webhook-")))
    register(
        registry,
        controller,
        reflectors,
        kubeconfig=settings.kubeconfig,
        resync_seconds=settings.resync_seconds,
        webhook=webhook,
    )
    await kopf.operator(registry=registry, clusterwide=True, standalone=True, stop_flag=stop)
    if holding is not None:
        holding.cancel()
    if elector is not None and not lost.is_set():
        await asyncio.to_thread(elector.release)
    await runner.cleanup()
    return EXIT_LOST_LEASE if lost.is_set() else 0


def run(settings: OperatorSettings) -> int:
    return asyncio.run(run_operator(settings))
