//! The technician's view: every clicker with its room, student, battery, signal, firmware and when
//! it was last seen; sorting, the "battery low" and "not seen for N days" filters, registering a
//! clicker and assigning it to another student.

use maud::{Markup, html};

use super::{Chrome, page};
use crate::i18n::Lang;

/// Below this a clicker's battery counts as low (the firmware's own threshold: two AAA cells).
pub const LOW_BATTERY_MV: u32 = 2_300;

/// One clicker as the technician sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct DeviceRow {
    /// Its id.
    pub id: String,
    /// Its room.
    pub room: String,
    /// Its student, if assigned.
    pub student: Option<String>,
    /// The last battery reading, in millivolts.
    pub battery_mv: Option<u32>,
    /// The last Wi-Fi signal, in dBm.
    pub rssi: Option<i32>,
    /// Its firmware version.
    pub firmware: Option<String>,
    /// When it was last heard from (ms since the epoch).
    pub last_seen_ms: Option<i64>,
    /// Whether it is connected now.
    pub online: bool,
    /// Days until the battery runs flat, from its trend (none when not draining or unknown).
    pub days_left: Option<f64>,
    /// Lent for one lesson.
    pub loaner: bool,
}

/// A battery expected to run flat within this many days is listed as low too.
pub const FLAT_WITHIN_DAYS: f64 = 7.0;

impl DeviceRow {
    /// Whether its battery needs changing: low now, or flat within a week by its trend.
    pub fn battery_low(&self) -> bool {
        self.battery_mv.is_some_and(|mv| mv < LOW_BATTERY_MV) || self.days_left.is_some_and(|d| d <= FLAT_WITHIN_DAYS)
    }
}

/// A column to sort by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SortKey {
    /// Room, then student.
    #[default]
    Room,
    /// Student name.
    Student,
    /// Lowest battery first.
    Battery,
    /// Weakest signal first.
    Signal,
    /// Firmware version.
    Firmware,
    /// Longest unseen first.
    LastSeen,
    /// Offline first.
    Status,
    /// Device id.
    Device,
}

impl SortKey {
    const ALL: [(SortKey, &'static str); 8] = [
        (SortKey::Device, "device"),
        (SortKey::Room, "room"),
        (SortKey::Student, "student"),
        (SortKey::Battery, "battery"),
        (SortKey::Signal, "signal"),
        (SortKey::Firmware, "firmware"),
        (SortKey::LastSeen, "last_seen"),
        (SortKey::Status, "status"),
    ];

    /// Parses the name used in the page's links (unknown names sort by room).
    pub fn parse(s: &str) -> SortKey {
        SortKey::ALL.iter().find(|(_, n)| *n == s).map_or(SortKey::Room, |(k, _)| *k)
    }

    /// The name used in the page's links.
    pub fn name(self) -> &'static str {
        SortKey::ALL.iter().find(|(k, _)| *k == self).map_or("room", |(_, n)| n)
    }
}

/// What the technician asked to see.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DeviceQuery {
    /// The sort column.
    pub sort: SortKey,
    /// Only clickers whose battery is low.
    pub battery_low: bool,
    /// Only clickers not seen for at least this many days (never seen counts as not seen).
    pub unseen_days: Option<u32>,
}

/// Filters and sorts `rows` as `query` asks, at `now_ms`.
pub fn select(mut rows: Vec<DeviceRow>, query: &DeviceQuery, now_ms: i64) -> Vec<DeviceRow> {
    if query.battery_low {
        rows.retain(DeviceRow::battery_low);
    }
    if let Some(days) = query.unseen_days {
        let cutoff = now_ms - i64::from(days) * 86_400_000;
        rows.retain(|r| r.last_seen_ms.is_none_or(|seen| seen <= cutoff));
    }
    let by_id = |a: &DeviceRow, b: &DeviceRow| a.id.cmp(&b.id);
    rows.sort_by(|a, b| {
        let first = match query.sort {
            SortKey::Device => std::cmp::Ordering::Equal,
            SortKey::Room => a.room.cmp(&b.room).then(a.student.cmp(&b.student)),
            SortKey::Student => a.student.cmp(&b.student),
            SortKey::Battery => a.battery_mv.unwrap_or(u32::MAX).cmp(&b.battery_mv.unwrap_or(u32::MAX)),
            SortKey::Signal => a.rssi.unwrap_or(i32::MAX).cmp(&b.rssi.unwrap_or(i32::MAX)),
            SortKey::Firmware => a.firmware.cmp(&b.firmware),
            SortKey::LastSeen => a.last_seen_ms.unwrap_or(i64::MIN).cmp(&b.last_seen_ms.unwrap_or(i64::MIN)),
            SortKey::Status => a.online.cmp(&b.online),
        };
        first.then_with(|| by_id(a, b))
    });
    rows
}

/// A clicker just registered: its key is shown this once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Registered {
    /// Its id.
    pub id: String,
    /// Its key, hex.
    pub key: String,
}

