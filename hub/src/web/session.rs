//! Logins on the web: the login and logout pages, the cookie, the guard that keeps each area to its
//! roles, the same-origin rule for anything that changes state, and the language choice.

use dashboard::url::encode as urlencode;
use std::time::{Duration, Instant};

use axum::extract::{Path, Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::{Form, Json};
use dashboard::Lang;
use dashboard::views::{self, Chrome, Link};
use serde::Deserialize;
use serde_json::json;

use super::AppState;
use crate::auth::{Area, LoginToken, Role, User, Username, verify_password};
use crate::store::now_ms;

/// The login cookie's name.
pub const LOGIN_COOKIE: &str = "classhub_login";
/// The language cookie's name.
pub const LANG_COOKIE: &str = "classhub_lang";

/// A cookie's value from the request's `Cookie` headers.
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|pair| pair.trim().strip_prefix(name)?.strip_prefix('='))
}

/// The page language: the switch's cookie, else the browser's Accept-Language.
pub fn lang(headers: &HeaderMap) -> Lang {
    cookie(headers, LANG_COOKIE).and_then(Lang::parse).unwrap_or_else(|| {
        Lang::from_accept_language(headers.get(header::ACCEPT_LANGUAGE).and_then(|v| v.to_str().ok()).unwrap_or(""))
    })
}

/// The logged-in user, if the cookie names a login that has not expired.
pub async fn current_user(s: &AppState, headers: &HeaderMap) -> Option<User> {
    let token = LoginToken::from_cookie(cookie(headers, LOGIN_COOKIE)?)?;
    match s.store.login(&token, now_ms()).await {
        Ok(user) => user,
        Err(e) => {
            tracing::error!("reading a login: {e}");
            None
        }
    }
}

/// The page frame for `user` at `path`: the navigation their role allows.
pub fn chrome(lang: Lang, user: Option<&User>, path: &str) -> Chrome {
    let mut links = Vec::new();
    if let Some(u) = user {
        if u.role.reaches(Area::Teaching) {
            links.push(Link { href: "/rooms".into(), label: lang.rooms() });
            links.push(Link { href: "/sessions".into(), label: lang.sessions() });
            links.push(Link { href: "/engagement".into(), label: lang.engagement() });
            links.push(Link { href: "/online/review".into(), label: lang.online_review() });
        }
        if u.role.reaches(Area::Devices) {
            links.push(Link { href: "/devices".into(), label: lang.devices() });
            links.push(Link { href: "/firmware".into(), label: lang.firmware_updates() });
        }
        if u.role.reaches(Area::Admin) {
            links.push(Link { href: "/admin/users".into(), label: lang.accounts() });
            links.push(Link { href: "/admin/roster".into(), label: lang.roster() });
        }
    }
    Chrome { lang, user: user.map(|u| u.name.to_string()), links, path: safe_path(path).to_owned() }
}

/// A local path to come back to; anything else (another site, `//host`) becomes `/`.
pub fn safe_path(path: &str) -> &str {
    if path.starts_with('/') && !path.starts_with("//") && !path.contains('\\') { path } else { "/" }
}

fn wants_json(req: &Request) -> bool {
    let path = req.uri().path();
    path.starts_with("/api/") || path == "/metrics"
}

/// Keeps an area to the roles that reach it: no login → the login page (JSON: 401); the wrong role
/// → 403. The user is put in the request's extensions for the handler.
async fn guard(area: Area, s: AppState, mut req: Request, next: Next) -> Response {
    let lang = lang(req.headers());
    let Some(user) = current_user(&s, req.headers()).await else {
        if wants_json(&req) {
            return (StatusCode::UNAUTHORIZED, Json(json!({ "error": "log in first" }))).into_response();
        }
        let next_path = req.uri().path_and_query().map_or("/", |p| p.as_str()).to_owned();
        return Redirect::to(&format!("/login?next={}", urlencode(&next_path))).into_response();
    };
    if !user.role.reaches(area) {
        if wants_json(&req) {
            return (StatusCode::FORBIDDEN, Json(json!({ "error": "not for your role" }))).into_response();
        }
        let page = views::message(&chrome(lang, Some(&user), req.uri().path()), lang.forbidden(), lang.forbidden());
        return (StatusCode::FORBIDDEN, Html(page.into_string())).into_response();
    }
    req.extensions_mut().insert(user);
    next.run(req).await
}

