//! Whether a promotion may be proposed now: the source environment's latest deployment
//! record must be a success, its files must still carry the versions of that deployment,
//! and it must have been healthy for the soak time. Soak counts from when that record
//! turned `success` (a newer success of the same versions restarts it: conservative).
//! The clock and the records are the caller's; this only decides.

use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use serde::Serialize;

use super::images::EnvironmentImages;
use crate::image_ref::Version;

/// A GitLab deployment record of the source environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeploymentRecord {
    pub id: u64,
    pub sha: String,
    /// GitLab's status: `created`, `running`, `success`, `failed`, `canceled`, …
    pub status: String,
    /// When it reached its status (GitLab's `finished_at`, else `updated_at`).
    pub finished_at: DateTime<Utc>,
}

/// The deployment a promotion rests on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Healthy {
    pub id: u64,
    pub sha: String,
    /// When it turned healthy.
    pub since: DateTime<Utc>,
}

/// A repository whose versions in the source changed since its healthy deployment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Moved {
    pub repository: String,
    pub deployed: Vec<Version>,
    pub now: Vec<Version>,
}

/// Why nothing is proposed now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Blocked {
    /// The source has no deployment record.
    NoDeployment,
    /// The source's latest deployment is not a success (running, failed, canceled…).
    NotHealthy {
        id: u64,
        sha: String,
        status: String,
    },
    /// The source's files carry other versions than its healthy deployment.
    MovedOn { healthy: Healthy, moved: Vec<Moved> },
    /// Healthy, but not for long enough: eligible at `until`.
    Soaking {
        healthy: Healthy,
        soak: Duration,
        until: DateTime<Utc>,
    },
    /// The target's holds (its merged rollbacks) could not be read: nothing is proposed.
    HoldsUnreadable { error: String },
}

/// The latest deployment, when it is a success. `records` are newest first.
pub fn latest_healthy(records: &[DeploymentRecord]) -> Result<Healthy, Blocked> {
    let Some(latest) = records.first() else {
        return Err(Blocked::NoDeployment);
    };
    if latest.status != "success" {
        return Err(Blocked::NotHealthy {
            id: latest.id,
            sha: latest.sha.clone(),
            status: latest.status.clone(),
        });
    }
    Ok(Healthy {
        id: latest.id,
        sha: latest.sha.clone(),
        since: latest.finished_at,
    })
}

/// Whether the source, healthy as `healthy` with the images `deployed` (its files at the
/// deployment's commit), may be promoted at `now`, its files now holding `current`.
/// Returns when the soak was met.
pub fn eligibility(
    healthy: Healthy,
    deployed: &EnvironmentImages,
    current: &EnvironmentImages,
    soak: Duration,
    now: DateTime<Utc>,
) -> Result<DateTime<Utc>, Blocked> {
    let moved = moved(deployed, current);
    if !moved.is_empty() {
        return Err(Blocked::MovedOn { healthy, moved });
    }
    let until = TimeDelta::from_std(soak)
        .ok()
        .and_then(|soak| healthy.since.checked_add_signed(soak))
        .unwrap_or(DateTime::<Utc>::MAX_UTC);
    if now < until {
        return Err(Blocked::Soaking {
            healthy,
            soak,
            until,
        });
    }
    Ok(until)
}

