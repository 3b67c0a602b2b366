//! A fault-injecting HTTP proxy for end-to-end tests: listens on loopback, forwards each
//! request to a loopback upstream (moto) and, for requests matching a [`Rule`], answers with an
//! error, drops the connection, adds latency or stalls instead, or plays a recorded answer
//! (for a protocol moto does not serve, such as CloudWatch's RPC v2 CBOR).
//!
//! Every request is forwarded on its own upstream connection and answered with
//! `Connection: close`, so one request is one TCP connection and faults never leak into the
//! next request. Everything is bounded: connection threads, stall time, body size.

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

/// Longest a stalled request is held (the client gives up long before).
const MAX_STALL: Duration = Duration::from_secs(300);
/// Most connections served at once; more are refused by closing them.
const MAX_CONNECTIONS: usize = 64;
/// Largest request or response handled (fixtures are far smaller).
const MAX_MESSAGE: usize = 64 * 1024 * 1024;
/// Read timeout on both sides of a forwarded request.
const IO_TIMEOUT: Duration = Duration::from_secs(120);

/// A recorded HTTP answer the proxy plays instead of forwarding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recorded {
    /// HTTP status.
    pub status: u16,
    /// Headers besides `Content-Length` and `Connection`.
    pub headers: Vec<(String, String)>,
    /// Body bytes.
    pub body: Vec<u8>,
}

/// What to do with a matching request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// Answer with this HTTP status (500, 503) and an AWS-style error body; not forwarded.
    Status(u16),
    /// Close the connection before forwarding, with the request unread (a TCP reset).
    Reset,
    /// Forward the request (it takes effect), then close without answering: a lost response.
    LoseResponse,
    /// Wait this long, then forward.
    Latency(Duration),
    /// Accept and never answer (until the client gives up or [`MAX_STALL`]).
    Stall,
    /// Answer with this recorded response; not forwarded. The request body is kept
    /// ([`FaultProxy::answered`]).
    Answer(Arc<Recorded>),
    /// Forward unchanged and keep the request body ([`FaultProxy::kept`]): what was sent, for a
    /// setting moto accepts without storing it.
    Keep,
}

/// When a fault applies.
#[derive(Debug, Clone)]
pub struct Rule {
    /// Substring of the request line, headers or body (`Action=UpdateStack`, `PUT /bucket/`,
    /// `X-Amz-Target: ...`); `None` matches every request.
    pub matches: Option<String>,
    /// The fault.
    pub fault: Fault,
    /// Fire on every `every`-th matching request (1 = each one): a deterministic error rate.
    pub every: u32,
    /// Stop after firing this many times (`None`: no limit).
    pub times: Option<u32>,
    /// Let this many matching requests through before the rule applies (a fault that starts
    /// mid-run, e.g. only the polls after an update).
    pub after: u32,
}

impl Rule {
    /// `fault` on every request matching `matches` (any request when empty), without limit.
    pub fn new(matches: &str, fault: Fault) -> Self {
        Self {
            matches: (!matches.is_empty()).then(|| matches.to_string()),
            fault,
            every: 1,
            times: None,
            after: 0,
        }
    }

    /// Fire on every `n`-th matching request only.
    pub fn every(mut self, n: u32) -> Self {
        self.every = n.max(1);
        self
    }

    /// Fire at most `n` times.
    pub fn times(mut self, n: u32) -> Self {
        self.times = Some(n);
        self
    }

    /// Let the first `n` matching requests through untouched.
    pub fn after(mut self, n: u32) -> Self {
        self.after = n;
        self
    }
}

#[derive(Debug)]
struct RuleState {
    rule: Rule,
    seen: u32,
    fired: u32,
}

#[derive(Debug, Default)]
struct Shared {
    rules: Mutex<Vec<RuleState>>,
    requests: AtomicUsize,
    faults: AtomicUsize,
    live: AtomicUsize,
    stop: AtomicBool,
    answered: Mutex<Vec<Vec<u8>>>,
    kept: Mutex<Vec<Vec<u8>>>,
}

impl Shared {
    /// The fault for this request, counting it against the rules (first rule that fires wins).
    fn pick(&self, request: &str) -> Option<Fault> {
        let mut rules = self.rules.lock().unwrap_or_else(|p| p.into_inner());
        for r in rules.iter_mut() {
            if r.rule
                .matches
                .as_deref()
                .is_some_and(|m| !request.contains(m))
            {
                continue;
            }
            if r.rule.times.is_some_and(|t| r.fired >= t) {
                continue;
            }
            r.seen += 1;
            if r.seen <= r.rule.after {
                continue;
            }
            if (r.seen - r.rule.after) % r.rule.every == 0 {
                r.fired += 1;
                self.faults.fetch_add(1, Ordering::Relaxed);
                return Some(r.rule.fault.clone());
            }
        }
        None
    }
}

