#!/usr/bin/env python3
"""The ClickHouse HTTP interface, as much as the store uses, over chdb (in-process ClickHouse
of the current release): tests run the same ClickHouse backend against the modern engine.

POST / with the statement in the body, or with ?query=INSERT ... FORMAT F and the rows in the
body (written to a file and read by INSERT ... FROM INFILE). Answers 200 with the result or
500 with the error text, as clickhouse-server does. One thread: a chdb session is not shared.

usage: chdb-http.py PORT DATA_DIR
"""
import os
import re
import sys
import tempfile
from http.server import BaseHTTPRequestHandler, HTTPServer
from urllib.parse import parse_qs, urlparse

from chdb import session

port, data = int(sys.argv[1]), sys.argv[2]
sess = session.Session(data)
INSERT = re.compile(r"^\s*INSERT\s+INTO\s+(.+?)\s+FORMAT\s+(\w+)\s*$", re.I | re.S)


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def do_POST(self):
        qs = parse_qs(urlparse(self.path).query)
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        try:
            if "query" in qs:
                m = INSERT.match(qs["query"][0])
                if not m:
                    raise ValueError("only INSERT ... FORMAT with a body is supported in ?query=")
                fd, path = tempfile.mkstemp(dir=data, suffix=".bin")
                with os.fdopen(fd, "wb") as f:
                    f.write(body)
                try:
                    sess.query(f"INSERT INTO {m.group(1)} FROM INFILE '{path}' FORMAT {m.group(2)}")
                finally:
                    os.unlink(path)
                out = b""
            else:
                r = sess.query(body.decode("utf-8"))
                out = r.bytes() if r is not None else b""
            self.send_response(200)
        except Exception as e:  # noqa: BLE001 - every error goes back to the client
            out = str(e).encode("utf-8", "replace")
            self.send_response(500)
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)

    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Length", "3")
        self.end_headers()
        self.wfile.write(b"Ok.")


HTTPServer(("127.0.0.1", port), Handler).serve_forever()