/// The repositories whose versions differ between `deployed` and `current` (one missing
/// on either side counts).
fn moved(deployed: &EnvironmentImages, current: &EnvironmentImages) -> Vec<Moved> {
    let versions = |env: &EnvironmentImages, repository: &str| {
        env.get(repository)
            .map(|i| i.versions.clone())
            .unwrap_or_default()
    };
    let mut repositories: Vec<&String> = deployed
        .images
        .keys()
        .chain(current.images.keys())
        .collect();
    repositories.sort();
    repositories.dedup();
    repositories
        .into_iter()
        .filter_map(|repository| {
            let (before, now) = (
                versions(deployed, repository),
                versions(current, repository),
            );
            let same = before.len() == now.len() && before.iter().all(|v| now.contains(v));
            (!same).then(|| Moved {
                repository: repository.clone(),
                deployed: before,
                now,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::promotion::images::images_of;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn record(id: u64, sha: &str, status: &str, finished: &str) -> DeploymentRecord {
        DeploymentRecord {
            id,
            sha: sha.into(),
            status: status.into(),
            finished_at: at(finished),
        }
    }

    fn env(text: &str) -> EnvironmentImages {
        images_of([("e.yaml", text.as_bytes())], &[])
    }

    #[test]
    fn the_latest_record_decides() {
        let ok = record(2, "c2", "success", "2026-01-01T10:00:00Z");
        let failed = record(3, "c3", "failed", "2026-01-01T11:00:00Z");
        let running = record(3, "c3", "running", "2026-01-01T11:00:00Z");
        let cases: Vec<(&str, Vec<DeploymentRecord>, Result<Healthy, Blocked>)> = vec![
            ("no record", vec![], Err(Blocked::NoDeployment)),
            (
                "a success",
                vec![ok.clone()],
                Ok(Healthy {
                    id: 2,
                    sha: "c2".into(),
                    since: at("2026-01-01T10:00:00Z"),
                }),
            ),
            (
                "a failure after a success",
                vec![failed, ok.clone()],
                Err(Blocked::NotHealthy {
                    id: 3,
                    sha: "c3".into(),
                    status: "failed".into(),
                }),
            ),
            (
                "a deploy in progress after a success",
                vec![running, ok],
                Err(Blocked::NotHealthy {
                    id: 3,
                    sha: "c3".into(),
                    status: "running".into(),
                }),
            ),
        ];
        for (case, records, want) in cases {
            assert_eq!(latest_healthy(&records), want, "{case}");
        }
    }

    #[test]
    fn soak_moved_on_and_eligible() {
        let healthy = Healthy {
            id: 7,
            sha: "c7".into(),
            since: at("2026-01-01T10:00:00Z"),
        };
        let deployed = env("a: {image: nginx:1.26}\nb: {image: redis:7}\n");
        let half_hour = Duration::from_secs(30 * 60);
        // (case, the source's files now, soak, now, soak met at | why not)
        type Case<'a> = (
            &'a str,
            &'a str,
            Duration,
            &'a str,
            Result<&'a str, &'a str>,
        );
        let cases: Vec<Case> = vec![
            (
                "soak met",
                "a: {image: nginx:1.26}\nb: {image: redis:7}\n",
                half_hour,
                "2026-01-01T10:30:00Z",
                Ok("2026-01-01T10:30:00+00:00"),
            ),
            (
                "no soak",
                "a: {image: nginx:1.26}\nb: {image: redis:7}\n",
                Duration::ZERO,
                "2026-01-01T10:00:00Z",
                Ok("2026-01-01T10:00:00+00:00"),
            ),
            (
                "soak not met: eligible at the end of it",
                "a: {image: nginx:1.26}\nb: {image: redis:7}\n",
                half_hour,
                "2026-01-01T10:29:59Z",
                Err("soaking until 2026-01-01T10:30:00+00:00"),
            ),
            (
                "a version changed since",
                "a: {image: nginx:1.27}\nb: {image: redis:7}\n",
                half_hour,
                "2026-01-02T00:00:00Z",
                Err("moved docker.io/library/nginx 1.26→1.27"),
            ),
            (
                "an image removed since",
                "a: {image: nginx:1.26}\n",
                half_hour,
                "2026-01-02T00:00:00Z",
                Err("moved docker.io/library/redis 7→"),
            ),
            (
                "the same versions in other files",
                "x: {image: redis:7}\ny: {image: nginx:1.26}\nz: {image: nginx:1.26}\n",
                half_hour,
                "2026-01-02T00:00:00Z",
                Ok("2026-01-01T10:30:00+00:00"),
            ),
        ];
        for (case, current, soak, now, want) in cases {
            let got = eligibility(healthy.clone(), &deployed, &env(current), soak, at(now));
            let got = match &got {
                Ok(met) => Ok(met.to_rfc3339()),
                Err(Blocked::Soaking { until, .. }) => {
                    Err(format!("soaking until {}", until.to_rfc3339()))
                }
                Err(Blocked::MovedOn { moved, .. }) => Err(moved
                    .iter()
                    .map(|m| {
                        let list = |v: &[Version]| {
                            v.iter()
                                .map(Version::to_string)
                                .collect::<Vec<_>>()
                                .join(",")
                        };
                        format!(
                            "moved {} {}→{}",
                            m.repository,
                            list(&m.deployed),
                            list(&m.now)
                        )
                    })
                    .collect::<Vec<_>>()
                    .join("; ")),
                Err(other) => Err(format!("{other:?}")),
            };
            assert_eq!(
                got,
                want.map(str::to_string).map_err(str::to_string),
                "{case}"
            );
        }
    }
}
