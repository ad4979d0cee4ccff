//! The storage contract, run against every backend: SQLite, and PostgreSQL on a throwaway
//! cluster started by `postgres.rs` (never skipped). A new backend adds one `contract_tests!`
//! line with a constructor and must pass the same list.

mod clocks;
mod contract;
mod desk;
mod mail;
pub mod postgres;

use liaison_server::storage::{SqliteStorage, Storage};
use std::sync::Arc;
use tempfile::TempDir;

/// Instantiate every contract test for one backend: `contract_tests!(name, constructor)`.
/// `constructor().await` yields `(Arc<dyn Storage>, guard)`; the guard keeps the backend's
/// resources (a temp dir) alive for the test. The list lives here once, so every backend runs
/// exactly the same tests.
macro_rules! contract_tests {
    ($backend:ident, $make:path) => {
        contract_tests!(
            @each $backend,
            $make,
            [
                contract::users_are_created_found_listed_and_change_role,
                contract::audit_entries_appended_at_once_form_one_unbroken_chain_in_order,
                contract::a_duplicate_user_name_is_refused_whatever_its_case,
                contract::devices_register_replace_their_token_list_and_revoke,
                contract::a_revoked_or_foreign_device_id_cannot_register_again,
                contract::push_applies_each_field_by_the_merge_rule,
                contract::a_pull_page_goes_on_the_wire_exactly_as_the_rows_it_stands_for,
                contract::two_devices_editing_different_fields_both_survive,
                contract::a_delete_tombstones_the_row_and_later_edits_do_not_revive_it,
                contract::a_retried_batch_returns_the_stored_response_and_changes_nothing,
                contract::a_change_id_already_applied_is_not_applied_again_in_a_new_batch,
                contract::a_batch_id_of_another_device_is_refused,
                contract::pull_pages_by_cursor_with_has_more,
                contract::invalid_changes_are_rejected_one_by_one_while_valid_ones_apply,
                contract::clocks_far_in_the_future_are_clamped,
                contract::erasing_a_contact_purges_it_and_its_rows_at_new_seqs,
                contract::changes_to_erased_data_are_refused_while_others_apply,
                contract::erasing_an_unknown_id_refuses_a_later_create,
                contract::erasing_twice_is_harmless,
                contract::concurrent_differing_edits_are_recorded_as_conflicts_and_pulled,
                contract::a_delete_wins_over_a_concurrent_update_which_goes_to_the_inbox,
                contract::a_deleted_contact_takes_its_rows_with_it_and_a_late_child_is_set_aside,
                contract::devices_resolve_conflicts_but_never_invent_or_delete_them,
                contract::restricted_contacts_reach_only_staff_and_granted_users,
                contract::restricting_a_public_contact_revokes_it_only_from_devices_that_may_hold_it,
                contract::a_contact_arriving_after_its_children_rescopes_them,
                contract::unrestricting_a_contact_sends_its_rows_to_volunteers,
                contract::a_grant_can_be_revoked_and_devices_are_told,
                contract::lowering_a_role_revokes_every_restricted_scope_and_raising_it_resends_them,
                contract::pushes_to_records_a_user_may_not_read_are_refused_without_saying_whether_they_exist,
                contract::erasure_purges_conflicts_and_rows_found_by_parent,
                contract::a_page_of_rows_the_user_may_not_read_still_moves_the_cursor,
                contract::a_snapshot_holds_exactly_the_live_readable_rows_at_its_sequence_in_seq_order,
                contract::a_snapshot_resumed_after_its_last_stored_row_returns_only_the_rest,
                contract::a_snapshot_then_a_pull_from_its_sequence_equals_a_full_pull,
                contract::a_pull_from_below_the_horizon_must_resync_and_others_pull_as_usual,
                contract::pruning_removes_only_old_tombstones_keeps_erasures_refused_and_raises_the_horizon,
                desk::a_case_s_thread_takes_its_queue_s_scope_at_every_depth,
                desk::a_membership_grants_its_queue_and_removing_it_revokes_the_queue_from_the_member,
                desk::messages_and_attachments_are_written_once_and_never_changed,
                desk::erasing_a_reader_removes_their_links_messages_and_attachments_at_every_depth,
                desk::moving_a_case_to_another_queue_revokes_it_only_from_readers_of_the_old_queue,
                desk::who_may_create_queues_memberships_and_cases,
                desk::a_membership_s_id_is_derived_from_its_queue_and_user,
                desk::a_member_removed_comes_back_as_the_next_round_and_a_blind_re_add_does_not_revive_the_old,
                desk::a_client_of_protocol_1_never_receives_rows_of_newer_kinds,
                desk::a_change_of_a_kind_the_server_does_not_know_is_refused_alone,
                desk::a_canned_reply_without_a_queue_is_for_everyone_and_one_of_a_queue_for_its_members,
                desk::a_note_for_a_case_deleted_meanwhile_goes_to_the_inbox,
                desk::the_authorization_matrix_of_a_queue_s_rows,
                mail::a_message_becomes_one_case_with_its_reader_however_often_it_arrives,
                mail::an_answer_joins_its_case_by_its_headers_and_a_tag_only_from_someone_on_the_case,
                mail::broken_mail_is_quarantined_with_its_reason_and_the_next_message_flows_on,
                mail::a_reply_pushed_twice_enters_the_outbox_once_and_devices_may_not_number_cases,
                mail::a_reply_the_mail_server_cannot_take_is_retried_with_backoff_and_says_why,
                mail::mail_that_opens_a_case_is_acknowledged_once_in_its_language_but_never_automatic_list_or_old_mail,
                mail::a_corpus_of_odd_and_hostile_mail_each_reaches_its_outcome_and_the_queue_never_stalls,
                mail::a_bounce_of_a_reply_joins_its_case_marks_the_reply_not_delivered_and_says_why,
                mail::mail_to_a_merged_case_joins_the_case_it_was_merged_into_by_its_headers_and_by_its_tag,
                mail::a_reply_on_a_case_that_did_not_come_by_mail_goes_to_its_reader_s_address_or_waits_saying_what_to_add,
                clocks::a_reader_message_starts_a_first_response_clock_due_at_its_target_on_a_round_the_clock_queue,
                clocks::a_public_reply_stops_first_response_and_update_a_note_does_not_and_a_new_message_restarts_update,
                clocks::waiting_on_the_reader_pauses_resolution_and_update_and_resuming_runs_them_again,
                clocks::closing_stops_resolution_and_reopening_resumes_it_with_the_time_spent,
                clocks::following_the_same_feed_again_adds_no_event_and_writes_nothing,
                clocks::office_hours_queue_edits_and_moves_set_due_times_by_the_queue_s_calendar,
                clocks::devices_cannot_write_the_clocks,
                clocks::mail_that_arrives_opens_the_clocks_and_a_reader_answering_resumes_a_pending_case,
            ]
        );
    };
    (@each $backend:ident, $make:path, [$($module:ident :: $name:ident),* $(,)?]) => {
        mod $backend {
            $(
                #[tokio::test]
                async fn $name() {
                    let (storage, _guard) = $make().await;
                    super::$module::$name(&*storage).await;
                }
            )*
        }
    };
}

