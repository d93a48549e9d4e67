//! The golden postmortem page as a manager sees it: rendered by Debian's `chromium`
//! (headless), checked for what a person would notice, and printed.
//!
//! The page is `tests/golden/postmortem.html`, the one `tests/bot/postmortem.rs` keeps equal
//! to what warroom writes for the golden incident. The browser is driven over the DevTools
//! protocol (a WebSocket on 127.0.0.1), which waits on conditions (the page's load event,
//! every image decoded) instead of sleeping, and gives the screenshot and the PDF that
//! `--screenshot` and `--print-to-pdf` would. Checked:
//! - the page is not blank: its title is drawn and visible, and it has text;
//! - the graph image has loaded (natural width > 0) from the page itself (a `data:` URI),
//!   and nothing else was fetched; the page has no scripts;
//! - the SVG timeline is there with one mark per phase of the key-times table;
//! - nothing overflows horizontally at 800 px;
//! - in print, links show their address, and the PDF has the expected number of pages.
//!
//! A second test opens the managers' report page (`warroom report --format html`) the same
//! way: drawn, charted, self-contained, fitting 800 px.
//!
//! It needs Debian's `chromium` package, so it is ignored by `cargo test`; `.ci/run`
//! installs chromium when missing and runs it with `--ignored`. `UPDATE_GOLDEN=1` rewrites
//! the screenshot `tests/golden/postmortem.png` (800 px wide, the whole page) for reviewers.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use base64::Engine as _;
use futures::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::net::TcpStream;
use tokio::process::{Child, Command};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// Upper bound for the browser to start or answer; generous for a loaded 2-core machine.
const DEADLINE: Duration = Duration::from_secs(60);

/// How Debian's chromium must run here: headless, as root without a sandbox, and with
/// nothing that reaches for the network (a closed network makes it hang on refused
/// connections otherwise).
const FLAGS: [&str; 8] = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
];

/// The narrow screen the page must fit without scrolling sideways.
const NARROW: u64 = 800;

/// The golden page on A4: 1–2 the overview (facts, picture, severity, participants,
/// summary, impact, key times), 3–4 the timeline, 5–7 the AWS evidence (alarms, the graph,
/// the changes before the incident, the case with its opening description and AWS's reply,
/// Health), 8–9 the retrospective, the sections to write and the action items, 10 the
/// message log. The timeline, the AWS evidence, the retrospective and the message log each
/// start a page.
const PRINTED_PAGES: usize = 10;

/// The phases of the key-times table, which the golden incident reaches all of.
const PHASES: [&str; 5] = ["detect", "engage", "escalate", "mitigate", "resolve"];

fn golden(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden")
        .join(name)
}

