//! Keys on disk, in OpenSSH's formats: the server's host key (loaded, or
//! generated and written on first start, as `sshd` does with
//! `ssh-keygen -A`), an `authorized_keys` file, and a public key given as
//! one `ssh-ed25519 AAAA... comment` line (what a `.pub` file or a
//! `known_hosts` entry holds).

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use russh::keys::ssh_key::LineEnding;
use russh::keys::{Algorithm, HashAlg, PrivateKey, PublicKey};

use crate::error::KeyError;

/// The server's host key: what clients pin in `known_hosts`, and what
/// [`SshClient`](crate::SshClient) is told to expect.
#[derive(Clone)]
pub struct HostKey {
    key: PrivateKey,
}

impl std::fmt::Debug for HostKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The private half stays out of logs.
        f.debug_struct("HostKey")
            .field("fingerprint", &self.fingerprint())
            .finish()
    }
}

impl HostKey {
    /// A new Ed25519 key, kept in memory only (tests, throwaway servers).
    pub fn generate() -> Result<HostKey, KeyError> {
        generate_private_key().map(|key| HostKey { key })
    }

    /// Reads an OpenSSH private key file (`-----BEGIN OPENSSH PRIVATE
    /// KEY-----`, unencrypted), such as `ssh-keygen -t ed25519 -N ''`
    /// writes.
    pub fn load(path: impl AsRef<Path>) -> Result<HostKey, KeyError> {
        let path = path.as_ref();
        let text = fs::read_to_string(path).map_err(|error| KeyError::io(path, error))?;
        let key = PrivateKey::from_openssh(&text).map_err(|error| KeyError::Parse {
            path: path.to_owned(),
            reason: error.to_string(),
        })?;
        if key.is_encrypted() {
            return Err(KeyError::Parse {
                path: path.to_owned(),
                reason: "the key is encrypted with a passphrase; a host key must not be".into(),
            });
        }
        Ok(HostKey { key })
    }

    /// Loads the key at `path`, or, when there is no file there yet,
    /// generates an Ed25519 key and writes it there (readable by its owner
    /// only, mode 0600) with its public half beside it in `PATH.pub`.
    /// The next start loads the same key, so clients that pinned it keep
    /// trusting the server.
    pub fn load_or_generate(path: impl AsRef<Path>) -> Result<HostKey, KeyError> {
        let path = path.as_ref();
        match fs::symlink_metadata(path) {
            Ok(_) => HostKey::load(path),
            Err(error) if error.kind() == io::ErrorKind::NotFound => {
                let key = HostKey::generate()?;
                key.write(path)?;
                Ok(key)
            }
            Err(error) => Err(KeyError::io(path, error)),
        }
    }

    fn write(&self, path: &Path) -> Result<(), KeyError> {
        use std::io::Write as _;
        use std::os::unix::fs::OpenOptionsExt as _;
        let text = self
            .key
            .to_openssh(LineEnding::LF)
            .map_err(|error| KeyError::Generate(error.to_string()))?;
        // create_new: never overwrite a key that appeared meanwhile; the
        // mode is set at creation, so the key is never readable by others.
        let mut file = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(path)
            .map_err(|error| KeyError::io(path, error))?;
        file.write_all(text.as_bytes())
            .map_err(|error| KeyError::io(path, error))?;
        let public = public_path(path);
        fs::write(&public, format!("{}\n", self.public_openssh()))
            .map_err(|error| KeyError::io(&public, error))?;
        Ok(())
    }

    /// The public half.
    pub fn public_key(&self) -> &PublicKey {
        self.key.public_key()
    }

    /// The public half as one OpenSSH line (`ssh-ed25519 AAAA...`), ready
    /// for a `known_hosts` entry (`[127.0.0.1]:2222 ssh-ed25519 AAAA...`).
    pub fn public_openssh(&self) -> String {
        let mut public = self.key.public_key().clone();
        public.set_comment("");
        public
            .to_openssh()
            .unwrap_or_default()
            .trim_end()
            .to_owned()
    }

    /// The SHA-256 fingerprint, as `ssh` shows it (`SHA256:...`).
    pub fn fingerprint(&self) -> String {
        fingerprint(self.public_key())
    }

    pub(crate) fn private_key(&self) -> &PrivateKey {
        &self.key
    }
}

impl From<PrivateKey> for HostKey {
    fn from(key: PrivateKey) -> HostKey {
        HostKey { key }
    }
}

/// A new Ed25519 private key (a client's identity made in a program, as
/// `ssh-keygen -t ed25519` would make one).
pub fn generate_private_key() -> Result<PrivateKey, KeyError> {
    PrivateKey::random(&mut rand::rng(), Algorithm::Ed25519)
        .map_err(|error| KeyError::Generate(error.to_string()))
}

/// `key`'s SHA-256 fingerprint as OpenSSH prints it.
pub fn fingerprint(key: &PublicKey) -> String {
    key.fingerprint(HashAlg::Sha256).to_string()
}

