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
import time
from collections.abc import Sequence
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
    """The URL may not be called now (its host resolves to a refused address)."""


class HttpPoster:
    def __init__(self, *, timeout: float, allow_private: bool) -> None:
        self._timeout = timeout
        self._allow_private = allow_private
        self._client = httpx.AsyncClient(
            follow_redirects=False,
            timeout=httpx.Timeout(timeout),
            limits=httpx.Limits(max_connections=256, max_keepalive_connections=64),
            trust_env=False,  # no proxy from the environment: the address check is ours
        )

    async def aclose(self) -> None:
        await self._client.aclose()

    async def _target(self, url: str) -> tuple[str, dict[str, str], dict[str, str]]:
        """The URL to connect to, the headers and extensions that keep the host's name
        (Host, TLS SNI): with `allow_private`, the URL as it is."""
        if self._allow_private:
            return url, {}, {}
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = parts.port or (443 if parts.scheme == "https" else 80)
        loop = asyncio.get_running_loop()
        try:
            infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except OSError as exc:
            raise Refused(f"{host} does not resolve ({exc})") from None
        addresses = [str(info[4][0]) for info in infos]
        for address in addresses:
            reason = refused_address(address)
            if reason is not None:
                if address != host:
                    reason = f"{host} resolves to a refused address ({reason})"
                raise Refused(f"{reason}; not sent")
        address = addresses[0]
        literal = f"[{address}]" if ":" in address else address
        netloc = literal if parts.port is None else f"{literal}:{parts.port}"
        pinned = urlunsplit((parts.scheme, netloc, parts.path, parts.query, ""))
        host_header = host if parts.port is None else f"{host}:{parts.port}"
        extensions = {"sni_hostname": host} if parts.scheme == "https" else {}
        return pinned, {"host": host_header}, extensions

    async def post(self, claimed: Claimed, body: bytes, timestamp: int) -> Sent:
        started = time.monotonic()

        def took() -> int:
            return int((time.monotonic() - started) * 1000)

        try:
            async with asyncio.timeout(self._timeout):
                url, headers, extensions = await self._target(claimed.url)
                headers |= {
                    "content-type": "application/json",
                    "accept-encoding": "identity",  # an error body is read raw, a bit of it
                    "user-agent": USER_AGENT,
                    "webhook-id": claimed.message_id,
                    "webhook-timestamp": str(timestamp),
                    "webhook-signature": signature(
                        claimed.secrets, claimed.message_id, timestamp, body
                    ),
                }
                request = self._client.build_request(
                    "POST", url, content=body, headers=headers, extensions=extensions
                )
                response = await self._client.send(request, stream=True)
                try:
                    head = await _head(response)
                finally:
                    await response.aclose()
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
