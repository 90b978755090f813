//! The HTTP application's integration suite: one binary, one module per concern.

/// Declares each listed `async fn(Backend)` of the invoking module as one test per
/// backend, in submodules `sqlite` and `postgres` (use it once per module). A
/// PostgreSQL test returns at once when that suite is skipped (`demo_on` answers
/// `None`).
macro_rules! on_both_backends {
    ($($test:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test]
                async fn $test() {
                    super::$test(enamel_store::Backend::Sqlite).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test]
                async fn $test() {
                    super::$test(enamel_store::Backend::Postgres).await;
                }
            )*
        }
    };
}

mod assistant;
mod audit;
mod browser;
mod errors;
mod headers;
mod health;
mod helpers;
mod identity;
mod metrics;
mod notifications;
mod openapi;
mod operator;
mod referrals;
mod retention;
mod shutdown;
mod staff_ui;
mod tls;
