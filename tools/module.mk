# tools/module.mk: the benchmark, included by the top Makefile.
#   make bench                  ~1 GiB capture (made once, cached in build/bench/)
#   make bench BENCH_SIZE_MB=64 a quick run
# tools/bench.sh does the measuring and writes bench/results.md; tools/livebench.sh
# (as root) replays into a veth pair per capture backend and writes bench/results-live.md.

BENCH_TOOLS := $(B)/tools/pcapgen-bench $(B)/tools/bench_read
# Benchmarks of other modules, run when their sources exist and link.
BENCH_OPTIONAL := $(patsubst tools/%.c,$(B)/tools/%,$(wildcard tools/bench_tables.c tools/bench_lpm.c))
BENCH_LIBS = $(shell pkg-config --libs liburcu-qsbr 2>/dev/null) -lpthread
BENCH_CFLAGS := -std=gnu11 -I. $(WARN) -O2 -g

$(B)/tools/pcapgen-bench: tools/pcapgen-bench.c tools/bench_certs.h | $(DEPS_STAMP)
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC      $@")
	$(Q)$(CC) $(BENCH_CFLAGS) -o $@ $<

# Flood captures for tests/floods (and its full-scale figures).
$(B)/tools/floodgen: tools/floodgen.c tools/bench_certs.h | $(DEPS_STAMP)
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC      $@")
	$(Q)$(CC) $(BENCH_CFLAGS) -o $@ $< -lcrypto

$(B)/tools/bench_read: tools/bench_read.c | $(DEPS_STAMP)
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC      $@")
	$(Q)$(CC) $(BENCH_CFLAGS) -o $@ $< $(LIBS)

$(B)/tools/bench_%: tools/bench_%.c $(B)/libbw.a
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC      $@")
	$(Q)$(CC) $(BENCH_CFLAGS) -o $@ $< $(B)/libbw.a $(LIBS) $(BENCH_LIBS)

bench: $(B)/bindwatch $(BENCH_TOOLS)
	$(if $(BENCH_OPTIONAL),-$(Q)$(MAKE) --no-print-directory -k $(BENCH_OPTIONAL))
	$(Q)B=$(B) tools/bench.sh
	$(Q)tools/livebench.sh $(B)