#[tokio::test]
#[ignore = "needs Debian's chromium; .ci/run installs it and runs it"]
async fn the_golden_postmortem_reads_and_prints_right_in_chromium() {
    let page = golden("postmortem.html");
    let url = format!("file://{}", page.display());
    let mut browser = Browser::launch().await;
    browser
        .call(
            "Emulation.setDeviceMetricsOverride",
            json!({"width": NARROW, "height": 1000, "deviceScaleFactor": 1, "mobile": false}),
        )
        .await;
    browser.call("Page.enable", json!({})).await;
    browser.call("Page.navigate", json!({ "url": url })).await;
    browser.event("Page.loadEventFired").await;

    let seen = browser.evaluate(LOOK).await;
    let report = serde_json::to_string_pretty(&seen).unwrap_or_default();
    // Not blank: the title is drawn where a reader looks first, and there is a page of text.
    assert_eq!(
        seen["title"], "Postmortem: checkout-alb-5xx",
        "the page's heading\n{report}"
    );
    assert_eq!(
        seen["titleVisible"], true,
        "the heading is on screen, not covered\n{report}"
    );
    assert!(
        seen["textLength"].as_u64().unwrap_or(0) > 5000,
        "the page has its text\n{report}"
    );
    // The graph: one image, decoded, from the page itself; nothing fetched from elsewhere.
    let images = seen["images"].as_array().cloned().unwrap_or_default();
    assert_eq!(images.len(), 1, "one graph\n{report}");
    assert!(
        images[0]["naturalWidth"].as_u64().unwrap_or(0) > 0,
        "the graph image has loaded\n{report}"
    );
    assert!(
        images[0]["shownWidth"].as_f64().unwrap_or(0.0) > 100.0,
        "the graph is shown at a readable size\n{report}"
    );
    assert_eq!(
        images[0]["embedded"], true,
        "the graph is in the page (data: URI)\n{report}"
    );
    assert_eq!(
        seen["fetched"],
        json!([]),
        "nothing loaded from outside\n{report}"
    );
    assert_eq!(seen["scripts"], 0, "no scripts in the page\n{report}");
    // The picture: an inline SVG with one mark per phase, every label inside it.
    assert_eq!(seen["svg"], true, "the SVG timeline\n{report}");
    let mut phases: Vec<String> = seen["phases"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|p| p.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    phases.sort();
    let mut want: Vec<String> = PHASES.iter().map(|p| p.to_string()).collect();
    want.sort();
    assert_eq!(phases, want, "one mark per phase\n{report}");
    assert_eq!(
        seen["labelsOutside"],
        json!([]),
        "every label of the picture is inside it\n{report}"
    );
    assert!(
        seen["events"]
            .as_array()
            .is_some_and(|e| ["alarm", "recovery", "case", "reply", "update"]
                .iter()
                .all(|k| e.iter().any(|x| x == k))),
        "the alarm, its recovery, the AWS case, AWS's reply and the updates are marked\n{report}"
    );
    // Fits 800 px: nothing scrolls sideways.
    assert!(
        seen["scrollWidth"].as_u64().unwrap_or(u64::MAX)
            <= seen["clientWidth"].as_u64().unwrap_or(0),
        "horizontal overflow at {NARROW} px\n{report}"
    );
    assert_eq!(
        seen["emoji"], false,
        "no character that needs an emoji font\n{report}"
    );

    // The screenshot a reviewer looks at: the whole page, 800 px wide.
    let height = seen["scrollHeight"].as_u64().unwrap_or(1000);
    let shot = browser
        .call(
            "Page.captureScreenshot",
            json!({
                "format": "png",
                "captureBeyondViewport": true,
                "clip": {"x": 0, "y": 0, "width": NARROW, "height": height, "scale": 1},
            }),
        )
        .await;
    let png = decode(&shot["data"]);
    assert_eq!(png_size(&png), Some((NARROW as u32, height as u32)));
    let kept = golden("postmortem.png");
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(&kept, &png).expect("write the screenshot");
    } else {
        let old = std::fs::read(&kept)
            .unwrap_or_else(|e| panic!("{}: {e} (UPDATE_GOLDEN=1 writes it)", kept.display()));
        assert_eq!(
            png_size(&old),
            png_size(&png),
            "the page's layout changed since the screenshot was taken: UPDATE_GOLDEN=1 retakes it"
        );
    }

    // In print: links show where they go, and the page count is what the sections make.
    browser
        .call("Emulation.setEmulatedMedia", json!({"media": "print"}))
        .await;
    let printed = browser.evaluate(PRINT_LOOK).await;
    assert_eq!(
        printed["linksWithoutAddress"],
        json!([]),
        "links show their address in print"
    );
    assert!(
        printed["links"].as_u64().unwrap_or(0) >= 3,
        "the alarm, the graph's file and the AWS case are linked: {printed}"
    );
    let pdf = browser
        .call(
            "Page.printToPDF",
            json!({"printBackground": true, "preferCSSPageSize": true}),
        )
        .await;
    let pdf = decode(&pdf["data"]);
    assert!(pdf.starts_with(b"%PDF-"), "a PDF");
    assert_eq!(
        pdf_pages(&pdf),
        PRINTED_PAGES,
        "printed pages (see PRINTED_PAGES for what each holds)"
    );
    browser.close().await;
}

