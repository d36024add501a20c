//! A file as the parts a bump handles on their own: the whole file when it is YAML, else,
//! when Go/Helm template actions (`{{ … }}`) keep it from parsing, each `---` document on its
//! own. Documents without template actions are parsed and bumped like any YAML; templated
//! documents are only searched for mentions of the image, to be listed as skipped.

use std::ops::Range;

use crate::manifest::{TreeError, YamlFile};

pub(crate) enum Part<'t> {
    Yaml {
        /// Byte offset and line count of the part's start in the file.
        offset: usize,
        lines: usize,
        text: &'t str,
        file: YamlFile,
    },
    Templated {
        lines: usize,
        text: &'t str,
    },
}

/// Marks Go templates; YAML itself never needs `{{` outside quoted or block text.
const TEMPLATE_ACTION: &str = "{{";

/// The parts of `text`, or the first YAML error of a part without template actions (its
/// position in the whole file). A document holds template actions when it contains `{{` and
/// YAML cannot read it, or reads it only as mapping keys made of mappings (what an unquoted
/// `{{ .Release.Name }}` parses as); `{{` inside a quoted value is just text.
pub(crate) fn parts(text: &str) -> Result<Vec<Part<'_>>, TreeError> {
    let maybe_templated = text.contains(TEMPLATE_ACTION);
    match YamlFile::parse(text) {
        Ok(file) if !(maybe_templated && file.has_complex_keys()) => {
            return Ok(vec![Part::Yaml {
                offset: 0,
                lines: 0,
                text,
                file,
            }]);
        }
        Err(e) if !maybe_templated => return Err(e),
        _ => {}
    }
    let mut parts = Vec::new();
    let mut lines = 0;
    for range in documents(text) {
        let offset = range.start;
        let part = &text[range];
        let parsed = YamlFile::parse(part);
        let templated = part.contains(TEMPLATE_ACTION)
            && parsed.as_ref().map_or(true, YamlFile::has_complex_keys);
        if templated {
            parts.push(Part::Templated { lines, text: part });
        } else {
            parts.push(Part::Yaml {
                offset,
                lines,
                text: part,
                file: parsed.map_err(|e| e.shifted(lines))?,
            });
        }
        lines += part.matches('\n').count();
    }
    Ok(parts)
}

/// Byte ranges of the documents of `text`: a new one starts at each line that is a
/// document marker (`---` alone or followed by a blank).
fn documents(text: &str) -> Vec<Range<usize>> {
    let mut starts = vec![0];
    let mut at = 0;
    for line in text.split_inclusive('\n') {
        if at > 0 && is_document_marker(line) {
            starts.push(at);
        }
        at += line.len();
    }
    starts.push(text.len());
    starts.windows(2).map(|w| w[0]..w[1]).collect()
}

fn is_document_marker(line: &str) -> bool {
    line.strip_prefix("---")
        .is_some_and(|rest| rest.is_empty() || rest.starts_with([' ', '\t', '\r', '\n']))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documents_split_at_markers_only() {
        let text = "a: 1\n---\nb: '---'\n--- # c\n----\n---";
        let docs: Vec<&str> = documents(text).into_iter().map(|r| &text[r]).collect();
        assert_eq!(
            docs,
            ["a: 1\n", "---\nb: '---'\n", "--- # c\n----\n", "---"]
        );
    }

    #[test]
    fn yaml_is_one_part_and_templates_split_by_document() {
        assert_eq!(parts("a: 1\n---\nb: 2\n").unwrap().len(), 1);
        let text = "a: 1\r\n---\r\nb: {{ .Values.b }}\r\n  c: [\r\n---\r\nd: 2\r\n";
        let kinds: Vec<(bool, usize, usize)> = parts(text)
            .unwrap()
            .iter()
            .map(|p| match p {
                Part::Yaml { offset, lines, .. } => (true, *offset, *lines),
                Part::Templated { lines, .. } => (false, 0, *lines),
            })
            .collect();
        assert_eq!(kinds, [(true, 0, 0), (false, 0, 1), (true, 39, 4)]);
    }

    #[test]
    fn unquoted_template_actions_make_a_document_templated_quoted_ones_do_not() {
        let templated = |text| {
            parts(text)
                .unwrap()
                .iter()
                .map(|p| matches!(p, Part::Templated { .. }))
                .collect::<Vec<_>>()
        };
        assert_eq!(
            templated("a: 1\n---\nname: {{ .Release.Name }}\n"),
            [false, true]
        );
        assert_eq!(templated("a: \"{{ .Values.a }}\"\n---\nb: 1\n"), [false]);
        assert_eq!(templated("{? {a: 1}: 1}\n"), [false]);
    }

    #[test]
    fn a_broken_document_without_templates_is_an_error_at_its_file_line() {
        let err = parts("a: {{ x }}\n---\nb: 1\n  c: 2\n").err().unwrap();
        assert_eq!(err.line(), 4, "{err}");
        assert!(parts("a: b\n  c: d\n").is_err());
    }
}
