//! The function binaries `scripts/deploy.sh` packages, each with its `template.yaml` memory
//! size, its contract variables and the first event it gets; a test holds the list to the
//! deploy script's, so a new function cannot be left out of the cold starts.

/// Which fixture a function gets, and what state its order must be in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventKind {
    /// `apigw-post-orders.json` with a fresh Idempotency-Key.
    ApiPost,
    /// `sqs-batch.json` for a fresh order id (two messages for it, one malformed).
    SqsBatch,
    /// `task-input.json` for an order ready for the task.
    Task(Task),
    /// process-refund's `task-input.json` for a completed order with a refund requested; with
    /// `caught`, the Catch's error added (refund-failed's input).
    Refund { caught: bool },
    /// `order-completed.json` for a completed order.
    OrderCompleted,
    /// `order-failed.json` for a failed (declined) order.
    OrderFailed,
    /// `order-placed.json` for a placed order (its "order received" email).
    OrderPlaced,
    /// `create.json` answered on the stub's URL (idempotent: only the first run adds products).
    SeedCreate,
    /// `stream-batch.json` (OrderPlaced v1, OrderCompleted v5, a MODIFY) for a placed order.
    StreamBatch,
    /// `scheduled-event.json`, the schedule's event (a sweep of every shard of the index).
    Scheduled,
}

/// The four Step Functions tasks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Task {
    Validate,
    Pay,
    Reserve,
    /// OrderFailed after a declined payment (the Catch's error in the input).
    Fail,
}

/// One function binary: package = binary name (the contract), the template's memory size, the
/// contract's variables.
#[derive(Debug, Clone, Copy)]
pub struct Function {
    pub name: &'static str,
    pub memory_mb: u32,
    pub env: &'static [&'static str],
    pub event: EventKind,
}

/// The contract's binaries, with `MemorySize` from `template.yaml`.
pub const FUNCTIONS: [Function; 14] = [
    Function {
        name: "order-placement",
        memory_mb: 512,
        env: &[
            "EVENTS_TABLE",
            "ORDER_STATUS_TABLE",
            "INVENTORY_TABLE",
            "IDEMPOTENCY_TABLE",
            "ORDERS_QUEUE_URL",
            "CUSTOMER_KEYS_TABLE",
            "KMS_KEY_ID",
        ],
        event: EventKind::ApiPost,
    },
    Function {
        name: "start-order-processing",
        memory_mb: 256,
        env: &["STATE_MACHINE_ARN"],
        event: EventKind::SqsBatch,
    },
    Function {
        name: "validate-order",
        memory_mb: 256,
        env: &["EVENTS_TABLE"],
        event: EventKind::Task(Task::Validate),
    },
    Function {
        name: "process-payment",
        memory_mb: 256,
        env: &["EVENTS_TABLE", "CUSTOMER_KEYS_TABLE", "KMS_KEY_ID"],
        event: EventKind::Task(Task::Pay),
    },
    Function {
        name: "update-inventory",
        memory_mb: 256,
        env: &["EVENTS_TABLE"],
        event: EventKind::Task(Task::Reserve),
    },
    Function {
        name: "order-failed",
        memory_mb: 256,
        env: &["EVENTS_TABLE"],
        event: EventKind::Task(Task::Fail),
    },
    Function {
        name: "process-refund",
        memory_mb: 256,
        env: &["EVENTS_TABLE"],
        event: EventKind::Refund { caught: false },
    },
    Function {
        name: "refund-failed",
        memory_mb: 256,
        env: &["EVENTS_TABLE"],
        event: EventKind::Refund { caught: true },
    },
    Function {
        name: "order-success-handler",
        memory_mb: 256,
        env: &[
            "EVENTS_TABLE",
            "ORDER_ALERTS_TOPIC_ARN",
            "NOTIFICATION_DEDUP_TABLE",
            "CUSTOMER_KEYS_TABLE",
            "KMS_KEY_ID",
        ],
        event: EventKind::OrderCompleted,
    },
    Function {
        name: "seed-inventory",
        memory_mb: 256,
        env: &["EVENTS_TABLE"],
        event: EventKind::SeedCreate,
    },
    Function {
        name: "order-failure-handler",
        memory_mb: 256,
        env: &[
            "EVENTS_TABLE",
            "ORDER_ERRORS_TOPIC_ARN",
            "NOTIFICATION_DEDUP_TABLE",
        ],
        event: EventKind::OrderFailed,
    },
    Function {
        name: "order-update-handler",
        memory_mb: 256,
        env: &[
            "EVENTS_TABLE",
            "ORDER_ALERTS_TOPIC_ARN",
            "NOTIFICATION_DEDUP_TABLE",
            "CUSTOMER_KEYS_TABLE",
            "KMS_KEY_ID",
        ],
        event: EventKind::OrderPlaced,
    },
    Function {
        name: "event-projector",
        memory_mb: 256,
        env: &[
            "EVENTS_TABLE",
            "ORDER_STATUS_TABLE",
            "INVENTORY_TABLE",
            "EVENT_BUS_NAME",
        ],
        event: EventKind::StreamBatch,
    },
    Function {
        name: "order-sweeper",
        memory_mb: 256,
        env: &["EVENTS_TABLE", "ORDER_STATUS_TABLE", "ORDERS_QUEUE_URL"],
        event: EventKind::Scheduled,
    },
];

