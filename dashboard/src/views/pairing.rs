//! Pairing as people see it: on the projector, the code to type with a countdown and how many
//! clickers are paired (never a name); on the technician's page, the form that opens a window in one
//! of four modes and the windows open now, each closable.

use maud::{Markup, html};

use crate::i18n::Lang;

/// An open pairing window.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PairingPanel {
    /// The room.
    pub room: String,
    /// The code, e.g. `BDAECAB`.
    pub code: String,
    /// Until it closes by itself.
    pub remaining_ms: u64,
    /// Clickers paired so far.
    pub paired: u32,
    /// Wrong codes so far.
    pub wrong: u32,
}

fn code_boxes(code: &str) -> Markup {
    html! { p.code aria-label=(code) { @for c in code.chars() { span { (c) } } } }
}

/// "42 seconds left", counted down by the page's script.
pub(crate) fn countdown(lang: Lang, remaining_ms: u64) -> Markup {
    let ms = remaining_ms;
    html! { p.clock data-remaining-ms=(ms) { span.n { (ms.div_ceil(1000)) } " " (lang.seconds_left()) } }
}

/// The projector while a pairing window is open in its room.
pub fn projector_pairing(lang: Lang, p: &PairingPanel) -> Markup {
    html! {
        section.pairing {
            h1 { (lang.pairing()) }
            p { (lang.type_the_code()) }
            (code_boxes(&p.code))
            p.count { (lang.paired_count(p.paired)) }
            (countdown(lang, p.remaining_ms))
        }
    }
}

/// A roster class to pair in order: (sourcedId, title).
pub type ClassChoice = (String, String);

/// The technician's pairing section: open windows, then the form to open one.
pub fn technician_pairing(lang: Lang, open: &[PairingPanel], classes: &[ClassChoice]) -> Markup {
    html! {
        section.pairing-admin {
            h2 { (lang.pairing()) }
            @for p in open {
                div.notice role="status" {
                    p { strong { (lang.room()) " " (p.room) } ": " (lang.type_the_code()) }
                    (code_boxes(&p.code))
                    p { (lang.paired_count(p.paired)) " · " (lang.wrong_codes(p.wrong)) }
                    (countdown(lang, p.remaining_ms))
                    form.inline method="post" action={"/rooms/" (p.room) "/pairing/close"} {
                        button.secondary type="submit" { (lang.close_pairing()) }
                    }
                }
            }
            form method="post" action="/pairing" {
                label for="pair-room" { (lang.room()) }
                input #pair-room name="room" required maxlength="32";
                fieldset {
                    legend { (lang.pair_mode()) }
                    label { input type="radio" name="mode" value="class" checked; " " (lang.pair_class_in_order()) }
                    label { input type="radio" name="mode" value="student"; " " (lang.pair_one_student()) }
                    label { input type="radio" name="mode" value="loaner"; " " (lang.pair_loaner()) }
                    label { input type="radio" name="mode" value="room"; " " (lang.pair_room_only()) }
                }
                label for="pair-class" { (lang.class_name()) }
                select #pair-class name="class" {
                    option value="" { "—" }
                    @for (id, title) in classes { option value=(id) { (title) } }
                }
                label for="pair-student" { (lang.student()) }
                input #pair-student name="student" maxlength="64";
                label for="pair-seconds" { (lang.pair_seconds()) }
                input #pair-seconds name="seconds" type="number" min="1" max="254" value="60";
                p { button type="submit" { (lang.open_pairing()) } }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn panel() -> PairingPanel {
        PairingPanel { room: "b-204".into(), code: "BDAECAB".into(), remaining_ms: 41_500, paired: 3, wrong: 1 }
    }

    #[test]
    fn the_projector_shows_the_code_a_countdown_and_a_count_but_no_names() {
        let html = projector_pairing(Lang::Nl, &panel()).into_string();
        assert!(html.contains("<span>B</span><span>D</span><span>A</span>"), "{html}");
        assert!(html.contains("3 gekoppeld"));
        assert!(html.contains("data-remaining-ms=\"41500\"") && html.contains(">42<"));
        let en = projector_pairing(Lang::En, &panel()).into_string();
        assert!(en.contains("Type this code on your clicker") && en.contains("3 paired"), "{en}");
    }

    #[test]
    fn the_technician_sees_open_windows_with_a_close_button_and_the_four_modes() {
        let classes = vec![("k1".to_owned(), "3A wiskunde".to_owned())];
        let html = technician_pairing(Lang::Nl, &[panel()], &classes).into_string();
        assert!(html.contains("action=\"/rooms/b-204/pairing/close\""));
        assert!(html.contains("1 foute code"), "{html}");
        for mode in ["class", "student", "loaner", "room"] {
            assert!(html.contains(&format!("value=\"{mode}\"")), "{mode}");
        }
        assert!(html.contains("<option value=\"k1\">3A wiskunde</option>"));
    }
}
