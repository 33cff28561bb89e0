//! `auditlog seed`: realistic synthetic entries for demos and benchmarks. The same
//! `--seed` and `--end` give the same entries, ids included, so a repeated run stores
//! nothing twice.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use anyhow::Context;
use auditlog_domain::{AuditLogType, KeyStore as _, NewAuditLog, entry::timestamp};
use auditlog_storage::SeaOrmStore;
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use rand::{Rng, SeedableRng, rngs::StdRng, seq::IndexedRandom};
use serde_json::json;
use time::{Duration, OffsetDateTime};
use uuid::Uuid;

#[derive(Debug, Args)]
pub struct SeedArgs {
    #[command(flatten)]
    pub store: crate::cli::StoreArgs,
    /// The tenant to write to.
    #[arg(long, default_value_t = auditlog_domain::DEFAULT_TENANT_ID)]
    pub tenant: Uuid,
    /// How many entries to write.
    #[arg(long)]
    pub count: u64,
    /// Over how many days before --end to spread them.
    #[arg(long, default_value_t = 30)]
    pub days: u32,
    /// The seed of the generator; random when absent (and printed).
    #[arg(long)]
    pub seed: Option<u64>,
    /// The newest possible time (RFC 3339); now when absent.
    #[arg(long, value_parser = parse_time)]
    pub end: Option<OffsetDateTime>,
    /// Also write to this many more tenants, with the ids
    /// 00000000-0000-4000-8000-000000000001 and up (the i-th from seed + i).
    #[arg(long, default_value_t = 0)]
    pub other_tenants: u32,
    /// How many entries to spread evenly over the other tenants.
    #[arg(long, default_value_t = 0)]
    pub other_count: u64,
}

/// The id of the i-th other tenant (from 1).
pub fn other_tenant(i: u32) -> Uuid {
    Uuid::from_u128(0x0000_0000_0000_4000_8000_0000_0000_0000 | u128::from(i))
}

/// One tenant's part of a run.
struct Part {
    tenant: Uuid,
    count: u64,
    seed: u64,
}

/// The parts of a run: `--tenant` first, then the others with `--other-count` split as
/// evenly as whole entries allow.
fn parts(args: &SeedArgs, seed: u64) -> Vec<Part> {
    let mut parts = vec![Part {
        tenant: args.tenant,
        count: args.count,
        seed,
    }];
    let others = u64::from(args.other_tenants);
    for i in 1..=args.other_tenants {
        let n = u64::from(i);
        let count = args.other_count / others + u64::from(n <= args.other_count % others);
        parts.push(Part {
            tenant: other_tenant(i),
            count,
            seed: seed.wrapping_add(n),
        });
    }
    parts.retain(|part| part.count > 0);
    parts
}

fn parse_time(s: &str) -> Result<OffsetDateTime, String> {
    timestamp::parse(s).ok_or_else(|| format!("'{s}' is not an RFC 3339 date-time"))
}

const FIRST: &[&str] = &[
    "anna", "ben", "chloe", "david", "emma", "felix", "grace", "hugo", "ines", "jonas", "karin",
    "liam", "mia", "noah", "olga", "paul",
];
const LAST: &[&str] = &[
    "schmidt", "miller", "nguyen", "garcia", "kowalski", "rossi", "dubois", "tanaka", "okafor",
    "larsen",
];
const DOMAINS: &[&str] = &[
    "example.com",
    "example.org",
    "mail.example.net",
    "corp.example.io",
];
const AGENTS: &[&str] = &[
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15",
    "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Mobile Safari/537.36",
    "hanko-backend/1.2 (+https://hanko.io)",
];
const ERRORS: &[&str] = &[
    "password incorrect",
    "passcode expired",
    "passcode invalid",
    "user not found",
    "credential not found",
    "webauthn: challenge mismatch",
    "rate limit exceeded",
    "origin not allowed",
    "token expired",
];
/// The most common events, drawn far more often than the rest.
const COMMON: &[AuditLogType] = &[
    AuditLogType::LoginSuccess,
    AuditLogType::PasswordLoginSucceeded,
    AuditLogType::PasscodeLoginInitSucceeded,
    AuditLogType::PasscodeLoginFinalSucceeded,
    AuditLogType::WebauthnAuthenticationInitSucceeded,
    AuditLogType::WebauthnAuthenticationFinalSucceeded,
    AuditLogType::PasswordLoginFailed,
    AuditLogType::LoginFailure,
    AuditLogType::TokenExchangeSucceeded,
    AuditLogType::UserLoggedOut,
];

