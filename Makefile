# lmtpd: hand-written, non-recursive.  configure writes config.mk; when it
# is missing, the first make runs autoreconf and configure itself.
# V=1 prints whole commands; DEVELOPER=1 turns warnings into errors;
# SANITIZE=1 builds with ASan and UBSan.

CC = cc
CFLAGS = -O2 -g
PREFIX = /usr/local
prefix = $(PREFIX)
exec_prefix = $(prefix)
sbindir = $(exec_prefix)/sbin
sysconfdir = $(prefix)/etc
localstatedir = $(prefix)/var
runstatedir = $(localstatedir)/run
datarootdir = $(prefix)/share
mandir = $(datarootdir)/man
systemdunitdir = $(prefix)/lib/systemd/system
INSTALL = install
PYTHON = python3

-include config.mk
-include local.mk

# PREFIX given on the command line wins over what configure recorded.
ifneq ($(origin PREFIX),file)
prefix = $(PREFIX)
exec_prefix = $(prefix)
sbindir = $(exec_prefix)/sbin
sysconfdir = $(prefix)/etc
mandir = $(prefix)/share/man
systemdunitdir = $(prefix)/lib/systemd/system
endif

WARNINGS = -Wall -Wextra
ifeq ($(DEVELOPER),1)
WARNINGS += -Wformat=2 -Wshadow -Wmissing-prototypes -Wstrict-prototypes \
	-Werror
endif
ifeq ($(SANITIZE),1)
CFLAGS += -fsanitize=address,undefined -fno-omit-frame-pointer \
	-fno-sanitize-recover=undefined
LDFLAGS += -fsanitize=address,undefined
endif

ALL_CPPFLAGS = -I. -Isrc -DSYSCONFDIR='"$(sysconfdir)"' \
	-DRUNSTATEDIR='"$(runstatedir)"' $(CPPFLAGS)
ALL_CFLAGS = -std=c11 $(WARNINGS) $(CFLAGS) $(CONFUSE_CFLAGS) \
	$(OPENSSL_CFLAGS) -MMD -MP

ifneq ($(V),1)
Q_CC = @echo "  CC      $@";
Q_LD = @echo "  LD      $@";
Q_AR = @echo "  AR      $@";
endif

LIB_SRCS = \
	src/access.c \
	src/addr.c \
	src/buf.c \
	src/compat.c \
	src/conf.c \
	src/delivery.c \
	src/folder.c \
	src/headers.c \
	src/identity.c \
	src/janitor.c \
	src/journal.c \
	src/lda.c \
	src/listener.c \
	src/lmtp.c \
	src/log.c \
	src/maildir.c \
	src/master.c \
	src/notify.c \
	src/perms.c \
	src/quota.c \
	src/recipient.c \
	src/session.c \
	src/sha256.c \
	src/space.c \
	src/stats.c \
	src/status.c \
	src/template.c \
	src/tls.c \
	src/tlsdl.c \
	src/trace.c \
	src/userdb.c \
	src/util.c \
	src/worker.c
LIB_OBJS = $(LIB_SRCS:.c=.o)

UNIT_SRCS = \
	tests/unit/check_main.c \
	tests/unit/test_access.c \
	tests/unit/test_addr.c \
	tests/unit/test_buf.c \
	tests/unit/test_conf.c \
	tests/unit/test_delivery.c \
	tests/unit/test_folder.c \
	tests/unit/test_headers.c \
	tests/unit/test_identity.c \
	tests/unit/test_janitor.c \
	tests/unit/test_journal.c \
	tests/unit/test_lmtp.c \
	tests/unit/test_log.c \
	tests/unit/test_maildir.c \
	tests/unit/test_perms.c \
	tests/unit/test_quota.c \
	tests/unit/test_recipient.c \
	tests/unit/test_sha256.c \
	tests/unit/test_space.c \
	tests/unit/test_stats.c \
	tests/unit/test_status.c \
	tests/unit/test_template.c \
	tests/unit/test_trace.c \
	tests/unit/test_userdb.c \
	tests/unit/test_util.c \
	tests/unit/testutil.c
UNIT_OBJS = $(UNIT_SRCS:.c=.o)

all: lmtpd etc/lmtpd.service etc/lmtpd.socket

etc/lmtpd.service: etc/lmtpd.service.in config.mk .build-flags
	sed -e 's|@sbindir@|$(sbindir)|g' -e 's|@sysconfdir@|$(sysconfdir)|g' \
	    etc/lmtpd.service.in > $@

etc/lmtpd.socket: etc/lmtpd.socket.in config.mk .build-flags
	sed -e 's|@sbindir@|$(sbindir)|g' -e 's|@sysconfdir@|$(sysconfdir)|g' \
	    etc/lmtpd.socket.in > $@

config.mk: configure config.mk.in
	./configure

configure: configure.ac
	autoreconf -i

config.h: config.mk

$(LIB_OBJS) src/main.o $(UNIT_OBJS): config.h .build-flags

