//! Matching online identities to roster students, sans-IO: by account (the LMS user name), by
//! e-mail (compared as keyed hashes), by name (accents, case and spacing aside). One candidate is a
//! match; none or several go to a teacher's review list instead of a guess.

use std::collections::BTreeMap;

/// A roster student as matching sees them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Student {
    /// The roster's sourcedId.
    pub id: String,
    /// Given name.
    pub given: String,
    /// Family name (with any prefix: "de Vries").
    pub family: String,
    /// The school's user name for them.
    pub username: String,
    /// The keyed hash of their e-mail, if the roster had one.
    pub email_hash: Option<String>,
}

/// What matching found for one identity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Match {
    /// Exactly this student.
    Student(String),
    /// No student fits.
    Unmatched,
    /// Several students fit (their ids).
    Ambiguous(Vec<String>),
}

/// A name for comparing: lower case, accents off, one space between words.
pub fn normalize(name: &str) -> String {
    let plain: String = name
        .to_lowercase()
        .chars()
        .map(|c| match c {
            'á' | 'à' | 'ä' | 'â' | 'ã' | 'å' => 'a',
            'é' | 'è' | 'ë' | 'ê' => 'e',
            'í' | 'ì' | 'ï' | 'î' => 'i',
            'ó' | 'ò' | 'ö' | 'ô' | 'õ' => 'o',
            'ú' | 'ù' | 'ü' | 'û' => 'u',
            'ç' => 'c',
            'ñ' => 'n',
            'ş' => 's',
            'ğ' => 'g',
            'ı' => 'i',
            c if c.is_alphanumeric() => c,
            _ => ' ',
        })
        .collect();
    plain.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The roster, indexed for matching.
#[derive(Debug, Default)]
pub struct Index {
    by_name: BTreeMap<String, Vec<String>>,
    by_username: BTreeMap<String, Vec<String>>,
    by_email: BTreeMap<String, Vec<String>>,
}

impl Index {
    /// Indexes `students`: each by "given family" and "family, given" (as Canvas sorts), by user
    /// name, and by e-mail hash.
    pub fn new(students: &[Student]) -> Index {
        let mut index = Index::default();
        for s in students {
            let names = [format!("{} {}", s.given, s.family), format!("{} {}", s.family, s.given)];
            for name in names.iter().map(|n| normalize(n)) {
                let ids = index.by_name.entry(name).or_default();
                if !ids.contains(&s.id) {
                    ids.push(s.id.clone());
                }
            }
            index.by_username.entry(s.username.to_lowercase()).or_default().push(s.id.clone());
            if let Some(h) = &s.email_hash {
                index.by_email.entry(h.clone()).or_default().push(s.id.clone());
            }
        }
        index
    }

    fn one_of(ids: Option<&Vec<String>>) -> Match {
        match ids.map(Vec::as_slice) {
            None | Some([]) => Match::Unmatched,
            Some([one]) => Match::Student(one.clone()),
            Some(many) => Match::Ambiguous(many.to_vec()),
        }
    }

    /// Matches an identity as stored with online activity: `name:…`, `canvas:ID|name`,
    /// `account:homePage|name`, `mbox:mailto:…` (`hash` turns an address into its keyed hash).
    pub fn find(&self, identity: &str, hash: impl Fn(&str) -> String) -> Match {
        if let Some(name) = identity.strip_prefix("name:") {
            return Index::one_of(self.by_name.get(&normalize(name)));
        }
        if let Some(rest) = identity.strip_prefix("canvas:") {
            let name = rest.split_once('|').map_or(rest, |(_, n)| n);
            return Index::one_of(self.by_name.get(&normalize(name)));
        }
        if let Some(rest) = identity.strip_prefix("account:") {
            let name = rest.rsplit_once('|').map_or(rest, |(_, n)| n);
            return Index::one_of(self.by_username.get(&name.to_lowercase()));
        }
        if let Some(mbox) = identity.strip_prefix("mbox:") {
            let address = mbox.strip_prefix("mailto:").unwrap_or(mbox);
            return Index::one_of(self.by_email.get(&hash(address)));
        }
        Match::Unmatched
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn student(id: &str, given: &str, family: &str, username: &str, email: Option<&str>) -> Student {
        Student {
            id: id.into(),
            given: given.into(),
            family: family.into(),
            username: username.into(),
            email_hash: email.map(|e| format!("h:{e}")),
        }
    }

    fn class() -> Index {
        Index::new(&[
            student("u1", "Anna", "de Vries", "anna.devries", Some("anna@school.nl")),
            student("u2", "Bram", "Jansen", "bjansen", None),
            student("u3", "Bram", "Jansen", "bjansen2", None),
            student("u4", "Zoë", "Çelik", "zcelik", None),
        ])
    }

    fn hash(address: &str) -> String {
        format!("h:{}", address.to_lowercase())
    }

    #[test]
    fn by_name_account_and_email_and_never_a_guess() {
        let index = class();
        assert_eq!(index.find("name:Anna de Vries", hash), Match::Student("u1".into()));
        assert_eq!(index.find("name:  anna   DE vries ", hash), Match::Student("u1".into()));
        assert_eq!(index.find("canvas:4711|de Vries, Anna", hash), Match::Student("u1".into()), "sortable name");
        assert_eq!(index.find("name:Zoe Celik", hash), Match::Student("u4".into()), "accents aside");
        assert_eq!(index.find("account:https://moodle.school.nl|ANNA.DEVRIES", hash), Match::Student("u1".into()));
        assert_eq!(index.find("mbox:mailto:Anna@School.nl", hash), Match::Student("u1".into()));
        assert_eq!(
            index.find("name:Bram Jansen", hash),
            Match::Ambiguous(vec!["u2".into(), "u3".into()]),
            "two Brams: a teacher decides"
        );
        assert_eq!(index.find("name:Cem Yilmaz", hash), Match::Unmatched);
        assert_eq!(index.find("sha1:0123", hash), Match::Unmatched);
    }
}
