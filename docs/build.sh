#!/usr/bin/env bash
# Build the HTML documentation from scratch; warnings are errors. Runs the examples/ gallery.
# Usage: docs/build.sh   (needs the "docs" extra: pip install -e ".[docs]")
set -euo pipefail
cd "$(dirname "$0")/.."
rm -rf docs/_build docs/auto_examples docs/gen_modules
MPLBACKEND=Agg sphinx-build -W --keep-going -b html docs docs/_build/html

# Formulas must render without the internet: MathJax from the built site, no CDN.
page=docs/_build/html/methods/olden.html
grep -q 'class="math' "$page" || { echo "no math markup in $page" >&2; exit 1; }
grep -q '_static/mathjax/tex-chtml.js' "$page" || { echo "$page does not load the local MathJax" >&2; exit 1; }
test -s docs/_build/html/_static/mathjax/tex-chtml.js || { echo "local MathJax not copied" >&2; exit 1; }
if grep -rliE 'src="https?://[^"]*mathjax' docs/_build/html --include='*.html'; then
    echo "pages above load MathJax from the internet" >&2
    exit 1
fi
echo "math: rendered offline by the local MathJax"
