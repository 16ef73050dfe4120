//! pbs-exporter: a Prometheus exporter for Proxmox Backup Server that stays small.
//!
//! A scrape flows: configuration → PBS client (`http`, `tls`) → incremental JSON reading
//! (`json`) → one collector per PBS area (`collectors`) → exposition writer (`exposition`) →
//! the exporter's HTTP server.
//!
//! No `unsafe` here: the C allocator's calls (`malloc_trim`, and running the program again with
//! glibc's thread cache off) live in `crates/malloc-trim`.

#![forbid(unsafe_code)]

pub mod basic_auth;
pub mod budget;
pub mod client;
pub mod collection;
pub mod collectors;
pub mod config;
pub mod deadline;
pub mod exposition;
pub mod gzip;
pub mod http;
pub mod json;
pub mod log;
pub mod modules;
pub mod natrontech;
pub mod own;
pub mod routing;
pub mod scrape;
pub mod server;
pub mod target;
pub mod target_map;
pub mod tls;
pub mod tls_server;
pub mod tls_stream;
pub mod web_config;
pub mod yaml;
