//! S6, ingestion: producers posting batches to auditlog, and Hanko's way of recording
//! (one `INSERT` per entry, each committed on its own) from as many producers; while
//! auditlog's producers post, the checkpoint lag is sampled.

use std::{sync::Arc, time::Duration};

use anyhow::Context;
use sea_orm::ConnectionTrait;
use serde_json::{Map, Value, json};
use time::OffsetDateTime;

use crate::{
    bench::Bench,
    checkpoint_lag::{self, Lag},
    dataset::MAIN_TENANT,
    hanko_sql::{self, Template},
    results::Row,
    wrk,
};

/// The body of one batch: the templates as entries without `id` (the server assigns
/// one, so every post stores new entries) and without `created_at` (the time of
/// receipt).
fn batch_body(templates: &[Template]) -> Value {
    let entries: Vec<Value> = templates
        .iter()
        .map(|t| {
            let mut entry = Map::new();
            entry.insert("type".into(), json!(t.r#type));
            entry.insert("meta_http_request_id".into(), json!(t.meta_http_request_id));
            entry.insert("meta_source_ip".into(), json!(t.meta_source_ip));
            entry.insert("meta_user_agent".into(), json!(t.meta_user_agent));
            for (name, value) in [
                ("error", &t.error),
                ("actor_user_id", &t.actor_user_id),
                ("actor_email", &t.actor_email),
            ] {
                if let Some(v) = value {
                    entry.insert(name.into(), json!(v));
                }
            }
            if let Some(details) = t
                .details
                .as_deref()
                .and_then(|d| serde_json::from_str::<Value>(d).ok())
                .filter(Value::is_object)
            {
                entry.insert("details".into(), details);
            }
            Value::Object(entry)
        })
        .collect();
    Value::Array(entries)
}

/// Measures S6 on both systems, and on a server with a log (`log`) the checkpoint lag
/// during auditlog's load.
pub async fn measure(bench: &Bench<'_>, log: bool) -> anyhow::Result<(Row, Option<Lag>)> {
    let (args, target, server) = (bench.args, &bench.target, &bench.server);
    let kind = target.kind;
    let templates = hanko_sql::templates(target, &bench.db, MAIN_TENANT, args.batch).await?;
    let mut row = Row {
        id: "S6".to_owned(),
        name: format!(
            "ingestion, {} producers, batches of {}",
            args.producers, args.batch
        ),
        matches: None,
        baseline_matches: None,
        auditlog: Vec::new(),
        baseline: Vec::new(),
        notes: vec![format!(
            "the baseline is Hanko's Create: one INSERT per entry, committed on its own, from {} producers; its latencies are per entry, auditlog's per batch",
            args.producers
        )],
    };

    let body_path = std::path::absolute(args.dir.join("s6-batch.json"))?;
    let body = serde_json::to_vec(&batch_body(&templates))?;
    std::fs::write(&body_path, &body)
        .with_context(|| format!("cannot write {}", body_path.display()))?;
    let url = format!("{}/{MAIN_TENANT}/audit_logs", server.base_url);
    let answer = reqwest::Client::new()
        .post(&url)
        .header("apiKey", &server.api_key)
        .header("Content-Type", "application/json")
        .body(body)
        .send()
        .await
        .context("the warm-up batch failed")?;
    if answer.status().as_u16() != 201 {
        let status = answer.status();
        let text = answer.text().await.unwrap_or_default();
        anyhow::bail!("auditlog answered {status} to a batch: {text}");
    }
    server.take_rss_peak();
    let load = wrk::Load {
        url: &url,
        method: "POST",
        auth: ("apiKey", server.api_key.as_str()),
        body: Some(&body_path),
        concurrency: args.producers,
        secs: args.secs,
        entries_per_request: templates.len() as u64,
    };
    let sampler = if log {
        let probe = serde_json::to_vec(&batch_body(templates.get(..1).unwrap_or_default()))?;
        Some(
            checkpoint_lag::Sampler::start(
                target,
                MAIN_TENANT,
                url.clone(),
                server.api_key.clone(),
                probe,
                Duration::from_secs(args.secs) + Duration::from_secs(30),
            )
            .await?,
        )
    } else {
        None
    };
    let m = wrk::run(&load, &args.dir).await;
    let lag = match sampler {
        Some(sampler) => Some(sampler.finish().await?),
        None => None,
    };
    let mut m = m?;
    m.rss_peak_kib = Some(server.take_rss_peak());
    eprintln!(
        "[{kind}] S6 auditlog: {:.0} entries/s (p50 {:.1} ms per batch)",
        m.entries_per_sec(),
        m.p50_ms
    );
    if let Some(lag) = &lag {
        eprintln!("[{kind}] S6 checkpoint lag: {lag:?}");
    }
    row.auditlog.push(m);
    bench.settle().await;

    let templates = Arc::new(templates);
    let (pool, shared_target) = (bench.db.clone(), Arc::new(target.clone()));
    let producers = args.producers;
    let m = bench
        .baseline_load(producers, 1, move |worker, iteration| {
            let (pool, target, templates) = (
                pool.clone(),
                Arc::clone(&shared_target),
                Arc::clone(&templates),
            );
            async move {
                let n = templates.len().max(1);
                let index = (worker + producers * iteration as usize) % n;
                let template = templates.get(index).context("no templates")?;
                let insert =
                    hanko_sql::insert(&target, MAIN_TENANT, template, OffsetDateTime::now_utc());
                pool.execute_raw(insert)
                    .await
                    .context("the baseline's insert failed")?;
                Ok(())
            }
        })
        .await?;
    eprintln!(
        "[{kind}] S6 baseline: {:.0} entries/s (p50 {:.2} ms per entry)",
        m.entries_per_sec(),
        m.p50_ms
    );
    row.baseline.push(m);
    Ok((row, lag))
}
