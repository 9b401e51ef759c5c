//! Draws a [`Timeline`] as SVG: step bands on top, then the lanes, the point events, and the
//! OCPP exchanges between two rails (charger above, central system below), all on one time
//! axis. Hover texts are SVG `<title>`s, so the picture explains itself without JavaScript.
//! Integer-ish coordinates and short class names keep a catalogue's worth of pictures small.

use std::fmt::Write as _;

use super::escape::{clip, push_esc};
use super::steps::StepStatus;
use super::timeline::{Exchange, Graph, Seg, Timeline};

/// Width of the picture (viewBox units = CSS px at 100 %).
pub const WIDTH: f64 = 1000.0;
/// Left column with the lane names.
const LEFT: f64 = 112.0;
const RIGHT: f64 = 14.0;
/// Plot width: what [`Timeline::build`] should be given as resolution.
pub const PLOT_WIDTH: f64 = WIDTH - LEFT - RIGHT;
const ROW: f64 = 18.0;
const BAR: f64 = 14.0;
/// Rows of OCPP action labels above the charger rail.
const LABEL_ROWS: usize = 3;
const LABEL_ROW_H: f64 = 11.0;
/// How far right a label may be pushed from its arrow in a burst.
const LABEL_SHIFT_MAX: f64 = 160.0;
/// Distance between the charger and central-system rails.
const RAIL_GAP: f64 = 30.0;
/// Height of the scenario's name above a standalone picture.
const HEADING: f64 = 18.0;
/// Longest frame text in a hover title.
const TITLE_FRAME_MAX: usize = 600;

/// Styles of the picture; the page includes them once, a standalone file embeds them.
pub const CSS: &str = "\
svg.tl{font:10px system-ui,sans-serif;display:block}\
.tl text{fill:#222}.tl .ln{font-weight:600}.tl .ax{fill:#666}.tl .gr{stroke:#e5e5e5}\
.tl .sl{font-size:9px;pointer-events:none}\
.tl rect.s{stroke:#fff;stroke-width:.5}\
.pa{fill:#e6e6e6}.pb{fill:#ffe08a}.pc{fill:#8fd18f}.pd{fill:#6fb8d8}.pe{fill:#e57373}\
.on{fill:#9fd4a2}.off{fill:#efefef}.offer{fill:#bde0fe}.bad{fill:#ef8a8a}\
.ca{fill:#d7ecd7}.cp{fill:#ffe08a}.cc{fill:#7bc47f}.cs{fill:#f5c07a}.cf{fill:#b3c7e6}\
.cr{fill:#d1b3e6}.cu{fill:#bdbdbd}.cx{fill:#e57373}\
.b-passed{fill:#dcefdc}.b-failed{fill:#e53935}.b-skipped{fill:#f0f0f0}\
.tl .b-failed+text{fill:#fff}\
.tl .ev path{fill:#5c6bc0}.tl .flt path{fill:#fb8c00}.tl .err path{fill:#e53935}\
.tl .gr-v path{fill:none;stroke:#1b5e20;stroke-width:1.2}.tl .rail{stroke:#999}.tl .msg line{stroke:#555}.tl .msg path{fill:#555}\
.tl .msg.ign line{stroke-dasharray:3 2}.tl .msg.inv line{stroke:#e53935}\
.tl .a-ok{fill:#43a047}.tl .a-warn{fill:#fb8c00}.tl .a-err{fill:#e53935}\
.tl .a-none{fill:#fff;stroke:#e53935}\
.tl .fl{stroke:#e53935;stroke-width:1.5;stroke-dasharray:4 3}.tl .flt-t{fill:#e53935;font-weight:600}\
.tl .msg:hover line,.tl .msg.hl line{stroke:#1e88e5;stroke-width:2}\
.tl .cur{stroke:#1e88e5;pointer-events:none}.tl .curt{fill:#1e88e5;pointer-events:none}";

struct Pen<'a> {
    tl: &'a Timeline,
    out: String,
}

