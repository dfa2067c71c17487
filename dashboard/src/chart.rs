//! Charts drawn as SVG on the server: the answer histogram, in a colour-blind-safe palette (Okabe and
//! Ito) with every bar also labelled by letter and count, so colour is never the only cue.

use maud::{Markup, html};

/// The bar colours, one per option A–E (Okabe–Ito: blue, orange, bluish green, reddish purple,
/// vermillion).
pub const PALETTE: [&str; 5] = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#D55E00"];

/// One bar of the histogram.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bar {
    /// Its label under the bar (`A`, `Waar`, `3`).
    pub label: String,
    /// How many chose it.
    pub count: u32,
    /// Whether it is (one of) the correct answer(s); marked with a ✓.
    pub correct: bool,
}

/// The histogram of a question's answers. `summary` is read out by screen readers.
pub fn histogram(bars: &[Bar], summary: &str) -> Markup {
    const W: u32 = 600;
    const H: u32 = 320;
    const BASE: u32 = 270; // the baseline; labels sit below it
    const TOP: u32 = 40; // room for the counts above the tallest bar
    let n = bars.len().max(1) as u32;
    let slot = W / n;
    let bar_w = slot * 3 / 5;
    let max = bars.iter().map(|b| b.count).max().unwrap_or(0).max(1);
    html! {
        svg.histogram xmlns="http://www.w3.org/2000/svg" viewBox={"0 0 " (W) " " (H)} role="img" aria-label=(summary) {
            title { (summary) }
            line x1="0" y1=(BASE) x2=(W) y2=(BASE) stroke="currentColor" stroke-width="2" {}
            @for (i, bar) in bars.iter().enumerate() {
                @let x = i as u32 * slot + (slot - bar_w) / 2;
                @let h = (BASE - TOP) * bar.count / max;
                @let colour = PALETTE[i % PALETTE.len()];
                rect x=(x) y=(BASE - h) width=(bar_w) height=(h) fill=(colour)
                    stroke=(if bar.correct { "currentColor" } else { "none" }) stroke-width="4" {}
                text x=(x + bar_w / 2) y=(BASE - h - 8) text-anchor="middle" font-size="26" font-weight="700" fill="currentColor" {
                    (bar.count)
                }
                text x=(x + bar_w / 2) y=(BASE + 34) text-anchor="middle" font-size="26" fill="currentColor" {
                    (bar.label) @if bar.correct { " ✓" }
                }
            }
        }
    }
}

/// A student in the in-class × online scatter.
#[derive(Debug, Clone, PartialEq)]
pub struct Point {
    /// The student's name.
    pub label: String,
    /// In-class score, 0–1.
    pub in_class: f64,
    /// Online score, 0–1; `None` without online access (drawn on a strip of its own).
    pub online: Option<f64>,
}

/// The in-class × online scatter with the four groups as quadrants (split at 0.5). Students without
/// online access sit on a strip below, never in the "not online" half.
pub fn scatter(points: &[Point], corners: [&str; 4], no_access: &str, summary: &str) -> Markup {
    const S: f64 = 400.0; // the plot's side
    const M: f64 = 40.0; // margin
    const STRIP: f64 = 50.0;
    let x = |v: f64| M + v.clamp(0.0, 1.0) * S;
    let y = |v: f64| M + (1.0 - v.clamp(0.0, 1.0)) * S;
    let total = M * 2.0 + S + STRIP;
    html! {
        svg.scatter xmlns="http://www.w3.org/2000/svg" viewBox={"0 0 " (total) " " (total)} role="img" aria-label=(summary) {
            title { (summary) }
            rect x=(M) y=(M) width=(S) height=(S) fill="none" stroke="currentColor" {}
            line x1=(x(0.5)) y1=(M) x2=(x(0.5)) y2=(M + S) stroke="currentColor" stroke-dasharray="4 4" {}
            line x1=(M) y1=(y(0.5)) x2=(M + S) y2=(y(0.5)) stroke="currentColor" stroke-dasharray="4 4" {}
            // Corners: top right both, top left online only, bottom right in class only, bottom left neither.
            text x=(M + S - 6.0) y=(M + 16.0) text-anchor="end" font-size="13" fill="currentColor" { (corners[0]) }
            text x=(M + 6.0) y=(M + 16.0) font-size="13" fill="currentColor" { (corners[1]) }
            text x=(M + S - 6.0) y=(M + S - 8.0) text-anchor="end" font-size="13" fill="currentColor" { (corners[2]) }
            text x=(M + 6.0) y=(M + S - 8.0) font-size="13" fill="currentColor" { (corners[3]) }
            text x=(M + S / 2.0) y=(M + S + 30.0) text-anchor="middle" font-size="13" fill="currentColor" { "→" }
            text x=(M - 24.0) y=(M + S / 2.0) text-anchor="middle" font-size="13" fill="currentColor" { "↑" }
            text x=(M) y=(M + S + STRIP + 20.0) font-size="12" fill="currentColor" { (no_access) }
            @for p in points {
                @let (cx, cy) = match p.online { Some(o) => (x(p.in_class), y(o)), None => (x(p.in_class), M + S + STRIP) };
                circle cx=(format!("{cx:.1}")) cy=(format!("{cy:.1}")) r="6" fill=(PALETTE[0]) stroke="currentColor" {}
                text x=(format!("{:.1}", cx + 9.0)) y=(format!("{:.1}", cy + 4.0)) font-size="12" fill="currentColor" { (p.label) }
            }
        }
    }
}

