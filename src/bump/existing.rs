//! What a bump does with the merge requests its branch already has: leave the open one that
//! already proposes the version, rewrite an open one for another version, leave or reopen a
//! closed one for the same version, or open a new one. Pure: the caller lists the merge
//! requests and checks the open one's branch against Git when [`needs_branch_check`] asks.

/// A merge request from the bot branch, as the choice sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Existing {
    pub iid: u64,
    /// `opened`, `closed`, `merged`, `locked`.
    pub state: String,
    /// The version its description's record proposes (a hint).
    pub proposes: Option<String>,
}

/// What to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Choice {
    /// The open merge request `iid` holds exactly this version already: nothing to write.
    KeepOpen(u64),
    /// A person closed `iid`, which proposed this version: leave it closed.
    KeepClosed(u64),
    /// Rewrite the open `iid` (its branch and description); `was` is the version it
    /// proposed.
    Rewrite { iid: u64, was: Option<String> },
    /// Reopen the closed `iid` for this version (`--reopen`).
    Reopen(u64),
    /// Open a new merge request.
    Create,
}

/// What the choice is asked to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Wanted<'a> {
    pub version: &'a str,
    /// Rewrite even an open merge request that proposes this version (`rebase`).
    pub refresh: bool,
    /// Reopen a closed merge request for this version.
    pub reopen: bool,
}

fn open(mrs: &[Existing]) -> Option<&Existing> {
    mrs.iter().find(|m| m.state == "opened")
}

/// Whether the choice depends on the open merge request's branch holding exactly the bot's
/// change of the wanted version (its record says so, but records can be edited).
pub fn needs_branch_check(mrs: &[Existing], wanted: Wanted<'_>) -> bool {
    !wanted.refresh && open(mrs).is_some_and(|m| m.proposes.as_deref() == Some(wanted.version))
}

/// The choice for `mrs` (newest first). `branch_holds_it`: the answer to
/// [`needs_branch_check`] when it was asked (else ignored).
pub fn choose(mrs: &[Existing], wanted: Wanted<'_>, branch_holds_it: bool) -> Choice {
    if let Some(m) = open(mrs) {
        if needs_branch_check(mrs, wanted) && branch_holds_it {
            return Choice::KeepOpen(m.iid);
        }
        return Choice::Rewrite {
            iid: m.iid,
            was: m.proposes.clone(),
        };
    }
    match mrs.first() {
        Some(latest)
            if latest.state == "closed" && latest.proposes.as_deref() == Some(wanted.version) =>
        {
            if wanted.reopen {
                Choice::Reopen(latest.iid)
            } else {
                Choice::KeepClosed(latest.iid)
            }
        }
        _ => Choice::Create,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mr(iid: u64, state: &str, proposes: Option<&str>) -> Existing {
        Existing {
            iid,
            state: state.into(),
            proposes: proposes.map(str::to_string),
        }
    }

    #[test]
    fn choices() {
        let want = |refresh, reopen| Wanted {
            version: "ci-35",
            refresh,
            reopen,
        };
        let rewrite = |iid, was: Option<&str>| Choice::Rewrite {
            iid,
            was: was.map(str::to_string),
        };
        /// Name, merge requests (newest first), wanted, branch holds it, check asked, choice.
        type Case<'a> = (&'a str, Vec<Existing>, Wanted<'a>, bool, bool, Choice);
        #[rustfmt::skip]
        let cases: Vec<Case<'_>> = vec![
            // name, merge requests (newest first), wanted, branch holds it, check asked, choice
            ("none", vec![], want(false, false), false, false, Choice::Create),
            ("open, same version, branch holds it", vec![mr(3, "opened", Some("ci-35"))], want(false, false), true, true, Choice::KeepOpen(3)),
            ("open, same version, branch changed", vec![mr(3, "opened", Some("ci-35"))], want(false, false), false, true, rewrite(3, Some("ci-35"))),
            ("open, same version, refresh", vec![mr(3, "opened", Some("ci-35"))], want(true, false), true, false, rewrite(3, Some("ci-35"))),
            ("open, older version", vec![mr(3, "opened", Some("ci-34"))], want(false, false), true, false, rewrite(3, Some("ci-34"))),
            ("open, no record", vec![mr(3, "opened", None)], want(false, false), true, false, rewrite(3, None)),
            ("open behind a newer closed", vec![mr(4, "closed", Some("ci-35")), mr(3, "opened", Some("ci-34"))], want(false, false), false, false, rewrite(3, Some("ci-34"))),
            ("closed, same version", vec![mr(3, "closed", Some("ci-35"))], want(false, false), false, false, Choice::KeepClosed(3)),
            ("closed, same version, reopen", vec![mr(3, "closed", Some("ci-35"))], want(false, true), false, false, Choice::Reopen(3)),
            ("closed, other version", vec![mr(3, "closed", Some("ci-34"))], want(false, true), false, false, Choice::Create),
            ("merged, same version", vec![mr(3, "merged", Some("ci-35"))], want(false, false), false, false, Choice::Create),
            ("closed older than the latest merged", vec![mr(4, "merged", Some("ci-35")), mr(3, "closed", Some("ci-35"))], want(false, false), false, false, Choice::Create),
        ];
        for (name, mrs, wanted, holds, asked, choice) in cases {
            assert_eq!(
                needs_branch_check(&mrs, wanted),
                asked,
                "{name}: check asked"
            );
            assert_eq!(choose(&mrs, wanted, holds), choice, "{name}");
        }
    }
}
