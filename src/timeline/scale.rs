//! The plot's horizontal geometry: where it starts and how wide it is, the type of its
//! times (`Ns`), and `Scale`, which maps a time to a pixel column.
//!
//! Invariant: a pixel is a whole number of nanoseconds, so which column a time falls in is
//! integer arithmetic that a test can recompute exactly from the SVG's attributes.

/// Nanoseconds since the GIL was created: the trace's `ts`/`dur` are microseconds with three
/// decimals, so whole nanoseconds hold them exactly and make merging arithmetic exact.
pub(super) type Ns = i64;

/// Where the plot begins, in SVG units from the left edge.
pub(super) const PLOT_X: f64 = 150.0;
/// The plot's width in pixel columns.
pub(super) const PLOT_W: i64 = 880;

/// Time to pixels. A pixel is a whole number of nanoseconds, so the merge rule is integer
/// arithmetic that a test can recompute exactly from the SVG's attributes.
#[derive(Clone, Copy, Debug)]
pub(super) struct Scale {
    pub(super) t0: Ns,
    pub(super) ns_per_px: Ns,
}

impl Scale {
    /// The plot from `t0` to `end`, over [`PLOT_W`] columns. It ends with the trace, not
    /// at the next tick: that could waste a tenth of it.
    pub(super) fn fit(t0: Ns, end: Ns) -> Scale {
        let axis_end = end.max(t0 + 1);
        Scale {
            t0,
            ns_per_px: ceil_div(axis_end - t0, PLOT_W).max(1),
        }
    }

    pub(super) fn column(&self, t: Ns) -> i64 {
        (t - self.t0).div_euclid(self.ns_per_px)
    }

    pub(super) fn x(&self, t: Ns) -> f64 {
        PLOT_X + (t - self.t0) as f64 / self.ns_per_px as f64
    }
}

/// A "nice" tick step (1, 2 or 5 times a power of ten nanoseconds) giving at most about
/// `target` ticks over `span`.
pub(super) fn tick_step(span: Ns, target: i64) -> Ns {
    let raw = (span.max(1) as f64 / target as f64).max(1.0);
    let mut magnitude: Ns = 1;
    while (magnitude as f64) * 10.0 <= raw {
        magnitude *= 10;
    }
    [1, 2, 5, 10]
        .iter()
        .map(|m| m * magnitude)
        .find(|&s| s as f64 >= raw)
        .unwrap_or(10 * magnitude)
}

/// `a / b` rounded up, for `a >= 0` and `b > 0`.
pub(super) fn ceil_div(a: i64, b: i64) -> i64 {
    (a + b - 1) / b
}
