//! `orders token`: a signed token from the data directory's own issuer, for curl, scripts and
//! tests against a local `orders serve` (which accepts exactly these).

use std::path::PathBuf;
use std::time::Duration;

use clap::Args;

#[derive(Args)]
pub struct TokenArgs {
    /// The server's data directory (its issuer key is created there if absent).
    #[arg(long, default_value = "./.orders-data", env = "ORDERS_DATA_DIR")]
    data_dir: PathBuf,
    /// The customer id the token signs in as (its `sub`).
    #[arg(long)]
    customer: String,
    /// The customer's email (the `email` claim): orders may then leave it out of the body.
    #[arg(long)]
    email: Option<String>,
    /// An operator: a member of the `admin` group, who may read any customer's orders.
    #[arg(long)]
    admin: bool,
    /// How long the token is valid (`30m`, `1h`, `7d`).
    #[arg(long, default_value = "1h", value_parser = humantime::parse_duration)]
    ttl: Duration,
}

pub fn run(args: &TokenArgs) -> anyhow::Result<()> {
    let token = orders::auth::mint(
        &args.data_dir,
        &args.customer,
        args.email.as_deref(),
        args.admin,
        args.ttl,
    )?;
    println!("{token}");
    Ok(())
}
