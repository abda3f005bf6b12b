# The two quick-start commands:
#   make demo   set up .venv and run the chain on the built-in synthetic dataset
#   make test   set up .venv and run the tests
# .venv is rebuilt from requirements.txt only when that file is newer than the last install.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DATA ?= data
DEMO_EPOCHS ?= 4
DEMO_LR ?= 1e-3
DEMO_TEACHER_WIDTH ?= 0.25
DEMO_STUDENT_WIDTH ?= 0.5
DEMO_FRAME_SIZE ?= 64

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
		--output_path $(DATA)/synthetic_frames --sequence_length 16 --frame_height $(DEMO_FRAME_SIZE) --frame_width $(DEMO_FRAME_SIZE)
	@echo; cat $(DATA)/synthetic_frames/Format_Time_Summary.txt; echo
	mkdir -p $(DATA)/models
	$(BIN)/python train_teacher.py --data $(DATA)/synthetic_frames --width $(DEMO_TEACHER_WIDTH) --epochs $(DEMO_EPOCHS) \
		--lr $(DEMO_LR) --output_path $(DATA)/models/teacher.keras --logdir $(DATA)/runs/teacher
	$(BIN)/python train_student.py --data $(DATA)/synthetic_frames --width $(DEMO_STUDENT_WIDTH) --epochs $(DEMO_EPOCHS) \
		--lr $(DEMO_LR) --output_path $(DATA)/models/student.keras --logdir $(DATA)/runs/student
	$(BIN)/python distill.py --data $(DATA)/synthetic_frames --source $(DATA)/models/teacher.keras --width $(DEMO_STUDENT_WIDTH) \
		--epochs $(DEMO_EPOCHS) --lr $(DEMO_LR) --temperature 10 --output_path $(DATA)/models/student_distilled.keras \
		--logdir $(DATA)/runs/student_distilled
	$(BIN)/python evaluate.py --data $(DATA)/synthetic_frames --recognizer $(DATA)/models/teacher.keras \
		$(DATA)/models/student.keras $(DATA)/models/student_distilled.keras --output_dir $(DATA)/evaluation
	$(BIN)/python export_student.py --data $(DATA)/synthetic_frames --recognizer $(DATA)/models/student_distilled.keras \
		--output_dir $(DATA)/export
	@echo "models, sidecars, histories and curves in $(DATA)/models; metrics and plots in $(DATA)/evaluation;"
	@echo "the exported student in $(DATA)/export;"
	@echo "TensorBoard: $(BIN)/tensorboard --logdir $(DATA)/runs"

test: setup
	$(BIN)/python -m pytest -n 2 --dist loadfile

bench: setup
	$(BIN)/python -m bench

clean-data:
	rm -rf $(DATA)
