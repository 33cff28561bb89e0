//! `auditlog seed`: realistic synthetic entries for demos and benchmarks. The same
//! `--seed` and `--end` give the same entries, ids included, so a repeated run stores
//! nothing twice.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use anyhow::Context;
use auditlog_domain::{AuditLogType, NewAuditLog, entry::timestamp};
use auditlog_storage::SeaOrmStore;
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use rand::{Rng, SeedableRng, rngs::StdRng, seq::IndexedRandom};
use serde_json::json;
use time::{Duration, OffsetDateTime};
use uuid::Uuid;

#[derive(Debug, Args)]
pub struct SeedArgs {
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

/// Entries a chunk: one transaction, one statement on PostgreSQL.
const CHUNK: u64 = 5_000;

pub async fn run(store: &SeaOrmStore, args: SeedArgs) -> anyhow::Result<()> {
    let seed = args.seed.unwrap_or_else(rand::random);
    let end = args.end.unwrap_or_else(OffsetDateTime::now_utc);
    eprintln!(
        "seeding {} entries into tenant {} over {} days (--seed {seed} --end {})",
        args.count,
        args.tenant,
        args.days,
        timestamp::format(end)
    );
    let progress = ProgressBar::new(args.count).with_style(
        ProgressStyle::with_template("{bar:40} {pos}/{len} entries, {per_sec}, eta {eta}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let started = std::time::Instant::now();

    // Generation runs on its own thread, a few chunks ahead of the writers.
    let (tx, rx) = tokio::sync::mpsc::channel::<Vec<NewAuditLog>>(4);
    let (count, days) = (args.count, args.days);
    let generator = tokio::task::spawn_blocking(move || {
        let mut generator = Generator::new(seed, count, days, end);
        let mut left = count;
        while left > 0 {
            let n = left.min(CHUNK);
            let chunk: Vec<NewAuditLog> = (0..n).map(|_| generator.next_entry()).collect();
            if tx.blocking_send(chunk).is_err() {
                break;
            }
            left -= n;
        }
    });
    // PostgreSQL takes chunks on two connections at once; SQLite has one writer anyway.
    let writers = if store.connection().get_database_backend() == sea_orm::DbBackend::Postgres {
        2
    } else {
        1
    };
    let rx = std::sync::Arc::new(tokio::sync::Mutex::new(rx));
    let mut tasks = Vec::new();
    for _ in 0..writers {
        let (store, rx, progress, tenant) =
            (store.clone(), rx.clone(), progress.clone(), args.tenant);
        tasks.push(tokio::spawn(async move {
            let mut new = 0u64;
            loop {
                let Some(chunk) = rx.lock().await.recv().await else {
                    break;
                };
                let n = chunk.len() as u64;
                new += store
                    .import(tenant, chunk)
                    .await
                    .context("cannot store the entries")?;
                progress.inc(n);
            }
            anyhow::Ok(new)
        }));
    }
    let mut new = 0;
    for task in tasks {
        new += task.await??;
    }
    generator.await?;
    progress.finish_and_clear();
    let secs = started.elapsed().as_secs_f64();
    eprintln!(
        "seeded {} entries ({new} new) in {secs:.1} s ({:.0} entries/s)",
        args.count,
        args.count as f64 / secs.max(1e-9)
    );
    Ok(())
}
