#!/usr/bin/env python3
"""A stand-in upstream for trying deploy/envoy/envoy.yaml: answers every request with 200 and
the x-elevator-* headers Envoy passed on, as JSON. Usage: python3 echo_upstream.py [port]"""

import json
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Echo(BaseHTTPRequestHandler):
    def answer(self):
        seen = {k: v for k, v in self.headers.items() if k.lower().startswith("x-elevator-")}
        body = json.dumps({"method": self.command, "path": self.path, "headers": seen}).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = answer


if __name__ == "__main__":
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 8080
    ThreadingHTTPServer(("127.0.0.1", port), Echo).serve_forever()
