//! Small charts drawn as text: a terminal sparkline and an SVG line chart. Hand-written
//! SVG keeps the binary lean and the output a single self-contained file.

use std::fmt::Write;

/// "▁▂▄█▆" for the values, scaled between their minimum and maximum.
pub fn sparkline(values: &[f64]) -> String {
    const BARS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];
    let (lo, hi) = bounds(values);
    values
        .iter()
        .map(|v| {
            let f = if hi > lo { (v - lo) / (hi - lo) } else { 0.5 };
            BARS[((f * 7.0).round() as usize).min(7)]
        })
        .collect()
}

fn bounds(values: &[f64]) -> (f64, f64) {
    let lo = values.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    if lo.is_finite() {
        (lo, hi)
    } else {
        (0.0, 1.0)
    }
}

/// Escapes text for XML/HTML: nothing from a target or a config becomes markup.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// One named line of a chart.
pub struct Series {
    pub name: String,
    pub color: &'static str,
    pub points: Vec<(f64, f64)>,
}

/// A line chart: x and y axes with ticks, one polyline per series, optional horizontal
/// limit lines (dashed, labelled), a legend. `x_labels` names x positions when given.
pub struct LineChart {
    pub title: String,
    pub y_unit: &'static str,
    pub series: Vec<Series>,
    pub limits: Vec<(String, f64)>,
    pub x_labels: Vec<(f64, String)>,
    pub log_x: bool,
    /// Moments marked by a vertical line and their words (a change to the load).
    pub marks: Vec<(f64, String)>,
}

const W: f64 = 720.0;
const H: f64 = 280.0;
const LEFT: f64 = 64.0;
const RIGHT: f64 = 16.0;
const TOP: f64 = 32.0;
const BOTTOM: f64 = 40.0;

impl LineChart {
    pub fn svg(&self) -> String {
        let xs: Vec<f64> = self
            .series
            .iter()
            .flat_map(|s| s.points.iter().map(|p| self.x(p.0)))
            .collect();
        let ys: Vec<f64> = self
            .series
            .iter()
            .flat_map(|s| s.points.iter().map(|p| p.1))
            .chain(self.limits.iter().map(|l| l.1))
            .collect();
        let (x0, mut x1) = bounds(&xs);
        if x1 <= x0 {
            x1 = x0 + 1.0;
        }
        let (_, mut y1) = bounds(&ys);
        if y1 <= 0.0 {
            y1 = 1.0;
        }
        y1 *= 1.1;
        let px = |x: f64| LEFT + (self.x(x) - x0) / (x1 - x0) * (W - LEFT - RIGHT);
        let py = |y: f64| TOP + (1.0 - y / y1) * (H - TOP - BOTTOM);
        let legend = self.legend();
        let mut s = String::new();
        let _ = write!(
            s,
            r##"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {W} {height}" width="100%" font-family="sans-serif" font-size="11" role="img"><title>{t}</title><rect width="{W}" height="{height}" fill="#fff"/><text x="{LEFT}" y="18" font-size="13" font-weight="bold">{t}</text>"##,
            t = escape(&self.title),
            height = H + 16.0 * (legend.last().map_or(0.0, |l| l.1))
        );
        for i in 0..=4 {
            let y = y1 * i as f64 / 4.0;
            let _ = write!(
                s,
                r##"<line x1="{LEFT}" x2="{}" y1="{py:.1}" y2="{py:.1}" stroke="#e5e5e5"/><text x="{}" y="{:.1}" text-anchor="end">{} {}</text>"##,
                W - RIGHT,
                LEFT - 6.0,
                py(y) + 4.0,
                tick(y),
                escape(self.y_unit),
                py = py(y)
            );
        }
        for (x, label) in &self.x_labels {
            let _ = write!(
                s,
                r##"<text x="{:.1}" y="{}" text-anchor="middle">{}</text>"##,
                px(*x),
                H - BOTTOM + 16.0,
                escape(label)
            );
        }
        for (name, v) in &self.limits {
            let _ = write!(
                s,
                r##"<line x1="{LEFT}" x2="{}" y1="{y:.1}" y2="{y:.1}" stroke="#d33" stroke-dasharray="6 4"/><text x="{}" y="{:.1}" fill="#d33" text-anchor="end">{}</text>"##,
                W - RIGHT,
                W - RIGHT,
                py(*v) - 4.0,
                escape(name),
                y = py(*v)
            );
        }
        for (x, label) in self
            .marks
            .iter()
            .filter(|m| (x0..=x1).contains(&self.x(m.0)))
        {
            let _ = write!(
                s,
                r##"<line x1="{x:.1}" x2="{x:.1}" y1="{TOP}" y2="{}" stroke="#7c3aed" stroke-dasharray="3 3"/><text x="{:.1}" y="{}" fill="#7c3aed">{}</text>"##,
                H - BOTTOM,
                px(*x) + 4.0,
                TOP + 10.0,
                escape(label),
                x = px(*x)
            );
        }
        for (i, series) in self.series.iter().enumerate() {
            let (lx, row) = legend[i];
            let ly = H - 14.0 + row * 16.0;
            let pts: Vec<String> = series
                .points
                .iter()
                .map(|(x, y)| format!("{:.1},{:.1}", px(*x), py(*y)))
                .collect();
            let _ = write!(
                s,
                r##"<polyline fill="none" stroke="{c}" stroke-width="2" points="{}"/><rect x="{lx:.0}" y="{}" width="10" height="10" fill="{c}"/><text x="{:.0}" y="{}">{}</text>"##,
                pts.join(" "),
                ly,
                lx + 14.0,
                ly + 9.0,
                escape(&series.name),
                c = escape(series.color),
            );
        }
        s.push_str("</svg>");
        s
    }

