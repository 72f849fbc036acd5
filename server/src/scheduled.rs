//! Inventories re-imported from a URL on a schedule (`[[scheduled_import]]`:
//! a network's published sheet, data·inclusion): each run downloads the file
//! (within a size bound checked while reading), imports it as `ess-map
//! import` would — the same comparison, duplicates found, report — and is
//! kept in the store with its summary or why it failed, so that an admin
//! reviews every run (`GET /api/import/runs`) and can start one at once.
//!
//! Several replicas share the store: a replica skips a run another one made
//! within the period, and the import lock makes two at once one after the
//! other.

use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context;

use crate::config::ScheduledImport;
use crate::dedupe::Index;
use crate::geocode::Geocoding;
use crate::import::{ImportOptions, run_import};
use crate::live::Live;
use crate::store::ImportRun;

/// Largest file downloaded, checked while reading.
pub const MAX_DOWNLOAD_BYTES: u64 = 2 << 30;
/// A schedule that never ran runs this long after the start.
const FIRST_RUN_AFTER: Duration = Duration::from_secs(10);

/// The configured schedules and which of them run now.
pub struct Schedules {
    pub list: Vec<ScheduledImport>,
    running: Mutex<HashSet<String>>,
}

impl Schedules {
    pub fn new(list: Vec<ScheduledImport>) -> Schedules {
        Schedules {
            list,
            running: Mutex::new(HashSet::new()),
        }
    }

    pub fn get(&self, source: &str) -> Option<&ScheduledImport> {
        self.list.iter().find(|s| s.source == source)
    }

    /// Marks `source` running; false when it already is (in this process).
    fn start(&self, source: &str) -> bool {
        self.running
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(source.to_string())
    }

    fn done(&self, source: &str) {
        self.running
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(source);
    }

    pub fn is_running(&self, source: &str) -> bool {
        self.running
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .contains(source)
    }
}

/// What a run needs besides its schedule.
#[derive(Clone)]
pub struct Runner {
    pub live: Arc<Live>,
    pub geocoding: Arc<Geocoding>,
    pub state_dir: PathBuf,
    pub schedules: Arc<Schedules>,
}

fn now() -> String {
    let format =
        time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]Z");
    time::OffsetDateTime::now_utc()
        .format(&format)
        .expect("a UTC time formats")
}

/// How long ago a run started, if its time reads.
fn age(started_at: &str) -> Option<Duration> {
    let at =
        time::OffsetDateTime::parse(started_at, &time::format_description::well_known::Rfc3339)
            .ok()?;
    let elapsed = time::OffsetDateTime::now_utc() - at;
    Some(Duration::from_secs_f64(elapsed.as_seconds_f64().max(0.0)))
}

impl Runner {
    /// Runs `source`'s schedule now, unless it is running: the run kept.
    pub fn run_now(&self, source: &str) -> Option<ImportRun> {
        let schedule = self.schedules.get(source)?.clone();
        if !self.schedules.start(source) {
            return None;
        }
        let run = self.run(&schedule);
        self.schedules.done(source);
        Some(run)
    }

    fn run(&self, schedule: &ScheduledImport) -> ImportRun {
        let started_at = now();
        let outcome = self.download_and_import(schedule);
        let mut run = ImportRun {
            id: 0,
            source: schedule.source.clone(),
            url: schedule.url.clone(),
            started_at,
            finished_at: now(),
            outcome: "imported".into(),
            summary: None,
            report_id: None,
            error: None,
        };
        match outcome {
            Ok(summary) => {
                run.report_id = summary["report_id"].as_i64();
                run.summary = Some(summary);
            }
            Err(e) => {
                tracing::warn!("scheduled import `{}`: {e:#}", schedule.source);
                run.outcome = "failed".into();
                run.error = Some(format!("{e:#}"));
            }
        }
        let kept = self
            .live
            .store()
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .add_import_run(&run);
        match kept {
            Ok(id) => run.id = id,
            Err(e) => tracing::error!(
                "scheduled import `{}`: run not kept: {e:#}",
                schedule.source
            ),
        }
        run
    }

