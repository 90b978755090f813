//! Middleware applied to every request.

pub(crate) mod access_log;
pub(crate) mod problems;
pub(crate) mod request_id;
pub(crate) mod security_headers;
