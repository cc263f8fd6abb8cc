"""Tiny local servers for alert tests: an HTTP endpoint that records POSTs, an SMTP sink."""

from __future__ import annotations

import base64
import json
import socketserver
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Self


@dataclass
class HookServer:
    """Records every POST body; answers with ``statuses`` in turn (then 200), after ``delay_s``."""

    statuses: list[int] = field(default_factory=list)
    delay_s: float = 0.0
    posts: list[dict] = field(default_factory=list)

    def __enter__(self) -> Self:
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                outer.posts.append(
                    {
                        "path": self.path,
                        "json": json.loads(body),
                        "content_type": self.headers.get("Content-Type"),
                    }
                )
                if outer.delay_s:
                    time.sleep(outer.delay_s)
                status = outer.statuses.pop(0) if outer.statuses else 200
                self.send_response(status)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args):
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/hooks/T000/B000/secret"

    def __exit__(self, *exc) -> None:
        self._server.shutdown()
        self._server.server_close()


class SmtpServer:
    """A minimal SMTP server (EHLO, AUTH PLAIN, MAIL, RCPT, DATA, QUIT) that keeps what it gets."""

    def __init__(self) -> None:
        self.messages: list[dict] = []

    def __enter__(self) -> Self:
        outer = self

        class Handler(socketserver.StreamRequestHandler):
            def reply(self, line: str) -> None:
                self.wfile.write((line + "\r\n").encode())

            def handle(self) -> None:
                self.reply("220 test ESMTP")
                msg = {"rcpt": [], "auth": None}
                while True:
                    raw = self.rfile.readline()
                    if not raw:
                        return
                    line = raw.decode().rstrip("\r\n")
                    verb = line.split(" ", 1)[0].upper()
                    if verb == "EHLO":
                        self.reply("250-test")
                        self.reply("250 AUTH PLAIN")
                    elif verb == "AUTH":
                        parts = line.split(" ")
                        msg["auth"] = base64.b64decode(parts[2]).split(b"\0")[1:]
                        self.reply("235 ok")
                    elif verb == "MAIL":
                        msg["from"] = line
                        self.reply("250 ok")
                    elif verb == "RCPT":
                        msg["rcpt"].append(line)
                        self.reply("250 ok")
                    elif verb == "DATA":
                        self.reply("354 go")
                        data = []
                        while (chunk := self.rfile.readline()) not in (b".\r\n", b""):
                            data.append(chunk.decode())
                        msg["data"] = "".join(data)
                        outer.messages.append(msg)
                        msg = {"rcpt": [], "auth": None}
                        self.reply("250 queued")
                    elif verb == "QUIT":
                        self.reply("221 bye")
                        return
                    else:
                        self.reply("250 ok")

        self._server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    @property
    def port(self) -> int:
        return self._server.server_address[1]

    def __exit__(self, *exc) -> None:
        self._server.shutdown()
        self._server.server_close()
