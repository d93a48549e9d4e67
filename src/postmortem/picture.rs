//! The incident's shape at a glance: a horizontal time axis from the start of trouble to
//! the end, the phases of the key-times table as marks (detect, engage, escalate, mitigate,
//! resolve), the alarms, the AWS case and its replies and the stakeholder updates in rows
//! above the axis, and the quiet spells shaded.
//!
//! The geometry is computed here, in the units of an SVG `viewBox` [`WIDTH`] wide, so the
//! HTML template only writes elements (no arithmetic in templates, no scripts in the page);
//! the Markdown template writes the phases as one line.
//!
//! Pure: no IO, times come in.

use chrono::{DateTime, Duration, Timelike, Utc};
use serde::Serialize;

use crate::domain::time::format_duration;

/// The picture's width in `viewBox` units; the page scales it to the column.
pub const WIDTH: f64 = 960.0;
/// Where the time axis starts: room on the left for the row names.
const LEFT: f64 = 104.0;
/// Where the time axis ends.
const RIGHT: f64 = 940.0;
/// Tick labels (times) along the top.
const TICK_LABEL_Y: f64 = 12.0;
/// The rows of marks, by what they show.
const ROW_ALARMS: f64 = 32.0;
const ROW_CASE: f64 = 52.0;
const ROW_UPDATES: f64 = 72.0;
/// The band from the top of the rows down to the time axis: quiet spells are shaded
/// across it (their label near its foot), phases cross it.
const SHADE_TOP: f64 = 20.0;
const AXIS_Y: f64 = 92.0;
const QUIET_LABEL_Y: f64 = 87.0;
/// Phase labels, in lanes under the axis.
const FIRST_LANE_Y: f64 = 112.0;
const LANE_HEIGHT: f64 = 17.0;
/// A label's width is estimated at this many units per character (13-unit sans-serif,
/// generous, so estimated labels never overlap in practice).
const CHAR_WIDTH: f64 = 7.6;
/// Space kept between two labels in one lane.
const LABEL_GAP: f64 = 10.0;
/// At most this many ticks on the axis.
const MAX_TICKS: i64 = 8;

/// The picture, as the templates see it.
#[derive(Debug, Clone, Serialize)]
pub struct Picture {
    /// The `viewBox` size.
    pub width: f64,
    pub height: f64,
    pub axis: Axis,
    pub rows: Vec<RowName>,
    pub ticks: Vec<Tick>,
    pub quiet: Vec<Shade>,
    /// `alarm 12:54` when an alarm started it: the line's first step in the Markdown.
    pub alarm: Option<String>,
    /// One per phase reached, in time order.
    pub phases: Vec<PhaseMark>,
    pub events: Vec<EventMark>,
    /// Where the legend's row sits.
    pub legend_y: f64,
    /// The picture in words: the SVG's description for screen readers.
    pub description: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Axis {
    pub x1: f64,
    pub x2: f64,
    pub y: f64,
    /// The band's top (quiet spells, phase lines, tick lines) and height.
    pub top: f64,
    pub band: f64,
    pub tick_label_y: f64,
    pub quiet_label_y: f64,
}

/// The name of a row of marks, written left of the axis.
#[derive(Debug, Clone, Serialize)]
pub struct RowName {
    pub x: f64,
    pub y: f64,
    pub label: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Tick {
    pub x: f64,
    /// `13:30`, or with the date when the incident spans days.
    pub label: String,
}

/// A quiet spell.
#[derive(Debug, Clone, Serialize)]
pub struct Shade {
    pub x: f64,
    pub width: f64,
    pub label_x: f64,
    /// `quiet 1h 5m`, or empty when the spell is too narrow to hold it.
    pub label: String,
    /// `quiet 13:25–14:30 (1h 5m)`.
    pub title: String,
}

/// A phase of the key-times table: a line across the rows and a label under the axis.
#[derive(Debug, Clone, Serialize)]
pub struct PhaseMark {
    /// `detect`, `engage`, `escalate`, `mitigate`, `resolve`.
    pub name: String,
    /// `detected 13:00`.
    pub label: String,
    pub at: String,
    pub x: f64,
    pub label_x: f64,
    pub label_y: f64,
    /// Where the leader line from the axis down to the label stops.
    pub leader_y: f64,
    /// The SVG `text-anchor` of the label: `middle`, or `start`/`end` near the edges.
    pub anchor: String,
}

/// An alarm, the AWS case or one of its replies, or a stakeholder update.
#[derive(Debug, Clone, Serialize)]
pub struct EventMark {
    /// `alarm`, `recovery`, `case`, `reply` or `update`: the shape drawn.
    pub kind: String,
    pub x: f64,
    pub y: f64,
    /// What it was, for the mark's tooltip: `update 13:40: …`.
    pub title: String,
}

/// The phases, in the key-times table's order.
pub const PHASES: [(&str, &str); 5] = [
    ("detect", "detected"),
    ("engage", "engaged"),
    ("escalate", "escalated"),
    ("mitigate", "mitigated"),
    ("resolve", "resolved"),
];

/// What kind of event a mark is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventKind {
    Alarm,
    Recovery,
    Case,
    Reply,
    Update,
}

impl EventKind {
    fn name(self) -> &'static str {
        match self {
            EventKind::Alarm => "alarm",
            EventKind::Recovery => "recovery",
            EventKind::Case => "case",
            EventKind::Reply => "reply",
            EventKind::Update => "update",
        }
    }

