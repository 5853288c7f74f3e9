# routeb — the two commands of the README's quick start, and a few more.
# Both create and reuse .venv; neither assumes anything but python3, make and apt.

VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-stamp

.PHONY: demo test servers lint typecheck unit fuzz bench soak clean screenshots

$(STAMP): pyproject.toml scripts/bootstrap-venv.sh
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

# Every benchmark of docs/benchmarks.md, with exactly the commands given there (about 90 minutes).
bench: $(STAMP)
	$(PY) bench/codec.py --rounds 9 --seconds 0.5 --starts 31
	$(PY) bench/connect.py --rounds 3 --time-scale 1.0
	$(PY) bench/bridge.py --rounds 7 --count 5000 --seconds 3 --window 32
	$(PY) bench/ingest.py --homes 600 --hours 3 --rounds 5
	$(PY) bench/api.py --runs 5
	$(PY) bench/footprint.py --minutes 10

# routeb run through 90 simulated days against the emulator (about 50 minutes).
soak: $(STAMP)
	$(PY) bench/soak.py --days 90 --speed 3600

# Every dashboard page in ja/en × phone/desktop × light/dark over a seeded solar household.
SCREENS ?= artifacts/screens
screenshots: $(STAMP)
	$(PY) scripts/screenshots.py $(SCREENS)

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis
