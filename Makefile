# The two quick-start commands:
#   make demo   set up .venv and run the chain on the built-in synthetic dataset
#   make test   set up .venv and run the tests
# .venv is rebuilt from requirements.txt only when that file is newer than the last install.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DATA ?= data

.PHONY: setup demo test bench clean-data

setup: $(STAMP)

$(STAMP): requirements.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt
	touch $(STAMP)

demo: setup
	$(BIN)/python make_synthetic_dataset.py --output_path $(DATA)/synthetic_videos
	$(BIN)/python video_to_frames.py --input_path $(DATA)/synthetic_videos \
		--output_path $(DATA)/synthetic_frames --sequence_length 16 --frame_height 112 --frame_width 112
	@echo; cat $(DATA)/synthetic_frames/Format_Time_Summary.txt
	@echo; ls -l $(DATA)/synthetic_frames

test: setup
	$(BIN)/python -m pytest

bench: setup
	$(BIN)/python -m bench

clean-data:
	rm -rf $(DATA)
