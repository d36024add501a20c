//! The pure core of `sync`: what is deployed ([`DeployTarget`]), what the controllers are
//! asked for (an Argo CD sync operation, a Flux reconcile) and how a deploy ended
//! ([`outcome`]). Nothing here talks to a cluster or to GitLab, reads the clock or the
//! environment: the `sync` mode does, and hands what it read to these functions. How
//! healthy one object is belongs to [`crate::health`].

pub mod argocd;
pub mod flux;
pub mod outcome;
pub mod plan;
mod target;

pub use target::{ARGOCD_NAMESPACE, DeployTarget, FluxKind, TargetsError, resolve};
