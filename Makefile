# bindwatch: plain GNU make. `make` builds, `make test` runs every test,
# `make demo` runs the sensor on the bundled captures. V=1 for a loud build.
.DELETE_ON_ERROR:
.SECONDARY:
.SUFFIXES:
.DEFAULT_GOAL := all

ifeq ($(V),1)
Q :=
else
Q := @
endif

CC      ?= cc
CLANG   ?= clang
PKGS    := libpcap openssl yaml-0.1 ldns liburcu-qsbr liburcu-cds libseccomp
TESTPKGS := cmocka

WARN    := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wno-missing-field-initializers
HARDEN  := -D_FORTIFY_SOURCE=3 -fstack-protector-strong -fPIE
CFLAGS  ?= -O2 -g
BW_CFLAGS := -std=gnu11 -I. $(WARN) $(HARDEN) -MMD -MP $(CFLAGS)
HARDEN_LD := -pie -Wl,-z,relro,-z,now -Wl,-z,noexecstack
BW_LDFLAGS := $(HARDEN_LD) $(LDFLAGS)
# Sanitizer build: FORTIFY off (it hides reads from ASan), frame pointers on.
SAN_CFLAGS := -std=gnu11 -I. $(WARN) -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined \
	-fno-sanitize-recover=undefined -fPIE -MMD -MP
SAN_LDFLAGS := -fsanitize=address,undefined -pie

B := build
DEPS_STAMP := $(B)/.deps-ok

