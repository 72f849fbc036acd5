//! The OGC API's pages for a person: the same JSON, as readable HTML
//! (French, no script, links between resources).

use serde_json::Value;

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// A value as a table cell's text.
fn text(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn page(title: &str, body: &str) -> String {
    format!(
        "<!doctype html>\n<html lang=\"fr\"><head><meta charset=\"utf-8\">\
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
<title>{t} — ess-map OGC API</title>\
<style>body{{font-family:system-ui,sans-serif;max-width:70rem;margin:1rem auto;padding:0 1rem;line-height:1.4}}\
table{{border-collapse:collapse}}td,th{{border:1px solid #bbb;padding:.2rem .4rem;text-align:left;vertical-align:top}}\
nav a{{margin-right:1rem}}</style></head><body>\
<nav aria-label=\"fil d'Ariane\"><a href=\"/ogc?f=html\">Accueil OGC API</a><a href=\"/ogc/collections?f=html\">Collections</a><a href=\"/\">Carte</a></nav>\
<main><h1>{t}</h1>{body}</main></body></html>\n",
        t = escape(title)
    )
}

/// The links of a resource as a list, HTML ones first.
fn links(body: &Value) -> String {
    let items: String = body["links"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|l| {
            format!(
                "<li><a href=\"{}\">{}</a> <small>({}, {})</small></li>",
                escape(&text(&l["href"])),
                escape(&text(&l["title"])),
                escape(&text(&l["rel"])),
                escape(&text(&l["type"]))
            )
        })
        .collect();
    format!("<h2>Liens</h2><ul>{items}</ul>")
}

pub fn landing(body: &Value) -> String {
    page(
        &text(&body["title"]),
        &format!(
            "<p>{}</p>{}",
            escape(&text(&body["description"])),
            links(body)
        ),
    )
}

pub fn conformance(body: &Value) -> String {
    let classes: String = body["conformsTo"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|c| format!("<li>{}</li>", escape(&text(c))))
        .collect();
    page("Classes de conformité", &format!("<ul>{classes}</ul>"))
}

pub fn api(body: &Value) -> String {
    let rows: String = body["paths"]
        .as_object()
        .into_iter()
        .flatten()
        .flat_map(|(path, ops)| {
            ops.as_object()
                .into_iter()
                .flatten()
                .map(move |(method, op)| {
                    format!(
                        "<tr><td>{}</td><td><code>{}</code></td><td>{}</td></tr>",
                        escape(&method.to_uppercase()),
                        escape(path),
                        escape(&text(&op["summary"]))
                    )
                })
        })
        .collect();
    page(
        "Documentation de l'API",
        &format!(
            "<p>Le document OpenAPI 3.0 : <a href=\"/ogc/api?f=json\">/ogc/api</a>.</p>\
<table><thead><tr><th scope=\"col\">Méthode</th><th scope=\"col\">Chemin</th><th scope=\"col\">Ce qu'il fait</th></tr></thead><tbody>{rows}</tbody></table>"
        ),
    )
}

fn collection_section(c: &Value, heading: &str) -> String {
    let bbox = c["extent"]["spatial"]["bbox"][0]
        .as_array()
        .map(|b| b.iter().map(text).collect::<Vec<_>>().join(", "))
        .unwrap_or_else(|| "—".to_string());
    let interval = c["extent"]["temporal"]["interval"][0]
        .as_array()
        .map(|b| b.iter().map(text).collect::<Vec<_>>().join(" → "))
        .unwrap_or_else(|| "—".to_string());
    let filters = c["filters"]
        .as_array()
        .map(|f| f.iter().map(text).collect::<Vec<_>>().join(", "))
        .filter(|f| !f.is_empty())
        .unwrap_or_else(|| "aucun".to_string());
    let id = escape(&text(&c["id"]));
    format!(
        "<{heading}><a href=\"/ogc/collections/{id}?f=html\">{}</a></{heading}><p>{}</p>\
<p>Identifiant : <code>{id}</code> · étendue (lon/lat) : {} · dates des données : {} · filtres : {}</p>\
<p><a href=\"/ogc/collections/{id}/items?f=html\">Voir les entités</a></p>",
        escape(&text(&c["title"])),
        escape(&text(&c["description"])),
        escape(&bbox),
        escape(&interval),
        escape(&filters)
    )
}

pub fn collections(body: &Value) -> String {
    let sections: String = body["collections"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|c| collection_section(c, "h2"))
        .collect();
    page("Collections", &sections)
}

pub fn collection(body: &Value) -> String {
    page(
        &text(&body["title"]),
        &format!("{}{}", collection_section(body, "p"), links(body)),
    )
}

pub fn items(title: &str, offset: usize, body: &Value) -> String {
    let features: Vec<&Value> = body["features"].as_array().into_iter().flatten().collect();
    let mut columns: Vec<String> = Vec::new();
    for f in &features {
        for k in f["properties"]
            .as_object()
            .into_iter()
            .flatten()
            .map(|(k, _)| k)
        {
            if !columns.contains(k) {
                columns.push(k.clone());
            }
        }
    }
    let head: String = columns
        .iter()
        .map(|c| format!("<th scope=\"col\">{}</th>", escape(c)))
        .collect();
    let rows: String = features
        .iter()
        .map(|f| {
            let id = text(&f["id"]);
            let cells: String = columns
                .iter()
                .map(|c| format!("<td>{}</td>", escape(&text(&f["properties"][c]))))
                .collect();
            format!(
                "<tr><th scope=\"row\"><a href=\"items/{}?f=html\">{}</a></th>{cells}</tr>",
                escape(&super::url_escape(&id)),
                escape(&id)
            )
        })
        .collect();
    let first = if features.is_empty() {
        offset
    } else {
        offset + 1
    };
    page(
        title,
        &format!(
            "<p>Entités {} à {} sur {}.</p>{}\
<table><thead><tr><th scope=\"col\">id</th>{head}</tr></thead><tbody>{rows}</tbody></table>",
            first,
            offset + features.len(),
            text(&body["numberMatched"]),
            links(body)
        ),
    )
}

pub fn item(title: &str, body: &Value) -> String {
    let rows: String = body["properties"]
        .as_object()
        .into_iter()
        .flatten()
        .map(|(k, v)| {
            format!(
                "<tr><th scope=\"row\">{}</th><td>{}</td></tr>",
                escape(k),
                escape(&text(v))
            )
        })
        .collect();
    let geometry = match body["geometry"]["type"].as_str() {
        Some("Point") => format!("point {}", text(&body["geometry"]["coordinates"])),
        Some(kind) => kind.to_string(),
        None => "aucune".to_string(),
    };
    page(
        &format!("{title} : {}", text(&body["id"])),
        &format!(
            "<p>Géométrie : {}</p><table><tbody>{rows}</tbody></table>{}",
            escape(&geometry),
            links(body)
        ),
    )
}
