//! The behavioural suite of the store: every case runs on SQLite and on PostgreSQL (the
//! server `AUDITLOG_TEST_POSTGRES_URL` names; see `common`), each on a fresh database.

mod common;

#[path = "store/append.rs"]
mod append;
#[path = "store/connect.rs"]
mod connect;
#[path = "store/connection.rs"]
mod connection;
#[path = "store/erasure.rs"]
mod erasure;
#[path = "store/filters.rs"]
mod filters;
#[path = "store/idempotency.rs"]
mod idempotency;
#[path = "store/import.rs"]
mod import;
#[path = "store/keys.rs"]
mod keys;
#[path = "store/log.rs"]
mod log;
#[path = "store/log_writes.rs"]
mod log_writes;
#[path = "store/pages.rs"]
mod pages;
#[path = "store/retention.rs"]
mod retention;
#[path = "store/search.rs"]
mod search;

backend_tests! {
    append::append_returns_stored_entries_in_order,
    append::empty_batch_stores_nothing,
    append::timestamps_round_trip_to_the_microsecond,
    append::details_round_trip_exactly,
    append::invalid_entry_stores_nothing_and_names_index_and_field,
    append::large_batch_is_atomic_across_chunks,
    append::append_in_rolled_back_transaction_stores_nothing,
    append::tenants_are_isolated,
    append::one_entry_is_read_by_id_within_its_tenant,
    idempotency::same_id_and_content_is_stored_once,
    idempotency::same_id_other_content_conflicts_and_changes_nothing,
    idempotency::retry_without_created_at_matches_the_stored_entry,
    idempotency::a_resend_without_a_chosen_created_at_conflicts,
    idempotency::duplicate_ids_in_one_batch,
    idempotency::concurrent_appends_of_one_id_store_it_once,
    idempotency::concurrent_batches_sharing_ids_in_opposite_orders_all_succeed,
    filters::time_window_is_half_open_to_the_microsecond,
    filters::type_filter,
    filters::several_types_at_once,
    filters::actor_user_id_is_exact,
    filters::actor_email_ignores_ascii_case,
    filters::exact_ip,
    filters::ipv4_cidr_block,
    filters::ipv6_cidr_block,
    filters::ipv4_mapped_addresses_are_ipv4,
    search::q_searches_ip_user_and_email,
    search::q_finds_every_address_that_contains_a_fragment,
    search::q_escapes_percent,
    search::q_escapes_underscore,
    search::q_escapes_backslash,
    search::q_folds_ascii_case_only,
    search::filters_combine,
    pages::equal_created_at_orders_by_id_desc,
    pages::uuid_order_equals_rust_order,
    pages::offset_pages_and_pages_past_the_last,
    pages::keyset_pages_visit_every_entry_once,
    pages::deep_offset_pages_match_the_full_order,
    import::bulk_import_into_an_empty_store_builds_indexes_counts_and_terms,
    import::bulk_import_into_a_store_with_entries_adds_batch_by_batch,
    import::bulk_import_refusing_an_entry_leaves_the_store_empty,
    import::bulk_import_of_one_id_twice_stores_nothing,
    import::search_finds_what_is_written_after_another_writer_reloads_the_store,
    keys::tenants_are_created_once,
    keys::keys_register_find_list_revoke,
    keys::registering_an_existing_secret_returns_the_stored_key,
    keys::a_keys_use_is_written_at_most_once_a_minute,
    keys::chosen_secrets_listed_by_their_first_characters_are_listed_by_hash_after_migrating,
    connection::ping_answers,
    connection::migrate_twice_changes_nothing,
    connection::closed_pool_is_unavailable,
    log::every_entry_has_a_proof_against_every_later_checkpoint,
    log::entries_leaves_and_checkpoints_cannot_be_changed_or_deleted,
    log::the_access_log_cannot_be_changed_or_deleted,
    log::a_changed_field_is_found,
    log::a_deleted_entry_is_found,
    log::a_forged_entry_is_found,
    log::swapped_entries_are_found,
    log::a_deleted_leaf_is_found,
    log::an_entry_moved_to_another_tenant_is_found,
    log::a_rewritten_tree_is_found,
    log::a_replaced_signing_key_is_found,
    log::an_export_in_log_order_reproduces_the_checkpoint,
    log::leaves_hashed_by_the_write_and_by_a_bulk_load_match_the_stored_entries,
    log::entries_queued_again_by_hand_neither_stop_the_log_nor_enter_it_twice,
    log_writes::a_written_entry_is_a_leaf_when_the_write_returns,
    log_writes::concurrent_writers_build_one_dense_tree,
    log_writes::a_head_edge_of_the_wrong_length_is_read_again_from_the_leaves,
    log_writes::a_forged_head_edge_is_found,
    retention::retention_removes_expired_entries_and_every_proof_still_verifies,
    retention::a_large_purge_goes_in_batches,
    retention::a_legal_hold_suspends_removal,
    retention::tampering_never_passes_as_removal,
    erasure::erasure_removes_one_persons_data_and_keeps_the_log_verifiable,
    erasure::tampering_never_passes_as_erasure,
}