# What is built with other flags or paths (SANITIZE=1, CC=clang, PREFIX=)
# is rebuilt: the binary has the configuration path compiled in.
BUILD_FLAGS = $(CC) $(CFLAGS) $(LDFLAGS) $(WARNINGS) $(sbindir) \
	$(sysconfdir) $(runstatedir)
ifneq ($(BUILD_FLAGS),$(shell cat .build-flags 2>/dev/null))
$(shell printf '%s\n' '$(BUILD_FLAGS)' > .build-flags)
endif

.c.o:
	$(Q_CC)$(CC) $(ALL_CPPFLAGS) $(ALL_CFLAGS) -c -o $@ $<

$(UNIT_OBJS): ALL_CFLAGS += $(CHECK_CFLAGS)

src/liblmtpd.a: $(LIB_OBJS)
	$(Q_AR)rm -f $@ && $(AR) rcs $@ $(LIB_OBJS)

# No OpenSSL on the link line: src/tlsdl.c opens it when TLS is configured.
lmtpd: src/main.o src/liblmtpd.a
	$(Q_LD)$(CC) $(CFLAGS) $(LDFLAGS) $(BINDNOW_LDFLAGS) -o $@ src/main.o \
	    src/liblmtpd.a $(CONFUSE_LIBS) $(LIBS)

tests/unit/check_lmtpd: $(UNIT_OBJS) src/liblmtpd.a
	$(Q_LD)$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $(UNIT_OBJS) src/liblmtpd.a \
	    $(CONFUSE_LIBS) $(CHECK_LIBS) $(LIBS)

# A dev instance: loopback port 2424 and a socket and mail root under run/.
# Started as root it runs as the default user, mail, who then owns run/.
RUN_DIR = $(CURDIR)/run
run: lmtpd
	@mkdir -p $(RUN_DIR)/mail $(RUN_DIR)/spool
	@if [ "$$(id -u)" = 0 ]; then \
	    chown mail:mail $(RUN_DIR) $(RUN_DIR)/mail $(RUN_DIR)/spool; fi
	@sed -e 's|@RUN_DIR@|$(RUN_DIR)|g' etc/lmtpd-dev.conf.in \
	    > $(RUN_DIR)/lmtpd.conf
	@echo "lmtpd: LMTP on 127.0.0.1:2424 and $(RUN_DIR)/lmtp.sock," \
	    "mail in $(RUN_DIR)/mail (Ctrl-C stops)"
	./lmtpd -f -c $(RUN_DIR)/lmtpd.conf

# The benchmark (bench/README.md): as root; apt-get installs what it needs.
# A full run takes about 20 minutes; BENCH_ARGS=--quick is a smoke test.
BENCH_ARGS =
bench: lmtpd
	$(CC) -std=c11 -O2 -Wall -Wextra -o bench/limit bench/limit.c
	$(PYTHON) bench/run.py --install --lmtpd ./lmtpd --limit bench/limit \
	    --command "make bench BENCH_ARGS='$(BENCH_ARGS)'" $(BENCH_ARGS)

.PHONY: bench

check-deps:
	@if [ "$(HAVE_CHECK)" != yes ]; then \
	    echo "make check needs the Check framework:" \
	        "apt-get install check (or: make deps)"; exit 1; fi

check: check-unit check-integration

check-unit: check-deps tests/unit/check_lmtpd
	tests/unit/check_lmtpd

# The fault suite (tests/faults): FAULT_SCALE=ci (default) or full.
FAULT_SCALE ?= ci
check-faults: lmtpd tests/faults/libfaultshim.so
	FAULT_SCALE=$(FAULT_SCALE) $(PYTHON) tests/faults/run.py ./lmtpd

# An LD_PRELOAD library for the fault suite; never sanitized: it must not
# come before the sanitizer runtime.
tests/faults/libfaultshim.so: tests/faults/shim.c
	$(Q_LD)$(CC) -std=c11 -O2 -Wall -Wextra -shared -fPIC -o $@ \
	    tests/faults/shim.c -ldl

check-integration: lmtpd
	$(PYTHON) tests/integration/test_lmtpd.py ./lmtpd
	$(PYTHON) tests/integration/test_pool.py ./lmtpd
	$(PYTHON) tests/integration/test_service.py ./lmtpd
	$(PYTHON) tests/integration/test_postfix.py ./lmtpd
	$(PYTHON) tests/integration/test_systemd.py ./lmtpd
	$(PYTHON) tests/integration/test_status.py ./lmtpd
	$(PYTHON) tests/integration/test_extensions.py ./lmtpd
	$(PYTHON) tests/integration/test_hostile.py ./lmtpd
	$(PYTHON) tests/integration/test_delivery.py ./lmtpd
	$(PYTHON) tests/integration/test_tls.py ./lmtpd

DEPS = gcc make autoconf pkg-config libconfuse-dev check python3 \
	libssl-dev openssl
