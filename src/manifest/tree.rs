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

    /// The value under scalar key `key` in the mapping behind `id`.
    pub fn get(&self, id: NodeId, key: &str) -> Option<NodeId> {
        self.entries(id)
            .iter()
            .find(|(k, _)| self.scalar(*k).is_some_and(|s| s.value == key))
            .map(|(_, v)| *v)
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