/// The technician's page.
pub fn devices(
    chrome: &Chrome,
    rows: &[DeviceRow],
    query: &DeviceQuery,
    now_ms: i64,
    registered: Option<&Registered>,
    error: Option<&str>,
    pairing: Markup,
) -> Markup {
    let lang = chrome.lang;
    let link = |key: SortKey| {
        let mut q = format!("/devices?sort={}", key.name());
        if query.battery_low {
            q.push_str("&battery_low=1");
        }
        if let Some(d) = query.unseen_days {
            q.push_str(&format!("&unseen_days={d}"));
        }
        q
    };
    let columns = [
        (SortKey::Device, lang.device()),
        (SortKey::Room, lang.room()),
        (SortKey::Student, lang.student()),
        (SortKey::Battery, lang.battery()),
        (SortKey::Signal, lang.signal()),
        (SortKey::Firmware, lang.firmware()),
        (SortKey::LastSeen, lang.last_seen()),
        (SortKey::Status, lang.status()),
    ];
    page(
        chrome,
        lang.devices(),
        None,
        "",
        html! {
            h1 { (lang.devices()) }
            @if let Some(error) = error { p.error role="alert" { (error) } }
            (pairing)
            @if let Some(r) = registered {
                div.notice role="status" {
                    p { (lang.registered()) }
                    p { (lang.device()) ": " code { (r.id) } }
                    p { (lang.key()) ": " code.key { (r.key) } }
                }
            }
            form method="get" action="/devices" {
                input type="hidden" name="sort" value=(query.sort.name());
                label {
                    input type="checkbox" name="battery_low" value="1" checked[query.battery_low];
                    " " (lang.only_battery_low())
                }
                label for="unseen_days" { (lang.not_seen_days()) }
                input #unseen_days name="unseen_days" type="number" min="0" value=[query.unseen_days];
                " " button type="submit" { (lang.filter()) }
            }
            @if rows.is_empty() { p { (lang.no_devices()) } }
            @else {
                table {
                    thead {
                        tr {
                            @for (key, label) in columns {
                                th aria-sort=[(key == query.sort).then_some("ascending")] {
                                    a href=(link(key)) { (label) }
                                }
                            }
                            th { (lang.reassign()) }
                            th { span.visually-hidden { (lang.unpair()) } }
                        }
                    }
                    tbody {
                        @for r in rows {
                            tr class=[r.battery_low().then_some("low")] {
                                td { code { (r.id) } }
                                td { (r.room) }
                                td {
                                    (r.student.as_deref().unwrap_or("—"))
                                    @if r.loaner { " (" (lang.loaner()) ")" }
                                }
                                td.battery {
                                    @if let Some(mv) = r.battery_mv {
                                        (format!("{:.2} V", f64::from(mv) / 1000.0))
                                        @if r.battery_low() { " (" (lang.battery_low()) ")" }
                                    } @else { "—" }
                                    @if let Some(d) = r.days_left { br; small { (lang.flat_in_days(d.round() as u32)) } }
                                }
                                td { @if let Some(rssi) = r.rssi { (rssi) " dBm" } @else { "—" } }
                                td { (r.firmware.as_deref().unwrap_or("—")) }
                                td { (seen(lang, r.last_seen_ms, now_ms)) }
                                td { (if r.online { lang.online() } else { lang.offline() }) }
                                td {
                                    form.inline method="post" action={"/devices/" (r.id) "/student"} {
                                        label.visually-hidden for={"student-" (r.id)} { (lang.student()) }
                                        input id={"student-" (r.id)} name="student" value=(r.student.as_deref().unwrap_or("")) maxlength="64";
                                        " " button.secondary type="submit" { (lang.reassign()) }
                                    }
                                }
                                td {
                                    @if r.student.is_some() && !r.loaner {
                                        form.inline method="post" action={"/devices/" (r.id) "/replace"} {
                                            button.secondary type="submit" { (lang.replace()) }
                                        }
                                    }
                                    form.inline method="post" action={"/devices/" (r.id) "/unpair"} {
                                        button.secondary type="submit" { (lang.unpair()) }
                                    }
                                }
                            }
                        }
                    }
                }
            }
            fieldset {
                legend { (lang.register_device()) }
                form method="post" action="/devices" {
                    label for="room" { (lang.room()) }
                    input #room name="room" required maxlength="32";
                    label for="student" { (lang.student()) }
                    input #student name="student" maxlength="64";
                    p { button type="submit" { (lang.register()) } }
                }
            }
        },
    )
}

