#!/usr/bin/env bash
# Integration test: starts geosteerd on a free loopback port with the store
# zone (zones/shop.example.zone and its child eu.shop.example), asks it
# questions with dig, and checks what a resolver would see: rcode, header
# flags, and the contents of each section.  The checks read like the README:
# a config, a dig, the expected answer.
#
#   GEOSTEERD=path  the binary under test (default: geosteerd at the repo root)
#   SERVER=knot     run the same checks against knotd instead (validates the
#                   checks themselves; geosteerd-only checks are skipped)
#
# Prints "ok N - name" / "not ok N - name" per check and ends with
# "N passed, M failed"; exits non-zero if anything failed.
set -u

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
HERE="$ROOT/tests/integration"
GEOSTEERD=$(realpath -m "${GEOSTEERD:-$ROOT/geosteerd}")
SERVER=${SERVER:-geosteerd}
NSID=geosteer-test
FUZZ_DIR=/nonexistent

TMP=$(mktemp -d /tmp/geosteer-integration.XXXXXX)
SERVER_PID=
cleanup() {
	if [ -n "$SERVER_PID" ] && kill -0 "$SERVER_PID" 2>/dev/null; then
		kill -TERM "$SERVER_PID" 2>/dev/null
		for _ in $(seq 50); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "$SERVER_PID" 2>/dev/null
	fi
	rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---------------------------------------------------------------- checks
N=0 PASSED=0 FAILED=0
ok() { N=$((N + 1)); PASSED=$((PASSED + 1)); echo "ok $N - $1"; }
not_ok() {
	N=$((N + 1)); FAILED=$((FAILED + 1)); echo "not ok $N - $1"
	[ $# -gt 1 ] && printf '%s\n' "$2" | sed 's/^/#   /'
	return 0
}
skip() { N=$((N + 1)); PASSED=$((PASSED + 1)); echo "ok $N - $1 # SKIP $2"; }

# expect NAME EXPECTED ACTUAL
expect() {
	if [ "$2" = "$3" ]; then ok "$1"; else not_ok "$1" "want: $2"$'\n'"got:  $3"; fi
}
# expect_re NAME REGEX TEXT  (grep -E, at least one line must match)
expect_re() {
	if printf '%s\n' "$3" | grep -qE -- "$2"; then ok "$1"; else not_ok "$1" "want a line matching: $2"$'\n'"got: $3"; fi
}
expect_no_re() {
	if printf '%s\n' "$3" | grep -qE -- "$2"; then not_ok "$1" "want no line matching: $2"$'\n'"got: $3"; else ok "$1"; fi
}

# ---------------------------------------------------------------- dig
# Q ARGS...: full dig output of one query in $OUT.
Q() { OUT=$(dig @127.0.0.1 -p "$PORT" +time=2 +tries=1 "$@" 2>&1); }
status() { sed -n 's/.*status: \([A-Z]*\),.*/\1/p' <<<"$OUT"; }
flags() { sed -n 's/^;; flags: \([^;]*\);.*/\1/p' <<<"$OUT"; }
has_flag() { flags | tr ' ' '\n' | grep -qx "$1"; }
# section NAME: the records of ANSWER/AUTHORITY/ADDITIONAL, tabs squeezed to
# single spaces, sorted, so they compare as text.
section() {
	awk -v s=";; $1 SECTION:" '$0 == s { on = 1; next } on && /^$/ { on = 0 } on' <<<"$OUT" |
		tr -s '\t ' ' ' | sort
}
count() { section "$1" | grep -c . ; }
edns_line() { sed -n 's/^; EDNS: //p' <<<"$OUT"; }

# check_flag NAME FLAG yes|no
check_flag() {
	local f have=no
	f=$(flags)
	has_flag "$2" && have=yes
	if [ "$have" = "$3" ]; then ok "$1"; else not_ok "$1" "want $2: $3; flags: $f"; fi
}

# ---------------------------------------------------------------- server
port_free() {
	python3 - "$1" <<-'EOF'
		import socket, sys
		p = int(sys.argv[1])
		for kind in (socket.SOCK_DGRAM, socket.SOCK_STREAM):
		    s = socket.socket(socket.AF_INET, kind)
		    try:
		        s.bind(("127.0.0.1", p))
		    except OSError:
		        sys.exit(1)
		    finally:
		        s.close()
	EOF
}
PORT=
for _ in $(seq 50); do
	p=$((20000 + RANDOM % 40000))
	if port_free "$p"; then PORT=$p; break; fi
done
[ -n "$PORT" ] || { echo "no free port"; exit 1; }

# The zones are copied next to the config, and the config names them by
# relative path: paths resolve against the config's folder, $INCLUDE against
# the including file's.
mkdir -p "$TMP/conf" "$TMP/knot/db"
cp "$ROOT/zones/shop.example.zone" "$ROOT/zones/shop.example.include" \
	"$ROOT/zones/eu.shop.example.zone" "$TMP/conf/"
cat >"$TMP/conf/geosteer.yaml" <<EOF
server:
  listen: ["127.0.0.1:$PORT"]
  nsid: $NSID
  workers: 2
zones:
  - origin: shop.example
    file: shop.example.zone
  - origin: eu.shop.example
    file: eu.shop.example.zone
EOF
cat >"$TMP/knot/knot.conf" <<EOF
server:
    listen: 127.0.0.1@$PORT
    rundir: $TMP/knot
    nsid: "$NSID"
database:
    storage: $TMP/knot/db
template:
  - id: default
    storage: $TMP/conf
    semantic-checks: off
    zonefile-sync: -1
    journal-content: none
zone:
  - domain: shop.example
    file: shop.example.zone
  - domain: eu.shop.example
    file: eu.shop.example.zone
log:
  - target: stderr
    any: warning
EOF

if [ "$SERVER" = knot ]; then
	knotd -c "$TMP/knot/knot.conf" >"$TMP/server.log" 2>&1 &
else
	[ -x "$GEOSTEERD" ] || { echo "no executable $GEOSTEERD (run make first)"; exit 1; }
	"$GEOSTEERD" -c "$TMP/conf/geosteer.yaml" >"$TMP/server.log" 2>&1 &
fi
SERVER_PID=$!

up=no
for _ in $(seq 100); do
	kill -0 "$SERVER_PID" 2>/dev/null || break
	Q eu.shop.example SOA +norec
	s1=$(status)
	Q shop.example SOA +norec
	if [ "$(status)" = NOERROR ] && [ "$s1" = NOERROR ]; then up=yes; break; fi
	sleep 0.1
done
if [ $up = yes ]; then ok "server answers on 127.0.0.1:$PORT"; else
	not_ok "server answers on 127.0.0.1:$PORT" "$(tail -20 "$TMP/server.log")"
	echo "$PASSED passed, $FAILED failed"
	exit 1
fi

# ---------------------------------------------------------------- positive answers
Q www.shop.example A
expect "www A: NOERROR" NOERROR "$(status)"
check_flag "www A: aa set" aa yes
check_flag "www A: rd echoed" rd yes
check_flag "www A: ra clear (no recursion)" ra no
expect "www A: both addresses, TTL 300" \
	"www.shop.example. 300 IN A 192.0.2.10
www.shop.example. 300 IN A 192.0.2.11" "$(section ANSWER)"
Q www.shop.example A +norec
check_flag "www A +norec: rd not set" rd no

Q www.shop.example AAAA +norec
expect "www AAAA" "www.shop.example. 300 IN AAAA 2001:db8::10" "$(section ANSWER)"
Q api.shop.example AAAA +norec
expect "api AAAA (from the \$INCLUDE file)" "api.shop.example. 3600 IN AAAA 2001:db8::20" "$(section ANSWER)"

Q shop.example MX +norec
expect "MX answer" "shop.example. 3600 IN MX 10 mail1.shop.example.
shop.example. 3600 IN MX 20 mail2.shop.example." "$(section ANSWER)"
expect "MX additional: mail hosts' addresses" "mail1.shop.example. 3600 IN A 192.0.2.25
mail1.shop.example. 3600 IN AAAA 2001:db8::25
mail2.shop.example. 3600 IN A 198.51.100.25" "$(section ADDITIONAL)"

Q txt.shop.example TXT +norec
expect "TXT with several strings" \
	'txt.shop.example. 3600 IN TXT "first string" "second string" "third; with a semicolon"' "$(section ANSWER)"
Q shop.example TXT +norec
expect "SPF TXT at the apex" 'shop.example. 3600 IN TXT "v=spf1 mx ip4:192.0.2.0/24 ip6:2001:db8::/32 -all"' \
	"$(section ANSWER)"

Q _sip._tcp.shop.example SRV +norec
expect "SRV answer" "_sip._tcp.shop.example. 3600 IN SRV 10 60 5060 sip.shop.example." "$(section ANSWER)"
expect_re "SRV additional: target address" "^sip\.shop\.example\. 3600 IN A 192\.0\.2\.60$" "$(section ADDITIONAL)"

Q shop.example CAA +norec
expect "CAA" 'shop.example. 3600 IN CAA 0 iodef "mailto:security@shop.example"
shop.example. 3600 IN CAA 0 issue "ca.example.net"' "$(section ANSWER)"
Q sip.shop.example NAPTR +norec
expect "NAPTR" 'sip.shop.example. 3600 IN NAPTR 100 10 "S" "SIP+D2T" "" _sip._tcp.shop.example.' "$(section ANSWER)"
Q 10.rev.shop.example PTR +norec
expect "PTR" "10.rev.shop.example. 3600 IN PTR www.shop.example." "$(section ANSWER)"
Q unknown.shop.example TYPE65280 +norec
expect "unknown type in RFC 3597 form" 'unknown.shop.example. 3600 IN TYPE65280 \# 4 0A000001' "$(section ANSWER)"

# ---------------------------------------------------------------- negative answers
SOA_NEG='shop.example. 300 IN SOA ns1.shop.example. hostmaster.shop.example. 2026112601 7200 900 1209600 300'
Q www.shop.example MX +norec
expect "NODATA: NOERROR" NOERROR "$(status)"
check_flag "NODATA: aa set" aa yes
expect "NODATA: empty answer" 0 "$(count ANSWER)"
expect "NODATA: SOA with TTL min(3600, 300)" "$SOA_NEG" "$(section AUTHORITY)"
Q nope.shop.example A +norec
expect "NXDOMAIN: rcode" NXDOMAIN "$(status)"
check_flag "NXDOMAIN: aa set" aa yes
expect "NXDOMAIN: SOA with TTL min(3600, 300)" "$SOA_NEG" "$(section AUTHORITY)"
Q nope.eu.shop.example A +norec
expect "NXDOMAIN in the child zone: rcode" NXDOMAIN "$(status)"
expect "NXDOMAIN in the child zone: its SOA, TTL min(900, 7200)" \
	"eu.shop.example. 900 IN SOA ns1.eu.shop.example. hostmaster.shop.example. 2026112601 3600 600 604800 7200" \
	"$(section AUTHORITY)"
Q www.eu.shop.example A +norec
expect "child zone answers its own names" "www.eu.shop.example. 1800 IN A 192.0.2.211" "$(section ANSWER)"

# ---------------------------------------------------------------- CNAME
Q shop-cdn.shop.example A +norec
expect "in-zone CNAME chain followed to the addresses" \
	"cdn.shop.example. 3600 IN CNAME www.shop.example.
shop-cdn.shop.example. 3600 IN CNAME cdn.shop.example.
www.shop.example. 300 IN A 192.0.2.10
www.shop.example. 300 IN A 192.0.2.11" "$(section ANSWER)"
Q blog.shop.example A +norec
expect "CNAME out of the zone: NOERROR" NOERROR "$(status)"
expect "CNAME out of the zone: just the CNAME" "blog.shop.example. 3600 IN CNAME shopblog.example.net." \
	"$(section ANSWER)"
Q dangling.shop.example A +norec
expect "dangling CNAME: NXDOMAIN" NXDOMAIN "$(status)"
expect "dangling CNAME: CNAME in the answer" "dangling.shop.example. 3600 IN CNAME gone.shop.example." \
	"$(section ANSWER)"
expect "dangling CNAME: SOA in authority" "$SOA_NEG" "$(section AUTHORITY)"
Q shop-cdn.shop.example CNAME +norec
expect "qtype CNAME: the CNAME itself, not followed" "shop-cdn.shop.example. 3600 IN CNAME cdn.shop.example." \
	"$(section ANSWER)"

# ---------------------------------------------------------------- wildcards, ENTs
Q anything.promo.shop.example A +norec
expect "wildcard synthesizes the query name" "anything.promo.shop.example. 3600 IN A 203.0.113.80" \
	"$(section ANSWER)"
check_flag "wildcard: aa set" aa yes
Q a.b.promo.shop.example TXT +norec
expect "wildcard covers several labels" 'a.b.promo.shop.example. 3600 IN TXT "promo wildcard"' "$(section ANSWER)"
Q sale.promo.shop.example A +norec
expect "existing name beats the wildcard" "sale.promo.shop.example. 3600 IN A 203.0.113.81" "$(section ANSWER)"
Q sale.promo.shop.example TXT +norec
expect "existing name, other type: NODATA, no wildcard" "NOERROR 0" "$(status) $(count ANSWER)"
Q x.sale.promo.shop.example A +norec
expect "below an existing name without wildcard: NXDOMAIN" NXDOMAIN "$(status)"
Q y.promo.shop.example A +norec
expect "empty non-terminal under a wildcard: NODATA" "NOERROR 0" "$(status) $(count ANSWER)"
Q z.y.promo.shop.example A +norec
expect "below an empty non-terminal: NXDOMAIN" NXDOMAIN "$(status)"
Q foo.go.shop.example A +norec
expect "wildcard CNAME synthesized and followed" "foo.go.shop.example. 3600 IN CNAME www.shop.example.
www.shop.example. 300 IN A 192.0.2.10
www.shop.example. 300 IN A 192.0.2.11" "$(section ANSWER)"
Q b.deep.shop.example A +norec
expect "empty non-terminal: NOERROR, no answer" "NOERROR 0" "$(status) $(count ANSWER)"
expect "empty non-terminal: SOA in authority" "$SOA_NEG" "$(section AUTHORITY)"
Q a.b.deep.shop.example A +norec
expect "name below the empty non-terminals" "a.b.deep.shop.example. 3600 IN A 192.0.2.99" "$(section ANSWER)"

# ---------------------------------------------------------------- delegation
Q www.partner.shop.example A +norec
expect "referral: NOERROR" NOERROR "$(status)"
check_flag "referral: aa clear" aa no
expect "referral: empty answer" 0 "$(count ANSWER)"
expect "referral: NS in authority" "partner.shop.example. 3600 IN NS ns.partner-dns.example.net.
partner.shop.example. 3600 IN NS ns1.partner.shop.example." "$(section AUTHORITY)"
expect "referral: glue in additional" "ns1.partner.shop.example. 3600 IN A 192.0.2.200
ns1.partner.shop.example. 3600 IN AAAA 2001:db8:3::200" "$(section ADDITIONAL)"
Q partner.shop.example DS +norec
check_flag "DS at the cut: answered by the parent (aa)" aa yes
expect "DS at the cut: the DS record" \
	"partner.shop.example. 3600 IN DS 12345 13 2 AE4281CBA77BC8EC83A3FD6BD1607DE4B40C3DBD3A48E0D9FA406468 A8EC0A9F" \
	"$(section ANSWER)"

# ---------------------------------------------------------------- refused, ANY
Q example.com A +norec
expect "name outside every zone: REFUSED" REFUSED "$(status)"
Q shop.example ANY +norec
types=$(section ANSWER | awk '{ print $4 }' | sort -u)
if [ "$(status)" = NOERROR ] && [ "$(count ANSWER)" -ge 1 ] && [ "$(wc -l <<<"$types")" = 1 ]; then
	ok "ANY at the apex: one RRset (RFC 8482)"
else
	not_ok "ANY at the apex: one RRset (RFC 8482)" "$OUT"
fi

# ---------------------------------------------------------------- truncation
Q big.shop.example A +norec +noedns +ignore
check_flag "40 A records without EDNS: TC" tc yes
Q big.shop.example A +norec +tcp
expect "40 A records over TCP: all of them" "NOERROR 40" "$(status) $(count ANSWER)"
check_flag "40 A records over TCP: no TC" tc no
Q big.shop.example A +norec +ignore
expect "40 A records with EDNS 1232: all of them, no TC" "40" "$(count ANSWER)"
Q bigtxt.shop.example TXT +norec +ignore
check_flag "1.5 KB of TXT with EDNS 1232: TC" tc yes

# ---------------------------------------------------------------- EDNS
Q www.shop.example A +norec +bufsize=4096
expect_re "EDNS: the server's payload (1232) in the reply" "udp: 1232$" "$(edns_line)"
Q www.shop.example A +norec +noedns
expect "no EDNS in, no OPT out" "" "$(edns_line)"
Q www.shop.example A +norec +edns=1 +noednsneg
expect "EDNS version 1: BADVERS" BADVERS "$(status)"
expect_re "BADVERS reply carries EDNS version 0" "^version: 0," "$(edns_line)"
expect "BADVERS reply: no answer" 0 "$(count ANSWER)"
Q www.shop.example A +norec +nsid
expect_re "NSID returned when asked" "^; NSID: .*\(\"$NSID\"\)" "$OUT"
Q www.shop.example A +norec
expect_no_re "NSID not returned unless asked" "^; NSID:" "$OUT"
Q www.shop.example A +norec +dnssec
expect_re "DO bit echoed" "^version: 0, flags: do;" "$(edns_line)"
Q www.shop.example A +norec +ednsopt=65001:abcd
expect "unknown EDNS option ignored" "NOERROR 2" "$(status) $(count ANSWER)"

# ---------------------------------------------------------------- case, TCP
Q WwW.ShOp.ExAmPlE A +norec
expect_re "0x20: question case preserved" "^;WwW\.ShOp\.ExAmPlE\.[[:space:]]" "$OUT"
expect "0x20: answer owner case preserved" "WwW.ShOp.ExAmPlE." "$(section ANSWER | awk 'NR == 1 { print $1 }')"
Q www.shop.example A +norec +tcp
expect "TCP: same answer" "NOERROR 2" "$(status) $(count ANSWER)"
Q nope.shop.example A +norec +tcp
expect "TCP: NXDOMAIN" NXDOMAIN "$(status)"
if msg=$(python3 "$HERE/dnsprobe.py" pipeline "$PORT" 2>&1); then
	ok "TCP pipelining: 3 queries in one write, 3 replies in order"
else
	not_ok "TCP pipelining: 3 queries in one write, 3 replies in order" "$msg"
fi
if msg=$(python3 "$HERE/dnsprobe.py" qr-dropped "$PORT" 2>&1); then
	ok "a packet with QR set gets no reply"
else
	not_ok "a packet with QR set gets no reply" "$msg"
fi

# ---------------------------------------------------------------- malformed packets
fuzz_args=()
if [ -d "$FUZZ_DIR" ]; then fuzz_args=("$FUZZ_DIR"); else
	echo "# $FUZZ_DIR not found: the barrage runs without the corpus"
fi
msg=$(python3 "$HERE/dnsprobe.py" junk "$PORT" "${fuzz_args[@]}" 2>&1)
echo "# junk barrage: $msg"
if kill -0 "$SERVER_PID" 2>/dev/null; then ok "alive after the malformed-packet barrage"; else
	not_ok "alive after the malformed-packet barrage" "$(tail -20 "$TMP/server.log")"
fi
Q www.shop.example A +norec
expect "answers correctly after the barrage" "NOERROR 2" "$(status) $(count ANSWER)"
Q www.shop.example A +norec +tcp
expect "answers over TCP after the barrage" "NOERROR 2" "$(status) $(count ANSWER)"

# ---------------------------------------------------------------- --check
if [ "$SERVER" = geosteerd ]; then
	if out=$("$GEOSTEERD" -c "$TMP/conf/geosteer.yaml" --check 2>&1); then
		ok "--check on a good config: exit 0"
	else
		not_ok "--check on a good config: exit 0" "$out"
	fi

	mkdir -p "$TMP/bad"
	cat >"$TMP/bad/broken.zone" <<-'EOF'
		$TTL 3600
		@ SOA ns1 hostmaster 1 7200 900 1209600 300
		  NS ns1
		ns1 A 192.0.2.53
		www CNAME ns1
		www A 192.0.2.10
	EOF
	cat >"$TMP/bad/zone.yaml" <<-EOF
		server:
		  listen: ["127.0.0.1:$PORT"]
		zones:
		  - origin: shop.example
		    file: broken.zone
	EOF
	out=$("$GEOSTEERD" -c "$TMP/bad/zone.yaml" --check 2>&1)
	rc=$?
	expect "--check, CNAME and other data: exit non-zero" yes "$([ $rc -ne 0 ] && echo yes || echo "no ($rc)")"
	expect_re "--check, CNAME and other data: FILE:LINE: message" "broken\.zone:[56]: .*CNAME" "$out"

	cat >"$TMP/bad/key.yaml" <<-EOF
		server:
		  listen: ["127.0.0.1:$PORT"]
		  colour: blue
		zones:
		  - origin: shop.example
		    file: $TMP/conf/shop.example.zone
	EOF
	out=$("$GEOSTEERD" -c "$TMP/bad/key.yaml" --check 2>&1)
	rc=$?
	expect "--check, unknown YAML key: exit non-zero" yes "$([ $rc -ne 0 ] && echo yes || echo "no ($rc)")"
	expect_re "--check, unknown YAML key: key.yaml:3: message" "key\.yaml:3: .*colour" "$out"
else
	for c in "--check on a good config" "--check on a broken zone" "--check on an unknown YAML key"; do
		skip "$c" "geosteerd only"
	done
fi

# ---------------------------------------------------------------- SIGTERM
kill -TERM "$SERVER_PID"
stopped=no
for _ in $(seq 50); do
	kill -0 "$SERVER_PID" 2>/dev/null || { stopped=yes; break; }
	sleep 0.1
done
if [ $stopped = yes ]; then
	wait "$SERVER_PID"
	rc=$?
	SERVER_PID=
	expect "SIGTERM: clean stop, exit status 0" 0 "$rc"
else
	not_ok "SIGTERM: stopped within 5 s"
fi

# A sanitizer build (make asan) reports here; UBSan does not stop the server.
expect_no_re "no sanitizer reports in the server's log" "runtime error:|AddressSanitizer|LeakSanitizer" \
	"$(cat "$TMP/server.log")"

echo "$PASSED passed, $FAILED failed"
[ "$FAILED" -eq 0 ]
