//! IMS OneRoster 1.1 CSV, sans-IO: the bundle's files (manifest, orgs, academicSessions, courses,
//! classes, users, enrollments) in, typed rows out, and every broken row reported with its file,
//! line and reason while the good rows still load. Columns are found by their header, in any order.

use std::collections::{BTreeMap, HashSet};

use super::csv_table::Table;

/// A row that could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowError {
    /// The file, e.g. `users.csv`.
    pub file: String,
    /// The line in that file (1 is the header).
    pub line: u64,
    /// Why.
    pub reason: String,
}

impl std::fmt::Display for RowError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} line {}: {}", self.file, self.line, self.reason)
    }
}

/// Whether a row is to be kept or removed (`tobedeleted` in a delta file).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Add or update.
    Active,
    /// Remove.
    ToBeDeleted,
}

/// A school or other organisation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Org {
    /// `sourcedId`.
    pub id: String,
    /// Add or remove.
    pub status: Status,
    /// `name`.
    pub name: String,
    /// `type` (school, district, …).
    pub kind: String,
    /// `parentSourcedId`.
    pub parent: Option<String>,
}

/// A term, semester or school year.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Term {
    /// `sourcedId`.
    pub id: String,
    /// Add or remove.
    pub status: Status,
    /// `title`.
    pub title: String,
    /// `type` (term, semester, schoolYear, gradingPeriod).
    pub kind: String,
    /// `startDate` (YYYY-MM-DD).
    pub start: String,
    /// `endDate` (YYYY-MM-DD).
    pub end: String,
}

/// A course.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Course {
    /// `sourcedId`.
    pub id: String,
    /// Add or remove.
    pub status: Status,
    /// `title`.
    pub title: String,
    /// `orgSourcedId`.
    pub org: String,
    /// `courseCode`.
    pub code: Option<String>,
}

/// A class (a group of students taking a course).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Class {
    /// `sourcedId`.
    pub id: String,
    /// Add or remove.
    pub status: Status,
    /// `title`.
    pub title: String,
    /// `courseSourcedId`.
    pub course: String,
    /// `schoolSourcedId`.
    pub school: String,
    /// `classCode`.
    pub code: Option<String>,
    /// `location`.
    pub location: Option<String>,
}

/// A person: student, teacher, …
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    /// `sourcedId`.
    pub id: String,
    /// Add or remove.
    pub status: Status,
    /// `role`.
    pub role: String,
    /// `username`.
    pub username: String,
    /// `givenName`.
    pub given_name: String,
    /// `familyName`.
    pub family_name: String,
    /// `identifier` (the school's own student number).
    pub identifier: Option<String>,
    /// `email`: used for matching online accounts, then kept only as a keyed hash.
    pub email: Option<String>,
    /// `enabledUser`.
    pub enabled: bool,
}

/// A user in a class.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Enrollment {
    /// `sourcedId`.
    pub id: String,
    /// Add or remove.
    pub status: Status,
    /// `classSourcedId`.
    pub class: String,
    /// `schoolSourcedId`.
    pub school: String,
    /// `userSourcedId`.
    pub user: String,
    /// `role` (student, teacher, …).
    pub role: String,
    /// `primary`.
    pub primary: bool,
}

/// A whole bundle, read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Roster {
    /// Schools.
    pub orgs: Vec<Org>,
    /// Terms.
    pub terms: Vec<Term>,
    /// Courses.
    pub courses: Vec<Course>,
    /// Classes.
    pub classes: Vec<Class>,
    /// People.
    pub users: Vec<User>,
    /// Who is in which class.
    pub enrollments: Vec<Enrollment>,
    /// Rows that could not be read; the rest loaded.
    pub errors: Vec<RowError>,
    /// For each file sent whole (`bulk`, the default): every sourcedId in it, readable or not. Rows
    /// the store holds that are in none of these are gone from the school's system.
    pub bulk: BTreeMap<String, std::collections::BTreeSet<String>>,
}

/// The files of a bundle, in the order they load (later files refer to earlier ones).
pub const FILES: [&str; 7] =
    ["manifest.csv", "orgs.csv", "academicSessions.csv", "courses.csv", "classes.csv", "users.csv", "enrollments.csv"];

