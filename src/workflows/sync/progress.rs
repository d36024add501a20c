//! The job log while `sync` waits: one line per status transition, with the time since the
//! start, inside a GitLab collapsible section when running in GitLab CI (plain lines
//! elsewhere). Lines go to stdout, the job log; lines of concurrent targets interleave,
//! each naming its object.

use std::time::{Duration, Instant};

use crate::health::Assessment;

pub struct Progress {
    start: Instant,
    /// Print GitLab's section markers.
    sections: bool,
}

impl Progress {
    pub fn new(sections: bool) -> Self {
        Progress {
            start: Instant::now(),
            sections,
        }
    }

    pub fn elapsed(&self) -> Duration {
        self.start.elapsed()
    }

    /// Opens the collapsible section `name` titled `title`.
    pub fn open(&self, name: &str, title: &str) {
        if self.sections {
            println!(
                "\x1b[0Ksection_start:{}:{name}[collapsed=false]\r\x1b[0K{title}",
                unix_now()
            );
        } else {
            println!("{title}");
        }
    }

    pub fn close(&self, name: &str) {
        if self.sections {
            println!("\x1b[0Ksection_end:{}:{name}\r\x1b[0K", unix_now());
        }
    }

    /// A new status of `label`: `label: sync=S health=H: message`, leaving out what the
    /// assessment does not know yet.
    pub fn transition(&self, label: &str, a: &Assessment) {
        self.line(&transition_text(label, a));
    }

    /// Anything else worth a line.
    pub fn note(&self, text: &str) {
        self.line(text);
    }

    fn line(&self, text: &str) {
        println!("[{:>7.1}s] {text}", self.elapsed().as_secs_f64());
    }
}

/// `label: sync=S health=H: message`, leaving out what the assessment does not know.
fn transition_text(label: &str, a: &Assessment) -> String {
    let mut status = Vec::new();
    if let Some(sync) = &a.sync {
        status.push(format!("sync={sync}"));
    }
    if !a.health.is_empty() {
        status.push(format!("health={}", a.health));
    }
    let mut line = format!("{label}:");
    if !status.is_empty() {
        line.push(' ');
        line.push_str(&status.join(" "));
        if !a.message.is_empty() {
            line.push(':');
        }
    }
    if !a.message.is_empty() {
        line.push(' ');
        line.push_str(&a.message);
    }
    line
}

fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transitions_show_only_what_is_known() {
        assert_eq!(
            transition_text(
                "Application argocd/web",
                &Assessment::pending(Some("OutOfSync"), "Progressing", "sync operation Running")
            ),
            "Application argocd/web: sync=OutOfSync health=Progressing: sync operation Running"
        );
        assert_eq!(
            transition_text(
                "Application argocd/web",
                &Assessment::waiting("waiting for Argo CD to start the sync operation")
            ),
            "Application argocd/web: waiting for Argo CD to start the sync operation"
        );
        assert_eq!(
            transition_text(
                "Deployment hello/web",
                &Assessment::healthy(None, "Healthy", "")
            ),
            "Deployment hello/web: health=Healthy"
        );
    }
}