/// The guard for lessons (teacher, admin).
pub async fn teaching(State(s): State<AppState>, req: Request, next: Next) -> Response {
    guard(Area::Teaching, s, req, next).await
}

/// The guard for devices (technician, admin).
pub async fn devices(State(s): State<AppState>, req: Request, next: Next) -> Response {
    guard(Area::Devices, s, req, next).await
}

/// The guard for accounts (admin).
pub async fn admin(State(s): State<AppState>, req: Request, next: Next) -> Response {
    guard(Area::Admin, s, req, next).await
}

/// Refuses state-changing requests from another site: a cross-site `Sec-Fetch-Site`, or an `Origin`
/// whose host is not the one asked. (The cookie is also SameSite=Strict; this is the second lock.)
pub async fn same_origin(req: Request, next: Next) -> Response {
    if matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS) {
        return next.run(req).await;
    }
    let headers = req.headers();
    let cross_site = headers.get("sec-fetch-site").is_some_and(|v| v.as_bytes() == b"cross-site");
    let host = headers.get(header::HOST).and_then(|v| v.to_str().ok());
    let origin_host = headers
        .get(header::ORIGIN)
        .and_then(|v| v.to_str().ok())
        .map(|o| o.split_once("://").map_or(o, |(_, rest)| rest).trim_end_matches('/'));
    let foreign_origin =
        matches!((origin_host, host), (Some(o), Some(h)) if o != h) || matches!((origin_host, host), (Some(_), None));
    if cross_site || foreign_origin {
        tracing::warn!("refused a cross-site {} {}", req.method(), req.uri().path());
        return (StatusCode::FORBIDDEN, "cross-site request refused").into_response();
    }
    next.run(req).await
}

/// `?next=` on the login page.
#[derive(Debug, Deserialize)]
pub struct NextPath {
    next: Option<String>,
}

/// `GET /login`.
pub async fn login_page(headers: HeaderMap, Query(q): Query<NextPath>) -> Html<String> {
    let lang = lang(&headers);
    let next = q.next.as_deref().map_or("/", safe_path);
    Html(views::login::login(&chrome(lang, None, "/login"), None, next).into_string())
}

/// The login form.
#[derive(Debug, Deserialize)]
pub struct LoginForm {
    username: String,
    password: String,
    next: Option<String>,
}

/// `POST /login`: checks the password (slowly after repeated failures), sets the cookie.
pub async fn login(State(s): State<AppState>, headers: HeaderMap, Form(form): Form<LoginForm>) -> Response {
    let lang = lang(&headers);
    let next = form.next.as_deref().map_or("/", safe_path).to_owned();
    let refuse = |status: StatusCode, message: &str| {
        let page = views::login::login(&chrome(lang, None, "/login"), Some(message), &next).into_string();
        (status, Html(page)).into_response()
    };
    let Ok(name) = Username::parse(&form.username) else {
        return refuse(StatusCode::UNAUTHORIZED, lang.wrong_login());
    };
    // Cannot fail unless a holder of the lock panicked; it is held for a map lookup.
    if let Some(wait) = s.throttle.lock().expect("throttle lock").wait(name.as_str(), Instant::now()) {
        let mut response = refuse(StatusCode::TOO_MANY_REQUESTS, lang.too_many_tries());
        response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(wait.as_secs().max(1)));
        return response;
    }
    let found = match s.store.user_by_name(&name).await {
        Ok(found) => found,
        Err(e) => {
            tracing::error!("login lookup: {e}");
            return (StatusCode::INTERNAL_SERVER_ERROR, "internal error").into_response();
        }
    };
    // Hash even for an unknown name, so the answer takes as long either way.
    let (user, hash) = match found {
        Some((user, hash)) => (Some(user), hash),
        None => (None, crate::auth::dummy_hash().to_owned()),
    };
    let password = form.password;
    let ok = tokio::task::spawn_blocking(move || verify_password(&password, &hash)).await.unwrap_or(false);
    let Some(user) = user.filter(|_| ok) else {
        s.throttle.lock().expect("throttle lock").failed(name.as_str(), Instant::now());
        tracing::info!("wrong password for {name}");
        return refuse(StatusCode::UNAUTHORIZED, lang.wrong_login());
    };
    s.throttle.lock().expect("throttle lock").succeeded(name.as_str());
    let token = LoginToken::generate();
    let now = now_ms();
    if let Err(e) = s.store.add_login(&token, user.id, now, now + s.login_ttl.as_millis() as i64).await {
        tracing::error!("storing a login: {e}");
        return (StatusCode::INTERNAL_SERVER_ERROR, "internal error").into_response();
    }
    let target = if next == "/" { user.role.home().to_owned() } else { next };
    let mut response = Redirect::to(&target).into_response();
    response.headers_mut().insert(header::SET_COOKIE, login_cookie(token.as_str(), s.login_ttl));
    response
}