#[cfg(test)]
mod tests {
    use super::FUNCTIONS;

    const DEPLOY: &str = include_str!("../../../../scripts/deploy.sh");
    const TEMPLATE: &str = include_str!("../../../../template.yaml");

    /// Each function resource of `template.yaml` (a top-level resource whose code is
    /// `${CodeVersion}/<binary>.zip`): its binary, memory size and environment variable names.
    fn templated() -> Vec<(String, u32, Vec<String>)> {
        // Resources are the template's two-space-indented keys: a block from each to the next.
        let mut blocks: Vec<String> = Vec::new();
        for line in TEMPLATE.lines() {
            let top =
                line.len() > 2 && line.starts_with("  ") && !line[2..].starts_with([' ', '#']);
            match blocks.last_mut() {
                Some(block) if !top => {
                    block.push('\n');
                    block.push_str(line);
                }
                _ => blocks.push(line.to_owned()),
            }
        }
        let mut out = Vec::new();
        for block in &blocks {
            let Some(binary) = block
                .split("${CodeVersion}/")
                .nth(1)
                .and_then(|rest| rest.split(".zip").next())
            else {
                continue;
            };
            let memory = block
                .lines()
                .find_map(|l| l.trim().strip_prefix("MemorySize: "))
                .and_then(|m| m.trim().parse().ok())
                .unwrap_or(0);
            let mut env = Vec::new();
            if let Some(vars) = block.split("\n        Variables:\n").nth(1) {
                for line in vars.lines() {
                    let Some(var) = line.strip_prefix("          ") else {
                        break;
                    };
                    if let Some((name, _)) = var.split_once(':')
                        && !name.starts_with([' ', '#'])
                    {
                        env.push(name.to_owned());
                    }
                }
            }
            out.push((binary.to_owned(), memory, env));
        }
        out
    }

    /// A function started without a variable its template gives it fails before answering
    /// (as `CUSTOMER_KEYS_TABLE` did once the personal data was sealed), so the cold starts
    /// run each binary with exactly the template's variables and memory size.
    #[test]
    fn every_function_gets_the_templates_variables_and_memory() {
        let templated = templated();
        assert_eq!(templated.len(), FUNCTIONS.len(), "{templated:?}");
        for (binary, memory, mut env) in templated {
            let f = FUNCTIONS
                .iter()
                .find(|f| f.name == binary)
                .unwrap_or_else(|| panic!("{binary} has no cold start"));
            let mut listed: Vec<String> = f.env.iter().map(|v| (*v).to_owned()).collect();
            listed.sort_unstable();
            env.sort_unstable();
            assert_eq!(listed, env, "{binary}'s variables");
            assert_eq!(f.memory_mb, memory, "{binary}'s memory");
        }
    }

    /// The `BINARIES=( … )` list of `scripts/deploy.sh`.
    fn deployed() -> Vec<&'static str> {
        let start = DEPLOY
            .find("\nBINARIES=(\n")
            .expect("deploy.sh has BINARIES=(")
            + 12;
        let end = start + DEPLOY[start..].find("\n)").expect("BINARIES=( is closed");
        DEPLOY[start..end]
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .collect()
    }

    #[test]
    fn every_function_the_deploy_script_packages_has_a_cold_start() {
        let mut deployed = deployed();
        let mut measured: Vec<&str> = FUNCTIONS.iter().map(|f| f.name).collect();
        assert!(deployed.len() >= 14, "{deployed:?}");
        deployed.sort_unstable();
        measured.sort_unstable();
        assert_eq!(measured, deployed);
    }
}
