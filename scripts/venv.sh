#!/usr/bin/env bash
# Creates the pinned Python tool environments: ./.venv (scripts/requirements-dev.txt: the AWS
# emulator and the template linters) and ./.venv-api (scripts/requirements-api.txt: the API
# contract tester) and ./.venv-cli (scripts/requirements-cli.txt: the AWS CLI that deploy.sh
# drives, for its test on the emulator) and ./.venv-browser (scripts/requirements-browser.txt:
# Selenium, for the console's browser test). Idempotent: an environment is rebuilt only when its requirements change.
set -euo pipefail
cd "$(dirname "$0")/.."

make_venv() {
    local dir=$1 req=$2
    local stamp="$dir/.requirements.sha256"
    local want
    want=$(sha256sum "$req" | cut -d' ' -f1)
    if [[ -f "$stamp" && "$(cat "$stamp")" == "$want" ]]; then
        return 0
    fi
    python3 -m venv "$dir"
    "$dir/bin/pip" install --quiet --disable-pip-version-check --upgrade pip
    "$dir/bin/pip" install --quiet --disable-pip-version-check -r "$req"
    echo "$want" > "$stamp"
    echo "python tools of $req installed in $dir"
}

make_venv .venv scripts/requirements-dev.txt
make_venv .venv-api scripts/requirements-api.txt
make_venv .venv-cli scripts/requirements-cli.txt
make_venv .venv-browser scripts/requirements-browser.txt
