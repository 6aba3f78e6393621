# The two commands of the README: `make run` and `make test`. Each creates .venv by itself.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

ASSETS := web/static/build/assure.css

.PHONY: run test clean assets

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Assure needs Python 3.11 or newer")'
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	@touch $(STAMP)

# The GOV.UK Frontend styles and scripts, from the versions pinned in package-lock.json. Without
# npm the pages still work, unstyled.
$(ASSETS): package.json package-lock.json web/static/src/assure.scss
	@if command -v npm >/dev/null 2>&1; then \
		npm ci --no-audit --no-fund --loglevel=error && npm run --silent build; \
	else \
		echo "npm not found: the web pages will work, unstyled"; \
	fi

assets: $(ASSETS)

run: $(STAMP) assets  ## the Temporal dev server (Web UI on :8233), mail catcher, worker and web
	$(VENV)/bin/assure dev

# The type checker runs before the tests: it takes seconds where the suite takes minutes, and a
# type error is cheaper to read than the test failure it would cause. Its scope and strictness
# are in pyproject.toml ([tool.mypy]).
test: $(STAMP) assets  ## lint, type-check, then the whole test suite
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	$(PY) -m pytest $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) .assure node_modules web/static/build
