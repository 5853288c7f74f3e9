# routeb — the two commands of the README's quick start, and a few more.
# Both create and reuse .venv; neither assumes anything but python3, make and apt.

VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-stamp

.PHONY: demo test servers lint typecheck unit fuzz asan bench clean screenshots

# setup.py builds the codec's optional C fast paths (src/routeb/echonet/_speedups.c) in place.
$(STAMP): pyproject.toml setup.py src/routeb/echonet/_speedups.c scripts/bootstrap-venv.sh
	sh scripts/bootstrap-venv.sh $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(PY) -m routeb.demo

test: $(STAMP) servers lint typecheck unit

servers:
	sh scripts/test-servers.sh
	@# The real Home Assistant the HA tests start: its own venv, built once per machine.
	sh scripts/ha-venv.sh >/dev/null || echo "no Home Assistant venv: tests/test_ha_* will skip"

lint: $(STAMP)
	$(VENV)/bin/ruff check src tests bench
	$(VENV)/bin/ruff format --check src tests bench

typecheck: $(STAMP)
	$(VENV)/bin/mypy --strict src

unit: $(STAMP)
	$(VENV)/bin/pytest -q --durations=20 --durations-min=1.0

fuzz: $(STAMP)
	$(VENV)/bin/pytest -q -m slow --timeout=3600

# The codec's C fast paths under ASan + UBSan, with the million-input differential fuzz.
asan: $(STAMP)
	sh scripts/asan-codec.sh

# Every benchmark of docs/benchmarks.md, with the commands given there (about 45 minutes).
bench: $(STAMP)
	$(PY) bench/codec.py --rounds 9 --seconds 0.5
	$(PY) bench/connect.py --rounds 3 --time-scale 1.0
	$(PY) bench/bridge.py --count 5000 --seconds 3 --window 32
	$(PY) bench/ingest.py --homes 300 --hours 2
	$(PY) bench/api.py
	$(PY) bench/footprint.py --minutes 10

# Every dashboard page in ja/en × phone/desktop × light/dark over a seeded solar household.
SCREENS ?= artifacts/screens
screenshots: $(STAMP)
	$(PY) scripts/screenshots.py $(SCREENS)

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis
