//! The engagement pages: a class's week as a sortable table with every part, its CSV, and the
//! no-internet-at-home switch. The numbers come from `blend::engagement`; this module gathers them.

use dashboard::url::encode;
use std::collections::{BTreeMap, HashMap};

use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect};
use axum::{Extension, Form};
use dashboard::views::engagement::{self as view, EngagementPage, EngagementRow, Group as ViewGroup};
use jiff::civil::{ISOWeekDate, Weekday};
use serde::Deserialize;

use super::AppState;
use super::pages::{Page, PageError};
use super::session::{chrome, lang, safe_path};
use crate::auth::User;
use crate::blend::engagement::{Group, Lesson, Picture, Weights, count_week, picture, trend};
use crate::blend::matching::{Index, Match, normalize};
use crate::store::{email_hash, now_ms};

fn internal(e: impl std::fmt::Display) -> PageError {
    PageError::Internal(e.to_string())
}

/// A week as `2026-W48` → its Monday.
pub fn parse_week(s: &str) -> Option<ISOWeekDate> {
    let (y, w) = s.trim().split_once("-W")?;
    ISOWeekDate::new(y.parse().ok()?, w.parse().ok()?, Weekday::Monday).ok()
}

fn week_name(w: ISOWeekDate) -> String {
    format!("{}-W{:02}", w.year(), w.week())
}

fn shift(w: ISOWeekDate, weeks: i64) -> Option<ISOWeekDate> {
    let monday = w.date().checked_add(jiff::Span::new().days(7 * weeks)).ok()?;
    Some(monday.iso_week_date())
}

/// The class's picture for week `w`, with nothing from earlier weeks.
async fn week_picture(s: &AppState, class: &str, w: ISOWeekDate) -> Result<Vec<Picture>, PageError> {
    let tz = &s.tz;
    let start = w.date().to_zoned_datetime(tz.clone()).map_err(internal)?.timestamp().as_millisecond();
    let end = start + 7 * 86_400_000 + 3_600_000; // a day-saving change inside the week moves the end by an hour at most
    let sessions = s.store.sessions_between(Some(class), start, end).await.map_err(internal)?;
    let mut lessons = Vec::new();
    for session in &sessions {
        let attendance = s.store.attendance(session).await.map_err(internal)?;
        let (asked, answered) = s.store.answered_per_student(session.id).await.map_err(internal)?;
        lessons.push(Lesson {
            marks: attendance.iter().map(|a| (a.student.clone(), a.mark())).collect(),
            asked,
            answered,
        });
    }
    if lessons.is_empty() {
        return Ok(Vec::new());
    }
    // Online identity → roster student → the class's student with that name.
    let students = s.store.roster_students().await.map_err(internal)?;
    let index = Index::new(&students);
    let roster_name: HashMap<&str, String> =
        students.iter().map(|st| (st.id.as_str(), normalize(&format!("{} {}", st.given, st.family)))).collect();
    let class_students: BTreeMap<String, String> =
        lessons.iter().flat_map(|l| l.marks.iter().map(|(name, _)| (normalize(name), name.clone()))).collect();
    let links = s.store.identity_links().await.map_err(internal)?;
    let secret = s.store.school_secret("email").await.map_err(internal)?;
    let student_of = |identity: &str| {
        let roster_id = match links.get(identity) {
            Some(decided) => decided.clone()?,
            None => match index.find(identity, |a| email_hash(&secret, a)) {
                Match::Student(id) => id,
                _ => return None,
            },
        };
        class_students.get(roster_name.get(roster_id.as_str())?).cloned()
    };
    let online = s.store.online_between(start, end).await.map_err(internal)?;
    let flags = s.store.no_online_access().await.map_err(internal)?;
    // The local day: shift by the zone's offset at that moment, then whole days since the epoch.
    let day_of = |ms: i64| {
        let offset = jiff::Timestamp::from_millisecond(ms).map_or(0, |t| tz.to_offset(t).seconds());
        (ms + i64::from(offset) * 1000).div_euclid(86_400_000)
    };
    let weeks = count_week(&lessons, &online, student_of, day_of, &flags);
    Ok(picture(&weeks, &weights(s, class).await?))
}

/// The class's weights: the teacher's, else a quarter each.
async fn weights(s: &AppState, class: &str) -> Result<Weights, PageError> {
    Ok(match s.store.engagement_weights(class).await.map_err(internal)? {
        Some([a, r, d, o]) => Weights {
            attendance: f64::from(a),
            response: f64::from(r),
            online_days: f64::from(d),
            online_activity: f64::from(o),
        },
        None => Weights::default(),
    })
}

/// The weights form.
#[derive(Debug, Deserialize)]
pub struct WeightsForm {
    class: String,
    attendance: u32,
    response: u32,
    online_days: u32,
    online_activity: u32,
    #[serde(default)]
    back: String,
}

/// `POST /engagement/weights`: the teacher's weights for a class (percent; they need not add to 100).
pub async fn set_weights(
    State(s): State<AppState>,
    Extension(user): Extension<User>,
    Form(f): Form<WeightsForm>,
) -> Page {
    let w = [f.attendance, f.response, f.online_days, f.online_activity];
    if w.iter().any(|v| *v > 100) || w.iter().all(|v| *v == 0) || f.class.trim().is_empty() {
        return Ok((StatusCode::BAD_REQUEST, "weights: 0 to 100 each, not all 0").into_response());
    }
    s.store.set_engagement_weights(f.class.trim(), w, user.name.as_str(), now_ms()).await.map_err(internal)?;
    let back = if f.back.is_empty() { "/engagement" } else { safe_path(&f.back) };
    Ok(Redirect::to(back).into_response())
}

fn view_group(g: Group) -> ViewGroup {
    match g {
        Group::Both => ViewGroup::Both,
        Group::OnlineOnly => ViewGroup::OnlineOnly,
        Group::InClassOnly => ViewGroup::InClassOnly,
        Group::Neither => ViewGroup::Neither,
    }
}

/// `?class=&week=&sort=`.
#[derive(Debug, Deserialize, Default)]
pub struct EngagementQuery {
    class: Option<String>,
    week: Option<String>,
    sort: Option<String>,
}

async fn rows(s: &AppState, class: &str, w: ISOWeekDate, sort: &str) -> Result<Vec<EngagementRow>, PageError> {
    let now = week_picture(s, class, w).await?;
    let mut earlier: HashMap<String, Vec<f64>> = HashMap::new();
    for back in 1..=3 {
        if let Some(prev) = shift(w, -back) {
            for p in week_picture(s, class, prev).await? {
                earlier.entry(p.week.student.clone()).or_default().push(p.index);
            }
        }
    }
    let mut rows: Vec<EngagementRow> = now
        .iter()
        .map(|p| EngagementRow {
            student: p.week.student.clone(),
            attended: (p.week.attended, p.week.sessions),
            answered: (p.week.answered, p.week.asked),
            online_days: p.week.online_days,
            online_events: p.week.online_events,
            online_completions: p.week.online_completions,
            online_score: p.week.online_score(),
            in_class: p.in_class,
            online: p.online,
            index: p.index,
            group: view_group(p.group),
            trend: trend(p.index, earlier.get(&p.week.student).map_or(&[][..], Vec::as_slice)),
            no_online_access: p.week.no_online_access,
        })
        .collect();
    let key = |r: &EngagementRow| -> f64 {
        match sort {
            "attendance" => f64::from(r.attended.0) / f64::from(r.attended.1.max(1)),
            "response" => f64::from(r.answered.0) / f64::from(r.answered.1.max(1)),
            "online_days" => f64::from(r.online_days),
            "in_class" => r.in_class,
            "online" => r.online.unwrap_or(-1.0),
            "trend" => r.trend.unwrap_or(0.0),
            _ => r.index,
        }
    };
    match sort {
        "student" => rows.sort_by(|a, b| a.student.cmp(&b.student)),
        "group" => rows.sort_by_key(|r| (r.group.value(), r.student.clone())),
        _ => rows.sort_by(|a, b| key(b).total_cmp(&key(a)).then(a.student.cmp(&b.student))),
    }
    Ok(rows)
}

async fn chosen(s: &AppState, q: &EngagementQuery) -> Result<(Vec<String>, String, ISOWeekDate), PageError> {
    let all = s.store.sessions_between(None, 0, i64::MAX).await.map_err(internal)?;
    let mut classes: Vec<String> = all.iter().map(|r| r.class_name.clone()).collect();
    classes.sort();
    classes.dedup();
    let class = q.class.clone().or_else(|| all.last().map(|r| r.class_name.clone())).unwrap_or_default();
    let this_week = jiff::Timestamp::from_millisecond(now_ms())
        .map_err(internal)?
        .to_zoned_datetime(s.tz.clone())
        .date()
        .iso_week_date();
    let week = q.week.as_deref().and_then(parse_week).unwrap_or(this_week);
    Ok((classes, class, week))
}

/// `GET /engagement`.
pub async fn page(
    State(s): State<AppState>,
    Extension(user): Extension<User>,
    headers: HeaderMap,
    Query(q): Query<EngagementQuery>,
) -> Page {
    let (classes, class, week) = chosen(&s, &q).await?;
    let rows = rows(&s, &class, week, q.sort.as_deref().unwrap_or("index")).await?;
    let around =
        (shift(week, -1).map(week_name).unwrap_or_default(), shift(week, 1).map(week_name).unwrap_or_default());
    let student_links = rows
        .iter()
        .map(|r| {
            format!(
                "/engagement/student?class={}&week={}&k={}",
                encode(&class),
                week_name(week),
                super::attendance::student_key(&r.student)
            )
        })
        .collect();
    let w = weights(&s, &class).await?;
    let weights = [w.attendance, w.response, w.online_days, w.online_activity].map(|v| v.round() as u32);
    let p = EngagementPage { class_name: class, classes, week: week_name(week), around, rows, student_links, weights };
    Ok(Html(view::engagement(&chrome(lang(&headers), Some(&user), "/engagement"), &p).into_string()).into_response())
}

/// `GET /engagement.csv?class=&week=`.
pub async fn csv(State(s): State<AppState>, Query(q): Query<EngagementQuery>) -> Page {
    let (_, class, week) = chosen(&s, &q).await?;
    let rows = rows(&s, &class, week, q.sort.as_deref().unwrap_or("student")).await?;
    let body = view::engagement_csv(&week_name(week), &class, &rows);
    let mut response = ([(header::CONTENT_TYPE, "text/csv; charset=utf-8")], body).into_response();
    let safe: String = class.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' { c } else { '_' }).collect();
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"engagement-{safe}-{}.csv\"", week_name(week)))
    {
        response.headers_mut().insert(header::CONTENT_DISPOSITION, v);
    }
    Ok(response)
}

/// How many weeks the history pages show.
const HISTORY_WEEKS: i64 = 8;

/// The class's pictures for the weeks up to and including `w`, oldest first.
async fn history(s: &AppState, class: &str, w: ISOWeekDate) -> Result<Vec<(String, Vec<Picture>)>, PageError> {
    let mut out = Vec::new();
    for back in (0..HISTORY_WEEKS).rev() {
        if let Some(week) = shift(w, -back) {
            out.push((week_name(week), week_picture(s, class, week).await?));
        }
    }
    Ok(out)
}

