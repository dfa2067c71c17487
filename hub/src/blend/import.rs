//! Reading a OneRoster bundle from disk: a folder of CSV files or a zip of them (files may sit in a
//! subfolder of the zip). The I/O edge of [`super::roster`].

use std::collections::BTreeMap;
use std::io::Read;
use std::path::Path;

use super::roster::FILES;

/// Why a bundle could not be opened at all.
#[derive(Debug, thiserror::Error)]
pub enum BundleError {
    /// The path is neither a folder nor a zip.
    #[error("{0}: not a folder or a .zip")]
    NotABundle(String),
    /// Reading failed.
    #[error("{0}: {1}")]
    Io(String, std::io::Error),
    /// The zip is broken.
    #[error("{0}: {1}")]
    Zip(String, zip::result::ZipError),
    /// A file is not UTF-8 text.
    #[error("{0} is not UTF-8 text (save it as CSV UTF-8)")]
    NotUtf8(String),
    /// None of the bundle's files is there.
    #[error("{0}: no OneRoster files (orgs.csv, users.csv, …)")]
    Empty(String),
}

fn text(name: &str, bytes: Vec<u8>) -> Result<String, BundleError> {
    String::from_utf8(bytes).map_err(|_| BundleError::NotUtf8(name.to_owned()))
}

/// The bundle's files by name (`users.csv` → its text).
pub fn read_bundle(path: &Path) -> Result<BTreeMap<String, String>, BundleError> {
    let shown = path.display().to_string();
    let mut files = BTreeMap::new();
    if path.is_dir() {
        for name in FILES {
            let file = path.join(name);
            if file.exists() {
                let bytes = std::fs::read(&file).map_err(|e| BundleError::Io(file.display().to_string(), e))?;
                files.insert(name.to_owned(), text(name, bytes)?);
            }
        }
    } else if path.extension().is_some_and(|e| e.eq_ignore_ascii_case("zip")) {
        let f = std::fs::File::open(path).map_err(|e| BundleError::Io(shown.clone(), e))?;
        return read_zip(&shown, f);
    } else {
        return Err(BundleError::NotABundle(shown));
    }
    if files.keys().all(|k| k == "manifest.csv") {
        return Err(BundleError::Empty(shown));
    }
    Ok(files)
}

/// The bundle's files from a zip (`shown` names it in errors); the files may sit in a subfolder.
pub fn read_zip(shown: &str, zip: impl Read + std::io::Seek) -> Result<BTreeMap<String, String>, BundleError> {
    let mut files = BTreeMap::new();
    let mut zip = zip::ZipArchive::new(zip).map_err(|e| BundleError::Zip(shown.to_owned(), e))?;
    for i in 0..zip.len() {
        let mut entry = zip.by_index(i).map_err(|e| BundleError::Zip(shown.to_owned(), e))?;
        let full = entry.name().map_err(|e| BundleError::Zip(shown.to_owned(), e))?.into_owned();
        let base = full.rsplit('/').next().unwrap_or("").to_owned();
        if let Some(name) = FILES.iter().find(|f| **f == base) {
            let mut bytes = Vec::new();
            entry.read_to_end(&mut bytes).map_err(|e| BundleError::Io(format!("{shown}:{base}"), e))?;
            files.insert((*name).to_owned(), text(name, bytes)?);
        }
    }
    if files.keys().all(|k| k == "manifest.csv") {
        return Err(BundleError::Empty(shown.to_owned()));
    }
    Ok(files)
}