    fn row(self) -> f64 {
        match self {
            EventKind::Alarm | EventKind::Recovery => ROW_ALARMS,
            EventKind::Case | EventKind::Reply => ROW_CASE,
            EventKind::Update => ROW_UPDATES,
        }
    }
}

/// What the picture is drawn from.
pub struct Facts<'a> {
    /// Writes a time as the draft does (`13:50`, or with the date).
    pub at: &'a dyn Fn(DateTime<Utc>) -> String,
    /// The start of trouble (the first alarm, else the opening) and the end (resolved, or
    /// the draft's time).
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    /// The first alarm, when one fired.
    pub alarm: Option<DateTime<Utc>>,
    /// When each phase of [`PHASES`] was reached, in that order (`None`: not reached).
    pub phases: [Option<DateTime<Utc>>; 5],
    /// Events with the text of their tooltip.
    pub events: Vec<(EventKind, DateTime<Utc>, String)>,
    pub quiet: &'a [(DateTime<Utc>, DateTime<Utc>)],
}

/// Lay the picture out.
pub fn draw(f: &Facts<'_>) -> Picture {
    let times = f
        .phases
        .iter()
        .flatten()
        .copied()
        .chain(f.alarm)
        .chain(f.events.iter().map(|e| e.1))
        .chain(f.quiet.iter().flat_map(|q| [q.0, q.1]));
    let lo = times.clone().fold(f.start.min(f.end), DateTime::min);
    let hi = times
        .fold(f.end.max(f.start), DateTime::max)
        .max(lo + Duration::minutes(1));
    let span = (hi - lo).num_milliseconds() as f64;
    let x =
        |t: DateTime<Utc>| round(LEFT + (t - lo).num_milliseconds() as f64 / span * (RIGHT - LEFT));

    let quiet = f
        .quiet
        .iter()
        .map(|(from, until)| {
            let (x1, x2) = (x(*from), x(*until));
            let took = format_duration(*until - *from);
            let label = format!("quiet {took}");
            let fits = x2 - x1 >= text_width(&label) + LABEL_GAP;
            Shade {
                x: x1,
                width: round(x2 - x1),
                label_x: round((x1 + x2) / 2.0),
                label: if fits { label } else { String::new() },
                title: format!("quiet {}–{} ({took})", (f.at)(*from), (f.at)(*until)),
            }
        })
        .collect();

    let mut reached: Vec<(usize, DateTime<Utc>)> = f
        .phases
        .iter()
        .enumerate()
        .filter_map(|(i, t)| t.map(|t| (i, t)))
        .collect();
    reached.sort_by_key(|(i, t)| (*t, *i));
    // Labels go in the first lane where they do not touch the one before.
    let mut lanes: Vec<f64> = Vec::new();
    let phases: Vec<PhaseMark> = reached
        .iter()
        .map(|(i, t)| {
            let (name, verb) = PHASES[*i];
            let at = (f.at)(*t);
            let label = format!("{verb} {at}");
            let px = x(*t);
            let w = text_width(&label);
            let (anchor, left, label_x) = if px - w / 2.0 < 2.0 {
                ("start", px - 3.0, px - 3.0)
            } else if px + w / 2.0 > WIDTH - 2.0 {
                ("end", px + 3.0 - w, px + 3.0)
            } else {
                ("middle", px - w / 2.0, px)
            };
            let lane = match lanes.iter().position(|r| r + LABEL_GAP <= left) {
                Some(l) => l,
                None => {
                    lanes.push(f64::MIN);
                    lanes.len() - 1
                }
            };
            lanes[lane] = left + w;
            let label_y = FIRST_LANE_Y + LANE_HEIGHT * lane as f64;
            PhaseMark {
                name: name.to_string(),
                label,
                at,
                x: px,
                label_x: round(label_x),
                label_y,
                leader_y: label_y - 11.0,
                anchor: anchor.to_string(),
            }
        })
        .collect();
    let lanes_used = lanes.len().max(1) as f64;
    let legend_y = FIRST_LANE_Y + LANE_HEIGHT * (lanes_used - 1.0) + 28.0;

    let mut events: Vec<EventMark> = f
        .events
        .iter()
        .map(|(kind, t, title)| EventMark {
            kind: kind.name().to_string(),
            x: x(*t),
            y: kind.row(),
            title: title.clone(),
        })
        .collect();
    events.sort_by(|a, b| a.x.total_cmp(&b.x));

    Picture {
        width: WIDTH,
        height: legend_y + 14.0,
        axis: Axis {
            x1: LEFT,
            x2: RIGHT,
            y: AXIS_Y,
            top: SHADE_TOP,
            band: AXIS_Y - SHADE_TOP,
            tick_label_y: TICK_LABEL_Y,
            quiet_label_y: QUIET_LABEL_Y,
        },
        rows: [
            (ROW_ALARMS, "Alarms"),
            (ROW_CASE, "AWS case"),
            (ROW_UPDATES, "Updates"),
        ]
        .into_iter()
        .map(|(y, label)| RowName {
            x: LEFT - 12.0,
            y,
            label: label.to_string(),
        })
        .collect(),
        ticks: ticks(lo, hi, f.at)
            .into_iter()
            .map(|(t, label)| Tick { x: x(t), label })
            .collect(),
        quiet,
        alarm: f.alarm.map(|t| format!("alarm {}", (f.at)(t))),
        description: describe(f, &phases),
        phases,
        events,
        legend_y,
    }
}

