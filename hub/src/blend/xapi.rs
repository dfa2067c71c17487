//! xAPI 1.0.3 statements, sans-IO: the Data part's rules a statement must meet before the LRS keeps
//! it (actor identified by exactly one IFI, IRIs, UUIDs, timestamps, score ranges, no unknown
//! properties), what the LRS adds (id, stored, authority), voiding, and when two statements with
//! one id are the same.

use serde_json::{Map, Value};

/// The verb that voids another statement.
pub const VOIDED: &str = "http://adlnet.gov/expapi/verbs/voided";

/// Why a statement is refused (the LRS answers 400 with this text).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{path}: {reason}")]
pub struct Invalid {
    /// Where in the statement, e.g. `actor.mbox`.
    pub path: String,
    /// What is wrong.
    pub reason: String,
}

fn bad<T>(path: &str, reason: impl Into<String>) -> Result<T, Invalid> {
    Err(Invalid { path: path.to_owned(), reason: reason.into() })
}

/// An absolute IRI: a scheme (a letter, then letters, digits, `+`, `-`, `.`), a colon, and more.
pub fn is_iri(s: &str) -> bool {
    let Some((scheme, rest)) = s.split_once(':') else { return false };
    let mut chars = scheme.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c))
        && !rest.is_empty()
        && !s.chars().any(char::is_whitespace)
}

/// A UUID in its 8-4-4-4-12 hex form.
pub fn is_uuid(s: &str) -> bool {
    let parts: Vec<&str> = s.split('-').collect();
    parts.len() == 5
        && parts.iter().zip([8, 4, 4, 4, 12]).all(|(p, n)| p.len() == n && p.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// A fresh random (version 4) UUID.
pub fn new_uuid() -> String {
    let mut b: [u8; 16] = rand::random();
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    uuid_text(&b)
}

/// 16 bytes in the UUID spelling, `8-4-4-4-12` lowercase hex digits.
pub fn uuid_text(b: &[u8; 16]) -> String {
    let h = crate::hex(b);
    format!("{}-{}-{}-{}-{}", &h[..8], &h[8..12], &h[12..16], &h[16..20], &h[20..])
}

/// An ISO 8601 timestamp as xAPI allows it (RFC 3339 with an offset or `Z`), in ms since the epoch.
pub fn parse_timestamp(s: &str) -> Option<i64> {
    s.parse::<jiff::Timestamp>().ok().map(|t| t.as_millisecond())
}

fn object<'a>(v: &'a Value, path: &str) -> Result<&'a Map<String, Value>, Invalid> {
    v.as_object().ok_or_else(|| Invalid { path: path.into(), reason: "must be an object".into() })
}

fn only(map: &Map<String, Value>, path: &str, allowed: &[&str]) -> Result<(), Invalid> {
    match map.keys().find(|k| !allowed.contains(&k.as_str())) {
        Some(k) => bad(&format!("{path}.{k}"), "is not an xAPI property here"),
        None => Ok(()),
    }
}

fn string<'a>(map: &'a Map<String, Value>, path: &str, key: &str) -> Result<Option<&'a str>, Invalid> {
    match map.get(key) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => bad(&format!("{path}.{key}"), "must be a string"),
    }
}

fn iri(map: &Map<String, Value>, path: &str, key: &str, required: bool) -> Result<Option<String>, Invalid> {
    match string(map, path, key)? {
        Some(s) if is_iri(s) => Ok(Some(s.to_owned())),
        Some(s) => bad(&format!("{path}.{key}"), format!("{s:?} is not an IRI")),
        None if required => bad(&format!("{path}.{key}"), "is required"),
        None => Ok(None),
    }
}

fn language_map(map: &Map<String, Value>, path: &str, key: &str) -> Result<(), Invalid> {
    let Some(v) = map.get(key) else { return Ok(()) };
    let m = object(v, &format!("{path}.{key}"))?;
    for (tag, text) in m {
        let ok_tag = !tag.is_empty()
            && tag.split('-').all(|p| !p.is_empty() && p.len() <= 8 && p.chars().all(|c| c.is_ascii_alphanumeric()));
        if !ok_tag || !text.is_string() {
            return bad(&format!("{path}.{key}.{tag}"), "a language map holds language tags and strings");
        }
    }
    Ok(())
}

