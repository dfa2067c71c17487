//! The technician's firmware page: upload a signed image for a room, and follow each room's latest
//! rollout (the engine does the sending; this page starts rollouts in the store and reads them).

use axum::Extension;
use axum::extract::{Multipart, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Redirect};
use dashboard::views::firmware::{self as view, RolloutPanel, TargetRow};
use firmware::protocol::RoomCode;
use firmware::protocol::update::chunks;

use super::AppState;
use super::pages::{Page, internal};
use super::session::{chrome, lang};
use crate::auth::User;
use crate::fleet::rollout::Plan;
use crate::store::{StoreError, now_ms};

/// The largest image the page takes (a clicker's slot is far smaller).
pub const IMAGE_MAX: usize = 8 * 1024 * 1024;

async fn page(
    s: &AppState,
    user: &User,
    headers: &HeaderMap,
    error: Option<&str>,
) -> Result<String, super::pages::PageError> {
    let mut panels = Vec::new();
    for row in s.store.latest_rollouts().await.map_err(internal)? {
        let Some((row, devices)) = s.store.rollout(row.id).await.map_err(internal)? else { continue };
        let size = s.store.firmware_image(row.image_id).await.map_err(internal)?.map_or(1, |i| i.len() as u32);
        let total = chunks(size).max(1);
        panels.push(RolloutPanel {
            room: row.room.to_string(),
            version: row.version,
            phase: row.phase,
            stage: row.stage,
            detail: row.detail,
            targets: devices
                .into_iter()
                .map(|d| TargetRow {
                    percent: if d.step == "done" {
                        100
                    } else {
                        (u64::from(d.next) * 100 / u64::from(total)).min(100) as u8
                    },
                    device: d.device,
                    stage: d.stage,
                    step: d.step,
                    error: d.error,
                })
                .collect(),
        });
    }
    Ok(view::firmware(&chrome(lang(headers), Some(user), "/firmware"), &panels, error).into_string())
}

/// `GET /firmware`.
pub async fn show(State(s): State<AppState>, Extension(user): Extension<User>, headers: HeaderMap) -> Page {
    Ok(Html(page(&s, &user, &headers, None).await?).into_response())
}

/// `POST /firmware`: stores the uploaded image and starts its rollout to the room.
pub async fn upload(
    State(s): State<AppState>,
    Extension(user): Extension<User>,
    headers: HeaderMap,
    mut form: Multipart,
) -> Page {
    let (mut image, mut room, mut first, mut max) = (None, String::new(), String::new(), String::new());
    loop {
        match form.next_field().await {
            Ok(Some(field)) => {
                let name = field.name().unwrap_or_default().to_owned();
                let Ok(bytes) = field.bytes().await else { break };
                let text = || String::from_utf8_lossy(&bytes).trim().to_owned();
                match name.as_str() {
                    "image" => image = Some(bytes.to_vec()),
                    "room" => room = text(),
                    "first" => first = text(),
                    "max_failures" => max = text(),
                    _ => {}
                }
            }
            Ok(None) => break,
            Err(e) => {
                let html = page(&s, &user, &headers, Some(&format!("upload: {e}"))).await?;
                return Ok((StatusCode::BAD_REQUEST, Html(html)).into_response());
            }
        }
    }
    let plan = || -> Result<(RoomCode, Plan), String> {
        let room = RoomCode::parse(&room).map_err(|e| format!("{room:?}: {e}"))?;
        let first_stage =
            if first.is_empty() { 2 } else { first.parse().map_err(|_| format!("{first:?}: not a number"))? };
        let max_failure_pct = if max.is_empty() {
            20
        } else {
            max.parse().ok().filter(|m| *m <= 100).ok_or(format!("{max:?}: 0 to 100"))?
        };
        Ok((room, Plan { first_stage, max_failure_pct }))
    };
    let started = match (plan(), image) {
        (Err(e), _) => Err(e),
        (_, None) => Err("no image".to_owned()),
        (Ok((room, plan)), Some(bytes)) => match s.store.add_firmware_image(&bytes, user.name.as_str(), now_ms()).await
        {
            Ok((id, _)) => s
                .store
                .start_rollout(&room, id, plan, now_ms(), user.name.as_str())
                .await
                .map_err(internal)
                .map(|_| ())
                .map_err(|_| "could not start the rollout".to_owned()),
            Err(StoreError::BadImage(why)) => Err(why),
            Err(e) => return Err(internal(e)),
        },
    };
    match started {
        Ok(()) => Ok(Redirect::to("/firmware").into_response()),
        Err(message) => {
            let html = page(&s, &user, &headers, Some(&message)).await?;
            Ok((StatusCode::BAD_REQUEST, Html(html)).into_response())
        }
    }
}
