//! YAML files as bytes with structure: a positioned node tree, exact scalar spans, and
//! byte splices. Knows nothing about images or Kubernetes; `forms` builds on it.

pub mod edit;
pub mod scalar;
pub mod tree;

pub use edit::{Splice, apply};
pub use scalar::{Quoting, ScalarSpan, encode, locate};
pub use tree::{Node, NodeId, Scalar, TreeError, YamlFile};