/// The managers' report page (`warroom report --format html`) as a manager opens it: its
/// heading and figures drawn, every chart an inline SVG with one bar per row and its labels
/// inside it, nothing fetched, no scripts, nothing scrolling sideways at 800 px.
#[tokio::test]
#[ignore = "needs Debian's chromium; .ci/run installs it and runs it"]
async fn the_report_page_reads_right_in_chromium() {
    use chrono::{Duration as Minutes, TimeZone, Utc};
    use warroom::domain::report::{compute, CaseFacts, IncidentFacts, Period, ReportFacts};
    use warroom::domain::support::SupportSeverity;
    use warroom::domain::{IncidentId, Severity};

    let t = |day: u32, h: u32, m: u32| Utc.with_ymd_and_hms(2026, 11, day, h, m, 0).unwrap();
    let incident = |id: i64, day: u32, route: Option<&str>, sev: Severity| IncidentFacts {
        id: IncidentId(id),
        severity: sev,
        opened_at: t(day, 9, 0),
        declared_at: t(day, 9, 4),
        route: route.map(str::to_string),
        aws_service: route.map(|_| "ELASTICLOADBALANCING".to_string()),
        first_alarm_at: route.map(|_| t(day, 9, 0)),
        first_response_at: Some(t(day, 9, 6)),
        cases: vec![CaseFacts {
            severity: SupportSeverity::High,
            opened_at: t(day, 9, 30),
            first_aws_reply_at: Some(t(day, 12, 0)),
        }],
        mitigated_at: Some(t(day, 10, 0)),
        resolved_at: Some(t(day, 11, 0)),
        postmortem_drafted: id % 2 == 0,
    };
    let facts = ReportFacts {
        period: Period {
            since: t(2, 0, 0),
            until: t(30, 0, 0),
        },
        incidents: vec![
            incident(1, 3, Some("checkout"), Severity::Sev2),
            incident(
                2,
                10,
                Some("a route with a very long name indeed, longer than a label"),
                Severity::Sev1,
            ),
            incident(3, 17, None, Severity::Sev3),
            incident(4, 18, None, Severity::Sev3),
        ],
        open_action_items: Vec::new(),
        drills: 1,
    };
    let report = compute(&facts, |_| Minutes::hours(4));
    let html = warroom::report::managers::html(&report, t(30, 9, 0)).expect("the page renders");
    let dir = tempfile::tempdir().expect("a directory");
    let page = dir.path().join("report.html");
    std::fs::write(&page, html).expect("the page is written");

    let mut browser = Browser::launch().await;
    browser
        .call(
            "Emulation.setDeviceMetricsOverride",
            json!({"width": NARROW, "height": 1000, "deviceScaleFactor": 1, "mobile": false}),
        )
        .await;
    browser.call("Page.enable", json!({})).await;
    browser
        .call(
            "Page.navigate",
            json!({ "url": format!("file://{}", page.display()) }),
        )
        .await;
    browser.event("Page.loadEventFired").await;
    let seen = browser.evaluate(REPORT_LOOK).await;
    let shown = serde_json::to_string_pretty(&seen).unwrap_or_default();
    assert_eq!(seen["title"], "Incident report", "{shown}");
    assert_eq!(seen["titleVisible"], true, "{shown}");
    assert_eq!(seen["incidents"], "4", "{shown}");
    assert_eq!(
        seen["fetched"],
        json!([]),
        "nothing loaded from outside\n{shown}"
    );
    assert_eq!(seen["scripts"], 0, "{shown}");
    // Weeks 45 to 48, severities, routes, services, the twelve times, the AWS rows.
    assert_eq!(
        seen["bars"],
        json!({"weeks": 4, "severity": 4, "route": 3, "service": 2, "times": 12, "aws": 2}),
        "{shown}"
    );
    assert_eq!(seen["barsWithoutSize"], 0, "every bar is drawn\n{shown}");
    assert_eq!(
        seen["labelsOutside"],
        json!([]),
        "labels inside their chart\n{shown}"
    );
    assert!(
        seen["scrollWidth"].as_u64().unwrap_or(u64::MAX)
            <= seen["clientWidth"].as_u64().unwrap_or(0),
        "horizontal overflow at {NARROW} px\n{shown}"
    );
    browser.close().await;
}

/// The report page as drawn: its heading, figures, charts and their labels.
const REPORT_LOOK: &str = r#"(() => {
  const h1 = document.querySelector('h1');
  const r = h1.getBoundingClientRect();
  const top = document.elementFromPoint(r.left + 2, r.top + r.height / 2);
  const charts = [...document.querySelectorAll('figure[id^="chart-"]')];
  const bars = {};
  let withoutSize = 0;
  const outside = [];
  for (const f of charts) {
    const rects = [...f.querySelectorAll('svg rect')];
    bars[f.id.replace('chart-', '')] = rects.length;
    const svg = f.querySelector('svg');
    if (!svg) continue;
    const box = svg.getBoundingClientRect();
    withoutSize += rects.filter(b => b.getBBox().height <= 0).length;
    for (const t of svg.querySelectorAll('text')) {
      const b = t.getBoundingClientRect();
      if (b.left < box.left - 1 || b.right > box.right + 1) outside.push(t.textContent);
    }
  }
  return {
    title: h1.textContent,
    titleVisible: r.width > 0 && r.height > 0 && (top === h1 || h1.contains(top)),
    incidents: document.getElementById('incidents').textContent,
    fetched: performance.getEntriesByType('resource').map(e => e.name),
    scripts: document.scripts.length,
    bars,
    barsWithoutSize: withoutSize,
    labelsOutside: outside,
    scrollWidth: document.documentElement.scrollWidth,
    clientWidth: document.documentElement.clientWidth,
  };
})()"#;

