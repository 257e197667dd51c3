# ostree-push: GNU make build. `make` builds bin/ostree-push,
# bin/ostree-receive, bin/ostree-receive-shell and the man pages (build/man);
# `make check` and `make demo` first run ci/setup, which installs whatever is
# missing on Debian 12 (as root).
#
# Two tiers of tests: `make test` is the fast one (unit and protocol tests,
# no sshd, no root, about a minute and a half on two cores); `make check` is
# everything CI runs (ci/check: gofmt, vet, all the tests including the
# end-to-end ones through a real sshd, fuzzing, the packages).

PREFIX ?= /usr/local
DESTDIR ?=
BINDIR ?= $(PREFIX)/bin
MANDIR ?= $(PREFIX)/share/man
DOCDIR ?= $(PREFIX)/share/doc/ostree-push
BASHCOMPDIR ?= $(PREFIX)/share/bash-completion/completions
ZSHCOMPDIR ?= $(PREFIX)/share/zsh/site-functions
GO ?= go
GOFLAGS ?=
SCDOC ?= scdoc
# Computed once (:=) unless given on the command line or in the environment:
# from the VERSION file of a source tarball (make dist), else git describe.
ifeq ($(origin VERSION),undefined)
VERSION := $(shell cat VERSION 2>/dev/null || git describe --tags --always --dirty 2>/dev/null || echo 0.0.0-dev)
endif

# Go lives in /usr/local/go on the development and CI machines.
export PATH := /usr/local/go/bin:$(PATH)
export GOFLAGS

# Extra go build flags and linker flags; the Debian package asks for PIE and
# external linking (hardening), for example.
GOBUILDFLAGS ?= -trimpath
GO_LDFLAGS ?=
LDFLAGS := -X main.version=$(VERSION) $(GO_LDFLAGS)
BINARIES := bin/ostree-push bin/ostree-receive bin/ostree-receive-shell bin/ostree-pull-ssh
MANPAGES := build/man/ostree-push.1 build/man/ostree-receive.1 \
	build/man/ostree-receive-shell.1 build/man/ostree-receive.conf.5 \
	build/man/ostree-pull-ssh.1
EXAMPLES := ostree-receive.conf systemd/ostree-receive-update@.service

.PHONY: all man check demo install uninstall fmt vet test bench bench-scale bench-fanout stress fuzz dist deb rpm clean $(BINARIES)

all: $(BINARIES) man

# Phony, so always handed to go build: its cache decides what is really
# rebuilt. (A static pattern rule: make skips implicit rules for phony targets.)
$(BINARIES): bin/%:
	@mkdir -p bin
	$(GO) build $(GOBUILDFLAGS) -ldflags "$(LDFLAGS)" -o $@ ./cmd/$*

man: $(MANPAGES)

build/man/%: man/%.scd
	@mkdir -p build/man
	@command -v $(SCDOC) >/dev/null 2>&1 || { echo "make: $(SCDOC) not found: run ci/setup (Debian package scdoc)" >&2; exit 1; }
	$(SCDOC) <$< >$@

check:
	ci/setup
	ci/check

# What a push costs on remotes of 1,000 to 100,000 refs (see ci/bench-scale).
bench-scale:
	ci/bench-scale

# One push to three mirrors against three pushes (see ci/bench-fanout).
bench-fanout:
	ci/bench-fanout

# The long reliability runs; writes RELIABILITY.md (see ci/stress).
stress:
	ci/setup
	ci/stress

# Every fuzz target for FUZZTIME (default 10m), JOBS at a time (see ci/fuzz).
fuzz:
	ci/setup
	ci/fuzz

demo:
	ci/setup
	ci/demo

