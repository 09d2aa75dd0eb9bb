//! Compiling a policy document: the YAML is read into the document model, then a [`Compiler`]
//! walks it section by section, validating every value, compiling every rule once, and
//! collecting every problem with its place; a document with any problem yields no policy.

mod access;
mod break_glass;
mod compiler;
mod directory;
mod reviews;
mod sections;

use compiler::Compiler;
pub(super) use compiler::compile;
