//! PBS simulator (in progress).
