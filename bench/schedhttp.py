"""The HTTP part of `bench/scheduler.py`: the real aiohttp server in a child process, fed the
same seeded half-allocated fleet; the parent posts /filter then /bind per pod, as kube-scheduler
does, over one keep-alive connection."""

from __future__ import annotations

import http.client
import multiprocessing
import socket
import time
from typing import Any

import orjson
from aiohttp import web
from schedfleet import KINDS, filled_feed, pending_pods, service_over, summary

from suanli.extender.server import ExtenderApp
from suanli.fleet import default_fleet, node_manifests, scale_fleet


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _serve(size: int, port: int) -> None:
    feed = filled_feed(size)
    app = ExtenderApp(service_over(feed), lambda: None).build()
    web.run_app(app, host="127.0.0.1", port=port, print=None, access_log=None)


def _post(connection: http.client.HTTPConnection, path: str, data: bytes) -> Any:
    connection.request("POST", path, data, {"Content-Type": "application/json"})
    response = connection.getresponse()
    return orjson.loads(response.read())


def http_latencies(size: int, reps: int) -> dict[str, Any]:
    port = _free_port()
    child = multiprocessing.Process(target=_serve, args=(size, port), daemon=True)
    child.start()
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
                connection.request("GET", "/healthz")
                connection.getresponse().read()
                break
            except OSError:
                if time.monotonic() > deadline or not child.is_alive():
                    raise
                time.sleep(0.2)
        fleet = scale_fleet(default_fleet(), size)
        names = sorted(n["metadata"]["name"] for n in node_manifests(fleet))
        result: dict[str, Any] = {"nodes": size}
        for kind in KINDS:
            latencies: list[float] = []
            pods = [pending_pods(kind, 10_000 + index) for index in range(reps)]
            # Encoded before timing: what is timed is the server's answer, as the scheduler
            # (which encodes in Go) would see it.
            bodies = [orjson.dumps({"Pod": pod, "NodeNames": names}) for pod in pods]
            for pod, body in zip(pods, bodies, strict=True):
                began = time.perf_counter()
                answer = _post(connection, "/filter", body)
                latencies.append(time.perf_counter() - began)
                chosen = answer.get("NodeNames") or []
                if chosen:
                    meta = pod["metadata"]
                    binding = {
                        "PodName": meta["name"],
                        "PodNamespace": meta["namespace"],
                        "PodUID": meta["uid"],
                        "Node": chosen[0],
                    }
                    _post(connection, "/bind", orjson.dumps(binding))
            result[kind] = summary(latencies)
        return result
    finally:
        child.terminate()
        child.join(10)