/// What a person would see, measured in the page once every image is decoded.
const LOOK: &str = r#"(async () => {
  const images = [...document.images];
  await Promise.all(images.map(i => i.decode().catch(() => null)));
  const h1 = document.querySelector('h1');
  const r = h1.getBoundingClientRect();
  const top = document.elementFromPoint(r.left + 2, r.top + r.height / 2);
  const svg = document.querySelector('figure.picture svg.shape');
  const box = svg ? svg.getBoundingClientRect() : null;
  const outside = svg ? [...svg.querySelectorAll('text')].filter(t => {
    const b = t.getBoundingClientRect();
    return b.left < box.left - 1 || b.right > box.right + 1 || b.top < box.top - 1 || b.bottom > box.bottom + 1;
  }).map(t => t.textContent) : [];
  return {
    title: h1.textContent,
    titleVisible: r.width > 0 && r.height > 0 && (top === h1 || h1.contains(top)),
    textLength: document.body.innerText.length,
    images: images.map(i => ({
      naturalWidth: i.naturalWidth,
      shownWidth: i.getBoundingClientRect().width,
      embedded: i.currentSrc.startsWith('data:image/png;base64,'),
    })),
    fetched: performance.getEntriesByType('resource').map(e => e.name).filter(n => !n.startsWith('data:')),
    scripts: document.scripts.length,
    svg: !!svg,
    phases: svg ? [...svg.querySelectorAll('g.phase[data-phase]')].map(g => g.dataset.phase) : [],
    events: svg ? [...svg.querySelectorAll('[data-event]')].map(g => g.dataset.event) : [],
    labelsOutside: outside,
    scrollWidth: document.documentElement.scrollWidth,
    clientWidth: document.documentElement.clientWidth,
    scrollHeight: document.documentElement.scrollHeight,
    emoji: /[\u{1F000}-\u{1FAFF}\u{2600}-\u{27BF}\u{2B00}-\u{2BFF}\u{23E9}-\u{23FA}\u{FE0F}]/u.test(document.body.innerText),
  };
})()"#;

/// Print styles as applied: every web link followed by its address.
const PRINT_LOOK: &str = r#"(() => {
  const links = [...document.querySelectorAll('a[href^="http"]')];
  return {
    links: links.length,
    linksWithoutAddress: links
      .filter(a => !getComputedStyle(a, '::after').content.includes(a.getAttribute('href')))
      .map(a => a.getAttribute('href')),
  };
})()"#;

fn decode(data: &Value) -> Vec<u8> {
    base64::engine::general_purpose::STANDARD
        .decode(data.as_str().expect("base64 data"))
        .expect("valid base64")
}

/// Width and height from a PNG's header.
fn png_size(png: &[u8]) -> Option<(u32, u32)> {
    if png.len() < 24 || !png.starts_with(b"\x89PNG\r\n\x1a\n") {
        return None;
    }
    let be = |b: &[u8]| u32::from_be_bytes([b[0], b[1], b[2], b[3]]);
    Some((be(&png[16..20]), be(&png[20..24])))
}

