//! The master key that wraps the customers' data keys on this machine, as the stack's wrapping
//! key does on AWS (both wrap with [`order_app::vault::wrap`]). It lives in its own file, `DATA_DIR/keys/master.key` (32 random bytes, mode 0600 in a
//! 0700 directory), apart from the database, so a copy of the database alone reveals no key.

use std::io::Write;
use std::path::{Path, PathBuf};

use order_app::vault::wrap::{KEY_LEN, WrapError, WrappingKey};
use order_domain::CustomerId;
use order_domain::ports::DataKey;

pub use order_app::vault::wrap::{WRAPPED_LEN, random_key};

/// Where the master key is, under the data directory.
pub const MASTER_KEY_FILE: &str = "keys/master.key";

#[derive(Debug, thiserror::Error)]
pub enum KeysError {
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}: not a master key (it must hold exactly {KEY_LEN} bytes)", .0.display())]
    BadMasterKey(PathBuf),
    #[error("no randomness for a key")]
    Random,
    #[error("wrapping a data key failed")]
    Wrap,
    /// The row was changed, or the database is read with another master key than the one
    /// that wrapped it (a replaced or missing `keys/master.key`).
    #[error("data key {key_id} does not unwrap under this data directory's master key")]
    Unwrap { key_id: String },
}

impl From<WrapError> for KeysError {
    fn from(e: WrapError) -> Self {
        match e {
            // Only `from_bytes` says BadKey, and `from_bytes` below maps it with the path.
            WrapError::Random | WrapError::BadKey => Self::Random,
            WrapError::Wrap => Self::Wrap,
            WrapError::Unwrap { key_id } => Self::Unwrap { key_id },
        }
    }
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> KeysError + '_ {
    move |source| KeysError::Io {
        path: path.to_owned(),
        source,
    }
}

/// The data directory's master key: a [`WrappingKey`] kept in a file.
#[derive(Debug)]
pub struct MasterKey {
    key: WrappingKey,
}

impl MasterKey {
    fn from_bytes(bytes: &[u8], path: &Path) -> Result<Self, KeysError> {
        let key =
            WrappingKey::from_bytes(bytes).map_err(|_| KeysError::BadMasterKey(path.to_owned()))?;
        Ok(Self { key })
    }

    /// The master key of `data_dir`, made on first use. Two processes starting at once agree
    /// on one key: each writes a candidate to a file of its own and links it into place,
    /// which only the first link does.
    pub fn load_or_create(data_dir: &Path) -> Result<Self, KeysError> {
        let path = data_dir.join(MASTER_KEY_FILE);
        let dir = path.parent().unwrap_or(data_dir).to_owned();
        match std::fs::read(&path) {
            Ok(bytes) => {
                warn_if_readable_by_others(&path);
                Self::from_bytes(&bytes, &path)
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                create_private_dir(&dir)?;
                install_new_key(&dir, &path)?;
                let bytes = std::fs::read(&path).map_err(io(&path))?;
                Self::from_bytes(&bytes, &path)
            }
            Err(e) => Err(io(&path)(e)),
        }
    }

    /// `key` sealed under the master key, bound to `customer` and the key's id.
    pub fn wrap(&self, customer: &CustomerId, key: &DataKey) -> Result<Vec<u8>, KeysError> {
        Ok(self.key.wrap(customer, key)?)
    }

    /// The data key `key_id` of `customer` from its wrapped form.
    pub fn unwrap(
        &self,
        customer: &CustomerId,
        key_id: &str,
        wrapped: &[u8],
    ) -> Result<DataKey, KeysError> {
        Ok(self.key.unwrap(customer, key_id, wrapped)?)
    }
}

fn create_private_dir(dir: &Path) -> Result<(), KeysError> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir).map_err(io(dir))
}

/// Writes a fresh key to a private temp file and hard-links it to `path` unless a key is
/// already there (a link never replaces a file, so a key in use is never overwritten).
fn install_new_key(dir: &Path, path: &Path) -> Result<(), KeysError> {
    let candidate = dir.join(format!(".master.key.{}", ulid::Ulid::generate()));
    let written = (|| {
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut file = options.open(&candidate)?;
        file.write_all(&random_key().map_err(std::io::Error::other)?)?;
        file.sync_all()?;
        match std::fs::hard_link(&candidate, path) {
            Err(e) if e.kind() != std::io::ErrorKind::AlreadyExists => Err(e),
            _ => Ok(()),
        }
    })();
    let _ = std::fs::remove_file(&candidate);
    written.map_err(io(path))?;
    // The link must outlive a power cut, or the keys it wrapped would be lost with it.
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
    tracing::info!(path = %path.display(), "created the master key of the data keys");
    Ok(())
}

fn warn_if_readable_by_others(path: &Path) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if let Ok(meta) = std::fs::metadata(path)
            && meta.permissions().mode() & 0o077 != 0
        {
            tracing::warn!(
                path = %path.display(),
                "the master key is readable by other users; chmod 600 it"
            );
        }
    }
    #[cfg(not(unix))]
    let _ = path;
}
