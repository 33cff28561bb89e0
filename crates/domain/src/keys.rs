//! Tenants and API keys. A key's secret is random, shown once, and only its SHA-256
//! hash is kept; keys are compared by hash in constant time.

use std::{fmt, str::FromStr};

use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use time::OffsetDateTime;
use uuid::Uuid;

/// The recognisable start of every generated secret.
pub const SECRET_PREFIX: &str = "alk_";

/// The listed prefix of every secret chosen by an operator: no part of the secret nor
/// of its hash (an unsalted hash's digits would let a weak secret be confirmed
/// offline). Such a key is told apart by its id and name.
pub const OPERATOR_PREFIX: &str = "chosen";

/// The shortest secret accepted, for example as a bootstrap key.
pub const MIN_SECRET_CHARS: usize = 16;

/// A tenant: the owner of entries and keys.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tenant {
    /// The tenant's id.
    pub id: Uuid,
    /// A name for people.
    pub name: String,
    /// When it was created.
    #[serde(with = "crate::entry::timestamp")]
    pub created_at: OffsetDateTime,
    /// How many days its entries are kept; `None`: the service's default.
    pub retention_days: Option<u32>,
    /// Whether removal is suspended for it (a legal hold).
    pub legal_hold: bool,
}

/// What a key may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Scope {
    /// List entries.
    Read,
    /// Record entries.
    Write,
    /// Read who read the log (the access log).
    #[serde(rename = "access_log")]
    AccessLog,
}

impl Scope {
    /// The scope's name.
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Read => "read",
            Scope::Write => "write",
            Scope::AccessLog => "access_log",
        }
    }
}

/// A set of scopes; its text form names them, comma-separated: `read`, `write`,
/// `access_log`, `read,write`, ...
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Scopes {
    /// May list entries.
    pub read: bool,
    /// May record entries.
    pub write: bool,
    /// May read the access log.
    pub access_log: bool,
}

impl Scopes {
    /// Every scope.
    pub const ALL: Scopes = Scopes {
        read: true,
        write: true,
        access_log: true,
    };

    /// `read,write`: a service's key, which records and lists entries.
    pub const READ_WRITE: Scopes = Scopes {
        read: true,
        write: true,
        access_log: false,
    };

    /// Whether `scope` is in the set.
    pub fn contains(self, scope: Scope) -> bool {
        match scope {
            Scope::Read => self.read,
            Scope::Write => self.write,
            Scope::AccessLog => self.access_log,
        }
    }
}

impl fmt::Display for Scopes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = [
            (self.read, "read"),
            (self.write, "write"),
            (self.access_log, "access_log"),
        ]
        .into_iter()
        .filter_map(|(on, name)| on.then_some(name))
        .collect();
        f.write_str(&names.join(","))
    }
}

impl FromStr for Scopes {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let mut scopes = Scopes::default();
        for name in s.split(',').map(str::trim) {
            match name {
                "read" => scopes.read = true,
                "write" => scopes.write = true,
                "access_log" => scopes.access_log = true,
                other => {
                    return Err(format!(
                        "unknown scope '{other}' (known: read, write, access_log)"
                    ));
                }
            }
        }
        Ok(scopes)
    }
}

/// A key's secret. It is never printed by `Debug`.
#[derive(Clone, PartialEq, Eq)]
pub struct ApiKeySecret(String);

impl ApiKeySecret {
    /// A new secret of 256 random bits from a CSPRNG (rand's `ThreadRng`: ChaCha12, seeded
    /// and periodically reseeded from the operating system), hex-encoded
    /// behind [`SECRET_PREFIX`].
    pub fn generate() -> Self {
        let mut bytes = [0u8; 32];
        rand::rng().fill_bytes(&mut bytes);
        Self(format!("{SECRET_PREFIX}{}", hex::encode(bytes)))
    }

    /// A secret chosen by an operator (a bootstrap key); at least
    /// [`MIN_SECRET_CHARS`] characters.
    pub fn from_operator(secret: &str) -> Result<Self, String> {
        if secret.chars().count() < MIN_SECRET_CHARS {
            return Err(format!(
                "an API key must be at least {MIN_SECRET_CHARS} characters long"
            ));
        }
        Ok(Self(secret.to_owned()))
    }

    /// A secret as a client presented it; it is only ever hashed.
    pub fn presented(secret: &str) -> Self {
        Self(secret.to_owned())
    }

    /// The secret text, to show once.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Its SHA-256 hash, the only form that is stored.
    pub fn hash(&self) -> ApiKeyHash {
        ApiKeyHash(Sha256::digest(self.0.as_bytes()).into())
    }

    /// What identifies the key in listings without revealing it. A generated secret
    /// shows its first 8 random hex digits (32 of its 256 bits) behind
    /// [`SECRET_PREFIX`]; a secret an operator chose shows nothing of it or of its hash
    /// ([`OPERATOR_PREFIX`]), since every character or hash digit shown of a short
    /// chosen secret would leave less of it to guess.
    pub fn display_prefix(&self) -> String {
        let generated = self.0.strip_prefix(SECRET_PREFIX).is_some_and(|rest| {
            rest.len() == 64 && rest.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
        });
        if generated {
            self.0[..SECRET_PREFIX.len() + 8].to_owned()
        } else {
            OPERATOR_PREFIX.to_owned()
        }
    }
}

impl fmt::Debug for ApiKeySecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ApiKeySecret(<redacted>)")
    }
}

