//! Property test for issue 11's accounting: generated repositories mixing every form (and
//! near-miss repositories, CI files, templated documents, kustomization file names, CRLF).
//! Each block the generator writes knows what must become of its mention of the image:
//! edited (to exactly the expected bytes), already current, skipped with a reason, or
//! nothing at all when it names another repository. A mention that ends up in none of these
//! classes, or in the wrong one, fails the test. Driven through the library's examiner, the
//! same code the binary runs on each file it walks.

use gitops_bot::bump::{BumpPlan, Examiner};
use gitops_bot::forms::Target;
use gitops_bot::image_ref::ImageRef;
use proptest::prelude::*;

const REPO: &str = "registry.example.com/group/app";
const NEW: &str = "v9.9.9-new";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Class {
    Edited,
    Current,
    Skipped,
    NotReference,
}

#[derive(Debug, Clone)]
struct Block {
    kind: u8,
    target: bool,
    repo: &'static str,
    tag: String,
}

fn block() -> impl Strategy<Value = Block> {
    (
        0u8..12,
        prop_oneof![
            3 => Just((REPO, true)),
            1 => Just(("registry.example.com/group/app-extra", false)),
            1 => Just(("registry.example.com/other/app", false)),
        ],
        "v[0-9]\\.[0-9]{1,2}",
    )
        .prop_map(|(kind, (repo, target), tag)| Block {
            kind,
            target,
            repo,
            tag,
        })
}

impl Block {
    /// The block's text before and after the bump, and what becomes of its mention.
    fn render(&self, n: usize) -> (String, String, Class) {
        let (r, t) = (self.repo, self.tag.as_str());
        let text = |t: &str| match self.kind {
            0 => format!("c{n}:\n  containers:\n  - name: x\n    image: {r}:{t}\n"),
            1 => format!("h{n}:\n  repository: {r}\n  tag: {t}\n"),
            2 => format!(
                "a{n}: &a{n}\n  repository: {r}\n  tag: {t}\nm{n}:\n  <<: *a{n}\n  tag: {t}\n"
            ),
            3 => {
                format!("k{n}:\n  images:\n  - name: alias{n}\n    newName: {r}\n    newTag: {t}\n")
            }
            4 => format!(
                "q{n}:\n  images:\n  - name: {r}:{}\n    newTag: {t}\n",
                self.tag
            ),
            5 => format!("v{n}:\n  volumes:\n  - name: m\n    image:\n      reference: {r}:{t}\n"),
            6 => format!("i{n}:\n  initImage: {r}:{t}\n"),
            7 => format!("g{n}:\n  args: [\"--image={r}:{t}\"]\n"),
            8 => format!("p{n}:\n  patch: |\n    value: {r}:{t}\n"),
            9 => format!("e{n}:\n  UPSTREAM_IMAGE: {r}:{t}\n"),
            10 => format!("t{n}:\n  image: {r}:${{TAG}}\n"),
            _ => format!("u{n}:\n  containers:\n  - image: {r}:{NEW}\n"),
        };
        let class = match (self.target, self.kind) {
            (false, _) => Class::NotReference,
            (true, 0..=6) => Class::Edited,
            (true, 7..=10) => Class::Skipped,
            (true, _) => Class::Current,
        };
        let new = if class == Class::Edited {
            text(NEW)
        } else {
            text(t)
        };
        (text(t), new, class)
    }
}

#[derive(Debug, Clone)]
struct File {
    /// 0: values.yaml, 1: kustomization.yml, 2: Kustomization, 3: .gitlab-ci.yml,
    /// 4: a chart template whose second document holds template actions.
    kind: u8,
    blocks: Vec<Block>,
    crlf: bool,
}

fn file() -> impl Strategy<Value = File> {
    (0u8..5, prop::collection::vec(block(), 1..8), any::<bool>())
        .prop_map(|(kind, blocks, crlf)| File { kind, blocks, crlf })
}