/// A user of the synthetic population.
struct Actor {
    id: String,
    email: String,
    ip: IpAddr,
    agent: &'static str,
}

/// Generates entries deterministically from a seed.
pub struct Generator {
    rng: StdRng,
    actors: Vec<Actor>,
    end: OffsetDateTime,
    span_micros: i64,
    produced: u64,
}

impl Generator {
    pub fn new(seed: u64, count: u64, days: u32, end: OffsetDateTime) -> Self {
        let mut rng = StdRng::seed_from_u64(seed);
        let population = (count / 20).clamp(50, 200_000) as usize;
        let actors = (0..population).map(|n| random_actor(&mut rng, n)).collect();
        Self {
            rng,
            actors,
            end,
            span_micros: i64::from(days.max(1)) * 86_400_000_000,
            produced: 0,
        }
    }

    pub fn next_entry(&mut self) -> NewAuditLog {
        let rng = &mut self.rng;
        // Every type appears at least once; then the common events dominate.
        let r#type = match self.produced {
            n if (n as usize) < AuditLogType::ALL.len() => AuditLogType::ALL[n as usize],
            _ if rng.random_bool(0.7) => *COMMON.choose(rng).unwrap_or(&AuditLogType::LoginSuccess),
            _ => *AuditLogType::ALL
                .choose(rng)
                .unwrap_or(&AuditLogType::LoginSuccess),
        };
        self.produced += 1;
        let actor = &self.actors[rng.random_range(0..self.actors.len())];
        // Some failures come from strangers: no actor, an address of their own.
        let anonymous = r#type.is_failure() && rng.random_bool(0.3);
        let ip = if anonymous || rng.random_bool(0.1) {
            random_ip(rng)
        } else {
            actor.ip
        };
        let mut entry = NewAuditLog::new(r#type, request_id(rng), ip, actor.agent);
        entry.id = Some(random_uuid(rng));
        if !anonymous {
            entry.actor_user_id = Some(actor.id.clone());
            entry.actor_email = Some(actor.email.clone());
        }
        if r#type.is_failure() {
            entry.error = Some((*ERRORS.choose(rng).unwrap_or(&"failed")).to_owned());
        }
        if rng.random_bool(0.4) {
            let method = ["password", "passcode", "passkey", "thirdparty"]
                .choose(rng)
                .copied()
                .unwrap_or("password");
            entry.details = json!({"login_method": method}).as_object().cloned();
        }
        let micros_ago = rng.random_range(0..self.span_micros);
        entry.created_at = Some(self.end - Duration::microseconds(micros_ago));
        entry
    }
}

fn random_actor(rng: &mut StdRng, n: usize) -> Actor {
    let first = FIRST.choose(rng).copied().unwrap_or("user");
    let last = LAST.choose(rng).copied().unwrap_or("doe");
    let domain = DOMAINS.choose(rng).copied().unwrap_or("example.com");
    let mut email = format!("{first}.{last}{n}@{domain}");
    if rng.random_bool(0.2) {
        // Some producers keep the case users typed.
        email = email[..1].to_ascii_uppercase() + &email[1..];
    }
    Actor {
        id: random_uuid(rng).to_string(),
        email,
        ip: random_ip(rng),
        agent: AGENTS.choose(rng).copied().unwrap_or(AGENTS[0]),
    }
}

/// A version 4 UUID from the seeded generator, so that a run can be repeated.
fn random_uuid(rng: &mut StdRng) -> Uuid {
    uuid::Builder::from_random_bytes(rng.random()).into_uuid()
}

fn random_ip(rng: &mut StdRng) -> IpAddr {
    if rng.random_bool(0.75) {
        let prefixes: [[u8; 2]; 5] = [
            [10, rng.random()],
            [172, 16 + rng.random_range(0..16)],
            [192, 168],
            [203, 0],
            [198, 51],
        ];
        let [a, b] = prefixes[rng.random_range(0..prefixes.len())];
        IpAddr::V4(Ipv4Addr::new(a, b, rng.random(), rng.random_range(1..255)))
    } else {
        IpAddr::V6(Ipv6Addr::new(
            0x2001,
            0xdb8,
            rng.random_range(0..16),
            rng.random(),
            0,
            0,
            rng.random(),
            rng.random(),
        ))
    }
}

fn request_id(rng: &mut StdRng) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    (0..32)
        .map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char)
        .collect()
}

/// Entries a chunk: one statement on PostgreSQL, one transaction when the store holds
/// entries already.
const CHUNK: u64 = 10_000;

