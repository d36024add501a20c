//! A read-only YAML node tree that remembers where each node starts, in bytes.
//!
//! Built from `saphyr-parser` events. It keeps every scalar as written (no type resolution,
//! so `1.10` stays `"1.10"`), resolves anchors to node ids without ever expanding aliases
//! (an alias bomb costs one node per alias), and refuses nesting deeper than [`MAX_DEPTH`].
//! It does not know about Kubernetes, images or edits.

use std::collections::HashMap;

use saphyr_parser::{Event, Parser, ScalarStyle, ScanError};

/// Deeper documents are refused: real manifests stay far below, and the tree walkers recurse.
pub const MAX_DEPTH: usize = 256;

pub type NodeId = usize;

/// The YAML 1.1 merge key, which Kubernetes (go-yaml), Helm and kustomize all honour.
const MERGE_KEY: &str = "<<";
/// Merge keys followed through at most this many levels (merges of merges).
const MAX_MERGE_DEPTH: usize = 32;

#[derive(Debug, Clone)]
pub struct Scalar {
    pub value: String,
    pub style: ScalarStyle,
    /// Byte offset where the node starts (its anchor or tag, if any, else its first byte).
    pub start: usize,
    /// 1-based line and column (column in characters).
    pub line: usize,
    pub column: usize,
}

impl Scalar {
    /// A literal (`|`) or folded (`>`) block scalar: text, not a one-line value.
    pub fn is_block(&self) -> bool {
        matches!(self.style, ScalarStyle::Literal | ScalarStyle::Folded)
    }
}

#[derive(Debug, Clone)]
pub enum Node {
    Scalar(Scalar),
    Mapping {
        entries: Vec<(NodeId, NodeId)>,
        start: usize,
    },
    Sequence {
        items: Vec<NodeId>,
    },
    Alias(NodeId),
}

/// All documents of one file, sharing one node arena.
#[derive(Debug, Default)]
pub struct YamlFile {
    nodes: Vec<Node>,
    pub documents: Vec<NodeId>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TreeError {
    #[error("{line}:{column}: {message}")]
    Syntax {
        line: usize,
        column: usize,
        message: String,
    },
    #[error("{line}:{column}: nesting deeper than {MAX_DEPTH} levels")]
    TooDeep { line: usize, column: usize },
}

impl TreeError {
    pub fn line(&self) -> usize {
        match self {
            TreeError::Syntax { line, .. } | TreeError::TooDeep { line, .. } => *line,
        }
    }

    pub fn column(&self) -> usize {
        match self {
            TreeError::Syntax { column, .. } | TreeError::TooDeep { column, .. } => *column,
        }
    }

    /// The same error in a file where the parsed text starts after `lines` more lines.
    pub fn shifted(self, lines: usize) -> Self {
        match self {
            TreeError::Syntax {
                line,
                column,
                message,
            } => TreeError::Syntax {
                line: line + lines,
                column,
                message,
            },
            TreeError::TooDeep { line, column } => TreeError::TooDeep {
                line: line + lines,
                column,
            },
        }
    }

    /// The message without its position.
    pub fn message(&self) -> String {
        match self {
            TreeError::Syntax { message, .. } => message.clone(),
            TreeError::TooDeep { .. } => format!("nesting deeper than {MAX_DEPTH} levels"),
        }
    }
}

impl YamlFile {
    pub fn parse(text: &str) -> Result<YamlFile, TreeError> {
        Builder::new(text).run()
    }

    pub fn node(&self, id: NodeId) -> &Node {
        &self.nodes[id]
    }

    /// Follows aliases to the node they name.
    pub fn resolve(&self, mut id: NodeId) -> NodeId {
        // Aliases only ever point at earlier, non-alias nodes, so this ends.
        while let Node::Alias(target) = self.nodes[id] {
            id = target;
        }
        id
    }

    /// The scalar behind `id` (through aliases), if it is one.
    pub fn scalar(&self, id: NodeId) -> Option<&Scalar> {
        match &self.nodes[self.resolve(id)] {
            Node::Scalar(s) => Some(s),
            _ => None,
        }
    }

