//! Integration-test harness: starts a real local worker (`wrangler dev`, workerd, local D1 and
//! Durable Objects) with its own state folder and free ports, and gives tests a typed client.
//!
//! One worker per test binary (starting one takes seconds); tests isolate themselves by
//! creating their own users (`app.user("name")` makes the name unique per run).
#![allow(dead_code)]

pub mod bulk;
pub mod jwt;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A running local worker.
pub struct Worker {
    pub base: String,
    pub port: u16,
    /// The runtime's inspector (Chrome DevTools Protocol), for `make gc-pauses`.
    pub inspector: u16,
    pub state: PathBuf,
    /// `wrangler dev`'s arguments and process, for `restart`.
    args: Vec<String>,
    pid: std::sync::atomic::AtomicU32,
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// PATH with the project's Node and wrangler first: the Node `make` chose
/// (scripts/node-path.sh links it in .tools/node/bin), else node_modules/.bin's (npm's Node
/// package for this machine), for a `cargo test` run without make.
pub fn tool_path() -> String {
    let root = root();
    format!(
        "{}:{}:{}",
        root.join(".tools/node/bin").display(),
        root.join("node_modules/.bin").display(),
        std::env::var("PATH").unwrap_or_default()
    )
}

/// Runs `wrangler` in the project folder with the test environment.
/// wrangler runs in a process group of its own, so that it and every runtime it starts can be
/// ended together (`watchdog`, `Worker::restart`): ending wrangler alone leaves its workerd
/// processes running.
pub fn wrangler(args: &[&str], log: &Path) -> std::process::Child {
    use std::os::unix::process::CommandExt;
    let out = std::fs::File::create(log).expect("log file");
    Command::new("wrangler")
        .process_group(0)
        .args(args)
        .current_dir(root())
        .env("PATH", tool_path())
        .env("WRANGLER_SEND_METRICS", "false")
        .env("CI", "true")
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(out.try_clone().unwrap())
        .stderr(out)
        .spawn()
        .expect("wrangler runs (make tools installs it)")
}

impl Worker {
    /// Applies schema.sql (plus `seed_sql`) to a fresh local D1 and starts `wrangler dev` with
    /// `vars` overriding wrangler.toml's settings. The worker dies with the test process.
    pub fn start(name: &str, vars: &[(&str, &str)], seed_sql: &str) -> Worker {
        Worker::start_under(&root().join("target/test-state"), name, vars, seed_sql)
    }

