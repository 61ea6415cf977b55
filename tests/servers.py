"""Loopback HTTP servers for download tests: well-behaved ones and hostile ones that
stall, drip and never stop. They bind 127.0.0.1 only and end by themselves."""

from __future__ import annotations

import http.server
import threading
import time
from pathlib import Path


class Server:
    """A loopback HTTP server whose handler behaviour the test chooses.

    Well-behaved modes: "ok", "404", "garbage", "truncated". Hostile ones, each bounded so
    that the server ends by itself (at most `HOSTILE_SECONDS`, or when closed):
    "stall" sends half the body and then nothing; "drip" sends one byte every 0.2 s;
    "endless" sends zeros with no Content-Length and never ends; "oversize" announces a
    body far larger than the file.
    """

    HOSTILE_SECONDS = 20.0

    def __init__(self, mode: str, root: Path):
        mode_, root_ = mode, root
        self.closing = closing = threading.Event()
        self.sent = 0  # bytes of body written, over all requests
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def send_body(self, chunk: bytes) -> bool:
                try:
                    self.wfile.write(chunk)
                    self.wfile.flush()
                except OSError:  # the client hung up, as it should
                    return False
                server.sent += len(chunk)
                return True

            def do_GET(self):  # noqa: N802 (http.server's name)
                name = self.path.rsplit("/", 1)[-1]
                body = (root_ / name).read_bytes() if (root_ / name).is_file() else None
                if mode_ == "404" or body is None:
                    self.send_error(404)
                    return
                if mode_ == "garbage":
                    body = b"<html>this is not MNIST</html>" * 100
                self.send_response(200)
                if mode_ == "oversize":
                    self.send_header("Content-Length", str(10**12))
                elif mode_ != "endless":
                    self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if mode_ == "truncated":
                    body = body[: len(body) // 2]
                if mode_ in ("ok", "garbage", "truncated"):
                    self.wfile.write(body)
                    return
                until = time.monotonic() + Server.HOSTILE_SECONDS
                if mode_ == "stall":
                    self.send_body(body[: len(body) // 2])
                    closing.wait(Server.HOSTILE_SECONDS)
                elif mode_ == "drip":
                    for byte in body:
                        if closing.wait(0.2) or time.monotonic() > until or not self.send_body(bytes([byte])):
                            break
                elif mode_ in ("endless", "oversize"):
                    zeros = bytes(1 << 16)
                    while not closing.is_set() and time.monotonic() < until and self.send_body(zeros):
                        pass
                self.close_connection = True

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/mnist/"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.closing.set()
        self.httpd.shutdown()
        self.httpd.server_close()
