//! The plan of one bump over a whole repository: every examined file gathered, with the
//! changes, the diff and the summary of each image, and the check that decides whether it
//! may be written (every image found, nothing skipped under `--strict`).

use super::{Change, Examined, FilePlan, Kept, Warning};
use crate::diff::unified_diff;
use crate::plural::count;

/// Everything a bump found and would change in one repository.
#[derive(Debug, Default, Clone)]
pub struct BumpPlan {
    pub files_searched: usize,
    /// Files where the image was found, by path.
    pub files: Vec<FilePlan>,
    pub warnings: Vec<Warning>,
    /// Files skipped because they are templates, not YAML.
    pub templates: usize,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    #[error("{image} is referenced nowhere in the {} searched{hint}", count(*files, "YAML file"))]
    NotReferenced {
        image: String,
        files: usize,
        hint: String,
    },
    #[error("{image} is referenced but no reference can be updated:\n{reasons}")]
    NoneEditable { image: String, reasons: String },
    #[error(
        "{}\nnothing written: a bump of {} changes all of them or none",
        failures.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n"),
        count(*images, "image")
    )]
    NotAll {
        failures: Vec<PlanError>,
        images: usize,
    },
    #[error(
        "--strict: {} and {} above; nothing written",
        count(*warnings, "warning"),
        count(*skipped, "skipped reference")
    )]
    Strict { warnings: usize, skipped: usize },
}

impl BumpPlan {
    /// Gathers examined files (in any order) and the warnings met while listing them into a
    /// plan sorted by path.
    pub fn gather(
        files_searched: usize,
        examined: impl IntoIterator<Item = Examined>,
        warnings: Vec<Warning>,
    ) -> Self {
        let mut plan = BumpPlan {
            files_searched,
            warnings,
            ..BumpPlan::default()
        };
        for e in examined {
            match e {
                Examined::Unrelated => {}
                Examined::Matched(f) => plan.files.push(f),
                Examined::NotSearched(listed) => {
                    plan.files_searched = plan.files_searched.saturating_sub(1);
                    plan.files.extend(listed);
                }
                Examined::Warning(w) => plan.warnings.push(w),
                Examined::Template => plan.templates += 1,
            }
        }
        plan.files.sort_by(|a, b| a.path.cmp(&b.path));
        plan.warnings
            .sort_by(|a, b| (&a.file, a.line).cmp(&(&b.file, b.line)));
        plan
    }

    pub fn changed_files(&self) -> impl Iterator<Item = (&FilePlan, &str)> {
        self.files
            .iter()
            .filter_map(|f| f.bump.edited.as_deref().map(|e| (f, e)))
    }

    pub fn changes(&self) -> impl Iterator<Item = (&str, &Change)> {
        self.files
            .iter()
            .flat_map(|f| f.bump.changes.iter().map(move |c| (f.path.as_str(), c)))
    }

    pub fn current(&self) -> impl Iterator<Item = (&str, &Kept)> {
        self.files
            .iter()
            .flat_map(|f| f.bump.current.iter().map(move |c| (f.path.as_str(), c)))
    }

    pub fn skipped(&self) -> impl Iterator<Item = (&str, &Kept)> {
        self.files
            .iter()
            .flat_map(|f| f.bump.skipped.iter().map(move |c| (f.path.as_str(), c)))
    }

    /// `N references updated in M files (K already current)`.
    pub fn summary(&self) -> String {
        format!(
            "{} updated in {} ({} already current)",
            count(self.changes().count(), "reference"),
            count(self.changed_files().count(), "file"),
            self.current().count()
        )
    }

    /// The same for the image of index `image` alone: what a bump of several images did to
    /// each.
    pub fn summary_of(&self, image: usize) -> String {
        let files = self
            .files
            .iter()
            .filter(|f| f.bump.changes.iter().any(|c| c.image == image))
            .count();
        format!(
            "{} updated in {} ({} already current)",
            count(self.changes_of(image).count(), "reference"),
            count(files, "file"),
            self.current().filter(|(_, k)| k.image == image).count()
        )
    }

    /// The changes to the image of index `image`.
    pub fn changes_of(&self, image: usize) -> impl Iterator<Item = (&str, &Change)> {
        self.changes().filter(move |(_, c)| c.image == image)
    }

    /// The unified diff of every changed file, in path order.
    pub fn diff(&self) -> String {
        self.changed_files()
            .map(|(f, edited)| unified_diff(&f.path, &f.original, edited))
            .collect()
    }

