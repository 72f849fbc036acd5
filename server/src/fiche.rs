//! The QPV fiche: one A4 page (or more, for a long list) a planner puts in a
//! report or a contrat de ville — a map of the QPV with its ring and the
//! initiatives, key facts, counts by category inside and within the radius,
//! the nearest of each category, the full list with addresses, sources and
//! data dates.
//!
//! The page is static and self-contained: the map is an SVG drawn here from
//! the same outlines and positions the tiles carry (Web Mercator, so it
//! looks like the web map), inline with its CSS. So the same page serves
//! `/qpv/{code}/fiche` and `ess-map fiche` (batch production with no
//! browser), prints sharp at any size, and needs no network, WebGL or
//! screenshot: the browser's « Imprimer / PDF » does the rest, the print CSS
//! keeping the map's proportions (an SVG viewBox) and the list whole.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use geo::{BoundingRect, Coord, MultiPolygon, Rect};
use geodata::model::Qpv;
use geodata::{Dataset, QpvId};

/// Width of the map's drawing, in its own units (the page scales it).
const MAP_WIDTH: f64 = 1000.0;
/// Earth radius of Web Mercator, metres.
const EARTH_RADIUS_M: f64 = 6_378_137.0;

fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            _ => out.push(c),
        }
    }
    out
}

/// 12 345 (narrow no-break space between thousands, as French writes).
fn integer(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push('\u{202f}');
        }
        out.push(c);
    }
    out
}

/// Beyond this, the nearest initiative of a kind is not said as a distance:
/// « aucune à moins de 20 km ».
const FAR_M: f64 = 20_000.0;

/// 350 m, 1,2 km.
fn metres(d: f64) -> String {
    if d < 1000.0 {
        format!("{} m", d.round() as u64)
    } else {
        format!("{:.1} km", d / 1000.0).replace('.', ",")
    }
}

/// Web Mercator, scaled to the map's drawing.
struct Frame {
    origin: (f64, f64),
    scale: f64,
    height: f64,
    metres_per_unit: f64,
}

impl Frame {
    fn new(bbox: Rect<f64>) -> Frame {
        let mercator = |c: Coord<f64>| {
            (
                c.x.to_radians(),
                (std::f64::consts::FRAC_PI_4 + c.y.to_radians() / 2.0)
                    .tan()
                    .ln(),
            )
        };
        let (x0, y0) = mercator(bbox.min());
        let (x1, y1) = mercator(bbox.max());
        let scale = MAP_WIDTH / (x1 - x0);
        let middle = bbox.center().y.to_radians();
        Frame {
            origin: (x0, y1),
            scale,
            height: (y1 - y0) * scale,
            metres_per_unit: EARTH_RADIUS_M * middle.cos() / scale,
        }
    }

    fn at(&self, c: Coord<f64>) -> (f64, f64) {
        let x = c.x.to_radians();
        let y = (std::f64::consts::FRAC_PI_4 + c.y.to_radians() / 2.0)
            .tan()
            .ln();
        (
            (x - self.origin.0) * self.scale,
            (self.origin.1 - y) * self.scale,
        )
    }

    fn path(&self, shape: &MultiPolygon<f64>) -> String {
        let mut d = String::new();
        for polygon in shape {
            for ring in std::iter::once(polygon.exterior()).chain(polygon.interiors()) {
                for (i, c) in ring.0.iter().enumerate() {
                    let (x, y) = self.at(*c);
                    let _ = write!(d, "{}{x:.1} {y:.1}", if i == 0 { "M" } else { "L" });
                }
                d.push('Z');
            }
        }
        d
    }
}

