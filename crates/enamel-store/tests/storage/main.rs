//! The storage suite, run once on SQLite and once on PostgreSQL.

mod audit;
mod audit_index;
mod fixtures;
mod jobs;
mod keys;
mod migrations;
mod practices;
mod recovery;
mod referrals;
mod schedule;
mod scoping;
mod users;

enamel_testkit::on_both_databases!(
    migrations::a_fresh_database_is_current_after_migrating,
    migrations::migrating_twice_changes_nothing,
    migrations::every_integer_column_is_64_bit,
    practices::an_inserted_practice_reads_back_equal,
    practices::a_second_practice_with_the_same_npi_is_a_conflict,
    practices::a_missing_practice_is_not_found,
    practices::practices_list_by_name,
    users::an_inserted_account_is_found_by_email_in_any_case,
    users::a_second_account_with_the_same_email_is_a_conflict,
    users::an_account_for_an_unknown_practice_is_not_found,
    scoping::a_practice_lists_only_its_own_accounts,
    scoping::another_practices_account_is_not_found,
    scoping::a_role_without_the_permission_is_denied_and_the_denial_audited,
    scoping::the_system_actor_reaches_no_practice_data,
    keys::a_vendor_credential_round_trips_and_is_stored_only_as_ciphertext,
    keys::a_kms_without_an_executed_baa_makes_no_key_and_the_refusal_is_audited,
    keys::a_ciphertext_swapped_between_rows_fails_instead_of_decrypting,
    keys::another_practices_ciphertext_copied_in_fails,
    keys::keys_survive_a_restart,
    keys::rotation_seals_new_values_under_the_new_key_and_old_ones_still_open,
    keys::reencryption_rewrites_everything_and_resumes_after_an_interruption,
    keys::kek_rotation_rewraps_data_keys_without_touching_rows,
    keys::shredding_makes_one_practice_unreadable_and_leaves_the_others,
    keys::blind_index_keys_are_per_practice_and_stable_across_restarts,
    audit::concurrent_writers_form_one_unbroken_log,
    audit::two_stores_on_one_database_never_fork_a_log,
    audit::a_batch_on_a_moved_head_is_built_again,
    audit::the_database_refuses_updates_and_deletes_of_audit_entries,
    audit::an_edited_field_is_caught_at_its_index,
    audit::a_query_column_edited_on_its_own_is_caught,
    audit::a_patient_or_time_column_edited_on_its_own_is_caught,
    audit::a_deleted_entry_is_caught,
    audit::an_inserted_entry_is_caught,
    audit::two_swapped_entries_are_caught,
    audit::a_truncated_tail_is_caught,
    audit::a_tail_cut_after_the_last_checkpoint_is_caught_by_the_head,
    audit::a_deleted_or_altered_head_is_caught,
    audit::a_wholesale_rewrite_is_caught_by_the_signed_checkpoints,
    audit::credential_reads_and_writes_are_audited_in_the_practices_log,
    audit::purge_keeps_six_years_and_the_rest_still_verifies,
    audit::a_prefix_deleted_without_a_signed_purge_is_caught,
    audit::entries_outside_the_head_are_caught,
    audit::an_emptied_or_reshaped_head_is_caught_and_never_signed,
    audit::a_checkpoint_over_pages_signs_and_an_edit_in_a_later_page_stops_it,
    audit::audit_times_compare_as_times_and_one_spelling_is_kept,
    audit::a_write_whose_audit_event_fails_does_not_happen,
    audit::the_security_officer_pages_through_a_patients_accesses_newest_first,
    audit_index::queries_are_complete_whatever_the_indexer_has_done,
    audit_index::a_wrong_index_is_found_and_rebuilt_and_verification_never_needs_it,
    audit_index::two_indexers_racing_the_appends_build_one_whole_index,
    audit::failures_and_denials_of_the_last_day_are_listed_alone,
    audit::the_accounting_of_disclosures_lists_each_disclosure_as_csv,
    referrals::a_duplicate_patient_is_caught_by_name_and_birth_date,
    referrals::the_referral_story_runs_from_draft_to_closed,
    referrals::steps_belong_to_their_side_and_their_moment,
    referrals::a_third_practice_and_a_draft_look_missing,
    referrals::a_hygienist_reads_the_chart_without_contact_details,
    referrals::a_patient_gets_at_most_three_messages_a_day_even_under_concurrency,
    referrals::no_patient_name_is_stored_in_the_clear,
    referrals::an_unscheduled_referral_is_flagged_once_for_both_offices,
    referrals::no_phi_enters_a_practice_before_it_executes_the_agreement,
    referrals::a_restricted_patient_stays_behind_the_glass_through_a_referral,
    schedule::an_imported_schedule_is_read_through_minimum_necessary_views,
    schedule::the_waitlist_is_kept_in_priority_order_and_imports_need_the_agreement,
    recovery::of_a_hundred_confirmations_of_one_slot_exactly_one_books_it,
    recovery::a_freed_slot_opens_a_run_the_agent_reads_no_names_and_offers_keep_the_limit,
    recovery::a_booked_or_stopped_entry_ends_its_offers_of_other_runs,
    jobs::a_job_is_enqueued_once_per_key_and_runs_when_due,
    jobs::two_workers_never_run_the_same_job_twice,
    jobs::a_job_whose_worker_died_is_taken_over_after_its_lease,
    jobs::a_failing_job_backs_off_then_becomes_a_dead_letter,
);