deps:
	@missing=""; for p in $(DEPS); do \
	    dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -z "$$missing" ]; then echo "all packages present"; exit 0; fi; \
	if [ "$$(id -u)" = 0 ]; then \
	    apt-get update && apt-get install -y $$missing; \
	else \
	    echo "run as root: apt-get install -y$$missing"; exit 1; fi

install: lmtpd etc/lmtpd.service etc/lmtpd.socket
	$(INSTALL) -d $(DESTDIR)$(sbindir) $(DESTDIR)$(sysconfdir)/lmtpd \
	    $(DESTDIR)$(mandir)/man8 $(DESTDIR)$(mandir)/man5 \
	    $(DESTDIR)$(systemdunitdir)
	$(INSTALL) -m 644 etc/lmtpd.service \
	    $(DESTDIR)$(systemdunitdir)/lmtpd.service
	$(INSTALL) -m 644 etc/lmtpd.socket \
	    $(DESTDIR)$(systemdunitdir)/lmtpd.socket
	$(INSTALL) -m 755 lmtpd $(DESTDIR)$(sbindir)/lmtpd
	@if [ -e $(DESTDIR)$(sysconfdir)/lmtpd/lmtpd.conf ]; then \
	    echo "keeping $(DESTDIR)$(sysconfdir)/lmtpd/lmtpd.conf"; \
	else \
	    $(INSTALL) -m 644 etc/lmtpd.conf \
	        $(DESTDIR)$(sysconfdir)/lmtpd/lmtpd.conf; fi
	$(INSTALL) -m 644 man/lmtpd.8 $(DESTDIR)$(mandir)/man8/lmtpd.8
	$(INSTALL) -m 644 man/lmtpd.conf.5 $(DESTDIR)$(mandir)/man5/lmtpd.conf.5

# Removes what install put in place; a configuration that was edited
# stays (as a package manager would keep it).
uninstall:
	rm -f $(DESTDIR)$(sbindir)/lmtpd \
	    $(DESTDIR)$(mandir)/man8/lmtpd.8 \
	    $(DESTDIR)$(mandir)/man5/lmtpd.conf.5 \
	    $(DESTDIR)$(systemdunitdir)/lmtpd.service \
	    $(DESTDIR)$(systemdunitdir)/lmtpd.socket
	@conf=$(DESTDIR)$(sysconfdir)/lmtpd/lmtpd.conf; \
	if [ -e $$conf ] && ! cmp -s etc/lmtpd.conf $$conf; then \
	    echo "keeping $$conf: it was changed"; \
	else \
	    rm -f $$conf; rmdir $(DESTDIR)$(sysconfdir)/lmtpd 2>/dev/null || :; \
	fi

clean:
	rm -f lmtpd etc/lmtpd.service etc/lmtpd.socket .build-flags src/*.o \
	    src/*.d src/liblmtpd.a tests/unit/*.o tests/unit/*.d \
	    tests/unit/check_lmtpd tests/faults/libfaultshim.so
	rm -rf run

distclean: clean
	rm -rf config.mk config.h config.log config.status configure \
	    autom4te.cache aclocal.m4 config.h.in config.h.in~ build-aux \
	    compile install-sh missing

# libFuzzer over the LMTP engine (fuzz/fuzz_lmtp.c), for FUZZ_SECONDS.
# Needs clang and its runtime (Debian: clang libclang-rt-14-dev).  The
# sources are compiled here with their own flags, never from src/*.o; the
# run works on a copy of fuzz/corpus in a temporary directory, and fails
# on any crash, sanitizer report or leak (the input is kept there).
FUZZ_CC = clang
FUZZ_SECONDS = 60
FUZZ_CFLAGS = -std=c11 -g -O1 -fno-omit-frame-pointer \
	-fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined
FUZZ_SRCS = fuzz/fuzz_lmtp.c src/lmtp.c src/addr.c src/buf.c src/util.c \
	src/log.c

fuzz/fuzz_lmtp: $(FUZZ_SRCS) src/lmtp.h src/addr.h src/buf.h src/util.h \
	    src/log.h config.h
	$(Q_LD)$(FUZZ_CC) $(FUZZ_CFLAGS) $(WARNINGS) -I. -Isrc -o $@ \
	    $(FUZZ_SRCS)

fuzz: fuzz/fuzz_lmtp
	@work=$$(mktemp -d /tmp/lmtpd-fuzz.XXXXXX) && \
	mkdir $$work/corpus && cp fuzz/corpus/* $$work/corpus/ && \
	echo "fuzz: $(FUZZ_SECONDS)s in $$work" && \
	if fuzz/fuzz_lmtp -max_total_time=$(FUZZ_SECONDS) -detect_leaks=1 \
	    -dict=fuzz/lmtp.dict -artifact_prefix=$$work/ \
	    -print_final_stats=1 $$work/corpus; then \
	    rm -rf $$work; \
	else \
	    echo "fuzz: FAILED, the input is in $$work"; exit 1; fi

.PHONY: all run check check-deps check-unit check-integration check-faults \
	deps install \
	uninstall \
	clean distclean fuzz

-include src/*.d tests/unit/*.d