    /// `start` with the state folder under `parent` (the benchmark keeps its own).
    pub fn start_under(parent: &Path, name: &str, vars: &[(&str, &str)], seed_sql: &str) -> Worker {
        let state = parent.join(format!("{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&state);
        std::fs::create_dir_all(&state).unwrap();
        let schema = std::fs::read_to_string(root().join("schema.sql")).unwrap();
        d1_execute(&state, &format!("{schema}\n{seed_sql}\n"), "setup");
        Worker::serve(state, vars)
    }

    /// Starts `wrangler dev` on the D1 and Durable Object state already in folder `state`
    /// (nothing is applied to it first).
    #[allow(clippy::zombie_processes)] // the watchdog ends wrangler when we exit
    pub fn serve(state: PathBuf, vars: &[(&str, &str)]) -> Worker {
        let state_str = state.to_str().unwrap().to_string();
        let port = free_port();
        let inspector = free_port();
        let (port_s, inspector_s) = (port.to_string(), inspector.to_string());
        let mut args: Vec<String> = [
            "dev",
            "--local",
            "--ip",
            "127.0.0.1",
            "--port",
            &port_s,
            "--inspector-port",
            &inspector_s,
            "--persist-to",
            &state_str,
            "--show-interactive-dev-session=false",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        for (k, v) in vars {
            args.push("--var".into());
            args.push(format!("{k}:{v}"));
        }
        let worker = Worker {
            base: format!("http://127.0.0.1:{port}"),
            port,
            inspector,
            state,
            args,
            pid: AtomicU32::new(0),
        };
        worker.spawn("worker.log");
        worker.wait_healthy();
        worker
    }

    /// Starts `wrangler dev` (its output in `log` under the state folder).
    #[allow(clippy::zombie_processes)] // the watchdog ends wrangler when we exit
    fn spawn(&self, log: &str) {
        let args_ref: Vec<&str> = self.args.iter().map(String::as_str).collect();
        let child = wrangler(&args_ref, &self.state.join(log));
        watchdog(child.id());
        self.pid.store(child.id(), Ordering::SeqCst);
    }

    /// Kills the runtime (wrangler and its workerd, at once, as a crash would) and starts it
    /// again on the same state folder and port; returns once it is healthy.
    pub fn restart(&self) {
        let pid = self.pid.load(Ordering::SeqCst);
        let _ = Command::new("bash")
            .args(["-c", &format!("kill -KILL -- -{pid}")])
            .status();
        let deadline = Instant::now() + Duration::from_secs(30);
        while raw_get_status(self.port, "/healthz").is_some() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(100));
        }
        self.spawn("worker-restarted.log");
        self.wait_healthy();
    }

    fn wait_healthy(&self) {
        let deadline = Instant::now() + Duration::from_secs(120);
        while Instant::now() < deadline {
            if raw_get_status(self.port, "/healthz") == Some(200) {
                return;
            }
            std::thread::sleep(Duration::from_millis(250));
        }
        let log = std::fs::read_to_string(self.state.join("worker.log")).unwrap_or_default();
        panic!("worker did not become healthy within 120 s:\n{log}");
    }
}

/// Runs the SQL `sql` on the local D1 in folder `state` (`wrangler d1 execute --file`, the file
/// kept there as `<name>.sql`, wrangler's output as `<name>.log`); panics when it fails.
pub fn d1_execute(state: &Path, sql: &str, name: &str) {
    std::fs::create_dir_all(state).unwrap();
    let file = state.join(format!("{name}.sql"));
    std::fs::write(&file, sql).unwrap();
    let log = state.join(format!("{name}.log"));
    let status = wrangler(
        &[
            "d1",
            "execute",
            "DB",
            "--local",
            "--persist-to",
            state.to_str().unwrap(),
            "--file",
            file.to_str().unwrap(),
        ],
        &log,
    )
    .wait()
    .unwrap();
    assert!(
        status.success(),
        "{name}.sql applies; see {}",
        log.display()
    );
}

/// The rows of one SQL query on the local D1 in folder `state`, each a JSON object by column
/// name. Not while a worker serves `state`.
pub fn d1_query(state: &Path, sql: &str) -> Vec<Value> {
    d1_queries(state, &[sql]).remove(0)
}

/// The rows of each of `queries` (one `wrangler d1 execute --command --json`: wrangler starts
/// once). Not while a worker serves `state`.
pub fn d1_queries(state: &Path, queries: &[&str]) -> Vec<Vec<Value>> {
    let sql = queries.join(";\n");
    let out = Command::new("wrangler")
        .args(["d1", "execute", "DB", "--local", "--persist-to"])
        .arg(state)
        .args(["--json", "--command", &sql])
        .current_dir(root())
        .env("PATH", tool_path())
        .env("WRANGLER_SEND_METRICS", "false")
        .env("CI", "true")
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .output()
        .expect("wrangler runs (make tools installs it)");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "queries fail: {sql}\n{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("wrangler's --json output ({e}): {text}"));
    let results: Vec<Vec<Value>> = v
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|r| r["results"].as_array().cloned())
                .collect()
        })
        .unwrap_or_default();
    assert_eq!(results.len(), queries.len(), "one result per query: {v}");
    results
}

/// Kills wrangler (and its workerd) when this test process exits, however it exits. The
/// children are reaped by the watchdog shell, not by us (we may exit first).
#[allow(clippy::zombie_processes)]
pub fn watchdog(child_pid: u32) {
    let me = std::process::id();
    // `child_pid` leads its own process group (see `wrangler`): the group is ended.
    let script = format!(
        "while kill -0 {me} 2>/dev/null; do sleep 0.5; done; \
         kill -TERM -- -{child_pid} 2>/dev/null; sleep 2; kill -KILL -- -{child_pid} 2>/dev/null"
    );
    Command::new("bash")
        .args(["-c", &script])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("watchdog");
}

pub fn raw_get_status(port: u16, path: &str) -> Option<u16> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut buf = String::new();
    s.read_to_string(&mut buf).ok()?;
    buf.split_whitespace().nth(1)?.parse().ok()
}