/// A colour for a score from 0 to 1: from pale to dark blue, readable whatever one's colour vision.
pub fn shade(v: f64) -> String {
    let v = v.clamp(0.0, 1.0);
    let mix = |from: f64, to: f64| (from + (to - from) * v).round() as u8;
    format!("#{:02x}{:02x}{:02x}", mix(239.0, 8.0), mix(243.0, 48.0), mix(255.0, 107.0))
}

/// A week × student heatmap of the blended index; each cell also shows its number.
pub fn heatmap(students: &[String], weeks: &[String], values: &[Vec<Option<f64>>], summary: &str) -> Markup {
    const CELL_W: f64 = 64.0;
    const CELL_H: f64 = 26.0;
    const LEFT: f64 = 170.0;
    const TOP: f64 = 30.0;
    let width = LEFT + CELL_W * weeks.len() as f64 + 10.0;
    let height = TOP + CELL_H * students.len() as f64 + 10.0;
    html! {
        svg.heatmap xmlns="http://www.w3.org/2000/svg" viewBox={"0 0 " (width) " " (height)} role="img" aria-label=(summary) {
            title { (summary) }
            @for (j, w) in weeks.iter().enumerate() {
                text x=(LEFT + CELL_W * j as f64 + CELL_W / 2.0) y=(TOP - 10.0) text-anchor="middle" font-size="12" fill="currentColor" { (w) }
            }
            @for (i, student) in students.iter().enumerate() {
                @let cy = TOP + CELL_H * i as f64;
                text x=(LEFT - 8.0) y=(cy + CELL_H / 2.0 + 4.0) text-anchor="end" font-size="12" fill="currentColor" { (student) }
                @for (j, v) in values.get(i).map_or(&[][..], Vec::as_slice).iter().enumerate() {
                    @let cx = LEFT + CELL_W * j as f64;
                    @match v {
                        Some(v) => {
                            rect x=(cx) y=(cy) width=(CELL_W - 2.0) height=(CELL_H - 2.0) fill=(shade(*v)) {}
                            text x=(cx + CELL_W / 2.0) y=(cy + CELL_H / 2.0 + 4.0) text-anchor="middle" font-size="11"
                                fill=(if *v > 0.55 { "#ffffff" } else { "#1b1f24" }) { (format!("{:.0}", v * 100.0)) }
                        }
                        None => {
                            rect x=(cx) y=(cy) width=(CELL_W - 2.0) height=(CELL_H - 2.0) fill="none" stroke="#d0d5dc" {}
                        }
                    }
                }
            }
        }
    }
}

