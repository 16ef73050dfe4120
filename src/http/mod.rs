//! HTTP/1.1 on top of any byte stream: message heads, body framing, and the exporter's server
//! and PBS client built from them.
//!
//! The pieces that read network bytes (`head`, `chunked`) are small sync functions so they can
//! be fuzzed; `conn` and `body` add the async reading around them.

pub mod accept_encoding;
pub mod body;
pub mod chunked;
pub mod conn;
pub mod head;
pub mod query;
