//! The page: the run, then the features (those with failures first), each scenario a
//! `<details>` row holding its failure, steps, timeline, OCPP messages and artifact links.
//! Everything that matters works without JavaScript; the script only adds a time cursor on
//! hover over a timeline and highlights an exchange's frames.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use super::escape::{clip, esc, href, push_esc};
use super::load::ScenarioData;
use super::steps::StepStatus;
use super::summary::{RunSummary, ScenarioSummary, Status};
use super::timeline::Timeline;

/// Longest frame shown in a message list (a full local list can be megabytes).
const FRAME_MAX: usize = 4000;

const PAGE_CSS: &str = "\
*{box-sizing:border-box}body{margin:0;font:14px/1.4 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;color:#222;background:#fafafa}\
header,main{max-width:1100px;margin:0 auto;padding:8px 12px}h1{font-size:20px;margin:8px 0}\
h2{font-size:16px;margin:0;display:inline}\
dl.run{display:grid;grid-template-columns:max-content 1fr;gap:2px 12px;margin:8px 0}dl.run dt{color:#666}dl.run dd{margin:0}\
.badge{display:inline-block;min-width:52px;text-align:center;border-radius:3px;padding:0 4px;font-size:12px;font-weight:700;color:#fff}\
.badge.failed{background:#d32f2f}.badge.flaky{background:#ef6c00}.badge.passed{background:#388e3c}.badge.skipped{background:#9e9e9e}\
details>summary{cursor:pointer}section.feature{margin:10px 0}section.feature>details>summary{padding:6px 0}\
.path,.ln,.dur{color:#666;font-size:12px}\
details.sc{background:#fff;border:1px solid #ddd;border-left:5px solid #9e9e9e;border-radius:3px;margin:4px 0}\
details.sc>summary{padding:6px 8px;list-style-position:inside}\
details.sc.failed{border-left-color:#d32f2f}details.sc.flaky{border-left-color:#ef6c00}details.sc.passed{border-left-color:#388e3c}\
.body{padding:4px 10px 10px;border-top:1px solid #eee}\
pre{white-space:pre-wrap;word-break:break-word;background:#f5f5f5;padding:6px;margin:4px 0;font-size:12px;max-height:24em;overflow:auto}\
.failed-step{color:#b71c1c;font-weight:600}\
ol.steps{padding-left:22px;margin:6px 0}ol.steps li{margin:1px 0}li.step.failed{color:#b71c1c;font-weight:600}li.step.skipped{color:#999}\
li.step .k{font-weight:600}\
.tlw{overflow-x:auto;border:1px solid #eee;background:#fff;margin:6px 0}.tlw svg{min-width:760px;width:100%;height:auto}\
details.fr>summary{font-family:ui-monospace,monospace;font-size:12px}details.fr.err>summary{color:#b71c1c}details.fr.warn>summary{color:#e65100}\
.files{overflow-wrap:anywhere}.files a{margin-right:10px}.problems{color:#b71c1c;font-size:12px}\
nav.fails a{display:block}\
@media (max-width:600px){body{font-size:13px}header,main{padding:6px}}";

const SCRIPT: &str = "\
document.querySelectorAll('svg.tl').forEach(function(s){\
var L=+s.dataset.left,W=+s.dataset.pw,E=+s.dataset.end,N='http://www.w3.org/2000/svg',\
l=document.createElementNS(N,'line'),t=document.createElementNS(N,'text'),h=s.viewBox.baseVal.height;\
l.setAttribute('class','cur');l.setAttribute('y1',14);l.setAttribute('y2',h);t.setAttribute('class','curt');t.setAttribute('y',h-2);\
s.addEventListener('mousemove',function(e){var p=s.createSVGPoint();p.x=e.clientX;p.y=e.clientY;\
var x=p.matrixTransform(s.getScreenCTM().inverse()).x;if(x<L||x>L+W){l.remove();t.remove();return}\
l.setAttribute('x1',x);l.setAttribute('x2',x);t.setAttribute('x',x+3);t.textContent=((x-L)/W*E/1e6).toFixed(2)+' s';\
s.appendChild(l);s.appendChild(t)});s.addEventListener('mouseleave',function(){l.remove();t.remove()})});";

/// What one scenario's attempt shows: its data and the timeline drawn from it.
pub struct Attempt {
    /// Folder relative to the report, `/`-separated.
    pub dir: String,
    pub data: ScenarioData,
    pub timeline: Option<Timeline>,
    /// The inline `<svg>` of the timeline.
    pub svg: Option<String>,
}

fn duration(ms: u64) -> String {
    if ms >= 60_000 {
        format!("{}:{:02} min", ms / 60_000, (ms / 1000) % 60)
    } else {
        format!("{:.1} s", ms as f64 / 1000.0)
    }
}

/// `faults.feature:12` → an id fit for a URL fragment.
pub fn anchor(s: &ScenarioSummary) -> String {
    let stem: String = s
        .path
        .rsplit('/')
        .next()
        .unwrap_or(&s.path)
        .trim_end_matches(".feature")
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    format!("s-{stem}-{}", s.line)
}

