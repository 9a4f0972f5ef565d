# funknn: two commands do everything.
#   make book   create .venv, install the pinned dependencies, execute every notebook on the
#               embedded data with papermill, prepare the live zoom page (npm ci of book/'s
#               lockfile, ONNX export of the shipped models), build the Jupyter Book (_build/html)
#   make test   same set-up, then lint (ruff, with a complexity limit), the type check (mypy),
#               unit tests and docstring examples, notebook execution checked by nbval, the
#               headline figures against book/golden.json (make golden-refresh rewrites it), a
#               strict book build (warnings are errors), then every page of it opened in headless
#               Chromium (Debian's chromium package; tests/browser_check.py)
# Variables: PYTHON (interpreter that creates .venv), PROFILE (quick|paper), NOTEBOOKS, JOBS, THREADS.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PROFILE ?= quick
NOTEBOOKS := $(sort $(wildcard notebooks/*.ipynb))
EXECUTED := $(patsubst notebooks/%,book/executed/%,$(NOTEBOOKS))
# "Results at a glance" reads every chapter's results file: it runs after them (a prerequisite
# below, so that -j cannot start it early) and comes last in the schedules
GLANCE := book/executed/results_at_a_glance.ipynb
# the reproducibility report reads them too (and the shipped checkpoints' metadata): after them as well
REPORT := book/executed/reproducibility_report.ipynb
CHAPTERS := $(filter-out $(GLANCE) $(REPORT),$(EXECUTED))
# the two longest chapters first, so that the others fill the second job meanwhile
LONGEST := book/executed/06_limited_view_ct.ipynb book/executed/05_inverse_derivatives.ipynb
SCHEDULE := $(filter $(LONGEST),$(CHAPTERS)) $(filter-out $(LONGEST),$(CHAPTERS)) \
    $(filter $(GLANCE),$(EXECUTED)) $(filter $(REPORT),$(EXECUTED))
RESULTS := _build/results
# where the executed notebooks find the results files: relative to notebooks/ (papermill's working
# folder) for the chapters, which write them; absolute for the glance and report pages, which read
# them and are re-run by nbval from book/executed/ (the chapters' nbval re-runs write to
# book/_build/results, so the pages re-read exactly the files that papermill's run read)
RESULTS_PARAM = ../$(RESULTS)
$(GLANCE): private RESULTS_PARAM = $(abspath $(RESULTS))
$(REPORT): private RESULTS_PARAM = $(abspath $(RESULTS))
export PYDEVD_DISABLE_FILE_VALIDATION := 1
# JOBS notebooks (and pytest workers) at a time, each with THREADS torch threads. On a 2-core
# machine two one-thread jobs beat one two-thread job (chapter 3 alone takes 35 s with one thread,
# 38 s with two). nbval re-runs the notebooks with the thread count papermill used, so the
# outputs it compares were computed alike.
JOBS ?= 2
THREADS ?= 1

# The live zoom page (book/live_zoom.md): onnxruntime-web from the npm registry, pinned by
# book/package-lock.json (npm ci; no install scripts), and the page's models, images and runtime
# written by book/prepare_zoom.py into book/_static/zoom/, which the book build copies.
NPM ?= npm
NODE_STAMP := book/node_modules/.package-lock.json
ZOOM := book/_static/zoom/manifest.json

.PHONY: seeds budget book test install lint typecheck unit notebooks nbval golden golden-refresh book-strict browser clean zoom

install: $(STAMP)

$(STAMP): requirements.txt pyproject.toml book/pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	# torch first and pinned: the CPU wheel (never let another package pull a CUDA build)
	$(BIN)/python -m pip install --quiet torch==2.13.0
	$(BIN)/python -m pip install --quiet -r requirements.txt
	$(BIN)/python -m pip install --quiet --no-deps -e .
	# the book's helpers (funknn_book: profiles, results files, glue, tables, figures), not in the wheel
	$(BIN)/python -m pip install --quiet --no-deps -e book
	$(BIN)/python -m ipykernel install --sys-prefix --name python3 > /dev/null
	touch $(STAMP)

# Execute every notebook with papermill into book/executed/ (metrics in _build/results/).
book/executed/%.ipynb: notebooks/%.ipynb $(STAMP) $(wildcard funknn/*.py funknn/*/*.py book/funknn_book/*.py data/checkpoints/*.pt data/checkpoints/seeds/*.pt data/checkpoints/budget/*.pt)
	@mkdir -p book/executed $(RESULTS)
	cd notebooks && OMP_NUM_THREADS=$(THREADS) ../$(BIN)/papermill --cwd . -k python3 -p profile $(PROFILE) \
	    -p results_dir $(RESULTS_PARAM) $*.ipynb ../$@
	# papermill's injected-parameters cell (results_dir may be an absolute path) left out of the book
	$(BIN)/python book/hide_injected.py $@

$(GLANCE): $(CHAPTERS)
$(REPORT): $(CHAPTERS)

notebooks: $(STAMP)
	@$(MAKE) --no-print-directory -j$(JOBS) $(SCHEDULE)

$(NODE_STAMP): book/package.json book/package-lock.json
	$(NPM) ci --prefix book --ignore-scripts --no-audit --no-fund
	touch $@

$(ZOOM): book/prepare_zoom.py $(NODE_STAMP) $(STAMP) $(wildcard funknn/*.py funknn/*/*.py data/checkpoints/photos_*.pt)
	OMP_NUM_THREADS=$(THREADS) $(BIN)/python book/prepare_zoom.py

zoom: $(ZOOM)

book: notebooks zoom
	$(BIN)/jupyter-book build . --path-output _build/book -q
	@echo "The book is at $(CURDIR)/_build/book/_build/html/index.html"

lint: $(STAMP)
	$(BIN)/ruff check .

typecheck: $(STAMP)
	$(BIN)/mypy

# unit tests, and every >>> example of the library's docstrings and the book's helpers'
unit: $(STAMP)
	OMP_NUM_THREADS=$(THREADS) $(BIN)/python -m pytest -q -n $(JOBS) --dist loadgroup --doctest-modules funknn \
	    book/funknn_book tests

# Re-run the executed notebooks and compare their outputs (tables rounded; timings ignored).
nbval: notebooks
	OMP_NUM_THREADS=$(THREADS) $(BIN)/python -m pytest -q -n $(JOBS) --dist loadfile --nbval --nbval-current-env \
	    --nbval-sanitize-with .nbval-sanitize.cfg -p no:odl_plugins $(SCHEDULE)

# The quick profile's headline figures of this run against the committed book/golden.json, each
# within a tolerance from its measured seed / solver spread (book/funknn_book/golden.py); a run of
# another PROFILE is skipped. After a change meant to move them: make golden-refresh, commit the file.
golden: notebooks
	$(BIN)/python -m funknn_book.golden check $(RESULTS) --golden book/golden.json

golden-refresh: notebooks
	$(BIN)/python -m funknn_book.golden refresh $(RESULTS) --golden book/golden.json

book-strict: notebooks zoom
	rm -rf _build/book
	$(BIN)/jupyter-book build . --path-output _build/book -W -n --keep-going -q

# Every page of the strict build in headless Chromium: titles, typeset math (MathJax served from the
# book), images, error outputs, internal links, nothing fetched from outside; a screenshot of each
# page in _build/screenshots/; on the live zoom page, a fixed window rendered in the page and compared
# with PyTorch, and the render time of its default window printed. Needs /usr/bin/chromium (.ci/run
# installs it with apt).
browser: book-strict
	$(BIN)/python tests/browser_check.py _build/book/_build/html --screenshots _build/screenshots

# Extra training seeds (issue 26): every trained row of Tables 1-2, chapter 2 and chapter 3, by its
# recipe with --seed N, trained in _build/seeds/ (resumable: an interrupted run goes on from its last
# checkpoint when the target is made again) and shipped released (weights only) in
# data/checkpoints/seeds/. `make seeds` trains whatever is missing; SEED_NAMES / SEEDS narrow it.
# Not part of `make book` or `make test`: the chapters evaluate the files that are there.
SEEDS ?= 1 2
SEED_NAMES ?= photos_liif_140k photos_unet photos_unet_paper photos_single photos_continuous \
    bumps_derivatives photos_liif_edsr photos_factor bumps_paper
SEED_FILES := $(foreach n,$(SEED_NAMES),$(foreach s,$(SEEDS),data/checkpoints/seeds/$(n)_seed$(s).pt))
NICE ?= nice -n 15

data/checkpoints/seeds/%.pt: | $(STAMP)
	@mkdir -p _build/seeds data/checkpoints/seeds
	# a run that an earlier session committed unfinished (data/checkpoints/in_progress/) resumes from there
	@if [ -f data/checkpoints/in_progress/$*.pt ] && [ ! -f _build/seeds/$*.pt ]; then \
	    cp data/checkpoints/in_progress/$*.pt _build/seeds/$*.pt; fi
	OMP_NUM_THREADS=$(THREADS) $(NICE) $(BIN)/python -m funknn train \
	    --config configs/$(shell echo $* | sed 's/_seed[0-9]*$$//').yaml \
	    --seed $(shell echo $* | sed 's/.*_seed//') --no-progress --out _build/seeds/$*.pt
	$(BIN)/python -m funknn release _build/seeds/$*.pt --out $@.tmp && mv $@.tmp $@
	rm -f data/checkpoints/in_progress/$*.pt

seeds: $(SEED_FILES)

# Equal budgets (issue 26): FunkNN single and continuous trained 600 steps, the other rows of Table 1
# 1,500. Their shipped seed-0 runs (which keep their optimiser state) resumed to 1,500 steps, by the
# same recipe and batches, and shipped released in data/checkpoints/budget/<name>_steps1500.pt; chapter 1
# scores them beside the 600-step rows (the cost of the difference). Not part of `make book`/`make test`.
BUDGET_FILES := data/checkpoints/budget/photos_single_steps1500.pt data/checkpoints/budget/photos_continuous_steps1500.pt

data/checkpoints/budget/%_steps1500.pt: | $(STAMP)
	@mkdir -p _build/budget data/checkpoints/budget
	@test -f _build/budget/$*_steps1500.pt || cp data/checkpoints/$*.pt _build/budget/$*_steps1500.pt
	OMP_NUM_THREADS=$(THREADS) $(NICE) $(BIN)/python -m funknn train --config configs/$*.yaml \
	    --steps 1500 --no-progress --out _build/budget/$*_steps1500.pt
	$(BIN)/python -m funknn release _build/budget/$*_steps1500.pt --out $@.tmp && mv $@.tmp $@

budget: $(BUDGET_FILES)

test: lint typecheck unit nbval golden book-strict browser

clean:
	rm -rf _build book/executed book/_static/zoom