/// The key an agent is found by: its one IFI, as `mbox:…`, `sha1:…`, `openid:…` or
/// `account:homePage|name`.
pub fn agent_key(agent: &Value) -> Option<String> {
    let m = agent.as_object()?;
    if let Some(Value::String(s)) = m.get("mbox") {
        return Some(format!("mbox:{}", s.to_lowercase()));
    }
    if let Some(Value::String(s)) = m.get("mbox_sha1sum") {
        return Some(format!("sha1:{}", s.to_lowercase()));
    }
    if let Some(Value::String(s)) = m.get("openid") {
        return Some(format!("openid:{s}"));
    }
    let account = m.get("account")?.as_object()?;
    Some(format!("account:{}|{}", account.get("homePage")?.as_str()?, account.get("name")?.as_str()?))
}

/// An Agent or Group: exactly one IFI (an anonymous Group lists its members instead).
fn agent(v: &Value, path: &str) -> Result<(), Invalid> {
    let m = object(v, path)?;
    only(m, path, &["objectType", "name", "mbox", "mbox_sha1sum", "openid", "account", "member"])?;
    let kind = string(m, path, "objectType")?.unwrap_or("Agent");
    if !matches!(kind, "Agent" | "Group") {
        return bad(&format!("{path}.objectType"), format!("{kind:?} (Agent or Group)"));
    }
    string(m, path, "name")?;
    let ifis = ["mbox", "mbox_sha1sum", "openid", "account"].iter().filter(|k| m.contains_key(**k)).count();
    if let Some(s) = string(m, path, "mbox")?
        && !(s.starts_with("mailto:") && s.len() > 7 && s.contains('@'))
    {
        return bad(&format!("{path}.mbox"), "must be mailto:address");
    }
    if let Some(s) = string(m, path, "mbox_sha1sum")?
        && !(s.len() == 40 && s.bytes().all(|b| b.is_ascii_hexdigit()))
    {
        return bad(&format!("{path}.mbox_sha1sum"), "must be 40 hex digits");
    }
    iri(m, path, "openid", false)?;
    if let Some(a) = m.get("account") {
        let p = format!("{path}.account");
        let a = object(a, &p)?;
        only(a, &p, &["homePage", "name"])?;
        iri(a, &p, "homePage", true)?;
        if string(a, &p, "name")?.is_none_or(str::is_empty) {
            return bad(&format!("{p}.name"), "is required");
        }
    }
    match (kind, ifis, m.get("member")) {
        ("Agent", 1, None) => Ok(()),
        ("Agent", _, Some(_)) => bad(&format!("{path}.member"), "only a Group has members"),
        ("Agent", n, _) => {
            bad(path, format!("an Agent needs exactly one identifier (mbox, mbox_sha1sum, openid or account), not {n}"))
        }
        ("Group", n, members) if n <= 1 => {
            if n == 0 && members.is_none() {
                return bad(path, "an anonymous Group needs its members");
            }
            if let Some(members) = members {
                let list = members
                    .as_array()
                    .ok_or(Invalid { path: format!("{path}.member"), reason: "must be an array".into() })?;
                for (i, member) in list.iter().enumerate() {
                    let p = format!("{path}.member[{i}]");
                    if object(member, &p)?.get("objectType").and_then(Value::as_str) == Some("Group") {
                        return bad(&p, "a Group's member is an Agent");
                    }
                    agent(member, &p)?;
                }
            }
            Ok(())
        }
        (_, n, _) => bad(path, format!("a Group has at most one identifier, not {n}")),
    }
}

fn activity(m: &Map<String, Value>, path: &str) -> Result<(), Invalid> {
    only(m, path, &["objectType", "id", "definition"])?;
    iri(m, path, "id", true)?;
    if let Some(d) = m.get("definition") {
        let p = format!("{path}.definition");
        let d = object(d, &p)?;
        language_map(d, &p, "name")?;
        language_map(d, &p, "description")?;
        iri(d, &p, "type", false)?;
        iri(d, &p, "moreInfo", false)?;
    }
    Ok(())
}

fn statement_object(v: &Value, path: &str, sub: bool) -> Result<(), Invalid> {
    let m = object(v, path)?;
    match string(m, path, "objectType")?.unwrap_or("Activity") {
        "Activity" => activity(m, path),
        "Agent" | "Group" => agent(v, path),
        "StatementRef" => {
            only(m, path, &["objectType", "id"])?;
            match string(m, path, "id")? {
                Some(id) if is_uuid(id) => Ok(()),
                _ => bad(&format!("{path}.id"), "a StatementRef needs a UUID id"),
            }
        }
        "SubStatement" if !sub => {
            only(m, path, &["objectType", "actor", "verb", "object", "result", "context", "timestamp", "attachments"])?;
            body(m, path, true)
        }
        "SubStatement" => bad(&format!("{path}.objectType"), "a SubStatement cannot hold another"),
        other => bad(&format!("{path}.objectType"), format!("{other:?} is not an xAPI object type")),
    }
}