fn badge(status: Status) -> String {
    let word = match status {
        Status::Failed => "FAIL",
        Status::Flaky => "FLAKY",
        Status::Passed => "PASS",
        Status::Skipped => "SKIP",
    };
    format!("<span class=\"badge {}\">{word}</span>", status.word())
}

fn header(out: &mut String, run: &RunSummary) {
    let c = run.counts();
    let verdict = run.verdict();
    let _ = write!(
        out,
        "<header><h1>rig run {} <span class=\"path\">{}</span></h1><dl class=\"run\">",
        badge(verdict),
        esc(&run.started.format("%Y-%m-%d %H:%M:%S UTC").to_string())
    );
    let mut row = |k: &str, v: &str| {
        let _ = write!(out, "<dt>{}</dt><dd>{}</dd>", esc(k), esc(v));
    };
    row("profile", &run.profile);
    row("bench", &run.bench);
    for (name, version) in &run.versions {
        row(name, version);
    }
    row("duration", &duration(run.duration_ms));
    row(
        "scenarios",
        &format!(
            "{} passed, {} failed, {} flaky, {} skipped ({} in all)",
            c.passed,
            c.failed,
            c.flaky,
            c.skipped,
            run.scenarios.len()
        ),
    );
    out.push_str("</dl>");
    if !run.parse_errors.is_empty() {
        out.push_str("<p class=\"failed-step\">feature files that do not parse:</p><pre>");
        push_esc(out, &run.parse_errors.join("\n"));
        out.push_str("</pre>");
    }
    let mut bad: Vec<&ScenarioSummary> = run
        .scenarios
        .iter()
        .filter(|s| matches!(s.status, Status::Failed | Status::Flaky))
        .collect();
    bad.sort_by(|a, b| (a.status, &a.path, a.line).cmp(&(b.status, &b.path, b.line)));
    if !bad.is_empty() {
        out.push_str("<nav class=\"fails\"><p>failed or flaky:</p>");
        for s in bad {
            let _ = write!(
                out,
                "<a href=\"#{}\">{} {}:{} {}</a>",
                anchor(s),
                badge(s.status),
                esc(&s.path),
                s.line,
                esc(&s.name)
            );
        }
        out.push_str("</nav>");
    }
    out.push_str("</header>");
}

fn attempt_body(out: &mut String, a: &Attempt) {
    if let Some(f) = &a.data.failure {
        out.push_str("<pre class=\"failure\">");
        push_esc(out, &clip(f, 20_000));
        out.push_str("</pre>");
    }
    if !a.data.steps.is_empty() {
        out.push_str("<ol class=\"steps\">");
        for s in &a.data.steps {
            let status = match s.status {
                StepStatus::Passed => "passed",
                StepStatus::Failed => "failed",
                StepStatus::Skipped => "skipped",
            };
            let ms = (s.ended - s.started).num_milliseconds().max(0) as u64;
            let _ = write!(
                out,
                "<li class=\"step {status}\"><span class=\"k\">{}</span> {} <span class=\"dur\">{}{status}, {}</span>",
                esc(&s.keyword),
                esc(&s.text),
                if s.line > 0 {
                    format!("line {}, ", s.line)
                } else {
                    String::new()
                },
                duration(ms)
            );
            out.push_str("</li>");
        }
        out.push_str("</ol>");
    }
    if let Some(svg) = &a.svg {
        out.push_str("<div class=\"tlw\">");
        out.push_str(svg);
        out.push_str("</div>");
    }
    if let Some(tl) = &a.timeline {
        if !tl.exchanges.is_empty() {
            let _ = write!(
                out,
                "<details class=\"msgs\"><summary>OCPP messages ({})</summary>",
                tl.exchanges.len()
            );
            for ex in &tl.exchanges {
                let arrow = if ex.from_charger {
                    "charger → CS"
                } else {
                    "CS → charger"
                };
                let (answer, class) = match &ex.answer {
                    Some(a) if a.summary.is_empty() => ("answered".to_string(), a.class),
                    Some(a) => (a.summary.clone(), a.class),
                    None if ex.kind == "call" => ("no answer".to_string(), "err"),
                    None => (ex.kind.clone(), "err"),
                };
                let _ = write!(
                    out,
                    "<details class=\"fr {class}\"><summary>+{:.3} s #{} {arrow} {} · {}{}</summary><pre>",
                    ex.at as f64 / 1e6,
                    ex.connection,
                    esc(&ex.action),
                    esc(&answer),
                    if ex.ignored { " (ignored)" } else { "" }
                );
                push_esc(out, &clip(&ex.frame, FRAME_MAX));
                if let Some(a) = &ex.answer {
                    let _ = write!(out, "\n+{:.3} s ", a.at as f64 / 1e6);
                    push_esc(out, &clip(&a.frame, FRAME_MAX));
                }
                out.push_str("</pre></details>");
            }
            out.push_str("</details>");
        }
    }
    let _ = write!(
        out,
        "<p class=\"files\">artifacts: <a href=\"{}/\">{}/</a>",
        href(&a.dir),
        esc(&a.dir)
    );
    for f in &a.data.files {
        let _ = write!(
            out,
            "<a href=\"{}/{}\">{}</a>",
            href(&a.dir),
            href(f),
            esc(f)
        );
    }
    out.push_str("</p>");
    if !a.data.problems.is_empty() {
        out.push_str("<p class=\"problems\">");
        push_esc(out, &a.data.problems.join("; "));
        out.push_str("</p>");
    }
}