const USER_ROLES: [&str; 8] =
    ["administrator", "aide", "guardian", "parent", "proctor", "relative", "student", "teacher"];

/// One row, read by column name.
struct Row<'t> {
    columns: &'t BTreeMap<String, usize>,
    fields: &'t [String],
}

impl Row<'_> {
    fn opt(&self, name: &str) -> Option<String> {
        self.columns.get(name).and_then(|&i| self.fields.get(i)).filter(|v| !v.is_empty()).cloned()
    }

    fn req(&self, name: &str) -> Result<String, String> {
        self.opt(name).ok_or_else(|| format!("{name} is empty"))
    }

    fn status(&self) -> Result<Status, String> {
        match self.opt("status").as_deref() {
            None | Some("active") => Ok(Status::Active),
            Some("tobedeleted") => Ok(Status::ToBeDeleted),
            Some(other) => Err(format!("status {other:?} (active or tobedeleted)")),
        }
    }

    fn date(&self, name: &str) -> Result<String, String> {
        let v = self.req(name)?;
        let ok = v.len() == 10
            && v.bytes().enumerate().all(|(i, b)| if i == 4 || i == 7 { b == b'-' } else { b.is_ascii_digit() });
        if ok { Ok(v) } else { Err(format!("{name} {v:?} is not a date as YYYY-MM-DD")) }
    }

    fn flag(&self, name: &str, default: bool) -> Result<bool, String> {
        match self.opt(name).map(|v| v.to_ascii_lowercase()).as_deref() {
            None => Ok(default),
            Some("true") => Ok(true),
            Some("false") => Ok(false),
            Some(other) => Err(format!("{name} {other:?} (true or false)")),
        }
    }
}