/// The worker shared by the tests of one binary, started on first use.
pub fn shared(name: &str, vars: &[(&str, &str)], seed: &str) -> &'static Worker {
    static WORKER: OnceLock<Worker> = OnceLock::new();
    WORKER.get_or_init(|| Worker::start(name, vars, seed))
}

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// A name unique within this run (tests share one database).
pub fn unique(prefix: &str) -> String {
    format!(
        "{prefix}{}x{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

/// A typed client for one worker.
#[derive(Clone)]
pub struct App {
    pub base: String,
    pub http: reqwest::Client,
}

/// A registered user and their API token.
#[derive(Clone, Debug)]
pub struct User {
    pub id: i64,
    pub username: String,
    pub token: String,
    pub password: String,
}

/// A response: status, headers and JSON body (`Value::Null` when empty or not JSON).
#[derive(Debug)]
pub struct Resp {
    pub status: StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
}

impl Resp {
    pub fn header(&self, name: &str) -> Option<String> {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    }
}

pub const PASSWORD: &str = "correct-horse-9";

/// What an answer's `Server-Timing` says it cost in D1: `d1;desc="<round trips>";dur=<ms>`,
/// `d1read;desc="<rows read>"`, `d1written;desc="<rows written>"` (README, "D1 round trips").
#[derive(Debug, Clone, Copy, Default)]
pub struct D1Cost {
    pub trips: u32,
    pub ms: f64,
    pub read: u64,
    pub written: u64,
}

/// Parses a `Server-Timing` header; `None` unless all four figures are there.
pub fn d1_cost(header: &str) -> Option<D1Cost> {
    let metric = |name: &str| {
        header
            .split(',')
            .map(str::trim)
            .find(|m| m.starts_with(&format!("{name};")))
    };
    let param = |metric: &str, key: &str| {
        metric.split(';').skip(1).find_map(|part| {
            let (k, v) = part.trim().split_once('=')?;
            (k == key).then(|| v.trim_matches('"').to_string())
        })
    };
    let d1 = metric("d1")?;
    let desc = |name: &str| param(metric(name)?, "desc")?.parse().ok();
    Some(D1Cost {
        trips: param(d1, "desc")?.parse().ok()?,
        ms: param(d1, "dur")?.parse().ok()?,
        read: desc("d1read")?,
        written: desc("d1written")?,
    })
}

impl Resp {
    /// This answer's D1 cost, from its `Server-Timing` (a panic when it has none).
    pub fn d1(&self) -> D1Cost {
        let h = self
            .header("server-timing")
            .unwrap_or_else(|| panic!("no Server-Timing on {} {:?}", self.status, self.body));
        d1_cost(&h).unwrap_or_else(|| panic!("an incomplete Server-Timing: {h}"))
    }
}

impl App {
    pub fn new(worker: &Worker) -> App {
        App {
            base: worker.base.clone(),
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// Sends a request; `token` adds `Authorization: Bearer`, `body` is sent as JSON.
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Resp {
        let mut req = self.http.request(method, self.url(path));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        Self::read(req.send().await.expect("request reaches the worker")).await
    }

    pub async fn read(resp: reqwest::Response) -> Resp {
        let status = resp.status();
        let headers = resp.headers().clone();
        let text = resp.text().await.unwrap_or_default();
        let body = serde_json::from_str(&text).unwrap_or(Value::Null);
        Resp {
            status,
            headers,
            body,
        }
    }

    pub async fn get(&self, path: &str, token: &str) -> Resp {
        self.call(Method::GET, path, Some(token), None).await
    }

    pub async fn post(&self, path: &str, token: &str, body: Value) -> Resp {
        self.call(Method::POST, path, Some(token), Some(body)).await
    }

    pub async fn patch(&self, path: &str, token: &str, body: Value) -> Resp {
        self.call(Method::PATCH, path, Some(token), Some(body))
            .await
    }

    pub async fn put(&self, path: &str, token: &str, body: Value) -> Resp {
        self.call(Method::PUT, path, Some(token), Some(body)).await
    }

    pub async fn delete(&self, path: &str, token: &str) -> Resp {
        self.call(Method::DELETE, path, Some(token), None).await
    }

    /// Registers a fresh user named `<prefix><unique>` with `extra` fields (first_name, ...).
    pub async fn user_with(&self, prefix: &str, extra: Value) -> User {
        let username = unique(prefix);
        let mut body = json!({ "username": username, "password": PASSWORD });
        if let Value::Object(m) = extra {
            for (k, v) in m {
                body[k] = v;
            }
        }
        // Each registration from its own client address, so the per-address registration limit
        // is something only the tests of it reach.
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let addr = format!(
            "10.{}.{}.{}",
            100 + (n >> 16) % 100,
            (n >> 8) % 256,
            n % 256
        );
        let req = self
            .http
            .post(self.url("/messages/api/auth/register/"))
            .header("CF-Connecting-IP", addr)
            .json(&body);
        let r = Self::read(req.send().await.expect("request reaches the worker")).await;
        assert_eq!(r.status, 201, "register {username}: {:?}", r.body);
        User {
            id: r.body["user"]["id"].as_i64().expect("user id"),
            username,
            token: r.body["token"].as_str().expect("token").to_string(),
            password: PASSWORD.to_string(),
        }
    }

    pub async fn user(&self, prefix: &str) -> User {
        self.user_with(prefix, json!({})).await
    }

    /// `owner` creates a group titled `title` with `members`; the response (any status).
    pub async fn try_group(&self, owner: &User, title: &str, members: &[&User]) -> Resp {
        let ids: Vec<i64> = members.iter().map(|u| u.id).collect();
        self.post(
            "/messages/api/chats/",
            &owner.token,
            json!({"chat_type": "group", "title": title, "member_ids": ids}),
        )
        .await
    }

    /// `owner` creates a group titled `title` with `members`; must be 201. The chat JSON.
    pub async fn group(&self, owner: &User, title: &str, members: &[&User]) -> Value {
        let r = self.try_group(owner, title, members).await;
        assert_eq!(r.status, 201, "create group {title}: {:?}", r.body);
        r.body
    }

    /// GET of an absolute URL the API returned (a paging link) with `token`.
    pub async fn get_url(&self, url: &str, token: &str) -> Resp {
        let resp = self.http.get(url).bearer_auth(token).send().await;
        Self::read(resp.expect("request reaches the worker")).await
    }

    /// `who` creates (or gets) the DM with `other`; the response (any status).
    pub async fn try_dm(&self, who: &User, other: &User) -> Resp {
        let body = json!({"chat_type": "dm", "member_ids": [other.id]});
        self.post("/messages/api/chats/", &who.token, body).await
    }

    /// Registers fresh users named after `prefixes` (see `user`).
    pub async fn users<const N: usize>(&self, prefixes: [&str; N]) -> [User; N] {
        let mut out = Vec::with_capacity(N);
        for p in prefixes {
            out.push(self.user(p).await);
        }
        out.try_into().expect("N users")
    }

    /// `who` edits message `id` to `text` (PATCH); the response.
    pub async fn edit(&self, who: &User, id: i64, text: &str) -> Resp {
        let path = format!("/messages/api/messages/{id}/");
        self.patch(&path, &who.token, json!({ "content": text }))
            .await
    }

    /// `who` toggles `emoji` on message `id`; the response.
    pub async fn react(&self, who: &User, id: i64, emoji: &str) -> Resp {
        let path = format!("/messages/api/messages/{id}/reactions/");
        self.post(&path, &who.token, json!({ "emoji": emoji }))
            .await
    }

    /// `who` marks `chat` read with `body` (`{}` or `{"message_id": N}`); the response.
    pub async fn mark_read(&self, who: &User, chat: i64, body: Value) -> Resp {
        let path = format!("/messages/api/chats/{chat}/mark-as-read/");
        self.post(&path, &who.token, body).await
    }

    /// `who` adds `user_ids` (a JSON list) to `chat`; the response.
    pub async fn add_members(&self, who: &User, chat: i64, user_ids: Value) -> Resp {
        let path = format!("/messages/api/chats/{chat}/members/add/");
        self.post(&path, &who.token, json!({ "user_ids": user_ids }))
            .await
    }

    /// `who` renames `chat` to `title` (PATCH); the response.
    pub async fn rename(&self, who: &User, chat: i64, title: &str) -> Resp {
        let path = format!("/messages/api/chats/{chat}/");
        self.patch(&path, &who.token, json!({ "title": title }))
            .await
    }

    /// `who` removes `user` from `chat` (leaving when it is themself); the response.
    pub async fn remove_member(&self, who: &User, chat: i64, user: i64) -> Resp {
        let path = format!("/messages/api/chats/{chat}/members/{user}/remove/");
        self.delete(&path, &who.token).await
    }

    /// `who` sends `text` to `chat`; must be 201. The message JSON.
    pub async fn send(&self, who: &User, chat: i64, text: &str) -> Value {
        let r = self
            .post(
                &format!("/messages/api/chats/{chat}/messages/"),
                &who.token,
                json!({ "content": text }),
            )
            .await;
        assert_eq!(r.status, 201, "send {text}: {:?}", r.body);
        r.body
    }
}

// ---- WebSocket client (SPEC §6) ----

use futures_util::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::{self, client::IntoClientRequest, Message};

pub type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// What a socket produced within a wait.
#[derive(Debug)]
pub enum Frame {
    Json(Value),
    Text(String),
    Closed(Option<u16>),
    Timeout,
}

impl App {
    /// Opens `path` as a WebSocket with `headers`; a refused upgrade gives its status and body.
    pub async fn ws_with(
        &self,
        path: &str,
        headers: &[(&str, String)],
    ) -> Result<Ws, (u16, Value)> {
        let url = format!("{}{}", self.base.replacen("http", "ws", 1), path);
        let mut req = url.into_client_request().expect("ws url");
        for (k, v) in headers {
            req.headers_mut().insert(
                reqwest::header::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                v.parse().unwrap(),
            );
        }
        match tokio_tungstenite::connect_async(req).await {
            Ok((ws, _)) => Ok(ws),
            Err(tungstenite::Error::Http(resp)) => {
                let body = resp
                    .body()
                    .as_ref()
                    .and_then(|b| serde_json::from_slice(b).ok())
                    .unwrap_or(Value::Null);
                Err((resp.status().as_u16(), body))
            }
            Err(e) => panic!("websocket handshake to {path} failed: {e}"),
        }
    }

    /// Opens a chat's socket with a bearer token (`query` e.g. `?since=3`); must succeed.
    pub async fn ws(&self, chat_id: i64, token: &str, query: &str) -> Ws {
        self.ws_with(
            &format!("/messages/api/chats/{chat_id}/ws/{query}"),
            &[("Authorization", format!("Bearer {token}"))],
        )
        .await
        .unwrap_or_else(|e| panic!("socket to chat {chat_id} refused: {e:?}"))
    }
}

/// Sends a JSON frame.
pub async fn ws_send(ws: &mut Ws, v: Value) {
    ws.send(Message::Text(v.to_string().into()))
        .await
        .expect("socket send");
}

/// Sends a raw text frame.
pub async fn ws_send_text(ws: &mut Ws, text: &str) {
    ws.send(Message::Text(text.to_string().into()))
        .await
        .expect("socket send");
}

/// The next frame within `wait` (protocol pings are skipped).
pub async fn ws_next(ws: &mut Ws, wait: Duration) -> Frame {
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        match tokio::time::timeout_at(deadline, ws.next()).await {
            Err(_) => return Frame::Timeout,
            Ok(None) => return Frame::Closed(None),
            Ok(Some(Err(_))) => return Frame::Closed(None),
            Ok(Some(Ok(msg))) => match msg {
                Message::Text(t) => {
                    let t = t.to_string();
                    return match serde_json::from_str::<Value>(&t) {
                        Ok(v) if v.is_object() => Frame::Json(v),
                        _ => Frame::Text(t),
                    };
                }
                Message::Close(c) => return Frame::Closed(c.map(|c| u16::from(c.code))),
                _ => continue,
            },
        }
    }
}

/// The next JSON frame within `wait`, or a panic naming `what`.
pub async fn ws_json(ws: &mut Ws, wait: Duration, what: &str) -> Value {
    match ws_next(ws, wait).await {
        Frame::Json(v) => v,
        other => panic!("expected {what}, got {other:?}"),
    }
}

/// Asserts nothing arrives within `wait`.
pub async fn ws_silent(ws: &mut Ws, wait: Duration, why: &str) {
    match ws_next(ws, wait).await {
        Frame::Timeout => {}
        other => panic!("expected silence ({why}), got {other:?}"),
    }
}
