//! The xAPI 1.0.3 statement resource at `/xapi`: POST (one or a batch, all-or-nothing), PUT with
//! `statementId`, GET by `statementId` or `voidedStatementId` or by query with `more` paging, and
//! `GET /xapi/about`. Each source signs in with HTTP Basic credentials (`classhub source add`).

use dashboard::url::encode;
use std::collections::HashMap;

use axum::body::Bytes;
use axum::extract::{Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use base64::Engine as _;
use serde_json::{Value, json};

use super::AppState;
use crate::blend::xapi;
use crate::store::{NewStatement, StatementError, StatementQuery, now_ms};

/// The version this LRS speaks.
pub const VERSION: &str = "1.0.3";
/// The most statements one GET returns.
pub const MAX_LIMIT: u32 = 100;

/// The source a request came from (its name).
#[derive(Debug, Clone)]
pub struct Source(pub String);

fn error(status: StatusCode, message: impl Into<String>) -> Response {
    (status, Json(json!({ "error": message.into() }))).into_response()
}

/// A request refused before anything was kept: 400 with the reason.
#[derive(Debug)]
pub struct BadRequest(String);

impl IntoResponse for BadRequest {
    fn into_response(self) -> Response {
        error(StatusCode::BAD_REQUEST, self.0)
    }
}

fn iso(ms: i64) -> String {
    jiff::Timestamp::from_millisecond(ms).map(|t| t.to_string()).unwrap_or_default()
}

/// Every `/xapi` answer carries `X-Experience-API-Version`; every request but `/xapi/about` must
/// send one (1.0.x) and HTTP Basic credentials of a known source.
pub async fn guard(State(s): State<AppState>, mut req: Request, next: Next) -> Response {
    let mut response = if req.uri().path() == "/xapi/about" {
        next.run(req).await
    } else {
        match check(&s, req.headers()).await {
            Ok(source) => {
                req.extensions_mut().insert(source);
                next.run(req).await
            }
            Err(r) => r,
        }
    };
    response.headers_mut().insert("x-experience-api-version", HeaderValue::from_static(VERSION));
    response
}

async fn check(s: &AppState, headers: &HeaderMap) -> Result<Source, Response> {
    let version = headers.get("x-experience-api-version").and_then(|v| v.to_str().ok());
    if !version.is_some_and(|v| v == "1.0" || v.starts_with("1.0.")) {
        return Err(error(StatusCode::BAD_REQUEST, "send X-Experience-API-Version: 1.0.3"));
    }
    let unauthorized = || {
        let mut r = error(StatusCode::UNAUTHORIZED, "HTTP Basic credentials of an xAPI source are needed");
        r.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Basic realm=\"classhub xAPI\""));
        r
    };
    let credentials = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "))
        .and_then(|b64| base64::engine::general_purpose::STANDARD.decode(b64.trim()).ok())
        .and_then(|raw| String::from_utf8(raw).ok());
    let Some((key, secret)) = credentials.as_deref().and_then(|c| c.split_once(':')) else {
        return Err(unauthorized());
    };
    match s.store.xapi_source(key, secret).await {
        Ok(Some(name)) => Ok(Source(name)),
        Ok(None) => Err(unauthorized()),
        Err(e) => {
            tracing::error!("xAPI source lookup: {e}");
            Err(error(StatusCode::INTERNAL_SERVER_ERROR, "internal error"))
        }
    }
}

/// `GET /xapi/about`.
pub async fn about() -> Json<Value> {
    Json(json!({ "version": [VERSION] }))
}

/// The source as the statements' authority.
fn authority(source: &Source) -> Value {
    json!({ "objectType": "Agent", "account": { "homePage": "urn:classhub:source", "name": source.0 } })
}

/// Validates and completes each statement; a duplicate id inside one batch is refused.
fn prepare(list: Vec<Value>, source: &Source, stored_ms: i64) -> Result<Vec<NewStatement>, BadRequest> {
    let stored = iso(stored_ms);
    let mut seen = std::collections::HashSet::new();
    let mut out = Vec::with_capacity(list.len());
    for (i, mut statement) in list.into_iter().enumerate() {
        if let Err(e) = xapi::validate(&statement) {
            return Err(BadRequest(format!("statement {i}: {e}")));
        }
        let id = xapi::complete(&mut statement, &stored, &authority(source));
        if !seen.insert(id.clone()) {
            return Err(BadRequest(format!("statement {i}: id {id} appears twice in the batch")));
        }
        out.push(NewStatement { id, json: statement });
    }
    Ok(out)
}

