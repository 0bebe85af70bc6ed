//! [`RedisStore`]: sessions shared between server nodes through Redis, so that any node serves
//! any request with no sticky sessions (`holdfast-server --redis URL`).
//!
//! **Model.** At any time one node *holds* a session: the node its current connection (or its
//! HTTP link, or its TTL watch) runs on. That node keeps the live [`ServerSession`] in its local
//! map — the same code as the in-memory store — and writes everything another node would need
//! to Redis *before* any of it reaches the client (`persist`): the session's counters and
//! inbound position in a hash, its outbound log in a stream whose entry ids are the seqs
//! (`<seq>-0`, trimmed as the client acknowledges), both with a TTL so that the session of a
//! node that died expires on its own. So whatever a client was told (an ACK, a data frame) is in
//! Redis, and a node that takes the session over resumes it exactly where the client is.
//!
//! **Any node, any request.** A handshake naming a session held elsewhere *claims* it: the
//! holder is asked, over Redis pub/sub, to hand it over (it supersedes its connection, persists
//! and passes ownership in one script); a holder that is dead (its liveness key expired) is
//! taken from. A send POST or poll GET for a session whose link is on another node is
//! *forwarded* to that node over pub/sub and answered with its reply, so one session's frames
//! still leave in order from one place. Broadcasts go to every node through one channel.
//!
//! **Redis down.** Every write that fails turns into try-later for the client (ERROR 5 with a
//! retry hint and a transport close 1013, or `503`): nothing is acknowledged that was not
//! written, and the session stays in memory on its node, so nothing is lost either. The
//! connection manager reconnects on its own; the pub/sub listener resubscribes.
//!
//! Keys: `hf:s:{id}` (hash: `own` node, `lo` last outbound seq, `in` inbound position, `at`
//! attachment number, `op` on_open ran, `end` code and reason once ended), `hf:l:{id}` (stream:
//! `k` = `t`/`b`, `v` = payload), `hf:alive:<node>` (a node's liveness, a few seconds of TTL).
//! Channels: `hf:n:<node>` (requests and replies for one node), `hf:b` (broadcasts).

use crate::config::ServerConfig;
use crate::message::Message;
use crate::session::{Durable, ServerSession, SessionConfig};
use crate::store::{
    BoxFuture, MemoryStore, Persisted, RemoteHandler, RemoteReply, RemoteRequest, SessionEntry,
    SessionStore, StoreError, StoreFull,
};
use futures_util::StreamExt;
use holdfast::core::Instant;
use holdfast::protocol::is_valid_session_id;
use redis::aio::ConnectionManager;
use redis::Script;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::Duration;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// How long a node's liveness key lives; renewed three times as often.
const ALIVE_MS: u64 = 3_000;
/// How long a claim waits for a live holder to hand a session over before it says try-later.
const CLAIM_WAIT: Duration = Duration::from_millis(2_500);
/// How long a release request waits for its answer.
const RELEASE_TIMEOUT: Duration = Duration::from_millis(1_000);
/// How long a forwarded send waits for its answer.
const SEND_TIMEOUT: Duration = Duration::from_millis(3_000);
/// A forwarded poll waits for the hold time plus this.
const POLL_MARGIN: Duration = Duration::from_millis(3_000);
/// Broadcast channel.
const BROADCAST: &str = "hf:b";

/// Claims a session for ARGV[1]: `none` (no such session), `ended`, `ok` (ours now: it had no
/// holder, was ours, or its holder was ARGV[2]), or `own:<node>` (held by that node).
const CLAIM: &str = r"
if redis.call('EXISTS', KEYS[1]) == 0 then return 'none' end
local e = redis.call('HGET', KEYS[1], 'end')
if e and e ~= '' then return 'ended' end
local own = redis.call('HGET', KEYS[1], 'own') or ''
if own == '' or own == ARGV[1] or own == ARGV[2] then
  redis.call('HSET', KEYS[1], 'own', ARGV[1])
  return 'ok'
end
return 'own:' .. own
";

