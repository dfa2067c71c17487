//! The technician's firmware page: upload a signed image and roll it out to a room (a few clickers
//! first, then the rest), and follow each room's latest rollout clicker by clicker.

use maud::{Markup, html};

use super::{Chrome, page};
use crate::i18n::Lang;

/// One clicker in a rollout.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetRow {
    /// The clicker.
    pub device: String,
    /// 1 or 2.
    pub stage: u8,
    /// `waiting`, `offered`, `sending`, `installing`, `done` or `failed`.
    pub step: String,
    /// How much of the image it has, in percent.
    pub percent: u8,
    /// Why it failed.
    pub error: Option<String>,
}

/// A room's latest rollout.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RolloutPanel {
    /// The room.
    pub room: String,
    /// The version it brings.
    pub version: String,
    /// `new`, `waiting_for_lesson`, `running`, `halted` or `done`.
    pub phase: String,
    /// The stage under way.
    pub stage: u8,
    /// Why it halted.
    pub detail: Option<String>,
    /// Its clickers.
    pub targets: Vec<TargetRow>,
}

fn phase_word(lang: Lang, phase: &str) -> &'static str {
    match phase {
        "waiting_for_lesson" => lang.fw_waiting_for_lesson(),
        "running" => lang.fw_running(),
        "halted" => lang.fw_halted(),
        "done" => lang.fw_done(),
        _ => lang.fw_starting(),
    }
}

fn step_word(lang: Lang, step: &str) -> &'static str {
    match step {
        "offered" => lang.fw_offered(),
        "sending" => lang.fw_sending(),
        "installing" => lang.fw_installing(),
        "done" => lang.fw_updated(),
        "failed" => lang.fw_failed(),
        _ => lang.fw_queued(),
    }
}

/// The page.
pub fn firmware(chrome: &Chrome, rollouts: &[RolloutPanel], error: Option<&str>) -> Markup {
    let lang = chrome.lang;
    page(
        chrome,
        lang.firmware_updates(),
        None,
        "",
        html! {
            h1 { (lang.firmware_updates()) }
            @if let Some(error) = error { p.error role="alert" { (error) } }
            fieldset {
                legend { (lang.fw_roll_out()) }
                form method="post" action="/firmware" enctype="multipart/form-data" {
                    label for="fw-image" { (lang.fw_image()) }
                    input #fw-image type="file" name="image" required;
                    label for="fw-room" { (lang.room()) }
                    input #fw-room name="room" required maxlength="32";
                    label for="fw-first" { (lang.fw_first()) }
                    input #fw-first name="first" type="number" min="0" value="2";
                    label for="fw-max" { (lang.fw_max_failures()) }
                    input #fw-max name="max_failures" type="number" min="0" max="100" value="20";
                    p { small { (lang.fw_never_in_a_lesson()) } }
                    p { button type="submit" { (lang.fw_roll_out()) } }
                }
            }
            @for r in rollouts {
                section.rollout {
                    h2 { (lang.room()) " " (r.room) ": " (r.version) }
                    p {
                        strong { (phase_word(lang, &r.phase)) }
                        @if r.phase == "running" { " (" (lang.fw_stage()) " " (r.stage) ")" }
                        @if let Some(d) = &r.detail { ": " (d) }
                    }
                    table {
                        thead { tr { th { (lang.device()) } th { (lang.fw_stage()) } th { (lang.status()) } th { (lang.fw_progress()) } } }
                        tbody {
                            @for t in &r.targets {
                                tr class=[(t.step == "failed").then_some("low")] {
                                    td { code { (t.device) } }
                                    td { (t.stage) }
                                    td { (step_word(lang, &t.step)) @if let Some(e) = &t.error { br; small { (e) } } }
                                    td { progress max="100" value=(t.percent) { (t.percent) "%" } " " (t.percent) "%" }
                                }
                            }
                        }
                    }
                }
            }
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_halted_rollout_shows_why_and_each_clicker_with_its_progress() {
        let chrome = Chrome { lang: Lang::Nl, user: Some("tech".into()), links: vec![], path: "/firmware".into() };
        let panel = RolloutPanel {
            room: "b-204".into(),
            version: "0.2.0".into(),
            phase: "halted".into(),
            stage: 1,
            detail: Some("2 of 2 clickers failed in stage 1".into()),
            targets: vec![
                TargetRow {
                    device: "c-1".into(),
                    stage: 1,
                    step: "failed".into(),
                    percent: 0,
                    error: Some("bad_signature".into()),
                },
                TargetRow { device: "c-2".into(), stage: 2, step: "waiting".into(), percent: 0, error: None },
            ],
        };
        let html = firmware(&chrome, &[panel], None).into_string();
        assert!(html.contains("<strong>gestopt</strong>: 2 of 2 clickers failed in stage 1"), "{html}");
        assert!(html.contains("mislukt<br><small>bad_signature</small>"));
        assert!(html.contains("enctype=\"multipart/form-data\""));
        assert!(html.contains("nooit tijdens een les"));
    }
}
