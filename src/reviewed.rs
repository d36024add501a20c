//! Which head commit a person reviewed when they commented or approved. It is established
//! from the merge request's diff versions (GitLab's record of every head the branch had, with
//! when), and a webhook's claim is only accepted when it agrees. Anything that cannot be
//! established is an [`Unestablished`] error, on which callers refuse to deploy.
//!
//! Pure: the caller reads the versions and the times.

use chrono::{DateTime, FixedOffset};

/// One diff version: the head the merge request had from `created_at` on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeadVersion {
    pub head: String,
    pub created_at: String,
}

/// Why the reviewed head is not known.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Unestablished {
    #[error("GitLab's history of this merge request could not be read ({0})")]
    Unreadable(String),
    #[error("the time of the {what} cannot be read ({value:?})")]
    BadTime { what: &'static str, value: String },
    #[error("GitLab lists no version of this merge request older than the {0}")]
    NoneBefore(&'static str),
    #[error("the branch changed at the very moment of the {0}")]
    Simultaneous(&'static str),
    #[error("the event says the head was `{claimed}` but GitLab's history says `{recorded}`")]
    Disagree { claimed: String, recorded: String },
    #[error("GitLab does not say when @{0} approved")]
    NoApprovalTime(String),
}

fn parse(what: &'static str, value: &str) -> Result<DateTime<FixedOffset>, Unestablished> {
    DateTime::parse_from_rfc3339(value).map_err(|_| Unestablished::BadTime {
        what,
        value: value.to_string(),
    })
}

/// The head at the moment `when` (RFC 3339) of a `what` ("comment", "approval"): the newest
/// version strictly older than it. A version made at the same instant is ambiguous, and so is
/// a history with no version before the moment (a list cut short, or a clock gone wrong).
pub fn head_at(
    versions: &[HeadVersion],
    when: &str,
    what: &'static str,
) -> Result<String, Unestablished> {
    let when = parse(what, when)?;
    let mut best: Option<(DateTime<FixedOffset>, &str)> = None;
    for v in versions {
        let at = parse("version", &v.created_at)?;
        if at == when {
            return Err(Unestablished::Simultaneous(what));
        }
        if at < when && best.is_none_or(|(b, _)| at > b) {
            best = Some((at, &v.head));
        }
    }
    best.map(|(_, head)| head.to_string())
        .ok_or(Unestablished::NoneBefore(what))
}

/// `recorded` (from the history), provided a claim (a webhook's `last_commit.id`) agrees.
pub fn confirm(recorded: String, claimed: Option<&str>) -> Result<String, Unestablished> {
    match claimed {
        Some(c) if !c.eq_ignore_ascii_case(&recorded) => Err(Unestablished::Disagree {
            claimed: c.to_string(),
            recorded,
        }),
        _ => Ok(recorded),
    }
}

/// Whether any of the versions' times is before `when`: paging newest first can stop there.
pub fn reaches<'a>(times: impl IntoIterator<Item = &'a str>, when: &str) -> bool {
    let Ok(when) = DateTime::parse_from_rfc3339(when) else {
        return false;
    };
    times
        .into_iter()
        .any(|t| DateTime::parse_from_rfc3339(t).is_ok_and(|at| at < when))
}

/// Whether a note was edited: its `updated_at` is another instant than its `created_at`.
/// An unreadable time counts as edited (unknown means no).
pub fn is_edited(created_at: &str, updated_at: Option<&str>) -> bool {
    let Some(updated) = updated_at else {
        return false;
    };
    match (
        DateTime::parse_from_rfc3339(created_at),
        DateTime::parse_from_rfc3339(updated),
    ) {
        (Ok(c), Ok(u)) => c != u,
        _ => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(head: &str, at: &str) -> HeadVersion {
        HeadVersion {
            head: head.into(),
            created_at: at.into(),
        }
    }

    #[test]
    fn the_head_at_a_moment_is_the_newest_older_version() {
        let versions = [
            v("c3", "2026-01-02T10:00:03.000Z"),
            v("c1", "2026-01-02T10:00:01.000Z"),
            v("c2", "2026-01-02T10:00:02.000Z"),
        ];
        assert_eq!(
            head_at(&versions, "2026-01-02T10:00:02.500Z", "comment"),
            Ok("c2".into())
        );
        // Another offset, the same instant order.
        assert_eq!(
            head_at(&versions, "2026-01-02T11:00:05+01:00", "comment"),
            Ok("c3".into())
        );
        assert_eq!(
            head_at(&versions, "2026-01-02T10:00:00.000Z", "comment"),
            Err(Unestablished::NoneBefore("comment"))
        );
        assert_eq!(
            head_at(&versions, "2026-01-02T10:00:02.000Z", "approval"),
            Err(Unestablished::Simultaneous("approval"))
        );
        assert_eq!(
            head_at(&[], "2026-01-02T10:00:00Z", "comment"),
            Err(Unestablished::NoneBefore("comment"))
        );
        assert!(matches!(
            head_at(&versions, "yesterday", "comment"),
            Err(Unestablished::BadTime { .. })
        ));
        assert!(matches!(
            head_at(&[v("x", "garbage")], "2026-01-02T10:00:00Z", "comment"),
            Err(Unestablished::BadTime { .. })
        ));
    }

    #[test]
    fn a_claim_counts_only_when_it_agrees() {
        assert_eq!(confirm("abc".into(), None), Ok("abc".into()));
        assert_eq!(confirm("abc".into(), Some("ABC")), Ok("abc".into()));
        assert!(matches!(
            confirm("abc".into(), Some("def")),
            Err(Unestablished::Disagree { .. })
        ));
    }

    #[test]
    fn paging_stops_once_the_moment_is_reached() {
        let page = ["2026-01-02T10:00:03Z"];
        assert!(!reaches(page, "2026-01-02T10:00:02Z"));
        assert!(reaches(page, "2026-01-02T10:00:04Z"));
        assert!(!reaches(["garbage"], "2026-01-02T10:00:04Z"));
    }

    #[test]
    fn edits_are_told_by_the_times() {
        assert!(!is_edited("2026-01-02T10:00:00Z", None));
        assert!(!is_edited(
            "2026-01-02T10:00:00Z",
            Some("2026-01-02T11:00:00+01:00")
        ));
        assert!(is_edited(
            "2026-01-02T10:00:00Z",
            Some("2026-01-02T10:00:01Z")
        ));
        assert!(is_edited("2026-01-02T10:00:00Z", Some("garbage")));
    }
}
