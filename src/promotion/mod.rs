//! Promotion: which images move from an environment to the one promoted from it, and when.
//!
//! Three pure steps, each value in, value out: [`images_of`] reads an environment's images
//! from its files (with the bump's own site finding), [`promotion`] compares the source's
//! and the target's, and [`latest_healthy`] then [`eligibility`] decide from the source's
//! deployment records whether proposing it now is allowed. Nothing here reads files, talks
//! to GitLab, reads the clock or writes anything: [`crate::workflows::promotion`] does (for
//! `promote`, `sync` and `rebase`), and opening the merge request belongs to the bump. A new
//! gate on promotion (a hold) belongs here, called from that workflow's `decide`.

mod hold;
mod images;
mod plan;
mod soak;

pub use hold::{Hold, apply_holds, held};
pub use images::{EnvironmentImages, ImageVersions, Place, images_of};
pub use plan::{ImagePromotion, Promotion, Skip, Skipped, promotion};
pub use soak::{Blocked, DeploymentRecord, Healthy, Moved, eligibility, latest_healthy};
