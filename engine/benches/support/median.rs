//! The median of a bench's rounds (shared by the engine's and the server's benches),
//! and how far it can be trusted on a noisy host.

pub fn median(mut figures: Vec<f64>) -> f64 {
    figures.sort_by(f64::total_cmp);
    figures[figures.len() / 2]
}

/// The median and a 95 % confidence interval for it: the order statistics k and
/// n + 1 − k, with k the largest rank whose binomial tail (at ½) is at most 2.5 %.
/// Distribution-free, so it holds for whatever shape the host's noise takes; with
/// fewer than 6 figures no such interval exists and the extremes are given.
#[allow(dead_code)] // Not every bench that includes this file reports one.
pub fn median_interval(mut figures: Vec<f64>) -> (f64, f64, f64) {
    figures.sort_by(f64::total_cmp);
    let n = figures.len();
    // P(X < k) for X ~ Binomial(n, ½), grown rank by rank.
    let (mut below, mut term, mut k) = (0.0, 0.5f64.powi(n as i32), 1);
    while k < n / 2 {
        below += term;
        term *= (n - (k - 1)) as f64 / k as f64;
        if below + term > 0.025 {
            break;
        }
        k += 1;
    }
    (figures[k - 1], figures[n / 2], figures[n - k])
}