async fn keep(s: &AppState, source: &Source, batch: &[NewStatement], stored_ms: i64) -> Result<Vec<String>, Response> {
    s.store.keep_statements(&source.0, batch, stored_ms).await.map_err(|e| match e {
        StatementError::Conflict(_) => error(StatusCode::CONFLICT, e.to_string()),
        StatementError::VoidsAVoid(_) => error(StatusCode::BAD_REQUEST, e.to_string()),
        StatementError::Store(e) => {
            tracing::error!("keeping statements: {e}");
            error(StatusCode::INTERNAL_SERVER_ERROR, "internal error")
        }
    })
}

fn parse_body(body: &Bytes) -> Result<Value, BadRequest> {
    serde_json::from_slice(body).map_err(|e| BadRequest(format!("not JSON: {e}")))
}

/// `POST /xapi/statements`: one statement or an array; all are kept or none. 200 with the ids.
pub async fn post(State(s): State<AppState>, Extension(source): Extension<Source>, body: Bytes) -> Response {
    let list = match parse_body(&body) {
        Ok(Value::Array(list)) if !list.is_empty() => list,
        Ok(Value::Array(_)) => return error(StatusCode::BAD_REQUEST, "an empty batch"),
        Ok(one @ Value::Object(_)) => vec![one],
        Ok(_) => return error(StatusCode::BAD_REQUEST, "a statement or an array of statements"),
        Err(r) => return r.into_response(),
    };
    let stored_ms = now_ms();
    let batch = match prepare(list, &source, stored_ms) {
        Ok(b) => b,
        Err(r) => return r.into_response(),
    };
    match keep(&s, &source, &batch, stored_ms).await {
        Ok(ids) => Json(ids).into_response(),
        Err(r) => r,
    }
}

/// `PUT /xapi/statements?statementId=ID`: one statement under that id. 204.
pub async fn put(
    State(s): State<AppState>,
    Extension(source): Extension<Source>,
    Query(params): Query<HashMap<String, String>>,
    body: Bytes,
) -> Response {
    let Some(id) = params.get("statementId").filter(|id| xapi::is_uuid(id)) else {
        return error(StatusCode::BAD_REQUEST, "PUT needs statementId, a UUID");
    };
    let mut statement = match parse_body(&body) {
        Ok(v @ Value::Object(_)) => v,
        Ok(_) => return error(StatusCode::BAD_REQUEST, "PUT takes one statement"),
        Err(r) => return r.into_response(),
    };
    match statement.get("id").and_then(Value::as_str) {
        Some(inner) if inner != id => return error(StatusCode::BAD_REQUEST, "the statement's id is not statementId"),
        Some(_) => {}
        None => statement["id"] = Value::String(id.clone()),
    }
    let stored_ms = now_ms();
    let batch = match prepare(vec![statement], &source, stored_ms) {
        Ok(b) => b,
        Err(r) => return r.into_response(),
    };
    match keep(&s, &source, &batch, stored_ms).await {
        Ok(_) => StatusCode::NO_CONTENT.into_response(),
        Err(r) => r,
    }
}

/// `GET /xapi/statements`: by `statementId`, by `voidedStatementId`, or by query.
pub async fn get(State(s): State<AppState>, headers: HeaderMap, Query(p): Query<HashMap<String, String>>) -> Response {
    let consistent = iso(now_ms());
    // `canonical` keeps the language the client asks for (its first Accept-Language), else the first.
    let lang = headers
        .get(header::ACCEPT_LANGUAGE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(',').next())
        .map(|l| l.split(';').next().unwrap_or("").trim().to_owned())
        .unwrap_or_default();
    let mut response = get_inner(&s, &p, &lang).await;
    if let Ok(v) = HeaderValue::from_str(&consistent) {
        response.headers_mut().insert("x-experience-api-consistent-through", v);
    }
    response
}

const QUERY_PARAMS: [&str; 12] = [
    "agent",
    "verb",
    "activity",
    "registration",
    "since",
    "until",
    "limit",
    "ascending",
    "format",
    "cursor",
    "related_activities",
    "related_agents",
];

