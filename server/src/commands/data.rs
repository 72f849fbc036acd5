//! `ess-map data`: the national files, fetched into the downloads directory
//! (`data fetch`) and what is in place (`data status`).

use std::time::Duration;

use crate::config::Settings;
use crate::fetch::{Downloads, FetchOptions, Outcome};

#[derive(clap::Subcommand)]
pub enum Action {
    /// Download the national files the manifest lists (all, or those named),
    /// check them against their pinned size and SHA-256 and put them in place.
    Fetch(FetchArgs),
    /// What is in the downloads directory, and which datasets it completes.
    Status,
}

#[derive(clap::Args)]
pub struct FetchArgs {
    /// Downloads to fetch, by id (default: every one not marked
    /// `on_request`, such as the OpenStreetMap extracts).
    ids: Vec<String>,
    /// Fetch from a mirror instead of the producers: an `http(s)://` base
    /// address or a local folder, holding each file as `<id>.zip` (archives)
    /// or `<id>.<extension>`.
    #[arg(long)]
    mirror: Option<String>,
    /// Take what is served when it differs from its pin (a producer
    /// republished it) or has none, show what changed and record the new pin.
    #[arg(long)]
    accept_new: bool,
    /// Download again even when the file in place matches its pin.
    #[arg(long)]
    force: bool,
    /// Seconds without data after which a transfer stops (the next run resumes it).
    #[arg(long, default_value_t = 30.0)]
    stall_timeout_s: f64,
}

pub fn run(settings: &Settings, action: Action) -> anyhow::Result<()> {
    match action {
        Action::Fetch(args) => fetch(settings, args),
        Action::Status => status(settings),
    }
}

fn fetch(settings: &Settings, args: FetchArgs) -> anyhow::Result<()> {
    let manifest = settings.manifest()?;
    if let Some(unknown) = args.ids.iter().find(|id| manifest.download(id).is_none()) {
        let known: Vec<&str> = manifest.downloads.iter().map(|d| d.id.as_str()).collect();
        anyhow::bail!(
            "no download `{unknown}` in the manifest (known: {})",
            known.join(", ")
        );
    }
    let downloads = Downloads::new(settings.downloads_dir());
    let options = FetchOptions {
        mirror: args.mirror,
        accept_new: args.accept_new,
        force: args.force,
        stall_timeout: Duration::from_secs_f64(args.stall_timeout_s.max(0.1)),
        connect_timeout: Duration::from_secs(15),
        progress: std::io::IsTerminal::is_terminal(&std::io::stderr()),
    };
    let mut failed = 0;
    for download in manifest.downloads.iter().filter(|d| {
        if args.ids.is_empty() {
            !d.on_request
        } else {
            args.ids.contains(&d.id)
        }
    }) {
        eprintln!("{}: {}", download.id, download.title);
        match downloads.fetch(download, &options) {
            Ok(Outcome::UpToDate(installed)) => eprintln!(
                "  up to date: {} ({} bytes, fetched {})",
                installed.file.display(),
                installed.size,
                installed.fetched
            ),
            Ok(Outcome::Installed {
                installed,
                new_pin,
                resumed_from,
            }) => {
                if resumed_from > 0 {
                    eprintln!("  resumed from byte {resumed_from}");
                }
                eprintln!(
                    "  in place: {} ({} bytes, SHA-256 {})",
                    downloads.dir().join(&installed.file).display(),
                    installed.size,
                    installed.sha256
                );
                if let Some((old, new)) = new_pin {
                    match old {
                        Some(old) => eprintln!(
                            "  NEW VERSION pinned (--accept-new):\n    was {old}\n    now {new}"
                        ),
                        None => eprintln!("  pinned for the first time (--accept-new): {new}"),
                    }
                }
                if let Some(then) = &download.then {
                    eprintln!("  next: {then}");
                }
            }
            Err(e) => {
                failed += 1;
                eprintln!("  FAILED: {e}");
            }
        }
    }
    if failed > 0 {
        anyhow::bail!("{failed} download(s) failed; the files in place before are unchanged");
    }
    eprintln!("`ess-map serve` loads what is in place at its next start.");
    Ok(())
}

fn status(settings: &Settings) -> anyhow::Result<()> {
    let manifest = settings.manifest()?;
    let downloads = Downloads::new(settings.downloads_dir());
    let installed = downloads.installed()?;
    println!("downloads directory: {}", downloads.dir().display());
    for download in &manifest.downloads {
        let pin = downloads.pin(download)?;
        let state = match installed.get(&download.id) {
            Some(i) if pin.as_ref().is_some_and(|p| p.sha256 == i.sha256) => {
                format!("in place, matches its pin (fetched {})", i.fetched)
            }
            Some(i) => format!(
                "in place (fetched {}), but not the pinned version: run `ess-map data fetch {}`",
                i.fetched, download.id
            ),
            None => "not fetched".to_string(),
        };
        println!("{}: {state}", download.id);
        for dataset in manifest.datasets.iter().filter(|d| d.file == download.file) {
            println!("  loaded by `serve` as dataset `{}`", dataset.id);
        }
        if let Some(then) = &download.then {
            println!("  then: {then}");
        }
    }
    Ok(())
}