async fn sqlite() -> (Arc<dyn Storage>, TempDir) {
    let dir = tempfile::tempdir().expect("a temp dir for the database");
    let storage = SqliteStorage::open(&dir.path().join("server.db")).expect("open SQLite in a temp dir");
    (Arc::new(storage), dir)
}

contract_tests!(sqlite, super::sqlite);
contract_tests!(postgresql, super::postgres::storage);

/// SQLite only: erased values are overwritten on disk (`secure_delete`), not left in free pages.
#[tokio::test]
async fn sqlite_erasure_leaves_no_trace_of_the_values_in_the_database_files() {
    let (storage, dir) = sqlite().await;
    let (marker, contact_id) = contract::seed_contact_with_marker(&*storage).await;
    let path = dir.path().join("server.db");
    let contains = |bytes: &[u8]| bytes.windows(marker.len()).any(|w| w == marker.as_bytes());
    let read = |suffix: &str| std::fs::read(format!("{}{suffix}", path.display())).unwrap_or_default();
    let checkpoint = || {
        let c = rusqlite::Connection::open(&path).expect("open a second connection");
        let (busy, _, _): (i64, i64, i64) = c
            .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .expect("checkpoint");
        assert_eq!(busy, 0, "the checkpoint ran to completion");
    };
    checkpoint();
    assert!(contains(&read("")), "the marker is on disk before the erasure (the test can see it)");

    storage.erase_contact(contact_id, chrono::Utc::now()).await.expect("erase");
    checkpoint();
    assert!(!contains(&read("")), "no erased value may remain anywhere in server.db");
    assert!(!contains(&read("-wal")), "nor in its write-ahead log");
}