/// Reads each row of `table` with `parse`; a row that fails is reported, the rest are kept. A
/// `sourcedId` seen twice in one file is reported too.
fn rows<T>(
    table: &Table<'_>,
    errors: &mut Vec<RowError>,
    id_of: impl Fn(&T) -> &str,
    parse: impl Fn(&Row<'_>) -> Result<T, String>,
) -> Vec<T> {
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    for (line, fields) in &table.rows {
        let row = Row { columns: &table.columns, fields };
        match parse(&row) {
            Ok(item) if !seen.insert(id_of(&item).to_owned()) => errors.push(RowError {
                file: table.file.into(),
                line: *line,
                reason: format!("sourcedId {:?} appears twice", id_of(&item)),
            }),
            Ok(item) => out.push(item),
            Err(reason) => errors.push(RowError { file: table.file.into(), line: *line, reason }),
        }
    }
    out
}

/// Reads a bundle from `file name → contents`. `known` holds the sourcedIds the store already has
/// (a delta bundle may refer to them). Missing files are fine (a delta may carry only some);
/// broken rows and rows that refer to what exists nowhere are reported.
pub fn read(files: &BTreeMap<String, String>, known: &Known) -> Roster {
    let mut r = Roster::default();
    // manifest.csv: `file.users,bulk|delta|absent`; a file that is there and not declared is bulk.
    let mut modes: BTreeMap<String, String> = BTreeMap::new();
    if let Some(text) = files.get("manifest.csv") {
        let mut reader = csv::ReaderBuilder::new()
            .flexible(true)
            .from_reader(text.strip_prefix('\u{feff}').unwrap_or(text).as_bytes());
        for record in reader.records().flatten() {
            if let (Some(k), Some(v)) = (record.get(0), record.get(1))
                && let Some(file) = k.trim().strip_prefix("file.")
            {
                modes.insert(format!("{file}.csv"), v.trim().to_lowercase());
            }
        }
    }
    let mut bulk: BTreeMap<String, std::collections::BTreeSet<String>> = BTreeMap::new();
    let mut table = |name: &str, errors: &mut Vec<RowError>| {
        let t = files
            .get(name)
            .and_then(|text| Table::read(FILES.iter().find(|f| **f == name).copied().unwrap_or("?"), text, errors))?;
        // Undeclared: bulk, unless it removes rows (only a delta file says `tobedeleted`).
        let removes = t
            .columns
            .get("status")
            .is_some_and(|&i| t.rows.iter().any(|(_, f)| f.get(i).is_some_and(|v| v == "tobedeleted")));
        if modes.get(name).map_or(!removes, |m| m == "bulk") {
            let ids = t
                .rows
                .iter()
                .filter_map(|(_, fields)| {
                    t.columns.get("sourcedId").and_then(|&i| fields.get(i)).filter(|v| !v.is_empty()).cloned()
                })
                .collect();
            bulk.insert(name.to_owned(), ids);
        }
        Some(t)
    };
    if let Some(t) = table("orgs.csv", &mut r.errors)
        && t.require(&["sourcedId", "name", "type"], &mut r.errors)
    {
        r.orgs = rows(
            &t,
            &mut r.errors,
            |o: &Org| &o.id,
            |row| {
                Ok(Org {
                    id: row.req("sourcedId")?,
                    status: row.status()?,
                    name: row.req("name")?,
                    kind: row.req("type")?,
                    parent: row.opt("parentSourcedId"),
                })
            },
        );
    }
    if let Some(t) = table("academicSessions.csv", &mut r.errors)
        && t.require(&["sourcedId", "title", "type", "startDate", "endDate"], &mut r.errors)
    {
        r.terms = rows(
            &t,
            &mut r.errors,
            |x: &Term| &x.id,
            |row| {
                let (start, end) = (row.date("startDate")?, row.date("endDate")?);
                if end < start {
                    return Err(format!("endDate {end} is before startDate {start}"));
                }
                Ok(Term {
                    id: row.req("sourcedId")?,
                    status: row.status()?,
                    title: row.req("title")?,
                    kind: row.req("type")?,
                    start,
                    end,
                })
            },
        );
    }
    let orgs: HashSet<&str> =
        r.orgs.iter().map(|o| o.id.as_str()).chain(known.orgs.iter().map(String::as_str)).collect();
    let exists = |set: &HashSet<&str>, what: &str, id: String| {
        if set.contains(id.as_str()) {
            Ok(id)
        } else {
            Err(format!("{what} {id:?} is in no file and not in the store"))
        }
    };
    if let Some(t) = table("courses.csv", &mut r.errors)
        && t.require(&["sourcedId", "title", "orgSourcedId"], &mut r.errors)
    {
        r.courses = rows(
            &t,
            &mut r.errors,
            |x: &Course| &x.id,
            |row| {
                Ok(Course {
                    id: row.req("sourcedId")?,
                    status: row.status()?,
                    title: row.req("title")?,
                    org: exists(&orgs, "org", row.req("orgSourcedId")?)?,
                    code: row.opt("courseCode"),
                })
            },
        );
    }
    let courses: HashSet<&str> =
        r.courses.iter().map(|c| c.id.as_str()).chain(known.courses.iter().map(String::as_str)).collect();
    if let Some(t) = table("classes.csv", &mut r.errors)
        && t.require(&["sourcedId", "title", "courseSourcedId", "schoolSourcedId"], &mut r.errors)
    {
        r.classes = rows(
            &t,
            &mut r.errors,
            |x: &Class| &x.id,
            |row| {
                Ok(Class {
                    id: row.req("sourcedId")?,
                    status: row.status()?,
                    title: row.req("title")?,
                    course: exists(&courses, "course", row.req("courseSourcedId")?)?,
                    school: exists(&orgs, "school", row.req("schoolSourcedId")?)?,
                    code: row.opt("classCode"),
                    location: row.opt("location"),
                })
            },
        );
    }
    if let Some(t) = table("users.csv", &mut r.errors)
        && t.require(&["sourcedId", "role", "username", "givenName", "familyName"], &mut r.errors)
    {
        r.users = rows(
            &t,
            &mut r.errors,
            |x: &User| &x.id,
            |row| {
                let role = row.req("role")?;
                if !USER_ROLES.contains(&role.as_str()) {
                    return Err(format!("role {role:?} is not a OneRoster role"));
                }
                Ok(User {
                    id: row.req("sourcedId")?,
                    status: row.status()?,
                    role,
                    username: row.req("username")?,
                    given_name: row.req("givenName")?,
                    family_name: row.req("familyName")?,
                    identifier: row.opt("identifier"),
                    email: row.opt("email"),
                    enabled: row.flag("enabledUser", true)?,
                })
            },
        );
    }
    let classes: HashSet<&str> =
        r.classes.iter().map(|c| c.id.as_str()).chain(known.classes.iter().map(String::as_str)).collect();
    let users: HashSet<&str> =
        r.users.iter().map(|u| u.id.as_str()).chain(known.users.iter().map(String::as_str)).collect();
    if let Some(t) = table("enrollments.csv", &mut r.errors)
        && t.require(&["sourcedId", "classSourcedId", "schoolSourcedId", "userSourcedId", "role"], &mut r.errors)
    {
        r.enrollments = rows(
            &t,
            &mut r.errors,
            |x: &Enrollment| &x.id,
            |row| {
                Ok(Enrollment {
                    id: row.req("sourcedId")?,
                    status: row.status()?,
                    class: exists(&classes, "class", row.req("classSourcedId")?)?,
                    school: exists(&orgs, "school", row.req("schoolSourcedId")?)?,
                    user: exists(&users, "user", row.req("userSourcedId")?)?,
                    role: row.req("role")?,
                    primary: row.flag("primary", false)?,
                })
            },
        );
    }
    r.bulk = bulk;
    r
}

/// How a Dutch class list sorts a name: by the family name without its prefix (*tussenvoegsel*:
/// "de", "van der", "'t" …), ignoring case, then by the given name. "Anna de Vries" sorts under V.
pub fn sort_key(family: &str, given: &str) -> (String, String) {
    const PREFIXES: [&str; 16] = [
        "van der", "van den", "van de", "van 't", "in 't", "op de", "uit de", "van", "de", "der", "den", "het", "ter",
        "ten", "'t", "te",
    ];
    let lower = family.trim().to_lowercase();
    let mut rest = lower.as_str();
    'strip: loop {
        for p in PREFIXES {
            if let Some(after) = rest.strip_prefix(p).and_then(|r| r.strip_prefix(' ')) {
                rest = after.trim_start();
                continue 'strip;
            }
        }
        break;
    }
    (rest.to_owned(), given.trim().to_lowercase())
}

