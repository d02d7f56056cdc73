#!/usr/bin/env bash
# Makes a Python virtual environment holding exactly REQUIREMENTS, once: it is rebuilt only when
# the requirements file changed since (a copy is kept inside the environment to compare).
# Usage: scripts/python-venv.sh VENV REQUIREMENTS NAME   (NAME prefixes the messages)
# Needs python3 with venv (scripts/setup.sh installs it) and PyPI access the first time.
set -euo pipefail
venv="$1" requirements="$2" name="$3"
stamp="$venv/requirements.txt"
if ! cmp -s "$requirements" "$stamp"; then
    echo "$name: installing the Python packages into $venv" >&2
    rm -rf "$venv"
    python3 -m venv "$venv" || {
        echo "$name: python3 could not create a virtual environment; install python3-venv (scripts/setup.sh does)" >&2
        exit 1
    }
    "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$requirements"
    cp "$requirements" "$stamp"
fi