# The sensor library: every module but main.
LIB_SRCS := $(sort $(wildcard parsers/*.c) $(filter-out sensor/main.c,$(wildcard sensor/*.c)))
LIB_OBJS := $(LIB_SRCS:%.c=$(B)/obj/%.o)
SAN_OBJS := $(LIB_SRCS:%.c=$(B)/san/%.o)

TEST_SRCS := $(sort $(wildcard tests/test_*.c))
TESTS     := $(TEST_SRCS:tests/%.c=$(B)/tests/%)
SAN_TESTS := $(TEST_SRCS:tests/%.c=$(B)/san/tests/%)

FUZZ_SRCS := $(sort $(wildcard tests/fuzz/fuzz_*.c))
FUZZERS   := $(FUZZ_SRCS:tests/fuzz/%.c=$(B)/fuzz/%)
FUZZ_REPLAY := $(FUZZ_SRCS:tests/fuzz/%.c=$(B)/fuzz-replay/%)

LIBS      = $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lm
TESTLIBS  = $(shell pkg-config --libs $(TESTPKGS) 2>/dev/null)

-include $(wildcard parsers/module.mk sensor/module.mk tests/module.mk tools/module.mk bpf/module.mk)

.PHONY: all deps demo test test-unit test-san test-conformance test-fuzz-smoke fuzz style clean bench

all: $(B)/bindwatch

# Install missing Debian packages once; the stamp is refreshed when the list changes.
$(DEPS_STAMP): tools/install-deps.sh
	$(Q)mkdir -p $(B)
	$(Q)tools/install-deps.sh --check 2>/dev/null || tools/install-deps.sh
	$(Q)touch $@
deps: $(DEPS_STAMP)

$(B)/obj/%.o: %.c | $(DEPS_STAMP)
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC      $<")
	$(Q)$(CC) $(BW_CFLAGS) -c $< -o $@

$(B)/san/%.o: %.c | $(DEPS_STAMP)
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC-SAN  $<")
	$(Q)$(CC) $(SAN_CFLAGS) -c $< -o $@

$(B)/libbw.a: $(LIB_OBJS)
	$(Q)rm -f $@ && ar rcs $@ $^
$(B)/libbw-san.a: $(SAN_OBJS)
	$(Q)rm -f $@ && ar rcs $@ $^

$(B)/bindwatch: $(B)/obj/sensor/main.o $(B)/libbw.a
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(BW_LDFLAGS) -o $@ $^ $(LIBS)

# The sensor itself under ASan + UBSan, for the malformed-capture and leak suites.
$(B)/san/bindwatch: $(B)/san/sensor/main.o $(B)/libbw-san.a
	@$(if $(Q),echo "  LD-SAN  $@")
	$(Q)$(CC) $(SAN_LDFLAGS) -o $@ $^ $(LIBS)

# Helper programs of the test suites (tests/*/NAME.c -> build/tests/NAME): each
# links the sensor library, so a suite can drive a module directly.
TEST_TOOL_SRCS := $(sort $(wildcard tests/*/tool_*.c))
TEST_TOOLS := $(foreach f,$(TEST_TOOL_SRCS),$(B)/tests/$(basename $(notdir $(f))))
define test_tool_rule
$(B)/tests/$(basename $(notdir $(1))): $(1) $(B)/libbw.a
	@mkdir -p $$(dir $$@)
	@$$(if $$(Q),echo "  LD      $$@")
	$$(Q)$$(CC) $$(BW_CFLAGS) -Wno-missing-prototypes $$(BW_LDFLAGS) -o $$@ $(1) $(B)/libbw.a $$(LIBS) -lpthread
endef
$(foreach f,$(TEST_TOOL_SRCS),$(eval $(call test_tool_rule,$(f))))

$(B)/tests/%: $(B)/obj/tests/%.o $(B)/libbw.a
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(BW_LDFLAGS) -o $@ $^ $(TESTLIBS) $(LIBS)

$(B)/san/tests/%: $(B)/san/tests/%.o $(B)/libbw-san.a
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  LD-SAN  $@")
	$(Q)$(CC) $(SAN_LDFLAGS) -o $@ $^ $(TESTLIBS) $(LIBS)

# Differential checker of our DNS parser against ldns (conformance suite).
$(B)/tests/dns_ldns_diff: $(B)/obj/tests/conformance/dns_ldns_diff.o $(B)/libbw.a
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(BW_LDFLAGS) -o $@ $^ $(TESTLIBS) $(LIBS)

# libFuzzer targets (clang, ASan + UBSan): the library is compiled once with
# fuzzer instrumentation and each target links against it.
FUZZ_CFLAGS := -std=gnu11 -I. -g -O1 -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined \
	-fno-omit-frame-pointer -Wall -Wextra -Wno-unused-parameter -MMD -MP
FUZZ_OBJS := $(LIB_SRCS:%.c=$(B)/fuzzobj/%.o)
$(B)/fuzzobj/%.o: %.c | $(DEPS_STAMP)
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC-FUZZ $<")
	$(Q)$(CLANG) $(FUZZ_CFLAGS) -c $< -o $@
$(B)/libbw-fuzz.a: $(FUZZ_OBJS)
	$(Q)rm -f $@ && ar rcs $@ $^
$(B)/fuzz/%: $(B)/fuzzobj/tests/fuzz/%.o $(B)/libbw-fuzz.a
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  FUZZ    $@")
	$(Q)$(CLANG) -fsanitize=fuzzer,address,undefined -o $@ $^ $(LIBS) $(TESTLIBS)
# The same targets without libFuzzer, to replay a corpus with gcc + sanitizers.
$(B)/fuzz-replay/%: tests/fuzz/%.c tests/fuzz/replay_main.c $(B)/libbw-san.a
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  LD-SAN  $@")
	$(Q)$(CC) $(SAN_CFLAGS) -Wno-missing-prototypes -o $@ $< tests/fuzz/replay_main.c $(B)/libbw-san.a $(SAN_LDFLAGS) $(LIBS) $(TESTLIBS)

test-unit: $(TESTS)
	$(Q)tools/run-tests.sh unit $(TESTS)
test-san: $(SAN_TESTS)
	$(Q)tools/run-tests.sh sanitizer $(SAN_TESTS)
test-conformance: $(B)/bindwatch $(B)/tests/dns_ldns_diff
	$(Q)python3 tests/conformance/run.py --bindwatch $(B)/bindwatch --ldns-diff $(B)/tests/dns_ldns_diff
FUZZ_SMOKE_SECONDS ?= 20
test-fuzz-smoke: $(FUZZERS) $(FUZZ_REPLAY)
	$(Q)tools/fuzz.sh $(FUZZ_SMOKE_SECONDS) $(FUZZERS)

# Everything, with one summary at the end.
test: $(DEPS_STAMP)
	$(Q)$(MAKE) --no-print-directory all $(TESTS) $(SAN_TESTS) $(FUZZERS) $(FUZZ_REPLAY) $(B)/tests/dns_ldns_diff \
		$(B)/san/bindwatch $(TEST_TOOLS) $(B)/tools/floodgen $(B)/tools/pcapgen-bench
	$(Q)tools/run-tests.sh all

FUZZ_SECONDS ?= 600
fuzz: $(FUZZERS)
	$(Q)tools/fuzz.sh $(FUZZ_SECONDS) $(FUZZERS)

demo: $(B)/bindwatch
	$(Q)tools/demo.sh $(B)/bindwatch

style:
	$(Q)clang-format --dry-run --Werror $(wildcard sensor/*.[ch] parsers/*.[ch] tests/*.c tests/fuzz/*.c tools/*.c)

clean:
	rm -rf $(B)

-include $(shell find $(B) -name '*.d' 2>/dev/null)
