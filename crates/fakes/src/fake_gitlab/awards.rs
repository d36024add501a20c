//! Emoji reactions ("award emoji") on merge requests and their notes.
//!
//! Source: `lib/api/award_emoji.rb` (POST: `not_found!("Award Emoji
//! #{service[:message]}")` when `AwardEmojis::AddService` fails, e.g.
//! "Name has already been taken"; DELETE: `unauthorized!` unless the award is
//! the user's, then 204), `doc/api/emoji_reactions.md`.

use serde_json::{Value, json};

use super::api::{msg, not_found, paginate, param_error, user_json};
use super::http::{Request, Response};
use super::params::Params;
use super::{Award, Mr, State, Store, now_rfc3339};

/// `ActiveRecord::RecordNotFound` as the API renders it.
fn record_not_found() -> Response {
    msg(404, "404 Not found")
}

/// GitLab normalises a few aliases (`TanukiEmoji`).
pub(crate) fn normalize(name: &str) -> String {
    match name {
        "+1" => "thumbsup".into(),
        "-1" => "thumbsdown".into(),
        other => other.to_string(),
    }
}

/// Real GitLab checks the name against its emoji index; the fake accepts any
/// lowercase alpha code, so `:rocket:` or `Rocket` are refused as GitLab would.
pub(crate) fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name.bytes().all(|b| {
            b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-' || b == b'+'
        })
}

fn award_json(state: &State, mr: &Mr, a: &Award) -> Value {
    let (awardable_id, awardable_type) = match a.note_id {
        Some(n) => (n, "Note"),
        None => (mr.id, "MergeRequest"),
    };
    json!({
        "id": a.id,
        "name": a.name,
        "user": user_json(state, a.user_id, false),
        "created_at": a.created_at,
        "updated_at": a.created_at,
        "awardable_id": awardable_id,
        "awardable_type": awardable_type,
        "url": null,
    })
}

fn add(
    store: &mut Store,
    idx: usize,
    note: Option<u64>,
    user: u64,
    name: &str,
) -> Result<u64, String> {
    let name = normalize(name);
    if !valid_name(&name) {
        return Err("Name is not a valid emoji name".into());
    }
    let mr = &store.mrs[idx];
    if mr
        .awards
        .iter()
        .any(|a| a.note_id == note && a.user_id == user && a.name == name)
    {
        return Err("Name has already been taken".into());
    }
    let id = store.next_award_id;
    store.next_award_id += 1;
    store.mrs[idx].awards.push(Award {
        id,
        name,
        user_id: user,
        note_id: note,
        created_at: now_rfc3339(),
    });
    Ok(id)
}

/// Every `.../merge_requests/:iid[/notes/:note_id]/award_emoji[/:award_id]`.
pub fn endpoint(
    state: &State,
    req: &Request,
    iid: u64,
    note: Option<&str>,
    award: Option<&str>,
    p: &Params,
) -> Response {
    let note = match note.map(str::parse::<u64>) {
        None => None,
        Some(Ok(n)) => Some(n),
        Some(Err(_)) => return not_found(),
    };
    let award = match award.map(str::parse::<u64>) {
        None => None,
        Some(Ok(n)) => Some(n),
        Some(Err(_)) => return not_found(),
    };
    let bot = state.opts.bot_user_id;
    let mut store = state.store();
    let Some(idx) = store.mrs.iter().position(|m| m.iid == iid) else {
        return msg(404, "404 Merge Request Not Found");
    };
    if let Some(n) = note
        && !store.mrs[idx].notes.iter().any(|x| x.id == n)
    {
        return record_not_found();
    }
    let find = |store: &Store, aid: u64| {
        store.mrs[idx]
            .awards
            .iter()
            .position(|a| a.id == aid && a.note_id == note)
    };
    match (req.method.as_str(), award) {
        ("GET" | "HEAD", None) => {
            let mr = &store.mrs[idx];
            let items: Vec<Value> = mr
                .awards
                .iter()
                .filter(|a| a.note_id == note)
                .map(|a| award_json(state, mr, a))
                .collect();
            drop(store);
            paginate(state, req, p, items)
        }
        ("POST", None) => {
            let Some(name) = p.str("name") else {
                return param_error("name is missing");
            };
            match add(&mut store, idx, note, bot, &name) {
                Ok(id) => {
                    let mr = &store.mrs[idx];
                    let a = mr.awards.iter().find(|a| a.id == id).unwrap();
                    Response::json(201, &award_json(state, mr, a))
                }
                Err(e) => msg(404, &format!("404 Award Emoji {e} Not Found")),
            }
        }
        ("GET" | "HEAD", Some(aid)) => match find(&store, aid) {
            Some(i) => {
                let mr = &store.mrs[idx];
                Response::json(200, &award_json(state, mr, &mr.awards[i]))
            }
            None => record_not_found(),
        },
        ("DELETE", Some(aid)) => match find(&store, aid) {
            Some(i) if store.mrs[idx].awards[i].user_id != bot => msg(401, "401 Unauthorized"),
            Some(i) => {
                store.mrs[idx].awards.remove(i);
                Response {
                    status: 204,
                    headers: Vec::new(),
                    body: Vec::new(),
                }
            }
            None => record_not_found(),
        },
        _ => not_found(),
    }
}

pub fn list_for_test(state: &State, iid: u64, note: Option<u64>) -> Vec<(String, String)> {
    let store = state.store();
    let mr = store
        .mrs
        .iter()
        .find(|m| m.iid == iid)
        .unwrap_or_else(|| panic!("no MR !{iid}"));
    mr.awards
        .iter()
        .filter(|a| a.note_id == note)
        .map(|a| {
            (
                state
                    .username(a.user_id)
                    .unwrap_or_else(|| format!("user{}", a.user_id)),
                a.name.clone(),
            )
        })
        .collect()
}

pub fn add_for_test(state: &State, iid: u64, note: Option<u64>, user: u64, name: &str) -> u64 {
    let mut store = state.store();
    let idx = store
        .mrs
        .iter()
        .position(|m| m.iid == iid)
        .unwrap_or_else(|| panic!("no MR !{iid}"));
    if let Some(n) = note {
        assert!(
            store.mrs[idx].notes.iter().any(|x| x.id == n),
            "no note {n} on !{iid}"
        );
    }
    add(&mut store, idx, note, user, name).unwrap_or_else(|e| panic!("award: {e}"))
}
