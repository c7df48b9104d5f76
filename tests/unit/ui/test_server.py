"""The web view's HTTP edge: the page and its files served, the view, the event stream."""

from __future__ import annotations

import asyncio

import orjson
from aiohttp.test_utils import TestClient, TestServer

from suanli.ui.model import UiModel
from suanli.ui.server import make_app
from tests.unit.view.fixtures import feed, pod


async def _exercise() -> None:
    model = UiModel(feed())
    app = make_app(model, lambda: False, interval=0.05)
    async with TestClient(TestServer(app)) as client:
        page = await client.get("/")
        html = await page.text()
        assert page.status == 200
        # Everything the page loads is served here: no other origin.
        assert 'src="/app.js"' in html
        assert "http" not in html.replace("http-equiv", "")
        for path, kind in (("/app.js", "text/javascript"), ("/app.css", "text/css")):
            response = await client.get(path)
            assert (response.status, response.content_type) == (200, kind)
        assert (await client.get("/readyz")).status == 503
        view = await (await client.get("/api/view")).json()
        assert len(view["nodes"]) == 7
        stream = await client.get("/events")
        first = await stream.content.readuntil(b"\n\n")
        assert first.startswith(b"event: delta\n")
        full = orjson.loads(first.split(b"data: ", 1)[1])
        assert set(full["full"]["nodes"]) == set(view["nodes"])
        model.apply_pod("ADDED", pod("x", "h100-1", 2))
        following = await asyncio.wait_for(stream.content.readuntil(b"\n\n"), 5)
        change = orjson.loads(following.split(b"data: ", 1)[1])
        assert change["nodes"]["changed"] == {
            "h100-1": [view["nodes"]["h100-1"][0], [1000] * 2 + [0] * 6]
        }
        stream.close()


def test_page_view_and_stream() -> None:
    asyncio.run(_exercise())


async def _ready_only_after_a_synced_view() -> None:
    """Ready means a view of the whole fleet exists: one built before the watches synced
    showed a partial fleet, and /api/view handed it out."""
    model = UiModel(feed())
    synced = False
    app = make_app(model, lambda: synced, interval=0.05)
    async with TestClient(TestServer(app)) as client:
        await asyncio.sleep(0.2)  # ticks before the sync
        assert (await client.get("/readyz")).status == 503
        synced = True
        for _ in range(100):
            if (await client.get("/readyz")).status == 200:
                break
            await asyncio.sleep(0.05)
        assert (await client.get("/readyz")).status == 200


def test_ready_only_after_a_view_built_from_synced_watches() -> None:
    asyncio.run(_ready_only_after_a_synced_view())
