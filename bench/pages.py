"""B9: the calls page (100 rows) against /v1/calls with the same filter, on the largest
dataset: both under load from the same server, three rounds each, the page signed in by
its session cookie, the API by HTTP Basic."""

from __future__ import annotations

import base64
import http.client
import re
from urllib.parse import urlencode

from tests.pg import free_port

from bench.client import Load, median_load, wrk
from bench.databases import Dataset
from bench.processes import ivrlog_server
from bench.results import record


def _cookies(response: http.client.HTTPResponse) -> dict[str, str]:
    found = {}
    for header in response.headers.get_all("Set-Cookie") or []:
        name, _, rest = header.partition("=")
        found[name] = rest.split(";", 1)[0]
    return found


def sign_in(port: int, email: str, key: str) -> str:
    """The Cookie header of a signed-in browser (the sign-in form, its CSRF token)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        conn.request("GET", "/sign-in")
        form = conn.getresponse()
        page = form.read().decode()
        cookies = _cookies(form)
        token = re.search(r'name="csrf_token" value="([^"]+)"', page)
        assert token is not None, page[:500]
        body = urlencode({"email": email, "key": key, "csrf_token": token[1], "next": "/calls"})
        cookie = "; ".join(f"{k}={v}" for k, v in cookies.items())
        headers = {"Content-Type": "application/x-www-form-urlencoded", "Cookie": cookie}
        conn.request("POST", "/sign-in", body, headers)
        signed = conn.getresponse()
        signed.read()
        if signed.status != 303:
            raise RuntimeError(f"sign-in: {signed.status}")
        cookies.update(_cookies(signed))
        return "; ".join(f"{k}={v}" for k, v in cookies.items())
    finally:
        conn.close()


def b9_pages(backend: str, data: Dataset) -> None:
    # the dataset's account 0, whose HTTP Basic credentials it keeps
    email, _, key = base64.b64decode(data.authorization.split()[1]).decode().partition(":")
    start, end = data.window
    query = urlencode({"from": start, "to": end, "number": data.shape.hot_number})
    port = free_port()
    with ivrlog_server(data.database, port):
        cookie = sign_in(port, email, key)
        rounds: list[tuple[Load, Load]] = [
            (
                wrk(port, [f"/calls?{query}"], cookie=cookie),
                wrk(port, [f"/v1/calls?{query}"], data.authorization),
            )
            for _ in range(3)
        ]
    page = median_load([p for p, _ in rounds])
    api = median_load([a for _, a in rounds])
    record("B9 calls page", backend, str(page), str(api), page.rps / api.rps, ">= 0.5")
