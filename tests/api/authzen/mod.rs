//! AuthZEN (issue 14): the interop scenarios' vectors (vendored under `vectors/`, with their
//! licence) and the examples that answer them, and what AuthZEN-shaped questions mean in
//! elevator's model.

mod examples;
pub(crate) mod questions;