/// Parses one public key line: `ssh-ed25519 AAAA... [comment]`, as in a
/// `.pub` file; a `known_hosts` line's host field, if present, is skipped.
pub fn parse_public_key(line: &str) -> Result<PublicKey, KeyError> {
    let line = line.trim();
    let parsed = PublicKey::from_openssh(line).or_else(|first| {
        // `host[,host] type base64 [comment]`: drop the host field.
        match line.split_once(char::is_whitespace) {
            Some((_, rest)) => PublicKey::from_openssh(rest.trim_start()).map_err(|_| first),
            None => Err(first),
        }
    });
    parsed.map_err(|error| KeyError::PublicKey {
        line: line.chars().take(80).collect(),
        reason: error.to_string(),
    })
}

/// Reads the public key file at `path` (a `.pub` file: one line).
pub fn load_public_key(path: impl AsRef<Path>) -> Result<PublicKey, KeyError> {
    let path = path.as_ref();
    let text = fs::read_to_string(path).map_err(|error| KeyError::io(path, error))?;
    parse_public_key(&text)
}

/// Reads the OpenSSH private key file at `path` (unencrypted), the
/// client's identity for [`SshClient`](crate::SshClient).
pub fn load_private_key(path: impl AsRef<Path>) -> Result<PrivateKey, KeyError> {
    HostKey::load(path).map(|key| key.key)
}

fn public_path(path: &Path) -> PathBuf {
    let mut public = path.as_os_str().to_owned();
    public.push(".pub");
    PathBuf::from(public)
}

/// The keys allowed to log in, from an OpenSSH `authorized_keys` file.
///
/// The file is read again at every login attempt, as `sshd` does: adding
/// or removing a line takes effect for the next login, without a
/// restart. Lines that do not parse (a typo, a key type this build does
/// not know) are skipped with a warning, so one bad line does not lock
/// every operator out; options before a key (`from=...`,
/// `command=...`) are not enforced, so a line with options is refused
/// rather than honoured halfway.
#[derive(Debug, Clone)]
pub struct AuthorizedKeys {
    path: PathBuf,
}

impl AuthorizedKeys {
    /// The keys in the file at `path`.
    pub fn file(path: impl Into<PathBuf>) -> AuthorizedKeys {
        AuthorizedKeys { path: path.into() }
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The keys the file holds now, and a description of each line
    /// skipped.
    pub fn read(&self) -> Result<(Vec<PublicKey>, Vec<String>), KeyError> {
        let text =
            fs::read_to_string(&self.path).map_err(|error| KeyError::io(&self.path, error))?;
        Ok(parse_authorized_keys(&text))
    }

    /// True if `key` is in the file now. A file that cannot be read
    /// allows no one (and logs why).
    pub fn allows(&self, key: &PublicKey) -> bool {
        match self.read() {
            Ok((keys, skipped)) => {
                for reason in skipped {
                    tracing::warn!(file = %self.path.display(), "authorized_keys: {reason}");
                }
                keys.iter()
                    .any(|allowed| allowed.key_data() == key.key_data())
            }
            Err(error) => {
                tracing::warn!("{error}; refusing every key");
                false
            }
        }
    }
}

/// The keys in `authorized_keys` text, and why each skipped line was.
pub fn parse_authorized_keys(text: &str) -> (Vec<PublicKey>, Vec<String>) {
    let mut keys = Vec::new();
    let mut skipped = Vec::new();
    for (number, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        match PublicKey::from_openssh(line) {
            Ok(key) => keys.push(key),
            Err(error) => skipped.push(format!(
                "line {}: not a public key without options ({error})",
                number + 1
            )),
        }
    }
    (keys, skipped)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_generated_key_is_written_once_and_loaded_again() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("host_key");
        let first = HostKey::load_or_generate(&path).unwrap();
        let second = HostKey::load_or_generate(&path).unwrap();
        assert_eq!(first.public_key(), second.public_key());
        use std::os::unix::fs::PermissionsExt as _;
        let mode = fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        let public = load_public_key(dir.path().join("host_key.pub")).unwrap();
        assert_eq!(public.key_data(), first.public_key().key_data());
        assert!(first.fingerprint().starts_with("SHA256:"));
        assert!(!format!("{first:?}").contains("PRIVATE"));
    }

    #[test]
    fn a_garbled_host_key_is_an_error_naming_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("host_key");
        fs::write(&path, "not a key\n").unwrap();
        let error = HostKey::load_or_generate(&path).unwrap_err();
        assert!(error.to_string().contains("host_key"), "{error}");
    }

    #[test]
    fn authorized_keys_skips_comments_blank_and_bad_lines() {
        let a = HostKey::generate().unwrap();
        let b = HostKey::generate().unwrap();
        let text = format!(
            "# operators\n\n{} alice@example\ngarbage line\nfrom=\"10.0.0.1\" {}\n{}\n",
            a.public_openssh(),
            a.public_openssh(),
            b.public_openssh()
        );
        let (keys, skipped) = parse_authorized_keys(&text);
        assert_eq!(keys.len(), 2);
        assert_eq!(skipped.len(), 2, "{skipped:?}");
        assert!(skipped[0].starts_with("line 4"), "{skipped:?}");
        assert_eq!(keys[1].key_data(), b.public_key().key_data());
    }

    #[test]
    fn a_known_hosts_line_gives_its_key() {
        let key = HostKey::generate().unwrap();
        let line = format!("[127.0.0.1]:2222 {}", key.public_openssh());
        let parsed = parse_public_key(&line).unwrap();
        assert_eq!(parsed.key_data(), key.public_key().key_data());
        assert!(parse_public_key("ssh-ed25519 nonsense").is_err());
    }
}