fn scenario(out: &mut String, s: &ScenarioSummary, attempts: &[Attempt]) {
    let open = if s.status == Status::Failed {
        " open"
    } else {
        ""
    };
    let _ = write!(
        out,
        "<details class=\"sc {}\" id=\"{}\"{open}><summary>{} {} <span class=\"ln\">line {}</span> <span class=\"dur\">{}{}</span></summary><div class=\"body\">",
        s.status.word(),
        anchor(s),
        badge(s.status),
        esc(&s.name),
        s.line,
        duration(s.duration_ms),
        if s.attempts > 1 {
            format!(", {} attempts", s.attempts)
        } else {
            String::new()
        }
    );
    if let Some(step) = &s.failed_step {
        out.push_str("<p class=\"failed-step\">failed step: ");
        push_esc(out, step);
        out.push_str("</p>");
    }
    match (s.status, &s.message) {
        (Status::Skipped, Some(m)) => {
            let _ = write!(out, "<p>skipped: {}</p>", esc(m));
        }
        (Status::Flaky, _) => {
            for (i, m) in s.earlier_failures.iter().enumerate() {
                let _ = write!(
                    out,
                    "<p>passed on a retry; attempt {} failed:</p><pre>",
                    i + 1
                );
                push_esc(out, &clip(m, 20_000));
                out.push_str("</pre>");
            }
        }
        // A failure with artifacts shows failure.txt (the same text, with what the rig saw).
        (Status::Failed, Some(m)) if attempts.last().is_none_or(|a| a.data.failure.is_none()) => {
            out.push_str("<pre class=\"failure\">");
            push_esc(out, &clip(m, 20_000));
            out.push_str("</pre>");
        }
        _ => {}
    }
    let n = attempts.len();
    for (i, a) in attempts.iter().enumerate() {
        if n > 1 {
            let last = i + 1 == n;
            let _ = write!(
                out,
                "<details class=\"attempt\"{}><summary>attempt {} ({})</summary>",
                if last { " open" } else { "" },
                i + 1,
                if last { s.status.word() } else { "failed" }
            );
            attempt_body(out, a);
            out.push_str("</details>");
        } else {
            attempt_body(out, a);
        }
    }
    out.push_str("</div></details>");
}

/// The whole page. `attempts[i]` belongs to `run.scenarios[i]`.
pub fn page(run: &RunSummary, attempts: &[Vec<Attempt>]) -> String {
    let mut out = String::with_capacity(64 * 1024);
    let c = run.counts();
    let _ = write!(
        out,
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width,initial-scale=1\"><title>rig run: {} failed, {} flaky, {} passed</title><style>{PAGE_CSS}{}</style></head><body>",
        c.failed,
        c.flaky,
        c.passed,
        super::svg::CSS
    );
    header(&mut out, run);
    out.push_str("<main>");
    // Features by their worst outcome, then by path.
    let mut features: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for (i, s) in run.scenarios.iter().enumerate() {
        features.entry(s.path.as_str()).or_default().push(i);
    }
    let mut features: Vec<(&str, Vec<usize>)> = features.into_iter().collect();
    let worst = |ids: &[usize]| {
        ids.iter()
            .map(|&i| run.scenarios[i].status)
            .min()
            .unwrap_or(Status::Passed)
    };
    features.sort_by(|a, b| (worst(&a.1), a.0).cmp(&(worst(&b.1), b.0)));
    for (path, mut ids) in features {
        ids.sort_by_key(|&i| (run.scenarios[i].status, run.scenarios[i].line));
        let w = worst(&ids);
        let open = if matches!(w, Status::Failed | Status::Flaky) {
            " open"
        } else {
            ""
        };
        let name = &run.scenarios[ids[0]].feature;
        let count = |st: Status| {
            ids.iter()
                .filter(|&&i| run.scenarios[i].status == st)
                .count()
        };
        let _ = write!(
            out,
            "<section class=\"feature\"><details{open}><summary>{} <h2>{}</h2> <span class=\"path\">{} · {} scenarios: {} passed, {} failed, {} flaky, {} skipped</span></summary>",
            badge(w),
            esc(name),
            esc(path),
            ids.len(),
            count(Status::Passed),
            count(Status::Failed),
            count(Status::Flaky),
            count(Status::Skipped)
        );
        for i in ids {
            scenario(&mut out, &run.scenarios[i], &attempts[i]);
        }
        out.push_str("</details></section>");
    }
    out.push_str("</main><script>");
    out.push_str(SCRIPT);
    out.push_str("</script></body></html>\n");
    out
}
