//! Online activity from what a teacher can download without admin rights, sans-IO: Moodle's course
//! "Logs" and Canvas's course "Access Report" as CSV, read into events with an online identity
//! (kept for matching to the roster), a time, what was done and to what. IP addresses, e-mail and
//! user agents are read past and never kept. Times are read in the school's time zone, in the
//! formats Moodle and Canvas write in Dutch and English.

use std::collections::BTreeMap;

use jiff::tz::TimeZone;

use super::csv_table::Table;
use super::roster::RowError;

/// Where an event came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// A Moodle course log download.
    MoodleLogs,
    /// A Canvas course access report.
    CanvasAccess,
}

impl Origin {
    /// The name stored with each event.
    pub const fn as_str(self) -> &'static str {
        match self {
            Origin::MoodleLogs => "moodle",
            Origin::CanvasAccess => "canvas",
        }
    }
}

/// One piece of online activity.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    /// Where it came from.
    pub origin: Origin,
    /// Who, as the LMS names them: `name:Anna de Vries` (Moodle) or `canvas:12345|Anna de Vries`.
    pub identity: String,
    /// When (ms since the epoch).
    pub at_ms: i64,
    /// What was done (Moodle's event name; Canvas: `viewed` or its action).
    pub kind: String,
    /// To what (Moodle's event context; Canvas's title).
    pub activity: String,
    /// How many times, for Canvas's counted views (1 for a Moodle log line).
    pub count: u32,
}

/// Every event read and every row refused.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Read {
    /// The events.
    pub events: Vec<Event>,
    /// Rows that could not be read; the rest were.
    pub errors: Vec<RowError>,
}

/// Month names in Dutch and English, January first.
const MONTHS: [[&str; 2]; 12] = [
    ["januari", "january"],
    ["februari", "february"],
    ["maart", "march"],
    ["april", "april"],
    ["mei", "may"],
    ["juni", "june"],
    ["juli", "july"],
    ["augustus", "august"],
    ["september", "september"],
    ["oktober", "october"],
    ["november", "november"],
    ["december", "december"],
];

/// A month from its name or an abbreviation of at least three letters (`nov.`, `okt`, `mrt`).
fn month_of(word: &str) -> Option<u8> {
    let w = word.trim_end_matches('.');
    if w == "mrt" {
        return Some(3);
    }
    if w.len() < 3 || !w.chars().all(char::is_alphabetic) {
        return None;
    }
    MONTHS.iter().position(|names| names.iter().any(|n| n.starts_with(w))).map(|i| i as u8 + 1)
}

/// Reads a local date and time as Moodle and Canvas print them — `20/11/26, 10:15`,
/// `20-11-2026 10:15:03`, `2026-11-20 10:15`, `donderdag 20 november 2026, 10:15`,
/// `Thursday, 20 November 2026, 10:15 AM`, or ISO 8601 with an offset — in ms since the epoch.
pub fn parse_time(s: &str, tz: &TimeZone) -> Option<i64> {
    let s = s.trim();
    if let Ok(t) = s.parse::<jiff::Timestamp>() {
        return Some(t.as_millisecond());
    }
    let lower = s.to_lowercase().replace(',', " ");
    let words: Vec<&str> = lower.split_whitespace().collect();
    let (mut day, mut month, mut year, mut hms, mut pm) = (None, None, None, None, None);
    for w in &words {
        if let Some(m) = month_of(w) {
            month = Some(m);
        } else if *w == "am" || *w == "pm" {
            pm = Some(*w == "pm");
        } else if w.contains(':') {
            let parts: Vec<u32> = w.split(':').map(|p| p.parse().ok()).collect::<Option<_>>()?;
            hms = Some((parts.first().copied()?, parts.get(1).copied()?, parts.get(2).copied().unwrap_or(0)));
        } else if let Some(sep) = ['/', '-', '.'].into_iter().find(|c| w.contains(*c)) {
            let parts: Vec<i32> = w.split(sep).map(|p| p.parse().ok()).collect::<Option<_>>()?;
            let [a, b, c] = parts[..] else { return None };
            let (d, m, y) = if a > 31 { (c, b, a) } else { (a, b, c) };
            (day, month, year) = (Some(d), Some(u8::try_from(m).ok()?), Some(if y < 100 { 2000 + y } else { y }));
        } else if let Ok(n) = w.parse::<i32>() {
            if n > 31 { year = Some(n) } else { day = Some(n) }
        }
    }
    let (h, mi, sec) = hms?;
    let h = match pm {
        Some(true) if h < 12 => h + 12,
        Some(false) if h == 12 => 0,
        _ => h,
    };
    // `Date::new`, not `civil::date`: the latter panics on 31 February.
    let date = jiff::civil::Date::new(i16::try_from(year?).ok()?, i8::try_from(month?).ok()?, i8::try_from(day?).ok()?)
        .ok()?;
    let time =
        jiff::civil::Time::new(i8::try_from(h).ok()?, i8::try_from(mi).ok()?, i8::try_from(sec).ok()?, 0).ok()?;
    let zoned = jiff::civil::DateTime::from_parts(date, time).to_zoned_datetime(tz.clone()).ok()?;
    Some(zoned.timestamp().as_millisecond())
}

