//! Which OpenStreetMap ways a person may walk: the rules of OSRM's foot
//! profile (`profiles/foot.lua`), written down here so that they can be read
//! and compared.
//!
//! - Walkable by their `highway` tag: `primary`, `secondary`, `tertiary` and
//!   their `_link`s, `unclassified`, `residential`, `road`, `living_street`,
//!   `service`, `track`, `path`, `footway`, `pedestrian`, `steps`,
//!   `platform`; also `railway=platform`, `public_transport=platform`,
//!   `man_made=pier` and `leisure=track`.
//! - Walkable only when `foot` says so (`yes`, `designated`, `permissive`):
//!   `trunk`, `trunk_link`, `cycleway`, `bridleway` (OSRM walks none of them
//!   by default; the `foot` tag opens them as it does in OSRM).
//! - Never: `motorway`, `motorway_link`, `construction`, `proposed`,
//!   `abandoned`, `raceway`; `area=yes` without a highway; `impassable=yes`.
//! - Closed by access: `foot` in `no`, `private`, `use_sidepath`,
//!   `agricultural`, `forestry`, `delivery`; else `access` in the same list
//!   unless `foot` opens the way.
//! - Not taken: ferries (`route=ferry`, timed by schedule, not by foot),
//!   and direction (walking ignores `oneway`, as OSRM's foot profile does
//!   except for `oneway:foot=yes`, which is rare and ignored here).

/// A way's tags, as `(key, value)` pairs.
pub fn is_walkable<'a>(tags: impl IntoIterator<Item = (&'a str, &'a str)>) -> bool {
    let (mut highway, mut foot, mut access) = (None, None, None);
    let mut other_walkable = false;
    for (k, v) in tags {
        match k {
            "highway" => highway = Some(v),
            "foot" => foot = Some(v),
            "access" => access = Some(v),
            "railway" | "public_transport" if v == "platform" => other_walkable = true,
            "man_made" if v == "pier" => other_walkable = true,
            "leisure" if v == "track" => other_walkable = true,
            "impassable" if v == "yes" => return false,
            _ => {}
        }
    }
    let closed = |v: &str| {
        matches!(
            v,
            "no" | "private" | "use_sidepath" | "agricultural" | "forestry" | "delivery"
        )
    };
    let opened = foot.is_some_and(|v| matches!(v, "yes" | "designated" | "permissive"));
    if foot.is_some_and(closed) || (!opened && access.is_some_and(closed)) {
        return false;
    }
    match highway {
        Some(
            "primary" | "primary_link" | "secondary" | "secondary_link" | "tertiary"
            | "tertiary_link" | "unclassified" | "residential" | "road" | "living_street"
            | "service" | "track" | "path" | "footway" | "pedestrian" | "steps" | "platform",
        ) => true,
        Some("trunk" | "trunk_link" | "cycleway" | "bridleway") => opened,
        Some(_) => false,
        None => other_walkable,
    }
}

#[cfg(test)]
mod tests {
    use super::is_walkable;

    #[test]
    fn foot_profile_rules() {
        let walk = |tags: &[(&str, &str)]| is_walkable(tags.iter().copied());
        assert!(walk(&[("highway", "residential")]));
        assert!(walk(&[
            ("highway", "footway"),
            ("access", "no"),
            ("foot", "yes")
        ]));
        assert!(!walk(&[("highway", "footway"), ("access", "private")]));
        assert!(!walk(&[("highway", "motorway")]));
        assert!(!walk(&[("highway", "motorway"), ("foot", "yes")]));
        assert!(!walk(&[("highway", "trunk")]));
        assert!(walk(&[("highway", "trunk"), ("foot", "designated")]));
        assert!(!walk(&[("highway", "residential"), ("foot", "no")]));
        assert!(walk(&[("railway", "platform")]));
        assert!(!walk(&[("building", "yes")]));
        assert!(!walk(&[("highway", "path"), ("impassable", "yes")]));
    }
}
