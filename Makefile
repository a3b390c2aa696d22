# Barbacane control plane: one Makefile for every binary, test and benchmark.
# Folders map to object lists; pkg-config supplies flags; -MMD -MP tracks headers.

BUILD   ?= build
BIN     ?= bin
OPT     ?= -O2
SAN     ?=
PREFIX  ?= /usr/local
PYTHON  ?= /usr/bin/python3
VERSION := $(shell cat VERSION 2>/dev/null || echo 0.0.0)

PKGS      = libzmq libczmq libpq msgpack libmicrohttpd jansson openssl yaml-0.1
PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS))
PKG_LIBS   = $(shell pkg-config --libs $(PKGS))

CFLAGS  = -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes \
          -Wmissing-prototypes -Werror=implicit-function-declaration -g $(OPT) $(SAN) \
          -fno-omit-frame-pointer -MMD -MP -Icommon -Iproto -I$(BUILD)/gen \
          -DBB_VERSION='"$(VERSION)"' $(PKG_CFLAGS)
LDFLAGS = $(SAN)
LDLIBS  = $(PKG_LIBS) -lpthread

COMMON_SRC = $(wildcard common/*.c) $(BUILD)/gen/cm_migrations_data.c
PROTO_SRC  = $(wildcard proto/*.c)
GW_SRC     = $(wildcard gateway/*.c)
REG_SRC    = $(wildcard registry-svc/*.c)
UNIT_SRC   = $(wildcard tests/unit/test_*.c)
SQL_FILES  = $(sort $(wildcard common/sql/*.sql))

obj = $(patsubst %.c,$(BUILD)/%.o,$(patsubst $(BUILD)/%,%,$(1)))
LIB_OBJ = $(call obj,$(COMMON_SRC) $(PROTO_SRC))

BINARIES = $(BIN)/barbacane-gateway $(BIN)/barbacane-registry
UNIT_BINS = $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(UNIT_SRC))

.PHONY: all deps run stop test test-unit test-blackbox test-asan bench clean install valgrind
all: $(BINARIES)

$(BUILD)/gen/cm_migrations_data.c: $(SQL_FILES) common/sql/embed.sh
	@mkdir -p $(dir $@)
	sh common/sql/embed.sh $(SQL_FILES) > $@.tmp && mv $@.tmp $@

$(BUILD)/gen/%.o: $(BUILD)/gen/%.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c $< -o $@

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c $< -o $@

$(BUILD)/libbarbacane.a: $(LIB_OBJ)
	ar rcs $@ $^

$(BIN)/barbacane-gateway: $(call obj,$(GW_SRC)) $(BUILD)/libbarbacane.a
	@mkdir -p $(BIN)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BIN)/barbacane-registry: $(call obj,$(REG_SRC)) $(BUILD)/libbarbacane.a
	@mkdir -p $(BIN)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/tests/test_spec: $(BUILD)/tests/unit/test_spec.o $(BUILD)/libbarbacane.a
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS) $(shell pkg-config --libs cmocka)

$(BUILD)/tests/%: $(BUILD)/tests/unit/%.o $(BUILD)/libbarbacane.a
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS) $(shell pkg-config --libs cmocka)

$(BUILD)/tests/bb-sub: tests/tools/bb_sub.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $< $(LDLIBS)

$(BUILD)/tests/bb-fuzz-broker: tests/tools/bb_fuzz_broker.c $(BUILD)/libbarbacane.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/tests/bench-hello: tests/bench/hello.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $< $(LDLIBS)

$(BUILD)/tests/bench-loader: tests/bench/bench_loader.c $(BUILD)/libbarbacane.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $^ $(LDLIBS)

# --- the two commands ------------------------------------------------------
deps:
	@sh deploy/install-deps.sh

run: deps
	@$(MAKE) --no-print-directory all
	@exec bash deploy/run.sh

stop:
	@bash deploy/stop.sh

TEST_TOOLS = $(BUILD)/tests/bb-sub $(BUILD)/tests/bb-fuzz-broker

test: deps
	@$(MAKE) --no-print-directory all $(UNIT_BINS) $(TEST_TOOLS)
	@bash tests/run-all.sh "$(BUILD)" "$(BIN)"

test-unit: all $(UNIT_BINS)
	@bash tests/run-all.sh "$(BUILD)" "$(BIN)" unit

test-blackbox: all $(TEST_TOOLS)
	@bash tests/run-all.sh "$(BUILD)" "$(BIN)" blackbox

test-asan: deps
	@$(MAKE) --no-print-directory BUILD=build-asan BIN=bin-asan OPT=-O1 \
	    SAN="-fsanitize=address,undefined -fno-sanitize-recover=undefined" all \
	    $(patsubst $(BUILD)/%,build-asan/%,$(UNIT_BINS) $(TEST_TOOLS))
	@ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 UBSAN_OPTIONS=print_stacktrace=1 BARBACANE_TIME_FACTOR=4 \
	    bash tests/run-all.sh build-asan bin-asan

valgrind: all $(UNIT_BINS)
	@for t in $(UNIT_BINS); do valgrind -q --error-exitcode=1 --leak-check=full $$t || exit 1; done

bench: deps
	@$(MAKE) --no-print-directory all $(BUILD)/tests/bench-hello $(BUILD)/tests/bench-loader
	@bash tests/bench/run.sh "$(BUILD)" "$(BIN)"

install: all
	install -d $(DESTDIR)$(PREFIX)/bin
	install -m 0755 $(BINARIES) $(DESTDIR)$(PREFIX)/bin/

clean:
	rm -rf build build-asan bin bin-asan

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