/// A running proxy; stops on drop.
pub struct FaultProxy {
    port: u16,
    shared: Arc<Shared>,
    accept: Option<JoinHandle<()>>,
}

impl FaultProxy {
    /// Listen on `127.0.0.1:<free port>` and forward to `127.0.0.1:upstream_port`.
    pub fn start(upstream_port: u16) -> Result<FaultProxy> {
        let listener = TcpListener::bind("127.0.0.1:0").context("binding the fault proxy")?;
        let port = listener.local_addr()?.port();
        let upstream = SocketAddr::from(([127, 0, 0, 1], upstream_port));
        if !upstream.ip().is_loopback() {
            bail!("the fault proxy only forwards to loopback");
        }
        let shared = Arc::new(Shared::default());
        let s = shared.clone();
        let accept = std::thread::spawn(move || accept_loop(listener, upstream, s));
        Ok(FaultProxy {
            port,
            shared,
            accept: Some(accept),
        })
    }

    /// `http://127.0.0.1:PORT`, to use as `AWS_ENDPOINT_URL`.
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Replace the rules (and their counters).
    pub fn set_rules(&self, rules: Vec<Rule>) {
        let mut r = self.shared.rules.lock().unwrap_or_else(|p| p.into_inner());
        *r = rules
            .into_iter()
            .map(|rule| RuleState {
                rule,
                seen: 0,
                fired: 0,
            })
            .collect();
    }

    /// Forward everything untouched from now on.
    pub fn clear(&self) {
        self.set_rules(Vec::new());
    }

    /// Requests seen so far.
    pub fn requests(&self) -> usize {
        self.shared.requests.load(Ordering::Relaxed)
    }

    /// Faults injected so far.
    pub fn faults(&self) -> usize {
        self.shared.faults.load(Ordering::Relaxed)
    }

    /// The bodies of the requests answered with [`Fault::Answer`], in arrival order.
    pub fn answered(&self) -> Vec<Vec<u8>> {
        self.shared
            .answered
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }
}

impl FaultProxy {
    /// The bodies of the requests forwarded by a [`Fault::Keep`] rule, in arrival order.
    pub fn kept(&self) -> Vec<Vec<u8>> {
        self.shared
            .kept
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::Relaxed);
        // Wake the blocking accept.
        let _ = TcpStream::connect(("127.0.0.1", self.port));
        if let Some(h) = self.accept.take() {
            let _ = h.join();
        }
    }
}

fn accept_loop(listener: TcpListener, upstream: SocketAddr, shared: Arc<Shared>) {
    for conn in listener.incoming() {
        if shared.stop.load(Ordering::Relaxed) {
            return;
        }
        let Ok(conn) = conn else { continue };
        if shared.live.load(Ordering::Relaxed) >= MAX_CONNECTIONS {
            continue;
        }
        shared.live.fetch_add(1, Ordering::Relaxed);
        let s = shared.clone();
        std::thread::spawn(move || {
            let _ = serve(conn, upstream, &s);
            s.live.fetch_sub(1, Ordering::Relaxed);
        });
    }
}

/// One request on one client connection.
fn serve(mut client: TcpStream, upstream: SocketAddr, shared: &Shared) -> Result<()> {
    client.set_read_timeout(Some(IO_TIMEOUT))?;
    let (head, early_body) = read_head(&mut client)?;
    shared.requests.fetch_add(1, Ordering::Relaxed);
    let head_text = String::from_utf8_lossy(&head).into_owned();
    let length = content_length(&head_text);
    if length > MAX_MESSAGE {
        bail!("request body too large for the fault proxy");
    }
    // Decide on the request line and headers first: a reset must leave the body unread.
    let by_head = shared.pick_if_head_decides(&head_text);
    if by_head == Some(Fault::Reset) {
        drop(client);
        return Ok(());
    }
    if head_text
        .to_ascii_lowercase()
        .contains("\r\nexpect: 100-continue")
    {
        client.write_all(b"HTTP/1.1 100 Continue\r\n\r\n")?;
    }
    let mut body = early_body;
    read_exact_more(&mut client, &mut body, length)?;
    let request_text = format!("{head_text}{}", String::from_utf8_lossy(&body));
    let fault = by_head.or_else(|| shared.pick(&request_text));
    match &fault {
        Some(Fault::Status(code)) => {
            return answer_error(&mut client, *code);
        }
        Some(Fault::Answer(recorded)) => {
            shared
                .answered
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .push(body);
            return answer_recorded(&mut client, recorded);
        }
        Some(Fault::Reset) => {
            // The body was read: close at once without an answer.
            let _ = client.shutdown(Shutdown::Both);
            return Ok(());
        }
        Some(Fault::Stall) => {
            stall(shared);
            return Ok(());
        }
        Some(Fault::Latency(d)) => std::thread::sleep((*d).min(MAX_STALL)),
        Some(Fault::Keep) => shared
            .kept
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(body.clone()),
        Some(Fault::LoseResponse) | None => {}
    }
    let response = forward(upstream, &head_text, &body)?;
    if fault == Some(Fault::LoseResponse) {
        let _ = client.shutdown(Shutdown::Both);
        return Ok(());
    }
    client.write_all(&response)?;
    let _ = client.shutdown(Shutdown::Both);
    Ok(())
}