/// The page objects of a PDF (`/Type /Page`, not `/Pages`).
fn pdf_pages(pdf: &[u8]) -> usize {
    let mut pages = 0;
    let mut rest = pdf;
    while let Some(at) = find(rest, b"/Type") {
        let after = &rest[at + 5..];
        let trimmed = after
            .iter()
            .position(|b| !b.is_ascii_whitespace())
            .map_or(&after[after.len()..], |i| &after[i..]);
        if trimmed.starts_with(b"/Page")
            && !trimmed.get(5).is_some_and(|b| b.is_ascii_alphanumeric())
        {
            pages += 1;
        }
        rest = after;
    }
    pages
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// Chromium, one tab, and a DevTools connection to it.
struct Browser {
    child: Child,
    ws: WebSocketStream<MaybeTlsStream<TcpStream>>,
    /// The tab's DevTools session (flat mode: its calls carry the id).
    session: String,
    next_id: u64,
    /// Events that arrived while waiting for an answer.
    events: Vec<Value>,
    _profile: tempfile::TempDir,
}

impl Browser {
    /// Start chromium with a fresh profile and DevTools on a free port of 127.0.0.1, and
    /// open a tab.
    async fn launch() -> Browser {
        let profile = tempfile::tempdir().expect("a profile directory");
        let mut child = Command::new("chromium")
            .args(FLAGS)
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .arg("--remote-debugging-address=127.0.0.1")
            .arg("--remote-debugging-port=0")
            .arg("about:blank")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|e| {
                panic!("cannot start chromium ({e}): install Debian's chromium (apt-get install -y chromium); .ci/run does")
            });
        // Chromium says where DevTools listens on stderr; keep reading after that, so a
        // full pipe never blocks it.
        let mut lines = BufReader::new(child.stderr.take().expect("stderr")).lines();
        let endpoint = tokio::time::timeout(DEADLINE, async {
            let mut said = Vec::new();
            while let Ok(Some(line)) = lines.next_line().await {
                if let Some(url) = line.split("DevTools listening on ").nth(1) {
                    return Ok(url.trim().to_string());
                }
                said.push(line);
            }
            Err(said.join("\n"))
        })
        .await
        .expect("chromium announces DevTools in time")
        .unwrap_or_else(|said| panic!("chromium exited without DevTools:\n{said}"));
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        assert!(endpoint.starts_with("ws://127.0.0.1:"), "{endpoint}");
        let (ws, _) = tokio::time::timeout(DEADLINE, tokio_tungstenite::connect_async(&endpoint))
            .await
            .expect("DevTools answers in time")
            .expect("DevTools connection");
        let mut browser = Browser {
            child,
            ws,
            session: String::new(),
            next_id: 0,
            events: Vec::new(),
            _profile: profile,
        };
        let target = browser
            .send(None, "Target.createTarget", json!({"url": "about:blank"}))
            .await;
        let attached = browser
            .send(
                None,
                "Target.attachToTarget",
                json!({"targetId": target["targetId"], "flatten": true}),
            )
            .await;
        browser.session = attached["sessionId"]
            .as_str()
            .expect("a session id")
            .to_string();
        browser
    }

    /// Call a method of the tab; its result.
    async fn call(&mut self, method: &str, params: Value) -> Value {
        let session = self.session.clone();
        self.send(Some(&session), method, params).await
    }

    /// Evaluate a script in the page (awaiting the promise it returns); its value.
    async fn evaluate(&mut self, script: &str) -> Value {
        let out = self
            .call(
                "Runtime.evaluate",
                json!({"expression": script, "awaitPromise": true, "returnByValue": true}),
            )
            .await;
        if let Some(e) = out.get("exceptionDetails") {
            panic!("the script failed in the page: {e}");
        }
        out["result"]["value"].clone()
    }

    async fn send(&mut self, session: Option<&str>, method: &str, params: Value) -> Value {
        self.next_id += 1;
        let id = self.next_id;
        let mut msg = json!({"id": id, "method": method, "params": params});
        if let Some(s) = session {
            msg["sessionId"] = s.into();
        }
        self.ws
            .send(Message::Text(msg.to_string().into()))
            .await
            .expect("DevTools takes the call");
        let answer = tokio::time::timeout(DEADLINE, async {
            loop {
                let msg = self.next().await;
                if msg["id"] == id {
                    return msg;
                }
                self.events.push(msg);
            }
        })
        .await
        .unwrap_or_else(|_| panic!("{method}: no answer within {DEADLINE:?}"));
        if let Some(e) = answer.get("error") {
            panic!("{method} failed: {e}");
        }
        answer["result"].clone()
    }

    /// Wait for an event of the tab.
    async fn event(&mut self, method: &str) -> Value {
        let ours = |m: &Value, session: &str| m["method"] == method && m["sessionId"] == session;
        if let Some(i) = self.events.iter().position(|m| ours(m, &self.session)) {
            return self.events.remove(i);
        }
        tokio::time::timeout(DEADLINE, async {
            loop {
                let msg = self.next().await;
                if ours(&msg, &self.session) {
                    return msg;
                }
                self.events.push(msg);
            }
        })
        .await
        .unwrap_or_else(|_| panic!("no {method} within {DEADLINE:?}"))
    }

    async fn next(&mut self) -> Value {
        loop {
            match self.ws.next().await {
                Some(Ok(Message::Text(text))) => {
                    return serde_json::from_str(text.as_str()).expect("DevTools speaks JSON")
                }
                Some(Ok(_)) => continue,
                Some(Err(e)) => panic!("DevTools connection failed: {e}"),
                None => panic!("DevTools closed the connection"),
            }
        }
    }

    /// Ask chromium to quit, and make sure it has.
    async fn close(mut self) {
        self.next_id += 1;
        let bye = json!({"id": self.next_id, "method": "Browser.close"});
        let _ = self.ws.send(Message::Text(bye.to_string().into())).await;
        if tokio::time::timeout(DEADLINE, self.child.wait())
            .await
            .is_err()
        {
            let _ = self.child.kill().await;
        }
    }
}
