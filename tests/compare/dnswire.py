"""dnswire — just enough of the DNS wire format (RFC 1035, RFC 6891) to
build test queries with dig-like options and to turn any reply into a
normalized, comparable form.

Written for the differential test (tests/compare/run): the comparison must
not depend on dig's output formatting, and some queries (AXFR over UDP,
opcodes, odd question counts) are ones dig will not send.  Replies are
decoded defensively: a malformed reply becomes a parse error string, never
an exception that stops the run.
"""

import ipaddress
import socket
import struct

TYPES = {
    "A": 1, "NS": 2, "CNAME": 5, "SOA": 6, "PTR": 12, "HINFO": 13, "MX": 15,
    "TXT": 16, "AAAA": 28, "SRV": 33, "NAPTR": 35, "DNAME": 39, "OPT": 41,
    "DS": 43, "RRSIG": 46, "NSEC": 47, "DNSKEY": 48, "NSEC3": 50,
    "NSEC3PARAM": 51, "TLSA": 52, "SVCB": 64, "HTTPS": 65, "IXFR": 251,
    "AXFR": 252, "MAILB": 253, "MAILA": 254, "ANY": 255, "CAA": 257,
}
TYPE_NAMES = {v: k for k, v in TYPES.items()}
CLASSES = {"IN": 1, "CH": 3, "HS": 4, "NONE": 254, "ANY": 255}
CLASS_NAMES = {v: k for k, v in CLASSES.items()}
RCODES = {0: "NOERROR", 1: "FORMERR", 2: "SERVFAIL", 3: "NXDOMAIN", 4: "NOTIMP",
          5: "REFUSED", 9: "NOTAUTH", 16: "BADVERS", 23: "BADCOOKIE"}
FLAG_BITS = [("qr", 0x8000), ("aa", 0x0400), ("tc", 0x0200), ("rd", 0x0100),
             ("ra", 0x0080), ("z", 0x0040), ("ad", 0x0020), ("cd", 0x0010)]


def type_code(text):
    text = text.upper()
    if text in TYPES:
        return TYPES[text]
    if text.startswith("TYPE") and text[4:].isdigit():
        return int(text[4:])
    raise ValueError("unknown type " + text)


def type_text(code):
    return TYPE_NAMES.get(code, "TYPE%d" % code)


def split_labels(text):
    """Labels of a presentation name as bytes, with RFC 1035 5.1 escapes
    (\\X for a character, \\DDD for a byte) decoded."""
    labels, cur, i = [], bytearray(), 0
    while i < len(text):
        c = text[i]
        if c == "\\":
            if text[i + 1:i + 4].isdigit() and len(text[i + 1:i + 4]) == 3:
                cur.append(int(text[i + 1:i + 4]))
                i += 4
            else:
                cur += text[i + 1].encode("ascii")
                i += 2
        elif c == ".":
            labels.append(bytes(cur))
            cur = bytearray()
            i += 1
        else:
            cur += c.encode("ascii")
            i += 1
    if cur:
        labels.append(bytes(cur))
    return labels


def encode_name(text):
    """Presentation name (case kept, escapes decoded) to uncompressed wire form."""
    if text in (".", ""):
        return b"\x00"
    out = b""
    for raw in split_labels(text):
        if not 0 < len(raw) < 64:
            raise ValueError("bad label in " + text)
        out += bytes([len(raw)]) + raw
    return out + b"\x00"


class Query:
    """A query with dig-like knobs.  Defaults match `dig +norec`-less dig:
    RD set, EDNS0 with payload 1232, no DO."""

    def __init__(self, name, qtype):
        self.name = name
        self.qtype = type_code(qtype)
        self.qclass = 1
        self.opcode = 0
        self.rd = True
        self.cd = False
        self.ad = False
        self.edns = True
        self.edns_version = 0
        self.edns_udp = 1232
        self.edns_do = False
        self.edns_options = []  # (code, bytes)
        self.tcp = False
        self.qdcount = None     # override the question count field
        self.ixfr_serial = None
        self.id = 0

    def to_wire(self):
        flags = (self.opcode & 0xF) << 11
        if self.rd:
            flags |= 0x0100
        if self.ad:
            flags |= 0x0020
        if self.cd:
            flags |= 0x0010
        question = encode_name(self.name) + struct.pack("!HH", self.qtype, self.qclass)
        authority = b""
        nscount = 0
        if self.ixfr_serial is not None:
            soa = b"\x00\x00" + struct.pack("!IIIII", self.ixfr_serial, 0, 0, 0, 0)
            authority = encode_name(self.name) + struct.pack("!HHIH", 6, 1, 0, len(soa)) + soa
            nscount = 1
        additional = b""
        arcount = 0
        if self.edns:
            opts = b"".join(struct.pack("!HH", c, len(d)) + d for c, d in self.edns_options)
            ttl = (self.edns_version << 16) | (0x8000 if self.edns_do else 0)
            additional = b"\x00" + struct.pack("!HHIH", 41, self.edns_udp, ttl, len(opts)) + opts
            arcount = 1
        qdcount = 1 if self.qdcount is None else self.qdcount
        header = struct.pack("!HHHHHH", self.id, flags, qdcount, 0, nscount, arcount)
        return header + question + authority + additional


