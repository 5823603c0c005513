"""The framework floor for B1: a bare Starlette app (no FastAPI, no auth, no database, no
middleware) served by the same uvicorn with the options `ivrlog serve` gives it (uvloop,
httptools with ivrlog's limits, no access log), answering `GET /floor/call/{session_id}`
with the bytes ivrlog gave for that call, from a dict in memory. The gap between the two
is what ivrlog's lookup costs, its framework and middleware included.

Usage: python -m bench.floor PORT BODIES (a JSON object: session id to body).
"""

from __future__ import annotations

import sys
from pathlib import Path

import orjson
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ivrlog.settings import Settings
from ivrlog.web.logs import log_config
from ivrlog.web.server import server_options


def floor_app(bodies: dict[str, bytes]) -> Starlette:
    async def floor_call(request: Request) -> Response:
        return Response(bodies[request.path_params["session_id"]], media_type="application/json")

    return Starlette(routes=[Route("/floor/call/{session_id:path}", floor_call)])


def main() -> None:
    port, bodies_file = int(sys.argv[1]), Path(sys.argv[2])
    bodies = {key: value.encode() for key, value in orjson.loads(bodies_file.read_bytes()).items()}
    settings = Settings(port=port, log_level="warning")
    uvicorn.run(
        floor_app(bodies),
        host="127.0.0.1",
        port=port,
        log_level="warning",
        log_config=log_config("warning"),
        access_log=False,
        **server_options(settings),
    )


if __name__ == "__main__":
    main()