impl Pen<'_> {
    fn x(&self, t: i64) -> f64 {
        LEFT + (t.clamp(0, self.tl.end) as f64) * PLOT_WIDTH / self.tl.end as f64
    }

    fn secs(&self, t: i64) -> String {
        format!("{:.3} s", t as f64 / 1e6)
    }

    fn title(&mut self, text: &str) {
        self.out.push_str("<title>");
        push_esc(&mut self.out, text);
        self.out.push_str("</title>");
    }

    fn name(&mut self, y: f64, name: &str) {
        let _ = write!(
            self.out,
            "<text class=\"ln\" x=\"4\" y=\"{:.0}\">",
            y + 11.0
        );
        push_esc(&mut self.out, name);
        self.out.push_str("</text>");
    }

    /// A bar with its label inside when it fits, its text on hover.
    fn bar(&mut self, from: i64, to: i64, y: f64, class: &str, label: &str, title: &str) {
        let x0 = self.x(from);
        // A state shorter than a pixel still shows (and can be hovered).
        let w = (self.x(to) - x0).max(2.0);
        self.out.push_str("<g>");
        self.title(title);
        let _ = write!(
            self.out,
            "<rect class=\"s {class}\" x=\"{x0:.1}\" y=\"{y:.0}\" width=\"{w:.1}\" height=\"{BAR}\"/>"
        );
        let fits = (label.chars().count() as f64) * 5.2 + 4.0 <= w;
        if fits && !label.is_empty() {
            let _ = write!(
                self.out,
                "<text class=\"sl\" x=\"{:.1}\" y=\"{:.0}\">",
                x0 + 2.0,
                y + 10.0
            );
            push_esc(&mut self.out, label);
            self.out.push_str("</text>");
        }
        self.out.push_str("</g>");
    }

    fn seg(&mut self, seg: &Seg, y: f64) {
        let mut title = format!(
            "{} from {} to {}",
            seg.label,
            self.secs(seg.from),
            self.secs(seg.to)
        );
        if seg.folded > 0 {
            let _ = write!(title, " ({} quicker changes folded in)", seg.folded);
        }
        self.bar(seg.from, seg.to, y, seg.class, &seg.label, &title);
    }

    /// A step line across the lane: 0 at the bottom, the maximum at the top.
    fn graph(&mut self, g: &Graph, y: f64) {
        let Some(first) = g.points.first() else {
            return;
        };
        let scale = |v: f64| y + BAR - 1.0 - (v / g.max) * (BAR - 2.0);
        self.out.push_str("<g class=\"gr-v\">");
        self.title(&format!(
            "measured {}: {} changes, up to {:.1} {}",
            if g.unit == "A" { "current" } else { "value" },
            g.points.len(),
            g.max,
            g.unit
        ));
        let _ = write!(
            self.out,
            "<path d=\"M{:.1} {:.1}",
            self.x(first.0),
            scale(first.1)
        );
        for p in &g.points[1..] {
            let _ = write!(self.out, "H{:.1}V{:.1}", self.x(p.0), scale(p.1));
        }
        let _ = write!(self.out, "H{:.1}\"/></g>", self.x(self.tl.end));
    }

    fn axis(&mut self, height: f64) {
        let end_s = self.tl.end as f64 / 1e6;
        let step = [
            0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0,
        ]
        .into_iter()
        .find(|s| end_s / s <= 10.0)
        .unwrap_or(1200.0);
        let mut t = 0.0;
        while t <= end_s + 1e-9 {
            let x = self.x((t * 1e6) as i64);
            let _ = write!(
                self.out,
                "<line class=\"gr\" x1=\"{x:.1}\" y1=\"14\" x2=\"{x:.1}\" y2=\"{height:.0}\"/><text class=\"ax\" x=\"{x:.1}\" y=\"10\" text-anchor=\"middle\">{}{}</text>",
                if step < 1.0 { format!("{t:.1}") } else { format!("{t:.0}") },
                if t == 0.0 { " s" } else { "" }
            );
            t += step;
        }
    }

    fn exchange(&mut self, ex: &Exchange, y_charger: f64, y_csms: f64) {
        let x = self.x(ex.at);
        let (y0, y1) = if ex.from_charger {
            (y_charger, y_csms)
        } else {
            (y_csms, y_charger)
        };
        let mut class = String::from("msg");
        if ex.ignored {
            class.push_str(" ign");
        }
        if ex.kind == "invalid" {
            class.push_str(" inv");
        }
        let _ = write!(
            self.out,
            "<g class=\"{class}\" data-m=\"{}-{}\">",
            ex.connection,
            super::escape::esc(&ex.id)
        );
        let who = if ex.from_charger {
            "charger → central system"
        } else {
            "central system → charger"
        };
        let mut title = format!(
            "{} {} {} (connection {})\n{}",
            self.secs(ex.at),
            who,
            ex.action,
            ex.connection,
            clip(&ex.frame, TITLE_FRAME_MAX)
        );
        if ex.ignored {
            title.push_str("\nread while the central system was not answering");
        }
        match &ex.answer {
            Some(a) => {
                let _ = write!(
                    title,
                    "\nanswer at {} {}\n{}",
                    self.secs(a.at),
                    a.summary,
                    clip(&a.frame, TITLE_FRAME_MAX)
                );
            }
            None if ex.kind == "call" => title.push_str("\nno answer"),
            None => {}
        }
        self.title(&title);
        let dir = if y1 > y0 { -1.0 } else { 1.0 };
        let _ = write!(
            self.out,
            "<line x1=\"{x:.1}\" y1=\"{y0:.0}\" x2=\"{x:.1}\" y2=\"{y1:.0}\"/><path d=\"M{x:.1} {y1:.0}l-3 {:.0}h6z\"/>",
            dir * 6.0
        );
        if ex.kind == "call" {
            // The answer, back at the caller's rail.
            let (cx, cls) = match &ex.answer {
                Some(a) => (self.x(a.at), a.class),
                None => (x, "none"),
            };
            let _ = write!(
                self.out,
                "<circle class=\"a-{cls}\" cx=\"{cx:.1}\" cy=\"{y0:.0}\" r=\"3\"/>"
            );
        }
        self.out.push_str("</g>");
    }
}

