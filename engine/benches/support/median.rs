//! The median of a bench's rounds (shared by the engine's and the server's benches).

pub fn median(mut figures: Vec<f64>) -> f64 {
    figures.sort_by(f64::total_cmp);
    figures[figures.len() / 2]
}
