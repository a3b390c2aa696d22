# Barbacane control plane: one Makefile for every binary, test and benchmark.
# Folders map to object lists; pkg-config supplies flags; -MMD -MP tracks headers. Each binary
# links only the libraries it needs (the gateway never links libpq, even by accident).

BUILD   ?= build
BIN     ?= bin
OPT     ?= -O2
SAN     ?=
PREFIX  ?= /usr/local
PYTHON  ?= /usr/bin/python3
VERSION := $(shell cat VERSION 2>/dev/null || echo 0.0.0)

ALL_PKGS   = libzmq libczmq libpq msgpack libmicrohttpd jansson openssl yaml-0.1 libpcre2-8 zlib \
             libwebsockets libarchive
PKG_CFLAGS := $(shell pkg-config --cflags $(ALL_PKGS))
libs = $(shell pkg-config --libs $(1))

CFLAGS  = -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes \
          -Wmissing-prototypes -Werror=implicit-function-declaration -g $(OPT) $(SAN) \
          -fno-omit-frame-pointer -MMD -MP -Icommon -Iproto -Icompiler-svc -Idataplane-hub -Igateway \
          -I$(BUILD)/gen -DBB_VERSION='"$(VERSION)"' $(PKG_CFLAGS)
LDFLAGS = $(SAN)

# Libraries per binary: what each process may use, and nothing more.
GW_LIBS    = $(call libs,libzmq libczmq msgpack libmicrohttpd jansson openssl) -lpthread
REG_LIBS   = $(call libs,libzmq libczmq msgpack jansson openssl libpq yaml-0.1) -lpthread
CC_LIBS    = $(call libs,yaml-0.1 jansson openssl libpcre2-8 zlib) -lpthread
CS_LIBS    = $(call libs,libzmq libczmq msgpack libpq) $(CC_LIBS)
HUB_LIBS   = $(call libs,libwebsockets libzmq libczmq msgpack jansson openssl libpq) -lpthread
AGENT_LIBS = $(call libs,libwebsockets jansson openssl libarchive zlib) -lpthread
TOOL_LIBS  = $(call libs,libzmq libczmq msgpack jansson openssl) -lpthread
TEST_LIBS  = $(call libs,$(ALL_PKGS) cmocka) -lpthread

