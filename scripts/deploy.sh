#!/usr/bin/env bash
# Deploys the order pipeline to AWS from nothing: builds the Lambda zips (cargo-lambda, arm64),
# creates the stack's code bucket, uploads the zips, deploys template.yaml, prints the API URL.
# Run it again to deploy a new build: only changed settings and a new CodeVersion are applied.
#
#   NOTIFICATION_EMAIL=ops@example.com ./scripts/deploy.sh
#
# Needs: AWS credentials for the target account (any way the AWS CLI finds them), the AWS CLI
# (v1 or v2), the Rust toolchain and python3 (cargo-lambda and ziglang are installed from PyPI
# into ./.venv when missing).
#
# Settings (environment variables; only NOTIFICATION_EMAIL is required):
#   NOTIFICATION_EMAIL     subscribed to the three SNS topics (confirm the emails SNS sends)
#   STACK_NAME             default order-pipeline; at most 39 characters, because the functions
#                          are named <stack>-<binary>
#   AWS_REGION             default AWS_DEFAULT_REGION, then the CLI profile's region
#   CODE_BUCKET            default ecommerce-application-lambda-code-<account>-<region>
#                          (bucket names are global; the template's default is the bare name)
#   WORKFLOW_TYPE          EXPRESS (default) or STANDARD
#   ENABLE_WAF             false (default) or true
#   SEED_SAMPLE_INVENTORY  true (default) or false
#   API_NAME, API_STAGE    default order-pipeline-api and prod
#   SKIP_BUILD=1           deploy the zips already built (in LAMBDA_DIR)
#   LAMBDA_DIR             where the zips are, <LAMBDA_DIR>/<binary>/bootstrap.zip; default
#                          target/lambda (cargo-lambda's)
#
#   ./scripts/deploy.sh --bootstrap-template   prints the template of the first step (the code
#                                              bucket alone) and exits; no AWS call is made
set -euo pipefail
cd "$(dirname "$0")/.."

# The binaries of docs/aws-contract.md (package name = binary name = folder name); each becomes
# one AWS::Lambda::Function whose code is <CodeVersion>/<binary>.zip (scripts/test_template.py
# checks this list against the contract and the template).
BINARIES=(
    order-placement
    start-order-processing
    validate-order
    process-payment
    update-inventory
    order-failed
    order-success-handler
    seed-inventory
    order-status-projector
    inventory-projector
    terminal-event-forwarder
)
CARGO_LAMBDA_VERSION=1.9.2
ZIGLANG_VERSION=0.17.1

# The first deployment of a stack: LambdaCodeBucket and its policy alone, cut from template.yaml
# between its CODE BUCKET markers (so the two can never differ). template.yaml then updates the
# stack, leaving the bucket as it is.
bootstrap_template() {
    cat <<'EOF'
AWSTemplateFormatVersion: "2010-09-09"
Description: >-
  order-pipeline, first step of a first deployment (scripts/deploy.sh): the code bucket alone,
  so that the function zips can be uploaded before template.yaml creates the functions.
Parameters:
EOF
    sed -n '/# BEGIN CODE BUCKET PARAMETERS/,/# END CODE BUCKET PARAMETERS/p' template.yaml
    echo "Resources:"
    sed -n '/# BEGIN CODE BUCKET RESOURCES/,/# END CODE BUCKET RESOURCES/p' template.yaml
}

if [[ "${1:-}" == "--bootstrap-template" ]]; then
    bootstrap_template
    exit 0
