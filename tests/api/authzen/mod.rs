//! AuthZEN (issue 14): the interop scenarios' vectors (vendored under `vectors/`, with their
//! licence) and the examples that answer them, and what AuthZEN-shaped questions mean in
//! elevator's model.

mod equivalence;
mod examples;
mod model;
pub(crate) mod questions;
