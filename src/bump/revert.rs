//! What a commit did to one image, read from the files before and after it: the versions
//! its references went from and to, and the files that hold them. Rollbacks and the sync
//! report take these facts from Git, never from the merge request's editable description.
//! Pure: the caller reads the files.

use super::file::{FileError, references};
use crate::image_ref::{ImageRef, Version};

/// One file a commit changed, before and after.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileChange {
    pub path: String,
    pub before: String,
    pub after: String,
}

/// How the references to one image changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageChange {
    /// Distinct versions before (`ci-34`, `1.2@sha256:…`), in order of appearance.
    pub before: Vec<Version>,
    /// Distinct versions after.
    pub after: Vec<Version>,
    /// The files whose references changed, in the order given.
    pub files: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChangeError {
    #[error("the commit changes no reference to {image}")]
    Untouched { image: String },
    #[error(
        "{file}: the commit adds or removes references to {image} ({before} before, {after} after), so it is not a version change"
    )]
    Reshaped {
        file: String,
        image: String,
        before: usize,
        after: usize,
    },
    #[error("{file}: {error}")]
    Unreadable { file: String, error: FileError },
}

/// The change `files` made to the references of `image`'s repository (its tag and digest
/// are ignored).
pub fn image_change(files: &[FileChange], image: &ImageRef) -> Result<ImageChange, ChangeError> {
    let mut change = ImageChange {
        before: Vec::new(),
        after: Vec::new(),
        files: Vec::new(),
    };
    let read = |file: &str, text: &str| {
        references(text, image).map_err(|error| ChangeError::Unreadable {
            file: file.to_string(),
            error,
        })
    };
    for f in files {
        let before = read(&f.path, &f.before)?;
        let after = read(&f.path, &f.after)?;
        if before.len() != after.len() {
            return Err(ChangeError::Reshaped {
                file: f.path.clone(),
                image: image.name.as_str().to_string(),
                before: before.len(),
                after: after.len(),
            });
        }
        let mut touched = false;
        for (b, a) in before.iter().zip(&after) {
            if b == a {
                continue;
            }
            touched = true;
            push_new(&mut change.before, version_of(b));
            push_new(&mut change.after, version_of(a));
        }
        if touched {
            change.files.push(f.path.clone());
        }
    }
    if change.files.is_empty() {
        return Err(ChangeError::Untouched {
            image: image.name.as_str().to_string(),
        });
    }
    Ok(change)
}

/// Whether `after` is exactly what bumping `targets` (all images of one bump) in `before`
/// writes, byte for byte: how a commit on the bot's branch is recognised as the bot's own
/// change.
pub fn is_bump_of(before: &str, after: &str, targets: &[crate::forms::Target]) -> bool {
    matches!(
        super::file::bump_targets(before, targets),
        Ok(super::FileBump { edited: Some(edited), .. }) if edited == after
    )
}

fn push_new(list: &mut Vec<Version>, item: Version) {
    if !list.contains(&item) {
        list.push(item);
    }
}