    /// Entries of the mapping behind `id`, or nothing.
    pub fn entries(&self, id: NodeId) -> &[(NodeId, NodeId)] {
        match &self.nodes[self.resolve(id)] {
            Node::Mapping { entries, .. } => entries,
            _ => &[],
        }
    }

    /// Items of the sequence behind `id`, or nothing.
    pub fn items(&self, id: NodeId) -> &[NodeId] {
        match &self.nodes[self.resolve(id)] {
            Node::Sequence { items } => items,
            _ => &[],
        }
    }

    /// The value under scalar key `key` in the mapping behind `id`, the way Kubernetes, Helm
    /// and kustomize read it: the mapping's own entry, else one inherited through a merge key
    /// (`<<: *a`, `<<: [*a, *b]`, earlier sources first). The value is the node where it is
    /// written, so an inherited value is the anchor's own bytes.
    pub fn get(&self, id: NodeId, key: &str) -> Option<NodeId> {
        self.get_merged(id, key, 0)
    }

    /// The value under `key` written in the mapping itself, ignoring merge keys.
    pub fn get_own(&self, id: NodeId, key: &str) -> Option<NodeId> {
        self.entries(id)
            .iter()
            .find(|(k, _)| self.is_key(*k, key))
            .map(|(_, v)| *v)
    }

    fn get_merged(&self, id: NodeId, key: &str, depth: usize) -> Option<NodeId> {
        if let Some(own) = self.get_own(id, key) {
            return Some(own);
        }
        // A mapping can merge itself through its own anchor: the bound ends such cycles.
        if depth >= MAX_MERGE_DEPTH {
            return None;
        }
        let merged = self.get_own(id, MERGE_KEY)?;
        match &self.nodes[self.resolve(merged)] {
            Node::Mapping { .. } => self.get_merged(merged, key, depth + 1),
            Node::Sequence { items } => items
                .iter()
                .find_map(|&source| self.get_merged(source, key, depth + 1)),
            _ => None,
        }
    }

    fn is_key(&self, id: NodeId, key: &str) -> bool {
        self.scalar(id).is_some_and(|s| s.value == key)
    }

    /// Whether `id` is the key of a merge (`<<`).
    pub fn is_merge_key(&self, id: NodeId) -> bool {
        self.is_key(id, MERGE_KEY)
    }

    /// Whether a mapping has a key that is itself a mapping or a list: never so in Kubernetes
    /// or Helm YAML, but what an unquoted Go template action (`name: {{ .Release.Name }}`)
    /// parses as.
    pub fn has_complex_keys(&self) -> bool {
        self.nodes.iter().any(|node| match node {
            Node::Mapping { entries, .. } => entries.iter().any(|&(key, _)| {
                matches!(
                    self.nodes[self.resolve(key)],
                    Node::Mapping { .. } | Node::Sequence { .. }
                )
            }),
            _ => false,
        })
    }

    /// Every node with its id, in source order.
    pub fn iter(&self) -> impl Iterator<Item = (NodeId, &Node)> {
        self.nodes.iter().enumerate()
    }

    /// The string value under `key`, if it is a scalar.
    pub fn get_str(&self, id: NodeId, key: &str) -> Option<&str> {
        self.get(id, key)
            .and_then(|v| self.scalar(v))
            .map(|s| s.value.as_str())
    }

    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }
}

/// Converts the parser's character offsets into byte offsets, walking forward from the
/// last conversion (events arrive in source order, so this is linear overall).
struct ByteOffsets<'a> {
    text: &'a str,
    ascii: bool,
    chars: usize,
    bytes: usize,
}

impl<'a> ByteOffsets<'a> {
    fn new(text: &'a str) -> Self {
        ByteOffsets {
            text,
            ascii: text.is_ascii(),
            chars: 0,
            bytes: 0,
        }
    }