/// The fiche of QPV `id` with the initiatives within `radius_m`, as a
/// complete HTML page (without a map and distances when the QPV has no
/// outline loaded, which it says).
///
/// With a walking network, the map draws its streets and the area reachable
/// on foot in [`geodata::walk::DEFAULT_MINUTES`] from the QPV's streets;
/// without one, the fiche says so.
pub fn fiche_html(
    data: &Dataset,
    id: QpvId,
    radius_m: f64,
    walk: Option<&geodata::walk::access::WalkNetwork>,
) -> String {
    let qpv = data.qpv(id);
    let territory = data.territory();
    let taxonomy = data.taxonomy();
    let title = format!("{} ({})", qpv.name, qpv.code);
    let mut html = String::new();
    let _ = write!(
        html,
        r#"<!doctype html>
<html lang="fr"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Fiche QPV — {title}</title>
<style>{STYLE}</style></head>
<body><main>
<p class="no-print actions"><button type="button" onclick="window.print()">Imprimer / PDF</button></p>
<h1>{title}</h1>
"#,
        title = escape(&title)
    );
    // Key facts.
    let communes: Vec<String> = qpv
        .communes
        .iter()
        .map(|c| match &c.insee {
            Some(code) => format!("{} ({code})", c.name),
            None => c.name.clone(),
        })
        .collect();
    let departement = territory
        .departement_name(&qpv.departement)
        .map_or(qpv.departement.clone(), |n| {
            format!("{n} ({})", qpv.departement)
        });
    let population = match (qpv.population, &qpv.population_as_of) {
        (Some(p), Some(year)) => format!("{} habitants ({})", integer(u64::from(p)), year),
        (Some(p), None) => format!("{} habitants", integer(u64::from(p))),
        (None, _) => "non publiée pour ce quartier".to_string(),
    };
    let _ = write!(
        html,
        r#"<dl class="facts">
<dt>Commune{plural}</dt><dd>{communes}</dd>
<dt>Département</dt><dd>{departement}</dd>
<dt>Génération</dt><dd>QPV {generation}</dd>
<dt>Population</dt><dd>{population}</dd>
<dt>Rayon étudié</dt><dd>{radius} autour du contour</dd>
</dl>
"#,
        plural = if communes.len() > 1 { "s" } else { "" },
        communes = escape(&communes.join(", ")),
        departement = escape(&departement),
        generation = qpv.generation,
        population = escape(&population),
        radius = metres(radius_m),
    );
    let Some(outline) = &qpv.geometry else {
        html.push_str(r#"<p class="note">Contour non chargé : on ne sait pas quelles initiatives sont dans ce quartier, ni à quelle distance ; ni carte ni distances ici. Contour disponible après mise à jour des données par l'administrateur du site (<code>ess-map data fetch</code>). Ci-dessous, les initiatives de ses communes, comptées par commune comme dans l'analyse des manques.</p>"#);
        commune_initiatives(&mut html, data, qpv);
        html.push_str(&sources(data));
        html.push_str("</main></body></html>\n");
        return html;
    };
    let found = data
        .nearby(id, radius_m, None, usize::MAX)
        .unwrap_or_default();
    // The map.
    let ring = outline.grown_by(radius_m);
    let on_foot = walk.map(|network| (network, walk_area(data, network, id)));
    let mut bbox = ring.bounding_rect().unwrap_or(outline.bbox);
    if let Some((_, Some(area))) = &on_foot
        && let Some(b) = area.bounding_rect()
    {
        bbox = Rect::new(
            Coord {
                x: bbox.min().x.min(b.min().x),
                y: bbox.min().y.min(b.min().y),
            },
            Coord {
                x: bbox.max().x.max(b.max().x),
                y: bbox.max().y.max(b.max().y),
            },
        );
    }
    let (w, h) = (bbox.width(), bbox.height());
    let pad = w.max(h) * 0.06;
    let view = Rect::new(
        Coord {
            x: bbox.min().x - pad,
            y: bbox.min().y - pad,
        },
        Coord {
            x: bbox.max().x + pad,
            y: bbox.max().y + pad,
        },
    );
    let frame = Frame::new(view);
    let mut svg = String::new();
    let _ = write!(
        svg,
        r##"<svg class="carte" viewBox="0 0 {w:.0} {h:.0}" preserveAspectRatio="xMidYMid meet" role="img" aria-label="Carte du quartier {name}, du rayon de {radius} et des initiatives" xmlns="http://www.w3.org/2000/svg">
<clipPath id="cadre"><rect width="{w:.0}" height="{h:.0}"/></clipPath>
<rect width="{w:.0}" height="{h:.0}" fill="#f7f5f0"/>
<g clip-path="url(#cadre)">
"##,
        w = MAP_WIDTH,
        h = frame.height,
        name = escape(&qpv.name),
        radius = metres(radius_m),
    );
    // The streets of the walking network, under everything else.
    if let Some((network, _)) = &on_foot {
        let graph = &network.graph;
        let mut d = String::new();
        for a in graph.nodes_near(view) {
            for (b, _) in graph.edges(a) {
                if b > a {
                    let ((x0, y0), (x1, y1)) =
                        (frame.at(graph.position(a)), frame.at(graph.position(b)));
                    let _ = write!(d, "M{x0:.1} {y0:.1}L{x1:.1} {y1:.1}");
                }
            }
        }
        if !d.is_empty() {
            let _ = write!(
                svg,
                r##"<path d="{d}" fill="none" stroke="#c8c8c8" stroke-width="1.2" stroke-linecap="round"/>"##
            );
        }
    }
    for other in data.qpvs_in(view) {
        if other == id {
            continue;
        }
        if let Some(g) = &data.qpv(other).geometry {
            let _ = write!(
                svg,
                r##"<path d="{}" fill="#d9d9d9" fill-opacity=".6" stroke="#969696" stroke-width="1" fill-rule="evenodd"/>"##,
                frame.path(&g.lonlat)
            );
        }
    }
    if radius_m > 0.0 {
        let _ = write!(
            svg,
            r##"<path d="{}" fill="#2c7fb8" fill-opacity=".07" stroke="#2c7fb8" stroke-width="2" stroke-dasharray="8 6" fill-rule="evenodd"/>"##,
            frame.path(&ring)
        );
    }
    if let Some((_, Some(area))) = &on_foot {
        let _ = write!(
            svg,
            r##"<path d="{}" fill="#1a9850" fill-opacity=".10" stroke="#1a7a40" stroke-width="2" fill-rule="evenodd"/>"##,
            frame.path(area)
        );
    }
    let _ = write!(
        svg,
        r##"<path d="{}" fill="#fd8d3c" fill-opacity=".45" stroke="#a63603" stroke-width="2.5" fill-rule="evenodd"/>"##,
        frame.path(&outline.lonlat)
    );
    // Names for orientation, offline as the rest: the communes whose centre
    // is in view, and the other QPV drawn (the streets come with a walking
    // network, above).
    let halo = r##"fill="#252525" stroke="#fff" stroke-width="4" stroke-linejoin="round" paint-order="stroke""##;
    // A tall map is drawn narrower on the page: its names are larger.
    let k = (frame.height / MAP_WIDTH).clamp(1.0, 2.0);
    for other in data.qpvs_in(view) {
        if other == id {
            continue;
        }
        if let Some(p) = territory.qpv_label_point(other) {
            let (px, py) = frame.at(p);
            let _ = write!(
                svg,
                r##"<text x="{px:.1}" y="{py:.1}" text-anchor="middle" font-size="{size:.0}" font-style="italic" {halo} fill-opacity=".75">{}</text>"##,
                escape(&data.qpv(other).name),
                size = 13.0 * k,
            );
        }
    }
    let in_view = |c: Coord<f64>| {
        (view.min().x..=view.max().x).contains(&c.x) && (view.min().y..=view.max().y).contains(&c.y)
    };
    for commune in territory.communes().all() {
        if !in_view(commune.centre) {
            continue;
        }
        let (px, py) = frame.at(commune.centre);
        let _ = write!(
            svg,
            r##"<circle cx="{px:.1}" cy="{py:.1}" r="3" fill="#252525"/><text class="commune" x="{px:.1}" y="{ty:.1}" text-anchor="middle" font-size="{size:.0}" font-weight="700" {halo}>{}</text>"##,
            escape(&commune.name),
            ty = py - 8.0 * k,
            size = 16.0 * k,
        );
    }
    // The QPV's own communes whose centre is off the map: an arrow at the
    // edge towards it, with its distance on the ground.
    let middle = view.center();
    for c in &qpv.communes {
        let Some(commune) = territory
            .communes()
            .find(c.insee.as_deref(), None, Some(&c.name))
        else {
            continue;
        };
        if in_view(commune.centre) {
            continue;
        }
        let (px, py) = frame.at(commune.centre);
        let (cx, cy) = (MAP_WIDTH / 2.0, frame.height / 2.0);
        let (dx, dy) = (px - cx, py - cy);
        let margin = 60.0 * k;
        let t = ((cx - margin) / dx.abs()).min((cy - margin).max(1.0) / dy.abs());
        let (ex, ey) = (cx + t * dx, cy + t * dy);
        let angle = dy.atan2(dx).to_degrees();
        let anchor = if ex > MAP_WIDTH * 0.66 {
            "end"
        } else if ex < MAP_WIDTH * 0.33 {
            "start"
        } else {
            "middle"
        };
        let ty = if ey > frame.height / 2.0 {
            ey - 22.0 * k
        } else {
            ey + 30.0 * k
        };
        let distance = {
            use geo::{Distance, Geodesic, Point};
            Geodesic.distance(Point(middle), Point(commune.centre))
        };
        let _ = write!(
            svg,
            r##"<g class="vers-commune"><path d="M-14 -7 L6 -7 L6 -14 L20 0 L6 14 L6 7 L-14 7 Z" transform="translate({ex:.1} {ey:.1}) rotate({angle:.1}) scale({k:.2})" fill="#252525" stroke="#fff" stroke-width="2"/><text x="{ex:.1}" y="{ty:.1}" text-anchor="{anchor}" font-size="{size:.0}" font-weight="700" {halo}>{name} (centre) à {distance}</text></g>"##,
            size = 15.0 * k,
            name = escape(&commune.name),
            distance = metres(distance),
        );
    }
    // Initiatives beyond the radius, for context; then the listed ones, numbered.
    let listed: std::collections::HashSet<&str> = found.iter().map(|(x, _)| &*x.id).collect();
    for x in data.initiatives_in(view) {
        if listed.contains(&*x.id) || !x.precision.places_against_qpv() {
            continue;
        }
        if let Some(p) = x.position {
            let (px, py) = frame.at(p);
            let _ = write!(
                svg,
                r##"<circle cx="{px:.1}" cy="{py:.1}" r="4" fill="#bdbdbd" stroke="#fff" stroke-width="1"/>"##
            );
        }
    }
    for (n, (x, _)) in found.iter().enumerate() {
        let Some(p) = x.position else { continue };
        let (px, py) = frame.at(p);
        let colour = taxonomy
            .get(&x.category)
            .map_or("#525252", |c| c.color.as_str());
        let _ = write!(
            svg,
            r##"<circle cx="{px:.1}" cy="{py:.1}" r="11" fill="{colour}" stroke="#fff" stroke-width="1.5"/><text x="{px:.1}" y="{ty:.1}" text-anchor="middle" font-size="12" font-weight="700" fill="#fff">{number}</text>"##,
            ty = py + 4.2,
            number = n + 1,
        );
    }
    svg.push_str("</g>");
    // Scale bar and north.
    let width_m = MAP_WIDTH * frame.metres_per_unit;
    let bar_m = [
        50.0, 100.0, 200.0, 250.0, 500.0, 1000.0, 2000.0, 5000.0, 10_000.0,
    ]
    .into_iter()
    .rfind(|m| *m <= width_m / 4.0)
    .unwrap_or(50.0);
    let bar = bar_m / frame.metres_per_unit;
    let y = frame.height - 24.0;
    let _ = write!(
        svg,
        r##"<g font-size="14" fill="#252525"><rect x="18" y="{ry:.1}" width="{bw:.1}" height="36" fill="#fff" fill-opacity=".8"/><path d="M30 {y:.1}h{bar:.1}" stroke="#252525" stroke-width="3"/><path d="M30 {t:.1}v12M{e:.1} {t:.1}v12" stroke="#252525" stroke-width="2"/><text x="30" y="{ly:.1}">{label}</text></g>
<g transform="translate({nx:.1} 48)"><path d="M0 -30 L10 0 L0 -6 L-10 0 Z" fill="#252525"/><text y="18" text-anchor="middle" font-size="16" font-weight="700" fill="#252525">N</text></g>
</svg>"##,
        ry = y - 26.0,
        bw = bar + 40.0,
        t = y - 6.0,
        e = 30.0 + bar,
        ly = y - 10.0,
        label = metres(bar_m),
        nx = MAP_WIDTH - 36.0,
    );
    html.push_str(&svg);
    // Legend.
    let mut present: BTreeMap<&str, usize> = BTreeMap::new();
    for (x, _) in &found {
        *present.entry(x.category.as_str()).or_default() += 1;
    }
    html.push_str(r#"<ul class="legend"><li><span class="sw qpv"></span>le quartier</li>"#);
    if radius_m > 0.0 {
        let _ = write!(
            html,
            r#"<li><span class="sw ring"></span>à moins de {}</li>"#,
            metres(radius_m)
        );
    }
    html.push_str(r#"<li><span class="sw other"></span>autres quartiers</li>"#);
    let minutes = geodata::table::number_text(geodata::walk::DEFAULT_MINUTES);
    match &on_foot {
        Some((network, Some(_))) => {
            let _ = write!(
                html,
                r#"<li><span class="sw walk"></span>à moins de {minutes} min à pied depuis les rues du quartier ({} km/h ; rues : OpenStreetMap, {})</li>"#,
                geodata::table::number_text(network.speed_kmh).replace('.', ","),
                escape(&network.sources.join(", "))
            );
        }
        Some((_, None)) => {
            let _ = write!(
                html,
                r#"<li>à pied : non vérifiable, le réseau piéton chargé ne couvre pas ce quartier</li>"#
            );
        }
        None => html.push_str(
            r#"<li>à pied : non vérifiable, aucun réseau piéton chargé (rues non dessinées)</li>"#,
        ),
    }
    for c in taxonomy.all() {
        if present.contains_key(c.id.as_str()) {
            let _ = write!(
                html,
                r#"<li><span class="dot" style="background:{}"></span>{}</li>"#,
                escape(&c.color),
                escape(&c.label)
            );
        }
    }
    html.push_str(r#"<li><span class="dot" style="background:#bdbdbd"></span>initiatives plus loin</li></ul>"#);
    // Counts by category, and the nearest of each, however far.
    let delta = data.initiatives().placed_in_delta(taxonomy);
    let _ = write!(
        html,
        r#"<h2>Initiatives par catégorie</h2>
<table class="counts"><thead><tr><th scope="col">Catégorie</th><th scope="col">Dans le quartier</th><th scope="col">À moins de {radius}</th><th scope="col">La plus proche</th></tr></thead><tbody>"#,
        radius = metres(radius_m)
    );
    let (mut total_inside, mut total_within) = (0, 0);
    for c in taxonomy.all() {
        let inside = found
            .iter()
            .filter(|(x, d)| x.category == c.id && *d == 0.0)
            .count();
        let within = found.iter().filter(|(x, _)| x.category == c.id).count();
        total_inside += inside;
        total_within += within;
        let nearest = data
            .initiatives()
            .nearest_of_kind(
                &c.id,
                outline,
                delta.get(&c.id).map_or(&[][..], Vec::as_slice),
            )
            .map_or("aucune dans les données".to_string(), |d| {
                // Measured to the boundary, also from inside.
                if d == 0.0 || inside > 0 {
                    "dans le quartier".to_string()
                } else if d > FAR_M {
                    // Hundreds of kilometres away is an absence, not an access.
                    format!("aucune à moins de {}", metres(FAR_M))
                } else {
                    format!("à {}", metres(d))
                }
            });
        let _ = write!(
            html,
            r#"<tr><th scope="row"><span class="dot" style="background:{}"></span>{}</th><td class="num">{inside}</td><td class="num">{within}</td><td>{nearest}</td></tr>"#,
            escape(&c.color),
            escape(&c.label),
        );
    }
    let _ = write!(
        html,
        r#"</tbody><tfoot><tr><th scope="row">Toutes</th><td class="num">{total_inside}</td><td class="num">{total_within}</td><td></td></tr></tfoot></table>"#
    );
    // The full list.
    let _ = write!(
        html,
        r#"<h2>{count} dans le quartier et à moins de {radius}</h2>"#,
        count = match found.len() {
            0 => "Aucune initiative".to_string(),
            1 => "L'initiative".to_string(),
            n => format!("Les {n} initiatives"),
        },
        radius = metres(radius_m)
    );
    if !found.is_empty() {
        html.push_str(r#"<table class="list"><thead><tr><th scope="col">N°</th><th scope="col">Nom</th><th scope="col">Catégorie</th><th scope="col">Adresse</th><th scope="col">Distance</th></tr></thead><tbody>"#);
        for (n, (x, d)) in found.iter().enumerate() {
            let (label, address) = label_and_address(taxonomy, x);
            let distance = if *d == 0.0 {
                "dans le quartier".to_string()
            } else {
                metres(*d)
            };
            let _ = write!(
                html,
                r#"<tr><td class="num">{number}</td><td>{name}</td><td>{label}</td><td>{address}</td><td>{distance}</td></tr>"#,
                number = n + 1,
                name = escape(&x.name),
                label = escape(label),
                address = escape(&address),
            );
        }
        html.push_str("</tbody></table>");
    }
    html.push_str(&sources(data));
    html.push_str("</main></body></html>\n");
    html
}

/// The area reachable on foot in the default walk from the QPV's streets,
/// when the network covers it.
fn walk_area(
    data: &Dataset,
    network: &geodata::walk::access::WalkNetwork,
    id: QpvId,
) -> Option<geo::MultiPolygon<f64>> {
    use geodata::walk::search::nearest;
    let nodes = &network.qpv_nodes(data.territory())[id.index()];
    if !nodes.basis.measured() {
        return None;
    }
    let bound = network.metres_in(geodata::walk::DEFAULT_MINUTES) as f32;
    geodata::walk::isochrone::isochrone(
        &network.graph,
        &nearest(&network.graph, &nodes.starts(), bound),
    )
}

/// For a QPV without outline: the initiatives of its communes, by category
/// and listed (whether each is in the quartier is not known).
fn commune_initiatives(html: &mut String, data: &Dataset, qpv: &Qpv) {
    let taxonomy = data.taxonomy();
    let mut found = data.in_qpv_communes(qpv);
    found.sort_by(|a, b| {
        a.category
            .cmp(&b.category)
            .then_with(|| a.name.cmp(&b.name))
    });
    let communes: Vec<&str> = qpv.communes.iter().map(|c| c.name.as_str()).collect();
    let _ = write!(
        html,
        r#"<h2>Initiatives de {communes} par catégorie</h2>
<table class="counts"><thead><tr><th scope="col">Catégorie</th><th scope="col">Dans la commune</th></tr></thead><tbody>"#,
        communes = escape(&communes.join(", "))
    );
    for c in taxonomy.all() {
        let n = found.iter().filter(|x| x.category == c.id).count();
        let _ = write!(
            html,
            r#"<tr><th scope="row"><span class="dot" style="background:{}"></span>{}</th><td class="num">{n}</td></tr>"#,
            escape(&c.color),
            escape(&c.label),
        );
    }
    let _ = write!(
        html,
        r#"</tbody><tfoot><tr><th scope="row">Toutes</th><td class="num">{}</td></tr></tfoot></table>"#,
        found.len()
    );
    if found.is_empty() {
        return;
    }
    html.push_str(r#"<h2>Les initiatives de la commune</h2><table class="list"><thead><tr><th scope="col">Nom</th><th scope="col">Catégorie</th><th scope="col">Adresse</th></tr></thead><tbody>"#);
    for x in found {
        let (label, address) = label_and_address(taxonomy, x);
        let _ = write!(
            html,
            r#"<tr><td>{}</td><td>{}</td><td>{}</td></tr>"#,
            escape(&x.name),
            escape(label),
            escape(&address),
        );
    }
    html.push_str("</tbody></table>");
}

/// An initiative's category label and its address on one line, as listed.
fn label_and_address<'a>(
    taxonomy: &'a geodata::Taxonomy,
    x: &'a geodata::Initiative,
) -> (&'a str, String) {
    let label = taxonomy
        .get(&x.category)
        .map_or(x.category.as_str(), |c| c.label.as_str());
    let address = [x.address(), x.postcode.as_deref(), x.commune.as_deref()]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(" ");
    (label, address)
}

/// Today in French (`3 décembre 2026`), the date a fiche is made.
fn french_today() -> String {
    const MONTHS: [&str; 12] = [
        "janvier",
        "février",
        "mars",
        "avril",
        "mai",
        "juin",
        "juillet",
        "août",
        "septembre",
        "octobre",
        "novembre",
        "décembre",
    ];
    let today = time::OffsetDateTime::now_utc().date();
    format!(
        "{} {} {}",
        today.day(),
        MONTHS[usize::from(u8::from(today.month())) - 1],
        today.year()
    )
}

/// The datasets read, their producers and dates.
fn sources(data: &Dataset) -> String {
    let mut out = String::from(r#"<h2>Sources et dates des données</h2><ul class="sources">"#);
    for d in data.territory().loaded_datasets() {
        let _ = write!(
            out,
            "<li>{} — {}{}</li>",
            escape(&d.title),
            escape(&d.attribution),
            d.as_of
                .as_ref()
                .map_or(String::new(), |a| format!(" (données {})", escape(a)))
        );
    }
    let _ = write!(
        out,
        "</ul><p class=\"small\">Distances au sol depuis le contour du quartier. Fiche établie le {} par ess-map {}.</p>",
        french_today(),
        env!("CARGO_PKG_VERSION")
    );
    out
}

const STYLE: &str = r#"
@page { size: A4; margin: 12mm; }
* { box-sizing: border-box; }
body { margin: 0; font: 10.5pt/1.35 "DejaVu Sans", system-ui, sans-serif; color: #1d1d1d; background: #fff; }
main { max-width: 190mm; margin: 0 auto; padding: 8mm 4mm; }
h1 { font-size: 17pt; margin: 0 0 .4em; }
h2 { font-size: 12.5pt; margin: 1.1em 0 .4em; }
.facts { display: grid; grid-template-columns: max-content 1fr; gap: .15em 1em; margin: 0 0 .8em; }
.facts dt { font-weight: 700; }
.facts dd { margin: 0; }
svg.carte { display: block; width: 100%; height: auto; max-height: 150mm; border: 1px solid #bdbdbd; }
.legend { display: flex; flex-wrap: wrap; gap: .2em 1.1em; list-style: none; padding: 0; margin: .4em 0 0; font-size: 9pt; }
.sw { display: inline-block; width: 1.4em; height: .9em; vertical-align: -.1em; margin-right: .35em; border: 1.5px solid; }
.sw.qpv { background: #fdae6b; border-color: #a63603; }
.sw.ring { background: #eef4f9; border-color: #2c7fb8; border-style: dashed; }
.sw.walk { background: #e3f2e9; border-color: #1a7a40; }
.sw.other { background: #e8e8e8; border-color: #969696; }
.dot { display: inline-block; width: .8em; height: .8em; border-radius: 50%; vertical-align: -.05em; margin-right: .35em; }
table { width: 100%; border-collapse: collapse; font-size: 9.5pt; }
th, td { text-align: left; padding: .2em .35em; border-bottom: 1px solid #e0e0e0; vertical-align: top; }
thead th { border-bottom: 1.5px solid #525252; }
.num { text-align: right; font-variant-numeric: tabular-nums; }
.note { background: #fff7e6; border-left: 4px solid #f0a020; padding: .5em .8em; }
.sources { font-size: 9pt; padding-left: 1.2em; }
.small { font-size: 8.5pt; color: #525252; }
.actions button { font: inherit; padding: .4em 1em; }
@media print {
  .no-print { display: none; }
  main { padding: 0; max-width: none; }
  thead { display: table-header-group; }
  tr, .legend, svg.carte, table.counts { break-inside: avoid; }
  h2 { break-after: avoid; }
}
"#;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn french_numbers() {
        assert_eq!(integer(12_345), "12\u{202f}345");
        assert_eq!(integer(999), "999");
        assert_eq!(metres(349.6), "350 m");
        assert_eq!(metres(1234.0), "1,2 km");
        assert_eq!(escape("<a & \"b\">"), "&lt;a &amp; &quot;b&quot;&gt;");
    }
}