struct Expected {
    path: String,
    old: String,
    new: String,
    /// (first line, last line, class) per block.
    blocks: Vec<(usize, usize, Class)>,
}

fn expect(i: usize, f: &File) -> Expected {
    let path = match f.kind {
        0 => format!("apps/a{i}/values.yaml"),
        1 => format!("apps/a{i}/kustomization.yml"),
        2 => format!("apps/a{i}/Kustomization"),
        3 => ".gitlab-ci.yml".to_string(),
        _ => format!("charts/c{i}/templates/t.yaml"),
    };
    let (mut old, mut new, mut blocks) = (String::new(), String::new(), Vec::new());
    let templated_from = f.blocks.len() / 2;
    for (n, b) in f.blocks.iter().enumerate() {
        if f.kind == 4 && n == templated_from {
            let marker = "---\nname: {{ .Release.Name }}\n";
            old.push_str(marker);
            new.push_str(marker);
        }
        let (o, w, mut class) = b.render(n);
        let not_yaml = f.kind == 3 || (f.kind == 4 && n >= templated_from);
        if not_yaml && class != Class::NotReference {
            class = Class::Skipped;
        }
        let first = old.lines().count() + 1;
        old.push_str(&o);
        new.push_str(if not_yaml { &o } else { &w });
        blocks.push((first, old.lines().count(), class));
    }
    let eol = |t: String| if f.crlf { t.replace('\n', "\r\n") } else { t };
    Expected {
        path,
        old: eol(old),
        new: eol(new),
        blocks,
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]
    #[test]
    fn every_mention_is_edited_current_skipped_or_another_repository(
        files in prop::collection::vec(file(), 1..6),
    ) {
        let target = Target {
            image: ImageRef::parse(&format!("{REPO}:{NEW}")).unwrap(),
            setter: None,
        };
        let examiner = Examiner::new(&target, &[]);
        let expected: Vec<Expected> = files.iter().enumerate().map(|(i, f)| expect(i, f)).collect();
        // One CI file at most: later ones would share its path.
        let expected: Vec<Expected> = expected.into_iter().fold(Vec::new(), |mut acc, e| {
            if !acc.iter().any(|a: &Expected| a.path == e.path) {
                acc.push(e);
            }
            acc
        });
        let examined = expected.iter().map(|e| examiner.examine(&e.path, e.old.as_bytes()));
        let plan = BumpPlan::gather(expected.len(), examined, Vec::new());
        prop_assert!(plan.warnings.is_empty(), "{:?}", plan.warnings);

        let reports: Vec<(&str, usize, Class)> = plan
            .changes()
            .map(|(p, c)| (p, c.line, Class::Edited))
            .chain(plan.current().map(|(p, k)| (p, k.line, Class::Current)))
            .chain(plan.skipped().map(|(p, k)| (p, k.line, Class::Skipped)))
            .collect();
        for e in &expected {
            for &(first, last, class) in &e.blocks {
                let here: Vec<Class> = reports
                    .iter()
                    .filter(|(p, line, _)| *p == e.path && (first..=last).contains(line))
                    .map(|r| r.2)
                    .collect();
                match class {
                    Class::NotReference => prop_assert!(here.is_empty(), "{}:{first}-{last}: another repository reported as {here:?}\n{}", e.path, e.old),
                    _ => prop_assert!(
                        !here.is_empty() && here.iter().all(|c| *c == class),
                        "{}:{first}-{last}: expected {class:?}, reported {here:?}\n{}", e.path, e.old
                    ),
                }
            }
            let edited = plan
                .changed_files()
                .find(|(f, _)| f.path == e.path)
                .map_or(e.old.as_str(), |(_, text)| text);
            prop_assert_eq!(edited, e.new.as_str(), "{}", e.path);
            let again = examiner.examine(&e.path, edited.as_bytes());
            let plan = BumpPlan::gather(1, [again], Vec::new());
            prop_assert_eq!(plan.changes().count(), 0, "{}: a second run changes something", e.path);
        }
    }
}
