//! TEMPORARY stand-in until the full grammar module lands.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ImageRefError {
    #[error("invalid reference format: {0:?}")]
    Invalid(String),
}
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RepositoryName(String);
impl RepositoryName {
    pub fn parse(s: &str) -> Result<Self, ImageRefError> {
        if s.is_empty() || s.contains([':', '@', ' ', '{', '$', '<']) && !s.split('/').next().unwrap_or("").contains(':') {
            return Err(ImageRefError::Invalid(s.into()));
        }
        Ok(Self(s.into()))
    }
    pub fn as_str(&self) -> &str { &self.0 }
    pub fn canonical(&self) -> String {
        let (d, p) = match self.0.split_once('/') {
            Some((d, p)) if d.contains(['.', ':']) || d == "localhost" => (d.to_string(), p.to_string()),
            _ => ("docker.io".to_string(), self.0.clone()),
        };
        let d = if d == "index.docker.io" { "docker.io".into() } else { d };
        let p = if d == "docker.io" && !p.contains('/') { format!("library/{p}") } else { p };
        format!("{d}/{p}")
    }
    pub fn last_component(&self) -> &str { self.0.rsplit('/').next().unwrap_or("") }
    pub fn same_repository(&self, o: &RepositoryName) -> bool { self.canonical() == o.canonical() }
}
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageRef { pub name: RepositoryName, pub tag: Option<String>, pub digest: Option<String> }
impl ImageRef {
    pub fn parse(s: &str) -> Result<Self, ImageRefError> {
        let (rest, digest) = match s.split_once('@') { Some((a, b)) => (a, Some(b.to_string())), None => (s, None) };
        let slash = rest.rfind('/').map_or(0, |i| i + 1);
        let (name, tag) = match rest[slash..].split_once(':') { Some((n, t)) => (&rest[..slash + n.len()], Some(t.to_string())), None => (rest, None) };
        if tag.as_deref().is_some_and(|t| t.is_empty() || t.contains(['{', '$', ' '])) { return Err(ImageRefError::Invalid(s.into())); }
        Ok(Self { name: RepositoryName::parse(name)?, tag, digest })
    }
    pub fn has_version(&self) -> bool { self.tag.is_some() || self.digest.is_some() }
    pub fn with_version(&self, tag: Option<&str>, digest: Option<&str>) -> String {
        let mut s = self.name.as_str().to_string();
        if let Some(t) = tag { s.push(':'); s.push_str(t); }
        if let Some(d) = digest { s.push('@'); s.push_str(d); }
        s
    }
}
impl std::fmt::Display for ImageRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.with_version(self.tag.as_deref(), self.digest.as_deref()))
    }
}
impl std::str::FromStr for ImageRef { type Err = ImageRefError; fn from_str(s: &str) -> Result<Self, Self::Err> { Self::parse(s) } }
