# ostree-push: GNU make build. `make` builds bin/ostree-push,
# bin/ostree-receive and bin/ostree-receive-shell; `make check` and `make demo` first run ci/setup, which
# installs whatever is missing on Debian 12 (as root).

PREFIX ?= /usr/local
DESTDIR ?=
BINDIR ?= $(PREFIX)/bin
GO ?= go
GOFLAGS ?=
# Computed once (:=) unless given on the command line or in the environment.
ifeq ($(origin VERSION),undefined)
VERSION := $(shell git describe --tags --always --dirty 2>/dev/null || echo 0.0.0-dev)
endif

# Go lives in /usr/local/go on the development and CI machines.
export PATH := /usr/local/go/bin:$(PATH)
export GOFLAGS

LDFLAGS := -X main.version=$(VERSION)
BINARIES := bin/ostree-push bin/ostree-receive bin/ostree-receive-shell

.PHONY: all check stress demo install uninstall fmt vet test bench clean $(BINARIES)

all: $(BINARIES)

# Phony, so always handed to go build: its cache decides what is really
# rebuilt. (A static pattern rule: make skips implicit rules for phony targets.)
$(BINARIES): bin/%:
	@mkdir -p bin
	$(GO) build -trimpath -ldflags "$(LDFLAGS)" -o $@ ./cmd/$*

check:
	ci/setup
	ci/check

# The long reliability runs; writes RELIABILITY.md (see ci/stress).
stress:
	ci/setup
	ci/stress

demo:
	ci/setup
	ci/demo

install: $(BINARIES)
	install -D -m 0755 bin/ostree-push $(DESTDIR)$(BINDIR)/ostree-push
	install -D -m 0755 bin/ostree-receive $(DESTDIR)$(BINDIR)/ostree-receive
	install -D -m 0755 bin/ostree-receive-shell $(DESTDIR)$(BINDIR)/ostree-receive-shell

uninstall:
	rm -f $(DESTDIR)$(BINDIR)/ostree-push $(DESTDIR)$(BINDIR)/ostree-receive \
		$(DESTDIR)$(BINDIR)/ostree-receive-shell

fmt:
	gofmt -w .

vet:
	$(GO) vet ./...

test:
	$(GO) test -race -count=1 ./...

bench:
	@if [ -x ci/bench ]; then \
		exec ci/bench; \
	else \
		echo "bench: ci/bench does not exist yet; it arrives with the performance issue." >&2; \
		exit 1; \
	fi

clean:
	rm -rf bin
