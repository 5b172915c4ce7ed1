//! The scorecard as text: one line per probe (✔/✘/skipped, status, latency) and, under each
//! failure or warning, why it matters and what to change.

use super::report::{Outcome, ProbeResult, Report};
use super::Audit;

/// Width that explanations are wrapped to.
const WIDTH: usize = 100;
/// Indent of explanation lines (under the probe's title).
const INDENT: usize = 8;

/// What the audit is about to do, said before the first request.
pub fn announcement(audit: &Audit, target: &str, spacing_ms: u64) -> String {
    let e = audit.event();
    let what = [
        e.provider.as_deref(),
        e.event_type.as_deref(),
        e.event_id.as_deref(),
    ]
    .into_iter()
    .flatten()
    .collect::<Vec<_>>()
    .join(" ");
    let from = match e.source.as_str() {
        "sample" => format!("built-in sample {}", e.reference),
        "capture" => format!("capture {}", e.reference),
        _ => format!("file {}", e.reference),
    };
    let n = audit.request_count();
    format!(
        "Auditing {target}\nSending {n} request{s} to that URL only, {spacing_ms} ms apart \
         (redirects are not followed).\nEvent: {what} ({from}), signed with {scheme}.",
        s = if n == 1 { "" } else { "s" },
        what = if what.is_empty() {
            "unknown event"
        } else {
            &what
        },
        scheme = audit.scheme(),
    )
}

/// The lines for one probe: the verdict line, then the wrapped explanation or warning.
pub fn probe_lines(r: &ProbeResult) -> Vec<String> {
    let mark = match r.outcome {
        Outcome::Pass => "✔",
        Outcome::Fail => "✘",
        Outcome::Skipped => "-",
    };
    let head = format!("  {mark} {:>2}  {:<32}", r.number, r.title);
    let mut lines = Vec::new();
    match r.outcome {
        Outcome::Skipped => lines.push(format!(
            "{head} skipped: {}",
            r.skip_reason.as_deref().unwrap_or("not applicable")
        )),
        _ => {
            let status = r.status.map_or_else(|| "---".to_owned(), |s| s.to_string());
            let latency = r
                .latency_ms
                .map_or_else(String::new, |ms| format!("{ms} ms"));
            let mut line = format!("{head} {status:>4} {latency:>9}");
            if let Some(e) = &r.error {
                line.push_str(&format!("   no answer: {e}"));
            } else if r.outcome == Outcome::Fail {
                line.push_str(&format!("   expected {}", r.expected));
            } else if r.warning.is_some() {
                line.push_str("   ⚠ slow");
            }
            lines.push(line);
        }
    }
    for text in [&r.explanation, &r.warning].into_iter().flatten() {
        lines.extend(wrap(text));
    }
    lines
}

/// The verdict in one line.
pub fn summary_line(report: &Report) -> String {
    let s = &report.summary;
    let list = |ns: &[u8]| ns.iter().map(u8::to_string).collect::<Vec<_>>().join(", ");
    let mut line = if report.passed {
        "PASSED: every must-pass probe (1–5, 8) passed.".to_owned()
    } else {
        format!(
            "FAILED: must-pass probe{} {} failed.",
            if s.must_pass_failed.len() == 1 {
                ""
            } else {
                "s"
            },
            list(&s.must_pass_failed)
        )
    };
    if !s.should_pass_failed.is_empty() {
        line.push_str(&format!(
            " Should-pass probe{} {} failed.",
            if s.should_pass_failed.len() == 1 {
                ""
            } else {
                "s"
            },
            list(&s.should_pass_failed)
        ));
    }
    if s.warnings > 0 {
        line.push_str(&format!(
            " {} warning{}.",
            s.warnings,
            if s.warnings == 1 { "" } else { "s" }
        ));
    }
    line.push_str(&format!(
        " ({} passed, {} failed, {} skipped)",
        s.passed, s.failed, s.skipped
    ));
    line
}

/// The whole scorecard: probe lines, notes and the verdict.
pub fn scorecard(report: &Report) -> String {
    let mut out: Vec<String> = report.probes.iter().flat_map(probe_lines).collect();
    out.push(String::new());
    for note in &report.notes {
        out.extend(wrap_with(note, 0));
    }
    out.push(summary_line(report));
    out.join("\n")
}

fn wrap(text: &str) -> Vec<String> {
    wrap_with(text, INDENT)
}

fn wrap_with(text: &str, indent: usize) -> Vec<String> {
    let pad = " ".repeat(indent);
    let mut lines = Vec::new();
    let mut line = pad.clone();
    for word in text.split_whitespace() {
        if line.len() > indent && line.chars().count() + 1 + word.chars().count() > WIDTH {
            lines.push(std::mem::replace(&mut line, pad.clone()));
        }
        if line.len() > indent {
            line.push(' ');
        }
        line.push_str(word);
    }
    if line.len() > indent {
        lines.push(line);
    }
    lines
}
