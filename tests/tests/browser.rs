//! Runs the browser tests (tests/browser/*.test.mjs: headless Chromium driven
//! by playwright-core) against the real binary and data.

use std::process::Command;

use ess_map_e2e::{AddokServer, SmtpServer, binary, data_dir, root};

#[test]
fn web_map_in_headless_chromium() {
    let playwright = root().join("web/node_modules/playwright-core");
    assert!(
        playwright.is_dir(),
        "{} is missing: run `npm --prefix web ci` first",
        playwright.display()
    );
    // A real addok for the editors' address suggestions: one street of
    // Saint-Denis (Franc-Moisin) and its commune.
    let addok = AddokServer::start(concat!(
        r#"{"id": "s1", "type": "street", "name": "Rue Gabriel Péri", "postcode": "93200", "city": "Saint-Denis", "citycode": "93066", "lon": 2.3579, "lat": 48.9347, "importance": 0.5, "housenumbers": {"12": {"lon": 2.35802, "lat": 48.93481}, "14": {"lon": 2.35811, "lat": 48.93495}}}"#,
        "\n",
        r#"{"id": "c1", "type": "municipality", "name": "Saint-Denis", "postcode": "93200", "city": "Saint-Denis", "citycode": "93066", "lon": 2.3577, "lat": 48.9362, "importance": 0.8}"#,
        "\n",
    ));
    // A real SMTP server for invitations and resets.
    let smtp = SmtpServer::start();
    let status = Command::new("node")
        .args(["--test", "--test-reporter=spec", "tests/browser/"])
        .current_dir(root())
        .env("ESS_MAP_BIN", binary())
        .env("ESS_MAP_DATA", data_dir())
        .env("ESS_MAP_ADDOK", &addok.url)
        .env("ESS_MAP_SMTP_PORT", smtp.port.to_string())
        .env("ESS_MAP_MAILDIR", smtp.maildir())
        .env("ESS_MAP_MAIL_PYTHON", &smtp.python)
        .status()
        .expect("node runs");
    assert!(status.success(), "browser tests failed");
}
