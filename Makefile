# The two commands a newcomer types (see README.md). Both set up everything from zero first.
.PHONY: demo test setup

setup:
	@bash scripts/setup.sh

demo: setup
	.venv/bin/auroral demo

test: setup
	.venv/bin/python -m pytest