/// The SHA-256 hash of a secret.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ApiKeyHash(pub [u8; 32]);

impl ApiKeyHash {
    /// Compares in constant time.
    pub fn ct_eq(&self, other: &ApiKeyHash) -> bool {
        self.0.ct_eq(&other.0).into()
    }
}

/// A stored key, without its secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKey {
    /// The key's id, used to revoke it.
    pub id: Uuid,
    /// The tenant it belongs to.
    pub tenant_id: Uuid,
    /// A name for people.
    pub name: String,
    /// What identifies it in listings: `alk_` and the first 8 hex digits of a generated
    /// secret, or `sha256:` and the first 8 of the hash of a chosen one
    /// ([`ApiKeySecret::display_prefix`]).
    pub prefix: String,
    /// The hash of the secret.
    pub hash: ApiKeyHash,
    /// What it may do.
    pub scopes: Scopes,
    /// When it was created.
    pub created_at: OffsetDateTime,
    /// When it was revoked; a revoked key authenticates nothing.
    pub revoked_at: Option<OffsetDateTime>,
    /// When it expires, if it does; from then on it authenticates nothing.
    pub expires_at: Option<OffsetDateTime>,
    /// When a request last presented it, to within a minute
    /// ([`KEY_USE_RESOLUTION`]); `None` for a key never used.
    pub last_used_at: Option<OffsetDateTime>,
}

/// How precisely a key's last use is kept: a use is written only when the one kept is
/// older than this, so that a busy key costs at most one write a minute.
pub const KEY_USE_RESOLUTION: time::Duration = time::Duration::minutes(1);

/// What a key is, at a given time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyStatus {
    /// It authenticates.
    Active,
    /// It was revoked.
    Revoked,
    /// Its expiry has passed.
    Expired,
}

impl KeyStatus {
    /// The status's name, as listings show it.
    pub fn as_str(self) -> &'static str {
        match self {
            KeyStatus::Active => "active",
            KeyStatus::Revoked => "revoked",
            KeyStatus::Expired => "expired",
        }
    }
}

impl ApiKey {
    /// Whether the key may be used now.
    pub fn is_active(&self) -> bool {
        self.status_at(OffsetDateTime::now_utc()) == KeyStatus::Active
    }

    /// The key's status at `now`: revocation first, then expiry.
    pub fn status_at(&self, now: OffsetDateTime) -> KeyStatus {
        if self.revoked_at.is_some() {
            KeyStatus::Revoked
        } else if self.expires_at.is_some_and(|expires| expires <= now) {
            KeyStatus::Expired
        } else {
            KeyStatus::Active
        }
    }

    /// Whether a use at `now` is to be written: the kept last use is missing or older
    /// than [`KEY_USE_RESOLUTION`].
    pub fn use_is_news(&self, now: OffsetDateTime) -> bool {
        self.last_used_at
            .is_none_or(|last| now - last >= KEY_USE_RESOLUTION)
    }
}

/// A key to register.
#[derive(Debug, Clone)]
pub struct NewApiKey {
    /// The tenant it belongs to.
    pub tenant_id: Uuid,
    /// A name for people.
    pub name: String,
    /// What it may do.
    pub scopes: Scopes,
    /// Its secret; only the hash and the prefix are stored.
    pub secret: ApiKeySecret,
    /// When it expires, if it does.
    pub expires_at: Option<OffsetDateTime>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_secrets_are_long_prefixed_and_distinct() {
        let a = ApiKeySecret::generate();
        let b = ApiKeySecret::generate();
        assert!(a.expose().starts_with(SECRET_PREFIX));
        assert_eq!(a.expose().len(), SECRET_PREFIX.len() + 64);
        assert_ne!(a, b);
        assert!(a.hash().ct_eq(&a.hash()));
        assert!(!a.hash().ct_eq(&b.hash()));
        assert!(!format!("{a:?}").contains(a.expose()));
    }

    #[test]
    fn listed_prefixes_reveal_no_character_of_a_chosen_secret() {
        let generated = ApiKeySecret::generate();
        assert_eq!(generated.display_prefix(), generated.expose()[..12]);

        let chosen =
            ApiKeySecret::from_operator("bootstrap-secret-0123456789").expect("long enough");
        let shown = chosen.display_prefix();
        let digest = Sha256::digest(chosen.expose().as_bytes());
        let digits: String = digest[..2].iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(shown, "chosen");
        assert!(
            !shown.contains("boot") && !shown.contains(&digits),
            "{shown}"
        );

        // A chosen secret that merely starts like a generated one is not shown either.
        let lookalike = ApiKeySecret::from_operator("alk_0123456789abcdef").expect("long enough");
        assert!(lookalike.display_prefix().starts_with(OPERATOR_PREFIX));
    }

    #[test]
    fn scopes_parse() {
        assert_eq!("read,write".parse::<Scopes>(), Ok(Scopes::READ_WRITE));
        assert_eq!("read, write,access_log".parse::<Scopes>(), Ok(Scopes::ALL));
        assert_eq!(Scopes::ALL.to_string(), "read,write,access_log");
        assert!(!Scopes::READ_WRITE.contains(Scope::AccessLog));
        assert_eq!(
            "read".parse::<Scopes>().map(|s| s.to_string()),
            Ok("read".into())
        );
        assert!("admin".parse::<Scopes>().is_err());
        assert!(ApiKeySecret::from_operator("short").is_err());
    }
}
