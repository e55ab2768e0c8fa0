# geosteer — build, test, run.  `make run` and `make test` are the two
# commands a fresh Debian 12 machine needs; both install what is missing.

CC      ?= cc
PKGS    := ldns libuv libmaxminddb yaml-0.1 openssl
CFLAGS  ?= -O2 -g
override CFLAGS += -std=gnu11 -Wall -Wextra -Werror -Wno-missing-field-initializers -Iinclude -D_GNU_SOURCE -pthread -DGEOSTEER_TLS
PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   = $(shell pkg-config --libs $(PKGS) 2>/dev/null)
LDLIBS  += $(PKG_LIBS) -pthread -lm

BUILD   ?= build
LIB_SRC := $(filter-out src/main.c,$(wildcard src/*.c))
LIB_OBJ := $(LIB_SRC:src/%.c=$(BUILD)/%.o)
UNIT_SRC := $(wildcard tests/unit/test_*.c)
UNIT_BIN := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)

.PHONY: all deps test unit integration compare asan fuzz run clean format lab bench bench-deps bench-scale qbench pgo pgo-check install install-check

all: geosteerd geosteerctl

deps:
	@tools/install-deps

# The daemon in sbin (an operator starts it), the client in bin; DESTDIR
# for packaging.  No config is installed: geosteerd -c names it.
PREFIX  ?= /usr/local
install: all
	install -d "$(DESTDIR)$(PREFIX)/sbin" "$(DESTDIR)$(PREFIX)/bin"
	install -m 755 geosteerd "$(DESTDIR)$(PREFIX)/sbin/geosteerd"
	install -m 755 geosteerctl "$(DESTDIR)$(PREFIX)/bin/geosteerctl"

geosteerd: $(BUILD)/geosteerd
	@cp $< $@.tmp && mv -f $@.tmp $@

geosteerctl: $(BUILD)/geosteerctl
	@cp $< $@.tmp && mv -f $@.tmp $@

# geosteerctl is a small client: libc only, none of the daemon's modules.
$(BUILD)/geosteerctl: tools/geosteerctl.c | $(BUILD)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $<

$(BUILD)/geosteerd: $(BUILD)/main.o $(LIB_OBJ)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/%.o: src/%.c $(wildcard include/*.h) Makefile | $(BUILD)
	$(CC) $(CFLAGS) $(PKG_CFLAGS) -c -o $@ $<

$(BUILD)/tests/%: tests/unit/%.c $(wildcard tests/unit/*.h) $(LIB_OBJ) | $(BUILD)
	@mkdir -p $(BUILD)/tests
	$(CC) $(CFLAGS) $(PKG_CFLAGS) $(LDFLAGS) -o $@ $< $(LIB_OBJ) $(LDLIBS) -lcmocka

$(BUILD):
	@mkdir -p $(BUILD)

# GeoIP fixtures are built from text by tools/mkgeodb, never committed.
GEO_FIXTURES := $(patsubst tests/unit/geo/%.txt,$(BUILD)/fixtures/%.mmdb,$(wildcard tests/unit/geo/*.txt)) \
                $(BUILD)/fixtures/synthetic.mmdb
$(BUILD)/fixtures/%.mmdb: tests/unit/geo/%.txt tools/mkgeodb
	@mkdir -p $(dir $@)
	tools/mkgeodb $< $@
$(BUILD)/fixtures/synthetic.mmdb: tools/mkgeodb
	@mkdir -p $(dir $@)
	tools/mkgeodb --synthetic 20000 $@ 7

unit: $(UNIT_BIN) $(GEO_FIXTURES)
	@set -e; for t in $(UNIT_BIN); do echo "== $$t"; GEOSTEER_FIXTURES=$(BUILD)/fixtures $$t; done

integration: geosteerd geosteerctl $(BUILD)/dnsblast $(BUILD)/udp_alloc_preload.so
	@tests/integration/run
	@tests/integration/control-test
	@tests/integration/steering-test
	@tests/integration/probe-test
	@tests/integration/stall-test
	@tests/integration/metrics-test
	@DNSBLAST=$(BUILD)/dnsblast PRELOAD=$(BUILD)/udp_alloc_preload.so tests/integration/udp-alloc-test

# Counts the allocations of the daemon's UDP worker threads (LD_PRELOAD).
$(BUILD)/udp_alloc_preload.so: tests/integration/udp_alloc_preload.c tests/unit/alloc_count.h | $(BUILD)
	$(CC) $(CFLAGS) -shared -fPIC $(LDFLAGS) -o $@ $< -ldl

compare: geosteerd
	@tests/compare/run

test: deps
	@$(MAKE) --no-print-directory all
	@$(MAKE) --no-print-directory unit
	@$(MAKE) --no-print-directory integration
	@$(MAKE) --no-print-directory compare
	@$(MAKE) --no-print-directory pgo-check
	@$(MAKE) --no-print-directory install-check

# make install into a scratch folder: both programs land where the README
# says and run from there.
install-check:
	@rm -rf $(BUILD)/install-check
	@$(MAKE) --no-print-directory install DESTDIR=$(BUILD)/install-check PREFIX=/usr >/dev/null
	@$(BUILD)/install-check/usr/sbin/geosteerd --version | grep -q '^geosteerd ' && \
		$(BUILD)/install-check/usr/bin/geosteerctl --help | grep -q '^usage: geosteerctl' && \
		echo "install-check: /usr/sbin/geosteerd and /usr/bin/geosteerctl installed and run" || \
		{ echo "install-check: FAILED"; exit 1; }

# The profile-guided build (optional, build-pgo/geosteerd): trained on the
# benchmark's data, then held to the same answers as the plain build.
pgo: deps
	@tools/pgo-build

pgo-check:
	@tools/pgo-build
	@GEOSTEERD=build-pgo/geosteerd tests/compare/run

# AddressSanitizer + UBSan build; the whole suite runs against it.
asan: deps
	@$(MAKE) --no-print-directory BUILD=build-asan CFLAGS="-O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer" build-asan/geosteerd build-asan/geosteerctl unit
	@GEOSTEERD=build-asan/geosteerd tests/integration/run
	@GEOSTEERD=build-asan/geosteerd GEOSTEERCTL=build-asan/geosteerctl tests/integration/control-test
	@GEOSTEERD=build-asan/geosteerd GEOSTEERCTL=build-asan/geosteerctl tests/integration/steering-test
	@GEOSTEERD=build-asan/geosteerd GEOSTEERCTL=build-asan/geosteerctl tests/integration/probe-test
	@GEOSTEERD=build-asan/geosteerd GEOSTEERCTL=build-asan/geosteerctl tests/integration/stall-test
	@GEOSTEERD=build-asan/geosteerd GEOSTEERCTL=build-asan/geosteerctl tests/integration/metrics-test
	@GEOSTEERD=build-asan/geosteerd tests/compare/run

# Every target in fuzz/ for FUZZ_SECONDS each (tools/run-fuzz SECONDS [TARGET...]).
FUZZ_SECONDS ?= 60
fuzz: deps
	@tools/run-fuzz $(FUZZ_SECONDS)

# The demo GeoIP database geosteer.yaml names (built from text, never committed).
build/demo-geo.mmdb: zones/demo-geo.txt tools/mkgeodb
	@mkdir -p build
	tools/mkgeodb $< $@

run: deps
	@$(MAKE) --no-print-directory all build/demo-geo.mmdb
	./geosteerd -c geosteer.yaml

# The benchmark (issue 5): our load generator and the echo ceiling, then
# tools/bench/run against every peer installed (`make bench-deps` installs them).
$(BUILD)/dnsblast: tools/dnsblast.c | $(BUILD)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $<
$(BUILD)/echo-responder: tools/echo-responder.c | $(BUILD)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $<

bench-deps:
	@GEOSTEER_DEPS_EXTRA="gdnsd nsd knot knot-module-geoip pdns-server pdns-backend-bind pdns-backend-geoip linux-perf" tools/install-deps
	@-[ "$$(id -u)" -ne 0 ] || systemctl disable --quiet gdnsd.service pdns.service 2>/dev/null || true

bench: deps
	@$(MAKE) --no-print-directory all $(BUILD)/dnsblast $(BUILD)/echo-responder $(BUILD)/qbench
	@tools/bench/run

bench-scale: deps
	@$(MAKE) --no-print-directory all $(BUILD)/dnsblast
	@tools/bench-scale

# In-process microbenchmark of the answering code (no sockets, no kernel):
# query_respond_outcome() on the benchmark's own queries and config, linked
# like geosteerd.  tools/qbench-run makes the config and prints ns/query.
$(BUILD)/qbench: tools/qbench.c $(LIB_OBJ) | $(BUILD)
	$(CC) $(CFLAGS) $(PKG_CFLAGS) $(LDFLAGS) -o $@ $< $(LIB_OBJ) $(LDLIBS)

qbench:
	@$(MAKE) --no-print-directory $(BUILD)/qbench $(BUILD)/dnsblast
	@BUILD=$(BUILD) tools/qbench-run

# The three-region demo of tools/lab (root, network namespaces; see README).
lab: geosteerd geosteerctl
	@tools/lab demo

clean:
	rm -rf build build-asan build-fuzz build-pgo geosteerd geosteerctl

format:
	clang-format -i src/*.c include/*.h tests/unit/*.c tools/*.c fuzz/*.c
