//! The benches' statistics (`benches/support/median.rs`), tested with the suite.

#[allow(dead_code)]
#[path = "../../benches/support/median.rs"]
mod median;

use median::median_interval;

#[test]
fn a_median_interval_is_the_textbook_ranks() {
    // n = 15: ranks 4 and 12; n = 25: ranks 8 and 18; n = 5: the extremes.
    let ranks = |n: usize| median_interval((1..=n).map(|r| r as f64).collect());
    assert_eq!(ranks(15), (4.0, 8.0, 12.0));
    assert_eq!(ranks(25), (8.0, 13.0, 18.0));
    assert_eq!(ranks(5), (1.0, 3.0, 5.0));
}
