"""A fast local webhook receiver for B10: `python -m bench.receiver PORT COUNT_FILE`
answers every POST 204 at once (HTTP/1.1 keep-alive) and writes how many it got to
COUNT_FILE every 100 ms. A process of its own, so that it takes neither the server's CPU
nor the benchmark client's interpreter."""

from __future__ import annotations

import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path


def main() -> None:
    port, count_file = int(sys.argv[1]), Path(sys.argv[2])
    got = [0]
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            self.send_response(204)
            self.send_header("Content-Length", "0")
            self.end_headers()
            with lock:
                got[0] += 1

        def log_message(self, format: str, *args: object) -> None:
            pass

    def report() -> None:
        while not stopped.wait(0.1):
            count_file.write_text(str(got[0]))

    stopped = threading.Event()
    threading.Thread(target=report, daemon=True).start()
    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    server.daemon_threads = True
    try:
        server.serve_forever()
    finally:
        stopped.set()


if __name__ == "__main__":
    main()
