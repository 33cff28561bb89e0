//! A verifiable export read a page at a time, shared by `GET .../export` and
//! `auditlog export`: the newest checkpoint is read first and the export covers the log
//! up to it, so that a whole-log NDJSON export ends with the checkpoint its entries
//! reproduce. Whatever the size of the log, a reader holds one page.

use std::sync::Arc;

use auditlog_domain::{AuditLogFilter, LogStore, StoreError, store::SignedCheckpoint};
use uuid::Uuid;

use crate::export_format::ExportFormat;

/// Why an export stopped before its end.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// An entry could not be written in the format.
    #[error("the entry at leaf {leaf_index} cannot be written: {source}")]
    Format {
        /// The entry's leaf index.
        leaf_index: u64,
        /// Why.
        source: serde_json::Error,
    },
    /// The store answered a page that does not move past its start.
    #[error("the store's page from leaf {from} did not move past it")]
    Stalled {
        /// Where the page started.
        from: u64,
    },
}

/// Where a reader is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    Header,
    Leaves { from: u64 },
    Trailer,
    Done,
}

/// One tenant's export in a format, read in chunks: the format's header, one chunk a
/// page of leaves (the matching entries, one a line, in log order), then the trailer.
pub struct ExportReader {
    log: Arc<dyn LogStore>,
    tenant_id: Uuid,
    filter: AuditLogFilter,
    format: ExportFormat,
    checkpoint: Option<SignedCheckpoint>,
    leaves_per_page: u64,
    stage: Stage,
    entries: u64,
}

impl std::fmt::Debug for ExportReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ExportReader")
            .field("tenant_id", &self.tenant_id)
            .field("format", &self.format)
            .field("tree_size", &self.tree_size())
            .field("stage", &self.stage)
            .finish_non_exhaustive()
    }
}

impl ExportReader {
    /// Reads the tenant's newest checkpoint, which the export covers, and returns the
    /// reader of the entries `filter` matches (its pagination is ignored), reading
    /// `leaves_per_page` leaves a page. An empty log has no checkpoint and an empty
    /// export.
    pub async fn open(
        log: Arc<dyn LogStore>,
        tenant_id: Uuid,
        filter: AuditLogFilter,
        format: ExportFormat,
        leaves_per_page: u64,
    ) -> Result<Self, StoreError> {
        let checkpoint = log.latest_checkpoint(tenant_id).await?;
        Ok(Self {
            log,
            tenant_id,
            filter,
            format,
            checkpoint,
            leaves_per_page: leaves_per_page.max(1),
            stage: Stage::Header,
            entries: 0,
        })
    }

    /// The tenant.
    pub fn tenant_id(&self) -> Uuid {
        self.tenant_id
    }

    /// The size of the log the export covers: the size of the newest checkpoint when
    /// the reader was opened.
    pub fn tree_size(&self) -> u64 {
        self.checkpoint.as_ref().map_or(0, |c| c.size)
    }

    /// Whether the export holds the whole log (no filter), so that an NDJSON export
    /// ends with the checkpoint it reproduces.
    pub fn is_whole(&self) -> bool {
        self.filter.is_unfiltered()
    }

    /// How many leaves have been read.
    pub fn leaves_read(&self) -> u64 {
        match self.stage {
            Stage::Header => 0,
            Stage::Leaves { from } => from,
            Stage::Trailer | Stage::Done => self.tree_size(),
        }
    }

    /// How many entries have been written.
    pub fn entries_written(&self) -> u64 {
        self.entries
    }

    /// The next chunk of the export, `None` after the last. A page of leaves that the
    /// filter does not match gives an empty chunk, so that a caller sees the progress.
    /// After an error the reader is done: what it returned is the export's beginning
    /// only, and the missing end tells a verifier so.
    pub async fn next_chunk(&mut self) -> Result<Option<Vec<u8>>, ExportError> {
        let result = self.advance().await;
        if result.is_err() {
            self.stage = Stage::Done;
        }
        result
    }

