//! Image strings: container images of any pod spec at any depth (Pods, workloads, CronJob
//! `jobTemplate`, CRDs embedding pod specs, values that embed them), any other mapping's
//! `image` key holding a reference (CatalogSource, DevWorkspace…), strings under keys ending
//! in `image`/`Image` (`initImage`, `sidecarImage`, `inline_image`: Renovate's Helm values
//! rule), and pod image volumes (`volumes[].image.reference`, Kubernetes 1.31+).
//! A value is only ever edited when it parses as a reference to the target (see
//! `plan_ref_string`); templates and placeholders are not.

use super::{Form, SiteKind, Walker};
use crate::manifest::NodeId;

pub(super) fn visit(walker: &mut Walker<'_>, mapping: NodeId, in_container: bool) {
    let file = walker.source.file;
    if let Some(value) = file.get(mapping, "image") {
        let form = if in_container {
            Form::Container
        } else {
            Form::ImageField
        };
        push_string(walker, form, value);
    }
    for &(key, value) in file.entries(mapping) {
        if file
            .scalar(key)
            .is_some_and(|k| k.value != "image" && is_image_key(&k.value))
        {
            push_string(walker, Form::ImageField, value);
        }
    }
    if let Some(volumes) = file.get(mapping, "volumes") {
        for &volume in file.items(volumes) {
            if let Some(reference) = file
                .get(volume, "image")
                .and_then(|image| file.get(image, "reference"))
            {
                push_string(walker, Form::ImageVolume, reference);
            }
        }
    }
}

/// A key whose string value Renovate's Helm values manager reads as an image: one ending in
/// `image` or `Image` (`image`, `initImage`, `inline_image`). ALL-CAPS keys (`UPSTREAM_IMAGE`,
/// usually an application's environment) are not: a mention there is reported, not edited.
pub(super) fn is_image_key(key: &str) -> bool {
    key.ends_with("image") || key.ends_with("Image")
}

fn push_string(walker: &mut Walker<'_>, form: Form, value: NodeId) {
    let file = walker.source.file;
    if file.scalar(value).is_none() {
        return;
    }
    let scalar = file.resolve(value);
    walker.push(form, scalar, SiteKind::RefString { scalar, prefix: 0 });
}

#[cfg(test)]
mod tests {
    use super::is_image_key;

    #[test]
    fn image_keys_follow_renovates_suffix_rule_in_its_usual_spellings() {
        for key in [
            "image",
            "initImage",
            "sidecarImage",
            "inline_image",
            "baseimage",
        ] {
            assert!(is_image_key(key), "{key}");
        }
        for key in [
            "images",
            "imagePullPolicy",
            "UPSTREAM_IMAGE",
            "imageTag",
            "name",
        ] {
            assert!(!is_image_key(key), "{key}");
        }
    }
}
