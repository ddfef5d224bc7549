"""An HTTP server for the client tests, on Python's standard library only.

Listens on 127.0.0.1 (port chosen by the kernel), prints the port on the
first line of its standard output, and serves until killed, or for at most
LIFETIME seconds. Routes:

  GET  /cookies/set?Set-Cookie=...&Set-Cookie=...  answers with those headers
  GET  /cookies/seen...                           the Cookie header it got (any path under it)
  GET  /coded/gzip, /coded/deflate, /coded/raw-deflate
                                                  a text body sent compressed
  GET  /coded/bomb?size=N                         N zero bytes, gzipped
  GET  /charset/NAME                              "café €" encoded in NAME,
                                                  with charset=NAME (or none for /charset/none)
  GET  /hop/N                                     302 to /hop/N-1, down to a 200 at /hop/0
  POST /upload                                    the multipart/form-data parts, as JSON
"""

import base64
import gzip
import hashlib
import json
import os
import sys
import threading
import zlib
from email.parser import BytesParser
from email.policy import HTTP
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

LIFETIME = 120
TEXT = "zlib and gzip, decoded by the client\n" * 200


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def send(self, status, body, headers=()):
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        url = urlsplit(self.path)
        query = parse_qs(url.query)
        path = url.path
        if path == "/cookies/set":
            headers = [("Set-Cookie", value) for value in query.get("Set-Cookie", [])]
            self.send(200, b"set\n", headers)
        elif path.startswith("/cookies/seen"):
            self.send(200, (self.headers.get("Cookie") or "").encode())
        elif path.startswith("/coded/"):
            coding = path[len("/coded/"):]
            accepted = self.headers.get("Accept-Encoding") or ""
            if coding == "bomb":
                body = gzip.compress(b"\0" * int(query["size"][0]), 9)
                name = "gzip"
            elif coding == "gzip":
                body, name = gzip.compress(TEXT.encode()), "gzip"
            elif coding == "deflate":
                body, name = zlib.compress(TEXT.encode()), "deflate"
            else:
                compressor = zlib.compressobj(wbits=-15)
                body = compressor.compress(TEXT.encode()) + compressor.flush()
                name = "deflate"
            self.send(200, body, [
                ("Content-Encoding", name),
                ("Content-Type", "text/plain; charset=utf-8"),
                ("X-Accept-Encoding", accepted),
            ])
        elif path.startswith("/charset/"):
            name = path[len("/charset/"):]
            if name == "none":
                self.send(200, "café €".encode("utf-8"), [("Content-Type", "text/plain")])
            else:
                codec = "cp1252" if name.lower() in ("windows-1252", "iso-8859-1") else name
                text = "café €" if codec != "latin-1" else "café"
                self.send(200, text.encode(codec), [
                    ("Content-Type", f"text/plain; charset={name}"),
                ])
        elif path.startswith("/hop/"):
            left = int(path[len("/hop/"):])
            if left == 0:
                self.send(200, b"landed\n")
            else:
                self.send(302, b"hop\n", [("Location", f"/hop/{left - 1}")])
        else:
            self.send(404, b"no such route\n")

    def do_POST(self):
        if self.path != "/upload":
            self.send(404, b"no such route\n")
            return
        length = int(self.headers["Content-Length"])
        body = self.rfile.read(length)
        # A MIME document: the Content-Type header, then the body.
        document = (
            b"Content-Type: " + self.headers["Content-Type"].encode() + b"\r\n\r\n" + body
        )
        message = BytesParser(policy=HTTP).parsebytes(document)
        parts = []
        for part in message.iter_parts():
            content = part.get_payload(decode=True)
            parts.append({
                "name": part.get_param("name", header="content-disposition"),
                "filename": part.get_filename(),
                "content_type": part.get("Content-Type"),
                "sha256": hashlib.sha256(content).hexdigest(),
                "base64": base64.b64encode(content).decode(),
            })
        reply = {
            "multipart": message.is_multipart(),
            "defects": [str(defect) for defect in message.defects],
            "parts": parts,
        }
        self.send(200, json.dumps(reply).encode(), [("Content-Type", "application/json")])


def main():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    print(server.server_address[1], flush=True)
    threading.Timer(LIFETIME, lambda: os._exit(0)).start()
    server.serve_forever()


if __name__ == "__main__":
    sys.exit(main())
