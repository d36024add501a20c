//! Container image references: `[registry[:port]/]repository[:tag][@digest]`.
//!
//! This module is the one parser and formatter gitops-bot has for image
//! references. It follows the grammar of the Go library
//! `github.com/distribution/reference` (`reference.go`, `regexp.go`, the
//! Docker Hub rules of `normalize.go`) and the digest checks of
//! `github.com/opencontainers/go-digest`, so a string is accepted here when
//! `ParseNormalizedNamed` (what `docker pull` uses) accepts it. Values keep the
//! exact spelling they were written with, so rewriting a tag never respells
//! the repository; comparing repositories goes through Docker Hub
//! normalisation instead (`nginx` is `docker.io/library/nginx`).
//!
//! It refuses to do anything else: no I/O, no registry lookups, no YAML or
//! template handling. Callers hand it one scalar at a time, and anything that
//! is not a literal reference (`{{ .Values.image }}`, `${IMAGE}`, padded
//! strings) is simply invalid. There is no regex engine: every rule is a short
//! byte scanner, because this runs on every image-like scalar of large repos.

use std::fmt;
use std::str::FromStr;

/// Registry assumed when none is written (`normalize.go` `defaultDomain`).
const DEFAULT_DOMAIN: &str = "docker.io";
/// Old Docker Hub host, normalised to [`DEFAULT_DOMAIN`].
const LEGACY_DEFAULT_DOMAIN: &str = "index.docker.io";
/// Namespace of single-component Docker Hub names (`nginx` → `library/nginx`).
const OFFICIAL_REPO_PREFIX: &str = "library/";
/// `RepositoryNameTotalLengthMax`. Current upstream measures the path only
/// (the domain does not count), after normalisation.
const NAME_MAX: usize = 255;
/// A tag is one word character plus at most 127 more.
const TAG_MAX: usize = 128;

/// Every way a string can fail to be an image reference.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ImageRefError {
    /// The input was the empty string.
    #[error("empty reference")]
    Empty,
    /// The repository name does not follow the grammar (bad characters,
    /// separators, empty components, malformed registry host or port...).
    #[error("invalid reference format: {0:?}")]
    InvalidFormat(String),
    /// The repository path has capital letters; registries only allow lowercase.
    #[error("repository name must be lowercase: {0:?}")]
    NameNotLowercase(String),
    /// The normalised repository path is longer than 255 characters.
    #[error("repository name {0:?} is longer than 255 characters")]
    NameTooLong(String),
    /// A bare 64-hex string is an image id; Docker refuses it as a name.
    #[error("invalid repository name {0:?}: a 64-character hex string is an image id, not a name")]
    HexIdentifier(String),
    /// The text after ':' is not a valid tag.
    #[error(
        "invalid tag {0:?}: a tag is 1-128 characters of letters, digits, '_', '.', '-', not starting with '.' or '-'"
    )]
    InvalidTag(String),
    /// The text after '@' is not a well-formed digest.
    #[error("invalid digest {digest:?}: {reason}")]
    InvalidDigest {
        digest: String,
        reason: &'static str,
    },
    /// The digest is well-formed but uses an algorithm other than sha256/384/512.
    #[error("unsupported digest algorithm in {0:?}: only sha256, sha384 and sha512 are known")]
    UnsupportedDigest(String),
    /// A repository name was expected but a tag or digest was given too.
    #[error("expected a repository name without tag or digest: {0:?}")]
    NotARepositoryName(String),
}

/// A repository name as written (no tag, no digest), e.g. `nginx`, `ghcr.io/org/app`, `localhost:5000/x`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RepositoryName {
    /// The name exactly as written.
    text: String,
    /// Byte offset where the path starts: 0 when no registry was written,
    /// otherwise one past the '/' that ends the registry.
    path_start: usize,
}

impl RepositoryName {
    /// Parses a bare repository name; a tag or digest is an error.
    pub fn parse(s: &str) -> Result<Self, ImageRefError> {
        let (name, parts) = parse_name_of(s)?;
        if parts.tag.is_some() || parts.digest.is_some() {
            return Err(ImageRefError::NotARepositoryName(s.to_owned()));
        }
        Ok(name)
    }

    /// The name exactly as written.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The registry, normalised: `docker.io` when none is written, and
    /// `index.docker.io` becomes `docker.io`.
    pub fn domain(&self) -> &str {
        match self.written_domain() {
            None | Some(LEGACY_DEFAULT_DOMAIN) => DEFAULT_DOMAIN,
            Some(domain) => domain,
        }
    }

    /// The normalised path: `library/nginx` for a one-component Docker Hub name.
    pub fn path(&self) -> String {
        let (prefix, rest) = self.path_parts();
        format!("{prefix}{rest}")
    }

    /// `domain/path`, e.g. `docker.io/library/nginx`.
    pub fn canonical(&self) -> String {
        let (prefix, rest) = self.path_parts();
        format!("{}/{prefix}{rest}", self.domain())
    }

    /// The last path component (`nginx`), for cheap substring pre-filtering.
    pub fn last_component(&self) -> &str {
        match self.text.rfind('/') {
            Some(slash) => &self.text[slash + 1..],
            None => &self.text,
        }
    }

    /// True when both names denote the same repository after normalisation
    /// (`nginx` and `index.docker.io/library/nginx`). Does not allocate.
    pub fn same_repository(&self, other: &RepositoryName) -> bool {
        let (p1, r1) = self.path_parts();
        let (p2, r2) = other.path_parts();
        self.domain() == other.domain()
            && p1.len() + r1.len() == p2.len() + r2.len()
            && p1
                .bytes()
                .chain(r1.bytes())
                .eq(p2.bytes().chain(r2.bytes()))
    }

    fn written_domain(&self) -> Option<&str> {
        self.path_start.checked_sub(1).map(|end| &self.text[..end])
    }

    /// The normalised path as (implicit prefix, written path), so callers can
    /// compare or measure it without allocating.
    fn path_parts(&self) -> (&'static str, &str) {
        let written = &self.text[self.path_start..];
        if self.domain() == DEFAULT_DOMAIN && !written.contains('/') {
            (OFFICIAL_REPO_PREFIX, written)
        } else {
            ("", written)
        }
    }
}

/// The version part of a reference: a tag, a digest, or both. Shown as people read it:
/// `ci-35`, `ci-35@sha256:…`, `@sha256:…` (empty when neither).
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct Version {
    pub tag: Option<String>,
    pub digest: Option<String>,
}

impl Version {
    /// From parts, an empty tag or digest counting as none.
    pub fn new(tag: Option<&str>, digest: Option<&str>) -> Version {
        let some = |s: Option<&str>| s.filter(|s| !s.is_empty()).map(str::to_owned);
        Version {
            tag: some(tag),
            digest: some(digest),
        }
    }

    /// Parses what [`Version`]'s `Display` writes (`ci-35`, `1@sha256:…`, `@sha256:…`),
    /// checking the tag and the digest.
    pub fn parse(s: &str) -> Result<Version, ImageRefError> {
        let (tag, digest) = match s.split_once('@') {
            Some((tag, digest)) => (Some(tag).filter(|t| !t.is_empty()), Some(digest)),
            None => (Some(s), None),
        };
        if let Some(tag) = tag
            && !is_valid_tag(tag)
        {
            return Err(ImageRefError::InvalidTag(tag.to_owned()));
        }
        if let Some(digest) = digest {
            check_digest(digest)?;
        }
        Ok(Version::new(tag, digest))
    }

    /// For titles: a digest cut to 12 hexadecimal digits (`ci-35@sha256:0123456789ab`).
    pub fn short(&self) -> String {
        let digest = self.digest.as_deref().map(|d| match d.split_once(':') {
            Some((algorithm, hex)) if hex.len() > 12 => format!("{algorithm}:{}", &hex[..12]),
            _ => d.to_string(),
        });
        Version {
            tag: self.tag.clone(),
            digest,
        }
        .to_string()
    }

    /// `:tag@digest`, `:tag`, `@digest` or nothing: what follows a repository name.
    fn suffix(&self) -> String {
        let mut out = String::new();
        if let Some(tag) = &self.tag {
            out.push(':');
            out.push_str(tag);
        }
        if let Some(digest) = &self.digest {
            out.push('@');
            out.push_str(digest);
        }
        out
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.tag, &self.digest) {
            (Some(t), Some(d)) => write!(f, "{t}@{d}"),
            (Some(t), None) => f.write_str(t),
            (None, Some(d)) => write!(f, "@{d}"),
            (None, None) => Ok(()),
        }
    }
}

