//! The storage suite, run once on SQLite and once on PostgreSQL.

mod fixtures;
mod migrations;
mod practices;
mod scoping;
mod users;

/// Declares each listed `async fn(Store)` as one test per backend.
macro_rules! on_both_backends {
    ($($module:ident :: $test:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test]
                async fn $test() {
                    let db = enamel_testkit::fresh_database(enamel_store::Backend::Sqlite)
                        .await
                        .expect("SQLite is always available");
                    crate::$module::$test(db.store.clone()).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test]
                async fn $test() {
                    if let Some(db) =
                        enamel_testkit::fresh_database(enamel_store::Backend::Postgres).await
                    {
                        crate::$module::$test(db.store.clone()).await;
                    }
                }
            )*
        }
    };
}

on_both_backends!(
    migrations::a_fresh_database_is_current_after_migrating,
    migrations::migrating_twice_changes_nothing,
    practices::an_inserted_practice_reads_back_equal,
    practices::a_second_practice_with_the_same_npi_is_a_conflict,
    practices::a_missing_practice_is_not_found,
    practices::practices_list_by_name,
    users::an_inserted_account_is_found_by_email_in_any_case,
    users::a_second_account_with_the_same_email_is_a_conflict,
    users::an_account_for_an_unknown_practice_is_not_found,
    scoping::a_practice_lists_only_its_own_accounts,
    scoping::another_practices_account_is_not_found,
    scoping::the_system_actor_reaches_no_practice_data,
);