/// The sourcedIds the store already holds, for delta bundles.
#[derive(Debug, Clone, Default)]
pub struct Known {
    /// Orgs.
    pub orgs: Vec<String>,
    /// Courses.
    pub courses: Vec<String>,
    /// Classes.
    pub classes: Vec<String>,
    /// Users.
    pub users: Vec<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bundle(files: &[(&str, &str)]) -> BTreeMap<String, String> {
        files.iter().map(|(n, t)| (n.to_string(), t.to_string())).collect()
    }

    const ORGS: &str = "\u{feff}sourcedId,status,dateLastModified,name,type,identifier,parentSourcedId\r\n\
        s1,,,\"Het Baken, locatie Noord\",school,,\r\n";
    const COURSES: &str = "sourcedId,status,dateLastModified,schoolYearSourcedId,title,courseCode,grades,orgSourcedId,subjects,subjectCodes\n\
        c1,,,,Wiskunde,WI,,s1,,\n";
    const CLASSES: &str = "sourcedId,status,dateLastModified,title,grades,courseSourcedId,classCode,classType,location,schoolSourcedId,termSourcedIds,subjects,subjectCodes,periods\n\
        k1,,,3A wiskunde,,c1,3A-WI,scheduled,B-204,s1,t1,,,\n\
        k2,,,3B wiskunde,,c9,3B-WI,scheduled,B-205,s1,t1,,,\n";
    const USERS: &str = "sourcedId,status,dateLastModified,enabledUser,orgSourcedIds,role,username,userIds,givenName,familyName,middleName,identifier,email,sms,phone,agentSourcedIds,grades,password\n\
        \n\
        u1,,,true,s1,student,anna,,Anna,\"de Vries\",,1001,anna@school.nl,,,,,\n\
        u2,,,true,s1,student,bram,,Bram,Jansen,,1002,,,,,,\n\
        u3,,,true,s1,pupil,cem,,Cem,Yilmaz,,1003,,,,,,\n\
        u4,,,maybe,s1,teacher,jd,,Jan,Dekker,,,,,,,,\n";
    const ENROLLMENTS: &str = "sourcedId,status,dateLastModified,classSourcedId,schoolSourcedId,userSourcedId,role,primary,beginDate,endDate\n\
        e1,,,k1,s1,u1,student,false,,\n\
        e2,,,k1,s1,u2,student,false,,\n\
        e3,,,k1,s1,u3,student,false,,\n\
        e1,,,k1,s1,u2,student,false,,\n";