impl Shared {
    /// Resets are decided on the head alone when the rule's text is in the head, so the body
    /// stays unread and closing sends a TCP reset.
    fn pick_if_head_decides(&self, head: &str) -> Option<Fault> {
        let rules = self.rules.lock().unwrap_or_else(|p| p.into_inner());
        let head_rule = rules.iter().any(|r| {
            r.rule.fault == Fault::Reset
                && r.rule.matches.as_deref().is_none_or(|m| head.contains(m))
        });
        drop(rules);
        if head_rule { self.pick(head) } else { None }
    }
}

fn stall(shared: &Shared) {
    let started = Instant::now();
    while started.elapsed() < MAX_STALL && !shared.stop.load(Ordering::Relaxed) {
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn answer_recorded(client: &mut TcpStream, recorded: &Recorded) -> Result<()> {
    let mut head = format!("HTTP/1.1 {} Recorded\r\n", recorded.status);
    for (name, value) in &recorded.headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str(&format!(
        "Content-Length: {}\r\nConnection: close\r\n\r\n",
        recorded.body.len()
    ));
    client.write_all(head.as_bytes())?;
    client.write_all(&recorded.body)?;
    let _ = client.shutdown(Shutdown::Both);
    Ok(())
}

fn answer_error(client: &mut TcpStream, code: u16) -> Result<()> {
    let (name, aws_code) = match code {
        500 => ("Internal Server Error", "InternalFailure"),
        502 => ("Bad Gateway", "BadGateway"),
        503 => ("Service Unavailable", "ServiceUnavailable"),
        _ => ("Error", "InjectedFault"),
    };
    let body = format!(
        "<ErrorResponse><Error><Type>Receiver</Type><Code>{aws_code}</Code><Message>injected by \
         the test proxy</Message></Error><RequestId>proxy</RequestId></ErrorResponse>"
    );
    let resp = format!(
        "HTTP/1.1 {code} {name}\r\nContent-Type: text/xml\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    client.write_all(resp.as_bytes())?;
    let _ = client.shutdown(Shutdown::Both);
    Ok(())
}

/// Send the request on a fresh upstream connection and return its whole answer, marked
/// `Connection: close`.
fn forward(upstream: SocketAddr, head: &str, body: &[u8]) -> Result<Vec<u8>> {
    let mut up = TcpStream::connect_timeout(&upstream, Duration::from_secs(10))
        .context("connecting to the upstream")?;
    up.set_read_timeout(Some(IO_TIMEOUT))?;
    let head = rewrite_head(head, &["connection", "expect", "keep-alive"]);
    up.write_all(head.as_bytes())?;
    up.write_all(body)?;
    let mut raw = Vec::new();
    up.take(MAX_MESSAGE as u64).read_to_end(&mut raw)?;
    let Some(split) = find(&raw, b"\r\n\r\n") else {
        bail!("the upstream answered without an HTTP head");
    };
    let resp_head = String::from_utf8_lossy(&raw[..split + 4]).into_owned();
    let mut out = rewrite_head(&resp_head, &["connection", "keep-alive"]).into_bytes();
    out.extend_from_slice(&raw[split + 4..]);
    Ok(out)
}

/// The head without the named headers, with `Connection: close` added.
fn rewrite_head(head: &str, drop: &[&str]) -> String {
    let mut out = String::new();
    for (i, line) in head.split("\r\n").enumerate() {
        if line.is_empty() {
            continue;
        }
        let name = line
            .split(':')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        if i > 0 && drop.contains(&name.as_str()) {
            continue;
        }
        out.push_str(line);
        out.push_str("\r\n");
    }
    out.push_str("Connection: close\r\n\r\n");
    out
}

fn read_head(stream: &mut TcpStream) -> Result<(Vec<u8>, Vec<u8>)> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    loop {
        if let Some(end) = find(&buf, b"\r\n\r\n") {
            let rest = buf.split_off(end + 4);
            return Ok((buf, rest));
        }
        if buf.len() > 1024 * 1024 {
            bail!("request head too large");
        }
        let n = stream.read(&mut chunk)?;
        if n == 0 {
            bail!("the client closed before sending a request");
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

fn read_exact_more(stream: &mut TcpStream, body: &mut Vec<u8>, length: usize) -> Result<()> {
    let mut chunk = [0u8; 65536];
    while body.len() < length {
        let n = stream.read(&mut chunk)?;
        if n == 0 {
            bail!("the client closed mid-body");
        }
        body.extend_from_slice(&chunk[..n]);
    }
    Ok(())
}

fn content_length(head: &str) -> usize {
    head.split("\r\n")
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.trim()
                .eq_ignore_ascii_case("content-length")
                .then(|| v.trim().parse().ok())?
        })
        .unwrap_or(0)
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one_shot_upstream(answer: &'static str) -> u16 {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        std::thread::spawn(move || {
            for c in l.incoming().take(8) {
                let mut c = c.unwrap();
                let _ = read_head(&mut c);
                let _ = c.write_all(answer.as_bytes());
            }
        });
        port
    }

    fn get(port: u16, path: &str) -> std::io::Result<String> {
        let mut s = TcpStream::connect(("127.0.0.1", port))?;
        s.set_read_timeout(Some(Duration::from_secs(2)))?;
        s.write_all(format!("GET {path} HTTP/1.1\r\nHost: x\r\n\r\n").as_bytes())?;
        let mut out = String::new();
        s.read_to_string(&mut out)?;
        Ok(out)
    }

    #[test]
    fn forwards_and_injects_by_rule() {
        let up = one_shot_upstream("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
        let proxy = FaultProxy::start(up).unwrap();
        assert!(get(proxy.port, "/a").unwrap().ends_with("ok"));
        proxy.set_rules(vec![Rule::new("/b", Fault::Status(503)).times(1)]);
        assert!(get(proxy.port, "/b").unwrap().starts_with("HTTP/1.1 503"));
        assert!(
            get(proxy.port, "/b").unwrap().ends_with("ok"),
            "fired once only"
        );
        proxy.set_rules(vec![Rule::new("", Fault::LoseResponse)]);
        assert_eq!(get(proxy.port, "/c").unwrap_or_default(), "");
        proxy.set_rules(vec![Rule::new("", Fault::Stall)]);
        let started = Instant::now();
        assert!(
            get(proxy.port, "/d").is_err(),
            "a stall times the client out"
        );
        assert!(started.elapsed() >= Duration::from_secs(2));
        assert_eq!(proxy.requests(), 5);
        assert_eq!(proxy.faults(), 3);
    }

    #[test]
    fn a_recorded_answer_is_played_and_its_request_kept() {
        let up = one_shot_upstream("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
        let proxy = FaultProxy::start(up).unwrap();
        let recorded = Recorded {
            status: 400,
            headers: vec![("Content-Type".into(), "application/cbor".into())],
            body: vec![0xa0],
        };
        proxy.set_rules(vec![Rule::new(
            "/operation/Get",
            Fault::Answer(Arc::new(recorded)),
        )]);
        let mut s = TcpStream::connect(("127.0.0.1", proxy.port)).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
        s.write_all(b"POST /operation/Get HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc")
            .unwrap();
        let mut out = Vec::new();
        s.read_to_end(&mut out).unwrap();
        let text = String::from_utf8_lossy(&out);
        assert!(text.starts_with("HTTP/1.1 400 "), "{text}");
        assert!(
            text.contains("Content-Type: application/cbor\r\n"),
            "{text}"
        );
        assert!(text.contains("Content-Length: 1\r\n"), "{text}");
        assert_eq!(out.last(), Some(&0xa0));
        assert_eq!(proxy.answered(), vec![b"abc".to_vec()]);
        assert!(
            get(proxy.port, "/other").unwrap().ends_with("ok"),
            "forwarded"
        );
    }

    #[test]
    fn every_nth_request_fails() {
        let shared = Shared::default();
        *shared.rules.lock().unwrap() = vec![RuleState {
            rule: Rule::new("Action=DescribeStackEvents", Fault::Status(500)).every(2),
            seen: 0,
            fired: 0,
        }];
        let picks: Vec<bool> = (0..4)
            .map(|_| shared.pick("Action=DescribeStackEvents").is_some())
            .collect();
        assert_eq!(picks, vec![false, true, false, true]);
        assert!(shared.pick("Action=DescribeStacks").is_none());
    }

    #[test]
    fn a_rule_with_after_lets_the_first_requests_through() {
        let shared = Shared::default();
        *shared.rules.lock().unwrap() = vec![RuleState {
            rule: Rule::new("GET /f", Fault::Status(500)).after(2).times(2),
            seen: 0,
            fired: 0,
        }];
        let picks: Vec<bool> = (0..5).map(|_| shared.pick("GET /f").is_some()).collect();
        assert_eq!(picks, vec![false, false, true, true, false]);
    }
}