impl serde::Serialize for Version {
    /// As shown: `ci-35`, `ci-35@sha256:…`, `@sha256:…`.
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// `name` followed by `version`: `registry/app:1.2@sha256:…`.
pub fn format_ref(name: &str, version: &Version) -> String {
    format!("{name}{}", version.suffix())
}

/// `name[:tag][@digest]` as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageRef {
    pub name: RepositoryName,
    pub tag: Option<String>,
    pub digest: Option<String>,
}

impl ImageRef {
    /// Parses a full reference; a bare name is fine (tag and digest `None`).
    pub fn parse(s: &str) -> Result<Self, ImageRefError> {
        let (name, parts) = parse_name_of(s)?;
        if let Some(tag) = parts.tag
            && !is_valid_tag(tag)
        {
            return Err(ImageRefError::InvalidTag(tag.to_owned()));
        }
        if let Some(digest) = parts.digest {
            check_digest(digest)?;
        }
        Ok(ImageRef {
            name,
            tag: parts.tag.map(str::to_owned),
            digest: parts.digest.map(str::to_owned),
        })
    }

    /// True when a tag or a digest is present.
    pub fn has_version(&self) -> bool {
        self.tag.is_some() || self.digest.is_some()
    }

    /// Its tag and digest.
    pub fn version(&self) -> Version {
        Version {
            tag: self.tag.clone(),
            digest: self.digest.clone(),
        }
    }

    /// The same repository, spelled the same, at `version`.
    pub fn at(&self, version: &Version) -> ImageRef {
        ImageRef {
            name: self.name.clone(),
            tag: version.tag.clone(),
            digest: version.digest.clone(),
        }
    }

    /// Same repository spelling as `self`, with the given tag and digest: `nginx:1.25`.with_version(Some("1.26"), None) == "nginx:1.26".
    ///
    /// Only formats: check new values with [`is_valid_tag`] / [`is_valid_digest`] first.
    pub fn with_version(&self, tag: Option<&str>, digest: Option<&str>) -> String {
        format_ref(self.name.as_str(), &Version::new(tag, digest))
    }
}

impl fmt::Display for ImageRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&format_ref(self.name.as_str(), &self.version()))
    }
}

impl FromStr for ImageRef {
    type Err = ImageRefError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ImageRef::parse(s)
    }
}

/// `[\w][\w.-]{0,127}` with `\w` = ASCII letters, digits, '_'.
pub fn is_valid_tag(s: &str) -> bool {
    match s.as_bytes().split_first() {
        Some((&first, rest)) => {
            s.len() <= TAG_MAX
                && is_word(first)
                && rest.iter().all(|&b| is_word(b) || b == b'.' || b == b'-')
        }
        None => false,
    }
}

/// A digest the Go library's `Parse` accepts: the reference grammar plus
/// go-digest's exact length/lowercase rules for sha256, sha384 and sha512.
pub fn is_valid_digest(s: &str) -> bool {
    check_digest(s).is_ok()
}

/// A reference cut into its pieces, before the tag and digest are checked.
struct Parts<'a> {
    name: &'a str,
    tag: Option<&'a str>,
    digest: Option<&'a str>,
}

/// Checks everything up to and including the name, which both public
/// parsers share. The name is checked first so that a broken name is
/// reported as such rather than as a strange tag (`[::1]` → tag `]`).
fn parse_name_of(s: &str) -> Result<(RepositoryName, Parts<'_>), ImageRefError> {
    if s.is_empty() {
        return Err(ImageRefError::Empty);
    }
    // ParseNormalizedNamed refuses a whole input that looks like an image id.
    if is_identifier(s) {
        return Err(ImageRefError::HexIdentifier(s.to_owned()));
    }
    let parts = split_reference(s);
    Ok((parse_name(parts.name, s)?, parts))
}

fn split_reference(s: &str) -> Parts<'_> {
    // Neither a name nor a tag may contain '@', so the first one starts the digest.
    let (rest, digest) = match s.split_once('@') {
        Some((rest, digest)) => (rest, Some(digest)),
        None => (s, None),
    };
    // Only a ':' after the last '/' can start a tag; an earlier one is a port.
    let last_start = rest.rfind('/').map_or(0, |slash| slash + 1);
    match rest[last_start..].rfind(':') {
        Some(colon) => Parts {
            name: &rest[..last_start + colon],
            tag: Some(&rest[last_start + colon + 1..]),
            digest,
        },
        None => Parts {
            name: rest,
            tag: None,
            digest,
        },
    }
}

/// Validates a name with Docker's registry split (`splitDockerDomain`), not
/// the plain regexp split of `Parse`: that is what decides where an image is
/// pulled from. `whole` is the full input, quoted in format errors.
fn parse_name(name: &str, whole: &str) -> Result<RepositoryName, ImageRefError> {
    let path_start = docker_domain_end(name);
    let path = &name[path_start..];
    if !is_path(path) {
        // Only blame capitals when they are the sole problem (Go's `Parse`
        // rule): `{{ .Values.image }}` is not a name that needs lower-casing.
        let lower_ok =
            path.bytes().any(|b| b.is_ascii_uppercase()) && is_path(&path.to_ascii_lowercase());
        return Err(if lower_ok {
            ImageRefError::NameNotLowercase(name.to_owned())
        } else {
            ImageRefError::InvalidFormat(whole.to_owned())
        });
    }
    if let Some(end) = path_start.checked_sub(1) {
        check_domain(&name[..end], name, whole)?;
    }
    let repo = RepositoryName {
        text: name.to_owned(),
        path_start,
    };
    let (prefix, rest) = repo.path_parts();
    if prefix.len() + rest.len() > NAME_MAX {
        return Err(ImageRefError::NameTooLong(name.to_owned()));
    }
    Ok(repo)
}

/// Where the path starts: after the first component if that component is a
/// registry (0 otherwise). A lone component is always a Docker Hub name, even
/// `localhost` or `example.com` (an upstream FIXME we keep for compatibility).
fn docker_domain_end(name: &str) -> usize {
    match name.split_once('/') {
        Some((first, _)) if looks_like_domain(first) => first.len() + 1,
        _ => 0,
    }
}

/// `splitDockerDomain`: a first component is a registry if it has a '.' or a
/// ':', is `localhost`, or has capitals (namespaces cannot, hosts can).
fn looks_like_domain(first: &str) -> bool {
    first == "localhost"
        || first.contains(['.', ':'])
        || first.bytes().any(|b| b.is_ascii_uppercase())
}

fn check_domain(domain: &str, name: &str, whole: &str) -> Result<(), ImageRefError> {
    if is_valid_domain(domain) {
        return Ok(());
    }
    // Go reports "must be lowercase" when lower-casing makes the input valid:
    // `Foo_Bar/x` was taken for a registry only because of its capitals.
    let lower = domain.to_ascii_lowercase();
    if !looks_like_domain(&lower) && is_path_component(&lower) {
        return Err(ImageRefError::NameNotLowercase(name.to_owned()));
    }
    Err(ImageRefError::InvalidFormat(whole.to_owned()))
}

