//! The OpenAPI 3 document of every route (`GET /api/openapi.json`).

use std::collections::HashMap;

use axum::Json;
use axum::extract::{Query, State};
use serde_json::{Value, json};

use super::params::Params;
use geodata::conventions::{
    DEFAULT_LOCATE_RADIUS_M, DEFAULT_RADIUS_M, GENERATIONS, MAX_RADIUS_M, NEAR_RADIUS_M,
};

use crate::output::CsvStyle;
use geodata::walk::{DEFAULT_MINUTES, MAX_MINUTES};

use super::{ApiError, AppState, DEFAULT_LIMIT, MAX_BBOX_DEG, MAX_LIMIT, ogc};

/// What the document lists as accepted values, from the data served.
#[derive(Debug, Default, Clone)]
pub struct Vocabulary {
    pub categories: Vec<String>,
    /// Categories and groups (`siae`): what the gap analysis takes.
    pub kinds: Vec<String>,
    pub departements: Vec<String>,
}

impl Vocabulary {
    pub fn of(data: &geodata::Dataset) -> Self {
        let categories: Vec<String> = data.taxonomy().all().iter().map(|c| c.id.clone()).collect();
        let mut kinds = categories.clone();
        kinds.extend(data.taxonomy().groups().iter().map(|g| g.id.clone()));
        let mut departements: Vec<String> =
            data.qpvs().iter().map(|q| q.departement.clone()).collect();
        departements.sort();
        departements.dedup();
        Vocabulary {
            categories,
            kinds,
            departements,
        }
    }
}

fn error_response(description: &str) -> Value {
    json!({ "description": description,
        "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Error" } } } })
}

/// An optional query parameter; empty is the same as absent.
fn query(name: &str, schema: Value, description: &str, example: Value) -> Value {
    json!({ "name": name, "in": "query", "required": false, "allowEmptyValue": true,
            "schema": schema, "description": description, "example": example })
}

/// A parameter without example: the examples of a route are used together,
/// and this one only goes with another value of a sibling (`minutes` with
/// `mode=marche`).
fn without_example(mut parameter: Value) -> Value {
    parameter
        .as_object_mut()
        .expect("a parameter is an object")
        .remove("example");
    parameter
}

fn required_query(name: &str, schema: Value, description: &str, example: Value) -> Value {
    let mut p = query(name, schema, description, example);
    p["required"] = json!(true);
    p["allowEmptyValue"] = json!(false);
    p
}

fn typed_path(name: &str, schema: Value, description: &str, example: Value) -> Value {
    json!({ "name": name, "in": "path", "required": true, "schema": schema,
            "description": description, "example": example })
}

fn path(name: &str, description: &str, example: &str) -> Value {
    json!({ "name": name, "in": "path", "required": true, "schema": { "type": "string" },
            "description": description, "example": example })
}

fn get(summary: &str, parameters: Vec<Value>, ok: &str, media: &str, errors: &[u16]) -> Value {
    let schema = if media.contains("json") {
        json!({ "type": "object" })
    } else {
        json!({ "type": "string", "format": "binary" })
    };
    let mut responses =
        json!({ "200": { "description": ok, "content": { media: { "schema": schema } } } });
    for code in errors {
        let description = match code {
            400 => "A parameter is malformed, out of range or unknown; the body names it.",
            401 => "No token, or an unknown one.",
            404 => "No such QPV or initiative.",
            409 => "The QPV has no outline in the loaded data, so distances to it are unknown.",
            503 => {
                "Too many analyses under way, or this one would take too long: try again after Retry-After seconds."
            }
            _ => "Error.",
        };
        responses[code.to_string()] = error_response(description);
    }
    json!({ "get": { "summary": summary, "parameters": parameters, "responses": responses } })
}

/// An OGC API read: its JSON media type, or HTML.
fn ogc_get(summary: &str, parameters: Vec<Value>, media: &str, errors: &[u16]) -> Value {
    let mut op = get(summary, parameters, "The resource.", media, errors);
    op["get"]["responses"]["200"]["content"]["text/html"] =
        json!({ "schema": { "type": "string" } });
    op
}

/// A write operation: bearer token, JSON (or multipart) body.
fn write(
    summary: &str,
    parameters: Vec<Value>,
    body: Option<(&str, Value)>,
    ok: (u16, &str),
    role: &str,
) -> Value {
    let error = |d: &str| {
        json!({ "description": d,
        "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Error" } } } })
    };
    let mut responses = json!({
        "400": error("A body field is missing or invalid (`field` names it), or the body is not JSON (`bad_body`)."),
        "401": error("No token, or an unknown one."),
        "403": error(&format!("The token's role is not {role} or above.")),
        "413": error("The body is larger than allowed."),
    });
    if body.is_some() {
        responses["415"] = error("The body is not of the media type this operation takes.");
    }
    responses[ok.0.to_string()] = json!({ "description": ok.1 });
    if parameters.iter().any(|p| p["in"] == "path") {
        responses["404"] = error("No such initiative, or it was deleted.");
        responses["412"] = error("`If-Match` names another version than the current one.");
        responses["409"] = error("The address kept changing under this edit: send it again.");
    }
    responses["403"] = error(&format!(
        "The role is not {role} or above, or a write with the session cookie lacks its CSRF token (`X-CSRF-Token`)."
    ));
    let mut op = json!({ "summary": summary, "parameters": parameters, "responses": responses,
        "security": [{ "bearer": [] }, { "session": [] }] });
    if let Some((media, schema)) = body {
        op["requestBody"] = json!({ "required": true, "content": { media: { "schema": schema } } });
    }
    op
}

/// Text without control characters.
const NO_CONTROL: &str = "^[^\\u0000-\\u001f\\u007f]*$";
/// A name: something besides blanks, no control character.
const NAME_PATTERN: &str =
    "^[^\\u0000-\\u001f\\u007f]*[^\\u0000-\\u0020\\u007f][^\\u0000-\\u001f\\u007f]*$";
/// A description: line breaks and tabs allowed.
const DESCRIPTION_PATTERN: &str = "^[^\\u0000-\\u0008\\u000b\\u000c\\u000e-\\u001f\\u007f]*$";
/// A web address: http(s), a host, nothing a browser would escape.
const WEBSITE_PATTERN: &str = "^ *$|^ *https?://[A-Za-z0-9][A-Za-z0-9.-]*(:[0-9]{1,5})?([/?#][^\\u0000-\\u0020\\u007f\"<>\\\\^`{|}]*)? *$";

