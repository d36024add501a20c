//! Environment holds: once a rollback of an environment has merged, the versions it rolled
//! back from are not proposed to that environment again, until an operator of the
//! environment lifts the hold (`unhold` on the rollback merge request) or a newer version
//! arrives. This module only decides, value in, value out: reading the holds from Git and
//! the API is [`crate::workflows::holds`]'s.

use serde::Serialize;

use super::plan::{Promotion, Skip, Skipped};
use crate::image_ref::Version;

/// One image repository an environment is held for, by one merged rollback.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Hold {
    pub environment: String,
    /// `domain/path`, the key images are matched by.
    pub repository: String,
    /// The versions the rollback moved the environment away from (from Git).
    pub versions: Vec<Version>,
    /// The rollback merge request whose merge holds them.
    pub rollback_iid: u64,
    pub rollback_url: String,
    /// Who lifted the hold with `unhold` on the rollback merge request, if someone did.
    pub lifted_by: Option<String>,
}

impl Hold {
    pub fn is_lifted(&self) -> bool {
        self.lifted_by.is_some()
    }
}

/// The hold that keeps `proposed` of `repository` out of the environment, if any: an unlifted
/// hold naming that very version. Any other version is a newer one and is proposed.
pub fn held<'h>(holds: &'h [Hold], repository: &str, proposed: &Version) -> Option<&'h Hold> {
    holds
        .iter()
        .filter(|h| !h.is_lifted() && h.repository == repository)
        .find(|h| h.versions.contains(proposed))
}

/// Moves the images of `plan` that a hold keeps out to its skipped ones, with the reason
/// naming the rollback and how to lift it (commands written with `prefix`).
pub fn apply_holds(plan: &mut Promotion, holds: &[Hold], prefix: &str) {
    let images = std::mem::take(&mut plan.images);
    for image in images {
        match held(holds, &image.repository, &image.to) {
            Some(hold) => plan.skipped.push(Skipped {
                repository: image.repository.clone(),
                name: image.name.clone(),
                reason: Skip::Held {
                    environment: hold.environment.clone(),
                    version: image.to.clone(),
                    rollback_iid: hold.rollback_iid,
                    rollback_url: hold.rollback_url.clone(),
                    prefix: prefix.to_string(),
                },
            }),
            None => plan.images.push(image),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::promotion::ImagePromotion;

    fn v(s: &str) -> Version {
        Version::parse(s).expect("a version")
    }

    fn hold(repository: &str, versions: &[&str], lifted_by: Option<&str>) -> Hold {
        Hold {
            environment: "prod".into(),
            repository: repository.into(),
            versions: versions.iter().map(|s| v(s)).collect(),
            rollback_iid: 7,
            rollback_url: "https://gitlab.example.com/g/p/-/merge_requests/7".into(),
            lifted_by: lifted_by.map(str::to_string),
        }
    }

    const API: &str = "registry.example.com/team/api";
    const WEB: &str = "registry.example.com/team/web";

    #[test]
    fn which_proposals_a_hold_keeps_out() {
        /// (case, holds, repository, proposed, held by !iid)
        type Case<'a> = (&'a str, Vec<Hold>, &'a str, &'a str, Option<u64>);
        let cases: &[Case] = &[
            ("no hold", vec![], API, "ci-40", None),
            (
                "the rolled-back version is held",
                vec![hold(API, &["ci-40"], None)],
                API,
                "ci-40",
                Some(7),
            ),
            (
                "a newer version is proposed despite the hold",
                vec![hold(API, &["ci-40"], None)],
                API,
                "ci-41",
                None,
            ),
            (
                "a lifted hold holds nothing",
                vec![hold(API, &["ci-40"], Some("operator"))],
                API,
                "ci-40",
                None,
            ),
            (
                "another repository is not held",
                vec![hold(WEB, &["ci-40"], None)],
                API,
                "ci-40",
                None,
            ),
            (
                "a mixed rollback holds each version it rolled back from",
                vec![hold(API, &["ci-39", "ci-40"], None)],
                API,
                "ci-39",
                Some(7),
            ),
        ];
        for (case, holds, repository, proposed, want) in cases {
            let got = held(holds, repository, &v(proposed)).map(|h| h.rollback_iid);
            assert_eq!(got, *want, "{case}");
        }
    }

    #[test]
    fn held_images_are_skipped_with_how_to_lift_them() {
        let image = |repository: &str, to: &str| ImagePromotion {
            repository: repository.into(),
            name: repository.into(),
            from: vec![v("ci-30")],
            to: v(to),
        };
        let mut plan = Promotion {
            images: vec![image(API, "ci-40"), image(WEB, "ci-41")],
            ..Promotion::default()
        };
        apply_holds(&mut plan, &[hold(API, &["ci-40"], None)], "ship");
        assert_eq!(plan.images, vec![image(WEB, "ci-41")]);
        assert_eq!(plan.skipped.len(), 1);
        assert_eq!(plan.skipped[0].repository, API);
        assert_eq!(
            plan.skipped[0].reason.to_string(),
            "prod is held for ci-40 since rollback !7 (https://gitlab.example.com/g/p/-/merge_requests/7) merged: an operator of prod lifts it with `ship unhold` on !7, or a newer version is proposed"
        );
    }
}
