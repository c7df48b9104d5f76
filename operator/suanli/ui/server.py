"""The web view's HTTP edge: the page, the view as JSON, and a stream of deltas (SSE).

One ticker rebuilds the view from the model and, when something changed, hands the same delta
to every connected browser; a browser that connects gets the last view whole, then the deltas
after it, so every page converges on the same state.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from importlib import resources
from typing import Any

import orjson
from aiohttp import web

from suanli.ui.model import UiModel, delta

_STATIC = {
    "/": ("index.html", "text/html"),
    "/app.js": ("app.js", "text/javascript"),
    "/app.css": ("app.css", "text/css"),
}
_KEEPALIVE_SECONDS = 15.0
# A browser that stops reading is dropped rather than buffered for without bound.
_CLIENT_BACKLOG = 64


def _static(name: str) -> bytes:
    return resources.files("suanli.ui").joinpath("static", name).read_bytes()


def _event(kind: str, seq: int, data: Any) -> bytes:
    return b"event: " + kind.encode() + b"\nid: %d\ndata: " % seq + orjson.dumps(data) + b"\n\n"


class Broadcaster:
    def __init__(
        self, model: UiModel, interval: float, ready: Callable[[], bool] = lambda: True
    ) -> None:
        self.model = model
        self.interval = interval
        self.ready = ready
        # Whether `current` was built from synced watches: a view built before that shows a
        # partial fleet, so the page is not Ready until a view after the sync exists.
        self.complete = False
        self.current: dict[str, Any] = {}
        self.seq = 0
        self.clients: set[asyncio.Queue[bytes]] = set()

    async def tick(self) -> None:
        loop = asyncio.get_running_loop()
        synced = self.ready()
        # Building the view walks every node: off the event loop, so requests are still served.
        new = await loop.run_in_executor(None, self.model.view)
        change = delta(self.current, new) if self.current else {"full": new}
        self.current = new
        self.complete = self.complete or synced
        if change is None:
            return
        self.seq += 1
        message = _event("delta", self.seq, change)
        for queue in list(self.clients):
            if queue.qsize() >= _CLIENT_BACKLOG:
                self.clients.discard(queue)
                queue.put_nowait(b"")  # the stream ends; EventSource reconnects and resyncs
            else:
                queue.put_nowait(message)

    async def run(self) -> None:
        while True:
            with contextlib.suppress(Exception):  # one bad tick must not stop the view
                await self.tick()
            await asyncio.sleep(self.interval)


BROADCASTER = web.AppKey("broadcaster", Broadcaster)


def make_app(model: UiModel, ready: Callable[[], bool], interval: float = 0.5) -> web.Application:
    broadcaster = Broadcaster(model, interval, ready)
    app = web.Application()

    async def page(request: web.Request) -> web.Response:
        name, content_type = _STATIC[request.path]
        return web.Response(
            body=_static(name),
            content_type=content_type,
            headers={"Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff"},
        )

    async def view(_: web.Request) -> web.Response:
        if not broadcaster.complete:
            await broadcaster.tick()
        return web.Response(body=orjson.dumps(broadcaster.current), content_type="application/json")

    async def events(request: web.Request) -> web.StreamResponse:
        if not broadcaster.current:
            await broadcaster.tick()
        response = web.StreamResponse(
            headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"}
        )
        await response.prepare(request)
        queue: asyncio.Queue[bytes] = asyncio.Queue()
        await response.write(_event("delta", broadcaster.seq, {"full": broadcaster.current}))
        broadcaster.clients.add(queue)
        try:
            while True:
                try:
                    message = await asyncio.wait_for(queue.get(), _KEEPALIVE_SECONDS)
                except TimeoutError:
                    message = b": keepalive\n\n"
                if not message:
                    break
                await response.write(message)
        except ConnectionResetError:
            pass  # the browser went away; EventSource reconnects on its own if it wants more
        finally:
            broadcaster.clients.discard(queue)
        return response

    async def healthz(_: web.Request) -> web.Response:
        return web.Response(text="ok")

    async def readyz(_: web.Request) -> web.Response:
        if broadcaster.complete:
            return web.Response(text="ok")
        return web.Response(status=503, text="syncing")

    async def ticker(app: web.Application) -> AsyncIterator[None]:
        task = asyncio.create_task(broadcaster.run())
        yield
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    for path in _STATIC:
        app.router.add_get(path, page)
    app.router.add_get("/api/view", view)
    app.router.add_get("/events", events)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.cleanup_ctx.append(ticker)
    app[BROADCASTER] = broadcaster
    return app