/// `GET /engagement/weeks?class=&week=`: the index per student per week, as a heatmap.
pub async fn weeks(
    State(s): State<AppState>,
    Extension(user): Extension<User>,
    headers: HeaderMap,
    Query(q): Query<EngagementQuery>,
) -> Page {
    let (_, class, week) = chosen(&s, &q).await?;
    let hist = history(&s, &class, week).await?;
    let mut students: Vec<String> = hist.iter().flat_map(|(_, ps)| ps.iter().map(|p| p.week.student.clone())).collect();
    students.sort();
    students.dedup();
    let values: Vec<Vec<Option<f64>>> = students
        .iter()
        .map(|st| hist.iter().map(|(_, ps)| ps.iter().find(|p| &p.week.student == st).map(|p| p.index)).collect())
        .collect();
    let weeks: Vec<String> = hist.iter().map(|(w, _)| w.clone()).collect();
    let chrome = chrome(lang(&headers), Some(&user), "/engagement");
    Ok(Html(view::weeks_page(&chrome, &class, &weeks, &students, &values).into_string()).into_response())
}

/// `?k=` on a student's page.
#[derive(Debug, Deserialize)]
pub struct StudentQuery {
    class: Option<String>,
    week: Option<String>,
    k: String,
}

/// `GET /engagement/student?class=&week=&k=KEY`: one student's index, in-class and online scores
/// over the weeks (the key, not the name, is in the URL).
pub async fn student(
    State(s): State<AppState>,
    Extension(user): Extension<User>,
    headers: HeaderMap,
    Query(q): Query<StudentQuery>,
) -> Page {
    let eq = EngagementQuery { class: q.class, week: q.week, sort: None };
    let (_, class, week) = chosen(&s, &eq).await?;
    let hist = history(&s, &class, week).await?;
    let key = |p: &Picture| super::attendance::student_key(&p.week.student) == q.k;
    let Some(name) = hist.iter().flat_map(|(_, ps)| ps.iter()).find(|p| key(p)).map(|p| p.week.student.clone()) else {
        return Err(PageError::NotFound(lang(&headers)));
    };
    let lg = lang(&headers);
    let pick = |f: &dyn Fn(&Picture) -> Option<f64>| -> Vec<Option<f64>> {
        hist.iter().map(|(_, ps)| ps.iter().find(|p| key(p)).and_then(f)).collect()
    };
    let series = vec![
        (lg.index_word().to_owned(), pick(&|p| Some(p.index))),
        (lg.in_class().to_owned(), pick(&|p| Some(p.in_class))),
        (lg.online_word().to_owned(), pick(&|p| p.online)),
    ];
    let weeks: Vec<String> = hist.iter().map(|(w, _)| w.clone()).collect();
    let chrome = chrome(lg, Some(&user), "/engagement");
    Ok(Html(view::student_page(&chrome, &class, &name, &weeks, &series).into_string()).into_response())
}

/// The no-internet-at-home switch.
#[derive(Debug, Deserialize)]
pub struct Flag {
    student: String,
    on: String,
    #[serde(default)]
    back: String,
}

/// `POST /engagement/flag`.
pub async fn flag(State(s): State<AppState>, Extension(user): Extension<User>, Form(f): Form<Flag>) -> Page {
    let student = f.student.trim();
    if student.is_empty() || student.chars().count() > 64 {
        return Ok((StatusCode::BAD_REQUEST, "student: 1 to 64 characters").into_response());
    }
    s.store.set_no_online_access(student, f.on == "1", user.name.as_str(), now_ms()).await.map_err(internal)?;
    let back = if f.back.is_empty() { "/engagement" } else { safe_path(&f.back) };
    Ok(Redirect::to(back).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weeks_are_iso_weeks() {
        let w = parse_week("2026-W48").unwrap();
        assert_eq!(w.date().to_string(), "2026-11-23", "a Monday");
        assert_eq!(week_name(shift(w, 6).unwrap()), "2027-W01", "across the new year");
        assert_eq!(parse_week("2026-W54"), None);
        assert_eq!(parse_week("week 48"), None);
    }
}