    fn byte_of(&mut self, char_index: usize) -> usize {
        if self.ascii {
            return char_index.min(self.text.len());
        }
        if char_index < self.chars {
            self.chars = 0;
            self.bytes = 0;
        }
        for c in self.text[self.bytes..].chars() {
            if self.chars == char_index {
                break;
            }
            self.chars += 1;
            self.bytes += c.len_utf8();
        }
        self.bytes
    }
}

enum Open {
    Mapping { id: NodeId, key: Option<NodeId> },
    Sequence { id: NodeId },
}

struct Builder<'a> {
    text: &'a str,
    offsets: ByteOffsets<'a>,
    file: YamlFile,
    stack: Vec<Open>,
    anchors: HashMap<usize, NodeId>,
}

impl<'a> Builder<'a> {
    fn new(text: &'a str) -> Self {
        Builder {
            text,
            offsets: ByteOffsets::new(text),
            file: YamlFile::default(),
            stack: Vec::new(),
            anchors: HashMap::new(),
        }
    }

    fn run(mut self) -> Result<YamlFile, TreeError> {
        let text = self.text;
        for event in Parser::new_from_str(text) {
            let (event, span) = event.map_err(syntax_error)?;
            let start = self.offsets.byte_of(span.start.index());
            let (line, column) = (span.start.line(), span.start.col() + 1);
            match event {
                Event::Scalar(value, style, anchor, _) => {
                    let id = self.push(Node::Scalar(Scalar {
                        value: value.into_owned(),
                        style,
                        start,
                        line,
                        column,
                    }));
                    self.anchor(anchor, id);
                    self.attach(id);
                }
                Event::Alias(anchor) => {
                    let target =
                        self.anchors
                            .get(&anchor)
                            .copied()
                            .ok_or_else(|| TreeError::Syntax {
                                line,
                                column,
                                message: "alias to an unknown anchor".into(),
                            })?;
                    let id = self.push(Node::Alias(target));
                    self.attach(id);
                }
                Event::MappingStart(anchor, _) | Event::SequenceStart(anchor, _) => {
                    if self.stack.len() >= MAX_DEPTH {
                        return Err(TreeError::TooDeep { line, column });
                    }
                    let open = if matches!(event, Event::MappingStart(..)) {
                        let id = self.push(Node::Mapping {
                            entries: Vec::new(),
                            start,
                        });
                        Open::Mapping { id, key: None }
                    } else {
                        let id = self.push(Node::Sequence { items: Vec::new() });
                        Open::Sequence { id }
                    };
                    let id = match open {
                        Open::Mapping { id, .. } | Open::Sequence { id } => id,
                    };
                    self.anchor(anchor, id);
                    self.stack.push(open);
                }
                Event::MappingEnd | Event::SequenceEnd => {
                    if let Some(Open::Mapping { id, .. } | Open::Sequence { id }) = self.stack.pop()
                    {
                        self.attach(id);
                    }
                }
                Event::DocumentStart(_) => self.anchors.clear(),
                Event::StreamStart | Event::StreamEnd | Event::DocumentEnd | Event::Nothing => {}
            }
        }
        Ok(self.file)
    }

    fn push(&mut self, node: Node) -> NodeId {
        self.file.nodes.push(node);
        self.file.nodes.len() - 1
    }

    fn anchor(&mut self, anchor: usize, id: NodeId) {
        if anchor != 0 {
            self.anchors.insert(anchor, id);
        }
    }

    /// Hangs a finished node on its parent, or makes it a document root.
    fn attach(&mut self, id: NodeId) {
        match self.stack.last_mut() {
            None => self.file.documents.push(id),
            Some(Open::Sequence { id: seq }) => {
                if let Node::Sequence { items } = &mut self.file.nodes[*seq] {
                    items.push(id);
                }
            }
            Some(Open::Mapping { id: map, key }) => match key.take() {
                None => *key = Some(id),
                Some(k) => {
                    if let Node::Mapping { entries, .. } = &mut self.file.nodes[*map] {
                        entries.push((k, id));
                    }
                }
            },
        }
    }
}