fn login_cookie(value: &str, ttl: Duration) -> HeaderValue {
    let cookie = format!("{LOGIN_COOKIE}={value}; Path=/; HttpOnly; SameSite=Strict; Max-Age={}", ttl.as_secs());
    // Cannot fail: the token is hex and the rest is ASCII.
    HeaderValue::from_str(&cookie).expect("cookie is ASCII")
}

/// `POST /logout`: ends the login and clears the cookie.
pub async fn logout(State(s): State<AppState>, headers: HeaderMap) -> Response {
    if let Some(token) = cookie(&headers, LOGIN_COOKIE).and_then(LoginToken::from_cookie)
        && let Err(e) = s.store.end_login(&token, now_ms()).await
    {
        tracing::error!("ending a login: {e}");
    }
    let mut response = Redirect::to("/login").into_response();
    response.headers_mut().insert(header::SET_COOKIE, login_cookie("", Duration::ZERO));
    response
}

/// `GET /`: the user's home, or the login page.
pub async fn home(State(s): State<AppState>, headers: HeaderMap) -> Redirect {
    match current_user(&s, &headers).await {
        Some(user) => Redirect::to(user.role.home()),
        None => Redirect::to("/login"),
    }
}

/// `?back=` on the language switch.
#[derive(Debug, Deserialize)]
pub struct Back {
    back: Option<String>,
}

/// `GET /lang/{code}`: remembers the language and goes back.
pub async fn switch_lang(Path(code): Path<String>, Query(q): Query<Back>) -> Response {
    let Some(lang) = Lang::parse(&code) else { return StatusCode::NOT_FOUND.into_response() };
    let mut response = Redirect::to(q.back.as_deref().map_or("/", safe_path)).into_response();
    let cookie = format!("{LANG_COOKIE}={}; Path=/; SameSite=Lax; Max-Age=31536000", lang.code());
    // Cannot fail: the cookie is ASCII.
    response.headers_mut().insert(header::SET_COOKIE, HeaderValue::from_str(&cookie).expect("ASCII"));
    response
}

/// Makes the first account when there is none: `admin` with a fresh password, returned once so the
/// caller can print it. `None` when accounts exist.
pub async fn first_admin(store: &crate::store::Store) -> anyhow::Result<Option<String>> {
    if store.count_users().await? > 0 {
        return Ok(None);
    }
    let password = crate::auth::new_password();
    let hash = {
        let password = password.clone();
        tokio::task::spawn_blocking(move || crate::auth::hash_password(&password)).await??
    };
    // Cannot fail: "admin" is a valid user name.
    let name = Username::parse("admin").expect("valid name");
    store.add_user(&name, Role::Admin, &hash, now_ms()).await?;
    Ok(Some(password))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookies_are_found_among_others() {
        let mut h = HeaderMap::new();
        h.insert(header::COOKIE, HeaderValue::from_static("a=1; classhub_lang=en; classhub_login=abc"));
        assert_eq!(cookie(&h, LOGIN_COOKIE), Some("abc"));
        assert_eq!(cookie(&h, LANG_COOKIE), Some("en"));
        assert_eq!(lang(&h), Lang::En);
        assert_eq!(cookie(&h, "b"), None);
    }

    #[test]
    fn only_local_paths_are_followed() {
        assert_eq!(safe_path("/rooms/3a"), "/rooms/3a");
        assert_eq!(safe_path("//evil.example/x"), "/");
        assert_eq!(safe_path("https://evil.example"), "/");
        assert_eq!(safe_path("/\\evil.example"), "/");
    }
}
