"""`suanli operator`: the ComputeJob operator process, one leader at a time.

Every replica serves the validating webhook from its start; only the leader reconciles jobs.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import socket
import tempfile
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Literal

import kopf
from aiohttp import web
from kubernetes import client
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel, ConfigDict, Field, field_validator

from suanli.configfiles import ScoringConfigFiles
from suanli.controller.edge import DEFAULT_EDGE_TOLERATIONS, parse_tolerations
from suanli.controller.handlers import register
from suanli.controller.jobloop import WORKERS
from suanli.controller.podwatch import JobPodFeed, job_pod_reflector
from suanli.controller.service import JobController
from suanli.controller.store import JobStore
from suanli.controller.webhook import PATH, JobWebhook, WebhookTLS, dry_run_with
from suanli.devcluster.pki import CertificateAuthority
from suanli.kube.client import api_client
from suanli.kube.lease import LeaseConfig, LeaseElector
from suanli.kube.watches import cluster_reflectors
from suanli.metrics import OperatorMetrics
from suanli.state import ClusterFeed

log = logging.getLogger(__name__)
# The reconciles' apiserver calls run on threads, over the client's connections: two per
# worker, since a reconcile sends its pods' creates (and its events) at once.
CONNECTIONS = 2 * WORKERS
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
    data_policy: Path | None = None
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

    webhook_cert_dir: Path | None = Field(
        default=None,
        description="tls.crt, tls.key, ca.crt shared by all replicas; absent: a CA of our own",
    )
    webhook_failure_policy: Literal["Ignore", "Fail"] = "Ignore"
    identity: str = Field(
        default_factory=socket.gethostname,
        description="leader-election identity: the pod name, so a restarted container resumes",
    )


async def _serve_metrics(
    settings: OperatorSettings,
    metrics: OperatorMetrics,
    before_scrape: list[Callable[[], None]],
    ready: Callable[[], bool],
) -> web.AppRunner:
    async def metrics_handler(_: web.Request) -> web.Response:
        for refresh in before_scrape:
            refresh()
        body = generate_latest(metrics.registry)
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})

    async def healthz(_: web.Request) -> web.Response:
        return web.Response(text="ok")

    async def readyz(_: web.Request) -> web.Response:
        # Ready means "can take webhook traffic": a standby is ready too, leadership aside.
        if ready():
            return web.Response(text="ok")
        return web.Response(status=503, text="the webhook is not serving yet")

    app = web.Application()
    app.router.add_get("/metrics", metrics_handler)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, settings.metrics_host, settings.metrics_port).start()
    return runner


def _tls(settings: OperatorSettings, directory: Path) -> WebhookTLS:
    """The serving certificate: the shared one, or one from a CA of this process's own."""
    if settings.webhook_cert_dir is not None:
        given = settings.webhook_cert_dir
        return WebhookTLS(given / "tls.crt", given / "tls.key", given / "ca.crt")
    authority = CertificateAuthority(directory)
    host = settings.webhook_host
    is_ip = host.replace(".", "").isdigit() or ":" in host
    pair = authority.issue(
        "webhook",
        host,
        server_ips=(host,) if is_ip else (),
        server_dns=() if is_ip else (host,),
    )
    return WebhookTLS(pair.cert, pair.key, authority.pair.cert)


def _webhook(
    settings: OperatorSettings, api: client.ApiClient, config_files: ScoringConfigFiles
) -> JobWebhook | None:
    if not settings.webhook_port:
        return None
    host = settings.webhook_host
    url_host = f"[{host}]" if ":" in host else host
    return JobWebhook(
        addr=settings.webhook_addr,
        port=settings.webhook_port,
        url=f"https://{url_host}:{settings.webhook_port}{PATH}",
        tls=_tls(settings, Path(tempfile.mkdtemp(prefix="suanli-webhook-"))),
        admission=client.AdmissionregistrationV1Api(api),
        catalog=lambda: config_files.catalog,
        data_policy=lambda: config_files.data_policy,
        dry_run=dry_run_with(api),
        failure_policy=settings.webhook_failure_policy,
    )


async def run_operator(settings: OperatorSettings) -> int:
    # kopf logs every handler run at INFO; the operator's own log says what matters.
    logging.getLogger("kopf.objects").setLevel(logging.WARNING)
    if settings.kubeconfig is not None:
        # kopf's own login reads the kubeconfig named here.
        os.environ["KUBECONFIG"] = str(settings.kubeconfig)
    api = api_client(settings.kubeconfig, pool_size=CONNECTIONS)
    metrics = OperatorMetrics()
    before_scrape: list[Callable[[], None]] = []
    config_files = ScoringConfigFiles(settings.catalog, settings.latency, settings.data_policy)
    webhook = _webhook(settings, api, config_files)
    runner = await _serve_metrics(
        settings, metrics, before_scrape, lambda: webhook is None or webhook.ready
    )
    if webhook is not None:
        # Before the Lease: a standby validates jobs as well as the leader does.
        await webhook.start()
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
            if webhook is not None:
                await webhook.stop()
            await runner.cleanup()
            return 0
    lost = asyncio.Event()
    holding = None
    if elector is not None:

        def on_lost() -> None:
            lost.set()
            stop.set()

        holding = asyncio.ensure_future(elector.hold(on_lost))
    # Every apiserver call of the reconciles runs on a thread: as many threads as the client
    # has connections, so concurrent reconciles do not queue behind a handful of them.
    loop.set_default_executor(ThreadPoolExecutor(max_workers=CONNECTIONS))
    store = JobStore(api)
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
    reflectors.append(
        job_pod_reflector(client.CoreV1Api(api), JobPodFeed(controller, asyncio.get_running_loop()))
    )
    before_scrape.append(controller.export_gauges)
    # Waiting gangs are re-planned as soon as a pod leaves a node or a node appears.
    cluster.listeners.append(controller.capacity_freed(asyncio.get_running_loop()))
    registry = kopf.OperatorRegistry()
    register(
        registry,
        controller,
        reflectors,
        kubeconfig=settings.kubeconfig,
        resync_seconds=settings.resync_seconds,
    )
    await kopf.operator(registry=registry, clusterwide=True, standalone=True, stop_flag=stop)
    if holding is not None:
        holding.cancel()
    if elector is not None and not lost.is_set():
        await asyncio.to_thread(elector.release)
    if webhook is not None:
        await webhook.stop()
    await runner.cleanup()
    return EXIT_LOST_LEASE if lost.is_set() else 0


def run(settings: OperatorSettings) -> int:
    return asyncio.run(run_operator(settings))
