# The two commands a newcomer types (see README.md). Both set up everything from zero first.
.PHONY: demo test setup check

setup:
	@bash scripts/setup.sh

demo: setup
	.venv/bin/auroral demo

test: setup
	bash scripts/check.sh
	.venv/bin/python -m pytest

check: setup
	bash scripts/check.sh