/// The CSV's rows by header name, each with its line; nothing if a required column is missing.
fn table(
    file: &str,
    text: &str,
    required: &[&str],
    errors: &mut Vec<RowError>,
) -> Vec<(u64, BTreeMap<String, String>)> {
    match Table::read(file, text, errors) {
        Some(t) if t.require(required, errors) => t.maps().collect(),
        _ => Vec::new(),
    }
}

fn field<'a>(row: &'a BTreeMap<String, String>, name: &str) -> Result<&'a str, String> {
    row.get(name).map(String::as_str).filter(|v| !v.is_empty()).ok_or_else(|| format!("{name} is empty"))
}

/// Reads a Moodle course log download ("Logs" → download as CSV).
pub fn moodle_logs(file: &str, text: &str, tz: &TimeZone) -> Read {
    let mut out = Read::default();
    let required = ["Time", "User full name", "Event context", "Event name"];
    for (line, row) in table(file, text, &required, &mut out.errors) {
        let event = (|| {
            let time = field(&row, "Time")?;
            let at_ms = parse_time(time, tz).ok_or_else(|| format!("Time {time:?} is not a date and time"))?;
            let who = field(&row, "User full name")?;
            if who == "-" {
                return Err("no user (a system event)".to_owned());
            }
            Ok(Event {
                origin: Origin::MoodleLogs,
                identity: format!("name:{who}"),
                at_ms,
                kind: field(&row, "Event name")?.to_owned(),
                activity: field(&row, "Event context")?.to_owned(),
                count: 1,
            })
        })();
        match event {
            Ok(e) => out.events.push(e),
            Err(reason) => out.errors.push(RowError { file: file.into(), line, reason }),
        }
    }
    out
}

