//! The admin's pages: the accounts, and making one (as `classhub user add` does).

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse};
use axum::{Extension, Form};
use dashboard::views::admin::{self as view, AccountRow, NewAccount};
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
