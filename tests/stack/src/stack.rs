//! What the emulator built from `template.yaml`, as `deploy_stack.py` read it back through the
//! services' APIs (CloudFormation, Lambda, EventBridge, Step Functions, API Gateway).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

/// Why the stack could not be deployed or read.
#[derive(Debug, thiserror::Error)]
pub enum StackError {
    #[error("running {script}: {source}")]
    Spawn {
        script: String,
        source: std::io::Error,
    },
    #[error("deploy_stack.py failed ({status}): {stderr}")]
    Deploy { status: String, stderr: String },
    #[error("deploy_stack.py printed no stack: {0}")]
    Parse(#[from] serde_json::Error),
}

/// A resource of the stack.
#[derive(Debug, Clone, Deserialize)]
pub struct Resource {
    #[serde(rename = "type")]
    pub kind: String,
    pub physical: String,
}

/// A function as the emulator holds it.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Function {
    pub logical_id: String,
    pub name: String,
    pub arn: String,
    /// From the code's S3 key `<CodeVersion>/<binary>.zip`.
    pub binary: String,
    pub environment: BTreeMap<String, String>,
    pub timeout_seconds: u64,
    pub memory_mb: u64,
}

/// An event source mapping (queue or stream to function).
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Mapping {
    pub uuid: String,
    pub function_arn: String,
    pub event_source_arn: String,
    pub batch_size: i32,
    pub enabled: bool,
    pub starting_position: Option<String>,
    /// The filter criteria's patterns (JSON text); a record passes if any matches.
    pub filters: Vec<String>,
    pub function_response_types: Vec<String>,
    pub maximum_batching_window_in_seconds: u64,
}

impl Mapping {
    /// Whether the function answers `batchItemFailures`.
    pub fn reports_item_failures(&self) -> bool {
        self.function_response_types
            .iter()
            .any(|t| t == "ReportBatchItemFailures")
    }
}

/// A rule's target.
#[derive(Debug, Clone, Deserialize)]
pub struct Target {
    pub id: String,
    pub arn: String,
    pub input: Option<String>,
}

/// An EventBridge rule: an event pattern or a schedule.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Rule {
    pub logical_id: String,
    pub name: String,
    pub arn: Option<String>,
    pub state: Option<String>,
    pub event_pattern: Option<String>,
    pub schedule_expression: Option<String>,
    pub targets: Vec<Target>,
}

/// A state machine and its deployed definition (placeholders substituted).
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Machine {
    pub logical_id: String,
    pub arn: String,
    pub name: String,
    pub definition: String,
}

/// One method of the REST API and the function its proxy integration invokes.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Route {
    pub rest_api_id: String,
    pub resource_id: String,
    /// The resource path, e.g. `/orders/{id}`.
    pub path: String,
    pub method: String,
    /// `NONE` or `COGNITO_USER_POOLS`.
    pub authorization_type: String,
    pub function_arn: Option<String>,
}

/// The deployed stack.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Stack {
    pub stack_name: String,
    pub stack_id: String,
    pub region: String,
    pub resources: BTreeMap<String, Resource>,
    pub outputs: BTreeMap<String, String>,
    pub functions: Vec<Function>,
    pub event_source_mappings: Vec<Mapping>,
    pub rules: Vec<Rule>,
    pub state_machines: Vec<Machine>,
    pub routes: Vec<Route>,
    /// Logical id to topic ARN.
    pub topics: BTreeMap<String, String>,
    /// Logical id to queue URL.
    pub queues: BTreeMap<String, String>,
}

impl Stack {
    /// Deploys `template.yaml` of the workspace at `root` on the emulator the environment
    /// names (`AWS_ENDPOINT_URL`), with the workspace's Python tools (`.venv`).
    pub async fn deploy(root: &Path) -> Result<Self, StackError> {
        let script = root.join("tests/stack/deploy_stack.py");
        let python = python(root);
        let out = tokio::process::Command::new(&python)
            .arg(&script)
            .current_dir(root)
            .output()
            .await
            .map_err(|source| StackError::Spawn {
                script: format!("{} {}", python.display(), script.display()),
                source,
            })?;
        if !out.status.success() {
            return Err(StackError::Deploy {
                status: out.status.to_string(),
                stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
            });
        }
        Ok(serde_json::from_slice(&out.stdout)?)
    }

    /// The function with this ARN (or name).
    pub fn function(&self, arn_or_name: &str) -> Option<&Function> {
        self.functions
            .iter()
            .find(|f| f.arn == arn_or_name || f.name == arn_or_name)
    }

    /// The API's stage, from the output that holds its invoke URL (`https://…/prod`).
    pub fn api_stage(&self) -> String {
        self.outputs
            .values()
            .find(|v| v.contains(".execute-api."))
            .and_then(|url| url.rsplit('/').next())
            .filter(|s| !s.is_empty())
            .unwrap_or("prod")
            .to_owned()
    }
}

/// The workspace's Python (`.venv/bin/python`, which `scripts/venv.sh` makes), else `python3`.
fn python(root: &Path) -> PathBuf {
    let venv = root.join(".venv/bin/python");
    if venv.exists() {
        venv
    } else {
        PathBuf::from("python3")
    }
}