/// The document; paths are those of [`super::routes`].
pub fn spec(vocabulary: &Vocabulary) -> Value {
    let mut document = read_spec(vocabulary);
    // No control character (a description may hold line breaks and tabs).
    let text = |max: usize| json!({ "type": "string", "nullable": true, "maxLength": max, "pattern": NO_CONTROL });
    let mut category = json!({ "type": "string" });
    if !vocabulary.categories.is_empty() {
        category["enum"] = json!(vocabulary.categories);
    }
    let fields = |required: bool| {
        let mut f = json!({ "type": "object", "additionalProperties": false, "properties": {
            "name": { "type": "string", "minLength": 1, "maxLength": geodata::validate::MAX_TEXT_CHARS, "pattern": NAME_PATTERN },
            "brand": text(geodata::validate::MAX_TEXT_CHARS),
            "category": category, "source_kind": text(geodata::validate::MAX_TEXT_CHARS),
            "legal_form": text(geodata::validate::MAX_TEXT_CHARS),
            "siret": { "type": "string", "nullable": true, "pattern": "^ *$|^ *[0-9]( *[0-9]){13} *$" },
            "address": text(geodata::validate::MAX_TEXT_CHARS),
            "postcode": { "type": "string", "nullable": true, "pattern": "^ *$|^ *[0-9]( *[0-9]){4} *$" },
            "commune": text(geodata::validate::MAX_TEXT_CHARS),
            "insee_code": { "type": "string", "nullable": true, "pattern": "^ *$|^ *[0-9AB]{5} *$" },
            "website": { "type": "string", "nullable": true, "pattern": WEBSITE_PATTERN, "maxLength": geodata::validate::MAX_TEXT_CHARS },
            "description": { "type": "string", "nullable": true, "maxLength": geodata::validate::MAX_TEXT_CHARS, "pattern": DESCRIPTION_PATTERN },
            "opening_hours": { "type": "string", "nullable": true, "maxLength": geodata::validate::MAX_TEXT_CHARS, "pattern": NO_CONTROL,
                "description": "Opening hours (OpenStreetMap's opening_hours syntax, e.g. `Mo-Fr 09:00-17:00`, or free text)." },
            "lon": { "type": "number", "minimum": -180, "maximum": 180 },
            "lat": { "type": "number", "minimum": -90, "maximum": 90 } } });
        if required {
            f["required"] = json!(["name"]);
        }
        f
    };
    let id = path("id", "Initiative id.", "lemarche-siae-2");
    let if_match = json!({ "name": "If-Match", "in": "header", "required": false, "schema": { "type": "string" },
        "description": "The ETag of the version this change is made to (412 if it changed since)." });
    let paths = document["paths"].as_object_mut().expect("paths");
    paths["/api/initiatives"]["post"] = write(
        "Create an initiative (editor). Without lon/lat, its address is geocoded (addok), else placed at its commune's centre (precision municipality).",
        vec![],
        Some(("application/json", fields(true))),
        (
            201,
            "The new initiative, as a Feature; Location and ETag headers.",
        ),
        "editor",
    );
    paths["/api/initiatives/{id}"]["patch"] = write(
        "Change the fields given (null clears); a changed address is geocoded again. Open-data initiatives get a corrected copy (editor).",
        vec![id.clone(), if_match.clone()],
        Some(("application/json", fields(false))),
        (200, "The initiative, as a Feature; ETag header."),
        "editor",
    );
    paths["/api/initiatives/{id}"]["delete"] = write(
        "Delete (soft: kept in the store and its history; hidden from the map and the analysis) (editor).",
        vec![id.clone(), if_match],
        None,
        (204, "Deleted."),
        "editor",
    );
    paths.insert(
        "/api/initiatives/{id}/history".into(),
        {
            let mut op = get(
                "Every change to an initiative: when, who (token name), what (before/after); needs a token, as it names editors.",
                vec![id],
                "History.",
                "application/json",
                &[400, 401, 404],
            );
            op["get"]["security"] = json!([{ "bearer": [] }]);
            op
        },
    );
    paths.insert("/api/initiatives/{id}/verified".into(), json!({ "post": write(
        "Mark an initiative as checked against the field today (editor, within their départements): GET /api/initiatives/{id} then gives verified_at.",
        vec![path("id", "The initiative's id.", "finess-010001261")], None,
        (200, "`verified_at`: now."), "editor") }));
    paths.insert("/api/import/reports/{id}".into(), {
        let mut op = get(
            "An import's row-by-row report (CSV: position, key, field, reason, action), kept in the store; its number is the import summary's report_id. Needs an admin token.",
            vec![json!({ "name": "id", "in": "path", "required": true, "schema": { "type": "integer", "minimum": 1 }, "example": 1 })],
            "The report.",
            "text/csv; charset=utf-8",
            &[400, 401, 404],
        );
        op["get"]["security"] = json!([{ "bearer": [] }]);
        op["get"]["responses"]["403"] = error_response("The token is not an admin's.");
        op
    });
    paths.insert("/api/import".into(), json!({ "post": write(
        "Import a CSV, GeoJSON, XLSX or ODS file (admin; a workbook: its first sheet, first row the header): same pipeline and report as `ess-map import`. The summary gives the file's `columns`, the `mapping` used (detected, then the `mapping` sent), the counts (new, updated, unchanged, removed, merged with another source's record, duplicates_queued) and the report's first `lines`.",
        vec![], Some(("multipart/form-data", json!({ "type": "object", "required": ["file", "source"], "properties": {
            "file": { "type": "string", "format": "binary" }, "source": { "type": "string", "pattern": "^[A-Za-z0-9_-]+$" },
            "dry_run": { "type": "boolean" }, "mapping": { "type": "string", "description": "TOML: [columns] field = \"column\"" } } }))),
        (200, "The import summary (counts, placements, report file)."), "admin") }));
    let mut runs = get(
        "The scheduled imports (`[[scheduled_import]]` in the configuration: source, url, every_hours, whether one runs now) and their latest runs, newest first: started_at, finished_at, outcome (imported or failed), the import summary and report_id, or the error (admin).",
        vec![query(
            "source",
            json!({ "type": "string" }),
            "Only this source's runs.",
            json!("reseau"),
        )],
        "Schedules and runs.",
        "application/json",
        &[400, 401],
    );
    runs["get"]["security"] = json!([{ "bearer": [] }, { "session": [] }]);
    runs["get"]["responses"]["403"] = error_response("The role is not admin.");
    paths.insert("/api/import/runs".into(), runs);
    let mut run_now = write(
        "Run a scheduled import now (admin): 202, its run then listed by GET /api/import/runs.",
        vec![path("source", "The scheduled import's source.", "reseau")],
        None,
        (202, "Started."),
        "admin",
    );
    run_now["responses"]["404"] = error_response("No scheduled import of this source.");
    run_now["responses"]["409"] = error_response("It is running.");
    run_now["responses"]
        .as_object_mut()
        .expect("responses")
        .remove("412");
    paths.insert(
        "/api/import/runs/{source}".into(),
        json!({ "post": run_now }),
    );
    paths.insert("/api/locate/table".into(), json!({ "post": {
        "summary": "A table of addresses or coordinates (CSV, XLSX or ODS, by its file name) back in its format, every row aligned on the header, with statut_qpv, code_qpv, nom_qpv, distance_m, score_geocodage, precision and remarque (csv=script: qpv_status, qpv_code, qpv_name, distance_m, geocode_score, precision, remarque); addresses geocoded through the configured addok; nothing stored. At most 20 MiB and 100,000 rows; a workbook at most 160 MB unpacked, 1,024 columns and 4 million filled cells, checked while it is read. Two tables at once per client. With reponse=json: a JSON object holding the file (base64), the counts and the located rows as GeoJSON points (the web map draws them).",
        "parameters": [
            { "name": "radius_m", "in": "query", "required": false, "schema": { "type": "number", "minimum": 0, "maximum": MAX_RADIUS_M, "default": DEFAULT_LOCATE_RADIUS_M }, "description": "How far counts as near, metres." },
            { "name": "generation", "in": "query", "required": false, "schema": { "type": "integer", "enum": GENERATIONS }, "description": "Only QPV of this generation." },
            { "name": "csv", "in": "query", "required": false, "schema": { "type": "string", "enum": CsvStyle::NAMES }, "description": "A CSV result for a French spreadsheet (tableur, default: byte order mark, `;`, decimal commas, French column names and statuses, formulas neutralised) or for scripts (script: the input's separator, English names and statuses, cells as they are)." },
            { "name": "reponse", "in": "query", "required": false, "schema": { "type": "string", "enum": ["fichier", "json"], "default": "fichier" }, "description": "fichier: the located table as a file; json: an object with file_name, media_type, file (base64), rows, inside, near, outside, unknown, not_located, geocoded, realigned, points (a FeatureCollection of the located rows: line, status, statut, qpv_code, qpv_name; at most 100,000) and points_left_out." },
        ],
        "requestBody": { "required": true, "content": { "multipart/form-data": { "schema": { "type": "object", "required": ["file"], "properties": { "file": { "type": "string", "format": "binary" } } } } } },
        "responses": {
            "200": { "description": "The table, located.", "content": {
                "text/csv; charset=utf-8": { "schema": { "type": "string" } },
                "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": { "schema": { "type": "string", "format": "binary" } },
                "application/vnd.oasis.opendocument.spreadsheet": { "schema": { "type": "string", "format": "binary" } },
                "application/json": { "schema": { "type": "object", "required": ["file_name", "media_type", "file", "rows", "points"] } } } },
            "400": error_response("No file, or a file that is not a .csv, .xlsx or .ods (French message)."),
            "413": error_response("Larger than 20 MiB, more than 100,000 rows, or a workbook beyond its limits (French message)."),
            "415": error_response("The body is not multipart/form-data."),
            "422": error_response("A table that cannot be read (no header, no coordinate nor address column, a workbook without a sheet…); the message says which, in French."),
            "429": error_response("This client already has two tables under way: try again after Retry-After seconds."),
            "503": error_response("Too many tables under way: try again after Retry-After seconds."),
        },
    } }));
    document["paths"]["/api/compare"]["get"]["responses"]["200"]["content"]["text/csv; charset=utf-8"] =
        json!({ "schema": { "type": "string" } });
    let gaps = &mut document["paths"]["/api/gaps"]["get"]["responses"]["200"]["content"];
    gaps["text/csv; charset=utf-8"] = json!({ "schema": { "type": "string" } });
    gaps["application/geo+json"] = json!({ "schema": { "type": "object" } });
    gaps["application/geopackage+sqlite3"] =
        json!({ "schema": { "type": "string", "format": "binary" } });
    let tile = &mut document["paths"]["/tiles/{layer}/{z}/{x}/{tile}"]["get"];
    tile["responses"]["204"] = json!({ "description": "The tile is empty." });
    tile["responses"]["304"] =
        json!({ "description": "The tile has not changed since the ETag sent in If-None-Match." });
    tile["parameters"].as_array_mut().expect("parameters").push(json!({ "name": "If-None-Match", "in": "header",
        "required": false, "schema": { "type": "string" }, "description": "The ETag of the tile held." }));
    document["components"]["securitySchemes"] = json!({
        "bearer": { "type": "http", "scheme": "bearer",
            "description": "A token from `ess-map token create` or the configuration file. Reads need none." },
        "session": { "type": "apiKey", "in": "cookie", "name": super::session::COOKIE,
            "description": "The cookie POST /api/session sets (HttpOnly, SameSite=Strict, Secure behind HTTPS). A write made with it also sends its CSRF token in X-CSRF-Token." } });
    let mut proposal = fields(false);
    let props = proposal["properties"].as_object_mut().expect("properties");
    props.insert(
        "email".into(),
        json!({ "type": "string", "maxLength": 254, "format": "email",
        "description": "Optional: where the decision is told. Never shown." }),
    );
    props.insert(
        "message".into(),
        json!({ "type": "string", "maxLength": 2000, "pattern": DESCRIPTION_PATTERN,
        "description": "What is wrong (an error report), or a note for the moderators." }),
    );
    props.insert("initiative".into(), json!({ "type": "string",
        "description": "An error report: the initiative it is about (then only message and email)." }));
    props.insert(super::moderation::HONEYPOT.into(), json!({ "type": "string",
        "description": "Left empty by people (the form hides it); a proposal filling it is dropped." }));
    moderation_paths(&mut document, proposal, fields(false));
    account_paths(&mut document);
    document
}