/// Estimated width of `text` in `viewBox` units.
fn text_width(text: &str) -> f64 {
    text.chars().count() as f64 * CHAR_WIDTH
}

/// One decimal is plenty for a picture 960 units wide, and keeps the page small.
fn round(v: f64) -> f64 {
    (v * 10.0).round() / 10.0
}

/// Round times between `lo` and `hi`, at most [`MAX_TICKS`] of them (fewer when the labels
/// carry the date and are wider).
fn ticks(
    lo: DateTime<Utc>,
    hi: DateTime<Utc>,
    at: &dyn Fn(DateTime<Utc>) -> String,
) -> Vec<(DateTime<Utc>, String)> {
    const STEPS: [i64; 13] = [1, 2, 5, 10, 15, 30, 60, 120, 180, 360, 720, 1440, 10080];
    let wide = at(lo).chars().count() > 5;
    let most = if wide { MAX_TICKS - 2 } else { MAX_TICKS };
    let minutes = (hi - lo).num_minutes().max(1);
    let step = STEPS
        .into_iter()
        .find(|s| minutes / s < most)
        .unwrap_or(10080);
    // The first multiple of the step (counted from midnight) at or after `lo`.
    let midnight = lo
        .with_hour(0)
        .and_then(|t| t.with_minute(0))
        .and_then(|t| t.with_second(0))
        .and_then(|t| t.with_nanosecond(0))
        .unwrap_or(lo);
    let since = (lo - midnight).num_seconds();
    let first = midnight + Duration::seconds((since + step * 60 - 1) / (step * 60) * step * 60);
    let mut out = Vec::new();
    let mut t = first;
    while t <= hi && out.len() < most as usize {
        out.push((t, at(t)));
        t += Duration::minutes(step);
    }
    out
}

