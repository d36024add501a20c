//! Argo CD `Application` image overrides: `spec.source(s).kustomize.images`, a list of
//! strings `[alias=]name[:tag][@digest]`. The part after `=` is the image that gets
//! deployed, so that is what is matched and edited.

use super::{Form, SiteKind, Walker};
use crate::manifest::NodeId;

pub(super) fn visit(walker: &mut Walker<'_>, mapping: NodeId) {
    let file = walker.source.file;
    let Some(kustomize) = file.get(mapping, "kustomize") else {
        return;
    };
    let Some(images) = file.get(kustomize, "images") else {
        return;
    };
    for &item in file.items(images) {
        let Some(scalar) = file.scalar(item) else {
            continue;
        };
        let prefix = scalar.value.find('=').map_or(0, |i| i + 1);
        let scalar = file.resolve(item);
        walker.push(
            Form::ArgocdKustomizeImages,
            scalar,
            SiteKind::RefString { scalar, prefix },
        );
    }
}