/// Visitors' proposals and what moderators decide.
fn moderation_paths(document: &mut Value, proposal: Value, edits: Value) {
    let paths = document["paths"].as_object_mut().expect("paths");
    let number = |what: &str| {
        typed_path(
            "id",
            json!({ "type": "integer", "minimum": 1 }),
            what,
            json!(1),
        )
    };
    let mut propose = json!({ "post": {
        "summary": "Propose an initiative (its fields, as POST /api/initiatives takes them; name required) or report an error on one ({\"initiative\": ID, \"message\": …}); no account needed. Nothing is public until a moderator accepts it. At most 10 an hour per client and 5 per e-mail address.",
        "requestBody": { "required": true, "content": { "application/json": { "schema": proposal } } },
        "responses": {
            "202": { "description": "Kept for moderation: `id`, `status` (pending)." },
            "400": error_response("A field is missing or invalid (`field` names it)."),
            "404": error_response("The reported initiative does not exist."),
            "413": error_response("The body is larger than 64 KiB."),
            "415": error_response("The body is not JSON."),
            "429": error_response("Too many proposals from this client or address: try again after Retry-After seconds."),
        } } });
    let mut list = get(
        "The proposals, newest first (moderator): `statut` pending (default), accepted, rejected, merged or all; `departement`, `categorie`, `depuis_jours` filter them. `follow_up` says whether the proposer left an address.",
        vec![
            query(
                "statut",
                json!({ "type": "string", "enum": ["pending", "accepted", "rejected", "merged", "all"] }),
                "Which proposals.",
                json!("pending"),
            ),
            query(
                "departement",
                json!({ "type": "string" }),
                "Only this département's.",
                json!("93"),
            ),
            query(
                "categorie",
                json!({ "type": "string" }),
                "Only this category's.",
                json!("restauration"),
            ),
            query(
                "depuis_jours",
                json!({ "type": "integer", "minimum": 1, "maximum": 3650 }),
                "Only those of the last days.",
                json!(30),
            ),
        ],
        "The proposals.",
        "application/json",
        &[400, 401],
    );
    list["get"]["security"] = json!([{ "bearer": [] }, { "session": [] }]);
    list["get"]["responses"]["403"] = error_response("The role is not moderator or above.");
    propose["get"] = list["get"].take();
    paths.insert("/api/proposals".into(), propose);
    let mut accept_body = json!({ "type": "object", "additionalProperties": false, "properties": {
        "edits": edits,
        "merge_into": { "type": "string", "description": "Keep the proposed initiative as another source of this initiative (shown and counted once)." } } });
    accept_body["properties"]["edits"]["description"] = json!(
        "Fields changed before accepting (of the proposed initiative, or of the reported one)."
    );
    let mut accept = write(
        "Accept a proposal (moderator): the initiative is published (source `proposition`), or merged into another, or the reported one corrected with `edits`; the proposer is told by e-mail if they left an address.",
        vec![number("The proposal's number.")],
        Some(("application/json", accept_body)),
        (
            200,
            "`id`, `status` (acceptée…), `initiative`: the initiative made, completed or corrected.",
        ),
        "moderator",
    );
    accept["responses"]["404"] = error_response("No such proposal.");
    accept["responses"]["409"] = error_response("The proposal was already decided.");
    accept["requestBody"]["required"] = json!(false);
    paths.insert(
        "/api/proposals/{id}/accept".into(),
        json!({ "post": accept }),
    );
    let mut reject = write(
        "Reject a proposal with a reason (moderator), told to the proposer by e-mail if they left an address.",
        vec![number("The proposal's number.")],
        Some((
            "application/json",
            json!({ "type": "object", "required": ["reason"], "additionalProperties": false,
            "properties": { "reason": { "type": "string", "minLength": 1, "maxLength": 500 } } }),
        )),
        (200, "`id`, `status` (rejected), `reason`."),
        "moderator",
    );
    reject["responses"]["404"] = error_response("No such proposal.");
    reject["responses"]["409"] = error_response("The proposal was already decided.");
    paths.insert(
        "/api/proposals/{id}/reject".into(),
        json!({ "post": reject }),
    );
    let mut duplicates = get(
        "Near-matches between sources (moderator): two records of close names (Jaro–Winkler of the normalised names, `score`) within 150 m (`distance_m`), side by side (`a` found, `b` already shown). Same SIRET, or same SIREN at the same address, is merged at once and not listed.",
        vec![query(
            "statut",
            json!({ "type": "string", "enum": ["pending", "decided", "all"] }),
            "Undecided (default), decided or all.",
            json!("pending"),
        )],
        "The near-matches.",
        "application/json",
        &[400, 401],
    );
    duplicates["get"]["security"] = json!([{ "bearer": [] }, { "session": [] }]);
    duplicates["get"]["responses"]["403"] = error_response("The role is not moderator or above.");
    paths.insert("/api/duplicates".into(), duplicates);
    let mut decide = write(
        "Decide a near-match (moderator): `merge` (one structure, shown and counted as `b`, or as `a` with {\"keep\": \"a\"}; the other record kept with its source) or `distinct` (never proposed again). Kept across re-imports.",
        vec![
            number("The near-match's number."),
            typed_path(
                "decision",
                json!({ "type": "string", "enum": ["merge", "distinct"] }),
                "The decision.",
                json!("merge"),
            ),
        ],
        Some((
            "application/json",
            json!({ "type": "object", "additionalProperties": false,
            "properties": { "keep": { "type": "string", "enum": ["a", "b"], "default": "b" } } }),
        )),
        (
            200,
            "`id`, `decision`, and for a merge `shown` and `merged`.",
        ),
        "moderator",
    );
    decide["responses"]["404"] =
        error_response("No such near-match, or one of its initiatives is gone.");
    decide["responses"]["409"] = error_response("Already decided.");
    decide["requestBody"]["required"] = json!(false);
    paths.insert(
        "/api/duplicates/{id}/{decision}".into(),
        json!({ "post": decide }),
    );
}