/// `ci-34` from `registry/app:ci-34`, `@sha256:…` from a digest-only reference; what does
/// not parse is kept whole, as a tag, so that it still shows.
pub fn version_of(reference: &str) -> Version {
    match ImageRef::parse(reference) {
        Ok(r) => r.version(),
        Err(_) => Version::new(Some(reference), None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(tag: &str) -> Version {
        Version::new(Some(tag), None)
    }

    fn image() -> ImageRef {
        ImageRef::parse("registry.example.com/root/helloworld").unwrap()
    }

    fn file(path: &str, before: &str, after: &str) -> FileChange {
        FileChange {
            path: path.into(),
            before: before.into(),
            after: after.into(),
        }
    }

    const DEPLOY: &str = "spec:\n  template:\n    spec:\n      containers:\n        - name: app\n          image: registry.example.com/root/helloworld:TAG\n        - name: side\n          image: registry.example.com/root/other:1\n";

    #[test]
    fn versions_come_from_the_files_before_and_after() {
        let files = [
            file(
                "base/deployment.yml",
                &DEPLOY.replace("TAG", "ci-34"),
                &DEPLOY.replace("TAG", "ci-36"),
            ),
            file("README.md.yml", "a: 1\n", "a: 2\n"),
            file(
                "base/kustomization.yaml",
                "images:\n  - name: registry.example.com/root/helloworld\n    newTag: ci-34\n",
                "images:\n  - name: registry.example.com/root/helloworld\n    newTag: ci-36\n",
            ),
        ];
        let change = image_change(&files, &image()).unwrap();
        assert_eq!(change.before, [v("ci-34")]);
        assert_eq!(change.after, [v("ci-36")]);
        assert_eq!(
            change.files,
            ["base/deployment.yml", "base/kustomization.yaml"]
        );
    }

    #[test]
    fn several_previous_versions_are_all_listed() {
        let two = "a:\n  image: registry.example.com/root/helloworld:ci-33\nb:\n  image: registry.example.com/root/helloworld:ci-34\n";
        let change = image_change(
            &[file(
                "v.yaml",
                two,
                &two.replace("ci-33", "ci-36").replace("ci-34", "ci-36"),
            )],
            &image(),
        )
        .unwrap();
        assert_eq!(change.before, [v("ci-33"), v("ci-34")]);
        assert_eq!(change.after, [v("ci-36")]);
    }

    #[test]
    fn bumps_are_recognised_byte_for_byte() {
        let target = [crate::forms::Target {
            image: image().at(&v("ci-35")),
            setter: None,
        }];
        let before = DEPLOY.replace("TAG", "ci-34");
        assert!(is_bump_of(
            &before,
            &DEPLOY.replace("TAG", "ci-35"),
            &target
        ));
        assert!(!is_bump_of(
            &before,
            &DEPLOY.replace("TAG", "ci-36"),
            &target
        ));
        assert!(!is_bump_of(
            &before,
            &(DEPLOY.replace("TAG", "ci-35") + "# extra\n"),
            &target
        ));
        assert!(!is_bump_of(
            &DEPLOY.replace("TAG", "ci-35"),
            &DEPLOY.replace("TAG", "ci-35"),
            &target
        ));
    }

    #[test]
    fn two_images_in_one_document_are_one_bump() {
        let other = ImageRef::parse("registry.example.com/root/other:2").unwrap();
        let targets = [
            crate::forms::Target {
                image: image().at(&v("ci-35")),
                setter: None,
            },
            crate::forms::Target {
                image: other,
                setter: None,
            },
        ];
        let before = DEPLOY.replace("TAG", "ci-34");
        let after = before
            .replace("helloworld:ci-34", "helloworld:ci-35")
            .replace("other:1", "other:2");
        let bump = crate::bump::bump_targets(&before, &targets).unwrap();
        assert_eq!(bump.edited.as_deref(), Some(after.as_str()));
        let changes: Vec<(usize, usize, &str)> = bump
            .changes
            .iter()
            .map(|c| (c.image, c.line, c.new.as_str()))
            .collect();
        assert_eq!(
            changes,
            [
                (0, 6, "registry.example.com/root/helloworld:ci-35"),
                (1, 8, "registry.example.com/root/other:2")
            ]
        );
        assert!(is_bump_of(&before, &after, &targets));
        // Either image alone does not write these bytes: the other one's edit is foreign.
        assert!(!is_bump_of(&before, &after, &targets[..1]));
        assert!(!is_bump_of(&before, &after, &targets[1..]));
        // Nothing left to change: a rerun is a no-op.
        let again = crate::bump::bump_targets(&after, &targets).unwrap();
        assert_eq!((again.edited, again.current.len()), (None, 2));
    }

    #[test]
    fn untouched_and_reshaped_files_are_refused() {
        let same = DEPLOY.replace("TAG", "ci-34");
        assert!(matches!(
            image_change(&[file("d.yml", &same, &same)], &image()),
            Err(ChangeError::Untouched { .. })
        ));
        let added = format!(
            "{same}---\nkind: Pod\nspec:\n  containers:\n    - image: registry.example.com/root/helloworld:ci-99\n"
        );
        let err = image_change(&[file("d.yml", &same, &added)], &image()).unwrap_err();
        assert!(
            matches!(
                err,
                ChangeError::Reshaped {
                    before: 1,
                    after: 2,
                    ..
                }
            ),
            "{err}"
        );
        assert!(matches!(
            image_change(&[file("d.yml", "a: [", &same)], &image()),
            Err(ChangeError::Unreadable { .. })
        ));
    }
}
