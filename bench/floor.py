"""The framework floor for B1: ivrlog's own app, served as `ivrlog serve` serves it, with
one more endpoint, `GET /floor/call/{session_id}`, that answers with the bytes ivrlog gave
for that call, from memory. The gap between the two is what ivrlog's lookup costs.

Usage: python -m bench.floor DATABASE PORT BODIES (a JSON object: session id to body).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import orjson
import uvicorn
from fastapi import APIRouter
from fastapi import Path as PathParam
from fastapi.responses import Response

from ivrlog.settings import Settings
from ivrlog.web import create_app
from ivrlog.web.logs import log_config


def main() -> None:
    database, port, bodies_file = sys.argv[1], int(sys.argv[2]), Path(sys.argv[3])
    bodies = {key: value.encode() for key, value in orjson.loads(bodies_file.read_bytes()).items()}
    router = APIRouter()

    @router.get("/floor/call/{session_id:path}")
    async def floor_call(session_id: Annotated[str, PathParam()]) -> Response:
        return Response(bodies[session_id], media_type="application/json")

    settings = Settings(database=database, port=port, purge_interval=0, log_level="warning")
    app = create_app(settings)
    app.include_router(router)
    uvicorn.run(
        app,
        host="127.0.0.1",
        port=port,
        log_level="warning",
        log_config=log_config("warning"),
        access_log=False,
    )


if __name__ == "__main__":
    main()
