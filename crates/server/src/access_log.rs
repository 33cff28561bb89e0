//! `auditlog access-log`: who read a tenant's log, newest first; and the records of
//! the reads made from the command line (an export, this command), which use the
//! database's own credentials and so name no key.

use anyhow::Context;
use auditlog_domain::{
    AccessLogStore, AccessOperation, AccessQuery, AccessRecord, access::add_parameter,
    entry::timestamp,
};
use serde_json::{Map, Value};
use uuid::Uuid;

use crate::database::{Create, Database};

/// Arguments of `auditlog access-log`.
#[derive(Debug, clap::Args)]
pub struct AccessLogArgs {
    #[command(flatten)]
    pub store: crate::cli::StoreArgs,
    /// The tenant whose log's reads to show.
    #[arg(long)]
    pub tenant: Uuid,
    /// Only the reads of this API key.
    #[arg(long)]
    pub key_id: Option<Uuid>,
    /// Only reads of this operation (list_audit_logs, get_audit_log, export_audit_logs,
    /// get_checkpoint, get_inclusion_proof, get_consistency_proof, list_access_logs,
    /// reads_not_recorded).
    #[arg(long, value_parser = parse_operation)]
    pub operation: Option<AccessOperation>,
    /// How many records, newest first.
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u64).range(1..=100_000))]
    pub limit: u64,
    /// One JSON object a line, as the API serves records, instead of a table.
    #[arg(long)]
    pub json: bool,
}

fn parse_operation(name: &str) -> Result<AccessOperation, String> {
    AccessOperation::parse(name).ok_or_else(|| {
        let names: Vec<&str> = AccessOperation::ALL.iter().map(|op| op.as_str()).collect();
        format!("must be one of: {}", names.join(", "))
    })
}

/// Runs `auditlog access-log`.
pub async fn run(database: &Database, args: AccessLogArgs) -> anyhow::Result<()> {
    let store = database.open(Create::Refused).await?;
    let mut records = Vec::new();
    let mut before = None;
    // Pages of at most a thousand, as the API serves them.
    while (records.len() as u64) < args.limit {
        let page = store
            .access_log(
                args.tenant,
                &AccessQuery {
                    key_id: args.key_id,
                    operation: args.operation,
                    before,
                    limit: (args.limit - records.len() as u64).min(1_000),
                },
            )
            .await?;
        let Some(last) = page.last() else {
            break;
        };
        before = Some(last.id);
        let full = page.len() == 1_000;
        records.extend(page);
        if !full {
            break;
        }
    }
    let mut parameters = Map::new();
    parameters.insert("limit".to_owned(), args.limit.to_string().into());
    if let Some(key_id) = args.key_id {
        parameters.insert("key_id".to_owned(), key_id.to_string().into());
    }
    if let Some(operation) = args.operation {
        parameters.insert("operation".to_owned(), operation.as_str().into());
    }
    record_cli(
        &store,
        args.tenant,
        AccessOperation::ListAccessLogs,
        parameters,
        records.len() as u64,
    )
    .await?;
    if args.json {
        for record in &records {
            println!("{}", serde_json::to_string(record)?);
        }
    } else {
        println!("at\toperation\tkey\treturned\tpath\tparameters");
        for record in &records {
            println!(
                "{}\t{}\t{}\t{}\t{}\t{}",
                timestamp::format(record.at),
                record.operation,
                record
                    .key_id
                    .map_or_else(|| "cli".to_owned(), |id| id.to_string()),
                record.returned,
                record.path,
                Value::Object(record.parameters.clone()),
            );
        }
    }
    Ok(())
}

/// The filter's parameters as a record names them.
pub fn parameters(pairs: Vec<(&'static str, String)>) -> Map<String, Value> {
    let mut parameters = Map::new();
    for (name, value) in pairs {
        add_parameter(&mut parameters, name, value);
    }
    parameters
}

/// Records a read of `tenant`'s log made from the command line.
pub async fn record_cli(
    store: &dyn AccessLogStore,
    tenant: Uuid,
    operation: AccessOperation,
    parameters: Map<String, Value>,
    returned: u64,
) -> anyhow::Result<()> {
    let record = AccessRecord {
        path: "cli".to_owned(),
        parameters,
        returned,
        ..AccessRecord::now(tenant, None, operation)
    };
    store
        .record_access(&[record])
        .await
        .context("the read could not be recorded in the access log")
}