/// Signing in, choosing a password, the people an admin manages, and the
/// public list of changes.
fn account_paths(document: &mut Value) {
    let paths = document["paths"].as_object_mut().expect("paths");
    let error = error_response;
    let account = json!({ "type": "object", "properties": {
        "email": { "type": "string" }, "name": { "type": "string", "nullable": true },
        "role": { "type": "string", "enum": ["contributor", "editor", "moderator", "admin"] },
        "departements": { "type": "array", "items": { "type": "string" } },
        "disabled": { "type": "boolean" }, "created_at": { "type": "string" },
        "signed_in": { "type": "boolean" },
        "csrf": { "type": "string", "description": "The session's CSRF token, for X-CSRF-Token." } } });
    let body = |schema: Value| json!({ "required": true, "content": { "application/json": { "schema": schema } } });
    let limited = |mut responses: Value| {
        responses["400"] = error("A body field is missing or invalid, or the body is not JSON.");
        responses["413"] = error("The body is larger than allowed.");
        responses["415"] = error("The body is not JSON.");
        responses["429"] = error(
            "Too many attempts from this client or for this address: try again after Retry-After seconds.",
        );
        responses
    };
    let role = json!({ "type": "string", "enum": ["contributor", "editor", "moderator", "admin"] });
    let departements = json!({ "type": "array", "items": { "type": "string", "pattern": "^[0-9AB]{2,3}$" },
        "description": "Where they may write; empty or absent: everywhere." });
    paths.insert("/api/session".into(), json!({
        "get": { "summary": "Who is signed in (the session cookie): `signed_in`, and when true the account with the session's CSRF token.", "parameters": [],
            "responses": { "200": { "description": "The account, or `{\"signed_in\": false}`.", "content": { "application/json": { "schema": account } } } } },
        "post": { "summary": "Sign in: sets the session cookie (HttpOnly, SameSite=Strict; Secure behind HTTPS) and answers the account with its CSRF token. An unknown address and a wrong password get the same answer. At most 10 attempts per address and 30 per client in 15 minutes.",
            "parameters": [],
            "requestBody": body(json!({ "type": "object", "additionalProperties": false, "required": ["email", "password"],
                "properties": { "email": { "type": "string" }, "password": { "type": "string" } } })),
            "responses": limited(json!({ "200": { "description": "Signed in.", "content": { "application/json": { "schema": account } } },
                "401": error("Wrong address or password.") })) },
        "delete": { "summary": "Sign out (with the CSRF token).", "parameters": [], "security": [{ "session": [] }],
            "responses": { "204": { "description": "Signed out; the cookie is cleared." },
                "401": error("Nobody is signed in."), "403": error("The CSRF token is missing or wrong.") } },
    }));
    paths.insert("/api/session/openid".into(), json!({ "get": {
        "summary": "Single sign-on (ProConnect, or the configured OpenID Connect provider): sends the browser to the provider (authorization code, PKCE, state and nonce kept in a 10-minute HttpOnly cookie). `GET /api/session` says whether one is configured (`openid`).",
        "parameters": [],
        "responses": { "303": { "description": "To the provider (or back to the map with `?connexion=fournisseur-injoignable`)." },
            "400": error("An unknown parameter."),
            "404": error("No single sign-on is configured.") } } }));
    paths.insert("/api/session/openid/callback".into(), json!({ "get": {
        "summary": "Where the provider sends the browser back (`code`, `state`): signed in when the answer belongs to this browser's flow and an enabled account has the e-mail address the provider vouches for; then to the map with `?connexion=ok`, `sans-compte` or `echec`.",
        "parameters": [
            query("code", json!({ "type": "string" }), "The provider's authorization code.", json!("abc")),
            query("state", json!({ "type": "string" }), "The state sent.", json!("xyz")),
        ],
        "responses": { "303": { "description": "Back to the map, signed in or not (`?connexion=`)." },
            "404": error("No single sign-on is configured.") } } }));
    paths.insert("/api/password".into(), json!({ "post": {
        "summary": "Choose a password with an invitation or reset link's secret (the `invitation=` or `reinitialisation=` of the link); the link works once, and every session of the account ends.",
        "parameters": [],
        "requestBody": body(json!({ "type": "object", "additionalProperties": false, "required": ["link", "password"],
            "properties": { "link": { "type": "string" }, "password": { "type": "string", "minLength": crate::accounts::MIN_PASSWORD_CHARS } } })),
        "responses": limited(json!({ "200": { "description": "The password is set; sign in." } })) } }));
    paths.insert("/api/password/reset".into(), json!({ "post": {
        "summary": "Ask for a password reset link by e-mail (valid an hour). The same answer whether an account has this address or not; 409 when no SMTP relay is configured.",
        "parameters": [],
        "requestBody": body(json!({ "type": "object", "additionalProperties": false, "required": ["email"],
            "properties": { "email": { "type": "string" } } })),
        "responses": limited(json!({ "202": { "description": "Sent, if an account has this address." },
            "409": error("No SMTP relay is configured: an admin resets passwords (`ess-map user reset`).") })) } }));
    let admin = |mut responses: Value| {
        responses["401"] = error("No token or session.");
        responses["403"] = error("Not an admin, or a session write without its CSRF token.");
        responses
    };
    paths.insert("/api/users".into(), json!({
        "get": { "summary": "Everyone who may sign in: e-mail, name, role, départements, disabled (admin).", "parameters": [],
            "security": [{ "bearer": [] }, { "session": [] }],
            "responses": admin(json!({ "200": { "description": "The accounts.", "content": { "application/json": { "schema": { "type": "object" } } } } })) },
        "post": { "summary": "Invite someone (admin): the account, and the invitation link (valid 7 days) to hand over.", "parameters": [],
            "security": [{ "bearer": [] }, { "session": [] }],
            "requestBody": body(json!({ "type": "object", "additionalProperties": false, "required": ["email", "role"],
                "properties": { "email": { "type": "string" }, "role": role, "name": { "type": "string", "nullable": true }, "departements": departements } })),
            "responses": admin(limited(json!({ "201": { "description": "Invited: `sent` says whether the invitation left by e-mail; if not, `link` is the invitation to hand over." },
                "409": error("An account exists for this address.") }))) },
    }));
    paths.insert("/api/users/{email}".into(), json!({ "patch": {
        "summary": "Change someone's role, départements, or disable them (admin); a disabled account's sessions end.",
        "parameters": [path("email", "The account's e-mail address.", "nadia@reseau.example")],
        "security": [{ "bearer": [] }, { "session": [] }],
        "requestBody": body(json!({ "type": "object", "additionalProperties": false, "properties": {
            "role": role, "departements": departements, "disabled": { "type": "boolean" } } })),
        "responses": admin(limited(json!({ "200": { "description": "The account as changed." },
            "404": error("No account for this address."),
            "409": error("An admin cannot disable themselves or give up their role.") }))) } }));
    let mut addresses = get(
        "Addresses from the configured addok while a signed-in person types one (label, lon, lat, name, postcode, citycode, city, kind); an empty list and a message without a geocoder.",
        vec![
            required_query(
                "q",
                json!({ "type": "string", "minLength": 3, "maxLength": 200, "pattern": NO_CONTROL }),
                "What was typed.",
                json!("12 rue Léon Blum Saint-Denis"),
            ),
            query(
                "limit",
                json!({ "type": "integer", "minimum": 1, "maximum": 10, "default": 5 }),
                "How many at most.",
                json!(5),
            ),
        ],
        "The suggestions.",
        "application/json",
        &[400, 401],
    );
    addresses["get"]["security"] = json!([{ "bearer": [] }, { "session": [] }]);
    addresses["get"]["responses"]["403"] = error("Not signed in with a role.");
    paths.insert("/api/adresses".into(), addresses);
    let changes_parameters = || {
        vec![
            query(
                "departement",
                json!({ "type": "string" }),
                "Only the changes of initiatives of this département.",
                json!("93"),
            ),
            query(
                "limit",
                json!({ "type": "integer", "minimum": 1, "maximum": 200, "default": 50 }),
                "How many entries at most.",
                json!(20),
            ),
        ]
    };
    paths.insert("/api/changes".into(), get(
        "« Dernières modifications »: what was added (ajout), corrected (correction), removed (retrait) or imported, when, by which source or role (never by whom), newest first; an import run is one entry with its count.",
        changes_parameters(), "The changes.", "application/json", &[400]));
    paths.insert("/api/changes.atom".into(), get(
        "The same as an Atom 1.0 feed (for a network's newsletter), optionally for one département.",
        changes_parameters(), "The feed.", "application/atom+xml; charset=utf-8", &[400]));
}

