#!/usr/bin/env python3
"""dnsprobe — the integration checks dig cannot do, as small subcommands.

  dnsprobe.py pipeline PORT        three length-framed queries in one TCP
                                   write; the three replies must come back
                                   with the right IDs, in order, and rcodes.
  dnsprobe.py junk PORT [DIR]      a bounded barrage of malformed UDP packets
                                   (seeded random junk, truncated headers,
                                   hostile names) plus every file in DIR.
  dnsprobe.py qr-dropped PORT      a packet with QR set must get no reply.

Exit status 0 on success, 1 with a one-line reason on stderr otherwise.
"""

import os
import random
import socket
import struct
import sys
import time

ADDR = "127.0.0.1"


def name(text):
    return b"".join(bytes([len(l)]) + l.encode() for l in text.split(".")) + b"\x00"


def query(ident, qname, qtype, flags=0x0000, edns=True):
    q = struct.pack("!HHHHHH", ident, flags, 1, 0, 0, 1 if edns else 0)
    q += name(qname) + struct.pack("!HH", qtype, 1)
    if edns:
        q += b"\x00" + struct.pack("!HHIH", 41, 1232, 0, 0)
    return q


def recv_exact(s, n):
    buf = b""
    while len(buf) < n:
        chunk = s.recv(n - len(buf))
        if not chunk:
            raise ConnectionError("connection closed after %d of %d bytes" % (len(buf), n))
        buf += chunk
    return buf


def pipeline(port):
    plan = [(0x1111, "www.shop.example", 1, 0), (0x2222, "api.shop.example", 28, 0),
            (0x3333, "nope.shop.example", 1, 3)]
    wire = b""
    for ident, qname, qtype, _ in plan:
        q = query(ident, qname, qtype)
        wire += struct.pack("!H", len(q)) + q
    s = socket.create_connection((ADDR, port), timeout=3)
    try:
        s.sendall(wire)  # one write: the server must split the stream itself
        for ident, qname, _, rcode in plan:
            length = struct.unpack("!H", recv_exact(s, 2))[0]
            reply = recv_exact(s, length)
            got_id, flags = struct.unpack("!HH", reply[:4])
            if got_id != ident:
                return "reply for %s has id %#x, want %#x" % (qname, got_id, ident)
            if not flags & 0x8000 or flags & 0xF != rcode:
                return "reply for %s: flags %#x, want QR and rcode %d" % (qname, flags, rcode)
    finally:
        s.close()
    return None


def tcp_ask(s, ident):
    q = query(ident, "www.shop.example", 1)
    s.sendall(struct.pack("!H", len(q)) + q)
    length = struct.unpack("!H", recv_exact(s, 2))[0]
    reply = recv_exact(s, length)
    if struct.unpack("!H", reply[:2])[0] != ident:
        raise ConnectionError("reply with the wrong id")


def closed_by_server(s, within):
    """True when the server closes s (EOF or reset) within `within` seconds."""
    s.settimeout(within)
    try:
        return s.recv(1) == b""
    except ConnectionResetError:
        return True
    except socket.timeout:
        return False


def idle(port):
    """RFC 7766 idle timeout (the test config sets 1 s): a connection that
    answered a query and then stays quiet is closed by the server, not at
    once and not never (bounded wait of 6 s)."""
    s = socket.create_connection((ADDR, port), timeout=3)
    try:
        tcp_ask(s, 0x4444)
        start = time.monotonic()
        if not closed_by_server(s, 6):
            return "an idle connection was still open after 6 s"
        took = time.monotonic() - start
        print("idle connection closed after %.2f s" % took)
        if took < 0.5:
            return "closed after %.2f s, before the 1 s idle timeout" % took
    finally:
        s.close()
    return None


def slow(port):
    """Slow loris: a query sent one byte every 0.4 s (inside the 1 s idle
    timeout each time) must not hold the connection: the server closes it
    once the query has taken longer than the timeout to arrive (bounded:
    at most 5 s of trickling).  A query split in two writes 0.3 s apart is
    still answered."""
    s = socket.create_connection((ADDR, port), timeout=3)
    try:
        q = query(0x5151, "www.shop.example", 1)
        frame = struct.pack("!H", len(q)) + q
        s.sendall(frame[:5])
        time.sleep(0.3)
        s.sendall(frame[5:])
        length = struct.unpack("!H", recv_exact(s, 2))[0]
        if struct.unpack("!H", recv_exact(s, length)[:2])[0] != 0x5151:
            return "split query: reply with the wrong id"
    finally:
        s.close()
    s = socket.create_connection((ADDR, port), timeout=3)
    try:
        q = query(0x5252, "www.shop.example", 1)
        frame = struct.pack("!H", len(q)) + q
        start = time.monotonic()
        for i in range(len(frame) - 1):
            if time.monotonic() - start > 5:
                return "still open after 5 s of one byte per 0.4 s"
            try:
                s.sendall(frame[i:i + 1])
            except (BrokenPipeError, ConnectionResetError):
                break
            if closed_by_server(s, 0.4):
                break
        took = time.monotonic() - start
        print("trickling connection closed after %.2f s" % took)
        if took > 2.5:
            return "a query trickling in was allowed %.2f s" % took
    finally:
        s.close()
    return None


