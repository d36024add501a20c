//! `image: name:tag` strings: container images of any pod spec at any depth (Pods,
//! workloads, CronJob `jobTemplate`, CRDs embedding pod specs, values that embed them), and
//! any other mapping's `image` key holding a reference (CatalogSource, DevWorkspace…).
//! Values that are not references (templates, placeholders, mappings) are not sites here.

use super::{Form, SiteKind, Walker};
use crate::manifest::NodeId;

pub(super) fn visit(walker: &mut Walker<'_>, mapping: NodeId, in_container: bool) {
    let file = walker.source.file;
    let Some(value) = file.get(mapping, "image") else {
        return;
    };
    if file.scalar(value).is_none() {
        return;
    }
    let form = if in_container {
        Form::Container
    } else {
        Form::ImageField
    };
    let scalar = file.resolve(value);
    walker.push(form, scalar, SiteKind::RefString { scalar, prefix: 0 });
}
