//! What a function ships as: its binary (the release profile strips it) and the Lambda zip
//! (`bootstrap` at the root), zipped with the system's Info-ZIP `zip` at its default deflate
//! level, as `cargo lambda build --output-format zip` would ship it.

use std::path::Path;
use std::process::Command;

use anyhow::{Context, bail};

/// Sizes in bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sizes {
    pub binary: u64,
    pub zipped: u64,
}

/// The binary's size and its `bootstrap.zip`'s, made in a temporary directory.
pub fn sizes(binary: &Path) -> anyhow::Result<Sizes> {
    let size = std::fs::metadata(binary)
        .with_context(|| format!("reading {}", binary.display()))?
        .len();
    let dir = tempfile::tempdir()?;
    let bootstrap = dir.path().join("bootstrap");
    std::fs::copy(binary, &bootstrap)?;
    let zip = dir.path().join("bootstrap.zip");
    let status = Command::new("zip")
        .current_dir(dir.path())
        .args(["-q", "-X", "bootstrap.zip", "bootstrap"])
        .status()
        .context("running zip (install Info-ZIP `zip`)")?;
    if !status.success() {
        bail!("zip failed for {}: {status}", binary.display());
    }
    Ok(Sizes {
        binary: size,
        zipped: std::fs::metadata(&zip)?.len(),
    })
}

/// Whether the ELF still has a symbol table (`.symtab`): `false` means stripped.
pub fn has_symbols(binary: &Path) -> anyhow::Result<bool> {
    let bytes = std::fs::read(binary)?;
    Ok(bytes.windows(8).any(|w| w == b".symtab\0"))
}

/// Mebibytes with one decimal, for tables.
pub fn mib(bytes: u64) -> String {
    #[allow(clippy::cast_precision_loss)] // sizes far below 2^52
    let m = bytes as f64 / (1024.0 * 1024.0);
    format!("{m:.1}")
}