fn result(v: &Value, path: &str) -> Result<(), Invalid> {
    let m = object(v, path)?;
    only(m, path, &["score", "success", "completion", "response", "duration", "extensions"])?;
    for flag in ["success", "completion"] {
        if m.get(flag).is_some_and(|f| !f.is_boolean()) {
            return bad(&format!("{path}.{flag}"), "must be true or false");
        }
    }
    if let Some(s) = m.get("score") {
        let p = format!("{path}.score");
        let s = object(s, &p)?;
        only(s, &p, &["scaled", "raw", "min", "max"])?;
        let num = |k: &str| -> Result<Option<f64>, Invalid> {
            match s.get(k) {
                None => Ok(None),
                Some(v) => {
                    v.as_f64().map(Some).ok_or(Invalid { path: format!("{p}.{k}"), reason: "must be a number".into() })
                }
            }
        };
        let (scaled, raw, min, max) = (num("scaled")?, num("raw")?, num("min")?, num("max")?);
        if scaled.is_some_and(|x| !(-1.0..=1.0).contains(&x)) {
            return bad(&format!("{p}.scaled"), "must be from -1 to 1");
        }
        if let (Some(lo), Some(hi)) = (min, max)
            && lo >= hi
        {
            return bad(&format!("{p}.min"), "must be below max");
        }
        if raw.is_some_and(|r| min.is_some_and(|lo| r < lo) || max.is_some_and(|hi| r > hi)) {
            return bad(&format!("{p}.raw"), "must lie between min and max");
        }
    }
    Ok(())
}

fn body(m: &Map<String, Value>, path: &str, sub: bool) -> Result<(), Invalid> {
    let at = |k: &str| if path.is_empty() { k.to_owned() } else { format!("{path}.{k}") };
    agent(m.get("actor").ok_or(Invalid { path: at("actor"), reason: "is required".into() })?, &at("actor"))?;
    let verb = object(m.get("verb").ok_or(Invalid { path: at("verb"), reason: "is required".into() })?, &at("verb"))?;
    only(verb, &at("verb"), &["id", "display"])?;
    iri(verb, &at("verb"), "id", true)?;
    language_map(verb, &at("verb"), "display")?;
    statement_object(
        m.get("object").ok_or(Invalid { path: at("object"), reason: "is required".into() })?,
        &at("object"),
        sub,
    )?;
    if let Some(r) = m.get("result") {
        result(r, &at("result"))?;
    }
    if let Some(c) = m.get("context") {
        let c = object(c, &at("context"))?;
        if let Some(reg) = string(c, &at("context"), "registration")?
            && !is_uuid(reg)
        {
            return bad(&at("context.registration"), "must be a UUID");
        }
    }
    if let Some(ts) = string(m, path, "timestamp")?
        && parse_timestamp(ts).is_none()
    {
        return bad(&at("timestamp"), format!("{ts:?} is not an ISO 8601 timestamp with an offset"));
    }
    if verb.get("id").and_then(Value::as_str) == Some(VOIDED)
        && m.get("object").and_then(|o| o.get("objectType")).and_then(Value::as_str) != Some("StatementRef")
    {
        return bad(&at("object"), "a voiding statement's object is a StatementRef");
    }
    Ok(())
}

/// Checks a statement as received; `Ok` is the statement to keep.
pub fn validate(v: &Value) -> Result<(), Invalid> {
    let m = object(v, "statement")?;
    only(
        m,
        "statement",
        &[
            "id",
            "actor",
            "verb",
            "object",
            "result",
            "context",
            "timestamp",
            "stored",
            "authority",
            "version",
            "attachments",
        ],
    )?;
    if let Some(id) = string(m, "statement", "id")?
        && !is_uuid(id)
    {
        return bad("id", format!("{id:?} is not a UUID"));
    }
    if let Some(version) = string(m, "statement", "version")?
        && !version.starts_with("1.0")
    {
        return bad("version", format!("{version:?} (1.0.x)"));
    }
    if let Some(a) = m.get("authority") {
        agent(a, "authority")?;
    }
    body(m, "", false)
}

/// What the LRS adds to a statement it keeps: an id if it had none, `stored`, its `authority`
/// (the source that sent it) and `timestamp` (= stored) if missing, and `version`.
pub fn complete(v: &mut Value, stored_iso: &str, authority: &Value) -> String {
    let Some(m) = v.as_object_mut() else { return String::new() };
    let id = m.get("id").and_then(Value::as_str).map(str::to_owned).unwrap_or_else(new_uuid);
    m.insert("id".into(), Value::String(id.clone()));
    m.insert("stored".into(), Value::String(stored_iso.to_owned()));
    m.entry("timestamp").or_insert_with(|| Value::String(stored_iso.to_owned()));
    m.insert("authority".into(), authority.clone());
    m.entry("version").or_insert_with(|| Value::String("1.0.3".into()));
    id
}

