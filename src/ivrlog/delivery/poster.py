"""Sends one webhook attempt over HTTP (the dispatcher's Poster, core/dispatch.py).

Signed as the Standard Webhooks specification says, by its own library: `webhook-id`,
`webhook-timestamp`, and `webhook-signature` holding a `v1,<base64 HMAC-SHA256>` per
secret (two for a while after a rotation). The safety rules (docs/webhooks.md):

- the host is resolved here and the connection goes to the address that was checked
  (TLS still verifies the certificate for the host's name), so a name that resolves to a
  public address when checked cannot point at a private one when connected (DNS
  rebinding), unless `webhook_allow_private`;
- redirects are not followed: a 3xx is a failure that names its Location;
- at most BODY_LIMIT bytes of an answer are read, within the attempt's timeout;
- the secret and the signature are never logged, nor put in an error.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import socket
import ssl
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Sequence
from urllib.parse import urlsplit, urlunsplit

import httpx2 as httpx
from standardwebhooks.webhooks import Webhook

from ivrlog import __version__
from ivrlog.core.webhooks import BODY_LIMIT, Claimed, Sent, refused_address

USER_AGENT = f"ivrlog-webhooks/{__version__}"


def signature(secrets: Sequence[str], message_id: str, timestamp: int, body: bytes) -> str:
    """The `webhook-signature` header: one `v1,...` per secret, space-separated."""
    moment = dt.datetime.fromtimestamp(timestamp, dt.UTC)
    text = body.decode()
    return " ".join(Webhook(secret).sign(message_id, moment, text) for secret in secrets)


def resolve(host: str, port: int) -> list[str]:
    """Every address `host` resolves to (blocking: for the CLI's and API's checks)."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return sorted({str(info[4][0]) for info in infos})


class Refused(Exception):
    """The URL may not be called now (http without the setting, a host that resolves to
    a refused address)."""


# a host's addresses, asked when an attempt starts (a test gives its own)
AsyncResolve = Callable[[str, int], Awaitable[list[str]]]
MAX_CLIENTS = 64  # hosts whose connections are kept open at once


async def resolve_now(host: str, port: int) -> list[str]:
    loop = asyncio.get_running_loop()
    infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


class HttpPoster:
    """Connections are kept per host name (a small LRU of clients): a connection checked
    for one name, its certificate verified for it, is never reused for another name that
    resolves to the same address."""

    def __init__(
        self,
        *,
        timeout: float,
        allow_private: bool,
        resolver: AsyncResolve = resolve_now,
        refuse: Callable[[str], str | None] = refused_address,
        verify: ssl.SSLContext | bool = True,
    ) -> None:
        self._timeout = timeout
        self._allow_private = allow_private
        self._resolve = resolver
        self._refuse = refuse
        self._verify = verify
        self._clients: OrderedDict[str, httpx.AsyncClient] = OrderedDict()

    def _client(self, host: str) -> httpx.AsyncClient:
        client = self._clients.pop(host, None)
        if client is None:
            client = httpx.AsyncClient(
                follow_redirects=False,
                verify=self._verify,
                timeout=httpx.Timeout(self._timeout),
                limits=httpx.Limits(max_connections=64, max_keepalive_connections=16),
                trust_env=False,  # no proxy from the environment: the address check is ours
            )
            while len(self._clients) >= MAX_CLIENTS:
                _, oldest = self._clients.popitem(last=False)
                asyncio.get_running_loop().create_task(oldest.aclose())
        self._clients[host] = client
        return client

    async def aclose(self) -> None:
        for client in self._clients.values():
            await client.aclose()
        self._clients.clear()

    async def _targets(self, url: str) -> list[tuple[str, dict[str, str], dict[str, str]]]:
        """The URLs to try, in order, with the headers and extensions that keep the
        host's name (Host, TLS SNI): each a checked address of the host; with
        `allow_private`, the URL as it is."""
        parts = urlsplit(url)
        if self._allow_private:
            return [(url, {}, {})]
        if parts.scheme != "https":
            raise Refused("http:// is not allowed (the setting webhook_allow_private is off)")
        host = parts.hostname or ""
        port = parts.port or 443
        try:
            addresses = await self._resolve(host, port)
        except OSError as exc:
            raise Refused(f"{host} does not resolve ({exc})") from None
        if not addresses:
            raise Refused(f"{host} does not resolve")
        for address in addresses:
            reason = self._refuse(address)
            if reason is not None:
                if address != host:
                    reason = f"{host} resolves to a refused address ({reason})"
                raise Refused(f"{reason}; not sent")
        named = f"[{host}]" if ":" in host else host
        host_header = named if parts.port is None else f"{named}:{parts.port}"
        targets = []
        for address in addresses:
            literal = f"[{address}]" if ":" in address else address
            netloc = literal if parts.port is None else f"{literal}:{parts.port}"
            pinned = urlunsplit((parts.scheme, netloc, parts.path, parts.query, ""))
            targets.append((pinned, {"host": host_header}, {"sni_hostname": host}))
        return targets

    async def post(self, claimed: Claimed, body: bytes, timestamp: int) -> Sent:
        started = time.monotonic()

        def took() -> int:
            return int((time.monotonic() - started) * 1000)

        headers = {
            "content-type": "application/json",
            "accept-encoding": "identity",  # an error body is read raw, a bit of it
            "user-agent": USER_AGENT,
            "webhook-id": claimed.message_id,
            "webhook-timestamp": str(timestamp),
            "webhook-signature": signature(claimed.secrets, claimed.message_id, timestamp, body),
        }
        client = self._client(urlsplit(claimed.url).hostname or "")
        try:
            async with asyncio.timeout(self._timeout):
                targets = await self._targets(claimed.url)
                for number, (url, host, extensions) in enumerate(targets, start=1):
                    request = client.build_request(
                        "POST", url, content=body, headers=headers | host, extensions=extensions
                    )
                    try:
                        response = await client.send(request, stream=True)
                    except httpx.ConnectError:
                        if number == len(targets):
                            raise
                        continue  # the host's next address
                    try:
                        head = await _head(response)
                    finally:
                        await response.aclose()
                    break
        except Refused as exc:
            return Sent(None, str(exc), took())
        except TimeoutError:
            return Sent(None, f"no answer within {self._timeout:g} s", took())
        except httpx.HTTPError as exc:
            return Sent(None, f"{type(exc).__name__}: {exc}".rstrip(": "), took())
        status = response.status_code
        if 200 <= status < 300:
            return Sent(status, None, took())
        if 300 <= status < 400:
            where = response.headers.get("location", "")
            return Sent(status, f"status {status}: redirect to {where} not followed", took())
        text = head.decode("utf-8", "replace").strip()
        return Sent(status, f"status {status}" + (f": {text}" if text else ""), took())


async def _head(response: httpx.Response) -> bytes:
    """The answer's first BODY_LIMIT bytes; the rest is never read."""
    kept = b""
    async for chunk in response.aiter_raw():
        kept += chunk
        if len(kept) >= BODY_LIMIT:
            break
    return kept[:BODY_LIMIT]
