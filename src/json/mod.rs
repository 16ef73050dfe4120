//! Reading JSON as it arrives: a tokenizer fed chunk by chunk (`tokenizer`), and a walker that
//! tracks where each value sits in the document and hands it to an endpoint's extractor
//! (`walker`). Nothing holds a whole document: memory is the longest single token plus the
//! nesting path.

mod short_eq;
pub mod tokenizer;
pub mod walker;

pub use short_eq::short_eq;
pub use tokenizer::{Event, JsonError, KeyFilter, Scalar, Text, Tokenizer};
pub use walker::{JsonReader, Path, Reads, Sink};