fn syntax_error(e: ScanError) -> TreeError {
    TreeError::Syntax {
        line: e.marker().line(),
        column: e.marker().col() + 1,
        message: e.info().to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scalar_at<'f>(f: &'f YamlFile, doc: usize, path: &[&str]) -> &'f Scalar {
        let mut id = f.documents[doc];
        for key in path {
            id = f.get(id, key).expect(key);
        }
        f.scalar(id).expect("scalar")
    }

    #[test]
    fn scalars_keep_their_text_and_byte_offsets() {
        let text = "a: 1.10\nb: 'x'\n---\nc: \"é\"\nd: ü\n";
        let f = YamlFile::parse(text).unwrap();
        assert_eq!(f.documents.len(), 2);
        let a = scalar_at(&f, 0, &["a"]);
        assert_eq!(
            (a.value.as_str(), a.start, a.line, a.column),
            ("1.10", 3, 1, 4)
        );
        let d = scalar_at(&f, 1, &["d"]);
        assert_eq!(&text[d.start..d.start + 2], "ü");
        assert_eq!(d.line, 5);
    }

    #[test]
    fn aliases_point_at_the_anchored_node_without_copying() {
        let text = "x: &t 1.0\ny: *t\n";
        let f = YamlFile::parse(text).unwrap();
        let root = f.documents[0];
        let x = f.get(root, "x").unwrap();
        let y = f.get(root, "y").unwrap();
        assert_eq!(f.resolve(y), x);
    }

    #[test]
    fn merge_keys_inherit_with_own_keys_first_and_earlier_sources_winning() {
        let text = "a: &a {x: 1, y: 1}\nb: &b {y: 2, z: 2}\nc:\n  <<: [*a, *b]\n  x: 3\nd: {<<: *b}\ne: &e {<<: *e}\n";
        let f = YamlFile::parse(text).unwrap();
        let root = f.documents[0];
        let at = |m: &str, k: &str| {
            let m = f.get(root, m).unwrap();
            f.get(m, k)
                .and_then(|v| f.scalar(v))
                .map(|s| (s.value.clone(), s.line))
        };
        assert_eq!(at("c", "x"), Some(("3".into(), 5)));
        assert_eq!(at("c", "y"), Some(("1".into(), 1)));
        assert_eq!(at("c", "z"), Some(("2".into(), 2)));
        assert_eq!(at("d", "y"), Some(("2".into(), 2)));
        assert_eq!(at("d", "x"), None);
        // A mapping merging itself is a cycle that ends, not a stack overflow.
        assert_eq!(at("e", "x"), None);
        let c = f.get(root, "c").unwrap();
        assert_eq!(f.get_own(c, "y"), None);
    }

    #[test]
    fn alias_bomb_stays_small() {
        let mut text = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 1..30 {
            let p = i - 1;
            text.push_str(&format!(
                "a{i}: &a{i} [*a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}]\n"
            ));
        }
        let f = YamlFile::parse(&text).unwrap();
        assert!(f.len() < 1000, "{} nodes", f.len());
    }

    #[test]
    fn deep_nesting_is_refused_not_overflowed() {
        let text = "[".repeat(100_000);
        // The parser's own limit may fire first; either way it is an error, not a crash.
        let err = YamlFile::parse(&text).unwrap_err();
        assert!(
            err.to_string().contains("limit") || matches!(err, TreeError::TooDeep { .. }),
            "{err}"
        );
        let text = "a:\n".to_string()
            + &(1..400)
                .map(|i| format!("{}k:\n", " ".repeat(i)))
                .collect::<String>();
        assert!(matches!(
            YamlFile::parse(&text),
            Err(TreeError::TooDeep { .. })
        ));
    }

    #[test]
    fn syntax_errors_carry_line_and_column() {
        let err = YamlFile::parse("a: b\n  c: d\n").unwrap_err();
        assert!(matches!(err, TreeError::Syntax { line: 2, .. }), "{err}");
    }
}