/// Records a session's durable state for its holder ARGV[1] (NOTOWNER if another node holds
/// it): new log entries (those above the recorded `lo`), the trim of acknowledged ones, the
/// counters, the new holder ARGV[9], and the TTL ARGV[2] on both keys.
const PERSIST: &str = r"
local own = redis.call('HGET', KEYS[1], 'own')
if own and own ~= '' and own ~= ARGV[1] then return redis.error_reply('NOTOWNER ' .. own) end
local function above(a, b)
  if #a ~= #b then return #a > #b end
  return a > b
end
local old = redis.call('HGET', KEYS[1], 'lo') or '0'
local n = tonumber(ARGV[10])
local i = 11
for _ = 1, n do
  if above(ARGV[i], old) then
    redis.call('XADD', KEYS[2], ARGV[i] .. '-0', 'k', ARGV[i + 1], 'v', ARGV[i + 2])
  end
  i = i + 3
end
redis.call('XTRIM', KEYS[2], 'MINID', ARGV[8] .. '-0')
redis.call('HSET', KEYS[1], 'own', ARGV[9], 'lo', ARGV[3], 'in', ARGV[4], 'at', ARGV[5],
  'op', ARGV[6], 'end', ARGV[7])
redis.call('PEXPIRE', KEYS[1], ARGV[2])
redis.call('PEXPIRE', KEYS[2], ARGV[2])
return 1
";

/// Deletes a session's keys if ARGV[1] holds it.
const FORGET: &str = r"
local own = redis.call('HGET', KEYS[1], 'own')
if own == ARGV[1] then redis.call('DEL', KEYS[1], KEYS[2]) end
return 1
";

/// Sessions in Redis, shared by every node started with the same URL. See the module docs.
pub struct RedisStore {
    local: MemoryStore,
    node: String,
    conn: ConnectionManager,
    /// TTL of a session's keys: the session TTL plus the idle timeout plus a margin, refreshed
    /// by every persist.
    key_ttl_ms: u64,
    poll_hold: Duration,
    calls: Arc<Calls>,
    handler: Arc<OnceLock<Arc<dyn RemoteHandler>>>,
    tasks: Vec<JoinHandle<()>>,
    claim: Script,
    persist: Script,
    forget: Script,
}

impl std::fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisStore")
            .field("node", &self.node)
            .field("local", &self.local.len())
            .finish()
    }
}

/// Requests this node forwarded and is waiting on, by number.
#[derive(Default)]
struct Calls {
    next: AtomicU64,
    waiting: Mutex<HashMap<u64, oneshot::Sender<RemoteReply>>>,
}

