"""The extender process: its caches and watches, the HTTP site, the replica role, shutdown."""

from __future__ import annotations

import asyncio
import gc
import logging
import signal
from collections.abc import Callable

from aiohttp import web
from kubernetes import client

from suanli.configfiles import ScoringConfigFiles
from suanli.extender.kubeio import ApiBinder, ApiRecorder
from suanli.extender.owners import KnownJobs
from suanli.extender.replicas import ReplicaRole
from suanli.extender.reservations import Reservations
from suanli.extender.server import ExtenderApp
from suanli.extender.service import ExtenderService
from suanli.extender.settings import ExtenderSettings
from suanli.extender.tls import serving_tls_context
from suanli.kube.client import api_client, raw_json
from suanli.kube.lease import LeaseConfig, LeaseElector
from suanli.kube.watches import (
    BOUND_AND_LIVE,
    cluster_reflectors,
    computejob_reflector,
    pending_job_pods_reflector,
)
from suanli.metrics import ExtenderMetrics
from suanli.state import ClusterFeed

log = logging.getLogger(__name__)
_YOUNG_COLLECTION_THRESHOLD = 20_000
_OTHER_CONNECTIONS = 8


async def serve(settings: ExtenderSettings, started: Callable[[int], None] | None = None) -> None:
    """Run the extender until SIGTERM or SIGINT."""
    # A connection for each bind worker besides those the watches, the recorder and the Lease
    # keep: a pool smaller than that drops connections and pays a TLS handshake per bind.
    api = api_client(settings.kubeconfig, pool_size=settings.bind_workers + _OTHER_CONNECTIONS)
    core = client.CoreV1Api(api)
    config_files = ScoringConfigFiles(settings.catalog, settings.latency, settings.data_policy)
    cache = ClusterFeed(lambda: config_files.catalog)
    jobs = KnownJobs()
    reservations = Reservations(cache, jobs)
    reflectors = [
        *cluster_reflectors(core, cache),
        computejob_reflector(client.CustomObjectsApi(api), jobs.replace, jobs.apply),
        pending_job_pods_reflector(core, reservations.replace, reservations.apply),
    ]
    metrics = ExtenderMetrics()
    service = ExtenderService(
        settings=settings,
        cache=cache,
        config_files=config_files,
        metrics=metrics,
        binder=ApiBinder(core),
        recorder=ApiRecorder(core, metrics),
        jobs=jobs,
    )

    def ready() -> str | None:
        waiting = [r.name for r in reflectors if not r.synced.is_set()]
        return f"cache not synced yet: {', '.join(waiting)}" if waiting else None

    role = _replica_role(settings, api, core, cache) if settings.leader_elect else None
    for reflector in reflectors:
        reflector.start()
    freezing = asyncio.ensure_future(_freeze_when_synced(ready, role))
    app = ExtenderApp(service, ready, role)
    runner = web.AppRunner(app.build(), access_log=None)
    await runner.setup()
    tls = serving_tls_context(settings)
    site = web.TCPSite(runner, settings.host, settings.port, ssl_context=tls)
    await site.start()
    port = runner.addresses[0][1] if runner.addresses else settings.port
    log.info("extender listening on %s:%s", settings.host, port)
    if started:
        started(int(port))
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    await stop.wait()
    freezing.cancel()
    if role is not None:
        await role.step_down()
        following = asyncio.ensure_future(role.follow())
        await asyncio.sleep(settings.shutdown_grace_seconds)
        following.cancel()
    for reflector in reflectors:
        reflector.stop()
    await app.forwarder.close()
    await runner.cleanup()


def _replica_role(
    settings: ExtenderSettings, api: client.ApiClient, core: client.CoreV1Api, cache: ClusterFeed
) -> ReplicaRole:
    assert settings.advertise_url is not None  # the settings' validator requires it
    lease = LeaseConfig(
        namespace=settings.lease_namespace,
        name=settings.lease_name,
        identity=settings.advertise_url,
        retry_seconds=1.0,
    )

    def takeover() -> None:
        # A fresh list, not the watch: the previous leader's last binds may not have reached it.
        response = core.list_pod_for_all_namespaces(
            field_selector=BOUND_AND_LIVE, _preload_content=False
        )
        cache.replace_pods(list(raw_json(response).get("items") or []))

    return ReplicaRole(LeaseElector(client.CoordinationV1Api(api), lease), takeover)


async def _freeze_when_synced(
    ready: Callable[[], str | None], role: ReplicaRole | None = None
) -> None:
    """Once the caches hold the cluster, move what exists out of the collector's way: a full
    collection over every node's facts would otherwise pause a decision now and then. Only then
    does this replica stand for leader: it must not decide on a half-filled cache."""
    while ready() is not None:
        await asyncio.sleep(0.5)
    if role is not None:
        role.start()
    settle_gc()
    log.info("caches synced; %d objects frozen out of garbage collection", gc.get_freeze_count())


def settle_gc() -> None:
    """Freeze what exists (the cluster's facts live as long as the process) and collect the
    young generation less often: decisions make many short-lived containers."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(_YOUNG_COLLECTION_THRESHOLD, 20, 20)


def run(settings: ExtenderSettings) -> None:
    asyncio.run(serve(settings))