    async fn advance(&mut self) -> Result<Option<Vec<u8>>, ExportError> {
        let end = self.tree_size();
        loop {
            match self.stage {
                Stage::Header => {
                    self.stage = Stage::Leaves { from: 0 };
                    let header = self.format.header();
                    if !header.is_empty() {
                        return Ok(Some(header));
                    }
                }
                Stage::Leaves { from } if from < end => {
                    let page = self
                        .log
                        .export_page(
                            self.tenant_id,
                            &self.filter,
                            from,
                            end,
                            self.leaves_per_page,
                        )
                        .await?;
                    if page.next <= from {
                        return Err(ExportError::Stalled { from });
                    }
                    let mut chunk = Vec::new();
                    let mut removed = page.removed.iter().peekable();
                    let mut erased = page.erased.iter().peekable();
                    for (leaf_index, entry) in &page.entries {
                        while let Some((index, hash)) = removed.next_if(|(i, _)| i < leaf_index) {
                            chunk.extend_from_slice(&self.format.removed(*index, *hash));
                        }
                        if let Some((index, hash)) = erased.next_if(|(i, _)| i == leaf_index) {
                            chunk.extend_from_slice(&self.format.erased(*index, *hash));
                        }
                        let line = self.format.entry(*leaf_index, entry).map_err(|source| {
                            ExportError::Format {
                                leaf_index: *leaf_index,
                                source,
                            }
                        })?;
                        chunk.extend_from_slice(&line);
                    }
                    for (index, hash) in removed {
                        chunk.extend_from_slice(&self.format.removed(*index, *hash));
                    }
                    self.entries += page.entries.len() as u64;
                    self.stage = Stage::Leaves {
                        from: page.next.min(end),
                    };
                    return Ok(Some(chunk));
                }
                Stage::Leaves { .. } => self.stage = Stage::Trailer,
                Stage::Trailer => {
                    self.stage = Stage::Done;
                    let note = self
                        .checkpoint
                        .as_ref()
                        .filter(|_| self.is_whole())
                        .map(|c| c.note.as_str());
                    let mut trailer = Vec::new();
                    if note.is_some() {
                        for removal in self.log.removal_notes(self.tenant_id).await? {
                            trailer.extend_from_slice(&self.format.removal(&removal));
                        }
                    }
                    trailer.extend_from_slice(&self.format.trailer(note));
                    if !trailer.is_empty() {
                        return Ok(Some(trailer));
                    }
                }
                Stage::Done => return Ok(None),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use auditlog_domain::{AuditLog, AuditLogType};

    use super::*;
    use crate::memory_log::MemoryLog;

    fn filter(pairs: &[(&str, &str)]) -> AuditLogFilter {
        AuditLogFilter::from_query_pairs(pairs.iter().copied()).expect("a valid filter")
    }

    /// Every chunk of an export, or the chunks before its error and the error.
    async fn read(
        log: MemoryLog,
        filter: AuditLogFilter,
        format: ExportFormat,
        per_page: u64,
    ) -> (Vec<Vec<u8>>, Option<ExportError>) {
        let tenant = auditlog_domain::DEFAULT_TENANT_ID;
        let mut reader = ExportReader::open(Arc::new(log), tenant, filter, format, per_page)
            .await
            .expect("the checkpoint is read");
        let mut chunks = Vec::new();
        loop {
            match reader.next_chunk().await {
                Ok(Some(chunk)) => chunks.push(chunk),
                Ok(None) => return (chunks, None),
                Err(err) => {
                    assert!(
                        matches!(reader.next_chunk().await, Ok(None)),
                        "a reader is done after an error"
                    );
                    return (chunks, Some(err));
                }
            }
        }
    }

    #[tokio::test]
    async fn a_whole_log_is_every_entry_in_log_order_then_the_checkpoint() {
        let log = MemoryLog::new(7);
        let expected: Vec<u8> = log
            .entries
            .iter()
            .flat_map(|entry| ExportFormat::Ndjson.entry(0, entry).expect("a line"))
            .chain(ExportFormat::Ndjson.trailer(Some("origin\n7\nroot\n\nsignature\n")))
            .collect();
        let (chunks, error) = read(log, filter(&[]), ExportFormat::Ndjson, 3).await;
        assert!(error.is_none());
        // Pages of 3 leaves, then the trailer.
        assert_eq!(chunks.len(), 4);
        assert_eq!(chunks.concat(), expected);
    }

    #[tokio::test]
    async fn a_filtered_export_holds_what_matches_with_no_checkpoint() {
        let log = MemoryLog::new(7);
        let matching: Vec<(u64, AuditLog)> = (0u64..)
            .zip(log.entries.iter().cloned())
            .filter(|(_, e)| e.r#type == AuditLogType::LoginFailure)
            .collect();
        let mut expected = ExportFormat::Csv.header();
        for (index, entry) in &matching {
            expected.extend(ExportFormat::Csv.entry(*index, entry).expect("a row"));
        }
        let only = filter(&[("type", "login_failure")]);
        let (chunks, error) = read(log, only.clone(), ExportFormat::Csv, 2).await;
        assert!(error.is_none());
        assert_eq!(chunks.concat(), expected);
        assert!(chunks.iter().any(Vec::is_empty), "a page with no match");

        let (chunks, _) = read(MemoryLog::new(7), only, ExportFormat::Ndjson, 100).await;
        let text = String::from_utf8(chunks.concat()).expect("utf-8");
        assert_eq!(text.lines().count(), 3);
        assert!(!text.contains("checkpoint"), "{text}");
    }

    #[tokio::test]
    async fn an_empty_log_is_an_empty_export() {
        let (chunks, error) = read(MemoryLog::new(0), filter(&[]), ExportFormat::Ndjson, 10).await;
        assert!(error.is_none());
        assert!(chunks.concat().is_empty());
        let (chunks, _) = read(MemoryLog::new(0), filter(&[]), ExportFormat::Csv, 10).await;
        assert_eq!(chunks.concat(), ExportFormat::Csv.header());
    }

    #[tokio::test]
    async fn a_failed_page_ends_the_export_without_its_trailer() {
        let mut log = MemoryLog::new(7);
        log.fail_at = Some(1);
        let (chunks, error) = read(log, filter(&[]), ExportFormat::Ndjson, 3).await;
        assert!(matches!(error, Some(ExportError::Store(_))), "{error:?}");
        let text = String::from_utf8(chunks.concat()).expect("utf-8");
        assert_eq!(text.lines().count(), 3, "the first page only");
        assert!(!text.contains("checkpoint"));

        let mut log = MemoryLog::new(7);
        log.stall = true;
        let (_, error) = read(log, filter(&[]), ExportFormat::Ndjson, 3).await;
        assert!(
            matches!(error, Some(ExportError::Stalled { from: 0 })),
            "{error:?}"
        );
    }
}
