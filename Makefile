# rlimpro: the README's two set-up commands are `make demo` and `make test`.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
BIN := $(VENV)/bin
APT_PACKAGES := puredata-core puredata-dev puredata-utils pd-lib-builder libsndfile1 libportaudio2 libkissfft-dev jackd2 liblo-tools patchelf git make gcc chromium

.PHONY: demo test test-fast fuzz bench docs system venv native hotloop externals pd-package pd-package-only clean-venv

export PATH := $(abspath $(BIN)):$(PATH)
export DVC_NO_ANALYTICS := 1

DUET_SYNTH ?= fm
DUET_TAKE ?= 01_corpus/demo/audio/flute.ogg

## demo: install everything (apt + .venv), run the whole default DAG, then an offline duet
demo: system venv
	$(MAKE) native || echo "warning: the C descriptor core did not build; analysis falls back to numpy"
	$(MAKE) hotloop || echo "warning: the C hot path did not build; rlimpro serve will answer in Python"
	$(MAKE) externals || echo "warning: the Pd external [rlimpro_policy] did not build; play through rlimpro serve"
	dvc repro
	rlimpro replay $(DUET_TAKE) --model 00_synths/$(DUET_SYNTH)/policy.onnx -o out/duet_$(DUET_SYNTH).wav

## system: Debian packages (needs root; skipped when already there)
system:
	@missing=""; for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:$$missing"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; \
	fi

## venv: .venv with every extra, pinned by constraints.txt
venv: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml constraints.txt
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -c constraints.txt -e '.[all]'
	touch $@

## test: the whole test suite (real Pd, real onnxruntime, real sockets), the package's doctests and the strict docs build
test: system venv native hotloop externals
	pytest -q
	$(MAKE) docs
	pytest -q --doctest-modules rlimpro

## native: the C descriptor core (native/descriptors.c) as the Python binding's library
NATIVE := rlimpro/descriptors/_analyzer.so
NATIVE_CFLAGS := -O3 -Wall -Wextra -std=c11 -D_GNU_SOURCE $(shell pkg-config --cflags kissfft-float 2>/dev/null || echo -I/usr/include/kissfft -Dkiss_fft_scalar=float)
native: $(NATIVE)

$(NATIVE): native/descriptors.c native/descriptors.h native/descriptor_names.h
	gcc $(NATIVE_CFLAGS) -shared -fPIC $< -o $@ -lkissfft-float -lm

## hotloop: the live server's C hot path (rlimpro/live/_hotloop.so; `serve` falls back to Python without it)
HOTLOOP := rlimpro/live/_hotloop.so
ORT_INCLUDE := third_party/onnxruntime/include
hotloop: $(HOTLOOP)

$(HOTLOOP): rlimpro/live/hotloop.c native/ort_policy.h $(ORT_INCLUDE)/onnxruntime_c_api.h
	gcc -O2 -Wall -Wextra -std=c11 -D_GNU_SOURCE -shared -fPIC -I native -I $(ORT_INCLUDE) $< -o $@ -ldl -lm

$(ORT_INCLUDE)/onnxruntime_c_api.h:
	sh tools/fetch-ort-headers.sh $(ORT_INCLUDE)

## externals: the Pd externals [rlimpro_policy] and [rlimpro_features~] (pd_externals/*.pd_linux), onnxruntime path baked in
ORT_LIBRARY = $$($(PY) -c 'import rlimpro.live.hotloop as h; print(h.onnxruntime_library())')
externals: venv $(ORT_INCLUDE)/onnxruntime_c_api.h
	$(MAKE) -C pd_externals ORT_LIBRARY="$(ORT_LIBRARY)"

## pd-package: $(PD_PACKAGE_DIR)/rlimpro/, a deken-style folder (externals, help patches, link abstractions, meta) for Pd's externals path
PD_PACKAGE_DIR ?= dist
pd-package: externals
	$(MAKE) pd-package-only

pd-package-only:
	@test -f pd_externals/rlimpro_features~.pd_linux || { echo "build the externals first: make externals"; exit 1; }
	rm -rf "$(PD_PACKAGE_DIR)/rlimpro"
	$(MAKE) -C pd_externals install PDLIBDIR="$(abspath $(PD_PACKAGE_DIR))" ORT_LIBRARY="$(ORT_LIBRARY)"
	cp -r rlimpro/pd/link-osc rlimpro/pd/link-inside "$(PD_PACKAGE_DIR)/rlimpro/"
	@echo "$(PD_PACKAGE_DIR)/rlimpro/: copy it into Pd's externals folder (e.g. ~/Documents/Pd/externals); it needs Debian's libkissfft-float and onnxruntime (see docs/live.md)"

## test-fast: skip tests marked slow
test-fast: venv native hotloop externals
	pytest -q -m "not slow"
	pytest -q --doctest-modules rlimpro

## docs: the docs site (mkdocs.yml, docs/) built with --strict into site/ (any warning fails)
docs: venv
	NO_MKDOCS_2_WARNING=1 mkdocs build --strict --site-dir site

## fuzz: the reliability suite (docs/reliability.md): OSC, Pd and signal fuzzing, the bad-input zoo, kill -9 and disk faults
fuzz: system venv native hotloop externals
	pytest -q -p no:cacheprovider --timeout 600 tests/fuzz tests/faults

## bench: every benchmark in benchmarks/, each prints its ratio to a baseline
bench: system venv native hotloop externals
	@for b in benchmarks/[!_]*.py; do echo "== $$b"; $(PY) $$b || exit 1; done

clean-venv:
	rm -rf $(VENV)
