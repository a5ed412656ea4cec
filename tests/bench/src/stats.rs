//! Order statistics of a handful of timings (or rates).

use std::cmp::Ordering;
use std::time::Duration;

/// The nearest-rank `p`-th percentile (`p` in 0..=100) of `samples`; `None` when empty.
/// Values that do not compare (a NaN) count as equal to anything.
pub fn percentile<T: Copy + PartialOrd>(samples: &[T], p: u32) -> Option<T> {
    if samples.is_empty() {
        return None;
    }
    let mut sorted = samples.to_vec();
    sorted.sort_unstable_by(|a, b| a.partial_cmp(b).unwrap_or(Ordering::Equal));
    // Nearest rank: the smallest value with at least p% of the samples at or below it.
    let n = sorted.len();
    let rank = (usize::try_from(p.min(100)).unwrap_or(100) * n).div_ceil(100);
    Some(sorted[rank.clamp(1, n) - 1])
}

/// The median (the lower middle value for an even count, as nearest rank gives).
pub fn median<T: Copy + PartialOrd>(samples: &[T]) -> Option<T> {
    percentile(samples, 50)
}

/// Milliseconds with two decimals, for tables.
pub fn ms(d: Duration) -> String {
    format!("{:.2}", d.as_secs_f64() * 1000.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(ms: &[u64]) -> Vec<Duration> {
        ms.iter().map(|&m| Duration::from_millis(m)).collect()
    }

    #[test]
    fn the_median_of_an_odd_count_is_the_middle_value() {
        assert_eq!(median(&d(&[5, 1, 3])), Some(Duration::from_millis(3)));
    }

    #[test]
    fn rates_have_a_median_too_the_lower_middle_one_for_an_even_count() {
        assert_eq!(median(&[0.72, 0.58, 0.68]), Some(0.68));
        assert_eq!(median(&[4.0, 1.0, 3.0, 2.0]), Some(2.0));
    }

    #[test]
    fn the_p90_of_ten_samples_is_the_ninth_smallest() {
        let s = d(&[10, 1, 9, 2, 8, 3, 7, 4, 6, 5]);
        assert_eq!(percentile(&s, 90), Some(Duration::from_millis(9)));
        assert_eq!(percentile(&s, 100), Some(Duration::from_millis(10)));
    }

    #[test]
    fn no_samples_have_no_percentile() {
        assert_eq!(median::<Duration>(&[]), None);
        assert_eq!(median::<f64>(&[]), None);
    }
}