def apply_option(q, opt):
    """Applies one dig-style option ("+norec", "+bufsize=4096", ...)."""
    if not opt.startswith("+"):
        raise ValueError("option must start with +: " + opt)
    key, _, val = opt[1:].partition("=")
    if key in ("norec", "norecurse"):
        q.rd = False
    elif key in ("rec", "recurse"):
        q.rd = True
    elif key == "cd":
        q.cd = True
    elif key == "ad":
        q.ad = True
    elif key == "dnssec":
        q.edns_do = True
    elif key == "noedns":
        q.edns = False
    elif key == "edns":
        q.edns = True
        q.edns_version = int(val or 0)
    elif key == "bufsize":
        q.edns_udp = int(val)
    elif key == "nsid":
        q.edns_options.append((3, b""))
    elif key == "ednsopt":
        code, _, hexdata = val.partition(":")
        q.edns_options.append((int(code), bytes.fromhex(hexdata)))
    elif key == "subnet":
        addr, _, plen = val.partition("/")
        ip = ipaddress.ip_address(addr)
        plen = int(plen) if plen else ip.max_prefixlen
        family = 1 if ip.version == 4 else 2
        nbytes = (plen + 7) // 8
        data = struct.pack("!HBB", family, plen, 0) + ip.packed[:nbytes]
        q.edns_options.append((8, data))
    elif key == "tcp":
        q.tcp = True
    elif key == "class":
        q.qclass = CLASSES[val.upper()] if val.upper() in CLASSES else int(val)
    elif key == "opcode":
        q.opcode = int(val)
    elif key == "qdcount":
        q.qdcount = int(val)
    elif key == "ixfr":
        q.ixfr_serial = int(val)
    else:
        raise ValueError("unknown option " + opt)


class ParseError(Exception):
    pass


class Reader:
    def __init__(self, data):
        self.data = data
        self.pos = 0

    def take(self, n):
        if self.pos + n > len(self.data):
            raise ParseError("truncated at %d" % self.pos)
        chunk = self.data[self.pos:self.pos + n]
        self.pos += n
        return chunk

    def u8(self):
        return self.take(1)[0]

    def u16(self):
        return struct.unpack("!H", self.take(2))[0]

    def u32(self):
        return struct.unpack("!I", self.take(4))[0]

    def name(self, keep_case=False):
        labels = []
        pos = self.pos
        jumped = False
        hops = 0
        while True:
            if pos >= len(self.data):
                raise ParseError("name runs past the end")
            length = self.data[pos]
            if length & 0xC0 == 0xC0:
                if pos + 1 >= len(self.data):
                    raise ParseError("truncated pointer")
                target = ((length & 0x3F) << 8) | self.data[pos + 1]
                if not jumped:
                    self.pos = pos + 2
                jumped = True
                hops += 1
                if hops > 64 or target >= len(self.data):
                    raise ParseError("bad compression pointer")
                pos = target
                continue
            if length & 0xC0:
                raise ParseError("bad label type")
            pos += 1
            if length == 0:
                break
            label = self.data[pos:pos + length]
            if len(label) != length:
                raise ParseError("label runs past the end")
            labels.append(_label_text(label))
            pos += length
        if not jumped:
            self.pos = pos
        text = ".".join(labels) + "."
        return text if keep_case else text.lower()


def _label_text(label):
    """A label in presentation form: "." and "\\" escaped, bytes outside
    printable ASCII (and space) as \\DDD, so that "a\\.b" and "a.b" differ."""
    out = []
    for b in label:
        c = chr(b)
        if c in ".\\":
            out.append("\\" + c)
        elif 33 <= b <= 126:
            out.append(c)
        else:
            out.append("\\%03d" % b)
    return "".join(out)


def _charstrings(data):
    out = []
    i = 0
    while i < len(data):
        n = data[i]
        s = data[i + 1:i + 1 + n]
        if len(s) != n:
            raise ParseError("character-string runs past rdata")
        out.append('"' + s.decode("latin-1").replace("\\", "\\\\").replace('"', '\\"') + '"')
        i += 1 + n
    return out