    fn download_and_import(&self, schedule: &ScheduledImport) -> anyhow::Result<serde_json::Value> {
        let uploads = self.state_dir.join("uploads");
        std::fs::create_dir_all(&uploads).context("cannot create the uploads folder")?;
        let extension = schedule
            .format
            .clone()
            .unwrap_or_else(|| extension_of(&schedule.url).to_string());
        // Removed when dropped, whatever happens below.
        let mut file = tempfile::Builder::new()
            .prefix("scheduled-")
            .suffix(&format!(".{extension}"))
            .tempfile_in(&uploads)
            .context("cannot create a file for the download")?;
        let bytes = download(&schedule.url, file.as_file_mut())?;
        tracing::info!(
            "scheduled import `{}`: {bytes} bytes from {}",
            schedule.source,
            schedule.url
        );
        let mapping = schedule
            .mapping
            .as_ref()
            .map(|m| {
                let text = std::fs::read_to_string(m)
                    .with_context(|| format!("cannot read the mapping {}", m.display()))?;
                geodata::import::Mapping::from_toml(&text)
                    .map_err(|e| anyhow::anyhow!("mapping {}: {e}", m.display()))
            })
            .transpose()?;
        let shown = self.live.snapshot();
        let existing = Index::new(shown.data.initiatives().iter().cloned());
        drop(shown);
        let options = ImportOptions {
            source: schedule.source.clone(),
            mapping,
            profile: schedule
                .profile
                .as_ref()
                .map(|_| geodata::profiles::Profile::DataInclusion),
            dry_run: false,
            actor: format!("planification « {} »", schedule.source),
            addok: self.geocoding.addok.as_ref(),
            min_score: self.geocoding.min_score,
            reports_dir: self.state_dir.join("reports"),
            progress: false,
            existing: &existing,
            workbook_limits: crate::workbook::Limits::UPLOAD,
        };
        let mut summary = run_import(
            self.live.store(),
            file.path(),
            &options,
            &self.live.territory,
        )
        .map_err(|e| {
            // Named by its address: no server path in what is shown.
            anyhow::anyhow!(
                "{}",
                e.to_string()
                    .replace(&file.path().display().to_string(), &schedule.url)
            )
        })?;
        self.live.refresh()?;
        summary.file = schedule.url.clone();
        summary.report = format!("/api/import/reports/{}", summary.report_id);
        Ok(serde_json::to_value(summary)?)
    }

    /// Runs every schedule when it is due, for as long as the server runs.
    pub fn spawn_all(self) {
        for schedule in self.schedules.list.clone() {
            let runner = self.clone();
            tokio::spawn(async move {
                loop {
                    let wait = match runner.last_run_age(&schedule).await {
                        Some(age) => schedule.every().saturating_sub(age),
                        None => FIRST_RUN_AFTER,
                    };
                    tokio::time::sleep(wait).await;
                    // Run meanwhile (by hand, or by another replica).
                    if runner
                        .last_run_age(&schedule)
                        .await
                        .is_some_and(|age| age < schedule.every())
                    {
                        continue;
                    }
                    let (r, source) = (runner.clone(), schedule.source.clone());
                    let _ = tokio::task::spawn_blocking(move || r.run_now(&source)).await;
                }
            });
        }
    }

    /// How long ago `schedule` last started a run, from the store.
    async fn last_run_age(&self, schedule: &ScheduledImport) -> Option<Duration> {
        let (live, source) = (self.live.clone(), schedule.source.clone());
        tokio::task::spawn_blocking(move || live.read(|s| s.import_runs(Some(&source), 1)))
            .await
            .ok()
            .and_then(Result::ok)
            .and_then(|runs| runs.into_iter().next())
            .and_then(|r| age(&r.started_at))
    }
}

/// `csv`, `geojson`, `xlsx` or `ods`, from the URL's path.
fn extension_of(url: &str) -> &'static str {
    crate::import::extension_for(url.split(['?', '#']).next().unwrap_or(url))
}

/// Downloads `url` into `to`: 200 only, at most [`MAX_DOWNLOAD_BYTES`]
/// (checked while reading); its size.
fn download(url: &str, to: &mut std::fs::File) -> anyhow::Result<u64> {
    let agent = crate::fetch::download_agent(Duration::from_secs(15), Duration::from_secs(60));
    let mut response = agent
        .get(url)
        .call()
        .with_context(|| format!("cannot download {url}"))?;
    let status = response.status().as_u16();
    anyhow::ensure!(status == 200, "{url} answered HTTP {status}");
    let mut reader = response
        .body_mut()
        .with_config()
        .limit(MAX_DOWNLOAD_BYTES)
        .reader();
    let bytes = std::io::copy(&mut reader, to).with_context(|| {
        format!(
            "cannot download {url} (larger than {} GiB, or cut off)",
            MAX_DOWNLOAD_BYTES >> 30
        )
    })?;
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_come_from_the_url_and_times_read_back() {
        assert_eq!(extension_of("https://x.org/a/membres.XLSX?dl=1"), "xlsx");
        assert_eq!(extension_of("https://x.org/structures.json"), "geojson");
        assert_eq!(extension_of("https://x.org/export"), "csv");
        assert!(age(&now()).unwrap() < Duration::from_secs(5));
        assert_eq!(age("hier"), None);
    }
}
