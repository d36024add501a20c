//! Which projects a `serve --project` value allows: an exact path, a numeric ID, the
//! projects directly in a group (`group/*`) or at any depth below it (`group/**`). Pure:
//! the paths and IDs come from GitLab's API (or, only to route a delivery, from a payload).

use std::fmt;

/// One `--project` value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProjectPattern {
    /// A project ID.
    Id(u64),
    /// A full path (`group/sub/project`), compared without regard to case as GitLab does.
    Path(String),
    /// The projects of a group: directly in it (`group/*`), or also in its subgroups
    /// (`group/**`).
    Group { group: String, recursive: bool },
}

impl ProjectPattern {
    /// Parses `ID`, `PATH`, `GROUP/*` or `GROUP/**`. Any other `*` is an error.
    pub fn parse(value: &str) -> Result<ProjectPattern, String> {
        let value = value.trim().trim_matches('/');
        if value.is_empty() {
            return Err("an empty project".into());
        }
        if let Some(group) = value.strip_suffix("/**") {
            return group_pattern(value, group, true);
        }
        if let Some(group) = value.strip_suffix("/*") {
            return group_pattern(value, group, false);
        }
        if value.contains('*') {
            return Err(format!(
                "{value:?}: a `*` may only end the value, as GROUP/* (the group's own projects) or GROUP/** (also its subgroups')"
            ));
        }
        if value.bytes().all(|b| b.is_ascii_digit()) {
            return value
                .parse()
                .map(ProjectPattern::Id)
                .map_err(|e| format!("{value:?}: {e}"));
        }
        if !value.contains('/') {
            return Err(format!(
                "{value:?} is not a project: give its full path (group/project), its numeric ID, or GROUP/* for a group's projects"
            ));
        }
        Ok(ProjectPattern::Path(value.to_string()))
    }

    /// Whether the project `id` at `path` (as GitLab names it) is allowed by this pattern.
    pub fn matches(&self, id: u64, path: &str) -> bool {
        match self {
            ProjectPattern::Id(wanted) => *wanted == id,
            ProjectPattern::Path(wanted) => wanted.eq_ignore_ascii_case(path),
            ProjectPattern::Group { group, recursive } => {
                let Some(rest) =
                    strip_prefix_ignore_case(path, group).and_then(|rest| rest.strip_prefix('/'))
                else {
                    return false;
                };
                !rest.is_empty() && (*recursive || !rest.contains('/'))
            }
        }
    }

    /// The group to list, and whether with its subgroups, for a glob; `None` for one project.
    pub fn group(&self) -> Option<(&str, bool)> {
        match self {
            ProjectPattern::Group { group, recursive } => Some((group, *recursive)),
            _ => None,
        }
    }
}

impl fmt::Display for ProjectPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ProjectPattern::Id(id) => write!(f, "{id}"),
            ProjectPattern::Path(p) => f.write_str(p),
            ProjectPattern::Group { group, recursive } => {
                write!(f, "{group}/{}", if *recursive { "**" } else { "*" })
            }
        }
    }
}

/// Whether any of `patterns` allows the project `id` at `path`.
pub fn allowed(patterns: &[ProjectPattern], id: u64, path: &str) -> bool {
    patterns.iter().any(|p| p.matches(id, path))
}

fn group_pattern(value: &str, group: &str, recursive: bool) -> Result<ProjectPattern, String> {
    if group.is_empty() || group.contains('*') {
        return Err(format!(
            "{value:?}: give a group's full path before /* or /** (e.g. platform/*)"
        ));
    }
    Ok(ProjectPattern::Group {
        group: group.to_string(),
        recursive,
    })
}

fn strip_prefix_ignore_case<'a>(text: &'a str, prefix: &str) -> Option<&'a str> {
    let head = text.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &text[prefix.len()..])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> ProjectPattern {
        ProjectPattern::parse(s).unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    #[test]
    fn parses_every_form_and_prints_it_back() {
        assert_eq!(p("42"), ProjectPattern::Id(42));
        assert_eq!(p("group/ops"), ProjectPattern::Path("group/ops".into()));
        assert_eq!(
            p("platform/*"),
            ProjectPattern::Group {
                group: "platform".into(),
                recursive: false
            }
        );
        assert_eq!(
            p("platform/team/**"),
            ProjectPattern::Group {
                group: "platform/team".into(),
                recursive: true
            }
        );
        for s in ["42", "group/ops", "platform/*", "platform/team/**"] {
            assert_eq!(p(s).to_string(), s);
        }
    }

    #[test]
    fn refuses_what_is_not_a_project_or_a_group_glob() {
        for bad in [
            "",
            "/",
            "ops",
            "*",
            "/**",
            "group/*/ops",
            "group/op*",
            "a/**/b",
        ] {
            assert!(ProjectPattern::parse(bad).is_err(), "{bad:?} was accepted");
        }
    }

    #[test]
    fn a_single_star_is_one_level_and_a_double_star_any_depth() {
        let direct = p("platform/*");
        let deep = p("platform/**");
        assert!(direct.matches(1, "platform/ops"));
        assert!(!direct.matches(1, "platform/team/ops"));
        assert!(deep.matches(1, "platform/ops"));
        assert!(deep.matches(1, "platform/team/ops"));
        for other in [
            "platform",
            "platformx/ops",
            "other/platform/ops",
            "platform/",
        ] {
            assert!(!direct.matches(1, other), "{other}");
            assert!(!deep.matches(1, other), "{other}");
        }
        assert!(
            direct.matches(1, "Platform/Ops"),
            "GitLab paths ignore case"
        );
    }

    #[test]
    fn ids_and_paths_match_exactly() {
        assert!(p("42").matches(42, "any/path"));
        assert!(!p("42").matches(43, "any/path"));
        assert!(p("group/ops").matches(7, "Group/OPS"));
        assert!(!p("group/ops").matches(7, "group/ops2"));
        assert!(allowed(&[p("43"), p("group/*")], 1, "group/ops"));
        assert!(!allowed(&[p("43"), p("group/*")], 1, "group/sub/ops"));
    }
}
