//! The admin's pages: the accounts, and making one (as `classhub user add` does).

use axum::extract::{Multipart, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse};
use axum::{Extension, Form};
use dashboard::views::admin::{self as view, AccountRow, NewAccount, RosterResult};
use serde::Deserialize;

use super::AppState;
use super::pages::{Page, PageError};
use super::session::{chrome, lang};
use crate::auth::{Role, User, Username, hash_password, new_password};
use crate::store::{StoreError, now_ms};

async fn accounts_page(
    s: &AppState,
    user: &User,
    headers: &HeaderMap,
    made: Option<NewAccount>,
    error: Option<&str>,
) -> Result<String, PageError> {
    let users = s.store.users().await.map_err(|e| PageError::Internal(e.to_string()))?;
    let rows: Vec<AccountRow> =
        users.into_iter().map(|u| AccountRow { name: u.name.to_string(), role: u.role.as_str().to_owned() }).collect();
    let chrome = chrome(lang(headers), Some(user), "/admin/users");
    Ok(view::accounts(&chrome, &rows, made.as_ref(), error).into_string())
}

/// `GET /admin/users`.
pub async fn users(State(s): State<AppState>, Extension(user): Extension<User>, headers: HeaderMap) -> Page {
    Ok(Html(accounts_page(&s, &user, &headers, None, None).await?).into_response())
}

/// The add-an-account form.
#[derive(Debug, Deserialize)]
pub struct NewUserForm {
    name: String,
    role: String,
}

/// `POST /admin/users`: makes an account and shows its password once.
pub async fn add_user(
    State(s): State<AppState>,
    Extension(user): Extension<User>,
    headers: HeaderMap,
    Form(f): Form<NewUserForm>,
) -> Page {
    let parsed = Username::parse(&f.name).and_then(|n| Role::parse(&f.role).map(|r| (n, r)));
    let (name, role) = match parsed {
        Ok(ok) => ok,
        Err(e) => {
            let html = accounts_page(&s, &user, &headers, None, Some(&e.to_string())).await?;
            return Ok((StatusCode::BAD_REQUEST, Html(html)).into_response());
        }
    };
    let password = new_password();
    let hash = {
        let password = password.clone();
        tokio::task::spawn_blocking(move || hash_password(&password))
            .await
            .map_err(|e| PageError::Internal(e.to_string()))?
            .map_err(|e| PageError::Internal(e.to_string()))?
    };
    match s.store.add_user(&name, role, &hash, now_ms()).await {
        Ok(_) => {
            let made = NewAccount { name: name.to_string(), password };
            Ok((StatusCode::CREATED, Html(accounts_page(&s, &user, &headers, Some(made), None).await?)).into_response())
        }
        Err(e @ StoreError::UserExists(_)) => {
            let html = accounts_page(&s, &user, &headers, None, Some(&e.to_string())).await?;
            Ok((StatusCode::CONFLICT, Html(html)).into_response())
        }
        Err(e) => Err(PageError::Internal(e.to_string())),
    }
}

fn roster_page(user: &User, headers: &HeaderMap, result: Option<&RosterResult>, error: Option<&str>) -> String {
    view::roster(&chrome(lang(headers), Some(user), "/admin/roster"), result, error).into_string()
}

/// `GET /admin/roster`: the upload form.
pub async fn roster(Extension(user): Extension<User>, headers: HeaderMap) -> Page {
    Ok(Html(roster_page(&user, &headers, None, None)).into_response())
}

/// `POST /admin/roster`: imports an uploaded OneRoster zip, as `classhub roster import` does.
pub async fn upload_roster(
    State(s): State<AppState>,
    Extension(user): Extension<User>,
    headers: HeaderMap,
    mut form: Multipart,
) -> Page {
    let refuse = |message: String| {
        Ok((StatusCode::BAD_REQUEST, Html(roster_page(&user, &headers, None, Some(&message)))).into_response())
    };
    let mut upload = None;
    loop {
        match form.next_field().await {
            Ok(Some(field)) if field.name() == Some("bundle") => {
                let name = field.file_name().unwrap_or("upload.zip").to_owned();
                match field.bytes().await {
                    Ok(bytes) => upload = Some((name, bytes)),
                    Err(e) => return refuse(format!("upload: {e}")),
                }
            }
            Ok(Some(_)) => {}
            Ok(None) => break,
            Err(e) => return refuse(format!("upload: {e}")),
        }
    }
    let Some((name, bytes)) = upload else { return refuse("no file".into()) };
    let files = match crate::blend::import::read_zip(&name, std::io::Cursor::new(bytes)) {
        Ok(files) => files,
        Err(e) => return refuse(e.to_string()),
    };
    let internal = |e: crate::store::StoreError| PageError::Internal(e.to_string());
    let roster = crate::blend::roster::read(&files, &s.store.roster_known().await.map_err(internal)?);
    let counts = s.store.apply_roster(&roster, || {}).await.map_err(internal)?;
    let result = RosterResult {
        added: counts.added,
        updated: counts.updated,
        removed: counts.removed,
        unchanged: counts.unchanged,
        refused: roster.errors.iter().map(ToString::to_string).collect(),
    };
    Ok(Html(roster_page(&user, &headers, Some(&result), None)).into_response())
}
