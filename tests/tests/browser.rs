//! Runs the browser tests (tests/browser/*.test.mjs: headless Chromium driven
//! by playwright-core) against the real binary and data.

use std::process::Command;

use ess_map_e2e::{binary, data_dir, root};

#[test]
fn web_map_in_headless_chromium() {
    let playwright = root().join("web/node_modules/playwright-core");
    assert!(
        playwright.is_dir(),
        "{} is missing: run `npm --prefix web ci` first",
        playwright.display()
    );
    let status = Command::new("node")
        .args(["--test", "--test-reporter=spec", "tests/browser/"])
        .current_dir(root())
        .env("ESS_MAP_BIN", binary())
        .env("ESS_MAP_DATA", data_dir())
        .status()
        .expect("node runs");
    assert!(status.success(), "browser tests failed");
}