/// The read-only routes.
fn read_spec(vocabulary: &Vocabulary) -> Value {
    // Empty is the same as absent.
    let listed = |values: &[String]| {
        let mut schema = json!({ "type": "string" });
        if !values.is_empty() {
            let mut with_empty = vec![String::new()];
            with_empty.extend(values.iter().cloned());
            schema["enum"] = json!(with_empty);
        }
        schema
    };
    let departement = listed(&vocabulary.departements);
    let one_category = listed(&vocabulary.categories);
    // Comma-separated lists: each element one of the values; empty is
    // the same as absent.
    let list_of = |values: &[String]| {
        let mut schema = json!({ "type": "string" });
        if !values.is_empty() {
            schema["pattern"] = json!(format!("^$|^({0})(,({0}))*$", values.join("|")));
        }
        schema
    };
    let number = "-?[0-9]+(\\.[0-9]+)?";
    let bbox = json!({ "type": "string", "pattern": format!("^$|^{number}(,{number}){{3}}$") });
    let categories = list_of(&vocabulary.categories);
    let kinds = list_of(&vocabulary.kinds);
    let radius = |default: f64| json!({ "type": "number", "minimum": 0, "maximum": MAX_RADIUS_M, "default": default });
    let limit =
        json!({ "type": "integer", "minimum": 1, "maximum": MAX_LIMIT, "default": DEFAULT_LIMIT });
    let minutes = json!({ "type": "number", "minimum": 1, "maximum": MAX_MINUTES, "default": DEFAULT_MINUTES });
    let generation = json!({ "type": "integer", "enum": GENERATIONS });
    let csv_style = || json!({ "type": "string", "enum": CsvStyle::NAMES });
    let geojson = "application/geo+json";
    let ogc_bbox = json!({ "type": "string", "pattern": format!("^$|^{number}(,{number}){{3}}(,{number},{number})?$") });
    let f = query(
        "f",
        json!({ "type": "string", "enum": ["json", "html"] }),
        "Format (default: from Accept; JSON unless text/html comes first).",
        json!("json"),
    );
    let collection_id = typed_path(
        "collectionId",
        json!({ "type": "string", "enum": ogc::Collection::ALL.map(|c| c.id()) }),
        "Collection id.",
        json!("initiatives"),
    );
    let export = {
        let mut op = get(
            "Every initiative the filters keep, as a file to download: a GeoPackage layer `initiatives` (WGS 84, spatial index; default) or GeoJSON.",
            vec![
                query(
                    "bbox",
                    bbox.clone(),
                    &format!("minlon,minlat,maxlon,maxlat; at most {MAX_BBOX_DEG}° on a side."),
                    json!("2.25,48.81,2.42,48.91"),
                ),
                query(
                    "category",
                    categories.clone(),
                    "Category ids, comma-separated.",
                    json!("insertion_aci,regie_quartier"),
                ),
                query(
                    "q",
                    json!({ "type": "string" }),
                    "Words in the name, brand or commune.",
                    json!("paris"),
                ),
                query(
                    "qpv",
                    json!({ "type": "string" }),
                    &format!(
                        "Initiatives located in this QPV or nearest to it within {NEAR_RADIUS_M} m."
                    ),
                    json!("QN07511M"),
                ),
                query(
                    "source",
                    json!({ "type": "string" }),
                    "Only this dataset or imported source.",
                    json!("siae"),
                ),
                query(
                    "format",
                    json!({ "type": "string", "enum": ["gpkg", "geojson"] }),
                    "gpkg (default) or geojson.",
                    json!("gpkg"),
                ),
            ],
            "The file.",
            "application/geopackage+sqlite3",
            &[400, 503],
        );
        op["get"]["responses"]["200"]["content"]["application/geo+json"] =
            json!({ "schema": { "type": "object" } });
        op
    };
    json!({
        "openapi": "3.0.3",
        "info": {
            "title": "ess-map API",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "ESS initiatives around France's priority neighbourhoods (QPV). Coordinates are WGS84 longitude/latitude (RFC 7946); distances are metres on the ground. QPV outlines exist only for the territories listed by /health (`outlines`)."
        },
        "paths": {
            "/health": get("Service status, loaded datasets and which territories have QPV outlines.", vec![], "Status.", "application/json", &[]),
            "/api/datasets": get("Each dataset: official source, licence, attribution, and what loading it found (every skipped or repaired record, with file, feature or line, field and reason).", vec![], "Datasets.", "application/json", &[]),
            "/api/categories": get("The category taxonomy and the groups of categories the gap analysis accepts (`siae`: every work-integration structure), with initiative counts.", vec![], "Categories.", "application/json", &[]),
            "/api/openapi.json": get("This document.", vec![], "OpenAPI 3 document.", "application/json", &[]),
            "/api/qpv": get("List QPV, with communes, population, whether an outline is loaded, and initiatives inside and within 500 m.", vec![
                query("departement", departement.clone(), "Département code (93, 2A, 974).", json!("93")),
                query("commune", json!({ "type": "string" }), "INSEE code of one of the QPV's communes (Paris, Lyon, Marseille: the whole commune's, 75056).", json!("93066")),
                query("generation", generation.clone(), "QPV generation.", json!(2024)),
                query("q", json!({ "type": "string" }), "Words in the code, name or communes (accents and case ignored).", json!("goutte d'or")),
            ], "QPV list.", "application/json", &[400]),
            "/api/qpv/markers": get("The QPV without an outline, one point per commune (its centre) and generation, listing them: what the map draws where it has no outline. Generations in force unless one is asked for; QPV whose commune has no known centre are counted in without_place.", vec![
                query("departement", departement.clone(), "Département code (93, 2A, 974).", json!("13")),
                query("generation", generation.clone(), "QPV generation.", json!(2024)),
            ], "FeatureCollection of points; properties commune, commune_name, generation, count, code (when one), label (its name, or « commune : N QPV sans contour »), codes (`,QN…,QN…,`), qpv [{code, name}].", geojson, &[400]),
            "/api/qpv/counts": get("For every QPV drawn (outline loaded, every generation), initiatives inside and within 500 m and the same per 10,000 inhabitants (null: population not published), as columns: what the web map colours QPV by (the QPV tiles carry no counts, so an edit leaves them unchanged). Every category unless some are asked for. ETag is the store revision and the categories: 304 when unchanged.", vec![
                query("category", categories.clone(), "Category ids, comma-separated (see /api/categories; default: every category).", json!("insertion_aci")),
            ], "{revision, radius_m, categories, code[], inside[], within_500m[], per_10k[]}.", "application/json", &[400]),
            "/api/qpv/{code}": get("One QPV as a GeoJSON Feature (geometry null when no outline is loaded).", vec![
                path("code", "QPV code.", "QN07511M"),
            ], "Feature.", geojson, &[400, 404]),
            "/api/qpv/{code}/nearby": get("Initiatives inside the QPV (distance 0) and within radius_m of its boundary, nearest first.", vec![
                path("code", "QPV code.", "QN07511M"),
                query("radius_m", radius(DEFAULT_RADIUS_M), "Metres from the boundary.", json!(DEFAULT_RADIUS_M)),
                query("category", one_category.clone(), "Category id (see /api/categories).", json!("insertion_aci")),
                query("limit", limit.clone(), "Most initiatives returned.", json!(50)),
            ], "FeatureCollection; each feature has distance_m.", geojson, &[400, 404, 409]),
            "/api/qpv/{code}/communes": get("For a QPV without outline, the initiatives of its communes, as the gap analysis counts them (by INSEE code, else commune name; an arrondissement counts for its city). Where they stand against the quartier is not known: no distance.", vec![
                path("code", "QPV code.", "QN01303I"),
                query("category", categories.clone(), "Category ids, comma-separated (see /api/categories).", json!("insertion_aci")),
                query("limit", limit.clone(), "Most initiatives returned.", json!(50)),
            ], "FeatureCollection; total counts them all.", geojson, &[400, 404]),
            "/api/qpv/{code}/ring": get("The area within radius_m metres of the QPV outline, as a GeoJSON Feature (the ring drawn on the map).", vec![
                path("code", "QPV code.", "QN07511M"),
                query("radius_m", radius(DEFAULT_RADIUS_M), "Metres around the outline.", json!(DEFAULT_RADIUS_M)),
            ], "Feature with a MultiPolygon.", geojson, &[400, 404, 409, 503]),
            "/api/qpv/{code}/isochrone": get("The area reachable on foot within `minutes` from the walkable ways inside the QPV, along the OpenStreetMap network (GeoJSON Feature, Polygon or MultiPolygon; properties: minutes, speed_kmh, network, crow_flies_radius_m — the straight-line distance of the same walk —, walk_basis, walk_nodes). 409 when the QPV has no outline or the network does not cover it, or no network is loaded (503 while it is built).", vec![
                path("code", "QPV code.", "QN07511M"),
                query("minutes", minutes.clone(), "Minutes on foot.", json!(DEFAULT_MINUTES)),
            ], "Feature.", geojson, &[400, 404, 409, 503]),
            "/api/isochrone": get("The area reachable on foot within `minutes` from a point (snapped to the nearest walkable way within 300 m; 404 beyond), along the OpenStreetMap network; properties as for /api/qpv/{code}/isochrone, with to_network_m. 409 when no network is loaded (503 while it is built).", vec![
                required_query("lon", json!({ "type": "number", "minimum": -180, "maximum": 180 }), "Longitude, WGS84.", json!(2.35313)),
                required_query("lat", json!({ "type": "number", "minimum": -90, "maximum": 90 }), "Latitude, WGS84.", json!(48.88699)),
                query("minutes", minutes.clone(), "Minutes on foot.", json!(DEFAULT_MINUTES)),
            ], "Feature.", geojson, &[400, 404, 409, 503]),
            "/qpv/{code}/fiche": get("The QPV's printable fiche (A4 HTML page): map with the ring and the initiatives, key facts, counts by category inside and within radius_m, nearest of each category, the full list with addresses, sources and data dates.", vec![
                path("code", "QPV code.", "QN07511M"),
                query("radius_m", radius(DEFAULT_RADIUS_M), "Metres around the outline.", json!(DEFAULT_RADIUS_M)),
            ], "An HTML page.", "text/html; charset=utf-8", &[400, 404, 503]),
            "/api/locate": get("Which QPV a point is inside, or near within radius_m, with the distance in metres to its boundary.", vec![
                required_query("lon", json!({ "type": "number", "minimum": -180, "maximum": 180 }), "Longitude, WGS84.", json!(2.35313)),
                required_query("lat", json!({ "type": "number", "minimum": -90, "maximum": 90 }), "Latitude, WGS84.", json!(48.88699)),
                query("radius_m", radius(DEFAULT_LOCATE_RADIUS_M), "How far counts as near, metres.", json!(DEFAULT_LOCATE_RADIUS_M)),
                query("generation", generation.clone(), "Only QPV of this generation.", json!(2024)),
            ], "status (inside, near, outside), qpv, distance_m.", "application/json", &[400]),
            "/api/gaps": get("Gap analysis: one row per QPV with initiatives inside and within radius_m (total and per category), distance to the nearest (unbounded), population, per 10,000 inhabitants, gap flags and a priority score; QPV without outline analysed by commune (basis = communes).", vec![
                query("radius_m", radius(DEFAULT_RADIUS_M), "Metres around each QPV (300, 500 and 1,000 are the usual rings).", json!(DEFAULT_RADIUS_M)),
                query("category", kinds.clone(), "Categories or groups (`siae`) analysed, comma-separated (default: every category).", json!("siae")),
                query("departement", departement.clone(), "Only this département.", json!("93")),
                query("commune", json!({ "type": "string" }), "Only QPV in this commune: its INSEE code (Paris, Lyon, Marseille: the whole commune's, 75056); a commune without QPV is refused (400).", json!("93066")),
                query("generation", generation.clone(), "Only this generation.", json!(2024)),
                query("sort", json!({ "type": "string", "enum": ["priority", "population", "distance", "within", "code"] }), "Order.", json!("priority")),
                query("format", json!({ "type": "string", "enum": ["json", "csv", "geojson", "gpkg"] }), "json, csv (UTF-8; two lines starting with `#` give the radius, the categories and the date of each dataset, then the header), geojson (QPV outlines, for QGIS) or gpkg (a GeoPackage layer `manques`, with a spatial index).", json!("json")),
                query("csv", csv_style(), "CSV for a French spreadsheet (tableur: UTF-8 byte order mark, `;`, decimal commas, French column names, oui/non; default) or for scripts (script: `,`, decimal points, the JSON's column names, true/false).", json!("tableur")),
                query("mode", json!({ "type": "string", "enum": ["rayon", "marche"], "default": "rayon" }), "rayon: as the crow flies within radius_m (default). marche: on foot along the OpenStreetMap network within `minutes` (radius_m is then refused): per QPV the share of its walkable nodes within the time, median and worst minutes, the nearest initiative on foot, and `cut` (« coupure »: an initiative within 500 m as the crow flies but none within the time on foot); walk_basis says how each QPV was measured, or why not (no_outline, no_network). Without a network: 409 (503 while it is built).", json!("rayon")),
                without_example(query("minutes", minutes.clone(), "With mode=marche: minutes on foot (default 15).", json!(DEFAULT_MINUTES))),
            ], "Rows, ranked.", "application/json", &[400, 409, 503]),
            "/api/gaps/summary": get("Gap analysis aggregated by département and by commune: QPV, covered QPV and share, population of uncovered QPV.", vec![
                query("radius_m", radius(DEFAULT_RADIUS_M), "Metres around each QPV.", json!(DEFAULT_RADIUS_M)),
                query("category", kinds.clone(), "Categories or groups (`siae`) analysed, comma-separated.", json!("insertion_aci")),
                query("departement", departement.clone(), "Only this département.", json!("93")),
                query("commune", json!({ "type": "string" }), "Only QPV in this commune: its INSEE code (Paris, Lyon, Marseille: the whole commune's, 75056); a commune without QPV is refused (400).", json!("93066")),
                query("generation", generation.clone(), "Only this generation.", json!(2024)),
            ], "Aggregates.", "application/json", &[400, 503]),
            "/api/compare": get("Two to five départements or communes side by side: QPV, population, initiatives inside and within radius_m by category (summed over the QPV with an outline), per 10,000 inhabitants where published, QPV without any SIAE within radius_m and their share.", vec![
                required_query("territories", json!({ "type": "string", "pattern": "^ *[0-9][0-9ABab][0-9]{0,3} *(, *[0-9][0-9ABab][0-9]{0,3} *){1,4}$" }), "2 to 5 codes, comma-separated: départements (93, 2A, 974) or communes' INSEE codes (93066).", json!("93,31")),
                query("radius_m", radius(DEFAULT_RADIUS_M), "Metres around each QPV.", json!(DEFAULT_RADIUS_M)),
                query("format", json!({ "type": "string", "enum": ["json", "csv"] }), "json, or csv (one row per territory).", json!("json")),
                query("csv", csv_style(), "CSV for a French spreadsheet (default) or for scripts.", json!("tableur")),
            ], "The figures of each territory, in the order given.", "application/json", &[400, 503]),
            "/api/initiatives": get("Search initiatives; results in load order, paged.", vec![
                query("bbox", bbox, &format!("minlon,minlat,maxlon,maxlat; at most {MAX_BBOX_DEG}° on a side."), json!("2.25,48.81,2.42,48.91")),
                query("category", categories.clone(), "Category ids, comma-separated.", json!("insertion_aci,regie_quartier")),
                query("q", json!({ "type": "string" }), "Words in the name, brand or commune (accents and case ignored).", json!("paris")),
                query("qpv", json!({ "type": "string" }), &format!("Initiatives located in this QPV or nearest to it within {NEAR_RADIUS_M} m."), json!("QN07511M")),
                query("source", json!({ "type": "string" }), "Only this dataset (see /api/datasets) or imported source.", json!("siae")),
                query("limit", limit, "Page size.", json!(20)),
                query("offset", json!({ "type": "integer", "minimum": 0, "default": 0 }), "Initiatives skipped.", json!(0)),
            ], "FeatureCollection with total, returned, limit, offset.", geojson, &[400]),
            "/api/initiatives/export": export,
            "/api/initiatives/{id}": get("One initiative as a GeoJSON Feature, with `sources` (its own, then the records of other sources merged into it) and `verified_at`. An id merged into another structure's record answers 301 with Location naming that record (body: error `merged`, `merged_into`).", vec![
                path("id", "Initiative id.", "lemarche-siae-2"),
            ], "Feature.", geojson, &[400, 404]),
            "/tiles/{tilejson}": get("TileJSON 3.0.0 of a tile layer: `qpv.json`, `initiatives.json` (accepts category), `departements.json`, `communes.json` (commune names, from zoom 9).", vec![
                typed_path("tilejson", json!({ "type": "string", "enum": ["qpv.json", "initiatives.json", "departements.json", "communes.json"] }), "Layer name followed by .json.", json!("initiatives.json")),
                query("category", categories.clone(), "Category ids, comma-separated: the initiatives layer draws those; the other layers ignore it.", json!("insertion_aci")),
            ], "TileJSON.", "application/json", &[400, 404]),
            "/tiles/{layer}/{z}/{x}/{tile}": get("A Mapbox Vector Tile (MVT 2.1, extent 4096, buffer 64) of one layer; 204 when empty; gzip when accepted; strong ETag.", vec![
                typed_path("layer", json!({ "type": "string", "enum": ["qpv", "initiatives", "departements", "communes"] }), "The layer.", json!("initiatives")),
                typed_path("z", json!({ "type": "integer", "minimum": 0, "maximum": 16 }), "Zoom, 0 to 16.", json!(14)),
                typed_path("x", json!({ "type": "integer", "minimum": 0 }), "Column, 0 to 2^z - 1.", json!(8299)),
                typed_path("tile", json!({ "type": "string", "pattern": "^[0-9]+\\.mvt$" }), "Row, 0 to 2^z - 1, followed by .mvt.", json!("5632.mvt")),
                query("category", categories, "Category ids, comma-separated: the initiatives layer draws those; the other layers ignore it.", json!("insertion_aci")),
            ], "The tile.", "application/vnd.mapbox-vector-tile", &[400, 404, 503]),
            "/style.json": get("The MapLibre style of the web map; every source and glyph URL is on this server.", vec![], "Style.", "application/json", &[]),
            "/ogc": ogc_get("OGC API – Features landing page: links to the API document, conformance and collections.", vec![f.clone()], "application/json", &[400]),
            "/ogc/conformance": ogc_get("The OGC API – Features conformance classes implemented (Core, OpenAPI 3.0, HTML, GeoJSON).", vec![f.clone()], "application/json", &[400]),
            "/ogc/api": ogc_get("This document, as application/vnd.oai.openapi+json;version=3.0 (f=html: a page listing the paths).", vec![f.clone()], "application/vnd.oai.openapi+json;version=3.0", &[400]),
            "/ogc/collections": ogc_get("The collections: qpv, initiatives, departements and gaps (the analysis at 500 m), with their spatial and temporal extents.", vec![f.clone()], "application/json", &[400]),
            "/ogc/collections/{collectionId}": ogc_get("One collection.", vec![collection_id.clone(), f.clone()], "application/json", &[400, 404]),
            "/ogc/collections/{collectionId}/items": ogc_get("The features of a collection, a page at a time (next/prev links), filtered by bbox and by properties: category, departement, generation, qpv, source (initiatives); departement, generation, qpv (qpv); category, departement, generation, qpv (gaps). A filter that does not apply to the collection is ignored.", vec![
                collection_id.clone(),
                query("bbox", ogc_bbox, "minlon,minlat,maxlon,maxlat (CRS84; six numbers: the heights are ignored).", json!("2.25,48.81,2.42,48.91")),
                query("limit", json!({ "type": "integer", "minimum": 1, "maximum": ogc::MAX_LIMIT, "default": ogc::DEFAULT_LIMIT }), "Features per page.", json!(100)),
                query("offset", json!({ "type": "integer", "minimum": 0, "default": 0 }), "Features skipped (the next link gives it).", json!(0)),
                query("category", kinds.clone(), "initiatives: category ids, comma-separated; gaps: the categories or groups (`siae`) analysed (default: every category).", json!("insertion_aci")),
                query("departement", departement.clone(), "qpv, initiatives, gaps: département code.", json!("93")),
                query("generation", generation.clone(), "qpv, gaps: QPV generation; initiatives: that of the QPV it is in or near.", json!(2024)),
                query("qpv", json!({ "type": "string" }), &format!("initiatives: located in this QPV or nearest to it within {NEAR_RADIUS_M} m; qpv, gaps: that QPV alone."), json!("QN07511M")),
                query("source", json!({ "type": "string" }), "initiatives: only this dataset or imported source.", json!("siae")),
                f.clone(),
            ], "application/geo+json", &[400, 404, 503]),
            "/ogc/collections/{collectionId}/items/{featureId}": ogc_get("One feature by its id (QPV or département code, initiative id).", vec![
                collection_id,
                path("featureId", "The feature's id.", "lemarche-siae-2"),
                f,
            ], "application/geo+json", &[400, 404, 503]),
            "/fonts/{fontstack}/{range}": get("Glyphs (SDF protobuf) for map labels.", vec![
                path("fontstack", "DejaVu Sans or DejaVu Sans Bold.", "DejaVu Sans Bold"),
                typed_path("range", json!({ "type": "string", "enum": (0..256).map(|i| format!("{}-{}.pbf", i * 256, i * 256 + 255)).collect::<Vec<_>>() }), "START-END.pbf, 256 code points from a multiple of 256.", json!("0-255.pbf")),
            ], "Glyphs.", "application/x-protobuf", &[400, 404]),
        },
        "components": {
            "schemas": {
                "Error": {
                    "type": "object",
                    "required": ["error", "message"],
                    "properties": {
                        "error": { "type": "string", "description": "bad_parameter, bad_field, bad_body, bad_request, not_found, no_outline, unauthorized, forbidden, method_not_allowed, precondition_failed, conflict, too_large, unsupported_media_type, overloaded, internal, …" },
                        "parameter": { "type": "string", "description": "The parameter at fault (400 only)." },
                        "field": { "type": "string", "description": "The body field at fault (bad_field only)." },
                        "message": { "type": "string" }
                    }
                }
            }
        }
    })
}

