//! One REST call to GitLab's API v4: a method, a path under `/api/v4/` and its parameters.
//! Parameters go in the query string of a GET or DELETE and in a form body
//! (`application/x-www-form-urlencoded`, Rails style for lists: `assignee_ids[]=1`) of a
//! POST or PUT, which is how GitLab's API reads them. [`GitlabClient`](super::GitlabClient)
//! sends a call with its retry and error policy.

use percent_encoding::{AsciiSet, CONTROLS, PercentEncode, utf8_percent_encode};
use reqwest::Method;
use url::Url;

/// What is escaped in one path segment (a project path, a branch, a file path, a SHA): the
/// URL path-segment set, with `/` and `%`, as GitLab's own clients escape it.
const PATH_SEGMENT: &AsciiSet = &CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'<')
    .add(b'>')
    .add(b'`')
    .add(b'?')
    .add(b'{')
    .add(b'}')
    .add(b'%')
    .add(b'/');

/// `value` as one URL path segment (`group/app` is `group%2Fapp`).
pub fn segment(value: &str) -> PercentEncode<'_> {
    utf8_percent_encode(value, PATH_SEGMENT)
}

/// The form body's media type.
const FORM: &str = "application/x-www-form-urlencoded";

#[derive(Debug, Clone)]
pub struct Call {
    pub(super) method: Method,
    pub(super) path: String,
    params: Vec<(String, String)>,
}

impl Call {
    fn new(method: Method, path: String) -> Self {
        Call {
            method,
            path,
            params: Vec::new(),
        }
    }

    pub fn get(path: String) -> Self {
        Call::new(Method::GET, path)
    }

    pub fn post(path: String) -> Self {
        Call::new(Method::POST, path)
    }

    pub fn put(path: String) -> Self {
        Call::new(Method::PUT, path)
    }

    pub fn delete(path: String) -> Self {
        Call::new(Method::DELETE, path)
    }

    /// Adds `key=value`.
    pub fn param(mut self, key: &str, value: impl ToString) -> Self {
        self.params.push((key.to_string(), value.to_string()));
        self
    }

    /// Adds `key=value` when there is a value.
    pub fn param_opt(self, key: &str, value: Option<impl ToString>) -> Self {
        match value {
            Some(v) => self.param(key, v),
            None => self,
        }
    }

    /// Adds `key=a,b,c` (GitLab's comma-separated lists: labels), unless `values` is empty.
    pub fn comma_list<S: AsRef<str>>(self, key: &str, values: &[S]) -> Self {
        if values.is_empty() {
            return self;
        }
        let joined = values
            .iter()
            .map(AsRef::as_ref)
            .collect::<Vec<_>>()
            .join(",");
        self.param(key, joined)
    }

    /// Adds `key[]=id` for each of `ids`, sorted and without repeats, unless there are none.
    pub fn ids(mut self, key: &str, ids: &[u64]) -> Self {
        let mut sorted = ids.to_vec();
        sorted.sort_unstable();
        sorted.dedup();
        for id in sorted {
            self.params.push((format!("{key}[]"), id.to_string()));
        }
        self
    }

    /// The method.
    pub fn method(&self) -> &Method {
        &self.method
    }

    /// The path under `/api/v4/`, as errors name it.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// Puts the parameters where the method wants them: in `url`'s query, or as the body
    /// returned with its media type.
    pub(super) fn place_params(&self, url: &mut Url) -> Option<(&'static str, Vec<u8>)> {
        if self.params.is_empty() {
            return None;
        }
        if matches!(self.method, Method::POST | Method::PUT) {
            let mut form = url::form_urlencoded::Serializer::new(String::new());
            for (k, v) in &self.params {
                form.append_pair(k, v);
            }
            Some((FORM, form.finish().into_bytes()))
        } else {
            let mut query = url.query_pairs_mut();
            for (k, v) in &self.params {
                query.append_pair(k, v);
            }
            None
        }
    }
}

/// `projects/<id or url-encoded path>`: the start of every project call's path.
pub fn project_path(project: &str) -> String {
    format!("projects/{}", segment(project))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn placed(call: &Call) -> (String, Option<String>) {
        let mut url = Url::parse("http://127.0.0.1/api/v4/x").unwrap();
        let body = call.place_params(&mut url);
        (
            url.query().unwrap_or("").to_string(),
            body.map(|(_, b)| String::from_utf8(b).unwrap()),
        )
    }

    #[test]
    fn a_get_puts_its_parameters_in_the_query() {
        assert_eq!(
            segment("a b/c%d?e#f-g_h.i~j").to_string(),
            "a%20b%2Fc%25d%3Fe%23f-g_h.i~j"
        );
        let call = Call::get(project_path("group/app"))
            .param("state", "opened")
            .comma_list("labels", &["a", "b c"])
            .param_opt("author_id", None::<u64>);
        assert_eq!(call.path(), "projects/group%2Fapp");
        assert_eq!(
            placed(&call),
            ("state=opened&labels=a%2Cb+c".to_string(), None)
        );
    }

    #[test]
    fn a_post_puts_them_in_a_form_body_with_rails_lists() {
        let call = Call::post("p".into())
            .param("title", "Deploy x & y")
            .ids("assignee_ids", &[7, 3, 7])
            .comma_list::<&str>("labels", &[]);
        assert_eq!(
            placed(&call),
            (
                String::new(),
                Some("title=Deploy+x+%26+y&assignee_ids%5B%5D=3&assignee_ids%5B%5D=7".into())
            )
        );
        assert_eq!(placed(&Call::put("p".into())), (String::new(), None));
    }
}
