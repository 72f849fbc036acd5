//! `ess-map token create`: write-API tokens.

use crate::config::Settings;
use crate::store::{Role, Store};

#[derive(clap::Subcommand)]
pub enum Action {
    /// Create a token (printed once; the store keeps only its hash).
    Create {
        /// Who the token is for: shown in the history of its edits.
        #[arg(long)]
        name: String,
        /// contributor, editor (edit initiatives), moderator (also decide on proposals) or admin (also import files and manage people).
        #[arg(long, default_value = "editor", value_parser = role)]
        role: Role,
    },
}

fn role(name: &str) -> Result<Role, String> {
    Role::from_name(name).ok_or_else(|| "contributor, editor, moderator or admin".to_string())
}

pub fn run(settings: &Settings, action: Action) -> anyhow::Result<()> {
    let Action::Create { name, role } = action;
    let location = settings.store();
    let token = Store::open(&location)?.create_token(&name, role)?;
    println!("{token}");
    eprintln!(
        "token `{}` ({}) created in {}; it is shown only this once",
        name.trim(),
        role.as_str(),
        location.describe()
    );
    Ok(())
}
