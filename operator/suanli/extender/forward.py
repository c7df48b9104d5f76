"""Passing a verb on to the leading replica: the same body to the same path, its answer back."""

from __future__ import annotations

import aiohttp

from suanli.extender.settings import ExtenderSettings
from suanli.extender.tls import peer_tls_context

# Answers that come back through a follower carry who decided them.
ANSWERED_BY_HEADER = "X-Suanli-Answered-By"


class Forwarder:
    """One connection pool towards whichever replica leads."""

    def __init__(self, settings: ExtenderSettings, timeout: float) -> None:
        self._tls = peer_tls_context(settings)
        self._server_name = settings.peer_server_name
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._session: aiohttp.ClientSession | None = None

    async def forward(self, leader: str, path: str, body: bytes) -> tuple[bytes, str]:
        """The leader's answer to `body` on `path`, and who gave it."""
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=self._timeout)
        async with self._session.post(
            leader.rstrip("/") + path,
            data=body,
            headers={"Content-Type": "application/json"},
            ssl=self._tls if self._tls is not None else True,
            server_hostname=self._server_name if self._tls is not None else None,
        ) as response:
            answer = await response.read()
            if response.status != 200:
                raise aiohttp.ClientResponseError(
                    response.request_info, (), status=response.status, message=answer[:200].decode()
                )
            return answer, response.headers.get(ANSWERED_BY_HEADER, leader)

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