/// Reads a Canvas course access report: one event per user and item, at its last access, counting
/// its views.
pub fn canvas_access(file: &str, text: &str, tz: &TimeZone) -> Read {
    let mut out = Read::default();
    let required = ["User ID", "Full Name", "Title", "Views", "Last Access"];
    for (line, row) in table(file, text, &required, &mut out.errors) {
        let event = (|| {
            let last = field(&row, "Last Access")?;
            let at_ms = parse_time(last, tz).ok_or_else(|| format!("Last Access {last:?} is not a date and time"))?;
            let views = field(&row, "Views")?;
            let count = views.parse::<u32>().map_err(|_| format!("Views {views:?} is not a count"))?;
            let kind = row.get("Action").filter(|a| !a.is_empty()).map_or("viewed", String::as_str);
            Ok(Event {
                origin: Origin::CanvasAccess,
                identity: format!("canvas:{}|{}", field(&row, "User ID")?, field(&row, "Full Name")?),
                at_ms,
                kind: kind.to_owned(),
                activity: field(&row, "Title")?.to_owned(),
                count,
            })
        })();
        match event {
            Ok(e) => out.events.push(e),
            Err(reason) => out.errors.push(RowError { file: file.into(), line, reason }),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ams() -> TimeZone {
        TimeZone::get("Europe/Amsterdam").unwrap()
    }

    /// 2026-11-20 10:15 in Amsterdam (UTC+1).
    const AT: i64 = 1_795_166_100_000;

    #[test]
    fn moodle_and_canvas_times_in_dutch_and_english() {
        for s in [
            "20/11/26, 10:15",
            "20-11-2026 10:15",
            "20-11-26, 10:15:00",
            "2026-11-20 10:15",
            "donderdag 20 november 2026, 10:15",
            "Thursday, 20 November 2026, 10:15 AM",
            "20 nov. 2026 10:15",
            "2026-11-20T09:15:00Z",
            "2026-11-20T10:15:00+01:00",
        ] {
            assert_eq!(parse_time(s, &ams()), Some(AT), "{s}");
        }
        assert_eq!(parse_time("20 November 2026, 2:15 PM", &ams()), Some(AT + 4 * 3_600_000));
        assert_eq!(parse_time("gisteren", &ams()), None);
        assert_eq!(parse_time("31/02/26, 10:15", &ams()), None, "no 31 February");
    }

    #[test]
    fn a_moodle_log_with_quotes_commas_a_bom_blank_lines_and_bad_rows() {
        let text = "\u{feff}Time,User full name,Affected user,Event context,Component,Event name,Description,Origin,IP address\r\n\
            \"20/11/26, 10:15\",Anna de Vries,-,\"Quiz: Toets 3, verbanden\",Quiz,Quiz attempt submitted,\"The user with id '12' has submitted the attempt with id '7'.\",web,10.0.0.12\r\n\
            \r\n\
            \"20/11/26, 10:17\",-,-,System,Logs,Log report viewed,The user with id '2' viewed the log report,cli,\r\n\
            gisteren,Bram Jansen,-,Course: Wiskunde 3A,System,Course viewed,viewed,web,10.0.0.13\r\n\
            \"20/11/26, 11:00\",Bram Jansen,-,Course: Wiskunde 3A,System,Course viewed,viewed,web,10.0.0.13\r\n";
        let r = moodle_logs("logs.csv", text, &ams());
        assert_eq!(r.events.len(), 2);
        assert_eq!(r.events[0].identity, "name:Anna de Vries");
        assert_eq!(r.events[0].activity, "Quiz: Toets 3, verbanden");
        assert_eq!(r.events[0].kind, "Quiz attempt submitted");
        assert_eq!(r.events[0].at_ms, AT);
        let errors: Vec<String> = r.errors.iter().map(ToString::to_string).collect();
        assert_eq!(
            errors,
            ["logs.csv line 4: no user (a system event)", "logs.csv line 5: Time \"gisteren\" is not a date and time"]
        );
        let kept = format!("{:?}", r.events);
        assert!(!kept.contains("10.0.0"), "IP addresses are read past, never kept");
    }

    #[test]
    fn a_canvas_access_report_counts_views_per_item() {
        let text = "User ID,Full Name,Sortable Name,Category,Class,Title,Views,Last Access,First Access,Action\n\
            4711,Anna de Vries,\"Vries, Anna de\",Quizzes,quiz,Toets 3,4,2026-11-20T10:15:00+01:00,2026-11-18T08:00:00+01:00,participate\n\
            4712,Bram Jansen,\"Jansen, Bram\",Pages,wiki_page,Uitleg grafieken,many,2026-11-20T10:15:00+01:00,,\n";
        let r = canvas_access("access.csv", text, &ams());
        assert_eq!(r.events.len(), 1);
        assert_eq!(
            (r.events[0].identity.as_str(), r.events[0].count, r.events[0].kind.as_str()),
            ("canvas:4711|Anna de Vries", 4, "participate")
        );
        assert_eq!(r.errors[0].to_string(), "access.csv line 3: Views \"many\" is not a count");
    }

    #[test]
    fn a_file_of_the_wrong_kind_is_refused_once() {
        let r = canvas_access("logs.csv", "Time,User full name\n20/11/26 10:15,Anna\n", &ams());
        assert_eq!(r.errors.len(), 1);
        assert_eq!(r.errors[0].reason, "no column \"User ID\"");
    }
}
