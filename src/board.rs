//! The deploy board issue: which issue is the board and whether its description must be
//! written. Pure: the `board` workflow reads the issues and writes what [`plan`] says.
//!
//! The board is the oldest open issue with the board label whose marker names the project;
//! others are ignored (and named in a warning). A closed board is retired: the next refresh
//! opens a new one. The description is rewritten only when its text differs from the
//! rendering, compared without line-ending or trailing-space differences GitLab may add.

use crate::marker;

/// The label the board issue carries.
pub const LABEL: &str = "gitops-bot::board";

/// The board issue's title.
pub const TITLE: &str = "Deploy board";

/// An issue carrying [`LABEL`], as read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    pub iid: u64,
    pub open: bool,
    pub description: String,
}

/// What to write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Plan {
    /// No board yet: create it.
    Create,
    /// The board shows something else: rewrite its description.
    Edit { iid: u64 },
    /// The board already shows this.
    Unchanged { iid: u64 },
}

/// What to do for `project` with `rendered` given the labelled issues (any order), and the
/// iids of other boards that are ignored.
pub fn plan(project: &str, candidates: &[Candidate], rendered: &str) -> (Plan, Vec<u64>) {
    let mut ours: Vec<&Candidate> = candidates
        .iter()
        .filter(|c| c.open)
        .filter(|c| marker::board(&c.description).is_some_and(|r| r.project == project))
        .collect();
    ours.sort_by_key(|c| c.iid);
    let Some((board, others)) = ours.split_first() else {
        return (Plan::Create, Vec::new());
    };
    let ignored = others.iter().map(|c| c.iid).collect();
    if normalise(&board.description) == normalise(rendered) {
        (Plan::Unchanged { iid: board.iid }, ignored)
    } else {
        (Plan::Edit { iid: board.iid }, ignored)
    }
}

fn normalise(text: &str) -> String {
    text.lines()
        .map(str::trim_end)
        .collect::<Vec<_>>()
        .join("\n")
        .trim()
        .to_string()
}

/// The marker line of `project`'s board.
pub fn marker_line(project: &str) -> String {
    marker::render(&marker::Marker::Board(marker::BoardRecord {
        v: 1,
        project: project.to_string(),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn board(iid: u64, open: bool, body: &str, project: &str) -> Candidate {
        Candidate {
            iid,
            open,
            description: format!("{body}\n\n{}\n", marker_line(project)),
        }
    }

    #[test]
    fn the_oldest_open_board_of_the_project_is_the_one() {
        let text = format!("table\n\n{}\n", marker_line("g/p"));
        let candidates = [
            board(9, true, "old", "g/p"),
            board(4, true, "table", "g/p"),
            board(2, false, "closed", "g/p"),
            board(1, true, "other project", "g/q"),
            Candidate {
                iid: 3,
                open: true,
                description: "no marker".into(),
            },
        ];
        assert_eq!(
            plan("g/p", &candidates, &text),
            (Plan::Unchanged { iid: 4 }, vec![9])
        );
        assert_eq!(
            plan("g/p", &candidates, &format!("new\n{}", marker_line("g/p"))),
            (Plan::Edit { iid: 4 }, vec![9])
        );
        assert_eq!(plan("g/p", &candidates[2..], &text), (Plan::Create, vec![]));
    }

    #[test]
    fn line_endings_and_trailing_spaces_are_no_change() {
        let c = board(1, true, "a  \r\nb", "g/p");
        let text = format!("a\nb\n\n{}", marker_line("g/p"));
        assert_eq!(plan("g/p", &[c], &text).0, Plan::Unchanged { iid: 1 });
    }
}
