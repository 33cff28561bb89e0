//! How the report writes figures: milliseconds, large counts, and speed-ups.

use crate::stats::Measurement;

/// Milliseconds with as many decimals as are meaningful.
pub fn ms(v: f64) -> String {
    if v < 10.0 {
        format!("{v:.2} ms")
    } else if v < 100.0 {
        format!("{v:.1} ms")
    } else {
        format!("{} ms", thousands(v.round() as u64))
    }
}

/// `1234567` as `1,234,567`.
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// A checkpoint lag: milliseconds, or beyond `give_up_secs` when None (a probe that
/// was not covered).
pub fn lag(v: Option<f64>, give_up_secs: f64) -> String {
    v.map_or_else(|| format!("> {give_up_secs:.0} s (not covered)"), ms)
}

/// A ratio as `12.3x`, or `1,234x` when large.
pub fn times(r: f64) -> String {
    if r >= 100.0 {
        format!("{}x", thousands(r.round() as u64))
    } else {
        format!("{r:.1}x")
    }
}

/// `baseline p50 / auditlog p50`.
pub fn ratio(auditlog: Option<&Measurement>, baseline: Option<&Measurement>) -> Option<f64> {
    match (auditlog, baseline) {
        (Some(a), Some(b)) if a.has_samples() && b.has_samples() && a.p50_ms > 0.0 => {
            Some(b.p50_ms / a.p50_ms)
        }
        _ => None,
    }
}