/// `host [":" port]` with host a DNS-like name, a dotted IPv4, or a bracketed
/// IPv6 literal (hex and ':' only: no zone ids, no embedded IPv4).
fn is_valid_domain(domain: &str) -> bool {
    let (host_ok, port) = match domain.strip_prefix('[') {
        Some(rest) => match rest.split_once(']') {
            Some((addr, port)) => (
                !addr.is_empty() && addr.bytes().all(|b| b.is_ascii_hexdigit() || b == b':'),
                port,
            ),
            None => return false,
        },
        None => match domain.find(':') {
            Some(colon) => (is_domain_name(&domain[..colon]), &domain[colon..]),
            None => (is_domain_name(domain), ""),
        },
    };
    // Port numbers are not range-checked, exactly like upstream.
    let port_ok = port.is_empty()
        || port
            .strip_prefix(':')
            .is_some_and(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
    host_ok && port_ok
}

/// Dot-separated components of letters, digits and inner '-'.
fn is_domain_name(host: &str) -> bool {
    host.split('.').all(|part| {
        let b = part.as_bytes();
        b.first().is_some_and(u8::is_ascii_alphanumeric)
            && b.last().is_some_and(u8::is_ascii_alphanumeric)
            && b.iter().all(|&c| c.is_ascii_alphanumeric() || c == b'-')
    })
}

fn is_path(path: &str) -> bool {
    path.split('/').all(is_path_component)
}

/// `[a-z0-9]+ (separator [a-z0-9]+)*` where a separator is exactly ".", "_",
/// "__", or a run of '-'. Walks alternating runs of alnum and non-alnum bytes.
fn is_path_component(component: &str) -> bool {
    let bytes = component.as_bytes();
    let mut i = 0;
    loop {
        let run_start = i;
        while bytes.get(i).is_some_and(|&b| is_lower_alnum(b)) {
            i += 1;
        }
        // Empty alnum run: leading/trailing/doubled separator or empty component.
        if i == run_start {
            return false;
        }
        if i == bytes.len() {
            return true;
        }
        let sep_start = i;
        while bytes.get(i).is_some_and(|&b| !is_lower_alnum(b)) {
            i += 1;
        }
        if !is_separator(&bytes[sep_start..i]) {
            return false;
        }
    }
}

fn is_separator(sep: &[u8]) -> bool {
    matches!(sep, b"." | b"_" | b"__") || (!sep.is_empty() && sep.iter().all(|&b| b == b'-'))
}

fn is_lower_alnum(b: u8) -> bool {
    b.is_ascii_lowercase() || b.is_ascii_digit()
}

fn is_word(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

/// `[a-f0-9]{64}`: what Docker treats as an image id rather than a name.
fn is_identifier(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// The reference grammar (`algorithm ":" hex{32,}`), then go-digest's
/// `Validate`, which `Parse` also runs: known algorithms need their exact
/// lowercase hex length, unknown ones are refused.
fn check_digest(digest: &str) -> Result<(), ImageRefError> {
    let invalid = |reason| ImageRefError::InvalidDigest {
        digest: digest.to_owned(),
        reason,
    };
    // No ':' gives an empty algorithm, which the grammar check refuses.
    let (algorithm, hex) = digest.split_once(':').unwrap_or_default();
    if !is_digest_algorithm(algorithm)
        || hex.len() < 32
        || !hex.bytes().all(|b| b.is_ascii_hexdigit())
    {
        return Err(invalid(
            "expected <algorithm>:<at least 32 hex digits>, e.g. sha256 and 64 hex digits",
        ));
    }
    let (want, reason) = match algorithm {
        "sha256" => (64, "a sha256 digest is exactly 64 lowercase hex digits"),
        "sha384" => (96, "a sha384 digest is exactly 96 lowercase hex digits"),
        "sha512" => (128, "a sha512 digest is exactly 128 lowercase hex digits"),
        _ => return Err(ImageRefError::UnsupportedDigest(digest.to_owned())),
    };
    if hex.len() != want || hex.bytes().any(|b| b.is_ascii_uppercase()) {
        return Err(invalid(reason));
    }
    Ok(())
}

/// Components `[A-Za-z][A-Za-z0-9]*` joined by single '+', '.', '_' or '-'.
fn is_digest_algorithm(algorithm: &str) -> bool {
    algorithm.split(['+', '.', '_', '-']).all(|part| {
        part.as_bytes().first().is_some_and(u8::is_ascii_alphabetic)
            && part.bytes().all(|b| b.is_ascii_alphanumeric())
    })
}

#[cfg(test)]
mod version_tests {
    use super::*;

    #[test]
    fn versions_show_parse_and_shorten() {
        let digest = format!("sha256:{}", "ab".repeat(32));
        for (tag, d, shown) in [
            (Some("1"), None, "1".to_string()),
            (Some("1"), Some(digest.as_str()), format!("1@{digest}")),
            (None, Some(digest.as_str()), format!("@{digest}")),
            (None, None, String::new()),
        ] {
            let v = Version::new(tag, d);
            assert_eq!(v.to_string(), shown);
            if !shown.is_empty() {
                assert_eq!(Version::parse(&shown).unwrap(), v);
            }
        }
        assert_eq!(Version::new(Some(""), Some("")), Version::default());
        assert_eq!(
            Version::new(Some("ci-35"), Some(&digest)).short(),
            "ci-35@sha256:abababababab"
        );
        assert!(Version::parse("-bad").is_err());
        assert!(Version::parse("1@sha256:short").is_err());
        let image = ImageRef::parse("docker.io/library/nginx:1.25").unwrap();
        assert_eq!(
            image.at(&Version::new(Some("1.26"), None)).to_string(),
            "docker.io/library/nginx:1.26"
        );
        assert_eq!(image.version(), Version::new(Some("1.25"), None));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Kind::*;

    // Hex strings shared by the Go tables, spelled out once.
    macro_rules! f64hex {
        () => {
            "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff"
        };
    }
    macro_rules! f128hex {
        () => {
            concat!(f64hex!(), f64hex!())
        };
    }
    macro_rules! be178 {
        () => {
            "sha256:be178c0543eb17f5f3043021c9e5fcf30285e557a4fc309cce97ff9ca6182912"
        };
    }
    macro_rules! dbcc {
        () => {
            "sha256:dbcc1c35ac38df41fd2f5e4130b32ffdb93ebae8b3dbe638c23575912276fc9c"
        };
    }
    macro_rules! e6693 {
        () => {
            "sha256:e6693c20186f837fc393390135d8a598a96a833917917789d63766cab6c59582"
        };
    }
    /// 37 hex digits: passes the reference grammar, fails go-digest.
    macro_rules! d37 {
        () => {
            "sha256:1234567890098765432112345667890098765"
        };
    }

    /// Which variant an error is, so tables can state the expected kind.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    enum Kind {
        Empty,
        Format,
        Lowercase,
        TooLong,
        HexId,
        Tag,
        Digest,
        Unsupported,
        NotName,
    }

    fn kind(e: &ImageRefError) -> Kind {
        match e {
            ImageRefError::Empty => Empty,
            ImageRefError::InvalidFormat(_) => Format,
            ImageRefError::NameNotLowercase(_) => Lowercase,
            ImageRefError::NameTooLong(_) => TooLong,
            ImageRefError::HexIdentifier(_) => HexId,
            ImageRefError::InvalidTag(_) => Tag,
            ImageRefError::InvalidDigest { .. } => Digest,
            ImageRefError::UnsupportedDigest(_) => Unsupported,
            ImageRefError::NotARepositoryName(_) => NotName,
        }
    }

    /// (name as written, normalised domain, tag, digest); "" means absent,
    /// the same convention as the Go tables.
    type Parsed<'a> = (&'a str, &'a str, &'a str, &'a str);

    fn opt(s: &str) -> Option<&str> {
        (!s.is_empty()).then_some(s)
    }

    fn check_parse(input: &str, want: Result<Parsed<'_>, Kind>) {
        match (ImageRef::parse(input), want) {
            (Ok(r), Ok((name, domain, tag, digest))) => {
                assert_eq!(r.name.as_str(), name, "name of {input:?}");
                assert_eq!(r.name.domain(), domain, "domain of {input:?}");
                assert_eq!(r.tag.as_deref(), opt(tag), "tag of {input:?}");
                assert_eq!(r.digest.as_deref(), opt(digest), "digest of {input:?}");
                assert_eq!(r.to_string(), input, "round trip of {input:?}");
            }
            (Err(e), Err(k)) => assert_eq!(kind(&e), k, "error for {input:?}: {e}"),
            (got, want) => panic!("{input:?}: got {got:?}, want {want:?}"),
        }
    }

    fn repo(s: &str) -> RepositoryName {
        RepositoryName::parse(s).unwrap_or_else(|e| panic!("{s:?}: {e}"))
    }

    fn image(s: &str) -> ImageRef {
        ImageRef::parse(s).unwrap_or_else(|e| panic!("{s:?}: {e}"))
    }

    /// canonical name + tag + digest, like Go's `String()` on a normalised ref.
    fn canonical_ref(r: &ImageRef) -> String {
        format_ref(&r.name.canonical(), &r.version())
    }

    // reference_test.go, TestReferenceParse (current upstream). Go's `domain`
    // column is the plain-regexp split of `Parse` ("" when absent, and "a" /
    // "foo" for `a/a/..` and `foo/foo_bar.com`); here it is the normalised
    // registry Docker would contact, so those rows say "docker.io". The rows
    // built with strings.Repeat are in `reference_parse_long_names`.
    const REFERENCE_PARSE: &[(&str, Result<Parsed<'static>, Kind>)] = &[
        ("test_com", Ok(("test_com", "docker.io", "", ""))),
        ("test.com:tag", Ok(("test.com", "docker.io", "tag", ""))),
        ("test.com:5000", Ok(("test.com", "docker.io", "5000", ""))),
        (
            "test.com/repo:tag",
            Ok(("test.com/repo", "test.com", "tag", "")),
        ),
        (
            "test:5000/repo",
            Ok(("test:5000/repo", "test:5000", "", "")),
        ),
        (
            "test:5000/repo:tag",
            Ok(("test:5000/repo", "test:5000", "tag", "")),
        ),
        (
            concat!("test:5000/repo@sha256:", f64hex!()),
            Ok((
                "test:5000/repo",
                "test:5000",
                "",
                concat!("sha256:", f64hex!()),
            )),
        ),
        (
            concat!("test:5000/repo:tag@sha256:", f64hex!()),
            Ok((
                "test:5000/repo",
                "test:5000",
                "tag",
                concat!("sha256:", f64hex!()),
            )),
        ),
        (
            "test:5000/repo",
            Ok(("test:5000/repo", "test:5000", "", "")),
        ),
        ("", Err(Empty)),
        (":justtag", Err(Format)),
        (concat!("@sha256:", f64hex!()), Err(Format)),
        (
            "repo@sha256:ffffffffffffffffffffffffffffffffff",
            Err(Digest),
        ),
        (
            concat!("validname@invaliddigest:", f64hex!()),
            Err(Unsupported),
        ),
        ("Uppercase:tag", Err(Lowercase)),
        ("test:5000/Uppercase/lowercase:tag", Err(Lowercase)),
        (
            "lowercase:Uppercase",
            Ok(("lowercase", "docker.io", "Uppercase", "")),
        ),
        ("aa/asdf$$^/aa", Err(Format)),
        (
            "sub-dom1.foo.com/bar/baz/quux",
            Ok(("sub-dom1.foo.com/bar/baz/quux", "sub-dom1.foo.com", "", "")),
        ),
        (
            "sub-dom1.foo.com/bar/baz/quux:some-long-tag",
            Ok((
                "sub-dom1.foo.com/bar/baz/quux",
                "sub-dom1.foo.com",
                "some-long-tag",
                "",
            )),
        ),
        (
            "b.gcr.io/test.example.com/my-app:test.example.com",
            Ok((
                "b.gcr.io/test.example.com/my-app",
                "b.gcr.io",
                "test.example.com",
                "",
            )),
        ),
        (
            "xn--n3h.com/myimage:xn--n3h.com",
            Ok(("xn--n3h.com/myimage", "xn--n3h.com", "xn--n3h.com", "")),
        ),
        (
            concat!("xn--7o8h.com/myimage:xn--7o8h.com@sha512:", f128hex!()),
            Ok((
                "xn--7o8h.com/myimage",
                "xn--7o8h.com",
                "xn--7o8h.com",
                concat!("sha512:", f128hex!()),
            )),
        ),
        (
            "foo_bar.com:8080",
            Ok(("foo_bar.com", "docker.io", "8080", "")),
        ),
        (
            "foo/foo_bar.com:8080",
            Ok(("foo/foo_bar.com", "docker.io", "8080", "")),
        ),
        ("192.168.1.1", Ok(("192.168.1.1", "docker.io", "", ""))),
        (
            "192.168.1.1:tag",
            Ok(("192.168.1.1", "docker.io", "tag", "")),
        ),
        (
            "192.168.1.1:5000",
            Ok(("192.168.1.1", "docker.io", "5000", "")),
        ),
        (
            "192.168.1.1/repo",
            Ok(("192.168.1.1/repo", "192.168.1.1", "", "")),
        ),
        (
            "192.168.1.1:5000/repo",
            Ok(("192.168.1.1:5000/repo", "192.168.1.1:5000", "", "")),
        ),
        (
            "192.168.1.1:5000/repo:5050",
            Ok(("192.168.1.1:5000/repo", "192.168.1.1:5000", "5050", "")),
        ),
        ("[2001:db8::1]", Err(Format)),
        ("[2001:db8::1]:5000", Err(Format)),
        ("[2001:db8::1]:tag", Err(Format)),
        (
            "[2001:db8::1]/repo",
            Ok(("[2001:db8::1]/repo", "[2001:db8::1]", "", "")),
        ),
        (
            "[2001:db8:1:2:3:4:5:6]/repo:tag",
            Ok((
                "[2001:db8:1:2:3:4:5:6]/repo",
                "[2001:db8:1:2:3:4:5:6]",
                "tag",
                "",
            )),
        ),
        (
            "[2001:db8::1]:5000/repo",
            Ok(("[2001:db8::1]:5000/repo", "[2001:db8::1]:5000", "", "")),
        ),
        (
            "[2001:db8::1]:5000/repo:tag",
            Ok(("[2001:db8::1]:5000/repo", "[2001:db8::1]:5000", "tag", "")),
        ),
        (
            concat!("[2001:db8::1]:5000/repo@sha256:", f64hex!()),
            Ok((
                "[2001:db8::1]:5000/repo",
                "[2001:db8::1]:5000",
                "",
                concat!("sha256:", f64hex!()),
            )),
        ),
        (
            concat!("[2001:db8::1]:5000/repo:tag@sha256:", f64hex!()),
            Ok((
                "[2001:db8::1]:5000/repo",
                "[2001:db8::1]:5000",
                "tag",
                concat!("sha256:", f64hex!()),
            )),
        ),
        (
            "[2001:db8::]:5000/repo",
            Ok(("[2001:db8::]:5000/repo", "[2001:db8::]:5000", "", "")),
        ),
        (
            "[::1]:5000/repo",
            Ok(("[::1]:5000/repo", "[::1]:5000", "", "")),
        ),
        ("[fe80::1%eth0]:5000/repo", Err(Format)),
        ("[fe80::1%@invalidzone]:5000/repo", Err(Format)),
    ];

    #[test]
    fn reference_parse() {
        for &(input, want) in REFERENCE_PARSE {
            check_parse(input, want);
        }
    }

    // reference_test.go, TestReferenceParse: the strings.Repeat rows. The
    // limit applies to the normalised path only (upstream since the domain
    // stopped counting), so `example.com/` + 255 chars is fine. The last row
    // is from the previous upstream version of the table.
    #[test]
    fn reference_parse_long_names() {
        let over = format!("domain/{}:tag", "a".repeat(256));
        check_parse(&over, Err(TooLong));
        let almost_name = format!("{}a", "a/".repeat(127));
        let almost = format!("{almost_name}:tag-puts-this-over-max");
        check_parse(
            &almost,
            Ok((&almost_name, "docker.io", "tag-puts-this-over-max", "")),
        );
        let long_path_name = format!("example.com/{}", "a".repeat(255));
        let long_path = format!("{long_path_name}:tag");
        check_parse(&long_path, Ok((&long_path_name, "example.com", "tag", "")));
        check_parse(&format!("{}a:tag", "a/".repeat(128)), Err(TooLong));
    }

    // reference_test.go, TestWithNameFailure (WithName = parse a bare name).
    // Go says "invalid format" where a tag or digest is present; here that
    // is the more specific NotARepositoryName.
    const WITH_NAME_FAILURE: &[(&str, Kind)] = &[
        ("", Empty),
        (":justtag", Format),
        (concat!("@sha256:", f64hex!()), Format),
        (concat!("validname@invaliddigest:", f64hex!()), NotName),
        ("example.com/repo:tag", NotName),
        ("aa/asdf$$^/aa", Format),
    ];

    #[test]
    fn with_name_failure() {
        let too_long = format!("example.com/{}", "a".repeat(256));
        let rows = WITH_NAME_FAILURE.iter().copied();
        for (input, want) in rows.chain([(too_long.as_str(), TooLong)]) {
            match RepositoryName::parse(input) {
                Ok(r) => panic!("{input:?} parsed as {r:?}"),
                Err(e) => assert_eq!(kind(&e), want, "{input:?}: {e}"),
            }
        }
    }

    // reference_test.go, TestDomainAndPath (Go's non-normalised WithName gives
    // domain "" for `test_com/foo`; normalised it is docker.io), followed by
    // normalize_test.go, TestNormalizedSplitHostname.
    const DOMAIN_AND_PATH: &[(&str, &str, &str)] = &[
        ("test.com/foo", "test.com", "foo"),
        ("test_com/foo", "docker.io", "test_com/foo"),
        ("test:8080/foo", "test:8080", "foo"),
        ("test.com:8080/foo", "test.com:8080", "foo"),
        ("test-com:8080/foo", "test-com:8080", "foo"),
        ("xn--n3h.com:18080/foo", "xn--n3h.com:18080", "foo"),
        // normalize_test.go, TestNormalizedSplitHostname
        ("test.com/foo", "test.com", "foo"),
        ("test_com/foo", "docker.io", "test_com/foo"),
        ("docker/migrator", "docker.io", "docker/migrator"),
        ("test.com:8080/foo", "test.com:8080", "foo"),
        ("test-com:8080/foo", "test-com:8080", "foo"),
        ("foo", "docker.io", "library/foo"),
        ("xn--n3h.com/foo", "xn--n3h.com", "foo"),
        ("xn--n3h.com:18080/foo", "xn--n3h.com:18080", "foo"),
        ("docker.io/foo", "docker.io", "library/foo"),
        ("docker.io/library/foo", "docker.io", "library/foo"),
        ("docker.io/library/foo/bar", "docker.io", "library/foo/bar"),
    ];

    #[test]
    fn domain_and_path() {
        for &(input, domain, path) in DOMAIN_AND_PATH {
            let r = repo(input);
            assert_eq!(r.domain(), domain, "domain of {input:?}");
            assert_eq!(r.path(), path, "path of {input:?}");
            assert_eq!(r.canonical(), format!("{domain}/{path}"), "{input:?}");
        }
    }

    // reference_test.go, TestSerialization (parse then print back).
    const SERIALIZATION: &[(&str, Result<Parsed<'static>, Kind>)] = &[
        ("", Err(Empty)),
        (
            "example.com:8000/named",
            Ok(("example.com:8000/named", "example.com:8000", "", "")),
        ),
        (
            "example.com:8000/named:tagged",
            Ok(("example.com:8000/named", "example.com:8000", "tagged", "")),
        ),
        (
            "other.com/named@sha256:1234567890098765432112345667890098765432112345667890098765432112",
            Ok((
                "other.com/named",
                "other.com",
                "",
                "sha256:1234567890098765432112345667890098765432112345667890098765432112",
            )),
        ),
    ];

    #[test]
    fn serialization() {
        for &(input, want) in SERIALIZATION {
            check_parse(input, want);
        }
    }

    // reference_test.go, TestWithTag then TestWithDigest: (name, tag, digest,
    // combined). Go's WithDigest only checks the grammar, so its 37-digit
    // sha256 is accepted there; `with_version` only formats, and
    // `is_valid_digest` (like Go's `Parse`) rejects that digest.
    const WITH_VERSION: &[(&str, &str, &str, &str)] = &[
        ("test.com/foo", "tag", "", "test.com/foo:tag"),
        ("foo", "tag2", "", "foo:tag2"),
        ("test.com:8000/foo", "tag4", "", "test.com:8000/foo:tag4"),
        ("test.com:8000/foo", "TAG5", "", "test.com:8000/foo:TAG5"),
        (
            "test.com:8000/foo",
            "TAG5",
            d37!(),
            concat!("test.com:8000/foo:TAG5@", d37!()),
        ),
        // TestWithDigest
        ("test.com/foo", "", d37!(), concat!("test.com/foo@", d37!())),
        ("foo", "", d37!(), concat!("foo@", d37!())),
        (
            "test.com:8000/foo",
            "",
            d37!(),
            concat!("test.com:8000/foo@", d37!()),
        ),
        (
            "test.com:8000/foo",
            "latest",
            d37!(),
            concat!("test.com:8000/foo:latest@", d37!()),
        ),
    ];

    #[test]
    fn with_version_tables() {
        for &(name, tag, digest, combined) in WITH_VERSION {
            let r = image(name);
            assert_eq!(r.with_version(opt(tag), opt(digest)), combined);
            assert!(tag.is_empty() || is_valid_tag(tag), "{tag:?}");
        }
        assert!(!is_valid_digest(d37!()));
    }

    // reference_test.go, TestParseNamed: ParseNamed accepts only names already
    // in canonical form; `Some((domain, path))` = canonical.
    const PARSE_NAMED: &[(&str, Option<(&str, &str)>)] = &[
        ("test.com/foo", Some(("test.com", "foo"))),
        ("test:8080/foo", Some(("test:8080", "foo"))),
        ("test_com/foo", None),
        ("test.com", None),
        ("foo", None),
        ("library/foo", None),
        ("docker.io/library/foo", Some(("docker.io", "library/foo"))),
        ("docker.io/foo", None),
    ];

    #[test]
    fn parse_named_canonical() {
        for &(input, want) in PARSE_NAMED {
            let r = repo(input);
            let is_canonical = r.canonical() == r.as_str();
            assert_eq!(is_canonical, want.is_some(), "{input:?}");
            if let Some((domain, path)) = want {
                assert_eq!((r.domain(), r.path().as_str()), (domain, path));
            }
        }
    }

    // regexp_test.go, TestDomainRegexp (anchored domainAndPort).
    const DOMAIN_REGEXP: &[(&str, bool)] = &[
        ("test.com", true),
        ("test.com:10304", true),
        ("test.com:http", false),
        ("localhost", true),
        ("localhost:8080", true),
        ("a", true),
        ("a.b", true),
        ("ab.cd.com", true),
        ("a-b.com", true),
        ("-ab.com", false),
        ("ab-.com", false),
        ("ab.c-om", true),
        ("ab.-com", false),
        ("ab.com-", false),
        ("0101.com", true),
        ("001a.com", true),
        ("b.gbc.io:443", true),
        ("b.gbc.io", true),
        ("xn--n3h.com", true),
        ("Asdf.com", true),
        ("192.168.1.1:75050", true),
        ("192.168.1.1:750050", true),
        ("[fd00:1:2::3]:75050", true),
        ("[fd00:1:2::3]75050", false),
        ("[fd00:1:2::3]::75050", false),
        ("[fd00:1:2::3%eth0]:75050", false),
        ("[fd00123123123]:75050", true),
        ("[2001:0db8:85a3:0000:0000:8a2e:0370:7334]:75050", true),
        ("[2001:0db8:85a3:0000:0000:8a2e:0370:7334]:750505", true),
        ("fd00:1:2::3:75050", false),
    ];

    #[test]
    fn domain_regexp() {
        for &(input, want) in DOMAIN_REGEXP {
            assert_eq!(is_valid_domain(input), want, "{input:?}");
        }
    }

    // regexp_test.go, TestFullNameRegexp (anchored name, no tag/digest): only
    // whether it matches. Go's submatches split off the first component as
    // the domain whenever the regexp can ("a/aa" → "a"); Docker's split (used
    // here, checked in DOMAIN_AND_PATH) does not, so they are not compared.
    // The strings.Repeat row is in `full_name_regexp`.
    const FULL_NAME_REGEXP: &[(&str, bool)] = &[
        ("", false),
        ("short", true),
        ("simple/name", true),
        ("library/ubuntu", true),
        ("docker/stevvooe/app", true),
        ("aa/aa/aa/aa/aa/aa/aa/aa/aa/bb/bb/bb/bb/bb/bb", true),
        ("aa/aa/bb/bb/bb", true),
        ("a/a/a/a", true),
        ("a/a/a/a/", false),
        ("a//a/a", false),
        ("a", true),
        ("a/aa", true),
        ("a/aa/a", true),
        ("foo.com", true),
        ("foo.com/", false),
        ("foo.com:8080/bar", true),
        ("foo.com:http/bar", false),
        ("foo.com/bar", true),
        ("foo.com/bar/baz", true),
        ("localhost:8080/bar", true),
        ("sub-dom1.foo.com/bar/baz/quux", true),
        ("blog.foo.com/bar/baz", true),
        ("a^a", false),
        ("aa/asdf$$^/aa", false),
        ("asdf$$^/aa", false),
        ("aa-a/a", true),
        ("a-/a/a/a", false),
        ("foo.com/a-/a/a", false),
        ("-foo/bar", false),
        ("foo/bar-", false),
        ("foo-/bar", false),
        ("foo/-bar", false),
        ("_foo/bar", false),
        ("foo_bar", true),
        ("foo_bar.com", true),
        ("foo_bar.com:8080", false),
        ("foo_bar.com:8080/app", false),
        ("foo.com/foo_bar", true),
        ("____/____", false),
        ("_docker/_docker", false),
        ("docker_/docker_", false),
        ("b.gcr.io/test.example.com/my-app", true),
        ("xn--n3h.com/myimage", true),
        ("xn--7o8h.com/myimage", true),
        ("example.com/xn--7o8h.com/myimage", true),
        ("example.com/some_separator__underscore/myimage", true),
        ("example.com/__underscore/myimage", false),
        ("example.com/..dots/myimage", false),
        ("example.com/.dots/myimage", false),
        ("example.com/nodouble..dots/myimage", false),
        ("example.com/nodouble..dots/myimage", false),
        ("docker./docker", false),
        (".docker/docker", false),
        ("docker-/docker", false),
        ("-docker/docker", false),
        ("do..cker/docker", false),
        ("do__cker:8080/docker", false),
        ("do__cker/docker", true),
        ("b.gcr.io/test.example.com/my-app", true),
        (
            "registry.io/foo/project--id.module--name.ver---sion--name",
            true,
        ),
        ("Asdf.com/foo/bar", true),
        ("Foo/FarB", false),
    ];

    #[test]
    fn full_name_regexp() {
        for &(input, want) in FULL_NAME_REGEXP {
            let got = RepositoryName::parse(input);
            assert_eq!(got.is_ok(), want, "{input:?}: {got:?}");
            if let Ok(r) = got {
                assert_eq!(r.as_str(), input);
            }
        }
        // Matches the bare regexp, but Docker's split makes the whole 257-byte
        // string the Docker Hub path, which is over the 255 limit.
        let long = format!("{}a", "a/".repeat(128));
        let err = RepositoryName::parse(&long).map(|r| r.path());
        assert!(matches!(err, Err(ImageRefError::NameTooLong(_))), "{err:?}");
    }

    /// (name as written, tag, digest); "" means absent.
    type NameTagDigest<'a> = (&'a str, &'a str, &'a str);

    // regexp_test.go, TestReferenceRegexp: (input, Some((name, tag, digest))).
    const REFERENCE_REGEXP: &[(&str, Option<NameTagDigest<'static>>)] = &[
        (
            "registry.com:8080/myapp:tag",
            Some(("registry.com:8080/myapp", "tag", "")),
        ),
        (
            concat!("registry.com:8080/myapp@", be178!()),
            Some(("registry.com:8080/myapp", "", be178!())),
        ),
        (
            concat!("registry.com:8080/myapp:tag2@", be178!()),
            Some(("registry.com:8080/myapp", "tag2", be178!())),
        ),
        ("registry.com:8080/myapp@sha256:badbadbadbad", None),
        ("registry.com:8080/myapp:invalid~tag", None),
        ("bad_hostname.com:8080/myapp:tag", None),
        (
            concat!("localhost:8080@", be178!()),
            Some(("localhost", "8080", be178!())),
        ),
        (
            concat!("localhost:8080/name@", be178!()),
            Some(("localhost:8080/name", "", be178!())),
        ),
        (concat!("localhost:http/name@", be178!()), None),
        (
            concat!("localhost@", be178!()),
            Some(("localhost", "", be178!())),
        ),
        ("registry.com:8080/myapp@bad", None),
        ("registry.com:8080/myapp@2bad", None),
    ];

    #[test]
    fn reference_regexp() {
        for &(input, want) in REFERENCE_REGEXP {
            let got = ImageRef::parse(input);
            match (got, want) {
                (Ok(r), Some((name, tag, digest))) => {
                    assert_eq!(r.name.as_str(), name, "{input:?}");
                    assert_eq!(r.tag.as_deref(), opt(tag), "{input:?}");
                    assert_eq!(r.digest.as_deref(), opt(digest), "{input:?}");
                }
                (Err(_), None) => {}
                (got, want) => panic!("{input:?}: got {got:?}, want {want:?}"),
            }
        }
    }

    // regexp_test.go, TestIdentifierRegexp.
    const IDENTIFIER_REGEXP: &[(&str, bool)] = &[
        (
            "da304e823d8ca2b9d863a3c897baeb852ba21ea9a9f1414736394ae7fcaf9821",
            true,
        ),
        (
            "7EC43B381E5AEFE6E04EFB0B3F0693FF2A4A50652D64AEC573905F2DB5889A1C",
            false,
        ),
        (
            "da304e823d8ca2b9d863a3c897baeb852ba21ea9a9f1414736394ae7fcaf",
            false,
        ),
        (
            "sha256:da304e823d8ca2b9d863a3c897baeb852ba21ea9a9f1414736394ae7fcaf9821",
            false,
        ),
        (
            "da304e823d8ca2b9d863a3c897baeb852ba21ea9a9f1414736394ae7fcaf98218482",
            false,
        ),
    ];

    #[test]
    fn identifier_regexp() {
        for &(input, want) in IDENTIFIER_REGEXP {
            assert_eq!(is_identifier(input), want, "{input:?}");
        }
    }

    // normalize_test.go, TestValidateReferenceName (ParseNormalizedNamed).
    const VALID_REFERENCE_NAMES: &[&str] = &[
        "docker/docker",
        "library/debian",
        "debian",
        "docker.io/docker/docker",
        "docker.io/library/debian",
        "docker.io/debian",
        "index.docker.io/docker/docker",
        "index.docker.io/library/debian",
        "index.docker.io/debian",
        "127.0.0.1:5000/docker/docker",
        "127.0.0.1:5000/library/debian",
        "127.0.0.1:5000/debian",
        "192.168.0.1",
        "192.168.0.1:80",
        "192.168.0.1:8/debian",
        "192.168.0.2:25000/debian",
        "thisisthesongthatneverendsitgoesonandonandonthisisthesongthatnev",
        "[fc00::1]:5000/docker",
        "[fc00::1]:5000/docker/docker",
        "[fc00:1:2:3:4:5:6:7]:5000/library/debian",
        "docker.io/1a3f5e7d9c1b3a5f7e9d1c3b5a7f9e1d3c5b7a9f1e3d5d7c9b1a3f5e7d9c1b3a",
        "Docker/docker",
        "DOCKER/docker",
    ];

    // normalize_test.go, TestValidateReferenceName, with the error kind added.
    const INVALID_REFERENCE_NAMES: &[(&str, Kind)] = &[
        ("https://github.com/docker/docker", Format),
        ("docker/Docker", Lowercase),
        ("-docker", Format),
        ("-docker/docker", Format),
        ("-docker.io/docker/docker", Format),
        ("docker///docker", Format),
        ("docker.io/docker/Docker", Lowercase),
        ("docker.io/docker///docker", Format),
        ("[fc00::1]", Format),
        ("[fc00::1]:5000", Format),
        ("fc00::1:5000/debian", Format),
        ("[fe80::1%eth0]:5000/debian", Format),
        ("[2001:db8:3:4::192.0.2.33]:5000/debian", Format),
        (
            "1a3f5e7d9c1b3a5f7e9d1c3b5a7f9e1d3c5b7a9f1e3d5d7c9b1a3f5e7d9c1b3a",
            HexId,
        ),
    ];

    // normalize_test.go, TestValidateRemoteName.
    const VALID_REMOTE_NAMES: &[&str] = &[
        "docker/docker",
        "thisisthesongthatneverendsitgoesonandonandonthisisthesongthatnev",
        "docker-rules/docker",
        "docker---rules/docker",
        "doc/docker",
        "d/docker",
        "jess/t",
        "dock__er/docker",
    ];

    // normalize_test.go, TestValidateRemoteName, with the error kind added.
    const INVALID_REMOTE_NAMES: &[(&str, Kind)] = &[
        ("docker/Docker", Lowercase),
        ("docker///docker", Format),
        (
            "1a3f5e7d9c1b3a5f7e9d1c3b5a7f9e1d3c5b7a9f1e3d5d7c9b1a3f5e7d9c1b3a",
            HexId,
        ),
        ("-docker/docker", Format),
        ("docker-/docker", Format),
        ("-docker-/docker", Format),
        ("____/____", Format),
        ("_docker/_docker", Format),
        ("dock..er/docker", Format),
        ("dock_.er/docker", Format),
        ("dock-.er/docker", Format),
        ("docker/", Format),
        (
            "this_is_not_a_valid_namespace_because_its_lenth_is_greater_than_255_this_is_not_a_valid_namespace_because_its_lenth_is_greater_than_255_this_is_not_a_valid_namespace_because_its_lenth_is_greater_than_255_this_is_not_a_valid_namespace_because_its_lenth_is_greater_than_255/docker",
            TooLong,
        ),
    ];

    #[test]
    fn validate_names() {
        for &input in VALID_REFERENCE_NAMES.iter().chain(VALID_REMOTE_NAMES) {
            image(input);
        }
        for &(input, want) in INVALID_REFERENCE_NAMES.iter().chain(INVALID_REMOTE_NAMES) {
            match ImageRef::parse(input) {
                Ok(r) => panic!("{input:?} parsed as {r:?}"),
                Err(e) => assert_eq!(kind(&e), want, "{input:?}: {e}"),
            }
        }
    }

    // normalize_test.go, TestParseRepositoryInfo: (remote name = path,
    // familiar, full = canonical, ambiguous ("" = none), domain). Every
    // spelling must normalise the same and be the same repository.
    const REPOSITORY_INFO: &[(&str, &str, &str, &str, &str)] = &[
        (
            "fooo/bar",
            "fooo/bar",
            "docker.io/fooo/bar",
            "index.docker.io/fooo/bar",
            "docker.io",
        ),
        (
            "library/ubuntu",
            "ubuntu",
            "docker.io/library/ubuntu",
            "library/ubuntu",
            "docker.io",
        ),
        (
            "nonlibrary/ubuntu",
            "nonlibrary/ubuntu",
            "docker.io/nonlibrary/ubuntu",
            "",
            "docker.io",
        ),
        (
            "other/library",
            "other/library",
            "docker.io/other/library",
            "",
            "docker.io",
        ),
        (
            "private/moonbase",
            "127.0.0.1:8000/private/moonbase",
            "127.0.0.1:8000/private/moonbase",
            "",
            "127.0.0.1:8000",
        ),
        (
            "privatebase",
            "127.0.0.1:8000/privatebase",
            "127.0.0.1:8000/privatebase",
            "",
            "127.0.0.1:8000",
        ),
        (
            "private/moonbase",
            "example.com/private/moonbase",
            "example.com/private/moonbase",
            "",
            "example.com",
        ),
        (
            "privatebase",
            "example.com/privatebase",
            "example.com/privatebase",
            "",
            "example.com",
        ),
        (
            "private/moonbase",
            "example.com:8000/private/moonbase",
            "example.com:8000/private/moonbase",
            "",
            "example.com:8000",
        ),
        (
            "privatebasee",
            "example.com:8000/privatebasee",
            "example.com:8000/privatebasee",
            "",
            "example.com:8000",
        ),
        (
            "library/ubuntu-12.04-base",
            "ubuntu-12.04-base",
            "docker.io/library/ubuntu-12.04-base",
            "index.docker.io/library/ubuntu-12.04-base",
            "docker.io",
        ),
        (
            "library/foo",
            "foo",
            "docker.io/library/foo",
            "docker.io/foo",
            "docker.io",
        ),
        (
            "library/foo/bar",
            "library/foo/bar",
            "docker.io/library/foo/bar",
            "",
            "docker.io",
        ),
        (
            "store/foo/bar",
            "store/foo/bar",
            "docker.io/store/foo/bar",
            "",
            "docker.io",
        ),
        ("bar", "Foo/bar", "Foo/bar", "", "Foo"),
        ("bar", "FOO/bar", "FOO/bar", "", "FOO"),
    ];

    #[test]
    fn parse_repository_info() {
        for &(path, familiar, full, ambiguous, domain) in REPOSITORY_INFO {
            let first = repo(familiar);
            for spelling in [familiar, full, ambiguous]
                .into_iter()
                .filter(|s| !s.is_empty())
            {
                let r = repo(spelling);
                assert_eq!(r.domain(), domain, "domain of {spelling:?}");
                assert_eq!(r.path(), path, "path of {spelling:?}");
                assert_eq!(r.canonical(), full, "canonical of {spelling:?}");
                assert!(r.same_repository(&first), "{spelling:?} vs {familiar:?}");
            }
        }
    }

    // normalize_test.go, TestParseReferenceWithTagAndDigest.
    #[test]
    fn parse_reference_with_tag_and_digest() {
        let short = "busybox:latest@sha256:86e0e091d0da6bde2456dbb48306f3956bbeb2eae1b5b9a43045843f69fe4aaa";
        let r = image(short);
        assert_eq!(canonical_ref(&r), format!("docker.io/library/{short}"));
        assert_eq!(r.tag.as_deref(), Some("latest"));
        assert!(r.digest.is_some());
        assert_eq!(r.to_string(), short);
    }

    // normalize_test.go, TestParseAnyReference: (reference, equivalent) for
    // the rows that have a repository name. The two rows that are image ids
    // (bare hex, bare `sha256:hex`) are in `parse_any_reference_ids`.
    const PARSE_ANY_REFERENCE: &[(&str, &str)] = &[
        ("redis", "docker.io/library/redis"),
        ("redis:latest", "docker.io/library/redis:latest"),
        (
            "docker.io/library/redis:latest",
            "docker.io/library/redis:latest",
        ),
        (
            concat!("redis@", dbcc!()),
            concat!("docker.io/library/redis@", dbcc!()),
        ),
        (
            concat!("docker.io/library/redis@", dbcc!()),
            concat!("docker.io/library/redis@", dbcc!()),
        ),
        ("dmcgowan/myapp", "docker.io/dmcgowan/myapp"),
        ("dmcgowan/myapp:latest", "docker.io/dmcgowan/myapp:latest"),
        (
            "docker.io/mcgowan/myapp:latest",
            "docker.io/mcgowan/myapp:latest",
        ),
        (
            concat!("dmcgowan/myapp@", dbcc!()),
            concat!("docker.io/dmcgowan/myapp@", dbcc!()),
        ),
        (
            concat!("docker.io/dmcgowan/myapp@", dbcc!()),
            concat!("docker.io/dmcgowan/myapp@", dbcc!()),
        ),
        (
            "dbcc1c35ac38df41fd2f5e4130b32ffdb93ebae8b3dbe638c23575912276fc9",
            "docker.io/library/dbcc1c35ac38df41fd2f5e4130b32ffdb93ebae8b3dbe638c23575912276fc9",
        ),
        ("dbcc1", "docker.io/library/dbcc1"),
    ];

    #[test]
    fn parse_any_reference() {
        for &(input, equivalent) in PARSE_ANY_REFERENCE {
            let r = image(input);
            assert_eq!(canonical_ref(&r), equivalent, "{input:?}");
            assert_eq!(canonical_ref(&image(equivalent)), equivalent);
        }
    }

    // normalize_test.go, TestParseAnyReference, the image-id rows. An ImageRef
    // always has a name: a bare id is refused like ParseNormalizedNamed does,
    // and `sha256:<hex>` reads as repository "sha256" with a 64-char tag,
    // exactly as ParseNormalizedNamed would read it.
    #[test]
    fn parse_any_reference_ids() {
        let bare = dbcc!().trim_start_matches("sha256:");
        assert!(matches!(
            ImageRef::parse(bare),
            Err(ImageRefError::HexIdentifier(_))
        ));
        let r = image(dbcc!());
        assert_eq!(r.name.canonical(), "docker.io/library/sha256");
        assert_eq!(r.tag.as_deref(), Some(bare));
    }

    // normalize_test.go, TestParseDockerRef: ParseDockerRef adds `:latest` to
    // a bare name and drops the tag when a digest is present.
    const PARSE_DOCKER_REF: &[(&str, &str)] = &[
        ("busybox", "docker.io/library/busybox:latest"),
        ("busybox:latest", "docker.io/library/busybox:latest"),
        (
            concat!("busybox@", e6693!()),
            concat!("docker.io/library/busybox@", e6693!()),
        ),
        ("library/busybox", "docker.io/library/busybox:latest"),
        ("docker.io/busybox", "docker.io/library/busybox:latest"),
        (
            "docker.io/library/busybox",
            "docker.io/library/busybox:latest",
        ),
        (
            "docker.io/busybox:latest",
            "docker.io/library/busybox:latest",
        ),
        ("library/busybox:latest", "docker.io/library/busybox:latest"),
        (
            "docker.io/library/busybox:latest",
            "docker.io/library/busybox:latest",
        ),
        ("gcr.io/library/busybox", "gcr.io/library/busybox:latest"),
        (
            concat!("gcr.io/library/busybox:latest@", e6693!()),
            concat!("gcr.io/library/busybox@", e6693!()),
        ),
    ];

    #[test]
    fn parse_docker_ref() {
        for &(input, expected) in PARSE_DOCKER_REF {
            let r = image(input);
            let tag = r.tag.as_deref().unwrap_or("latest");
            let docker_ref = match r.digest.as_deref() {
                Some(digest) => format_ref(&r.name.canonical(), &Version::new(None, Some(digest))),
                None => format_ref(&r.name.canonical(), &Version::new(Some(tag), None)),
            };
            assert_eq!(docker_ref, expected, "{input:?}");
            image(&docker_ref);
        }
    }

    // normalize_test.go, TestInvalidReferenceComponents.
    #[test]
    fn invalid_reference_components() {
        assert!(ImageRef::parse("-foo").is_err());
        image("busybox");
        assert!(!is_valid_tag("-foo"));
        assert!(!is_valid_digest("foo"));
    }

    // Edge cases named in the gitops-bot brief (not from the Go tables).
    #[test]
    fn brief_edge_cases() {
        let sha = concat!("sha256:", f64hex!());
        let rows: &[(&str, Result<Parsed<'_>, Kind>)] = &[
            (
                "localhost:5000/foo:tag",
                Ok(("localhost:5000/foo", "localhost:5000", "tag", "")),
            ),
            ("localhost/foo", Ok(("localhost/foo", "localhost", "", ""))),
            ("localhost", Ok(("localhost", "docker.io", "", ""))),
            (
                "[::1]:5000/foo",
                Ok(("[::1]:5000/foo", "[::1]:5000", "", "")),
            ),
            (
                concat!("[2001:db8::1]/foo@sha256:", f64hex!()),
                Ok(("[2001:db8::1]/foo", "[2001:db8::1]", "", sha)),
            ),
            ("foo:5000", Ok(("foo", "docker.io", "5000", ""))),
            ("foo:5000/bar", Ok(("foo:5000/bar", "foo:5000", "", ""))),
            (
                "foo:5000/bar:5000",
                Ok(("foo:5000/bar", "foo:5000", "5000", "")),
            ),
            ("Uppercase/foo", Ok(("Uppercase/foo", "Uppercase", "", ""))),
            ("Foo_Bar/x", Err(Lowercase)),
            ("Foo.Bar/x", Ok(("Foo.Bar/x", "Foo.Bar", "", ""))),
            (
                concat!("name@sha256:", f64hex!()),
                Ok(("name", "docker.io", "", sha)),
            ),
            (
                concat!("name:tag@sha256:", f64hex!()),
                Ok(("name", "docker.io", "tag", sha)),
            ),
            ("{{ .Values.image }}", Err(Format)),
            ("{{.Values.image}}", Err(Format)),
            ("${IMAGE}", Err(Format)),
            ("nginx:${TAG}", Err(Tag)),
            ("repo/app:{{ .Values.tag }}", Err(Tag)),
            (" nginx", Err(Format)),
            ("nginx ", Err(Format)),
            ("nginx:1.25 ", Err(Tag)),
            ("nginx:1.25\n", Err(Tag)),
            ("nginx:", Err(Tag)),
            ("nginx:.hidden", Err(Tag)),
            ("nginx:-dash", Err(Tag)),
            ("nginx:_ok", Ok(("nginx", "docker.io", "_ok", ""))),
            ("nginx@", Err(Digest)),
            ("nginx@sha256:", Err(Digest)),
            (concat!("nginx@SHA256:", f64hex!()), Err(Unsupported)),
            (
                "nginx@sha256:FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF",
                Err(Digest),
            ),
            (concat!("nginx@sha256:", f64hex!(), "0"), Err(Digest)),
            (concat!("nginx@sha1+x:", f64hex!()), Err(Unsupported)),
            (concat!("nginx@sha256:", f64hex!(), "@x"), Err(Digest)),
            // A '.' makes `foo_bar.com` a registry, and it is not a valid
            // host; Go would instead accept it as a path with an empty domain.
            ("foo_bar.com/app", Err(Format)),
            (
                "ghcr.io/org/app:v1.2.3",
                Ok(("ghcr.io/org/app", "ghcr.io", "v1.2.3", "")),
            ),
            (
                "index.docker.io/nginx",
                Ok(("index.docker.io/nginx", "docker.io", "", "")),
            ),
            ("ñ/x:é", Err(Format)),
            ("nginx:é", Err(Tag)),
            (":", Err(Format)),
            ("@", Err(Format)),
            ("/", Err(Format)),
        ];
        for &(input, want) in rows {
            check_parse(input, want);
        }
    }

    #[test]
    fn length_limits() {
        check_parse(&"a".repeat(255), Err(TooLong)); // library/ + 255 > 255
        check_parse(
            &"a".repeat(247),
            Ok((&"a".repeat(247), "docker.io", "", "")),
        );
        check_parse(&"a".repeat(248), Err(TooLong));
        check_parse(&"a".repeat(256), Err(TooLong));
        let tag128 = format!("v{}", "1".repeat(127));
        check_parse(
            &format!("nginx:{tag128}"),
            Ok(("nginx", "docker.io", &tag128, "")),
        );
        check_parse(&format!("nginx:{tag128}2"), Err(Tag));
        assert!(is_valid_tag(&tag128));
        assert!(!is_valid_tag(&format!("{tag128}x")));
    }

    #[test]
    fn sha384_and_sha512_digests() {
        let sha384 = format!("sha384:{}", "a".repeat(96));
        let sha512 = format!("sha512:{}", "0".repeat(128));
        assert!(is_valid_digest(&sha384));
        assert!(is_valid_digest(&sha512));
        assert!(!is_valid_digest(&format!("sha384:{}", "a".repeat(64))));
        assert!(!is_valid_digest(&format!("sha512:{}", "a".repeat(64))));
        assert!(is_valid_digest(concat!("sha256:", f64hex!())));
    }

    #[test]
    fn same_repository_spellings() {
        let hub = [
            "nginx",
            "library/nginx",
            "docker.io/library/nginx",
            "docker.io/nginx",
        ];
        let all = hub
            .iter()
            .chain(&["index.docker.io/library/nginx", "index.docker.io/nginx"]);
        let first = repo("nginx");
        for spelling in all {
            let r = repo(spelling);
            assert!(r.same_repository(&first), "{spelling:?}");
            assert_eq!(r.canonical(), "docker.io/library/nginx");
            assert_eq!(r.last_component(), "nginx");
        }
        let differs = [
            ("127.0.0.1:5000/debian", "127.0.0.1:5000/library/debian"),
            ("nginx", "ghcr.io/nginx"),
            ("nginx", "library/nginx/extra"),
            ("org/app", "org/app2"),
            ("localhost/nginx", "nginx"),
            ("Foo/bar", "foo/bar"),
        ];
        for (a, b) in differs {
            assert!(!repo(a).same_repository(&repo(b)), "{a:?} vs {b:?}");
        }
        // Equality compares spelling, not identity.
        assert_ne!(repo("nginx"), repo("docker.io/library/nginx"));
        assert_eq!(repo("nginx"), repo("nginx"));
    }

    #[test]
    fn repository_name_accessors() {
        let r = repo("localhost:5000/team/app");
        assert_eq!(r.as_str(), "localhost:5000/team/app");
        assert_eq!(r.domain(), "localhost:5000");
        assert_eq!(r.path(), "team/app");
        assert_eq!(r.canonical(), "localhost:5000/team/app");
        assert_eq!(r.last_component(), "app");
        let hub = repo("nginx");
        assert_eq!(
            (hub.domain(), hub.path().as_str()),
            ("docker.io", "library/nginx")
        );
        assert_eq!(hub.last_component(), "nginx");
        let bare = repo("localhost:5000/x");
        assert_eq!(bare.last_component(), "x");
    }

    #[test]
    fn repository_name_rejects_versions() {
        for input in [
            "nginx:1.25",
            "foo:5000",
            concat!("nginx@sha256:", f64hex!()),
        ] {
            let err = RepositoryName::parse(input);
            assert!(
                matches!(err, Err(ImageRefError::NotARepositoryName(_))),
                "{input:?}"
            );
        }
    }

    #[test]
    fn image_ref_formatting() {
        let r = image("nginx:1.25");
        assert!(r.has_version());
        assert_eq!(r.with_version(Some("1.26"), None), "nginx:1.26");
        let sha = concat!("sha256:", f64hex!());
        assert_eq!(r.with_version(None, Some(sha)), format!("nginx@{sha}"));
        assert_eq!(r.with_version(None, None), "nginx");
        let spelled = image(
            "index.docker.io/library/nginx@sha256:ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
        );
        assert_eq!(
            spelled.with_version(Some("1.26"), None),
            "index.docker.io/library/nginx:1.26"
        );
        assert!(!image("ghcr.io/org/app").has_version());
        let parsed: ImageRef = "ghcr.io/org/app:v1"
            .parse()
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(parsed, image("ghcr.io/org/app:v1"));
        assert_eq!(parsed.to_string(), "ghcr.io/org/app:v1");
    }

    #[test]
    fn error_messages() {
        let msg = |s: &str| {
            ImageRef::parse(s)
                .map(|r| r.to_string())
                .unwrap_err()
                .to_string()
        };
        assert_eq!(
            msg("nginx:ci 34"),
            "invalid tag \"ci 34\": a tag is 1-128 characters of letters, digits, '_', '.', '-', not starting with '.' or '-'"
        );
        assert_eq!(
            msg("docker/Docker"),
            "repository name must be lowercase: \"docker/Docker\""
        );
        assert_eq!(msg(""), "empty reference");
        assert_eq!(msg("a b"), "invalid reference format: \"a b\"");
        assert_eq!(
            msg("x@sha256:abc"),
            "invalid digest \"sha256:abc\": expected <algorithm>:<at least 32 hex digits>, e.g. sha256 and 64 hex digits"
        );
        assert_eq!(
            msg(concat!("x@sha256:", f64hex!(), "ff")),
            concat!(
                "invalid digest \"sha256:",
                f64hex!(),
                "ff\": a sha256 digest is exactly 64 lowercase hex digits"
            )
        );
        let long = "a".repeat(256);
        assert_eq!(
            msg(&long),
            format!("repository name \"{long}\" is longer than 255 characters")
        );
        assert_eq!(
            msg("{{ .Values.image }}"),
            "invalid reference format: \"{{ .Values.image }}\""
        );
        assert_eq!(
            msg("nginx:1\n"),
            "invalid tag \"1\\n\": a tag is 1-128 characters of letters, digits, '_', '.', '-', not starting with '.' or '-'"
        );
    }
}
