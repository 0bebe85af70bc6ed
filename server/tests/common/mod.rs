//! Test harness: the server on port 0, a protocol client over tokio-tungstenite using the shared
//! codec, and a tiny HTTP/1.1 client for the fault routes (`http_client` has the fuller one for
//! the HTTP transports).
#![allow(dead_code)]

pub mod hostile;
pub mod http_client;

use futures_util::{SinkExt, StreamExt};
use holdfast::protocol::{decode, encode, Decoded, Frame, Hello, Limits, Welcome};
use holdfast_server::{
    router, serve, App, DemoApp, Hub, Message as AppMessage, ServerConfig, ServerHandle,
};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::timeout;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::{self, Message};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

pub type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// How long a test waits for something that should happen promptly.
pub const PROMPT: Duration = Duration::from_secs(3);

pub struct Server {
    pub addr: SocketAddr,
    pub handle: ServerHandle,
}

impl Server {
    pub fn ws_url(&self) -> String {
        format!("ws://{}/holdfast/ws", self.addr)
    }

    pub fn raw_url(&self) -> String {
        format!("ws://{}/holdfast/raw", self.addr)
    }

    /// A raw WebSocket on the protocol endpoint (no handshake yet).
    pub async fn connect(&self) -> Ws {
        let (ws, _) = tokio_tungstenite::connect_async(self.ws_url())
            .await
            .unwrap();
        ws
    }

    /// A protocol client after a completed handshake.
    pub async fn client(&self) -> (Ws, Welcome) {
        let mut ws = self.connect().await;
        let welcome = handshake(&mut ws).await;
        (ws, welcome)
    }

    /// `method path` over a fresh connection; returns (status, lowercased head, body).
    pub async fn http(&self, method: &str, path: &str) -> (u16, String, String) {
        http(self.addr, method, path).await
    }
}

/// Starts the demo app with `config` on 127.0.0.1:0 behind the fault-aware accept loop.
pub async fn start(config: ServerConfig) -> Server {
    start_with(config, Arc::new(DemoApp::new())).await
}

/// Starts `app` with `config` on 127.0.0.1:0 behind the fault-aware accept loop.
pub async fn start_with(config: ServerConfig, app: Arc<dyn App>) -> Server {
    let (app, handle) = router(config, app);
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(serve(listener, app, handle.clone()));
    Server { addr, handle }
}

/// Connects to `url` with an `Origin` header.
pub async fn connect_with_origin(url: &str, origin: &str) -> Result<Ws, tungstenite::Error> {
    let mut req = url.into_client_request().unwrap();
    req.headers_mut()
        .insert("origin", HeaderValue::from_str(origin).unwrap());
    tokio_tungstenite::connect_async(req)
        .await
        .map(|(ws, _)| ws)
}

pub fn hello(session: Option<&str>) -> Frame {
    resume_hello(session, 0)
}

/// HELLO asking to resume `session` having received server seqs up to `last_seq`.
pub fn resume_hello(session: Option<&str>, last_seq: u64) -> Frame {
    Frame::Hello(Hello {
        min_version: 1,
        max_version: 1,
        session: session.map(str::to_owned),
        last_seq,
        probe: false,
    })
}

/// A fresh connection that sends `hello` and returns the socket with the WELCOME it got.
pub async fn connect_with_hello(server: &Server, hello: &Frame) -> (Ws, Welcome) {
    let mut ws = server.connect().await;
    send(&mut ws, hello).await;
    match next(&mut ws, PROMPT).await {
        Seen::Frame(Frame::Welcome(welcome)) => (ws, welcome),
        other => panic!("expected WELCOME, saw {other:?}"),
    }
}

pub fn text(seq: u64, text: &str) -> Frame {
    Frame::Text {
        seq,
        text: text.to_owned(),
    }
}

/// The next data frame, skipping PINGs and ACKs.
pub async fn next_data(ws: &mut Ws) -> Frame {
    match expect_frame(ws).await {
        frame @ (Frame::Text { .. } | Frame::Binary { .. }) => frame,
        other => panic!("expected a data frame, got {other:?}"),
    }
}

/// Waits until `cond` holds (checked every 10 ms), panicking after [`PROMPT`].
pub async fn eventually(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + PROMPT;
    while !cond() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// What a [`Recorder`] app saw.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AppEvent {
    Open(String),
    Message(String, AppMessage),
    Close(String),
}

/// The demo app (echo and commands), recording every callback.
#[derive(Default)]
pub struct Recorder {
    pub events: Mutex<Vec<AppEvent>>,
    /// The demo app every callback is forwarded to, after recording.
    pub demo: DemoApp,
}

impl Recorder {
    pub fn events(&self) -> Vec<AppEvent> {
        self.events.lock().unwrap().clone()
    }

    pub fn opens(&self, session: &str) -> usize {
        self.count(|e| *e == AppEvent::Open(session.to_owned()))
    }

    pub fn closes(&self, session: &str) -> usize {
        self.count(|e| *e == AppEvent::Close(session.to_owned()))
    }

    /// The text messages `session` delivered, in order.
    pub fn texts(&self, session: &str) -> Vec<String> {
        self.events()
            .into_iter()
            .filter_map(|e| match e {
                AppEvent::Message(s, AppMessage::Text(t)) if s == session => Some(t),
                _ => None,
            })
            .collect()
    }

    fn count(&self, pred: impl Fn(&AppEvent) -> bool) -> usize {
        self.events
            .lock()
            .unwrap()
            .iter()
            .filter(|e| pred(e))
            .count()
    }

    fn record(&self, event: AppEvent) {
        self.events.lock().unwrap().push(event);
    }
}

