#!/usr/bin/env bash
# Static checks run by `make test` before pytest: ruff (lint + import order) and mypy (auroral.edge, the
# code a station runs). mypy reads the package through a folder of links that mirrors the installed names
# (auroral.edge -> edge/, ...), since the editable install maps them with an import hook mypy cannot see.
set -euo pipefail
cd "$(dirname "$0")/.."

links=.venv/mypy-path/auroral
mkdir -p "$links"
for package in edge train export; do
    ln -sfn "$PWD/$package" "$links/$package"
done

.venv/bin/ruff check edge export train tests scripts
MYPYPATH=.venv/mypy-path .venv/bin/mypy
