#!/usr/bin/env python3
"""A health-check target for probe-test: KIND ADDR PORT MODEFILE.

KIND is http, https, tcp or dns; https takes CERT and KEY (PEM files) too.  The behaviour is read from MODEFILE on every
request, so the test changes it without restarting the target:
  ok        http: 200 "ok"; dns: NOERROR; tcp: accept
  fail      http: 503; dns: REFUSED
  slow:MS   http: wait MS milliseconds, then 200 "ok"
  flap      http: 503 and 200 in turn, starting with 503
  silent    dns: no reply
http appends each request's head to MODEFILE.seen so the test can check what
the prober sent.  Listens until killed.
"""
import os
import socket
import socketserver
import struct
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, HTTPServer

kind, addr, port, modefile = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
lock = threading.Lock()
count = [0]


def mode():
    try:
        with open(modefile) as f:
            return f.read().strip() or "ok"
    except OSError:
        return "ok"


class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        m = mode()
        with lock:
            count[0] += 1
            n = count[0]
            with open(modefile + ".seen", "a") as f:
                f.write(self.requestline + "\n" + str(self.headers) + "--\n")
        status = 200
        if m == "fail" or (m == "flap" and n % 2 == 1):
            status = 503
        elif m.startswith("slow:"):
            time.sleep(int(m[5:]) / 1000)
        body = b"status: ok\n" if status == 200 else b"down\n"
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


class Server(socketserver.ThreadingMixIn, HTTPServer):
    daemon_threads = True
    allow_reuse_address = True


def serve_http():
    Server((addr, port), Handler).serve_forever()


def serve_https():
    import ssl
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(sys.argv[5], sys.argv[6])
    server = Server((addr, port), Handler)
    server.socket = ctx.wrap_socket(server.socket, server_side=True)
    server.serve_forever()


def serve_tcp():
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((addr, port))
    s.listen(64)
    while True:
        c, _ = s.accept()
        c.close()


def serve_dns():
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((addr, port))
    while True:
        data, peer = s.recvfrom(4096)
        if len(data) < 12:
            continue
        m = mode()
        if m == "silent":
            continue
        qid, flags = struct.unpack("!HH", data[:4])
        end = 12
        while end < len(data) and data[end] != 0:
            end += data[end] + 1
        question = data[12:end + 5]
        rcode = 5 if m == "fail" else 0
        reply_flags = 0x8400 | (flags & 0x0100) | rcode
        s.sendto(struct.pack("!HHHHHH", qid, reply_flags, 1, 0, 0, 0) + question, peer)


{"http": serve_http, "https": serve_https, "tcp": serve_tcp, "dns": serve_dns}[kind]()