def limit(port, max_conns):
    """tcp_max_connections: max_conns connections are served, one more is
    closed without an answer, and a slot freed by a client is usable again."""
    held = []
    try:
        for i in range(max_conns):
            s = socket.create_connection((ADDR, port), timeout=3)
            held.append(s)
            tcp_ask(s, 0x5000 + i)
        extra = socket.create_connection((ADDR, port), timeout=3)
        try:
            if not closed_by_server(extra, 3):
                return "connection %d of a limit of %d was kept open" % (max_conns + 1, max_conns)
        finally:
            extra.close()
        for i, s in enumerate(held):  # the ones inside the limit still answer
            tcp_ask(s, 0x6000 + i)
        held.pop().close()
        for _ in range(20):  # the server sees the close on its next loop turn
            again = socket.create_connection((ADDR, port), timeout=3)
            try:
                tcp_ask(again, 0x7777)
                return None
            except (ConnectionError, OSError):
                time.sleep(0.1)
            finally:
                again.close()
        return "a freed connection slot was not reusable within 2 s"
    finally:
        for s in held:
            s.close()


def junk_packets(fuzz_dir):
    rng = random.Random(20261126)
    # truncated headers, and headers that promise more than they hold
    for n in range(12):
        yield bytes(rng.randrange(256) for _ in range(n)) if n else b""
    yield struct.pack("!HHHHHH", 1, 0, 1, 0, 0, 0)
    yield struct.pack("!HHHHHH", 2, 0, 65535, 65535, 65535, 65535)
    # names: a compression loop, a forward pointer, a 64-byte label, too long a name
    head = struct.pack("!HHHHHH", 3, 0, 1, 0, 0, 0)
    yield head + b"\xc0\x0c" + b"\x00\x01\x00\x01"
    yield head + b"\xc0\x20" + b"\x00\x01\x00\x01"
    yield head + b"\x40" + b"a" * 64 + b"\x00\x00\x01\x00\x01"
    yield head + (b"\x3f" + b"a" * 63) * 5 + b"\x00\x00\x01\x00\x01"
    yield head + b"\x03www\x04sh"
    # an OPT that runs past the end, two OPTs, an OPT not at the root
    base = struct.pack("!HHHHHH", 4, 0, 1, 0, 0, 1) + name("www.shop.example") + b"\x00\x01\x00\x01"
    yield base + b"\x00\x00\x29\x04\xd0\x00\x00\x00\x00\x00\x20\x00\x03"
    opt = b"\x00" + struct.pack("!HHIH", 41, 1232, 0, 0)
    yield struct.pack("!HHHHHH", 5, 0, 1, 0, 0, 2) + base[12:] + opt + opt
    yield base + b"\x03www\x00" + struct.pack("!HHIH", 41, 1232, 0, 0)
    yield base + b"\x00" + struct.pack("!HHIH", 41, 1232, 0, 8) + struct.pack("!HHHBB", 8, 4, 1, 33, 0)
    # seeded random junk, some of it starting with a plausible header
    for i in range(3000):
        n = rng.randrange(0, 600)
        body = bytes(rng.randrange(256) for _ in range(n))
        if i % 2:
            body = struct.pack("!HHHHHH", i, rng.choice([0, 0x0100, 0x7800]), 1, rng.randrange(3),
                               rng.randrange(3), rng.randrange(3)) + body
        yield body
    if fuzz_dir:
        for entry in sorted(os.listdir(fuzz_dir)):
            path = os.path.join(fuzz_dir, entry)
            if os.path.isfile(path):
                with open(path, "rb") as f:
                    yield f.read(65535)


def junk(port, fuzz_dir):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setblocking(False)
    sent = replies = 0
    for pkt in junk_packets(fuzz_dir):
        try:
            s.sendto(pkt, (ADDR, port))
            sent += 1
        except BlockingIOError:
            time.sleep(0.01)
        except OSError:
            pass  # e.g. EMSGSIZE for an oversized corpus file
        if sent % 200 == 0:
            time.sleep(0.005)  # let the server keep up: the point is parsing, not flooding
        while True:
            try:
                s.recv(65535)
                replies += 1
            except (BlockingIOError, OSError):
                break
    time.sleep(0.2)
    s.close()
    print("sent %d packets, %d replies" % (sent, replies))
    return None


def qr_dropped(port):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(0.5)
    try:
        s.sendto(query(0x4242, "www.shop.example", 1, flags=0x8000), (ADDR, port))
        s.recv(65535)
        return "a packet with QR set was answered"
    except socket.timeout:
        return None
    finally:
        s.close()


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    cmd, port = sys.argv[1], int(sys.argv[2])
    if cmd == "pipeline":
        err = pipeline(port)
    elif cmd == "junk":
        err = junk(port, sys.argv[3] if len(sys.argv) > 3 else None)
    elif cmd == "qr-dropped":
        err = qr_dropped(port)
    elif cmd == "idle":
        err = idle(port)
    elif cmd == "slow":
        err = slow(port)
    elif cmd == "limit":
        err = limit(port, int(sys.argv[3]))
    else:
        sys.exit(__doc__)
    if err:
        sys.stderr.write(err + "\n")
        sys.exit(1)


if __name__ == "__main__":
    try:
        main()
    except (OSError, ConnectionError) as e:
        sys.stderr.write("%s\n" % e)
        sys.exit(1)
