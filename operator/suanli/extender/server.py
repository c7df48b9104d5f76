"""The extender's HTTP edge: decode, call the service, encode, count.

Every failure is answered with HTTP 200 and an `Error` field, as kube-scheduler expects of an
extender; the server never answers with a traceback.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import orjson
from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel, ValidationError

from suanli.extender.forward import ANSWERED_BY_HEADER, Forwarder
from suanli.extender.ports import BadRequestError
from suanli.extender.replicas import ReplicaRole
from suanli.extender.service import ExtenderService
from suanli.extender.wire import (
    ExtenderArgs,
    ExtenderBindingArgs,
    ExtenderBindingResult,
    priorities_to_wire,
)

log = logging.getLogger(__name__)
Handler = Callable[[Any], Any]
_MiB = 1024 * 1024
# Of the scheduler's httpTimeout, the part a bind may wait for a worker (the rest is for the
# apiserver call and the answer).
_BIND_SHARE = 0.6


def _describe(error: ValidationError) -> str:
    parts = []
    for item in error.errors():
        where = ".".join(str(p) for p in item["loc"]) or "body"
        parts.append(f"{where}: {item['msg']}")
    return "invalid request body: " + "; ".join(parts)


def _decode(model: type[BaseModel], raw: bytes) -> Any:
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError as error:
        raise BadRequestError(
            "malformed_json", f"request body is not valid JSON: {error}"
        ) from None
    try:
        return model.model_validate(data)
    except ValidationError as error:
        raise BadRequestError("invalid_body", _describe(error)) from None


class ExtenderApp:
    def __init__(
        self,
        service: ExtenderService,
        ready: Callable[[], str | None],
        role: ReplicaRole | None = None,
    ) -> None:
        self.service = service
        self.metrics = service.metrics
        self.limit = service.settings.max_body_bytes
        self._ready = ready
        self.role = role
        self._client_ca = service.settings.tls_client_ca_file is not None
        # A follower waits at most this long for a leader, then answers with an error (the
        # scheduler retries the pod); the rest of the scheduler's timeout is for the leader.
        self._wait_for_leader = service.settings.scheduler_http_timeout * 0.4
        self.forwarder = Forwarder(service.settings, service.settings.scheduler_http_timeout * 0.5)
        # Binds wait on the apiserver: their own threads, so filters never queue behind them.
        self._binders = ThreadPoolExecutor(
            max_workers=service.settings.bind_workers, thread_name_prefix="bind"
        )

    def build(self) -> web.Application:
        # aiohttp's own limit answers 413; ours answers with an Error the scheduler can log.
        app = web.Application(client_max_size=self.limit * 4)
        app.router.add_post("/filter", self._verb("filter", ExtenderArgs, self._filter))
        app.router.add_post("/prioritize", self._verb("prioritize", ExtenderArgs, self._prioritize))
        app.router.add_post("/bind", self._verb("bind", ExtenderBindingArgs, self._bind))
        app.router.add_get("/healthz", self._healthz)
        app.router.add_get("/readyz", self._readyz)
        app.router.add_get("/metrics", self._metrics)
        return app

    async def _body(self, request: web.Request) -> bytes:
        declared = request.content_length
        if declared is not None and declared > self.limit:
            raise BadRequestError("too_large", self._too_large(declared))
        chunks: list[bytes] = []
        size = 0
        while chunk := await request.content.read(65536):
            size += len(chunk)
            if size > self.limit:
                raise BadRequestError("too_large", self._too_large(size))
            chunks.append(chunk)
        return b"".join(chunks)

    def _too_large(self, size: int) -> str:
        return (
            f"request body of {size} bytes exceeds the {self.limit // _MiB} MiB limit; configure "
            "the extender with nodeCacheCapable: true so requests carry node names only"
        )

    def _verb(
        self, verb: str, model: type[BaseModel], call: Handler
    ) -> Callable[[web.Request], Awaitable[web.Response]]:
        async def handle(request: web.Request) -> web.Response:
            began = time.perf_counter()
            phases = self.metrics.phase_duration
            result = "success"
            counted = False  # a decision of this replica, in flight until answered
            refused = self._without_certificate(verb, request)
            if refused is not None:
                return refused
            try:
                raw = await self._body(request)
                read = time.perf_counter()
                phases.labels(verb, "read").observe(read - began)
                passed_on = await self._pass_on(request.path, raw)
                if passed_on is not None:
                    self.metrics.requests.labels(verb, "forwarded").inc()
                    self.metrics.duration.labels(verb, "forwarded").observe(
                        time.perf_counter() - began
                    )
                    return passed_on
                unsynced = self._ready()
                if unsynced is not None:
                    # A decision on a half-filled cache would hand out devices that bound pods
                    # hold (a restarted extender has not listed them yet): the scheduler retries.
                    raise BadRequestError("not_synced", f"{verb} refused: {unsynced}; retry")
                if self.role is not None:
                    self.role.in_flight += 1
                    counted = True
                args = _decode(model, raw)
                decoded = time.perf_counter()
                phases.labels(verb, "decode").observe(decoded - read)
                body, result = await call(args)
                phases.labels(verb, "decide").observe(time.perf_counter() - decoded)
            except BadRequestError as error:
                self.metrics.bad_requests.labels(verb, error.reason).inc()
                body, result = {"Error": str(error)}, "error"
            except Exception as error:  # the scheduler must get an answer, never a traceback
                log.exception("%s failed", verb)
                body, result = (
                    {"Error": f"internal error in {verb}: {type(error).__name__}: {error}"},
                    "error",
                )
            finally:
                if counted and self.role is not None:
                    self.role.in_flight -= 1
            encoding = time.perf_counter()
            response = web.Response(body=orjson.dumps(body), content_type="application/json")
            if self.role is not None:
                response.headers[ANSWERED_BY_HEADER] = self.role.identity
            done = time.perf_counter()
            phases.labels(verb, "encode").observe(done - encoding)
            self.metrics.requests.labels(verb, result).inc()
            self.metrics.duration.labels(verb, result).observe(done - began)
            return response

        return handle

    def _without_certificate(self, verb: str, request: web.Request) -> web.Response | None:
        """403 for a verb asked without a client certificate, when mutual TLS is on."""
        if not self._client_ca or _has_client_certificate(request):
            return None
        self.metrics.bad_requests.labels(verb, "no_client_certificate").inc()
        body = {
            "Error": f"{verb} needs a client certificate signed by the extender's client "
            "CA (kube-scheduler's extender tlsConfig certFile and keyFile)"
        }
        return web.Response(status=403, body=orjson.dumps(body), content_type="application/json")

    async def _pass_on(self, path: str, raw: bytes) -> web.Response | None:
        """The leader's answer when another replica leads; None when this one decides."""
        if self.role is None:
            return None
        target = await self.role.wait(self._wait_for_leader)
        if target == "":
            return None
        if target is None:
            body: Any = {"Error": "no extender replica leads right now; the scheduler retries"}
            return web.Response(body=orjson.dumps(body), content_type="application/json")
        try:
            answer, by = await self.forwarder.forward(target, path, raw)
        except Exception as error:  # the leader went away mid-request: the scheduler retries
            body = {"Error": f"passing {path} on to the leader {target} failed: {error}"}
            return web.Response(body=orjson.dumps(body), content_type="application/json")
        return web.Response(
            body=answer, content_type="application/json", headers={ANSWERED_BY_HEADER: by}
        )

    async def _filter(self, args: ExtenderArgs) -> tuple[Any, str]:
        result = self.service.filter(args)
        outcome = "success" if result.node_names else "unschedulable"
        return result.to_wire(), outcome

    async def _prioritize(self, args: ExtenderArgs) -> tuple[Any, str]:
        return priorities_to_wire(self.service.prioritize(args)), "success"

    async def _bind(self, args: ExtenderBindingArgs) -> tuple[Any, str]:
        arrived = time.monotonic()
        deadline = arrived + self.service.settings.scheduler_http_timeout * _BIND_SHARE
        loop = asyncio.get_running_loop()
        result = await loop.run_in_executor(self._binders, self._bind_before, args, deadline)
        return result.to_wire(), "error" if result.error else "success"

    def _bind_before(self, args: ExtenderBindingArgs, deadline: float) -> ExtenderBindingResult:
        """Bind, unless the request waited so long for a worker that the scheduler has stopped
        waiting for the answer (a slow apiserver queues binds up): binding then would only make
        the scheduler's next attempt at the pod conflict with this one."""
        if time.monotonic() > deadline:
            self.metrics.bad_requests.labels("bind", "too_late").inc()
            return ExtenderBindingResult(
                Error=f"bind of {args.pod_namespace}/{args.pod_name} waited past the "
                "scheduler's timeout for a free worker; not sent (the scheduler retries)"
            )
        return self.service.bind(args)

    async def _healthz(self, _: web.Request) -> web.Response:
        return web.Response(text="ok")

    async def _readyz(self, _: web.Request) -> web.Response:
        problem = self._ready()
        if problem:
            return web.Response(status=503, text=problem)
        return web.Response(text="ok")

    async def _metrics(self, _: web.Request) -> web.Response:
        for kind, count in self.service.cache.counts().items():
            self.metrics.cache_objects.labels(kind).set(count)
        body = generate_latest(self.metrics.registry)
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})


def _has_client_certificate(request: web.Request) -> bool:
    """A certificate the handshake verified (an unverifiable one never gets this far)."""
    transport = request.transport
    return transport is not None and bool(transport.get_extra_info("peercert"))