    /// Fails when an image (of `images`, the targets' names in order) was not found at all or
    /// found only where it cannot be edited, or (with `strict`) when anything was warned
    /// about or skipped. A bump of several images changes all of them or none: one image
    /// missing fails the whole bump, naming it.
    pub fn check(&self, images: &[String], strict: bool) -> Result<(), PlanError> {
        let mut failures: Vec<PlanError> = images
            .iter()
            .enumerate()
            .filter_map(|(index, image)| self.check_found(index, image).err())
            .collect();
        match failures.len() {
            0 => {}
            1 if images.len() == 1 => return Err(failures.remove(0)),
            _ => {
                return Err(PlanError::NotAll {
                    failures,
                    images: images.len(),
                });
            }
        }
        let (warnings, skipped) = (self.warnings.len(), self.skipped().count());
        if strict && warnings + skipped > 0 {
            return Err(PlanError::Strict { warnings, skipped });
        }
        Ok(())
    }

    fn check_found(&self, index: usize, image: &str) -> Result<(), PlanError> {
        let mine = |k: &(&str, &Kept)| k.1.image == index;
        if self.changes_of(index).next().is_some() || self.current().any(|k| mine(&k)) {
            return Ok(());
        }
        if !self.skipped().any(|k| mine(&k)) {
            let invalid = self
                .warnings
                .iter()
                .filter(|w| w.message.starts_with("not valid YAML"))
                .count();
            let mut notes = Vec::new();
            if invalid > 0 {
                notes.push(format!(
                    "{} could not be parsed: see the warnings",
                    count(invalid, "file")
                ));
            }
            if self.templates > 0 {
                notes.push(format!(
                    "{} skipped",
                    count(self.templates, "Go/Helm template")
                ));
            }
            let hint = if notes.is_empty() {
                String::new()
            } else {
                format!(" ({})", notes.join("; "))
            };
            return Err(PlanError::NotReferenced {
                image: image.to_string(),
                files: self.files_searched,
                hint,
            });
        }
        let reasons = self
            .skipped()
            .filter(mine)
            .map(|(path, k)| {
                format!(
                    "  {path}:{}:{}: {}: {}",
                    k.line,
                    k.column,
                    k.reference,
                    k.reason.as_deref().unwrap_or_default()
                )
            })
            .collect::<Vec<_>>()
            .join("\n");
        Err(PlanError::NoneEditable {
            image: image.to_string(),
            reasons,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bump::Examiner;
    use crate::forms::Target;
    use crate::image_ref::ImageRef;

    #[test]
    fn a_bump_of_several_images_fails_whole_naming_each_image_not_found() {
        let examiner = Examiner::for_targets(
            &[
                target("r.io/web:2"),
                target("r.io/gone:1"),
                target("r.io/worker:7"),
            ],
            &[],
        );
        let text = "containers:\n  - image: r.io/web:1\n  - image: r.io/worker:7\n";
        let plan = BumpPlan::gather(1, [examiner.examine("d.yaml", text.as_bytes())], vec![]);
        let names = ["r.io/web:2", "r.io/gone:1", "r.io/worker:7"].map(String::from);
        let err = plan.check(&names, false).unwrap_err();
        assert!(
            matches!(&err, PlanError::NotAll { failures, images: 3 } if failures.len() == 1),
            "{err:?}"
        );
        assert_eq!(
            err.to_string(),
            "r.io/gone:1 is referenced nowhere in the 1 YAML file searched\nnothing written: a bump of 3 images changes all of them or none"
        );
        // Found, changed or current, each: the plan passes, and says what each image got.
        let found = ["r.io/web:2", "r.io/worker:7"].map(String::from);
        let examiner = Examiner::for_targets(&[target("r.io/web:2"), target("r.io/worker:7")], &[]);
        let plan = BumpPlan::gather(1, [examiner.examine("d.yaml", text.as_bytes())], vec![]);
        assert_eq!(plan.check(&found, true), Ok(()));
        assert_eq!(
            plan.summary_of(0),
            "1 reference updated in 1 file (0 already current)"
        );
        assert_eq!(
            plan.summary_of(1),
            "0 references updated in 0 files (1 already current)"
        );
        // One image keeps its own error, unwrapped.
        let one = ["r.io/gone:1".to_string()];
        let examiner = Examiner::new(&target("r.io/gone:1"), &[]);
        let plan = BumpPlan::gather(1, [examiner.examine("d.yaml", text.as_bytes())], vec![]);
        assert!(matches!(
            plan.check(&one, false),
            Err(PlanError::NotReferenced { .. })
        ));
    }

    fn target(image: &str) -> Target {
        Target {
            image: ImageRef::parse(image).unwrap(),
            setter: None,
        }
    }
}
