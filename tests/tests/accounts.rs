//! People who sign in (issue 22): accounts made by `ess-map user`, sessions
//! as cookies with a CSRF token, roles and départements, sign-in limits, no
//! account enumeration, invitation links, and the public list of changes
//! (JSON and Atom, the feed checked by Python's feedparser). Both stores
//! (`ESS_MAP_TEST_STORE=postgres`).

use std::io::Write;
use std::process::Stdio;

use ess_map_e2e::{Response, Server, SmtpServer, create_token, ess_map, python_tool, with_store};
use serde_json::{Value, json};

fn json_body(v: Value) -> Option<(&'static str, Vec<u8>)> {
    Some(("application/json", v.to_string().into_bytes()))
}

/// `ess-map user create EMAIL --role ROLE [--departements]`, the password
/// on standard input.
fn create_user(
    state: &std::path::Path,
    email: &str,
    role: &str,
    departements: Option<&str>,
    password: &str,
) {
    let mut command = ess_map();
    with_store(&mut command, state);
    command
        .arg("--state")
        .arg(state)
        .args(["user", "create", email, "--role", role]);
    if let Some(d) = departements {
        command.args(["--departements", d]);
    }
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(format!("{password}\n").as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn users(state: &std::path::Path, args: &[&str]) -> String {
    let mut command = ess_map();
    with_store(&mut command, state);
    let out = command
        .arg("--state")
        .arg(state)
        .arg("user")
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// `POST /api/password` with a link's secret.
fn choose_password(s: &Server, link: &str, password: &str) -> Response {
    s.send(
        "POST",
        "/api/password",
        None,
        json_body(json!({ "link": link, "password": password })),
    )
}

/// A signed-in browser: its cookie and CSRF token.
struct Browser {
    cookie: String,
    csrf: String,
}

fn sign_in(s: &Server, email: &str, password: &str) -> (Response, Option<Browser>) {
    let r = s.send(
        "POST",
        "/api/session",
        None,
        json_body(json!({ "email": email, "password": password })),
    );
    let browser = (r.status == 200).then(|| {
        let set = &r.headers["set-cookie"];
        let cookie = set.split(';').next().unwrap().to_string();
        Browser {
            cookie,
            csrf: r.json["csrf"].as_str().unwrap().to_string(),
        }
    });
    (r, browser)
}

impl Browser {
    fn send(
        &self,
        s: &Server,
        method: &str,
        path: &str,
        body: Option<Value>,
        csrf: bool,
    ) -> Response {
        let mut headers = vec![("cookie", self.cookie.as_str())];
        if csrf {
            headers.push(("x-csrf-token", self.csrf.as_str()));
        }
        s.send_with(method, path, None, body.and_then(json_body), &headers)
    }
}

#[test]
fn a_session_signs_in_writes_with_its_csrf_token_and_ends() {
    let state = tempfile::tempdir().unwrap();
    create_user(
        state.path(),
        "Claire@Reseau.FR",
        "editor",
        None,
        "une phrase de passe solide",
    );
    let s = Server::start_with(state.path(), &["--geocoder", "none"]);

    let (r, browser) = sign_in(&s, "claire@reseau.fr", "une phrase de passe solide");
    assert_eq!(r.status, 200, "{}", r.json);
    let browser = browser.unwrap();
    assert_eq!(r.json["email"], "claire@reseau.fr");
    assert_eq!(r.json["role"], "editor");
    assert!(r.json.get("password_hash").is_none());
    // The cookie: HttpOnly, SameSite, not Secure over plain HTTP.
    let set = &r.headers["set-cookie"];
    assert!(set.starts_with("ess_map_session="), "{set}");
    assert!(
        set.contains("HttpOnly") && set.contains("SameSite=Strict") && set.contains("Path=/"),
        "{set}"
    );
    assert!(!set.contains("Secure"), "{set}");
    let me = s.get_with("/api/session", &[("cookie", browser.cookie.as_str())]);
    assert_eq!(me.status, 200);
    assert_eq!(me.json["signed_in"], true);
    assert_eq!(me.json["csrf"], browser.csrf.as_str());

    // A write with the cookie but without the CSRF token (another site's
    // form) is refused; with it, it is made and recorded under the person.
    let body = json!({ "name": "Recyclerie du Franc-Moisin", "category": "recyclerie", "postcode": "93200", "lon": 2.3656, "lat": 48.9223 });
    let forged = browser.send(&s, "POST", "/api/initiatives", Some(body.clone()), false);
    assert_eq!(forged.status, 403, "{}", forged.json);
    let wrong = s.send_with(
        "POST",
        "/api/initiatives",
        None,
        json_body(body.clone()),
        &[
            ("cookie", browser.cookie.as_str()),
            ("x-csrf-token", "0000"),
        ],
    );
    assert_eq!(wrong.status, 403);
    let made = browser.send(&s, "POST", "/api/initiatives", Some(body), true);
    assert_eq!(made.status, 201, "{}", made.json);
    let id = made.json["properties"]["id"].as_str().unwrap().to_string();
    let history = browser.send(
        &s,
        "GET",
        &format!("/api/initiatives/{id}/history"),
        None,
        false,
    );
    assert_eq!(history.status, 200, "{}", history.json);
    assert_eq!(history.json["history"][0]["actor"], "claire@reseau.fr");

    // The public list of changes says the role, never the person.
    let changes = s.get("/api/changes?departement=93");
    assert_eq!(changes.status, 200, "{}", changes.json);
    let first = &changes.json["changes"][0];
    assert_eq!(first["kind"], "ajout");
    assert_eq!(first["initiative"], id.as_str());
    assert_eq!(first["by"], "éditeur");
    assert!(
        !changes.json.to_string().contains("claire"),
        "{}",
        changes.json
    );
    assert_eq!(
        s.get("/api/changes?departement=31").json["changes"],
        json!([])
    );
    assert_eq!(s.get("/api/changes?departement=XX").status, 400);

    // Signing out ends the session: the cookie no longer works.
    let out = browser.send(&s, "DELETE", "/api/session", None, true);
    assert_eq!(out.status, 204);
    assert!(out.headers["set-cookie"].contains("Max-Age=0"));
    assert_eq!(
        s.get_with("/api/session", &[("cookie", browser.cookie.as_str())])
            .json["signed_in"],
        false
    );
    let after = browser.send(
        &s,
        "POST",
        "/api/initiatives",
        Some(json!({ "name": "X" })),
        true,
    );
    assert_eq!(after.status, 401);
}

#[test]
fn no_fixation_no_enumeration_and_sign_in_is_limited() {
    let state = tempfile::tempdir().unwrap();
    create_user(
        state.path(),
        "amine@reseau.fr",
        "editor",
        None,
        "mot de passe long et sûr",
    );
    let s = Server::start_with(state.path(), &["--geocoder", "none"]);

    // A session id chosen before sign-in (planted by an attacker) is never
    // the one given: each sign-in makes a new one.
    let planted =
        "ess_map_session=aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    let r = s.send_with(
        "POST",
        "/api/session",
        None,
        json_body(json!({ "email": "amine@reseau.fr", "password": "mot de passe long et sûr" })),
        &[("cookie", planted)],
    );
    assert_eq!(r.status, 200);
    let given = r.headers["set-cookie"]
        .split(';')
        .next()
        .unwrap()
        .to_string();
    assert_ne!(given, planted);
    assert_eq!(
        s.get_with("/api/session", &[("cookie", planted)]).json["signed_in"],
        false
    );
    let (_, again) = sign_in(&s, "amine@reseau.fr", "mot de passe long et sûr");
    assert_ne!(again.unwrap().cookie, given, "a new id at each sign-in");

    // An unknown address and a wrong password get the same answer.
    let (unknown, _) = sign_in(&s, "personne@nulle-part.fr", "mot de passe long et sûr");
    let (wrong, _) = sign_in(&s, "amine@reseau.fr", "pas le bon mot de passe");
    assert_eq!(unknown.status, 401);
    assert_eq!(wrong.status, 401);
    assert_eq!(unknown.json, wrong.json);

    // Ten tries on one address, then 429 with Retry-After, even with the
    // right password; another address is still open.
    let mut refused = None;
    for _ in 0..12 {
        let (r, _) = sign_in(&s, "amine@reseau.fr", "encore un mauvais essai");
        if r.status == 429 {
            refused = Some(r);
            break;
        }
        assert_eq!(r.status, 401);
    }
    let refused = refused.expect("the sign-in limit answered 429");
    assert_eq!(
        refused.json["error"], "too_many_requests",
        "{}",
        refused.json
    );
    assert!(refused.headers["retry-after"].parse::<u64>().unwrap() > 0);
    let (right, _) = sign_in(&s, "amine@reseau.fr", "mot de passe long et sûr");
    assert_eq!(right.status, 429);
    let (other, _) = sign_in(&s, "personne@nulle-part.fr", "x");
    assert_eq!(other.status, 401);
}

#[test]
fn roles_and_departements_bound_what_a_person_may_write() {
    let state = tempfile::tempdir().unwrap();
    create_user(
        state.path(),
        "contrib@reseau.fr",
        "contributor",
        None,
        "contributeur du réseau",
    );
    create_user(
        state.path(),
        "edit93@reseau.fr",
        "editor",
        Some("93"),
        "éditeur de Seine-Saint-Denis",
    );
    let s = Server::start_with(state.path(), &["--geocoder", "none"]);
    let in_93 = json!({ "name": "Régie du Clos", "category": "regie_quartier", "postcode": "93200", "lon": 2.3656, "lat": 48.9223 });
    let in_31 = json!({ "name": "Garage du Mirail", "category": "garage_mobilite", "postcode": "31100", "lon": 1.402, "lat": 43.574 });

    let (_, contributor) = sign_in(&s, "contrib@reseau.fr", "contributeur du réseau");
    let r = contributor
        .unwrap()
        .send(&s, "POST", "/api/initiatives", Some(in_93.clone()), true);
    assert_eq!(r.status, 403, "{}", r.json);

    let (_, editor) = sign_in(&s, "edit93@reseau.fr", "éditeur de Seine-Saint-Denis");
    let editor = editor.unwrap();
    let made = editor.send(&s, "POST", "/api/initiatives", Some(in_93), true);
    assert_eq!(made.status, 201, "{}", made.json);
    let outside = editor.send(&s, "POST", "/api/initiatives", Some(in_31.clone()), true);
    assert_eq!(outside.status, 403, "{}", outside.json);
    assert!(outside.json["message"].as_str().unwrap().contains("93"));
    // Nor moved out of its départements by a correction.
    let id = made.json["properties"]["id"].as_str().unwrap();
    let moved = editor.send(
        &s,
        "PATCH",
        &format!("/api/initiatives/{id}"),
        Some(json!({ "postcode": "31100" })),
        true,
    );
    assert_eq!(moved.status, 403, "{}", moved.json);
    // « Vérifiée le … », within its départements only.
    assert_eq!(
        s.get(&format!("/api/initiatives/{id}")).json["properties"]["verified_at"],
        Value::Null
    );
    let checked = editor.send(
        &s,
        "POST",
        &format!("/api/initiatives/{id}/verified"),
        None,
        true,
    );
    assert_eq!(checked.status, 200, "{}", checked.json);
    let at = checked.json["verified_at"].as_str().unwrap().to_string();
    assert_eq!(
        s.get(&format!("/api/initiatives/{id}")).json["properties"]["verified_at"],
        at.as_str()
    );
    assert_eq!(
        editor
            .send(
                &s,
                "POST",
                "/api/initiatives/finess-010001261/verified",
                None,
                true
            )
            .status,
        403,
        "an ESAT of the Ain"
    );
    // Nor an initiative of another département corrected or removed.
    let admin = create_token(state.path(), "outil", "admin");
    let there = s.send("POST", "/api/initiatives", Some(&admin), json_body(in_31));
    assert_eq!(there.status, 201);
    let other = there.json["properties"]["id"].as_str().unwrap();
    let r = editor.send(
        &s,
        "DELETE",
        &format!("/api/initiatives/{other}"),
        None,
        true,
    );
    assert_eq!(r.status, 403);
    // The public changes name tokens as scripts.
    let changes = s.get("/api/changes");
    assert_eq!(
        changes.json["changes"][0]["by"],
        "script (jeton d'écriture)"
    );
}

#[test]
fn an_invitation_lets_a_person_choose_a_password_once_and_an_admin_manages_people() {
    let state = tempfile::tempdir().unwrap();
    create_user(
        state.path(),
        "admin@cress.fr",
        "admin",
        None,
        "administratrice de la CRESS",
    );
    let s = Server::start_with(state.path(), &["--geocoder", "none"]);
    let (_, admin) = sign_in(&s, "admin@cress.fr", "administratrice de la CRESS");
    let admin = admin.unwrap();

    let invited = admin.send(
        &s,
        "POST",
        "/api/users",
        Some(json!({ "email": "Nadia@Reseau.fr", "role": "editor", "departements": ["93", "94"] })),
        true,
    );
    assert_eq!(invited.status, 201, "{}", invited.json);
    assert_eq!(invited.json["departements"], json!(["93", "94"]));
    let link = invited.json["link"].as_str().unwrap();
    assert!(link.starts_with(&s.base), "{link}");
    let secret = link.split("invitation=").nth(1).unwrap();
    assert_eq!(
        admin
            .send(
                &s,
                "POST",
                "/api/users",
                Some(json!({ "email": "nadia@reseau.fr", "role": "editor" })),
                true
            )
            .status,
        409
    );
    // Before a password, no sign-in.
    assert_eq!(sign_in(&s, "nadia@reseau.fr", "").0.status, 401);
    let short = choose_password(&s, secret, "court");
    assert_eq!(short.status, 400);
    assert_eq!(short.json["field"], "password");
    let chosen = choose_password(&s, secret, "le mot de passe de Nadia");
    assert_eq!(chosen.status, 200, "{}", chosen.json);
    let reused = choose_password(&s, secret, "un autre mot de passe");
    assert_eq!(reused.status, 400, "a link works once");
    let (r, nadia) = sign_in(&s, "nadia@reseau.fr", "le mot de passe de Nadia");
    assert_eq!(r.status, 200);
    let nadia = nadia.unwrap();

    // The admin lists and disables; the disabled person's session ends.
    let list = admin.send(&s, "GET", "/api/users", None, false);
    let emails: Vec<&str> = list.json["users"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["email"].as_str().unwrap())
        .collect();
    assert_eq!(emails, ["admin@cress.fr", "nadia@reseau.fr"]);
    assert_eq!(nadia.send(&s, "GET", "/api/users", None, false).status, 403);
    let off = admin.send(
        &s,
        "PATCH",
        "/api/users/nadia@reseau.fr",
        Some(json!({ "disabled": true })),
        true,
    );
    assert_eq!(off.status, 200, "{}", off.json);
    assert_eq!(
        s.get_with("/api/session", &[("cookie", nadia.cookie.as_str())])
            .json["signed_in"],
        false
    );
    assert_eq!(
        sign_in(&s, "nadia@reseau.fr", "le mot de passe de Nadia")
            .0
            .status,
        401
    );
    // An admin cannot lock themselves out.
    let me = admin.send(
        &s,
        "PATCH",
        "/api/users/admin@cress.fr",
        Some(json!({ "disabled": true })),
        true,
    );
    assert_eq!(me.status, 409);

    // The CLI sees the same accounts.
    let listed = users(state.path(), &["list"]);
    assert!(
        listed.contains("nadia@reseau.fr\teditor\t93,94\tdesactive"),
        "{listed}"
    );
    assert!(
        listed.contains("admin@cress.fr\tadmin\ttous\tactif"),
        "{listed}"
    );
}

#[test]
fn the_changes_feed_is_valid_atom() {
    let state = tempfile::tempdir().unwrap();
    let s = Server::start_with(state.path(), &["--geocoder", "none"]);
    let token = create_token(state.path(), "outil", "editor");
    for (name, postcode, lon, lat) in [
        ("Épicerie <solidaire> & co", "93200", 2.3656, 48.9223),
        ("Atelier vélo du Mirail", "31100", 1.402, 43.574),
    ] {
        let r = s.send(
            "POST",
            "/api/initiatives",
            Some(&token),
            json_body(json!({ "name": name, "category": "epicerie_solidaire", "postcode": postcode, "lon": lon, "lat": lat })),
        );
        assert_eq!(r.status, 201, "{}", r.json);
    }
    let feed = s.get("/api/changes.atom?departement=93");
    assert_eq!(feed.status, 200);
    assert!(
        feed.content_type.starts_with("application/atom+xml"),
        "{}",
        feed.content_type
    );
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("changes.atom");
    std::fs::write(&file, &feed.bytes).unwrap();
    let python = python_tool("feedparser-venv", &["feedparser==6.0.11"], "python");
    let out = std::process::Command::new(python)
        .arg("-c")
        .arg(
            "import feedparser, json, sys\n\
             d = feedparser.parse(sys.argv[1])\n\
             print(json.dumps({'bozo': d.bozo, 'version': d.version, 'title': d.feed.title,\n\
               'entries': [{'title': e.title, 'id': e.id, 'link': e.link, 'updated': e.updated} for e in d.entries]}))",
        )
        .arg(&file)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let parsed: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(parsed["bozo"], false, "{parsed}");
    assert_eq!(parsed["version"], "atom10");
    assert!(
        parsed["title"]
            .as_str()
            .unwrap()
            .contains("Seine-Saint-Denis"),
        "{parsed}"
    );
    let entries = parsed["entries"].as_array().unwrap();
    assert_eq!(entries.len(), 1, "{parsed}");
    assert_eq!(entries[0]["title"], "Ajout : Épicerie <solidaire> & co");
    assert!(entries[0]["link"].as_str().unwrap().contains("z=16"));
}

/// The secret of a link in a message's text.
fn secret_in(text: &str, parameter: &str) -> String {
    let at = text
        .find(&format!("?{parameter}="))
        .unwrap_or_else(|| panic!("no link in {text}"));
    text[at + parameter.len() + 2..]
        .chars()
        .take_while(char::is_ascii_hexdigit)
        .collect()
}

#[test]
fn invitations_and_resets_go_through_a_real_smtp_server_without_telling_who_has_an_account() {
    let smtp = SmtpServer::start();
    let state = tempfile::tempdir().unwrap();
    let config = state.path().join("ess-map.toml");
    std::fs::write(&config, smtp.config()).unwrap();
    let admin = create_token(state.path(), "cress", "admin");
    let s = Server::start_with(
        state.path(),
        &["--config", config.to_str().unwrap(), "--geocoder", "none"],
    );

    // The invitation leaves by e-mail; the answer holds no link then.
    let invited = s.send(
        "POST",
        "/api/users",
        Some(&admin),
        json_body(json!({ "email": "nadia@reseau.fr", "role": "editor" })),
    );
    assert_eq!(invited.status, 201, "{}", invited.json);
    assert_eq!(invited.json["sent"], true);
    assert!(invited.json.get("link").is_none());
    let mail = smtp.wait_for(1);
    let (to, subject, text) = &mail[0];
    assert_eq!(to, "nadia@reseau.fr");
    assert_eq!(
        subject,
        "Votre accès à la carte de l'ESS et des quartiers prioritaires"
    );
    assert!(text.contains("« éditeur »"), "{text}");
    assert!(text.contains(&format!("{}/?invitation=", s.base)), "{text}");
    let secret = secret_in(text, "invitation");
    let chosen = choose_password(&s, &secret, "le mot de passe de Nadia");
    assert_eq!(chosen.status, 200, "{}", chosen.json);
    assert_eq!(
        sign_in(&s, "nadia@reseau.fr", "le mot de passe de Nadia")
            .0
            .status,
        200
    );

    // A reset: the same answer for an address with an account and one
    // without; only the first gets a message.
    let known = s.send(
        "POST",
        "/api/password/reset",
        None,
        json_body(json!({ "email": "Nadia@reseau.fr" })),
    );
    let unknown = s.send(
        "POST",
        "/api/password/reset",
        None,
        json_body(json!({ "email": "personne@reseau.fr" })),
    );
    assert_eq!(known.status, 202, "{}", known.json);
    assert_eq!((unknown.status, &unknown.json), (known.status, &known.json));
    let mail = smtp.wait_for(2);
    std::thread::sleep(std::time::Duration::from_millis(500));
    assert_eq!(
        smtp.messages().len(),
        2,
        "no message for an address without an account"
    );
    let (to, subject, text) = mail
        .iter()
        .find(|m| m.1.contains("Réinitialisation"))
        .unwrap();
    assert_eq!(
        (to.as_str(), subject.as_str()),
        ("nadia@reseau.fr", "Réinitialisation de votre mot de passe")
    );
    let secret = secret_in(text, "reinitialisation");
    let (_, before) = sign_in(&s, "nadia@reseau.fr", "le mot de passe de Nadia");
    let before = before.unwrap();
    let reset = choose_password(&s, &secret, "un nouveau mot de passe");
    assert_eq!(reset.status, 200, "{}", reset.json);
    assert_eq!(
        sign_in(&s, "nadia@reseau.fr", "le mot de passe de Nadia")
            .0
            .status,
        401
    );
    assert_eq!(
        sign_in(&s, "nadia@reseau.fr", "un nouveau mot de passe")
            .0
            .status,
        200
    );
    assert_eq!(
        s.get_with("/api/session", &[("cookie", before.cookie.as_str())])
            .json["signed_in"],
        false,
        "a new password ends the sessions of the old one"
    );
}

#[test]
fn without_smtp_resets_are_asked_of_an_admin() {
    let s = Server::start();
    let r = s.send(
        "POST",
        "/api/password/reset",
        None,
        json_body(json!({ "email": "nadia@reseau.fr" })),
    );
    assert_eq!(r.status, 409, "{}", r.json);
    assert!(
        r.json["message"]
            .as_str()
            .unwrap()
            .contains("administrateur")
    );
}

/// Behind HTTPS (`public_url` in https), the session cookie is `Secure`.
#[test]
fn the_cookie_is_secure_behind_https() {
    let state = tempfile::tempdir().unwrap();
    create_user(
        state.path(),
        "claire@reseau.fr",
        "editor",
        None,
        "une phrase de passe solide",
    );
    let config = state.path().join("ess-map.toml");
    std::fs::write(&config, "public_url = \"https://carte.example.org\"\n").unwrap();
    let s = Server::start_with(
        state.path(),
        &["--config", config.to_str().unwrap(), "--geocoder", "none"],
    );
    let (r, _) = sign_in(&s, "claire@reseau.fr", "une phrase de passe solide");
    assert_eq!(r.status, 200, "{}", r.json);
    let set = &r.headers["set-cookie"];
    assert!(
        set.contains("; Secure") && set.contains("HttpOnly") && set.contains("SameSite=Strict"),
        "{set}"
    );
}
