//! The interface's languages: Dutch (the first schools') and English, chosen from Accept-Language.

/// A language the interface speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Lang {
    /// Nederlands, the default.
    #[default]
    Nl,
    /// English.
    En,
}

impl Lang {
    /// The language code.
    pub const fn code(self) -> &'static str {
        match self {
            Lang::Nl => "nl",
            Lang::En => "en",
        }
    }

    /// Picks the best language from an `Accept-Language` header: the first of Dutch or English by
    /// quality, Dutch when neither is asked for.
    pub fn from_accept_language(header: &str) -> Lang {
        let mut best: Option<(f32, Lang)> = None;
        for item in header.split(',') {
            let mut parts = item.trim().split(';');
            let tag = parts.next().unwrap_or("").trim().to_ascii_lowercase();
            let q = parts.find_map(|p| p.trim().strip_prefix("q=")).and_then(|q| q.parse::<f32>().ok()).unwrap_or(1.0);
            let lang = match tag.split('-').next() {
                Some("nl") => Lang::Nl,
                Some("en") => Lang::En,
                _ => continue,
            };
            if q > 0.0 && best.is_none_or(|(bq, _)| q > bq) {
                best = Some((q, lang));
            }
        }
        best.map_or(Lang::default(), |(_, l)| l)
    }

    /// The other language, for the switch on every page.
    pub const fn other(self) -> Lang {
        match self {
            Lang::Nl => Lang::En,
            Lang::En => Lang::Nl,
        }
    }

    /// Parses a language code (`nl`, `en`).
    pub fn parse(code: &str) -> Option<Lang> {
        match code {
            "nl" => Some(Lang::Nl),
            "en" => Some(Lang::En),
            _ => None,
        }
    }

    /// "12 accounts matched automatically".
    pub fn matched_automatically(self, n: usize) -> String {
        match self {
            Lang::Nl => format!("{n} accounts automatisch gekoppeld."),
            Lang::En => format!("{n} accounts matched automatically."),
        }
    }

    /// "flat in ± 5 days".
    pub fn flat_in_days(self, days: u32) -> String {
        match self {
            Lang::Nl => format!("leeg over ± {days} dagen"),
            Lang::En => format!("flat in ± {days} days"),
        }
    }

    /// "3 clickers need new batteries: …" at the start of a lesson.
    pub fn battery_warning(self, n: usize) -> String {
        match self {
            Lang::Nl => format!("{n} stemkastjes hebben bijna lege batterijen:"),
            Lang::En => format!("{n} clickers need new batteries soon:"),
        }
    }

    /// What a roster import did.
    pub fn roster_counts(self, added: usize, updated: usize, removed: usize, unchanged: usize) -> String {
        match self {
            Lang::Nl => {
                format!("{added} toegevoegd, {updated} bijgewerkt, {removed} verwijderd, {unchanged} ongewijzigd")
            }
            Lang::En => format!("{added} added, {updated} updated, {removed} removed, {unchanged} unchanged"),
        }
    }

    /// "3 paired".
    pub fn paired_count(self, n: u32) -> String {
        match self {
            Lang::Nl => format!("{n} gekoppeld"),
            Lang::En => format!("{n} paired"),
        }
    }

    /// "1 wrong code" / "2 wrong codes".
    pub fn wrong_codes(self, n: u32) -> String {
        match (self, n) {
            (Lang::Nl, 1) => "1 foute code".into(),
            (Lang::Nl, n) => format!("{n} foute codes"),
            (Lang::En, 1) => "1 wrong code".into(),
            (Lang::En, n) => format!("{n} wrong codes"),
        }
    }

    /// "23 of 28 answered" / "23 van 28 beantwoord".
    pub fn answered(self, answered: u32, expected: u32) -> String {
        match self {
            Lang::Nl => format!("{answered} van {expected} beantwoord"),
            Lang::En => format!("{answered} of {expected} answered"),
        }
    }
}

