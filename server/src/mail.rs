//! E-mail through the configured SMTP relay (`[smtp]`): invitations and
//! password reset links. Plain text, French; sent on a blocking thread. With
//! no relay configured, nothing is sent and the callers say so (an admin
//! then hands the link over).

use lettre::message::{Mailbox, header::ContentType};
use lettre::{Message, SmtpTransport, Transport};

use crate::config::SmtpConfig;

/// How long one message may take to be handed over.
const TIMEOUT: std::time::Duration = std::time::Duration::from_secs(20);

pub struct Mailer {
    transport: SmtpTransport,
    from: Mailbox,
}

impl Mailer {
    /// `smtp://host:port` (plain, a relay on the machine or its network),
    /// `smtp://host:587?tls=required` (STARTTLS), `smtps://host:465` (TLS);
    /// user and password in the URL.
    pub fn new(config: &SmtpConfig) -> anyhow::Result<Mailer> {
        let transport = SmtpTransport::from_url(&config.url)
            .map_err(|e| anyhow::anyhow!("smtp.url: {e}"))?
            .timeout(Some(TIMEOUT))
            .build();
        let from = config
            .from
            .parse()
            .map_err(|e| anyhow::anyhow!("smtp.from {:?}: {e}", config.from))?;
        Ok(Mailer { transport, from })
    }

    /// Sends a plain-text message to one address.
    pub fn send(&self, to: &str, subject: &str, body: String) -> anyhow::Result<()> {
        let message = Message::builder()
            .from(self.from.clone())
            .to(to
                .parse()
                .map_err(|e| anyhow::anyhow!("address {to:?}: {e}"))?)
            .subject(subject)
            .header(ContentType::TEXT_PLAIN)
            .body(body)?;
        self.transport
            .send(&message)
            .map_err(|e| anyhow::anyhow!("cannot send e-mail through the SMTP relay: {e}"))?;
        Ok(())
    }
}

/// The invitation's text.
pub fn invitation(link: &str, role: &str, site: &str) -> (String, String) {
    (
        "Votre accès à la carte de l'ESS et des quartiers prioritaires".to_string(),
        format!(
            "Bonjour,\n\nVous êtes invité(e) à tenir à jour la carte de l'économie sociale et solidaire \
             dans et autour des quartiers prioritaires ({site}), avec le rôle « {role} ».\n\n\
             Choisissez votre mot de passe en ouvrant ce lien (valable 7 jours, utilisable une fois) :\n\n{link}\n\n\
             Si vous n'attendiez pas ce message, ignorez-le.\n"
        ),
    )
}

/// The reset message's text.
pub fn reset(link: &str, site: &str) -> (String, String) {
    (
        "Réinitialisation de votre mot de passe".to_string(),
        format!(
            "Bonjour,\n\nUne réinitialisation du mot de passe de votre compte sur {site} a été demandée.\n\n\
             Choisissez un nouveau mot de passe en ouvrant ce lien (valable une heure, utilisable une fois) :\n\n{link}\n\n\
             Si vous n'avez rien demandé, ignorez ce message : votre mot de passe ne change pas.\n"
        ),
    )
}
