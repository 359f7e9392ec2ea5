#!/usr/bin/env bash
# Build the HTML documentation from scratch; warnings are errors. Runs the examples/ gallery.
# Usage: docs/build.sh   (needs the "docs" extra: pip install -e ".[docs]")
set -euo pipefail
cd "$(dirname "$0")/.."
rm -rf docs/_build docs/auto_examples docs/gen_modules
MPLBACKEND=Agg sphinx-build -W --keep-going -b html docs docs/_build/html
