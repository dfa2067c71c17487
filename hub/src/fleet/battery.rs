//! When a clicker's battery will run flat, sans-IO: a straight line through its readings of the last
//! two weeks (least squares), extended to the voltage at which two AAA cells stop driving it.

/// Below this the clicker stops working (two AAA cells, 1.0 V each).
pub const EMPTY_MV: f64 = 2_000.0;
/// The readings the trend looks at: the last two weeks.
pub const WINDOW_MS: i64 = 14 * 86_400_000;
/// A warning is due when the battery is expected to run flat within this many days.
pub const WARN_DAYS: f64 = 7.0;

/// Days until the battery reaches [`EMPTY_MV`] at the rate of its recent readings (`(at_ms, mv)`,
/// any order); `None` when it is not draining or there is too little to tell (fewer than three
/// readings, or less than a day between the first and the last).
pub fn days_left(readings: &[(i64, u32)]) -> Option<f64> {
    let latest = readings.iter().map(|r| r.0).max()?;
    let recent: Vec<(f64, f64)> = readings
        .iter()
        .filter(|(at, _)| latest - at <= WINDOW_MS)
        .map(|(at, mv)| ((at - latest) as f64 / 86_400_000.0, f64::from(*mv)))
        .collect();
    let span = recent.iter().map(|r| r.0).fold(0.0f64, f64::min).abs();
    if recent.len() < 3 || span < 1.0 {
        return None;
    }
    let n = recent.len() as f64;
    let (mx, my) = (recent.iter().map(|r| r.0).sum::<f64>() / n, recent.iter().map(|r| r.1).sum::<f64>() / n);
    let sxx: f64 = recent.iter().map(|r| (r.0 - mx).powi(2)).sum();
    let sxy: f64 = recent.iter().map(|r| (r.0 - mx) * (r.1 - my)).sum();
    let slope = sxy / sxx; // mV per day
    if slope >= -0.5 {
        return None; // flat or charging: nothing to warn about
    }
    let now_mv = my + slope * (0.0 - mx); // the line at the latest reading
    Some(((now_mv - EMPTY_MV) / -slope).max(0.0))
}

/// Whether a clicker needs a warning: already low, or flat within [`WARN_DAYS`].
pub fn needs_warning(latest_mv: Option<u32>, days_left: Option<f64>, low_mv: u32) -> bool {
    latest_mv.is_some_and(|mv| mv < low_mv) || days_left.is_some_and(|d| d <= WARN_DAYS)
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: i64 = 86_400_000;

    #[test]
    fn losing_40_mv_a_day_from_2_4_volts_runs_flat_in_ten_days() {
        let readings: Vec<(i64, u32)> = (0..8).map(|d| (d * DAY, 2_680 - 40 * d as u32)).collect();
        let left = days_left(&readings).unwrap();
        assert!((left - 10.0).abs() < 1e-6, "{left}");
        assert!(!needs_warning(Some(2_400), Some(left), 2_300));
        let faster: Vec<(i64, u32)> = (0..8).map(|d| (d * DAY, 2_680 - 60 * d as u32)).collect();
        let left = days_left(&faster).unwrap();
        assert!(left < 7.0 && needs_warning(Some(2_260), Some(left), 2_300));
    }

    #[test]
    fn steady_new_or_sparse_readings_give_no_forecast() {
        assert_eq!(days_left(&[(0, 2_900), (DAY, 2_900), (2 * DAY, 2_901)]), None, "steady");
        assert_eq!(days_left(&[(0, 2_900), (DAY, 2_800)]), None, "two readings say little");
        assert_eq!(days_left(&[(0, 2_900), (3_600_000, 2_880), (7_200_000, 2_860)]), None, "within an hour");
        assert_eq!(days_left(&[]), None);
        // Old readings from before a battery change do not count.
        let mut r: Vec<(i64, u32)> = (0..5).map(|d| (d * DAY, 2_300 - 50 * d as u32)).collect();
        r.extend((20..25).map(|d| (d * DAY, 3_000)));
        assert_eq!(days_left(&r), None);
    }
}
