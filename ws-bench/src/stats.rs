//! Small statistics helpers: percentiles and medians.

/// Nearest-rank percentile of an ascending-sorted slice (`p` in 0..=100).
///
/// Returns `None` for an empty slice. `p` outside 0..=100 is clamped.
pub fn percentile_sorted(sorted: &[u64], p: f64) -> Option<u64> {
    if sorted.is_empty() {
        return None;
    }
    let p = if p.is_nan() { 0.0 } else { p.clamp(0.0, 100.0) };
    // Nearest-rank: the smallest value such that at least p% of the data is <= it.
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    let idx = rank.saturating_sub(1).min(sorted.len() - 1);
    sorted.get(idx).copied()
}

/// Sorts `samples` in place and returns its (p50, p99) by nearest rank.
pub fn p50_p99(samples: &mut [u64]) -> Option<(u64, u64)> {
    samples.sort_unstable();
    Some((
        percentile_sorted(samples, 50.0)?,
        percentile_sorted(samples, 99.0)?,
    ))
}

/// Median of finite values (mean of the two middle ones for an even count).
///
/// Non-finite values are ignored; returns `None` when nothing is left.
pub fn median(values: &[f64]) -> Option<f64> {
    let mut v: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        Some(v[n / 2])
    } else {
        Some((v[n / 2 - 1] + v[n / 2]) / 2.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentile_empty_is_none() {
        assert_eq!(percentile_sorted(&[], 50.0), None);
    }

    #[test]
    fn percentile_nearest_rank() {
        let v: Vec<u64> = (1..=100).collect();
        assert_eq!(percentile_sorted(&v, 50.0), Some(50));
        assert_eq!(percentile_sorted(&v, 99.0), Some(99));
        assert_eq!(percentile_sorted(&v, 100.0), Some(100));
        assert_eq!(percentile_sorted(&v, 0.0), Some(1));
        assert_eq!(percentile_sorted(&v, 150.0), Some(100));
        assert_eq!(percentile_sorted(&[7], 99.0), Some(7));
        assert_eq!(percentile_sorted(&[1, 2], 50.0), Some(1));
        assert_eq!(percentile_sorted(&[1, 2, 3], 50.0), Some(2));
    }

    #[test]
    fn p50_p99_sorts() {
        let mut v = vec![5, 1, 4, 2, 3];
        assert_eq!(p50_p99(&mut v), Some((3, 5)));
        assert_eq!(v, vec![1, 2, 3, 4, 5]);
        assert_eq!(p50_p99(&mut []), None);
    }

    #[test]
    fn median_odd_even_nonfinite() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), Some(2.5));
        assert_eq!(median(&[f64::NAN, 1.0]), Some(1.0));
        assert_eq!(median(&[]), None);
    }
}