impl Calls {
    fn waiting(&self) -> MutexGuard<'_, HashMap<u64, oneshot::Sender<RemoteReply>>> {
        // One insert or remove per operation: a poisoned map is still consistent.
        self.waiting.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Drop for RedisStore {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

impl RedisStore {
    /// A store on the Redis at `url` for a node named `name` (its id gets a random suffix, so
    /// a restarted node is a new node). Starts the node's liveness renewal and its pub/sub
    /// listener; both retry on their own while Redis is away, and the store answers try-later
    /// meanwhile. Must run inside a Tokio runtime. `Err`: a malformed URL.
    pub async fn connect(url: &str, name: &str, config: &ServerConfig) -> Result<Self, String> {
        let client = redis::Client::open(url).map_err(|e| format!("bad --redis URL: {e}"))?;
        let manager = redis::aio::ConnectionManagerConfig::new()
            .set_connection_timeout(Some(Duration::from_millis(1_000)))
            .set_response_timeout(Some(Duration::from_millis(2_000)))
            .set_number_of_retries(2)
            .set_min_delay(Duration::from_millis(50))
            .set_max_delay(Duration::from_millis(500));
        let conn = client
            .get_connection_manager_lazy(manager)
            .map_err(|e| format!("redis: {e}"))?;
        let suffix: String = crate::store::new_session_id().chars().take(8).collect();
        let node = format!("{name}-{suffix}");
        let calls = Arc::new(Calls::default());
        let handler: Arc<OnceLock<Arc<dyn RemoteHandler>>> = Arc::new(OnceLock::new());
        let tasks = vec![
            tokio::spawn(keep_alive(conn.clone(), node.clone())),
            tokio::spawn(listen(
                client,
                conn.clone(),
                node.clone(),
                Arc::clone(&calls),
                Arc::clone(&handler),
            )),
        ];
        Ok(RedisStore {
            local: MemoryStore::new(config.max_sessions),
            node,
            conn,
            key_ttl_ms: config
                .session_ttl_ms
                .saturating_add(config.idle_timeout_ms)
                .saturating_add(60_000),
            poll_hold: Duration::from_millis(config.poll_hold_ms),
            calls,
            handler,
            tasks,
            claim: Script::new(CLAIM),
            persist: Script::new(PERSIST),
            forget: Script::new(FORGET),
        })
    }

    /// This node's id (`<name>-<random>`).
    pub fn node(&self) -> &str {
        &self.node
    }

    fn conn(&self) -> ConnectionManager {
        self.conn.clone()
    }

    async fn claim_as(&self, id: &str, from: &str) -> Result<String, StoreError> {
        self.claim
            .key(session_key(id))
            .arg(&self.node)
            .arg(from)
            .invoke_async(&mut self.conn())
            .await
            .map_err(unavailable)
    }

    async fn is_alive(&self, node: &str) -> Result<bool, StoreError> {
        redis::cmd("EXISTS")
            .arg(alive_key(node))
            .query_async(&mut self.conn())
            .await
            .map_err(unavailable)
    }

    /// Restores session `id` (just claimed) from Redis into the local map.
    async fn load(
        &self,
        id: &str,
        config: &SessionConfig,
        now: Instant,
    ) -> Result<Option<Arc<SessionEntry>>, StoreError> {
        let mut conn = self.conn();
        let (fields, entries): (HashMap<String, Vec<u8>>, redis::Value) = redis::pipe()
            .cmd("HGETALL")
            .arg(session_key(id))
            .cmd("XRANGE")
            .arg(log_key(id))
            .arg("-")
            .arg("+")
            .query_async(&mut conn)
            .await
            .map_err(unavailable)?;
        if fields.is_empty() {
            return Ok(None);
        }
        let number = |name: &str| {
            fields
                .get(name)
                .and_then(|v| std::str::from_utf8(v).ok())
                .and_then(|v| v.parse::<u64>().ok())
                .unwrap_or(0)
        };
        let ended = fields
            .get("end")
            .filter(|e| !e.is_empty())
            .map(|e| parse_end(e));
        if ended.is_some() {
            return Ok(None);
        }
        let log = parse_log(entries);
        let last_out = number("lo");
        let durable = Durable {
            last_out,
            inbound: number("in"),
            attachment: number("at"),
            log_start: log
                .first()
                .map_or(last_out.saturating_add(1), |(seq, _)| *seq),
            log,
            ended: None,
        };
        let opened = number("op") == 1;
        let persisted = Persisted {
            last_out: durable.last_out,
            inbound: durable.inbound,
            attachment: durable.attachment,
            log_start: durable.log_start,
            ended: false,
            opened,
            at: std::time::Instant::now(),
        };
        let session = ServerSession::restore(id.to_owned(), config.clone(), now, durable);
        let entry = Arc::new(SessionEntry::restored(session, opened, Some(persisted)));
        match self.local.insert(entry) {
            Ok(entry) => Ok(Some(entry)),
            Err(StoreFull) => Err(StoreError::Unavailable(StoreFull.to_string())),
        }
    }

    /// Sends `request` for session `id` to `node` and waits up to `wait` for its reply.
    async fn call(
        &self,
        node: &str,
        id: &str,
        request: &RemoteRequest,
        wait: Duration,
    ) -> Result<RemoteReply, StoreError> {
        let number = self.calls.next.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = oneshot::channel();
        self.calls.waiting().insert(number, tx);
        let message = encode_request(number, &self.node, id, request);
        let sent: Result<i64, _> = redis::cmd("PUBLISH")
            .arg(node_channel(node))
            .arg(message)
            .query_async(&mut self.conn())
            .await;
        let reply = match sent {
            // Nobody listening: that node is gone.
            Ok(0) => Err(StoreError::Unavailable(format!(
                "node {node} is not listening"
            ))),
            Ok(_) => match tokio::time::timeout(wait, rx).await {
                Ok(Ok(reply)) => Ok(reply),
                _ => Err(StoreError::Unavailable(format!(
                    "node {node} did not answer"
                ))),
            },
            Err(e) => Err(unavailable(e)),
        };
        self.calls.waiting().remove(&number);
        reply
    }

    /// The node that holds session `id` in Redis (`None`: no live session).
    async fn holder(&self, id: &str) -> Result<Option<String>, StoreError> {
        let own: Option<String> = self.live_field(id, "own").await?;
        Ok(own.filter(|o| !o.is_empty()))
    }

    /// Field `field` of live session `id`'s hash (`None`: no such session, or it ended).
    async fn live_field<T: redis::FromRedisValue>(
        &self,
        id: &str,
        field: &str,
    ) -> Result<Option<T>, StoreError> {
        let (value, end): (Option<T>, Option<String>) = redis::cmd("HMGET")
            .arg(session_key(id))
            .arg(field)
            .arg("end")
            .query_async(&mut self.conn())
            .await
            .map_err(unavailable)?;
        if end.is_some_and(|e| !e.is_empty()) {
            return Ok(None);
        }
        Ok(value)
    }
}

impl SessionStore for RedisStore {
    fn create(&self, config: SessionConfig, now: Instant) -> Result<Arc<SessionEntry>, StoreFull> {
        // Ids are random (132 bits); the first persist records the session, and refuses it
        // (NOTOWNER) in the unthinkable case that another node made the same id.
        self.local.create(config, now)
    }

    fn get(&self, id: &str) -> Option<Arc<SessionEntry>> {
        self.local.get(id)
    }

    fn remove(&self, id: &str) -> Option<Arc<SessionEntry>> {
        self.local.remove(id)
    }

    fn all(&self) -> Vec<Arc<SessionEntry>> {
        self.local.all()
    }

    fn clear(&self) -> Vec<Arc<SessionEntry>> {
        self.local.clear()
    }

    fn len(&self) -> usize {
        self.local.len()
    }

    fn is_shared(&self) -> bool {
        true
    }

    fn claim<'a>(
        &'a self,
        id: &'a str,
        config: &'a SessionConfig,
        now: Instant,
    ) -> BoxFuture<'a, Result<Option<Arc<SessionEntry>>, StoreError>> {
        Box::pin(async move {
            if let Some(entry) = self.local.get(id) {
                return Ok(Some(entry));
            }
            let deadline = tokio::time::Instant::now() + CLAIM_WAIT;
            let mut from = String::new();
            loop {
                let answer = self.claim_as(id, &from).await?;
                let holder = match answer.as_str() {
                    "ok" => return self.load(id, config, now).await,
                    "none" | "ended" => return Ok(None),
                    other => other.strip_prefix("own:").unwrap_or(other).to_owned(),
                };
                if !self.is_alive(&holder).await? {
                    // Its node died: whatever it held is what it persisted.
                    from = holder;
                    continue;
                }
                let release = RemoteRequest::Release {
                    to: self.node.clone(),
                };
                match self.call(&holder, id, &release, RELEASE_TIMEOUT).await {
                    // Handed over: the next claim finds it ours.
                    Ok(RemoteReply::Done) => {}
                    // Not in its memory: nothing newer than what Redis has.
                    Ok(RemoteReply::Gone) => from = holder,
                    Ok(_) | Err(_) => {
                        if tokio::time::Instant::now() >= deadline {
                            return Err(StoreError::Unavailable(format!(
                                "session held by node {holder}, which did not hand it over"
                            )));
                        }
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                }
                if tokio::time::Instant::now() >= deadline {
                    return Err(StoreError::Unavailable("session claim timed out".into()));
                }
            }
        })
    }

    fn persist<'a>(
        &'a self,
        id: &'a str,
        state: Durable,
        opened: bool,
        hand_to: Option<&'a str>,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move {
            let mut invocation = self.persist.prepare_invoke();
            invocation
                .key(session_key(id))
                .key(log_key(id))
                .arg(&self.node)
                .arg(self.key_ttl_ms)
                .arg(state.last_out)
                .arg(state.inbound)
                .arg(state.attachment)
                .arg(u8::from(opened))
                .arg(
                    state
                        .ended
                        .as_ref()
                        .map(|(code, reason)| format!("{code}:{reason}"))
                        .unwrap_or_default(),
                )
                .arg(state.log_start)
                .arg(hand_to.unwrap_or(&self.node))
                .arg(state.log.len());
            for (seq, msg) in &state.log {
                invocation.arg(seq);
                match msg {
                    Message::Text(text) => invocation.arg("t").arg(text.as_bytes()),
                    Message::Binary(data) => invocation.arg("b").arg(data.as_slice()),
                };
            }
            let result: Result<i64, redis::RedisError> =
                invocation.invoke_async(&mut self.conn()).await;
            match result {
                Ok(_) => Ok(()),
                Err(e) if e.to_string().contains("NOTOWNER") => Err(StoreError::NotOwner),
                Err(e) => Err(unavailable(e)),
            }
        })
    }

    fn forget<'a>(&'a self, id: &'a str) -> BoxFuture<'a, ()> {
        Box::pin(async move {
            // A failure leaves keys that expire on their own.
            let _: Result<i64, _> = self
                .forget
                .key(session_key(id))
                .key(log_key(id))
                .arg(&self.node)
                .invoke_async(&mut self.conn())
                .await;
        })
    }

    fn forward<'a>(
        &'a self,
        id: &'a str,
        request: RemoteRequest,
    ) -> BoxFuture<'a, Result<RemoteReply, StoreError>> {
        Box::pin(async move {
            // A query parameter that cannot be a session id names no session anywhere.
            if !is_valid_session_id(id) {
                return Ok(RemoteReply::Gone);
            }
            let Some(holder) = self.holder(id).await? else {
                return Ok(RemoteReply::Gone);
            };
            if holder == self.node {
                // Ours, but no link here: the client opens again.
                return Ok(RemoteReply::Gone);
            }
            let wait = match request {
                RemoteRequest::Poll { hold: true, .. } => self.poll_hold + POLL_MARGIN,
                RemoteRequest::Poll { .. } | RemoteRequest::Send(_) => SEND_TIMEOUT,
                RemoteRequest::Release { .. } => RELEASE_TIMEOUT,
            };
            match self.call(&holder, id, &request, wait).await {
                Ok(reply) => Ok(reply),
                // A dead holder: its sessions are taken over by the next handshake.
                Err(_) if !self.is_alive(&holder).await.unwrap_or(true) => Ok(RemoteReply::Gone),
                Err(e) => Err(e),
            }
        })
    }

    fn peek<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Result<Option<u64>, StoreError>> {
        Box::pin(self.live_field(id, "in"))
    }

    fn publish(&self, msg: &Message) {
        let message = encode_broadcast(&self.node, msg);
        let mut conn = self.conn();
        tokio::spawn(async move {
            let _: Result<i64, _> = redis::cmd("PUBLISH")
                .arg(BROADCAST)
                .arg(message)
                .query_async(&mut conn)
                .await;
        });
    }

    fn serve_remote(&self, handler: Arc<dyn RemoteHandler>) {
        let _ = self.handler.set(handler);
    }

    fn fault_outage<'a>(&'a self) -> BoxFuture<'a, bool> {
        Box::pin(async move {
            // The connection closes under the command: an error is the expected answer.
            let _: Result<(), _> = redis::cmd("SHUTDOWN")
                .arg("NOSAVE")
                .query_async(&mut self.conn())
                .await;
            true
        })
    }
}

