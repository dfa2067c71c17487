//! The attendance pages: a session's list with overrides and its summary, the list of sessions, a
//! student's history, and the CSV export per class and date range. Times are shown in the hub's
//! time zone (`[classroom] timezone`).

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect};
use axum::{Extension, Form};
use dashboard::views::attendance::{
    self as view, AttendanceRow, CsvRow, HistoryRow, Mark as ViewMark, OverrideRow, SessionListRow, SessionPage,
};
use jiff::Timestamp;
use jiff::tz::TimeZone;
use serde::Deserialize;
use sha2::{Digest, Sha256};

use super::AppState;
use super::pages::{Page, PageError};
use super::session::{chrome, lang};
use crate::auth::User;
use crate::classroom::attendance::{Attendance, Mark};
use crate::classroom::summary::summarize;
use crate::store::{SessionRow, now_ms};

/// How many sessions the lists and a student's history look back over.
const LOOK_BACK: usize = 500;

fn internal(e: impl std::fmt::Display) -> PageError {
    PageError::Internal(e.to_string())
}

/// `ms` in the hub's time zone with a strftime `pattern`.
pub fn local(tz: &TimeZone, ms: i64, pattern: &str) -> String {
    Timestamp::from_millisecond(ms)
        .map(|t| t.to_zoned_datetime(tz.clone()).strftime(pattern).to_string())
        .unwrap_or_default()
}

/// The start of the day `date` (`YYYY-MM-DD`) in the hub's time zone, in ms since the epoch.
pub fn day_start(tz: &TimeZone, date: &str) -> Option<i64> {
    let day: jiff::civil::Date = date.trim().parse().ok()?;
    Some(day.to_zoned_datetime(tz.clone()).ok()?.timestamp().as_millisecond())
}

/// A student's key in links: the start of SHA-256 of their name, so no name is in a URL.
pub fn student_key(student: &str) -> String {
    crate::hex(&Sha256::digest(student.as_bytes())[..8])
}

fn view_mark(m: Mark) -> ViewMark {
    match m {
        Mark::Present => ViewMark::Present,
        Mark::Late => ViewMark::Late,
        Mark::Absent => ViewMark::Absent,
        Mark::Excused => ViewMark::Excused,
    }
}

fn row(tz: &TimeZone, a: &Attendance) -> AttendanceRow {
    AttendanceRow {
        student: a.student.clone(),
        history_href: format!("/attendance/student?k={}", student_key(&a.student)),
        first_seen: a.first_seen_ms.map(|ms| local(tz, ms, "%H:%M")),
        earned: a.earned.map(view_mark),
        by_clicker: a.via.clicker,
        by_card: a.via.card,
        mark: a.mark().map(view_mark),
        overrides: a
            .overrides
            .iter()
            .map(|o| OverrideRow {
                mark: view_mark(o.mark),
                by: o.by.clone(),
                at: local(tz, o.at_ms, "%Y-%m-%d %H:%M"),
            })
            .collect(),
    }
}

async fn session_or_404(s: &AppState, id: i64, headers: &HeaderMap) -> Result<SessionRow, PageError> {
    s.store.session(id).await.map_err(internal)?.ok_or(PageError::NotFound(lang(headers)))
}

/// `GET /sessions`: recent sessions, newest first, and the export form.
pub async fn sessions(State(s): State<AppState>, Extension(user): Extension<User>, headers: HeaderMap) -> Page {
    let all = s.store.sessions_between(None, 0, i64::MAX).await.map_err(internal)?;
    let rows: Vec<SessionListRow> = all
        .iter()
        .rev()
        .take(LOOK_BACK)
        .map(|r| SessionListRow {
            id: r.id,
            started: local(&s.tz, r.window.started_ms, "%Y-%m-%d %H:%M"),
            class_name: r.class_name.clone(),
            room: r.room.clone(),
            ended: r.window.ended_ms.is_some(),
        })
        .collect();
    Ok(Html(view::sessions(&chrome(lang(&headers), Some(&user), "/sessions"), &rows).into_string()).into_response())
}

