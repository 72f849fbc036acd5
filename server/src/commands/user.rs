//! `ess-map user create|list|disable|enable|reset`: the people who sign in,
//! from the command line (the admin page does the same in the browser).

use std::io::{IsTerminal, Read};

use crate::accounts;
use crate::config::Settings;
use crate::store::{NewAccount, Role, Store};

#[derive(clap::Subcommand)]
pub enum Action {
    /// Create an account. Its password is read from standard input when that
    /// is not a terminal; otherwise an invitation link (valid 7 days) is
    /// printed, for the person to choose it.
    Create {
        email: String,
        /// contributor, editor, moderator or admin.
        #[arg(long, value_parser = role)]
        role: Role,
        /// Where they may write (`93,94`); everywhere when absent.
        #[arg(long)]
        departements: Option<String>,
        /// Their name, shown to admins.
        #[arg(long)]
        name: Option<String>,
    },
    /// List the accounts: e-mail, role, départements, state, creation date.
    List,
    /// Disable an account (its sessions end at once).
    Disable { email: String },
    /// Enable a disabled account again.
    Enable { email: String },
    /// Print a password reset link (valid an hour) to hand over.
    Reset { email: String },
}

fn role(name: &str) -> Result<Role, String> {
    Role::from_name(name).ok_or_else(|| "contributor, editor, moderator or admin".to_string())
}

/// The web map's address for links: `public_url`, else the default listen
/// address.
fn base(settings: &Settings) -> String {
    settings
        .config
        .public_url
        .clone()
        .unwrap_or_else(|| "http://127.0.0.1:8080".to_string())
        .trim_end_matches('/')
        .to_string()
}

pub fn run(settings: &Settings, action: Action) -> anyhow::Result<()> {
    let location = settings.store();
    let mut store = Store::open(&location)?;
    match action {
        Action::Create {
            email,
            role,
            departements,
            name,
        } => {
            let new = NewAccount {
                email: accounts::normalise_email(&email)?,
                name: name.map(|n| n.trim().to_string()).filter(|n| !n.is_empty()),
                role,
                departements: accounts::parse_departements(
                    departements.as_deref().unwrap_or_default(),
                    &[],
                )?,
            };
            let stdin = std::io::stdin();
            if stdin.is_terminal() {
                let (account, secret) = accounts::invite(&mut store, new)?;
                println!("{}/?invitation={secret}", base(settings));
                eprintln!(
                    "{} ({}) created in {}; the link above lets them choose a password within 7 days",
                    account.email,
                    account.role.as_str(),
                    location.describe()
                );
            } else {
                let mut password = String::new();
                stdin.lock().take(4096).read_to_string(&mut password)?;
                let password = password.trim_end_matches(['\r', '\n']);
                let account = accounts::create_with_password(&mut store, new, password)?;
                eprintln!(
                    "{} ({}) created in {} with the password given",
                    account.email,
                    account.role.as_str(),
                    location.describe()
                );
            }
        }
        Action::List => {
            println!("email\trole\tdepartements\tetat\tcree_le");
            for a in store.accounts()? {
                println!(
                    "{}\t{}\t{}\t{}\t{}",
                    a.email,
                    a.role.as_str(),
                    if a.departements.is_empty() {
                        "tous".to_string()
                    } else {
                        a.departements.join(",")
                    },
                    if a.disabled {
                        "desactive"
                    } else if a.password_hash.is_none() {
                        "invite"
                    } else {
                        "actif"
                    },
                    a.created_at
                );
            }
        }
        Action::Disable { email } => {
            let a = accounts::set_disabled(&mut store, &email, true)?;
            eprintln!("{} disabled; their sessions ended", a.email);
        }
        Action::Enable { email } => {
            let a = accounts::set_disabled(&mut store, &email, false)?;
            eprintln!("{} enabled", a.email);
        }
        Action::Reset { email } => match accounts::reset_link(&mut store, &email)? {
            Some((a, secret)) => {
                println!("{}/?reinitialisation={secret}", base(settings));
                eprintln!("a reset link for {}, valid an hour", a.email);
            }
            None => anyhow::bail!("no enabled account for {email}"),
        },
    }
    Ok(())
}