elif [[ $# -gt 0 ]]; then
    sed -n '2,28s/^# \{0,1\}//p' "$0" >&2
    exit 2
fi

die() {
    echo "deploy: $*" >&2
    exit 1
}

command -v aws > /dev/null || die "the AWS CLI is not installed (https://aws.amazon.com/cli/)"
[[ -n "${NOTIFICATION_EMAIL:-}" ]] || die "set NOTIFICATION_EMAIL (it receives confirmations, failed orders and alarms)"

STACK_NAME="${STACK_NAME:-order-pipeline}"
[[ ${#STACK_NAME} -le 39 ]] || die "STACK_NAME is longer than 39 characters (function names are <stack>-<binary>)"
REGION="${AWS_REGION:-${AWS_DEFAULT_REGION:-$(aws configure get region 2> /dev/null || true)}}"
[[ -n "$REGION" ]] || die "no region: set AWS_REGION"
export AWS_REGION="$REGION" AWS_DEFAULT_REGION="$REGION"
WORKFLOW_TYPE="${WORKFLOW_TYPE:-EXPRESS}"
ENABLE_WAF="${ENABLE_WAF:-false}"
SEED_SAMPLE_INVENTORY="${SEED_SAMPLE_INVENTORY:-true}"
API_NAME="${API_NAME:-order-pipeline-api}"
API_STAGE="${API_STAGE:-prod}"
LAMBDA_DIR="${LAMBDA_DIR:-target/lambda}"

ACCOUNT=$(aws sts get-caller-identity --query Account --output text) || die "no AWS credentials"
CODE_BUCKET="${CODE_BUCKET:-ecommerce-application-lambda-code-$ACCOUNT-$REGION}"
echo "== deploying stack $STACK_NAME to account $ACCOUNT, region $REGION (code bucket $CODE_BUCKET)"

# 1. Build: one zip per binary, arm64 (cross-linked by zig).
if [[ "${SKIP_BUILD:-0}" != 1 ]]; then
    if [[ ! -x .venv/bin/cargo-lambda || ! -x .venv/bin/python-zig ]]; then
        echo "== installing cargo-lambda $CARGO_LAMBDA_VERSION and ziglang $ZIGLANG_VERSION into .venv"
        [[ -x .venv/bin/python ]] || python3 -m venv .venv
        .venv/bin/pip install --quiet --disable-pip-version-check \
            "cargo-lambda==$CARGO_LAMBDA_VERSION" "ziglang==$ZIGLANG_VERSION"
    fi
    packages=()
    for b in "${BINARIES[@]}"; do
        packages+=(--package "$b")
    done
    echo "== cargo lambda build --release --arm64 --output-format zip (${#BINARIES[@]} functions)"
    PATH="$PWD/.venv/bin:$PATH" cargo lambda build --release --arm64 --output-format zip \
        --lambda-dir "$LAMBDA_DIR" "${packages[@]}"
fi
zips=()
for b in "${BINARIES[@]}"; do
    zip="$LAMBDA_DIR/$b/bootstrap.zip"
    [[ -f "$zip" ]] || die "$zip is missing (build failed, or SKIP_BUILD=1 without a build)"
    zips+=("$zip")
done
# The code version is a hash of the binaries (not of the zips, whose timestamps change on every
# build): the same build deploys to the same keys, and a new one updates the functions.
CODE_VERSION=$(python3 - "${zips[@]}" <<'EOF'
import hashlib, sys, zipfile
h = hashlib.sha256()
for path in sys.argv[1:]:
    with zipfile.ZipFile(path) as z:
        h.update(path.encode() + b"\0" + z.read("bootstrap"))
print(h.hexdigest()[:16])
EOF
)

# 2. The stack and its code bucket.
stack_status() {
    aws cloudformation describe-stacks --stack-name "$STACK_NAME" \
        --query 'Stacks[0].StackStatus' --output text 2> /dev/null || echo NONE
}
status=$(stack_status)
case "$status" in
    *_IN_PROGRESS)
        die "stack $STACK_NAME is busy ($status); run again when it is done"
        ;;
    ROLLBACK_COMPLETE | ROLLBACK_FAILED)
        # A first creation that failed: nothing to keep, and such a stack cannot be updated.
        echo "== deleting stack $STACK_NAME left in $status by a failed first deployment"
        aws cloudformation delete-stack --stack-name "$STACK_NAME"
        aws cloudformation wait stack-delete-complete --stack-name "$STACK_NAME"
        status=NONE
        ;;
esac
if [[ "$status" == NONE ]]; then
    if aws s3api head-bucket --bucket "$CODE_BUCKET" > /dev/null 2>&1; then
        die "bucket $CODE_BUCKET already exists but stack $STACK_NAME does not (kept from a deleted stack, or someone else's): set CODE_BUCKET to another name, or empty and delete yours"
    fi
    echo "== creating stack $STACK_NAME with its code bucket"
    bootstrap=$(mktemp "${TMPDIR:-/tmp}/order-pipeline-bootstrap.XXXXXX")
    trap 'rm -f "$bootstrap"' EXIT
    bootstrap_template > "$bootstrap"
    aws cloudformation deploy \
        --stack-name "$STACK_NAME" \
        --template-file "$bootstrap" \
        --parameter-overrides "LambdaCodeBucketName=$CODE_BUCKET" \
        --no-fail-on-empty-changeset
fi

# 3. Upload the zips under the code version (skipping those already there).
echo "== uploading code version $CODE_VERSION to s3://$CODE_BUCKET/$CODE_VERSION/"
for b in "${BINARIES[@]}"; do
    key="$CODE_VERSION/$b.zip"
    if ! aws s3api head-object --bucket "$CODE_BUCKET" --key "$key" > /dev/null 2>&1; then
        aws s3 cp --only-show-errors "$LAMBDA_DIR/$b/bootstrap.zip" "s3://$CODE_BUCKET/$key"
    fi
done

# 4. The whole stack. The template is over CloudFormation's 51,200-byte inline limit, so the CLI
# uploads it to the code bucket first.
echo "== deploying template.yaml"
aws cloudformation deploy \
    --stack-name "$STACK_NAME" \
    --template-file template.yaml \
    --s3-bucket "$CODE_BUCKET" \
    --s3-prefix cloudformation \
    --capabilities CAPABILITY_IAM \
    --parameter-overrides \
    "NotificationEmailName=$NOTIFICATION_EMAIL" \
    "LambdaCodeBucketName=$CODE_BUCKET" \
    "CodeVersion=$CODE_VERSION" \
    "WorkflowType=$WORKFLOW_TYPE" \
    "EnableWaf=$ENABLE_WAF" \
    "SeedSampleInventory=$SEED_SAMPLE_INVENTORY" \
    "ApiGatewayName=$API_NAME" \
    "ApiGatewayStageName=$API_STAGE" \
    --no-fail-on-empty-changeset

output() {
    aws cloudformation describe-stacks --stack-name "$STACK_NAME" \
        --query "Stacks[0].Outputs[?OutputKey=='$1'].OutputValue" --output text
}
api_url=$(output ApiUrl)
pool_id=$(output UserPoolId)
client_id=$(output UserPoolClientId)
echo
echo "Deployed. API: $api_url"
echo "  curl -s $api_url/health"
echo "Order routes need a Cognito ID token (user pool $pool_id, app client $client_id; how to"
echo "create a user and sign in: docs/aws-contract.md, \"Signing in on AWS\"). With one in \$TOKEN:"
echo "  curl -si -X POST $api_url/orders -H \"Authorization: \$TOKEN\" -H 'Content-Type: application/json' \\"
echo "    -d '{\"email\":\"jane@example.com\",\"items\":[{\"productId\":\"KEYBOARD\",\"quantity\":1}],\"paymentToken\":\"tok_visa\"}'"
echo "Dashboard: $(output DashboardUrl)"
echo "Confirm the SNS subscription emails sent to $NOTIFICATION_EMAIL to receive notifications."