impl App for Recorder {
    fn on_open(&self, hub: &Hub, session: &str) {
        self.record(AppEvent::Open(session.to_owned()));
        self.demo.on_open(hub, session);
    }

    fn on_message(&self, hub: &Hub, session: &str, msg: AppMessage) {
        self.record(AppEvent::Message(session.to_owned(), msg.clone()));
        self.demo.on_message(hub, session, msg);
    }

    fn on_close(&self, hub: &Hub, session: &str) {
        self.record(AppEvent::Close(session.to_owned()));
        self.demo.on_close(hub, session);
    }
}

pub async fn send(ws: &mut Ws, frame: &Frame) {
    send_bytes(ws, encode(frame)).await;
}

pub async fn send_bytes(ws: &mut Ws, bytes: Vec<u8>) {
    ws.send(Message::binary(bytes)).await.unwrap();
}

/// What the client saw next.
#[derive(Debug)]
pub enum Seen {
    Frame(Frame),
    /// A WebSocket close frame with this code.
    WsClose(u16, String),
    /// The connection ended without a close frame (or failed).
    Ended,
    /// Nothing within the wait.
    Nothing,
}

/// The next protocol frame or connection event, within `wait`.
pub async fn next(ws: &mut Ws, wait: Duration) -> Seen {
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        let msg = match tokio::time::timeout_at(deadline, ws.next()).await {
            Err(_) => return Seen::Nothing,
            Ok(None) | Ok(Some(Err(_))) => return Seen::Ended,
            Ok(Some(Ok(msg))) => msg,
        };
        match msg {
            Message::Binary(bytes) => {
                match decode(
                    &bytes,
                    &Limits {
                        max_message_bytes: 64 << 20,
                    },
                )
                .unwrap()
                {
                    Decoded::Frame(frame) => return Seen::Frame(frame),
                    Decoded::Unknown(t) => panic!("server sent unknown frame type {t}"),
                }
            }
            Message::Close(Some(close)) => {
                return Seen::WsClose(u16::from(close.code), close.reason.to_string())
            }
            Message::Close(None) => return Seen::WsClose(1005, String::new()),
            Message::Text(t) => panic!("server sent a text message: {t}"),
            Message::Ping(_) | Message::Pong(_) | Message::Frame(_) => {}
        }
    }
}

/// The next frame that is not a server PING or an ACK (those arrive on their own schedule).
pub async fn next_significant(ws: &mut Ws, wait: Duration) -> Seen {
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        match next(ws, left).await {
            Seen::Frame(Frame::Ping { .. } | Frame::Ack { .. }) => {}
            other => return other,
        }
    }
}

/// The next frame (skipping PINGs and ACKs); panics on anything else.
pub async fn expect_frame(ws: &mut Ws) -> Frame {
    match next_significant(ws, PROMPT).await {
        Seen::Frame(frame) => frame,
        other => panic!("expected a frame, saw {other:?}"),
    }
}

/// Sends HELLO and returns WELCOME.
pub async fn handshake(ws: &mut Ws) -> Welcome {
    send(ws, &hello(None)).await;
    match next(ws, PROMPT).await {
        Seen::Frame(Frame::Welcome(welcome)) => welcome,
        other => panic!("expected WELCOME, saw {other:?}"),
    }
}

/// Asserts the connection ends with protocol CLOSE `code` then a WebSocket close `code`.
pub async fn expect_close(ws: &mut Ws, code: u16) -> String {
    let reason = match next_significant(ws, PROMPT).await {
        Seen::Frame(Frame::Close(close)) => {
            assert_eq!(close.code, code, "close reason: {}", close.reason);
            close.reason
        }
        other => panic!("expected CLOSE {code}, saw {other:?}"),
    };
    match next_significant(ws, PROMPT).await {
        Seen::WsClose(ws_code, _) => assert_eq!(ws_code, code),
        other => panic!("expected a WebSocket close {code}, saw {other:?}"),
    }
    reason
}

/// Asserts the connection ended without any close frame.
pub async fn expect_dropped(ws: &mut Ws) {
    match next_significant(ws, PROMPT).await {
        Seen::Ended => {}
        other => panic!("expected an abrupt end, saw {other:?}"),
    }
}

/// A minimal HTTP/1.1 request over a fresh connection.
pub async fn http(addr: SocketAddr, method: &str, path: &str) -> (u16, String, String) {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let req = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    );
    stream.write_all(req.as_bytes()).await.unwrap();
    let mut buf = Vec::new();
    timeout(PROMPT, stream.read_to_end(&mut buf))
        .await
        .expect("HTTP answer timed out")
        .unwrap();
    let text = String::from_utf8_lossy(&buf).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    (status, head.to_ascii_lowercase(), body.to_owned())
}

/// `GET /_fault/stats`, parsed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stats {
    pub sessions: u64,
    pub attached: u64,
    pub connections: u64,
    pub handshakes: u64,
    pub streams: u64,
    pub polls: u64,
    pub posts: u64,
    pub poll_overlaps: u64,
}

pub async fn stats(server: &Server) -> Stats {
    let (status, _, body) = server.http("GET", "/_fault/stats").await;
    assert_eq!(status, 200);
    let field = |name: &str| -> u64 {
        let key = format!("\"{name}\":");
        let start = body.find(&key).unwrap() + key.len();
        body[start..]
            .chars()
            .take_while(char::is_ascii_digit)
            .collect::<String>()
            .parse()
            .unwrap()
    };
    Stats {
        sessions: field("sessions"),
        attached: field("attached"),
        connections: field("connections"),
        handshakes: field("handshakes"),
        streams: field("streams"),
        polls: field("polls"),
        posts: field("posts"),
        poll_overlaps: field("poll_overlaps"),
    }
}
