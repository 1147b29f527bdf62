//! The attack suite (issue "trust boundaries"): one test per attack tried from outside, each written
//! to fail on the code before the fix. Storage-touching attacks run on SQLite and PostgreSQL.

mod broker_headers;
mod cross_site;
mod limits;
mod outbound;
mod raw_path;
mod signin;
mod tokens;
mod usermap;