/// `GET /sessions/{id}`: the session's attendance with overrides, and its summary.
pub async fn session(
    State(s): State<AppState>,
    Extension(user): Extension<User>,
    headers: HeaderMap,
    Path(id): Path<i64>,
) -> Page {
    let session = session_or_404(&s, id, &headers).await?;
    let attendance = s.store.attendance(&session).await.map_err(internal)?;
    let (questions, answers) = s.store.session_answers(id).await.map_err(internal)?;
    let students: Vec<String> = attendance.iter().map(|a| a.student.clone()).collect();
    let sum = summarize(questions, &students, &answers);
    let page = SessionPage {
        id,
        room: session.room.clone(),
        class_name: session.class_name.clone(),
        started: local(&s.tz, session.window.started_ms, "%Y-%m-%d %H:%M"),
        ended: session.window.ended_ms.is_some(),
        rows: attendance.iter().map(|a| row(&s.tz, a)).collect(),
        summary: view::Summary {
            questions: sum.questions,
            response_rate_pct: sum.response_rate_pct,
            correct_rate_pct: sum.correct_rate_pct,
            never_answered: sum.never_answered,
        },
    };
    let chrome = chrome(lang(&headers), Some(&user), &format!("/sessions/{id}"));
    Ok(Html(view::session(&chrome, &page).into_string()).into_response())
}

/// The override form.
#[derive(Debug, Deserialize)]
pub struct OverrideForm {
    student: String,
    mark: String,
}

/// `POST /sessions/{id}/attendance`: a teacher sets a student's mark; kept with who and when.
pub async fn set_mark(
    State(s): State<AppState>,
    Extension(user): Extension<User>,
    headers: HeaderMap,
    Path(id): Path<i64>,
    Form(f): Form<OverrideForm>,
) -> Page {
    session_or_404(&s, id, &headers).await?;
    let student = f.student.trim();
    let Some(mark) = Mark::parse(&f.mark) else {
        return Ok((StatusCode::BAD_REQUEST, "mark: present, late, absent or excused").into_response());
    };
    if student.is_empty() || student.chars().count() > 64 {
        return Ok((StatusCode::BAD_REQUEST, "student: 1 to 64 characters").into_response());
    }
    s.store.override_attendance(id, student, mark, user.name.as_str(), now_ms()).await.map_err(internal)?;
    Ok(Redirect::to(&format!("/sessions/{id}")).into_response())
}

/// `?k=` on a student's history.
#[derive(Debug, Deserialize)]
pub struct StudentKey {
    k: String,
}

/// `GET /attendance/student?k=KEY`: one student's attendance over the sessions.
pub async fn student(
    State(s): State<AppState>,
    Extension(user): Extension<User>,
    headers: HeaderMap,
    Query(q): Query<StudentKey>,
) -> Page {
    let all = s.store.sessions_between(None, 0, i64::MAX).await.map_err(internal)?;
    let mut name = None;
    let mut rows = Vec::new();
    for session in all.iter().rev().take(LOOK_BACK) {
        let attendance = s.store.attendance(session).await.map_err(internal)?;
        if let Some(a) = attendance.into_iter().find(|a| student_key(&a.student) == q.k) {
            rows.push(HistoryRow {
                href: format!("/sessions/{}", session.id),
                started: local(&s.tz, session.window.started_ms, "%Y-%m-%d %H:%M"),
                class_name: session.class_name.clone(),
                mark: a.mark().map(view_mark),
                overridden: !a.overrides.is_empty(),
            });
            name.get_or_insert(a.student);
        }
    }
    let Some(name) = name else { return Err(PageError::NotFound(lang(&headers))) };
    let chrome = chrome(lang(&headers), Some(&user), "/sessions");
    Ok(Html(view::history(&chrome, &name, &rows).into_string()).into_response())
}