def rdata_text(msg, rtype, start, length):
    """Presentation-like rdata; names decompressed and lower-cased."""
    data = msg[start:start + length]
    r = Reader(msg)
    r.pos = start
    if rtype == 1 and length == 4:
        return str(ipaddress.IPv4Address(data))
    if rtype == 28 and length == 16:
        return str(ipaddress.IPv6Address(data))
    if rtype in (2, 5, 12, 39):
        return r.name()
    if rtype == 15:
        pref = r.u16()
        return "%d %s" % (pref, r.name())
    if rtype == 6:
        mname = r.name()
        rname = r.name()
        return "%s %s %d %d %d %d %d" % ((mname, rname) + struct.unpack("!IIIII", r.take(20)))
    if rtype == 33:
        prio, weight, port = r.u16(), r.u16(), r.u16()
        return "%d %d %d %s" % (prio, weight, port, r.name())
    if rtype == 16:
        return " ".join(_charstrings(data))
    if rtype == 35:
        order, pref = r.u16(), r.u16()
        strings = []
        for _ in range(3):
            n = r.u8()
            strings.append(r.take(n))
        parts = _charstrings(b"".join(bytes([len(s)]) + s for s in strings))
        return "%d %d %s %s" % (order, pref, " ".join(parts), r.name())
    return "\\# %d %s" % (length, data.hex())


def parse_reply(msg):
    """Returns a dict describing the reply; raises ParseError."""
    r = Reader(msg)
    ident, flags, qd, an, ns, ar = struct.unpack("!HHHHHH", r.take(12))
    out = {
        "id": ident,
        "opcode": (flags >> 11) & 0xF,
        "flags": [n for n, bit in FLAG_BITS if flags & bit],
        "rcode": flags & 0xF,
        "question": [],
        "answer": [],
        "authority": [],
        "additional": [],
        "edns": None,
        "size": len(msg),
    }
    for _ in range(qd):
        qname = r.name(keep_case=True)
        qtype, qclass = r.u16(), r.u16()
        out["question"].append("%s %s %s" % (qname, CLASS_NAMES.get(qclass, qclass), type_text(qtype)))
    for section, count in (("answer", an), ("authority", ns), ("additional", ar)):
        for _ in range(count):
            owner_exact = r.name(keep_case=True)
            rtype, rclass, ttl, rdlen = r.u16(), r.u16(), r.u32(), r.u16()
            start = r.pos
            r.take(rdlen)
            if rtype == 41:
                if out["edns"] is not None:
                    raise ParseError("two OPT records")
                opts = []
                o = Reader(msg[start:start + rdlen])
                while o.pos < rdlen:
                    code, olen = o.u16(), o.u16()
                    opts.append("%d:%s" % (code, o.take(olen).hex()))
                out["edns"] = {
                    "owner": owner_exact,
                    "udp": rclass,
                    "ext_rcode": ttl >> 24,
                    "version": (ttl >> 16) & 0xFF,
                    "do": bool(ttl & 0x8000),
                    "options": opts,
                }
                out["rcode"] |= (ttl >> 24) << 4
                continue
            text = "%s %d %s %s %s" % (owner_exact.lower(), ttl, CLASS_NAMES.get(rclass, str(rclass)),
                                       type_text(rtype), rdata_text(msg, rtype, start, rdlen))
            out[section].append(text)
            out.setdefault(section + "_owners", []).append(owner_exact)
    if r.pos != len(msg):
        raise ParseError("%d trailing bytes" % (len(msg) - r.pos))
    return out


def exchange(addr, port, wire, tcp, timeout):
    """Sends one query, returns the reply bytes or None on timeout/close.
    Over TCP only the first message is read (enough for AXFR's first part)."""
    family = socket.AF_INET6 if ":" in addr else socket.AF_INET
    if tcp:
        s = socket.socket(family, socket.SOCK_STREAM)
        s.settimeout(timeout)
        try:
            s.connect((addr, port))
            s.sendall(struct.pack("!H", len(wire)) + wire)
            head = _recv_exact(s, 2)
            if head is None:
                return None
            return _recv_exact(s, struct.unpack("!H", head)[0])
        except (socket.timeout, ConnectionError, OSError):
            return None
        finally:
            s.close()
    s = socket.socket(family, socket.SOCK_DGRAM)
    s.settimeout(timeout)
    try:
        s.sendto(wire, (addr, port))
        ident = wire[:2]
        for _ in range(8):  # skip stray replies with another ID
            data, _ = s.recvfrom(65535)
            if data[:2] == ident:
                return data
        return None
    except (socket.timeout, OSError):
        return None
    finally:
        s.close()


def _recv_exact(s, n):
    buf = b""
    while len(buf) < n:
        chunk = s.recv(n - len(buf))
        if not chunk:
            return None
        buf += chunk
    return buf