async fn get_inner(s: &AppState, p: &HashMap<String, String>, lang: &str) -> Response {
    let internal = |e: crate::store::StoreError| {
        tracing::error!("reading statements: {e}");
        error(StatusCode::INTERNAL_SERVER_ERROR, "internal error")
    };
    for (param, voided) in [("statementId", false), ("voidedStatementId", true)] {
        if let Some(id) = p.get(param) {
            if p.keys().any(|k| k != param && k != "format" && k != "attachments") {
                return error(StatusCode::BAD_REQUEST, format!("{param} cannot be combined with other filters"));
            }
            let format = match p.get("format").map(String::as_str) {
                Some("ids") => xapi::Format::Ids,
                Some("canonical") => xapi::Format::Canonical,
                _ => xapi::Format::Exact,
            };
            return match s.store.statement(id, voided).await {
                Ok(Some(mut v)) => {
                    xapi::format(&mut v, format, lang);
                    Json(v).into_response()
                }
                Ok(None) => error(StatusCode::NOT_FOUND, format!("no statement {id}")),
                Err(e) => internal(e),
            };
        }
    }
    if let Some(k) = p.keys().find(|k| !QUERY_PARAMS.contains(&k.as_str()) && *k != "attachments") {
        return error(StatusCode::BAD_REQUEST, format!("unknown parameter {k:?}"));
    }
    let mut q = StatementQuery { limit: MAX_LIMIT, ..StatementQuery::default() };
    if let Some(agent) = p.get("agent") {
        let v: Value = match serde_json::from_str(agent) {
            Ok(v) => v,
            Err(_) => return error(StatusCode::BAD_REQUEST, "agent: an Agent as JSON"),
        };
        match xapi::agent_key(&v) {
            Some(key) => q.agent = Some(key),
            None => return error(StatusCode::BAD_REQUEST, "agent: needs one identifier"),
        }
    }
    for (name, slot) in [("verb", &mut q.verb), ("activity", &mut q.activity)] {
        if let Some(v) = p.get(name) {
            if !xapi::is_iri(v) {
                return error(StatusCode::BAD_REQUEST, format!("{name}: not an IRI"));
            }
            *slot = Some(v.clone());
        }
    }
    if let Some(r) = p.get("registration") {
        if !xapi::is_uuid(r) {
            return error(StatusCode::BAD_REQUEST, "registration: not a UUID");
        }
        q.registration = Some(r.clone());
    }
    for (name, slot) in [("since", &mut q.since_ms), ("until", &mut q.until_ms)] {
        if let Some(v) = p.get(name) {
            match xapi::parse_timestamp(v) {
                Some(ms) => *slot = Some(ms),
                None => return error(StatusCode::BAD_REQUEST, format!("{name}: not an ISO 8601 timestamp")),
            }
        }
    }
    if let Some(l) = p.get("limit") {
        match l.parse::<u32>() {
            Ok(0) => q.limit = MAX_LIMIT,
            Ok(n) => q.limit = n.min(MAX_LIMIT),
            Err(_) => return error(StatusCode::BAD_REQUEST, "limit: a whole number"),
        }
    }
    q.ascending = match p.get("ascending").map(String::as_str) {
        None | Some("false") => false,
        Some("true") => true,
        Some(_) => return error(StatusCode::BAD_REQUEST, "ascending: true or false"),
    };
    let format = match p.get("format").map(String::as_str) {
        None | Some("exact") => xapi::Format::Exact,
        Some("ids") => xapi::Format::Ids,
        Some("canonical") => xapi::Format::Canonical,
        Some(_) => return error(StatusCode::BAD_REQUEST, "format: exact, ids or canonical"),
    };
    for (name, slot) in [("related_activities", &mut q.related_activities), ("related_agents", &mut q.related_agents)] {
        *slot = match p.get(name).map(String::as_str) {
            None | Some("false") => false,
            Some("true") => true,
            Some(_) => return error(StatusCode::BAD_REQUEST, format!("{name}: true or false")),
        };
    }
    if let Some(c) = p.get("cursor") {
        match c.parse::<i64>() {
            Ok(after) => q.after = Some(after),
            Err(_) => return error(StatusCode::BAD_REQUEST, "cursor: from a more link"),
        }
    }
    match s.store.statements(&q).await {
        Ok((mut statements, after)) => {
            for st in &mut statements {
                xapi::format(st, format, lang);
            }
            let more = after.map_or(String::new(), |after| {
                let mut params: Vec<(String, String)> =
                    p.iter().filter(|(k, _)| *k != "cursor").map(|(k, v)| (k.clone(), v.clone())).collect();
                params.sort();
                params.push(("cursor".into(), after.to_string()));
                let query: Vec<String> = params.iter().map(|(k, v)| format!("{k}={}", encode(v))).collect();
                format!("/xapi/statements?{}", query.join("&"))
            });
            Json(json!({ "statements": statements, "more": more })).into_response()
        }
        Err(e) => internal(e),
    }
}
