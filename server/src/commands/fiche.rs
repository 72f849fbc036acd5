//! `ess-map fiche`: printable QPV fiches, for batch production (the same
//! static, self-contained page as `/qpv/{code}/fiche`).

use std::path::PathBuf;

use anyhow::Context;

use crate::config::Settings;
use crate::fiche::fiche_html;

#[derive(clap::Args)]
pub struct Args {
    /// QPV codes (QN07511M …).
    #[arg(required = true)]
    codes: Vec<String>,
    /// The file to write, for one code.
    #[arg(long, conflicts_with = "out_dir")]
    out: Option<PathBuf>,
    /// A folder to write `<CODE>.html` in, one per code.
    #[arg(long)]
    out_dir: Option<PathBuf>,
    /// Metres around the outline.
    #[arg(long, default_value_t = geodata::conventions::DEFAULT_RADIUS_M)]
    radius_m: f64,
}

pub fn run(settings: &Settings, args: Args) -> anyhow::Result<()> {
    anyhow::ensure!(
        (0.0..=geodata::conventions::MAX_RADIUS_M).contains(&args.radius_m),
        "--radius-m must be between 0 and {}",
        geodata::conventions::MAX_RADIUS_M
    );
    let targets: Vec<(String, PathBuf)> = match (&args.out, &args.out_dir) {
        (Some(out), None) => {
            anyhow::ensure!(
                args.codes.len() == 1,
                "--out takes one code; use --out-dir for several"
            );
            vec![(args.codes[0].clone(), out.clone())]
        }
        (None, Some(dir)) => {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("cannot create {}", dir.display()))?;
            args.codes
                .iter()
                .map(|c| {
                    (
                        c.clone(),
                        dir.join(format!("{}.html", c.trim().to_uppercase())),
                    )
                })
                .collect()
        }
        _ => anyhow::bail!("give --out FILE (one code) or --out-dir DIR"),
    };
    let live = super::live(settings)?;
    let data = live.snapshot().data.clone();
    // The walking network, when extracts are configured or fetched.
    let sources = crate::walking::WalkSources::of(settings, &[])?;
    let walk = if sources.extracts.is_empty() {
        None
    } else {
        Some(sources.load(&settings.state_dir())?)
    };
    // Every code is checked before anything is written.
    let mut ids = Vec::new();
    for (code, _) in &targets {
        let id = data
            .qpv_by_code(code.trim())
            .with_context(|| format!("no QPV `{code}`; see /api/qpv"))?;
        ids.push(id);
    }
    for ((code, path), id) in targets.iter().zip(ids) {
        std::fs::write(path, fiche_html(&data, id, args.radius_m, walk.as_ref()))
            .with_context(|| format!("cannot write {}", path.display()))?;
        eprintln!("{code}: {}", path.display());
    }
    Ok(())
}