pub async fn run(store: &SeaOrmStore, args: SeedArgs) -> anyhow::Result<()> {
    let seed = args.seed.unwrap_or_else(rand::random);
    let end = args.end.unwrap_or_else(OffsetDateTime::now_utc);
    let parts = parts(&args, seed);
    let total: u64 = parts.iter().map(|part| part.count).sum();
    eprintln!(
        "seeding {} entries into tenant {}{} over {} days (--seed {seed} --end {})",
        args.count,
        args.tenant,
        if args.other_tenants > 0 {
            format!(
                " and {} over {} other tenants",
                args.other_count, args.other_tenants
            )
        } else {
            String::new()
        },
        args.days,
        timestamp::format(end)
    );
    let progress = ProgressBar::new(total).with_style(
        ProgressStyle::with_template("{bar:40} {pos}/{len} entries, {per_sec}, eta {eta}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let started = std::time::Instant::now();
    let tenants: Vec<Uuid> = parts
        .iter()
        .filter(|part| part.count > 0)
        .map(|part| part.tenant)
        .collect();

    // Generation runs on its own thread, a few chunks ahead of the writer.
    let (tx, mut rx) = tokio::sync::mpsc::channel::<(Uuid, Vec<NewAuditLog>)>(4);
    let days = args.days;
    let generator = tokio::task::spawn_blocking(move || {
        for part in parts {
            let mut generator = Generator::new(part.seed, part.count, days, end);
            let mut left = part.count;
            while left > 0 {
                let n = left.min(CHUNK);
                let chunk: Vec<NewAuditLog> = (0..n).map(|_| generator.next_entry()).collect();
                if tx.blocking_send((part.tenant, chunk)).is_err() {
                    return;
                }
                left -= n;
            }
        }
    });
    let mut import = store
        .bulk_import()
        .await
        .context("cannot start loading the entries")?;
    if import.rebuilds_indexes() {
        eprintln!("the store holds no entries: one transaction, indexes built at the end");
    }
    while let Some((tenant, chunk)) = rx.recv().await {
        let n = chunk.len() as u64;
        import
            .add(tenant, chunk)
            .await
            .context("cannot store the entries")?;
        progress.inc(n);
    }
    generator.await?;
    progress.finish_and_clear();
    let loaded = started.elapsed().as_secs_f64();
    let rebuilds = import.rebuilds_indexes();
    if rebuilds {
        eprintln!(
            "inserted {total} entries in {loaded:.1} s ({:.0} entries/s); building the indexes, counts and search terms",
            total as f64 / loaded.max(1e-9)
        );
    }
    let (new, times) = import
        .finish_timed()
        .await
        .context("cannot finish loading the entries")?;
    let secs = started.elapsed().as_secs_f64();
    eprintln!(
        "seeded {total} entries ({new} new) in {secs:.1} s ({:.0} entries/s){}",
        total as f64 / secs.max(1e-9),
        if rebuilds {
            format!(
                ", indexes, counts and terms built in {:.1} s",
                secs - loaded
            )
        } else {
            String::new()
        }
    );
    if let Some(times) = times {
        eprintln!("built: {times}");
    }
    // The tenants written to exist, so that keys can be made for them; only once the
    // entries are stored, so that a failed load leaves nothing behind.
    for tenant in tenants {
        let name = if tenant == auditlog_domain::DEFAULT_TENANT_ID {
            crate::serve::DEFAULT_TENANT_NAME
        } else {
            "seeded"
        };
        store
            .ensure_tenant(tenant, name)
            .await
            .with_context(|| format!("cannot create tenant {tenant}"))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        seed: SeedArgs,
    }

    #[test]
    fn other_count_is_split_exactly_over_distinct_tenants() {
        let cli = Cli::parse_from([
            "seed",
            "--count",
            "10",
            "--other-tenants",
            "99",
            "--other-count",
            "1000",
        ]);
        let parts = parts(&cli.seed, 7);
        assert_eq!(parts.len(), 100);
        assert_eq!(parts.iter().map(|p| p.count).sum::<u64>(), 1010);
        assert!(parts[1..].iter().all(|p| p.count == 10 || p.count == 11));
        let mut tenants: Vec<Uuid> = parts.iter().map(|p| p.tenant).collect();
        tenants.sort();
        tenants.dedup();
        assert_eq!(tenants.len(), 100);
        assert_eq!(parts[0].tenant, auditlog_domain::DEFAULT_TENANT_ID);
        assert_eq!((parts[0].seed, parts[5].seed), (7, 12));
    }
}
