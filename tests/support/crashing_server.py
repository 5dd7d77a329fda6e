"""An OpenAI-compatible server that lists its models and dies on its first completion.

It behaves like a llama.cpp build for another CPU: ``/v1/models`` answers, and the first
``/v1/completions`` kills the process with SIGSEGV. Usage: ``python crashing_server.py PORT``.
"""

from __future__ import annotations

import json
import os
import signal
import sys
from http.server import BaseHTTPRequestHandler, HTTPServer


class Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = json.dumps({"object": "list", "data": [{"id": "crash", "object": "model"}]})
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(body.encode())

    def do_POST(self) -> None:
        print("first completion: crashing now", flush=True)
        os.kill(os.getpid(), signal.SIGSEGV)

    def log_message(self, format: str, *args: object) -> None:
        print(format % args, flush=True)


if __name__ == "__main__":
    print("crashing server: listening", flush=True)
    HTTPServer(("127.0.0.1", int(sys.argv[1])), Handler).serve_forever()
