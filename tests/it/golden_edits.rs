//! Golden edits: every `tests/fixtures/edits/NAME.yaml` starts with a comment
//! `# bump: --image REF [--setter NS:POLICY]`; bumping it must give exactly the bytes of
//! `NAME.golden.yaml` (the input itself when nothing changes) and the report in
//! `NAME.golden.txt`. Each LF fixture is also bumped as a CRLF file with a byte-order mark,
//! which must give the golden bytes in that spelling and the same report.
//! `UPDATE_GOLDEN=1 cargo test --test it golden_edits` rewrites the goldens; review their
//! diff before committing.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};

use gitops_bot::bump::bump_file;
use gitops_bot::forms::Target;
use gitops_bot::image_ref::ImageRef;
use similar::DiffTag;

fn fixtures() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/edits");
    let mut files: Vec<PathBuf> = fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.extension().is_some_and(|e| e == "yaml")
                && !p.to_string_lossy().ends_with(".golden.yaml")
        })
        .collect();
    files.sort();
    files
}

fn target_of(text: &str, path: &Path) -> Target {
    let header = text
        .trim_start_matches('\u{feff}')
        .lines()
        .next()
        .unwrap_or_default();
    let args: Vec<&str> = header
        .strip_prefix("# bump: ")
        .unwrap_or_else(|| panic!("{}: first line must be `# bump: --image …`", path.display()))
        .split_whitespace()
        .collect();
    let value = |flag: &str| {
        args.iter()
            .position(|a| *a == flag)
            .map(|i| args[i + 1].to_string())
    };
    Target {
        image: ImageRef::parse(&value("--image").expect("--image")).unwrap(),
        setter: value("--setter"),
    }
}

fn check_golden(path: &Path, actual: &[u8], failures: &mut Vec<String>) {
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        fs::write(path, actual).unwrap();
        return;
    }
    let expected = fs::read(path).unwrap_or_default();
    if expected != actual {
        let diff = similar::TextDiff::from_lines(
            String::from_utf8_lossy(&expected),
            String::from_utf8_lossy(actual),
        )
        .unified_diff()
        .header("golden", "actual")
        .to_string();
        failures.push(format!("{} differs:\n{diff}", path.display()));
    }
}

/// The 1-based lines of `before` that an edit to `after` rewrote or removed, and the line
/// numbers that inserted lines take.
fn touched_lines(before: &str, after: &str) -> BTreeSet<usize> {
    let mut lines = BTreeSet::new();
    for op in similar::TextDiff::from_lines(before, after).ops() {
        let (tag, old, new) = op.as_tag_tuple();
        match tag {
            DiffTag::Equal => {}
            DiffTag::Delete | DiffTag::Replace | DiffTag::Insert => {
                lines.extend(old.start + 1..=old.end);
                let added = new.len().saturating_sub(old.len());
                lines.extend(old.end + 1..=old.end + added);
            }
        }
    }
    lines
}

const BOM: char = '\u{feff}';

/// The bumped text (the input when nothing changes or the bump fails) and the report.
fn bump_and_report(text: &str, target: &Target, stem: &str) -> (String, String) {
    let mut report = String::new();
    let output = match bump_file(text, target) {
        Ok(result) => {
            for c in &result.changes {
                writeln!(
                    report,
                    "changed {}:{} {} {} -> {}",
                    c.line,
                    c.column,
                    c.form.as_str(),
                    c.old,
                    c.new
                )
                .unwrap();
            }
            for k in &result.current {
                writeln!(
                    report,
                    "current {}:{} {} {}",
                    k.line,
                    k.column,
                    k.form.as_str(),
                    k.reference
                )
                .unwrap();
            }
            for k in &result.skipped {
                writeln!(
                    report,
                    "skipped {}:{} {} {}: {}",
                    k.line,
                    k.column,
                    k.form.as_str(),
                    k.reference,
                    k.reason.as_deref().unwrap_or_default()
                )
                .unwrap();
            }
            let out = result.edited.unwrap_or_else(|| text.to_string());
            let touched = touched_lines(text, &out);
            for c in &result.changes {
                assert!(
                    touched.contains(&c.line),
                    "{stem}: change {} -> {} is reported at line {}, which the edit leaves alone (edited lines: {touched:?})",
                    c.old,
                    c.new,
                    c.line
                );
            }
            let again = bump_file(&out, target).unwrap();
            assert!(
                again.changes.is_empty(),
                "{stem}: a second run changes {:?}",
                again.changes
            );
            out
        }
        Err(e) => {
            writeln!(report, "error {e}").unwrap();
            text.to_string()
        }
    };
    if report.is_empty() {
        report.push_str("no reference\n");
    }
    (output, report)
}

#[test]
fn fixtures_bump_to_their_goldens() {
    let files = fixtures();
    assert!(files.len() >= 10, "only {} fixtures", files.len());
    let mut failures = Vec::new();
    for path in files {
        let text = fs::read_to_string(&path).unwrap();
        let target = target_of(&text, &path);
        let stem = path.file_stem().unwrap().to_string_lossy().into_owned();
        let dir = path.parent().unwrap();
        let (output, report) = bump_and_report(&text, &target, &stem);
        if !text.contains('\r') && !text.starts_with(BOM) {
            let crlf = |t: &str| format!("{BOM}{}", t.replace('\n', "\r\n"));
            let (crlf_output, crlf_report) = bump_and_report(&crlf(&text), &target, &stem);
            if crlf_output != crlf(&output) || crlf_report != report {
                failures.push(format!(
                    "{stem}: the CRLF + BOM variant differs:\n{crlf_report}\n{crlf_output:?}"
                ));
            }
        }
        check_golden(
            &dir.join(format!("{stem}.golden.yaml")),
            output.as_bytes(),
            &mut failures,
        );
        check_golden(
            &dir.join(format!("{stem}.golden.txt")),
            report.as_bytes(),
            &mut failures,
        );
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