fn unavailable(e: redis::RedisError) -> StoreError {
    StoreError::Unavailable(e.to_string())
}

fn session_key(id: &str) -> String {
    format!("hf:s:{{{id}}}")
}

fn log_key(id: &str) -> String {
    format!("hf:l:{{{id}}}")
}

fn alive_key(node: &str) -> String {
    format!("hf:alive:{node}")
}

fn node_channel(node: &str) -> String {
    format!("hf:n:{node}")
}

/// `code:reason` as persisted.
fn parse_end(raw: &[u8]) -> (u16, String) {
    let text = String::from_utf8_lossy(raw);
    let (code, reason) = text.split_once(':').unwrap_or((&text, ""));
    (code.parse().unwrap_or(1000), reason.to_owned())
}

/// The log stream's entries (`<seq>-0` → `k`, `v`), skipping anything malformed.
fn parse_log(value: redis::Value) -> Vec<(u64, Message)> {
    let mut log = Vec::new();
    let redis::Value::Array(entries) = value else {
        return log;
    };
    for entry in entries {
        let redis::Value::Array(parts) = entry else {
            continue;
        };
        let mut parts = parts.into_iter();
        let (Some(id), Some(redis::Value::Array(fields))) = (parts.next(), parts.next()) else {
            continue;
        };
        let Some(seq) = bytes_of(id)
            .and_then(|id| String::from_utf8(id).ok())
            .and_then(|id| id.split_once('-').and_then(|(seq, _)| seq.parse().ok()))
        else {
            continue;
        };
        let mut kind = None;
        let mut payload = None;
        let mut fields = fields.into_iter();
        while let (Some(name), Some(value)) = (fields.next(), fields.next()) {
            match bytes_of(name).as_deref() {
                Some(b"k") => kind = bytes_of(value),
                Some(b"v") => payload = bytes_of(value),
                _ => {}
            }
        }
        let msg = match (kind.as_deref(), payload) {
            (Some(b"t"), Some(p)) => match String::from_utf8(p) {
                Ok(text) => Message::Text(text),
                Err(_) => continue,
            },
            (Some(b"b"), Some(p)) => Message::Binary(p),
            _ => continue,
        };
        log.push((seq, msg));
    }
    log
}