/// The picture in words.
fn describe(f: &Facts<'_>, phases: &[PhaseMark]) -> String {
    let mut parts = vec![format!(
        "From {} to {}",
        (f.at)(f.start.min(f.end)),
        (f.at)(f.end)
    )];
    if !phases.is_empty() {
        let list: Vec<&str> = phases.iter().map(|p| p.label.as_str()).collect();
        parts.push(list.join(", "));
    }
    let count = |k: &[EventKind]| f.events.iter().filter(|e| k.contains(&e.0)).count();
    let mut marks = Vec::new();
    for (kinds, one, many) in [
        (&[EventKind::Alarm][..], "alarm", "alarms"),
        (&[EventKind::Recovery][..], "recovery", "recoveries"),
        (&[EventKind::Case][..], "AWS case", "AWS cases"),
        (
            &[EventKind::Reply][..],
            "reply from AWS",
            "replies from AWS",
        ),
        (
            &[EventKind::Update][..],
            "stakeholder update",
            "stakeholder updates",
        ),
    ] {
        match count(kinds) {
            0 => {}
            1 => marks.push(format!("1 {one}")),
            n => marks.push(format!("{n} {many}")),
        }
    }
    if !marks.is_empty() {
        parts.push(marks.join(", "));
    }
    if !f.quiet.is_empty() {
        let spells: Vec<String> = f
            .quiet
            .iter()
            .map(|(a, b)| format!("{}–{}", (f.at)(*a), (f.at)(*b)))
            .collect();
        parts.push(format!("quiet {}", spells.join(", ")));
    }
    format!("{}.", parts.join("; "))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn t(minutes: i64) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 20, 13, 0, 0).unwrap() + Duration::minutes(minutes)
    }

    fn hhmm(t: DateTime<Utc>) -> String {
        t.format("%H:%M").to_string()
    }

    #[test]
    fn phases_events_and_quiet_spells_sit_where_their_times_are() {
        let quiet = [(t(25), t(90))];
        let picture = draw(&Facts {
            at: &hhmm,
            start: t(-6),
            end: t(100),
            alarm: Some(t(-6)),
            phases: [
                Some(t(0)),
                Some(t(2)),
                Some(t(40)),
                Some(t(25)),
                Some(t(100)),
            ],
            events: vec![
                (EventKind::Alarm, t(-6), "alarm".into()),
                (EventKind::Update, t(40), "update".into()),
            ],
            quiet: &quiet,
        });
        let names: Vec<&str> = picture.phases.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(
            names,
            ["detect", "engage", "mitigate", "escalate", "resolve"]
        );
        // The axis runs from the alarm (left end) to the resolution (right end).
        assert_eq!(picture.events[0].x, LEFT);
        assert_eq!(picture.phases[4].x, RIGHT);
        let x_of = |m: i64| round(LEFT + (m + 6) as f64 / 106.0 * (RIGHT - LEFT));
        assert_eq!(picture.phases[1].x, x_of(2));
        assert_eq!(picture.quiet[0].x, x_of(25));
        assert_eq!(picture.quiet[0].label, "quiet 1h 5m");
        assert_eq!(picture.quiet[0].title, "quiet 13:25–14:30 (1h 5m)");
        assert_eq!(picture.alarm.as_deref(), Some("alarm 12:54"));
        // Detected and engaged are 2 minutes apart: their labels take two lanes.
        assert_ne!(picture.phases[0].label_y, picture.phases[1].label_y);
        assert_eq!(
            picture.phases[4].anchor, "end",
            "the last label ends at the edge"
        );
        for p in &picture.phases {
            assert!(p.label_y < picture.legend_y && picture.legend_y < picture.height);
        }
        // Ticks every 15 minutes from 13:00 (the first round time after 12:54).
        let ticks: Vec<&str> = picture.ticks.iter().map(|t| t.label.as_str()).collect();
        assert_eq!(
            ticks,
            ["13:00", "13:15", "13:30", "13:45", "14:00", "14:15", "14:30"]
        );
        assert_eq!(
            picture.description,
            "From 12:54 to 14:40; detected 13:00, engaged 13:02, mitigated 13:25, escalated 13:40, resolved 14:40; 1 alarm, 1 stakeholder update; quiet 13:25–14:30."
        );
    }

    #[test]
    fn labels_never_overlap_in_a_lane_and_stay_inside_the_picture() {
        // Every phase within one minute of a long incident: all crowded at the left edge.
        let picture = draw(&Facts {
            at: &hhmm,
            start: t(0),
            end: t(600),
            alarm: None,
            phases: [Some(t(0)), Some(t(0)), Some(t(1)), Some(t(1)), None],
            events: Vec::new(),
            quiet: &[],
        });
        assert_eq!(picture.phases.len(), 4, "an unreached phase has no mark");
        let mut spans: Vec<(f64, f64, f64)> = picture
            .phases
            .iter()
            .map(|p| {
                let w = text_width(&p.label);
                let left = match p.anchor.as_str() {
                    "start" => p.label_x,
                    "end" => p.label_x - w,
                    _ => p.label_x - w / 2.0,
                };
                (p.label_y, left, left + w)
            })
            .collect();
        for s in &spans {
            assert!(s.1 >= -3.0 && s.2 <= WIDTH, "{s:?}");
        }
        spans.sort_by(|a, b| a.partial_cmp(b).unwrap());
        for w in spans.windows(2) {
            if w[0].0 == w[1].0 {
                assert!(w[0].2 <= w[1].1, "{:?} overlaps {:?}", w[0], w[1]);
            }
        }
    }

    #[test]
    fn an_incident_of_no_length_still_draws_inside_the_axis() {
        let picture = draw(&Facts {
            at: &hhmm,
            start: t(0),
            end: t(0),
            alarm: None,
            phases: [Some(t(0)), None, None, None, None],
            events: Vec::new(),
            quiet: &[],
        });
        assert_eq!(picture.phases[0].x, LEFT);
        assert!(picture.ticks.iter().all(|t| t.x >= LEFT && t.x <= RIGHT));
        assert!(picture.height > AXIS_Y);
    }
}
