//! Property test: random config files built from the supported forms, with random quoting,
//! indentation, comments, line endings and final newline. The generator knows the exact bytes
//! expected after the bump, so any byte changed outside a matching reference fails.

use gitops_bot::bump::bump_file;
use gitops_bot::forms::Target;
use gitops_bot::image_ref::ImageRef;
use proptest::prelude::*;

const TARGET_REPO: &str = "registry.example.com/group/app";
const NEW_TAG: &str = "v9.9.9-new";

/// Repositories: spellings of the target, near misses, and others.
fn repo() -> impl Strategy<Value = (String, bool)> {
    prop_oneof![
        Just(("registry.example.com/group/app".to_string(), true)),
        Just(("registry.example.com/group/app-extra".to_string(), false)),
        Just(("registry.example.com/group/ap".to_string(), false)),
        Just(("registry.example.com/other/app".to_string(), false)),
        Just(("nginx".to_string(), false)),
        Just(("docker.io/library/redis".to_string(), false)),
    ]
}

fn tag() -> impl Strategy<Value = String> {
    "v[0-9]{1,2}\\.[0-9]{1,2}(-[a-z0-9]{1,6})?"
}

fn quote() -> impl Strategy<Value = u8> {
    0u8..3
}

fn q(value: &str, style: u8) -> String {
    match style {
        0 => value.to_string(),
        1 => format!("'{value}'"),
        _ => format!("\"{value}\""),
    }
}

fn comment() -> impl Strategy<Value = String> {
    prop_oneof![
        Just(String::new()),
        Just("  # keep me: image: x:1".to_string()),
        Just(" #c".to_string())
    ]
}

#[derive(Debug, Clone)]
enum Block {
    Container {
        repo: (String, bool),
        tag: String,
        quote: u8,
        comment: String,
        dash_first: bool,
    },
    Helm {
        repo: (String, bool),
        tag: String,
        quote: u8,
        comment: String,
    },
    Flow {
        repo: (String, bool),
        tag: String,
    },
    Noise {
        value: String,
        quote: u8,
        comment: String,
    },
}

fn block() -> impl Strategy<Value = Block> {
    prop_oneof![
        (repo(), tag(), quote(), comment(), any::<bool>()).prop_map(
            |(repo, tag, quote, comment, dash_first)| Block::Container {
                repo,
                tag,
                quote,
                comment,
                dash_first
            }
        ),
        (repo(), tag(), quote(), comment()).prop_map(|(repo, tag, quote, comment)| Block::Helm {
            repo,
            tag,
            quote,
            comment
        }),
        (repo(), tag()).prop_map(|(repo, tag)| Block::Flow { repo, tag }),
        ("[a-z]{1,8}( [a-z]{1,8})?", quote(), comment()).prop_map(|(value, quote, comment)| {
            Block::Noise {
                value,
                quote,
                comment,
            }
        }),
    ]
}

/// (old line text, expected new line text) for one block, with `i` as the indent unit.
fn render(n: usize, block: &Block, i: &str, eol: &str) -> (String, String, usize) {
    let version = |repo: &(String, bool), tag: &str| {
        if repo.1 {
            NEW_TAG.to_string()
        } else {
            tag.to_string()
        }
    };
    match block {
        Block::Container {
            repo,
            tag,
            quote,
            comment,
            dash_first,
        } => {
            let line = |t: &str| {
                let image = q(&format!("{}:{t}", repo.0), *quote);
                if *dash_first {
                    format!(
                        "c{n}:{eol}{i}containers:{eol}{i}- image: {image}{comment}{eol}{i}  name: x{eol}"
                    )
                } else {
                    format!(
                        "c{n}:{eol}{i}containers:{eol}{i}- name: x{eol}{i}  image: {image}{comment}{eol}"
                    )
                }
            };
            (line(tag), line(&version(repo, tag)), usize::from(repo.1))
        }
        Block::Helm {
            repo,
            tag,
            quote,
            comment,
        } => {
            let text = |t: &str| {
                format!(
                    "h{n}:{eol}{i}repository: {}{eol}{i}tag: {}{comment}{eol}",
                    repo.0,
                    q(t, *quote)
                )
            };
            (text(tag), text(&version(repo, tag)), usize::from(repo.1))
        }
        Block::Flow { repo, tag } => {
            let text = |t: &str| {
                format!(
                    "f{n}: {{containers: [{{name: x, image: {}:{t}}}]}}{eol}",
                    repo.0
                )
            };
            (text(tag), text(&version(repo, tag)), usize::from(repo.1))
        }
        Block::Noise {
            value,
            quote,
            comment,
        } => {
            let text = format!("n{n}: {}{comment}{eol}", q(value, *quote));
            (text.clone(), text, 0)
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]
    #[test]
    fn bump_changes_exactly_the_matching_reference_bytes(
        blocks in prop::collection::vec(block(), 1..12),
        indent in prop_oneof![Just("  "), Just("    ")],
        crlf in any::<bool>(),
        final_newline in any::<bool>(),
        docs_split in any::<bool>(),
    ) {
        let eol = if crlf { "\r\n" } else { "\n" };
        let (mut old, mut new, mut expected) = (String::new(), String::new(), 0);
        for (n, b) in blocks.iter().enumerate() {
            if docs_split && n > 0 && n % 3 == 0 {
                old.push_str(&format!("---{eol}"));
                new.push_str(&format!("---{eol}"));
            }
            let (o, w, count) = render(n, b, indent, eol);
            old.push_str(&o);
            new.push_str(&w);
            expected += count;
        }
        if !final_newline {
            old.truncate(old.len() - eol.len());
            new.truncate(new.len() - eol.len());
        }
        let target = Target {
            image: ImageRef::parse(&format!("{TARGET_REPO}:{NEW_TAG}")).unwrap(),
            setter: None,
        };
        let result = bump_file(&old, &target).unwrap();
        prop_assert_eq!(result.changes.len(), expected);
        let edited = result.edited.clone().unwrap_or_else(|| old.clone());
        prop_assert_eq!(&edited, &new);
        let again = bump_file(&edited, &target).unwrap();
        prop_assert!(again.changes.is_empty());
    }
}
