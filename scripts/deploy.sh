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
#   REFUND_WORKFLOW_TYPE   EXPRESS (default) or STANDARD (RefundProcessingStateMachine)
#   ENABLE_WAF             false (default) or true
#   SEED_SAMPLE_INVENTORY  true (default) or false
#   API_NAME, API_STAGE    default order-pipeline-api and prod
#   SET_API_GATEWAY_ACCOUNT_ROLE
#                          auto (default), true or false: whether the stack sets the region's
#                          account-wide API Gateway CloudWatch role (the stage's logs need one).
#                          auto = true only when the account has no role yet, so a deployment
#                          never repoints the role other APIs of the account log through
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
    process-refund
    refund-failed
    order-success-handler
    seed-inventory
    order-failure-handler
    order-update-handler
    event-projector
    order-sweeper
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
    sed -n '2,33s/^# \{0,1\}//p' "$0" >&2
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
REFUND_WORKFLOW_TYPE="${REFUND_WORKFLOW_TYPE:-EXPRESS}"
ENABLE_WAF="${ENABLE_WAF:-false}"
SEED_SAMPLE_INVENTORY="${SEED_SAMPLE_INVENTORY:-true}"
API_NAME="${API_NAME:-order-pipeline-api}"
API_STAGE="${API_STAGE:-prod}"
LAMBDA_DIR="${LAMBDA_DIR:-target/lambda}"
SET_API_GATEWAY_ACCOUNT_ROLE="${SET_API_GATEWAY_ACCOUNT_ROLE:-auto}"
case "$SET_API_GATEWAY_ACCOUNT_ROLE" in
    auto | true | false) ;;
    *) die "SET_API_GATEWAY_ACCOUNT_ROLE must be auto, true or false" ;;
esac

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

# The API's content hash (scripts/api_hash.py): part of the deployment's Description, so a
# changed method, model, validator or gateway response is redeployed to the stage.
py=python3
[[ -x .venv/bin/python ]] && py=.venv/bin/python
API_HASH=$("$py" scripts/api_hash.py template.yaml) || die "could not hash the API (scripts/api_hash.py needs PyYAML)"

# 2. The stack and its code bucket.
stack_status() {
    aws cloudformation describe-stacks --stack-name "$STACK_NAME" \
        --query 'Stacks[0].StackStatus' --output text 2> /dev/null || echo NONE
}
delete_stack() {
    aws cloudformation delete-stack --stack-name "$STACK_NAME"
    aws cloudformation wait stack-delete-complete --stack-name "$STACK_NAME"
}
status=$(stack_status)
case "$status" in
    REVIEW_IN_PROGRESS)
        # A stack whose first change set failed or was never executed: it has no resources,
        # and CloudFormation refuses both a create and an update while it exists.
        echo "== deleting stack $STACK_NAME left empty in REVIEW_IN_PROGRESS by a failed first change set"
        delete_stack
        status=NONE
        ;;
    *_IN_PROGRESS)
        die "stack $STACK_NAME is busy ($status); run again when it is done"
        ;;
    ROLLBACK_COMPLETE | ROLLBACK_FAILED)
        # A first creation that failed: nothing to keep, and such a stack cannot be updated.
        echo "== deleting stack $STACK_NAME left in $status by a failed first deployment"
        delete_stack
        status=NONE
        ;;
esac

# Whether CODE_BUCKET is a code bucket an earlier stack of this name left behind: LambdaCodeBucket
# is retained on stack deletion, tagged with the stack's name (aws:cloudformation:stack-name).
# Such a bucket is ours to reuse; a bucket of that name without the tag is someone else's.
bucket_is_ours() {
    local owner
    owner=$(aws s3api get-bucket-tagging --bucket "$CODE_BUCKET" \
        --query "TagSet[?Key=='aws:cloudformation:stack-name'].Value | [0]" --output text 2> /dev/null) || return 1
    [[ "$owner" == "$STACK_NAME" ]]
}

if [[ "$status" == NONE ]]; then
    bootstrap=$(mktemp "${TMPDIR:-/tmp}/order-pipeline-bootstrap.XXXXXX")
    trap 'rm -f "$bootstrap"' EXIT
    bootstrap_template > "$bootstrap"
    if aws s3api head-bucket --bucket "$CODE_BUCKET" > /dev/null 2>&1; then
        bucket_is_ours || die "bucket $CODE_BUCKET exists but was not made by a stack named $STACK_NAME (someone else's, or another stack's): set CODE_BUCKET to another name"
        # Retained from an earlier stack of this name: import it into the new stack (an IMPORT
        # change set) instead of failing on "already exists". An import creates nothing, so its
        # template is the bucket alone; the full template then adds the bucket policy.
        echo "== creating stack $STACK_NAME around the code bucket $CODE_BUCKET an earlier stack left"
        bootstrap_template | sed '/^  LambdaCodeBucketPolicy:/,/# END CODE BUCKET RESOURCES/d' > "$bootstrap"
        aws cloudformation create-change-set \
            --stack-name "$STACK_NAME" \
            --change-set-name import-code-bucket \
            --change-set-type IMPORT \
            --template-body "file://$bootstrap" \
            --parameters "ParameterKey=LambdaCodeBucketName,ParameterValue=$CODE_BUCKET" \
            --resources-to-import "[{\"ResourceType\":\"AWS::S3::Bucket\",\"LogicalResourceId\":\"LambdaCodeBucket\",\"ResourceIdentifier\":{\"BucketName\":\"$CODE_BUCKET\"}}]" \
            > /dev/null
        aws cloudformation wait change-set-create-complete \
            --stack-name "$STACK_NAME" --change-set-name import-code-bucket
        aws cloudformation execute-change-set --stack-name "$STACK_NAME" --change-set-name import-code-bucket
        aws cloudformation wait stack-import-complete --stack-name "$STACK_NAME"
    else
        echo "== creating stack $STACK_NAME with its code bucket"
        aws cloudformation deploy \
            --stack-name "$STACK_NAME" \
            --template-file "$bootstrap" \
            --parameter-overrides "LambdaCodeBucketName=$CODE_BUCKET" \
            --no-fail-on-empty-changeset
    fi
fi

# The account's API Gateway CloudWatch role: set it only when asked, or (auto) when the account
# has none, since the stage's logging settings fail without one.
if [[ "$SET_API_GATEWAY_ACCOUNT_ROLE" == auto ]]; then
    current_role=$(aws apigateway get-account --query cloudwatchRoleArn --output text 2> /dev/null || echo unknown)
    case "$current_role" in
        "" | None | null) SET_API_GATEWAY_ACCOUNT_ROLE=true ;;
        *) SET_API_GATEWAY_ACCOUNT_ROLE=false ;;
    esac
    echo "== API Gateway account CloudWatch role: ${current_role:-none}; SetApiGatewayAccountRole=$SET_API_GATEWAY_ACCOUNT_ROLE"
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
    "RefundWorkflowType=$REFUND_WORKFLOW_TYPE" \
    "EnableWaf=$ENABLE_WAF" \
    "SeedSampleInventory=$SEED_SAMPLE_INVENTORY" \
    "ApiGatewayName=$API_NAME" \
    "ApiGatewayStageName=$API_STAGE" \
    "ApiDefinitionHash=$API_HASH" \
    "SetApiGatewayAccountRole=$SET_API_GATEWAY_ACCOUNT_ROLE" \
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