/// `?class=&from=&to=` on the export (dates `YYYY-MM-DD`, both included).
#[derive(Debug, Deserialize)]
pub struct ExportQuery {
    class: String,
    from: String,
    to: String,
}

/// The CSV lines for `sessions`.
pub async fn csv_rows(s: &AppState, sessions: &[SessionRow]) -> Result<Vec<CsvRow>, PageError> {
    let mut rows = Vec::new();
    for session in sessions {
        for a in s.store.attendance(session).await.map_err(internal)? {
            let last = a.overrides.last();
            rows.push(CsvRow {
                date: local(&s.tz, session.window.started_ms, "%Y-%m-%d"),
                session: session.id,
                class_name: session.class_name.clone(),
                room: session.room.clone(),
                mark: a.mark().map(view_mark),
                first_seen: a.first_seen_ms.map(|ms| local(&s.tz, ms, "%H:%M")),
                changed_by: last.map(|o| o.by.clone()),
                changed_at: last.map(|o| local(&s.tz, o.at_ms, "%Y-%m-%d %H:%M")),
                student: a.student,
            });
        }
    }
    Ok(rows)
}

/// `GET /attendance.csv?class=3A&from=2026-11-01&to=2026-11-30`: the export.
pub async fn export(State(s): State<AppState>, Query(q): Query<ExportQuery>) -> Page {
    let (Some(from), Some(to)) = (day_start(&s.tz, &q.from), day_start(&s.tz, &q.to)) else {
        return Ok((StatusCode::BAD_REQUEST, "from and to: dates as YYYY-MM-DD").into_response());
    };
    let to_end = day_start(&s.tz, &next_day(&q.to)).unwrap_or(to + 86_400_000);
    if to_end <= from {
        return Ok((StatusCode::BAD_REQUEST, "to is before from").into_response());
    }
    let class = q.class.trim();
    let sessions = s.store.sessions_between(Some(class), from, to_end).await.map_err(internal)?;
    let body = view::csv(&csv_rows(&s, &sessions).await?);
    let safe: String = class.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' { c } else { '_' }).collect();
    let disposition = format!("attachment; filename=\"attendance-{safe}-{}-{}.csv\"", q.from.trim(), q.to.trim());
    let mut response = ([(header::CONTENT_TYPE, "text/csv; charset=utf-8")], body).into_response();
    if let Ok(v) = HeaderValue::from_str(&disposition) {
        response.headers_mut().insert(header::CONTENT_DISPOSITION, v);
    }
    Ok(response)
}

fn next_day(date: &str) -> String {
    date.trim()
        .parse::<jiff::civil::Date>()
        .ok()
        .and_then(|d| d.tomorrow().ok())
        .map(|d| d.to_string())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amsterdam_times_and_days_follow_summer_and_winter_time() {
        let tz = TimeZone::get("Europe/Amsterdam").unwrap();
        let winter = day_start(&tz, "2026-11-26").unwrap();
        assert_eq!(local(&tz, winter, "%Y-%m-%d %H:%M"), "2026-11-26 00:00");
        assert_eq!(local(&TimeZone::UTC, winter, "%H:%M"), "23:00", "UTC+1 in winter");
        let summer = day_start(&tz, "2026-06-15").unwrap();
        assert_eq!(local(&TimeZone::UTC, summer, "%H:%M"), "22:00", "UTC+2 in summer");
        assert_eq!(day_start(&tz, "26-11-2026"), None);
        assert_eq!(next_day("2026-12-31"), "2027-01-01");
    }

    #[test]
    fn student_keys_are_stable_and_hold_no_name() {
        assert_eq!(student_key("Anna de Vries"), student_key("Anna de Vries"));
        assert_ne!(student_key("Anna de Vries"), student_key("Bram Jansen"));
        assert_eq!(student_key("Anna").len(), 16);
        assert!(!student_key("Anna").contains("Anna"));
    }
}
