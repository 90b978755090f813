//! Enamel's persistence: SQLite (embedded default) and PostgreSQL behind one interface.
//!
//! The backend is picked from the database URL. Each backend has its own numbered SQL
//! migrations, embedded in the binary. Queries are written once where the two dialects
//! agree (`$1` placeholders work on both) and run against whichever pool is open.
//!
//! Practice data is reached through [`Scoped`], built for an [`Actor`](enamel_domain::Actor):
//! every query it runs is limited to the actor's practice, so a caller cannot forget
//! the tenant boundary. The unscoped repositories on [`Store`] hold only what is not
//! PHI (practices and workforce accounts) and serve the system (seeding, sign-in).

mod error;
mod migrations;
mod pool;
mod repos;

pub use error::StoreError;
pub use migrations::MigrationStatus;
pub use pool::{Backend, ConnectOptions, Store};
pub use repos::practices::PracticeRepo;
pub use repos::scoped::Scoped;
pub use repos::users::UserRepo;