install: all
	install -D -m 0755 bin/ostree-push $(DESTDIR)$(BINDIR)/ostree-push
	install -D -m 0755 bin/ostree-receive $(DESTDIR)$(BINDIR)/ostree-receive
	ln -sf ostree-receive $(DESTDIR)$(BINDIR)/ostree-receive-1
	ln -sf ostree-receive $(DESTDIR)$(BINDIR)/ostree-receive-0
	install -D -m 0755 bin/ostree-receive-shell $(DESTDIR)$(BINDIR)/ostree-receive-shell
	install -D -m 0755 bin/ostree-pull-ssh $(DESTDIR)$(BINDIR)/ostree-pull-ssh
	install -D -m 0644 build/man/ostree-push.1 $(DESTDIR)$(MANDIR)/man1/ostree-push.1
	install -D -m 0644 build/man/ostree-receive.1 $(DESTDIR)$(MANDIR)/man1/ostree-receive.1
	install -D -m 0644 build/man/ostree-receive-shell.1 $(DESTDIR)$(MANDIR)/man1/ostree-receive-shell.1
	install -D -m 0644 build/man/ostree-receive.conf.5 $(DESTDIR)$(MANDIR)/man5/ostree-receive.conf.5
	install -D -m 0644 build/man/ostree-pull-ssh.1 $(DESTDIR)$(MANDIR)/man1/ostree-pull-ssh.1
	install -D -m 0644 completion/ostree-push.bash $(DESTDIR)$(BASHCOMPDIR)/ostree-push
	install -D -m 0644 completion/_ostree-push $(DESTDIR)$(ZSHCOMPDIR)/_ostree-push
	install -D -m 0644 ostree-receive.conf $(DESTDIR)$(DOCDIR)/examples/ostree-receive.conf
	install -D -m 0644 systemd/ostree-receive-update@.service $(DESTDIR)$(DOCDIR)/examples/ostree-receive-update@.service

uninstall:
	rm -f $(DESTDIR)$(BINDIR)/ostree-push $(DESTDIR)$(BINDIR)/ostree-receive \
		$(DESTDIR)$(BINDIR)/ostree-receive-1 $(DESTDIR)$(BINDIR)/ostree-receive-0 \
		$(DESTDIR)$(BINDIR)/ostree-receive-shell $(DESTDIR)$(BINDIR)/ostree-pull-ssh \
		$(DESTDIR)$(MANDIR)/man1/ostree-pull-ssh.1 \
		$(DESTDIR)$(MANDIR)/man1/ostree-push.1 $(DESTDIR)$(MANDIR)/man1/ostree-receive.1 \
		$(DESTDIR)$(MANDIR)/man1/ostree-receive-shell.1 $(DESTDIR)$(MANDIR)/man5/ostree-receive.conf.5 \
		$(DESTDIR)$(BASHCOMPDIR)/ostree-push $(DESTDIR)$(ZSHCOMPDIR)/_ostree-push \
		$(DESTDIR)$(DOCDIR)/examples/ostree-receive.conf \
		$(DESTDIR)$(DOCDIR)/examples/ostree-receive-update@.service
	-rmdir $(DESTDIR)$(DOCDIR)/examples $(DESTDIR)$(DOCDIR) 2>/dev/null

fmt:
	gofmt -w .

vet:
	$(GO) vet ./...

# The fast tier, the developer loop: unit and protocol tests under the race
# detector, with -short, under which the end-to-end tests (e2e, which need
# an sshd and some of them root) and those of internal/sshtest are skipped,
# as are a few long ones. It needs Go, libostree-dev and the ostree command
# (ci/setup), not root. `make check` runs everything, as CI does.
test:
	$(GO) test -race -short -count=1 ./...

bench:
	@if [ -x ci/bench ]; then \
		exec ci/bench; \
	else \
		echo "bench: ci/bench does not exist yet; it arrives with the performance issue." >&2; \
		exit 1; \
	fi

# Packaging: a source tarball with the Go modules vendored (build/dist),
# a Debian package and an RPM (build/deb, build/rpm). See ci/package.
dist:
	ci/package dist

deb:
	ci/package deb

rpm:
	ci/package rpm

clean:
	rm -rf bin build