# Sources. A service folder builds a static library of everything but its *_main.c, so unit
# tests and fuzz targets can link the same objects the binary runs.
COMMON_SRC = $(wildcard common/*.c) $(BUILD)/gen/cm_migrations_data.c
PROTO_SRC  = $(wildcard proto/*.c)
GW_SRC     = $(filter-out gateway/gw_main.c,$(wildcard gateway/*.c))
REG_SRC    = $(filter-out registry-svc/reg_main.c,$(wildcard registry-svc/*.c))
CC_SRC     = $(wildcard compiler-svc/cc_*.c) $(BUILD)/gen/cc_embedded_data.c
CS_SRC     = $(filter-out compiler-svc/cs_main.c,$(wildcard compiler-svc/cs_*.c))
HUB_SRC    = $(filter-out dataplane-hub/hub_main.c,$(wildcard dataplane-hub/hub_*.c))
AGENT_SRC  = $(filter-out dataplane-hub/agent/ag_main.c,$(wildcard dataplane-hub/agent/ag_*.c))
UNIT_SRC   = $(wildcard tests/unit/test_*.c)
FUZZ_SRC   = $(wildcard tests/fuzz/fuzz_*.c)
SQL_FILES  = $(sort $(wildcard common/sql/*.sql))
EMBED_FILES = $(sort $(wildcard compiler-svc/embedded/*.json))

obj = $(patsubst %.c,$(BUILD)/%.o,$(patsubst $(BUILD)/%,%,$(1)))

LIBCM  = $(BUILD)/libcm.a
LIBPR  = $(BUILD)/libpr.a
LIBGW  = $(BUILD)/libgw.a
LIBREG = $(BUILD)/libreg.a
LIBCC  = $(BUILD)/libcc.a
LIBCS  = $(BUILD)/libcs.a
LIBHUB = $(BUILD)/libhub.a
LIBAG  = $(BUILD)/libag.a

BINARIES = $(BIN)/barbacane-gateway $(BIN)/barbacane-registry $(BIN)/barbacane-keygen \
           $(BIN)/barbacane-compiler $(BIN)/barbacane-hub $(BIN)/barbacane-agent
UNIT_BINS = $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(UNIT_SRC))
TEST_TOOLS = $(BUILD)/tests/bb-sub $(BUILD)/tests/bb-fuzz-broker $(BUILD)/tests/bb-rogue

# Objects made by pattern chains are kept (no rebuild of every test on the next make).
.SECONDARY:

.PHONY: all deps run stop demo test test-unit test-blackbox test-asan fuzz bench clean install valgrind
all: $(BINARIES)

$(BUILD)/gen/cm_migrations_data.c: $(SQL_FILES) common/sql/embed.sh
	@mkdir -p $(dir $@)
	sh common/sql/embed.sh $(SQL_FILES) > $@.tmp && mv $@.tmp $@

# Data files the compiler library carries (the JSON Schema meta-schemas).
$(BUILD)/gen/cc_embedded_data.c: $(EMBED_FILES) compiler-svc/embed.sh
	@mkdir -p $(dir $@)
	sh compiler-svc/embed.sh $(EMBED_FILES) > $@.tmp && mv $@.tmp $@

$(BUILD)/gen/%.o: $(BUILD)/gen/%.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c $< -o $@

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c $< -o $@

$(LIBCM): $(call obj,$(COMMON_SRC))
	ar rcs $@ $^
$(LIBPR): $(call obj,$(PROTO_SRC))
	ar rcs $@ $^
$(LIBGW): $(call obj,$(GW_SRC))
	ar rcs $@ $^
$(LIBREG): $(call obj,$(REG_SRC))
	ar rcs $@ $^
$(LIBCC): $(call obj,$(CC_SRC))
	ar rcs $@ $^
$(LIBCS): $(call obj,$(CS_SRC))
	ar rcs $@ $^
$(LIBHUB): $(call obj,$(HUB_SRC))
	ar rcs $@ $^
$(LIBAG): $(call obj,$(AGENT_SRC))
	ar rcs $@ $^

$(BIN)/barbacane-gateway: $(BUILD)/gateway/gw_main.o $(LIBGW) $(LIBPR) $(LIBCM)
	@mkdir -p $(BIN)
	$(CC) $(LDFLAGS) -o $@ $^ $(GW_LIBS)

$(BIN)/barbacane-registry: $(BUILD)/registry-svc/reg_main.o $(LIBREG) $(LIBPR) $(LIBCM)
	@mkdir -p $(BIN)
	$(CC) $(LDFLAGS) -o $@ $^ $(REG_LIBS)

$(BIN)/barbacane-compiler: $(BUILD)/compiler-svc/cs_main.o $(LIBCS) $(LIBCC) $(LIBPR) $(LIBCM)
	@mkdir -p $(BIN)
	$(CC) $(LDFLAGS) -o $@ $^ $(CS_LIBS)

$(BIN)/barbacane-hub: $(BUILD)/dataplane-hub/hub_main.o $(LIBHUB) $(LIBPR) $(LIBCM)
	@mkdir -p $(BIN)
	$(CC) $(LDFLAGS) -o $@ $^ $(HUB_LIBS)

$(BIN)/barbacane-agent: $(BUILD)/dataplane-hub/agent/ag_main.o $(LIBAG) $(LIBCM)
	@mkdir -p $(BIN)
	$(CC) $(LDFLAGS) -o $@ $^ $(AGENT_LIBS)

$(BIN)/barbacane-keygen: $(BUILD)/proto/tools/pr_keygen.o $(LIBPR) $(LIBCM)
	@mkdir -p $(BIN)
	$(CC) $(LDFLAGS) -o $@ $^ $(TOOL_LIBS)

# Unit tests link every library (they are not bound by the per-binary rule).
ALL_LIBS_A = $(LIBCS) $(LIBCC) $(LIBHUB) $(LIBAG) $(LIBREG) $(LIBGW) $(LIBPR) $(LIBCM)
$(BUILD)/tests/%: $(BUILD)/tests/unit/%.o $(ALL_LIBS_A)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(TEST_LIBS)

# Test tools: one source each (bb-NAME from tests/tools/bb_NAME.c, '-' for '_'), plus the
# shared mesh options.
TOOL_DEPS = $(BUILD)/tests/tools/bb_mesh.o $(LIBPR) $(LIBCM)
$(BUILD)/tests/bb-sub: $(BUILD)/tests/tools/bb_sub.o $(TOOL_DEPS)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(TOOL_LIBS)
$(BUILD)/tests/bb-rogue: $(BUILD)/tests/tools/bb_rogue.o $(TOOL_DEPS)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(TOOL_LIBS)
$(BUILD)/tests/bb-fuzz-broker: $(BUILD)/tests/tools/bb_fuzz_broker.o $(TOOL_DEPS)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(TOOL_LIBS)

$(BUILD)/tests/bench-hello: tests/bench/hello.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $< $(GW_LIBS)

$(BUILD)/tests/bench-%: $(BUILD)/tests/bench/bench_%.o $(ALL_LIBS_A)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(TEST_LIBS)

# --- fuzzing (clang + libFuzzer): the project's own sources, instrumented, in build-fuzz/ ---
FUZZ_BUILD  = build-fuzz
FUZZ_CC     = clang
FUZZ_FLAGS  = -g -O1 -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined
FUZZ_LIB_SRC = $(COMMON_SRC) $(PROTO_SRC) $(CC_SRC) $(HUB_SRC)
FUZZ_CFLAGS = $(filter-out -Werror -O2,$(CFLAGS)) $(FUZZ_FLAGS) -I$(FUZZ_BUILD)/gen
FUZZ_BINS   = $(patsubst tests/fuzz/fuzz_%.c,$(FUZZ_BUILD)/fuzz-%,$(FUZZ_SRC))
FUZZ_SECONDS ?= 60

$(FUZZ_BUILD)/gen/%.c: $(BUILD)/gen/%.c
	@mkdir -p $(dir $@)
	cp $< $@
$(FUZZ_BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -c $< -o $@
$(FUZZ_BUILD)/obj/gen/%.o: $(FUZZ_BUILD)/gen/%.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -c $< -o $@
$(FUZZ_BUILD)/libfuzzlib.a: $(patsubst %.c,$(FUZZ_BUILD)/obj/%.o,$(patsubst $(BUILD)/gen/%,gen/%,$(FUZZ_LIB_SRC)))
	ar rcs $@ $^
$(FUZZ_BUILD)/fuzz-%: tests/fuzz/fuzz_%.c $(FUZZ_BUILD)/libfuzzlib.a
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer -o $@ $^ $(TEST_LIBS)

fuzz: deps
	@$(MAKE) --no-print-directory $(FUZZ_BINS)
	@bash tests/fuzz/run.sh "$(FUZZ_BUILD)" "$(FUZZ_SECONDS)"

# --- the two commands ------------------------------------------------------
deps:
	@sh deploy/install-deps.sh

run: deps
	@$(MAKE) --no-print-directory all
	@exec bash deploy/run.sh

stop:
	@bash deploy/stop.sh

demo: deps
	@$(MAKE) --no-print-directory all
	@bash deploy/demo.sh

test: deps
	@$(MAKE) --no-print-directory all $(UNIT_BINS) $(TEST_TOOLS) $(FUZZ_BINS)
	@FUZZ_BUILD=$(FUZZ_BUILD) bash tests/run-all.sh "$(BUILD)" "$(BIN)"

test-unit: all $(UNIT_BINS)
	@bash tests/run-all.sh "$(BUILD)" "$(BIN)" unit

test-blackbox: all $(TEST_TOOLS) $(BUILD)/tests/test_bca
	@bash tests/run-all.sh "$(BUILD)" "$(BIN)" blackbox

test-asan: deps
	@$(MAKE) --no-print-directory BUILD=build-asan BIN=bin-asan OPT=-O1 \
	    SAN="-fsanitize=address,undefined -fno-sanitize-recover=undefined" all \
	    $(patsubst $(BUILD)/%,build-asan/%,$(UNIT_BINS) $(TEST_TOOLS))
	@ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 UBSAN_OPTIONS=print_stacktrace=1 BARBACANE_TIME_FACTOR=4 \
	    bash tests/run-all.sh build-asan bin-asan

valgrind: all $(UNIT_BINS)
	@for t in $(UNIT_BINS); do valgrind -q --error-exitcode=1 --leak-check=full $$t || exit 1; done

BENCH_BINS = $(BUILD)/tests/bench-hello $(patsubst tests/bench/bench_%.c,$(BUILD)/tests/bench-%,$(wildcard tests/bench/bench_*.c))
bench: deps
	@$(MAKE) --no-print-directory all $(BENCH_BINS)
	@bash tests/bench/run.sh "$(BUILD)" "$(BIN)"

install: all
	install -d $(DESTDIR)$(PREFIX)/bin
	install -m 0755 $(BINARIES) $(DESTDIR)$(PREFIX)/bin/

clean:
	rm -rf build build-asan build-fuzz bin bin-asan

-include $(shell find $(BUILD) $(FUZZ_BUILD) -name '*.d' 2>/dev/null)