fn bytes_of(value: redis::Value) -> Option<Vec<u8>> {
    match value {
        redis::Value::BulkString(bytes) => Some(bytes),
        redis::Value::SimpleString(text) => Some(text.into_bytes()),
        _ => None,
    }
}

/// Renews this node's liveness key until the store is dropped.
async fn keep_alive(mut conn: ConnectionManager, node: String) {
    let mut tick = tokio::time::interval(Duration::from_millis(ALIVE_MS / 3));
    loop {
        tick.tick().await;
        let _: Result<(), _> = redis::cmd("SET")
            .arg(alive_key(&node))
            .arg(1)
            .arg("PX")
            .arg(ALIVE_MS)
            .query_async(&mut conn)
            .await;
    }
}

/// Listens on this node's channel and the broadcast channel, resubscribing after a loss:
/// replies go to the calls waiting for them, requests to the handler (each in its own task,
/// answered on the asking node's channel).
async fn listen(
    client: redis::Client,
    conn: ConnectionManager,
    node: String,
    calls: Arc<Calls>,
    handler: Arc<OnceLock<Arc<dyn RemoteHandler>>>,
) {
    loop {
        if let Ok(mut pubsub) = client.get_async_pubsub().await {
            if pubsub
                .subscribe(&[node_channel(&node), BROADCAST.to_owned()])
                .await
                .is_ok()
            {
                let mut messages = pubsub.on_message();
                while let Some(msg) = messages.next().await {
                    dispatch(msg.get_payload_bytes(), &node, &conn, &calls, &handler);
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn dispatch(
    payload: &[u8],
    node: &str,
    conn: &ConnectionManager,
    calls: &Calls,
    handler: &OnceLock<Arc<dyn RemoteHandler>>,
) {
    match decode(payload) {
        Some(Wire::Reply { number, reply }) => {
            if let Some(waiting) = calls.waiting().remove(&number) {
                let _ = waiting.send(reply);
            }
        }
        Some(Wire::Request {
            number,
            from,
            id,
            request,
        }) => {
            let Some(handler) = handler.get().cloned() else {
                return;
            };
            let mut conn = conn.clone();
            tokio::spawn(async move {
                let reply = handler.handle(id, request).await;
                let _: Result<i64, _> = redis::cmd("PUBLISH")
                    .arg(node_channel(&from))
                    .arg(encode_reply(number, &reply))
                    .query_async(&mut conn)
                    .await;
            });
        }
        Some(Wire::Broadcast { from, msg }) if from != node => {
            if let Some(handler) = handler.get() {
                handler.broadcast(msg);
            }
        }
        Some(Wire::Broadcast { .. }) => {}
        None => {}
    }
}

/// A pub/sub message between nodes.
#[derive(Debug, PartialEq, Eq)]
enum Wire {
    Request {
        number: u64,
        from: String,
        id: String,
        request: RemoteRequest,
    },
    Reply {
        number: u64,
        reply: RemoteReply,
    },
    Broadcast {
        from: String,
        msg: Message,
    },
}

// Layout: a tag byte, then fields; strings are a u16 length and the bytes, numbers are u64
// big-endian. Request `Q`: number, kind (1 send, 2 poll, 3 release), from, id, then the batch
// (send), cursor and hold byte (poll) or nothing (release, `to` = `from`). Reply `R`: number,
// status (0 done, 1 gone, 2 batch, 3 busy), then the batch. Broadcast `B`: from, kind (0 text,
// 1 binary), payload.

fn put_str(out: &mut Vec<u8>, s: &str) {
    let len = u16::try_from(s.len()).unwrap_or(u16::MAX);
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(s.as_bytes().get(..usize::from(len)).unwrap_or_default());
}

fn encode_request(number: u64, from: &str, id: &str, request: &RemoteRequest) -> Vec<u8> {
    let mut out = vec![b'Q'];
    out.extend_from_slice(&number.to_be_bytes());
    out.push(match request {
        RemoteRequest::Send(_) => 1,
        RemoteRequest::Poll { .. } => 2,
        RemoteRequest::Release { .. } => 3,
    });
    put_str(&mut out, from);
    put_str(&mut out, id);
    match request {
        RemoteRequest::Send(batch) => out.extend_from_slice(batch),
        RemoteRequest::Poll { cursor, hold } => {
            out.extend_from_slice(&cursor.to_be_bytes());
            out.push(u8::from(*hold));
        }
        RemoteRequest::Release { .. } => {}
    }
    out
}

fn encode_reply(number: u64, reply: &RemoteReply) -> Vec<u8> {
    let mut out = vec![b'R'];
    out.extend_from_slice(&number.to_be_bytes());
    match reply {
        RemoteReply::Done => out.push(0),
        RemoteReply::Gone => out.push(1),
        RemoteReply::Batch(body) => {
            out.push(2);
            out.extend_from_slice(body);
        }
        RemoteReply::Busy => out.push(3),
    }
    out
}

fn encode_broadcast(from: &str, msg: &Message) -> Vec<u8> {
    let mut out = vec![b'B'];
    put_str(&mut out, from);
    match msg {
        Message::Text(text) => {
            out.push(0);
            out.extend_from_slice(text.as_bytes());
        }
        Message::Binary(data) => {
            out.push(1);
            out.extend_from_slice(data);
        }
    }
    out
}

/// Reads what [`put_str`] and the encoders wrote; `None` on anything malformed.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let (head, rest) = (self.0.get(..n)?, self.0.get(n..)?);
        self.0 = rest;
        Some(head)
    }

    fn byte(&mut self) -> Option<u8> {
        self.take(1)?.first().copied()
    }

    fn u64(&mut self) -> Option<u64> {
        Some(u64::from_be_bytes(self.take(8)?.try_into().ok()?))
    }

    fn string(&mut self) -> Option<String> {
        let len = u16::from_be_bytes(self.take(2)?.try_into().ok()?);
        String::from_utf8(self.take(usize::from(len))?.to_vec()).ok()
    }

    fn rest(self) -> Vec<u8> {
        self.0.to_vec()
    }
}

fn decode(payload: &[u8]) -> Option<Wire> {
    let mut r = Reader(payload);
    match r.byte()? {
        b'Q' => {
            let number = r.u64()?;
            let kind = r.byte()?;
            let from = r.string()?;
            let id = r.string()?;
            let request = match kind {
                1 => RemoteRequest::Send(r.rest()),
                2 => RemoteRequest::Poll {
                    cursor: r.u64()?,
                    hold: r.byte()? != 0,
                },
                3 => RemoteRequest::Release { to: from.clone() },
                _ => return None,
            };
            Some(Wire::Request {
                number,
                from,
                id,
                request,
            })
        }
        b'R' => {
            let number = r.u64()?;
            let reply = match r.byte()? {
                0 => RemoteReply::Done,
                1 => RemoteReply::Gone,
                2 => RemoteReply::Batch(r.rest()),
                3 => RemoteReply::Busy,
                _ => return None,
            };
            Some(Wire::Reply { number, reply })
        }
        b'B' => {
            let from = r.string()?;
            let msg = match r.byte()? {
                0 => Message::Text(String::from_utf8(r.rest()).ok()?),
                1 => Message::Binary(r.rest()),
                _ => return None,
            };
            Some(Wire::Broadcast { from, msg })
        }
        _ => None,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::panic, clippy::indexing_slicing)] // a failing test may panic
mod tests {
    use super::*;

    #[test]
    fn every_message_between_nodes_decodes_to_itself() {
        let requests = [
            RemoteRequest::Send(b"\x00\x01x".to_vec()),
            RemoteRequest::Poll {
                cursor: u64::MAX,
                hold: true,
            },
            RemoteRequest::Poll {
                cursor: 0,
                hold: false,
            },
            RemoteRequest::Release { to: "a-1".into() },
        ];
        for request in requests {
            let bytes = encode_request(7, "a-1", "sess", &request);
            assert_eq!(
                decode(&bytes),
                Some(Wire::Request {
                    number: 7,
                    from: "a-1".into(),
                    id: "sess".into(),
                    request,
                })
            );
        }
        for reply in [
            RemoteReply::Done,
            RemoteReply::Gone,
            RemoteReply::Busy,
            RemoteReply::Batch(vec![1, 2, 3]),
        ] {
            assert_eq!(
                decode(&encode_reply(9, &reply)),
                Some(Wire::Reply { number: 9, reply })
            );
        }
        for msg in [Message::Text("hé".into()), Message::Binary(vec![0, 255])] {
            assert_eq!(
                decode(&encode_broadcast("b-2", &msg)),
                Some(Wire::Broadcast {
                    from: "b-2".into(),
                    msg
                })
            );
        }
    }

    #[test]
    fn malformed_messages_between_nodes_are_ignored() {
        let good = encode_request(
            1,
            "a",
            "s",
            &RemoteRequest::Poll {
                cursor: 3,
                hold: true,
            },
        );
        for cut in 0..good.len() {
            assert_eq!(decode(&good[..cut]), None, "cut at {cut}");
        }
        assert_eq!(decode(b"Z"), None);
        assert_eq!(decode(&[b'R', 0, 0, 0, 0, 0, 0, 0, 1, 9]), None);
        let mut bad_text = vec![b'B'];
        put_str(&mut bad_text, "a");
        bad_text.extend_from_slice(&[0, 0xff]);
        assert_eq!(decode(&bad_text), None);
    }

    #[test]
    fn the_log_stream_parses_and_skips_malformed_entries() {
        use redis::Value::{Array, BulkString};
        let entry = |id: &str, k: &str, v: &[u8]| {
            Array(vec![
                BulkString(id.as_bytes().to_vec()),
                Array(vec![
                    BulkString(b"k".to_vec()),
                    BulkString(k.as_bytes().to_vec()),
                    BulkString(b"v".to_vec()),
                    BulkString(v.to_vec()),
                ]),
            ])
        };
        let value = Array(vec![
            entry("3-0", "t", b"three"),
            entry("x-0", "t", b"bad id"),
            entry("4-0", "b", &[0, 1]),
            entry("5-0", "t", &[0xff]),
            entry("6-0", "?", b"bad kind"),
            BulkString(b"not an entry".to_vec()),
        ]);
        assert_eq!(
            parse_log(value),
            vec![
                (3, Message::Text("three".into())),
                (4, Message::Binary(vec![0, 1]))
            ]
        );
        assert_eq!(parse_end(b"4001:bye: now"), (4001, "bye: now".into()));
        assert_eq!(parse_end(b"junk"), (1000, String::new()));
    }
}