/// Label of an exchange above the rails: the action, and the answer when it is not a plain yes.
fn exchange_label(ex: &Exchange) -> String {
    match &ex.answer {
        Some(a) if a.class != "ok" => format!("{}: {}", ex.action, a.summary),
        None if ex.kind == "call" => format!("{}: no answer", ex.action),
        _ => ex.action.clone(),
    }
}

/// The picture's height for `tl`.
fn height(tl: &Timeline) -> f64 {
    let rows = 1 + tl.lanes.len() + tl.rows.len();
    16.0 + rows as f64 * ROW + 6.0 + LABEL_ROWS as f64 * LABEL_ROW_H + RAIL_GAP + 22.0
}

/// The `<svg>` element. `standalone` adds the namespace and the styles (a `timeline.svg`
/// file); inline in the report the page carries the styles once.
pub fn render(tl: &Timeline, label: &str, standalone: bool) -> String {
    let h = height(tl);
    let mut pen = Pen {
        tl,
        out: String::with_capacity(16 * 1024),
    };
    if standalone {
        let _ = write!(
            pen.out,
            "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"tl\" viewBox=\"0 0 {WIDTH} {:.0}\" width=\"{WIDTH}\" height=\"{:.0}\"><style>{CSS}svg.tl{{background:#fff}}.tl .hd{{font-size:12px;font-weight:600}}</style><rect width=\"100%\" height=\"100%\" fill=\"#fff\"/><text class=\"hd\" x=\"4\" y=\"13\">",
            h + HEADING,
            h + HEADING
        );
        // A file on its own says which scenario it shows.
        push_esc(&mut pen.out, &clip(label, 150));
        let _ = write!(pen.out, "</text><g transform=\"translate(0 {HEADING})\">");
    } else {
        let _ = write!(
            pen.out,
            "<svg class=\"tl\" viewBox=\"0 0 {WIDTH} {h:.0}\" data-left=\"{LEFT}\" data-pw=\"{PLOT_WIDTH}\" data-end=\"{}\" role=\"img\" aria-label=\"",
            tl.end
        );
        push_esc(&mut pen.out, label);
        pen.out.push_str("\">");
    }
    pen.title(label);
    pen.axis(h - 4.0);

    let mut y = 16.0;
    pen.out.push_str("<g class=\"steps\">");
    pen.name(y, "steps");
    for b in &tl.bands {
        let status = match b.status {
            StepStatus::Passed => "passed",
            StepStatus::Failed => "failed",
            StepStatus::Skipped => "skipped",
        };
        let mut title = format!(
            "{}{} — {status}, {} to {}",
            if b.line > 0 {
                format!("line {}: ", b.line)
            } else {
                String::new()
            },
            b.title,
            pen.secs(b.from),
            pen.secs(b.to)
        );
        if let Some(e) = &b.error {
            title.push('\n');
            title.push_str(&clip(e, 1500));
        }
        let class = format!("b-{status} step {status}");
        pen.bar(b.from, b.to, y, &class, &b.title, &title);
    }
    pen.out.push_str("</g>");
    y += ROW;

    for lane in &tl.lanes {
        let _ = write!(pen.out, "<g class=\"lane\" data-lane=\"{}\">", lane.key);
        pen.name(y, lane.name);
        for seg in &lane.segs {
            pen.seg(seg, y);
        }
        if let Some(g) = &lane.graph {
            pen.graph(g, y);
        }
        pen.out.push_str("</g>");
        y += ROW;
    }

    for row in &tl.rows {
        let _ = write!(pen.out, "<g class=\"marks\" data-row=\"{}\">", row.key);
        pen.name(y, row.name);
        let mut free_from = 0.0;
        for m in &row.marks {
            let x = pen.x(m.at);
            let _ = write!(pen.out, "<g class=\"{}\">", m.class);
            pen.title(&format!("{} {}", pen.secs(m.at), m.title));
            let _ = write!(pen.out, "<path d=\"M{x:.1} {:.0}l-4 8h8z\"/>", y + 2.0);
            if !m.label.is_empty() && x >= free_from {
                let _ = write!(
                    pen.out,
                    "<text class=\"sl\" x=\"{:.1}\" y=\"{:.0}\">",
                    x + 5.0,
                    y + 10.0
                );
                push_esc(&mut pen.out, &m.label);
                pen.out.push_str("</text>");
                free_from = x + 8.0 + m.label.chars().count() as f64 * 5.2;
            }
            pen.out.push_str("</g>");
        }
        pen.out.push_str("</g>");
        y += ROW;
    }

    // OCPP: action labels in rows, then the charger and central-system rails.
    y += 6.0;
    let y_charger = y + LABEL_ROWS as f64 * LABEL_ROW_H + 4.0;
    let y_csms = y_charger + RAIL_GAP;
    pen.out.push_str("<g class=\"ocpp\">");
    let _ = write!(
        pen.out,
        "<text class=\"ln\" x=\"4\" y=\"{:.0}\">charger</text><text class=\"ln\" x=\"4\" y=\"{:.0}\">central system</text><line class=\"rail\" x1=\"{LEFT}\" y1=\"{y_charger:.0}\" x2=\"{:.0}\" y2=\"{y_charger:.0}\"/><line class=\"rail\" x1=\"{LEFT}\" y1=\"{y_csms:.0}\" x2=\"{:.0}\" y2=\"{y_csms:.0}\"/>",
        y_charger + 3.0,
        y_csms + 3.0,
        WIDTH - RIGHT,
        WIDTH - RIGHT
    );
    let mut free_from = [0.0f64; LABEL_ROWS];
    for ex in &tl.exchanges {
        let x = pen.x(ex.at);
        let text = exchange_label(ex);
        let w = text.chars().count() as f64 * 5.2 + 6.0;
        // The row free soonest; a burst of messages pushes labels right, in order, up to a
        // limit (their arrows keep the exact time).
        let row = (0..LABEL_ROWS)
            .min_by(|&a, &b| free_from[a].total_cmp(&free_from[b]))
            .unwrap_or(0);
        let mut lx = free_from[row].max(x);
        if lx + w > WIDTH {
            // Near the right edge: end the label at the edge instead.
            lx = (WIDTH - w).max(free_from[row]);
        }
        if (lx - x).abs() <= LABEL_SHIFT_MAX && lx + w <= WIDTH + 2.0 {
            free_from[row] = lx + w;
            let ly = y_charger - 4.0 - (row as f64) * LABEL_ROW_H;
            let _ = write!(
                pen.out,
                "<text class=\"sl\" x=\"{:.1}\" y=\"{ly:.0}\">",
                lx + 1.0
            );
            push_esc(&mut pen.out, &text);
            pen.out.push_str("</text>");
        }
    }
    for ex in &tl.exchanges {
        pen.exchange(ex, y_charger, y_csms);
    }
    pen.out.push_str("</g>");

    if let Some(at) = tl.failed_at {
        let x = pen.x(at);
        let _ = write!(
            pen.out,
            "<g class=\"failmark\"><title>the failing step ended here, at {}</title><line class=\"fl\" x1=\"{x:.1}\" y1=\"14\" x2=\"{x:.1}\" y2=\"{:.0}\"/><text class=\"flt-t\" x=\"{:.1}\" y=\"{:.0}\" text-anchor=\"end\">failed</text></g>",
            pen.secs(at),
            h - 4.0,
            x - 3.0,
            h - 6.0
        );
    }
    if standalone {
        pen.out.push_str("</g>");
    }
    pen.out.push_str("</svg>");
    pen.out
}
