# bpf/module.mk: the kernel half of live capture (included by the top Makefile).
#
# bpf/filter.bpf.c is built with clang for the BPF target from UAPI headers
# only (no vmlinux.h, so the build does not depend on the build machine's
# kernel BTF), then `bpftool gen skeleton` embeds the object in
# $(B)/bpf/filter.skel.h, which sensor/capture_afpacket.c and capture_xdp.c
# include. The sensor then links against libbpf and libxdp. Also builds the
# live-capture test driver (tests/live/livecap.c) and `make test-live`.

BPF_CLANG    ?= $(CLANG)
BPFTOOL      ?= bpftool
BPF_ARCH_INC := /usr/include/$(shell $(CC) -print-multiarch 2>/dev/null)
BPF_CFLAGS   := -O2 -g -Wall -Wextra -Werror -target bpf -I$(BPF_ARCH_INC) -Ibpf -MMD -MP

PKGS += libbpf libxdp

$(B)/bpf/filter.bpf.o: bpf/filter.bpf.c bpf/filter_bpf.h | $(DEPS_STAMP)
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CLANG   $<")
	$(Q)$(BPF_CLANG) $(BPF_CFLAGS) -c $< -o $@

# -g above is what makes the BTF the skeleton needs.
$(B)/bpf/filter.skel.h: $(B)/bpf/filter.bpf.o
	@$(if $(Q),echo "  SKEL    $@")
	$(Q)$(BPFTOOL) gen skeleton $< name filter_bpf > $@.tmp && mv $@.tmp $@

# The generated header lives in the build tree: the files that include it
# find it through a target-specific -I (FUZZ_CFLAGS is set after this file
# is read, so a global += would be lost), and wait for it.
BPF_SKEL_USERS := sensor/capture_afpacket sensor/capture_xdp
$(foreach u,$(BPF_SKEL_USERS),$(eval $(B)/obj/$(u).o $(B)/san/$(u).o $(B)/fuzzobj/$(u).o: $(B)/bpf/filter.skel.h))
$(foreach u,$(BPF_SKEL_USERS),$(eval $(B)/obj/$(u).o: BW_CFLAGS += -I$(B)/bpf))
$(foreach u,$(BPF_SKEL_USERS),$(eval $(B)/san/$(u).o: SAN_CFLAGS += -I$(B)/bpf))
$(foreach u,$(BPF_SKEL_USERS),$(eval $(B)/fuzzobj/$(u).o: FUZZ_CFLAGS += -I$(B)/bpf))

# Live-capture test driver: opens bw_live with the given options, counts and
# optionally writes frames; tests/live/run.sh drives it (as root).
$(B)/tests/livecap: $(B)/obj/tests/live/livecap.o $(B)/libbw.a
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(BW_LDFLAGS) -o $@ $^ $(LIBS) -lpthread

all: $(B)/tests/livecap

.PHONY: test-live
test-live: $(B)/bindwatch $(B)/tests/livecap
	$(Q)tests/live/run.sh $(B)/bindwatch