/// The interface's words: `name: "Nederlands", "English";` becomes `Lang::name(self)`.
macro_rules! words {
    ($($(#[$doc:meta])* $name:ident: $nl:literal, $en:literal;)*) => {
        impl Lang {
            $(
                $(#[$doc])*
                #[doc = concat!("\"", $en, "\" / \"", $nl, "\"")]
                pub const fn $name(self) -> &'static str {
                    match self {
                        Lang::Nl => $nl,
                        Lang::En => $en,
                    }
                }
            )*
        }
    };
}

words! {
    language_name: "Nederlands", "English";
    app_name: "classhub", "classhub";
    log_in: "Inloggen", "Log in";
    log_out: "Uitloggen", "Log out";
    username: "Gebruikersnaam", "User name";
    password: "Wachtwoord", "Password";
    wrong_login: "Gebruikersnaam of wachtwoord klopt niet.", "User name or password is wrong.";
    too_many_tries: "Te veel pogingen. Probeer het over een paar seconden opnieuw.", "Too many tries. Try again in a few seconds.";
    rooms: "Lokalen", "Rooms";
    room: "Lokaal", "Room";
    devices: "Stemkastjes", "Clickers";
    no_rooms: "Nog geen lokalen: een technicus registreert eerst stemkastjes.", "No rooms yet: a technician registers clickers first.";
    open_room: "Openen", "Open";
    lesson: "Les", "Session";
    no_lesson: "Er loopt geen les in dit lokaal.", "No session is running in this room.";
    class_name: "Klas", "Class";
    start_lesson: "Les starten", "Start session";
    end_lesson: "Les beëindigen", "End session";
    ask_question: "Vraag stellen", "Ask a question";
    kind: "Soort", "Kind";
    kind_single: "Eén antwoord", "Single choice";
    kind_multi: "Meer antwoorden", "Multiple choice";
    kind_truefalse: "Waar / niet waar", "True / false";
    kind_scale: "Schaal 1–5", "Scale 1–5";
    options: "Aantal opties", "Options";
    correct_answer: "Goed antwoord (optioneel)", "Correct answer (optional)";
    countdown: "Aftellen in seconden (optioneel)", "Countdown in seconds (optional)";
    open_question: "Vraag openen", "Open question";
    close_question: "Vraag sluiten", "Close question";
    reveal: "Antwoord tonen", "Reveal";
    question: "Vraag", "Question";
    no_question: "Nog geen vraag gesteld.", "No question asked yet.";
    is_open: "open", "open";
    is_closed: "gesloten", "closed";
    is_revealed: "getoond", "revealed";
    who_answered: "Wie heeft geantwoord", "Who has answered";
    distribution: "Verdeling", "Distribution";
    true_word: "Waar", "True";
    false_word: "Niet waar", "False";
    seconds_left: "seconden", "seconds";
    projector_view: "Beamerweergave", "Projector view";
    projector_link_help: "Open deze link op de computer van de beamer; er is geen login nodig.", "Open this link on the projector's computer; it needs no login.";
    new_link: "Nieuwe link maken (de oude werkt dan niet meer)", "Make a new link (the old one stops working)";
    connection_lost: "Verbinding met de hub verbroken; opnieuw verbinden…", "Connection to the hub lost; reconnecting…";
    connection_back: "Weer verbonden.", "Connected again.";
    waiting_for_question: "Wacht op de volgende vraag…", "Waiting for the next question…";
    device: "Stemkastje", "Clicker";
    student: "Leerling", "Student";
    battery: "Batterij", "Battery";
    signal: "Signaal", "Signal";
    firmware: "Firmware", "Firmware";
    last_seen: "Laatst gezien", "Last seen";
    status: "Status", "Status";
    online: "online", "online";
    offline: "offline", "offline";
    never: "nooit", "never";
    battery_low: "batterij bijna leeg", "battery low";
    only_battery_low: "Alleen batterij bijna leeg", "Only battery low";
    not_seen_days: "Niet gezien sinds (dagen)", "Not seen for (days)";
    filter: "Filteren", "Filter";
    sort_by: "Sorteren op", "Sort by";
    register_device: "Stemkastje registreren", "Register a clicker";
    register: "Registreren", "Register";
    registered: "Geregistreerd. Zet deze sleutel op het stemkastje; hij wordt niet opnieuw getoond.", "Registered. Put this key on the clicker; it is not shown again.";
    key: "Sleutel", "Key";
    reassign: "Toewijzen", "Assign";
    no_devices: "Geen stemkastjes gevonden.", "No clickers found.";
    pairing: "Koppelen", "Pairing";
    firmware_updates: "Firmware-updates", "Firmware updates";
    fw_roll_out: "Uitrollen", "Roll out";
    fw_image: "Ondertekende firmware (classhub firmware sign)", "Signed firmware (classhub firmware sign)";
    fw_first: "Eerst naar zoveel stemkastjes", "First to this many clickers";
    fw_max_failures: "Stoppen boven zoveel procent mislukt", "Halt above this percentage failed";
    fw_never_in_a_lesson: "Een lokaal wordt nooit tijdens een les bijgewerkt: de update wacht tot de les voorbij is.", "A room is never updated during a lesson: the update waits until the lesson ends.";
    fw_stage: "Ronde", "Stage";
    fw_progress: "Voortgang", "Progress";
    fw_waiting_for_lesson: "wacht tot de les voorbij is", "waiting for the lesson to end";
    fw_running: "bezig", "running";
    fw_halted: "gestopt", "halted";
    fw_done: "klaar", "done";
    fw_starting: "start", "starting";
    fw_queued: "wacht", "waiting";
    fw_offered: "aangeboden", "offered";
    fw_sending: "ontvangt", "receiving";
    fw_installing: "installeert", "installing";
    fw_updated: "bijgewerkt", "updated";
    fw_failed: "mislukt", "failed";
    checked_in_by: "Aangemeld met", "Checked in by";
    by_clicker: "stemkastje", "clicker";
    by_card: "schoolpas", "school card";
    type_the_code: "Typ deze code op je stemkastje", "Type this code on your clicker";
    open_pairing: "Koppelen starten", "Start pairing";
    close_pairing: "Koppelen stoppen", "Stop pairing";
    pair_mode: "Koppelen aan", "Pair to";
    pair_class_in_order: "een klas, op volgorde van de leerlingenlijst", "a class, in roster order";
    pair_one_student: "één leerling (of vervangen)", "one student (or a replacement)";
    pair_loaner: "leenexemplaar voor één les", "a loaner for one lesson";
    pair_room_only: "alleen het lokaal (later toewijzen)", "the room only (assign later)";
    pair_seconds: "Seconden open (hoogstens 254)", "Seconds open (254 at most)";
    loaner: "leenexemplaar", "loaner";
    unpair: "Ontkoppelen", "Unpair";
    replace: "Vervangen", "Replace";
    forbidden: "Deze pagina is niet voor jouw rol.", "This page is not for your role.";
    attendance: "Aanwezigheid", "Attendance";
    present: "aanwezig", "present";
    late: "te laat", "late";
    absent: "afwezig", "absent";
    excused: "geoorloofd afwezig", "excused";
    not_yet: "nog niet gezien", "not seen yet";
    first_seen: "Eerst gezien", "First seen";
    earned: "Volgens stemkastje", "By clicker";
    counts_as: "Telt als", "Counts as";
    change: "Wijzigen", "Change";
    changed_by: "gewijzigd door", "changed by";
    sessions: "Lessen", "Sessions";
    date: "Datum", "Date";
    history: "Geschiedenis", "History";
    export_csv: "Exporteren (CSV)", "Export (CSV)";
    from_date: "Van", "From";
    to_date: "Tot en met", "To";
    summary: "Samenvatting", "Summary";
    questions_asked: "Vragen gesteld", "Questions asked";
    response_rate: "Respons", "Response rate";
    correct_rate: "Goed beantwoord", "Correct";
    never_answered: "Nooit geantwoord", "Never answered";
    everyone_answered: "Iedereen heeft minstens één keer geantwoord.", "Everyone answered at least once.";
    running: "loopt", "running";
    no_sessions: "Nog geen lessen.", "No sessions yet.";
    accounts: "Accounts", "Accounts";
    add_account: "Account aanmaken", "Add account";
    account_made: "Account aangemaakt. Geef dit wachtwoord door; het wordt niet opnieuw getoond.", "Account made. Pass on this password; it is not shown again.";
    role: "Rol", "Role";
    role_teacher: "Docent", "Teacher";
    role_technician: "Technicus", "Technician";
    role_admin: "Beheerder", "Admin";
    roster: "Leerlingenlijst (OneRoster)", "Roster (OneRoster)";
    roster_file: "OneRoster 1.1 CSV-bestand (.zip)", "OneRoster 1.1 CSV bundle (.zip)";
    import: "Importeren", "Import";
    online_review: "Online accounts nakijken", "Online accounts to check";
    review_help: "Deze accounts uit de online leeromgeving passen bij geen of bij meer leerlingen. Kies wie het is; er wordt niet gegokt.", "These accounts from the online learning environment fit no student or several. Choose who it is; nothing is guessed.";
    not_a_student: "Geen leerling", "Not a student";
    ambiguous: "meerdere leerlingen mogelijk", "several students fit";
    unmatched: "geen leerling gevonden", "no student found";
    account: "Account", "Account";
    activities: "Activiteiten", "Activities";
    save: "Opslaan", "Save";
    nothing_to_check: "Niets na te kijken.", "Nothing to check.";
    engagement: "Betrokkenheid", "Engagement";
    week: "Week", "Week";
    show: "Tonen", "Show";
    previous_week: "Vorige week", "Previous week";
    next_week: "Volgende week", "Next week";
    in_class: "In de les", "In class";
    online_word: "Online", "Online";
    index_word: "Index", "Index";
    trend_word: "Trend", "Trend";
    group_word: "Groep", "Group";
    group_both: "in de les en online", "in class and online";
    group_online_only: "alleen online", "online only";
    group_in_class_only: "alleen in de les", "in class only";
    group_neither: "geen van beide", "neither";
    no_online_access: "geen internet thuis", "no internet at home";
    mark_no_online: "Geen internet thuis", "No internet at home";
    lessons_word: "lessen", "lessons";
    questions_word: "vragen", "questions";
    days_word: "dagen", "days";
    events_word: "activiteiten", "events";
    completed_word: "afgerond", "completed";
    score_word: "score", "score";
    no_data: "Geen lessen van deze klas in deze week.", "No lessons of this class in this week.";
    weeks_view: "Per week", "By week";
    weights_word: "Gewichten van de index", "Weights of the index";
    scatter_title: "In de les × online", "In class × online";
    roster_refused: "Deze regels zijn niet geladen (de rest wel):", "These rows were not loaded (the rest were):";
    not_found: "Niet gevonden.", "Not found.";
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_dutch_browser_gets_dutch_and_an_english_one_english() {
        assert_eq!(Lang::from_accept_language("nl-NL,nl;q=0.9,en-US;q=0.8"), Lang::Nl);
        assert_eq!(Lang::from_accept_language("en-GB,en;q=0.9"), Lang::En);
        assert_eq!(Lang::from_accept_language("de-DE,en;q=0.5,nl;q=0.7"), Lang::Nl);
        assert_eq!(Lang::from_accept_language("fr-FR"), Lang::Nl, "Dutch when neither is asked for");
        assert_eq!(Lang::from_accept_language("nl;q=0,en"), Lang::En);
        assert_eq!(Lang::from_accept_language(""), Lang::Nl);
    }

    #[test]
    fn the_words_follow_the_glossary() {
        assert_eq!(Lang::Nl.reveal(), "Antwoord tonen");
        assert_eq!(Lang::Nl.devices(), "Stemkastjes");
        assert_eq!(Lang::Nl.projector_view(), "Beamerweergave");
        assert_eq!(Lang::En.battery_low(), "battery low");
        assert_eq!(Lang::Nl.other(), Lang::En);
        assert_eq!(Lang::parse("en"), Some(Lang::En));
        assert_eq!(Lang::parse("de"), None);
    }

    #[test]
    fn the_count_reads_naturally_in_both_languages() {
        assert_eq!(Lang::Nl.answered(23, 28), "23 van 28 beantwoord");
        assert_eq!(Lang::En.answered(23, 28), "23 of 28 answered");
    }
}
