//! The storage conformance suite on the embedded store (redb in a temp dir).

switchboard_tests::conformance_suite!(switchboard_tests::embedded_store();
    create_then_get_round_trips,
    create_refuses_an_existing_key,
    concurrent_creates_have_one_winner,
    concurrent_versioned_increments_lose_nothing,
    stale_update_changes_nothing,
    failed_transaction_writes_nothing,
    transactions_are_bounded_and_name_each_key_once,
    concurrent_transactions_claim_a_marker_once,
    expired_items_are_gone,
    conditional_delete,
    batch_get_finds_what_exists,
    pagination_returns_each_item_once,
    cursors_cannot_be_forged_or_reused_elsewhere,
    index_follows_updates_and_deletes,
    query_keeps_to_its_partition_and_prefix,
);
