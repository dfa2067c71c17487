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
    fn labels_are_escaped() {
        let svg = histogram(&[Bar { label: "<b>".into(), count: 1, correct: false }], "x").into_string();
        assert!(svg.contains("&lt;b&gt;") && !svg.contains("<b>"));
    }
}
