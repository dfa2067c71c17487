//! The teacher's review list of online identities: matching runs over every identity seen online;
//! what it cannot settle, and no teacher has decided yet, is listed to decide.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Redirect};
use axum::{Extension, Form};
use dashboard::views::review::{self as view, ReviewRow};
use serde::Deserialize;

use super::AppState;
use super::pages::{Page, PageError};
use super::session::{chrome, lang};
use crate::auth::User;
use crate::blend::matching::{Index, Match};
use crate::store::{email_hash, now_ms};

fn internal(e: impl std::fmt::Display) -> PageError {
    PageError::Internal(e.to_string())
}

/// How an identity reads on the page: the person's name as the LMS gave it.
fn shown(identity: &str) -> String {
    let rest = identity.split_once(':').map_or(identity, |(_, r)| r);
    rest.rsplit_once('|').map_or(rest, |(_, name)| name).to_owned()
}

/// `GET /online/review`.
pub async fn review(State(s): State<AppState>, Extension(user): Extension<User>, headers: HeaderMap) -> Page {
    let students = s.store.roster_students().await.map_err(internal)?;
    let names: Vec<(String, String)> =
        students.iter().map(|st| (st.id.clone(), format!("{} {}", st.given, st.family))).collect();
    let name_of = |id: &str| names.iter().find(|(i, _)| i == id).map_or_else(|| id.to_owned(), |(_, n)| n.clone());
    let index = Index::new(&students);
    let secret = s.store.school_secret("email").await.map_err(internal)?;
    let decided = s.store.identity_links().await.map_err(internal)?;
    let mut rows = Vec::new();
    let mut matched = 0;
    for (identity, activities) in s.store.all_online_identities().await.map_err(internal)? {
        if decided.contains_key(&identity) {
            continue;
        }
        match index.find(&identity, |address| email_hash(&secret, address)) {
            Match::Student(_) => matched += 1,
            Match::Unmatched => {
                rows.push(ReviewRow { shown: shown(&identity), identity, activities, candidates: vec![] })
            }
            Match::Ambiguous(ids) => rows.push(ReviewRow {
                shown: shown(&identity),
                identity,
                activities,
                candidates: ids.iter().map(|id| (id.clone(), name_of(id))).collect(),
            }),
        }
    }
    let chrome = chrome(lang(&headers), Some(&user), "/online/review");
    Ok(Html(view::review(&chrome, &rows, &names, matched).into_string()).into_response())
}

/// The decision form.
#[derive(Debug, Deserialize)]
pub struct Decision {
    identity: String,
    #[serde(default)]
    student: String,
}

/// `POST /online/review`: this identity is that student (empty: not a student).
pub async fn decide(State(s): State<AppState>, Extension(user): Extension<User>, Form(d): Form<Decision>) -> Page {
    let student = Some(d.student.trim()).filter(|st| !st.is_empty());
    if let Some(id) = student {
        let known = s.store.roster_students().await.map_err(internal)?.iter().any(|st| st.id == id);
        if !known {
            return Ok((StatusCode::BAD_REQUEST, "no such student in the roster").into_response());
        }
    }
    if d.identity.trim().is_empty() {
        return Ok((StatusCode::BAD_REQUEST, "which identity?").into_response());
    }
    s.store.link_identity(d.identity.trim(), student, user.name.as_str(), now_ms()).await.map_err(internal)?;
    Ok(Redirect::to("/online/review").into_response())
}