    #[test]
    fn good_rows_load_and_each_broken_one_says_file_line_and_why() {
        let r = read(
            &bundle(&[
                ("orgs.csv", ORGS),
                ("courses.csv", COURSES),
                ("classes.csv", CLASSES),
                ("users.csv", USERS),
                ("enrollments.csv", ENROLLMENTS),
            ]),
            &Known::default(),
        );
        assert_eq!(r.orgs[0].name, "Het Baken, locatie Noord", "quotes and commas, and a BOM before the header");
        assert_eq!(r.classes.iter().map(|c| c.id.as_str()).collect::<Vec<_>>(), ["k1"]);
        assert_eq!(
            r.users.iter().map(|u| u.id.as_str()).collect::<Vec<_>>(),
            ["u1", "u2"],
            "the empty line is skipped"
        );
        assert_eq!(r.users[0].family_name, "de Vries");
        assert_eq!(r.enrollments.iter().map(|e| e.id.as_str()).collect::<Vec<_>>(), ["e1", "e2"]);
        let errors: Vec<String> = r.errors.iter().map(ToString::to_string).collect();
        assert_eq!(
            errors,
            [
                "classes.csv line 3: course \"c9\" is in no file and not in the store",
                "users.csv line 5: role \"pupil\" is not a OneRoster role",
                "users.csv line 6: enabledUser \"maybe\" (true or false)",
                "enrollments.csv line 4: user \"u3\" is in no file and not in the store",
                "enrollments.csv line 5: sourcedId \"e1\" appears twice",
            ]
        );
    }

    #[test]
    fn a_delta_may_refer_to_what_the_store_holds_and_delete_rows() {
        let delta = "sourcedId,status,dateLastModified,classSourcedId,schoolSourcedId,userSourcedId,role,primary,beginDate,endDate\n\
            e2,tobedeleted,2026-11-20T10:00:00Z,k1,s1,u2,student,false,,\n";
        let known =
            Known { orgs: vec!["s1".into()], classes: vec!["k1".into()], users: vec!["u2".into()], ..Known::default() };
        let r = read(&bundle(&[("enrollments.csv", delta)]), &known);
        assert!(r.errors.is_empty(), "{:?}", r.errors);
        assert_eq!(r.enrollments[0].status, Status::ToBeDeleted);
    }

    #[test]
    fn a_file_without_a_required_column_is_reported_once() {
        let r = read(&bundle(&[("orgs.csv", "sourcedId,name\ns1,Het Baken\n")]), &Known::default());
        assert_eq!(r.errors.len(), 1);
        assert_eq!(r.errors[0].to_string(), "orgs.csv line 1: no column \"type\"");
        assert!(r.orgs.is_empty());
    }

    #[test]
    fn a_dutch_class_list_sorts_by_the_name_without_its_prefix() {
        let mut names =
            [("de Vries", "Anna"), ("Jansen", "Bram"), ("van der Berg", "Cem"), ("Bakker", "Daan"), ("'t Hart", "Eva")];
        names.sort_by_key(|(f, g)| sort_key(f, g));
        assert_eq!(
            names.iter().map(|(f, _)| *f).collect::<Vec<_>>(),
            ["Bakker", "van der Berg", "'t Hart", "Jansen", "de Vries"]
        );
    }

    #[test]
    fn terms_need_dates_in_order() {
        let terms = "sourcedId,status,dateLastModified,title,type,startDate,endDate,parentSourcedId,schoolYear\n\
            t1,,,2026-2027,schoolYear,2026-08-24,2027-07-16,,2027\n\
            t2,,,Periode 1,term,24-08-2026,2026-11-06,t1,2027\n\
            t3,,,Periode 2,term,2026-11-09,2026-11-01,t1,2027\n";
        let r = read(&bundle(&[("academicSessions.csv", terms)]), &Known::default());
        assert_eq!(r.terms.len(), 1);
        assert!(r.errors[0].reason.contains("not a date as YYYY-MM-DD"));
        assert!(r.errors[1].reason.contains("before startDate"));
    }
}