/// Lines over weeks (0–1), one per series, each a palette colour and named at its end.
pub fn lines(weeks: &[String], series: &[(String, Vec<Option<f64>>)], summary: &str) -> Markup {
    const W: f64 = 600.0;
    const H: f64 = 240.0;
    const M: f64 = 40.0;
    let n = weeks.len().max(2) as f64 - 1.0;
    let x = |j: usize| M + (W - 2.0 * M) * j as f64 / n;
    let y = |v: f64| M + (H - 2.0 * M) * (1.0 - v.clamp(0.0, 1.0));
    html! {
        svg.lines xmlns="http://www.w3.org/2000/svg" viewBox={"0 0 " (W + 120.0) " " (H)} role="img" aria-label=(summary) {
            title { (summary) }
            line x1=(M) y1=(y(0.0)) x2=(W - M) y2=(y(0.0)) stroke="currentColor" {}
            line x1=(M) y1=(y(0.5)) x2=(W - M) y2=(y(0.5)) stroke="#d0d5dc" stroke-dasharray="4 4" {}
            @for (j, w) in weeks.iter().enumerate() {
                text x=(x(j)) y=(H - 10.0) text-anchor="middle" font-size="11" fill="currentColor" { (w) }
            }
            @for (k, (name, values)) in series.iter().enumerate() {
                @let colour = PALETTE[k % PALETTE.len()];
                @let pts: Vec<String> = values.iter().enumerate().filter_map(|(j, v)| v.map(|v| format!("{:.1},{:.1}", x(j), y(v)))).collect();
                polyline points=(pts.join(" ")) fill="none" stroke=(colour) stroke-width="3" {}
                @for (j, v) in values.iter().enumerate() {
                    @if let Some(v) = v { circle cx=(format!("{:.1}", x(j))) cy=(format!("{:.1}", y(*v))) r="4" fill=(colour) {} }
                }
                @if let Some((j, v)) = values.iter().enumerate().rev().find_map(|(j, v)| v.map(|v| (j, v))) {
                    text x=(x(j) + 8.0) y=(y(v) + 4.0) font-size="12" fill=(colour) { (name) }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bars(counts: &[u32]) -> Vec<Bar> {
        counts
            .iter()
            .enumerate()
            .map(|(i, &count)| Bar { label: ((b'A' + i as u8) as char).to_string(), count, correct: i == 1 })
            .collect()
    }

    #[test]
    fn twenty_three_b_and_five_c_draw_four_labelled_bars() {
        let svg = histogram(&bars(&[0, 23, 5, 0]), "23 B, 5 C").into_string();
        assert_eq!(svg.matches("<rect").count(), 4);
        assert!(svg.contains(">23</text>") && svg.contains(">5</text>"));
        assert!(svg.contains("B ✓"), "the correct answer is marked by more than colour");
        assert!(svg.contains("aria-label=\"23 B, 5 C\""));
        // The tallest bar reaches the top margin; an empty one has no height.
        assert!(svg.contains("y=\"40\" width=\"90\" height=\"230\" fill=\"#E69F00\""), "{svg}");
        assert!(svg.contains("height=\"0\" fill=\"#0072B2\""));
    }

    #[test]
    fn nobody_answered_draws_flat_bars_without_dividing_by_zero() {
        let svg = histogram(&bars(&[0, 0]), "no answers").into_string();
        assert_eq!(svg.matches("height=\"0\"").count(), 2);
    }

    #[test]
    fn the_scatter_puts_each_student_in_their_quadrant_and_no_access_on_its_own_strip() {
        let points = [
            Point { label: "Anna".into(), in_class: 1.0, online: Some(1.0) },
            Point { label: "Cem".into(), in_class: 1.0, online: None },
        ];
        let svg =
            scatter(&points, ["both", "online", "class", "neither"], "no internet at home", "2 students").into_string();
        assert!(svg.contains("cx=\"440.0\" cy=\"40.0\""), "Anna top right: {svg}");
        assert!(svg.contains("cx=\"440.0\" cy=\"490.0\""), "Cem on the strip below the plot");
        assert!(svg.contains(">no internet at home<"));
    }

    #[test]
    fn the_heatmap_shades_and_numbers_each_cell_and_leaves_missing_weeks_blank() {
        let svg = heatmap(&["Anna".into()], &["W47".into(), "W48".into()], &[vec![None, Some(0.8)]], "x").into_string();
        assert!(svg.contains(">80</text>"));
        assert_eq!(svg.matches("fill=\"none\"").count(), 1);
        assert_eq!(shade(0.0), "#eff3ff");
        assert_eq!(shade(1.0), "#08306b");
    }

    #[test]
    fn lines_skip_missing_weeks_and_name_each_series() {
        let svg = lines(
            &["W46".into(), "W47".into(), "W48".into()],
            &[("index".into(), vec![Some(0.5), None, Some(1.0)])],
            "x",
        )
        .into_string();
        assert_eq!(svg.matches("<circle").count(), 2);
        assert!(svg.contains(">index</text>"));
    }

    #[test]
    fn labels_are_escaped() {
        let svg = histogram(&[Bar { label: "<b>".into(), count: 1, correct: false }], "x").into_string();
        assert!(svg.contains("&lt;b&gt;") && !svg.contains("<b>"));
    }
}