    /// Each legend entry's (x, row): entries flow left to right and wrap.
    fn legend(&self) -> Vec<(f64, f64)> {
        let (mut x, mut row) = (LEFT, 0.0);
        let mut out = Vec::new();
        for s in &self.series {
            let width = 24.0 + 6.5 * s.name.chars().count() as f64;
            if x + width > W - RIGHT && x > LEFT {
                x = LEFT;
                row += 1.0;
            }
            out.push((x, row));
            x += width;
        }
        out
    }

    fn x(&self, x: f64) -> f64 {
        if self.log_x {
            x.max(1e-9).log10()
        } else {
            x
        }
    }
}

fn tick(v: f64) -> String {
    if v >= 100.0 || v == 0.0 {
        format!("{v:.0}")
    } else if v >= 1.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sparkline_scales_between_min_and_max() {
        assert_eq!(sparkline(&[1.0, 2.0, 3.0, 8.0]), "▁▂▃█");
        assert_eq!(sparkline(&[5.0, 5.0]), "▅▅");
        assert_eq!(sparkline(&[]), "");
    }

    #[test]
    fn svg_escapes_names() {
        let c = LineChart {
            title: "<script>alert(1)</script>".into(),
            y_unit: "ms",
            series: vec![Series {
                name: "a&b".into(),
                color: "#36c",
                points: vec![(0.0, 1.0), (1.0, 2.0)],
            }],
            limits: vec![("budget".into(), 1.5)],
            x_labels: vec![],
            log_x: false,
            marks: vec![(0.5, "<b>6 users".into()), (7.0, "out of range".into())],
        };
        let svg = c.svg();
        assert!(!svg.contains("<script>") && !svg.contains("<b>"), "{svg}");
        assert!(svg.contains("&lt;b&gt;6 users") && !svg.contains("out of range"));
        assert!(svg.contains("&lt;script&gt;") && svg.contains("a&amp;b"));
        assert!(svg.contains("<polyline") && svg.contains("stroke-dasharray"));
    }
}
