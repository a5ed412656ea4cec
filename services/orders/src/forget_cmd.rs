//! `orders forget`: destroys a customer's data keys (crypto-shredding), so the personal data of
//! every order they placed reads as erased from now on, while the event log and its hash chains
//! stay as they are. Embedded: the key table of the data directory's database; `--backend aws`:
//! the item in CUSTOMER_KEYS_TABLE.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use clap::ValueEnum;
use order_aws::{AwsClients, DynamoKeys};
use order_domain::CustomerId;
use order_embedded::db::{Db, Durability};
use order_embedded::keys::SqliteKeys;

/// Where the keys are.
#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ForgetBackend {
    /// The SQLite database of the data directory.
    Embedded,
    /// The DynamoDB table named by CUSTOMER_KEYS_TABLE (KMS_KEY_ID is read too;
    /// AWS_ENDPOINT_URL points them at an emulator).
    Aws,
}

#[derive(clap::Args)]
#[command(
    after_help = "Embedded: a running `orders serve` holds the data directory's lock \
    (DIR/orders.lock) and keeps keys cached, so stop it first (while it runs, an admin's \
    DELETE /customers/{id} does the same). Prints how many keys were destroyed: 0 for an unknown \
    or already forgotten customer."
)]
pub struct ForgetArgs {
    /// The customer whose data keys are destroyed.
    #[arg(long, value_parser = parse_customer)]
    customer: CustomerId,
    #[arg(long, value_enum, default_value = "embedded", env = "ORDERS_BACKEND")]
    backend: ForgetBackend,
    /// The data directory of the pipeline (its database is DIR/orders.db; embedded only).
    #[arg(long, default_value = "./.orders-data", env = "ORDERS_DATA_DIR")]
    data_dir: PathBuf,
}

fn parse_customer(text: &str) -> Result<CustomerId, String> {
    CustomerId::parse(text).map_err(|e| e.to_string())
}

/// Runs the command: prints how many keys were destroyed.
pub async fn run(args: &ForgetArgs) -> anyhow::Result<()> {
    let destroyed = match args.backend {
        ForgetBackend::Embedded => embedded(&args.data_dir, &args.customer).await?,
        ForgetBackend::Aws => {
            let clients = AwsClients::load().await?;
            let keys = DynamoKeys::from_env(&clients)?;
            order_app::vault::forget(&keys, &args.customer).await?
        }
    };
    println!(
        "customer {}: {destroyed} data key(s) destroyed",
        args.customer.as_str()
    );
    Ok(())
}

async fn embedded(dir: &Path, customer: &CustomerId) -> anyhow::Result<u32> {
    let path = dir.join("orders.db");
    if !path.exists() {
        bail!("no database at {} (is --data-dir right?)", path.display());
    }
    let _lock = lock(dir)?;
    let db = Db::open(&path, Durability::Full).with_context(|| path.display().to_string())?;
    let destroyed = async {
        let keys = SqliteKeys::open(db.clone(), dir)?;
        anyhow::Ok(order_app::vault::forget(&keys, customer).await?)
    }
    .await;
    db.close();
    destroyed
}

/// The data directory's lock, which a running server holds: its cached keys would outlive a
/// forget made behind its back.
fn lock(dir: &Path) -> anyhow::Result<std::fs::File> {
    order_runtime::pipeline::lock_data_dir(dir).map_err(|e| match e {
        order_runtime::StartError::Locked { dir, lock } => anyhow::anyhow!(
            "{} is in use by a running server (lock {} is held): stop it first, or have an \
             admin call DELETE /customers/{{id}} on it",
            dir.display(),
            lock.display()
        ),
        other => anyhow::anyhow!(other),
    })
}