fn seen(lang: Lang, last_seen_ms: Option<i64>, now_ms: i64) -> String {
    let Some(at) = last_seen_ms else { return lang.never().to_owned() };
    let minutes = (now_ms - at).max(0) / 60_000;
    match (lang, minutes) {
        (Lang::Nl, 0) => "zojuist".into(),
        (Lang::En, 0) => "just now".into(),
        (Lang::Nl, m) if m < 60 => format!("{m} min geleden"),
        (Lang::En, m) if m < 60 => format!("{m} min ago"),
        (Lang::Nl, m) if m < 48 * 60 => format!("{} uur geleden", m / 60),
        (Lang::En, m) if m < 48 * 60 => format!("{} h ago", m / 60),
        (Lang::Nl, m) => format!("{} dagen geleden", m / 1440),
        (Lang::En, m) => format!("{} days ago", m / 1440),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: i64 = 86_400_000;
    const NOW: i64 = 100 * DAY;

    fn row(id: &str, room: &str, battery: Option<u32>, seen_days_ago: Option<i64>) -> DeviceRow {
        DeviceRow {
            id: id.into(),
            room: room.into(),
            student: Some(format!("student {id}")),
            battery_mv: battery,
            rssi: Some(-60),
            firmware: Some("0.1.0".into()),
            last_seen_ms: seen_days_ago.map(|d| NOW - d * DAY),
            online: seen_days_ago == Some(0),
            days_left: None,
            loaner: false,
        }
    }

    fn fleet() -> Vec<DeviceRow> {
        vec![
            row("c-1", "r2", Some(2_900), Some(0)),
            row("c-2", "r1", Some(2_150), Some(1)),
            row("c-3", "r1", None, None),
            row("c-4", "r2", Some(2_250), Some(9)),
        ]
    }

    fn ids(rows: &[DeviceRow]) -> Vec<&str> {
        rows.iter().map(|r| r.id.as_str()).collect()
    }

    #[test]
    fn battery_low_shows_the_two_clickers_under_2_3_volts_lowest_first() {
        let q = DeviceQuery { sort: SortKey::Battery, battery_low: true, unseen_days: None };
        assert_eq!(ids(&select(fleet(), &q, NOW)), ["c-2", "c-4"]);
    }

    #[test]
    fn a_battery_that_will_run_flat_within_a_week_is_listed_as_low_already() {
        let mut rows = fleet();
        rows[0].days_left = Some(5.2); // 2.9 V now, but draining fast
        let q = DeviceQuery { sort: SortKey::Device, battery_low: true, unseen_days: None };
        assert_eq!(ids(&select(rows.clone(), &q, NOW)), ["c-1", "c-2", "c-4"]);
        let chrome = Chrome { lang: Lang::Nl, user: None, links: vec![], path: "/devices".into() };
        let html = devices(&chrome, &rows, &q, NOW, None, None, html! {}).into_string();
        assert!(html.contains("leeg over ± 5 dagen"), "{html}");
    }

    #[test]
    fn not_seen_for_a_week_includes_the_never_seen() {
        let q = DeviceQuery { sort: SortKey::Device, battery_low: false, unseen_days: Some(7) };
        assert_eq!(ids(&select(fleet(), &q, NOW)), ["c-3", "c-4"]);
    }

    #[test]
    fn sorting_by_room_then_student_and_by_last_seen() {
        assert_eq!(ids(&select(fleet(), &DeviceQuery::default(), NOW)), ["c-2", "c-3", "c-1", "c-4"]);
        let q = DeviceQuery { sort: SortKey::LastSeen, ..DeviceQuery::default() };
        assert_eq!(ids(&select(fleet(), &q, NOW)), ["c-3", "c-4", "c-2", "c-1"]);
        assert_eq!(SortKey::parse("last_seen"), SortKey::LastSeen);
        assert_eq!(SortKey::parse("bogus"), SortKey::Room);
    }

    #[test]
    fn the_page_marks_low_batteries_and_keeps_the_filter_in_sort_links() {
        let chrome = Chrome { lang: Lang::Nl, user: Some("tech".into()), links: vec![], path: "/devices".into() };
        let q = DeviceQuery { sort: SortKey::Battery, battery_low: true, unseen_days: Some(3) };
        let rows = select(fleet(), &q, NOW);
        let html = devices(&chrome, &rows, &q, NOW, None, None, html! {}).into_string();
        assert!(html.contains("2.25 V (batterij bijna leeg)"));
        assert!(html.contains("action=\"/devices/c-4/replace\"") && html.contains("action=\"/devices/c-4/unpair\""));
        assert!(!html.contains("c-2"), "seen yesterday: not in a three-day filter");
        assert!(html.contains("href=\"/devices?sort=room&amp;battery_low=1&amp;unseen_days=3\""));
        assert!(html.contains("aria-sort=\"ascending\""));
        assert!(html.contains("9 dagen geleden"));
        let registered = Registered { id: "c-0000abcd".into(), key: "00ff".into() };
        let html = devices(&chrome, &[], &DeviceQuery::default(), NOW, Some(&registered), None, html! {}).into_string();
        assert!(html.contains("c-0000abcd") && html.contains("00ff") && html.contains("Geen stemkastjes gevonden."));
    }
}