/// Whether two statements with one id are the same, as the spec compares them: what the LRS
/// adds (`stored`, `authority`, `version`, a filled-in `timestamp`) does not count.
pub fn same(a: &Value, b: &Value) -> bool {
    let strip = |v: &Value| {
        let mut v = v.clone();
        if let Some(m) = v.as_object_mut() {
            for k in ["stored", "authority", "version", "timestamp"] {
                m.remove(k);
            }
        }
        v
    };
    strip(a) == strip(b)
}

/// How a statement is returned (`format`): as stored, with agents and activities reduced to their
/// identifiers, or with each language map cut to one language.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// As stored.
    Exact,
    /// Agents, Groups and Activities reduced to what identifies them.
    Ids,
    /// Language maps cut to one language (`lang`, else the first there is).
    Canonical,
}

/// Applies `format` to a statement (and its SubStatement).
pub fn format(statement: &mut Value, format: Format, lang: &str) {
    fn ids(v: &mut Value) {
        let Some(m) = v.as_object_mut() else { return };
        match m.get("objectType").and_then(Value::as_str) {
            Some("Agent") | Some("Group") | None
                if ["mbox", "mbox_sha1sum", "openid", "account", "member"].iter().any(|k| m.contains_key(*k)) =>
            {
                m.retain(|k, _| {
                    ["objectType", "mbox", "mbox_sha1sum", "openid", "account", "member"].contains(&k.as_str())
                });
                if let Some(Value::Array(members)) = m.get_mut("member") {
                    members.iter_mut().for_each(ids);
                }
            }
            Some("Activity") | None => m.retain(|k, _| k == "objectType" || k == "id"),
            _ => {}
        }
    }
    fn canonical(v: &mut Value, lang: &str) {
        match v {
            Value::Object(m) => {
                for (k, child) in m.iter_mut() {
                    let is_map = matches!(k.as_str(), "display" | "name" | "description") && child.is_object();
                    if is_map && child.as_object().is_some_and(|o| o.values().all(Value::is_string)) {
                        let o = child.as_object().expect("checked");
                        let pick = o
                            .keys()
                            .find(|t| t.eq_ignore_ascii_case(lang))
                            .or_else(|| o.keys().find(|t| t.split('-').next() == lang.split('-').next()))
                            .or_else(|| o.keys().next())
                            .cloned();
                        if let Some(tag) = pick {
                            let text = o[&tag].clone();
                            *child = serde_json::json!({ tag: text });
                        }
                    } else {
                        canonical(child, lang);
                    }
                }
            }
            Value::Array(a) => a.iter_mut().for_each(|c| canonical(c, lang)),
            _ => {}
        }
    }
    match format {
        Format::Exact => {}
        Format::Canonical => canonical(statement, lang),
        Format::Ids => {
            for key in ["actor", "object", "authority"] {
                if let Some(v) = statement.get_mut(key) {
                    ids(v);
                }
            }
            if let Some(sub) = statement.get_mut("object").filter(|o| o["objectType"] == "SubStatement") {
                for key in ["actor", "object"] {
                    if let Some(v) = sub.get_mut(key) {
                        ids(v);
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn ok() -> Value {
        json!({
            "actor": { "mbox": "mailto:anna@school.nl", "name": "Anna" },
            "verb": { "id": "http://adlnet.gov/expapi/verbs/completed", "display": { "nl-NL": "voltooid" } },
            "object": { "id": "https://moodle.school.nl/mod/quiz/view.php?id=7", "definition": { "name": { "nl": "Toets 3" } } },
            "result": { "score": { "scaled": 0.8, "raw": 8, "min": 0, "max": 10 }, "success": true },
            "timestamp": "2026-11-20T10:15:00+01:00"
        })
    }

    fn reason(v: Value) -> String {
        validate(&v).unwrap_err().to_string()
    }

    #[test]
    fn a_complete_statement_passes() {
        assert_eq!(validate(&ok()), Ok(()));
    }

    #[test]
    fn each_rule_of_the_data_part_refuses_with_where_and_why() {
        let mut two_ifis = ok();
        two_ifis["actor"]["openid"] = json!("https://id.school.nl/anna");
        assert!(reason(two_ifis).starts_with("actor: an Agent needs exactly one identifier"));
        let mut none = ok();
        none["actor"] = json!({ "name": "Anna" });
        assert!(reason(none).contains("not 0"));
        let mut mbox = ok();
        mbox["actor"]["mbox"] = json!("anna@school.nl");
        assert_eq!(reason(mbox), "actor.mbox: must be mailto:address");
        let mut verb = ok();
        verb["verb"]["id"] = json!("completed");
        assert_eq!(reason(verb), "verb.id: \"completed\" is not an IRI");
        let mut scaled = ok();
        scaled["result"]["score"]["scaled"] = json!(1.5);
        assert_eq!(reason(scaled), "result.score.scaled: must be from -1 to 1");
        let mut raw = ok();
        raw["result"]["score"]["raw"] = json!(11);
        assert_eq!(reason(raw), "result.score.raw: must lie between min and max");
        let mut ts = ok();
        ts["timestamp"] = json!("20-11-2026 10:15");
        assert!(reason(ts).starts_with("timestamp:"));
        let mut extra = ok();
        extra["mood"] = json!("happy");
        assert_eq!(reason(extra), "statement.mood: is not an xAPI property here");
        let mut id = ok();
        id["id"] = json!("not-a-uuid");
        assert_eq!(reason(id), "id: \"not-a-uuid\" is not a UUID");
        let mut lang = ok();
        lang["verb"]["display"] = json!({ "nl NL": "voltooid" });
        assert!(reason(lang).starts_with("verb.display.nl NL"));
        let mut void = ok();
        void["verb"]["id"] = json!(VOIDED);
        assert_eq!(reason(void), "object: a voiding statement's object is a StatementRef");
        let mut account = ok();
        account["actor"] = json!({ "account": { "homePage": "https://moodle.school.nl", "name": "" } });
        assert_eq!(reason(account), "actor.account.name: is required");
    }

    #[test]
    fn groups_and_substatements_follow_their_own_rules() {
        let mut anon = ok();
        anon["actor"] =
            json!({ "objectType": "Group", "member": [{ "mbox": "mailto:a@s.nl" }, { "mbox": "mailto:b@s.nl" }] });
        assert_eq!(validate(&anon), Ok(()));
        anon["actor"] = json!({ "objectType": "Group" });
        assert!(reason(anon).contains("anonymous Group needs its members"));
        let mut sub = ok();
        sub["object"] = json!({ "objectType": "SubStatement", "actor": { "mbox": "mailto:a@s.nl" },
            "verb": { "id": "http://adlnet.gov/expapi/verbs/attempted" }, "object": { "id": "https://s.nl/a" } });
        assert_eq!(validate(&sub), Ok(()));
        sub["object"]["object"] = json!({ "objectType": "SubStatement" });
        assert!(reason(sub).contains("cannot hold another"));
    }

    #[test]
    fn formats_ids_and_canonical() {
        let mut s = ok();
        format(&mut s, Format::Ids, "nl");
        assert_eq!(s["actor"], json!({ "mbox": "mailto:anna@school.nl" }), "the name goes, the IFI stays");
        assert_eq!(s["object"], json!({ "id": "https://moodle.school.nl/mod/quiz/view.php?id=7" }));
        let mut c = ok();
        c["verb"]["display"] = json!({ "en-US": "completed", "nl-NL": "voltooid" });
        format(&mut c, Format::Canonical, "nl");
        assert_eq!(c["verb"]["display"], json!({ "nl-NL": "voltooid" }));
        assert_eq!(c["object"]["definition"]["name"], json!({ "nl": "Toets 3" }));
        let mut e = ok();
        format(&mut e, Format::Exact, "nl");
        assert_eq!(e, ok());
    }

    #[test]
    fn the_lrs_fills_in_what_it_owns_and_compares_without_it() {
        let mut s = ok();
        let authority = json!({ "account": { "homePage": "https://hub.local", "name": "moodle" } });
        let id = complete(&mut s, "2026-11-26T09:00:00Z", &authority);
        assert!(is_uuid(&id) && s["id"] == json!(id));
        assert_eq!(s["stored"], json!("2026-11-26T09:00:00Z"));
        assert_eq!(s["timestamp"], json!("2026-11-20T10:15:00+01:00"), "a given timestamp is kept");
        let mut again = ok();
        again["id"] = json!(id);
        assert!(same(&s, &again));
        again["result"]["success"] = json!(false);
        assert!(!same(&s, &again));
        assert_eq!(parse_timestamp("2026-11-20T10:15:00+01:00"), Some(1_795_166_100_000), "09:15 UTC");
        assert!(is_iri("mailto:a@b.nl") && !is_iri("no scheme") && !is_iri("1http://x"));
    }
}