pub async fn document(
    State(state): State<AppState>,
    Query(raw): Query<HashMap<String, String>>,
) -> Result<Json<Value>, ApiError> {
    Params::new(raw, &[])?;
    Ok(Json(spec(&Vocabulary::of(&state.data()))))
}

#[cfg(test)]
mod tests {
    use geodata::conventions::{
        DEFAULT_LOCATE_RADIUS_M, DEFAULT_RADIUS_M, GENERATIONS, MAX_RADIUS_M,
    };
    use serde_json::json;

    /// The conventions are written once: every radius, generation and CSV
    /// parameter of the document, and the editable fields, are read from
    /// their one place.
    #[test]
    fn parameters_come_from_the_conventions() {
        let spec = super::spec(&super::Vocabulary::default());
        let mut radii = 0;
        for (path, item) in spec["paths"].as_object().unwrap() {
            for (_, op) in item.as_object().unwrap() {
                for p in op["parameters"].as_array().into_iter().flatten() {
                    match p["name"].as_str().unwrap() {
                        "radius_m" => {
                            radii += 1;
                            assert_eq!(p["schema"]["maximum"], json!(MAX_RADIUS_M), "{path}");
                            let default = if path.starts_with("/api/locate") {
                                DEFAULT_LOCATE_RADIUS_M
                            } else {
                                DEFAULT_RADIUS_M
                            };
                            assert_eq!(p["schema"]["default"], json!(default), "{path}");
                        }
                        "generation" => {
                            assert_eq!(p["schema"]["enum"], json!(GENERATIONS), "{path}")
                        }
                        "csv" => assert_eq!(
                            p["schema"]["enum"],
                            json!(crate::output::CsvStyle::NAMES),
                            "{path}"
                        ),
                        _ => {}
                    }
                }
            }
        }
        assert!(radii >= 8, "{radii}");
        let body = &spec["paths"]["/api/initiatives"]["post"]["requestBody"]["content"]["application/json"]
            ["schema"]["properties"];
        let mut documented: Vec<&str> = body
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        let mut editable = crate::edit::InitiativePatch::FIELDS.to_vec();
        documented.sort_unstable();
        editable.sort_unstable();
        assert_eq!(documented, editable);
    }

    #[test]
    fn documents_exactly_the_routes_served() {
        let spec = super::spec(&super::Vocabulary::default());
        let mut documented: Vec<&str> = spec["paths"]
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        let mut served: Vec<&str> = super::super::routes().into_iter().map(|(p, _)| p).collect();
        documented.sort_unstable();
        served.sort_unstable();
        assert_eq!(documented, served);
    }
}
