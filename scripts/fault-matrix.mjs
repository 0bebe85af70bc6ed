#!/usr/bin/env node
// The fault matrix (reliability.md, "Fault matrix", F1–F27) as a generated table (issue 11, item 1).
//
// MATRIX below is the one place that says which automated test proves which row, per transport
// and browser. A test is listed only where it asserts the row's expected behaviour; `partial`
// says what of the expected behaviour it does not assert (shown as `*` in the table). Host tests
// (tests/*.rs, simulated clock) prove the logic, not the browser: they have their own column.
//
// Usage: node scripts/fault-matrix.mjs [--write] [--note TEXT] [--e2e NAME=RC]... [LOG|DIR]...
//   LOG: output of `wasm-pack test --headless --chrome --firefox -- --test browser -- --nocapture`
//        (one segment per browser per run: "Running headless tests in Chrome|Firefox", then
//        `test <name> ... ok|FAIL|FAILED`; a combined log holds Chromium's run, then Firefox's)
//        or of `cargo test` (segments "Running tests/<file>.rs (target/debug/…)": host tests).
//   DIR: every *.log in it, plus every e2e-<name>*.rc (an e2e script's exit status, 0 = passed).
//   --e2e NAME=RC: one e2e run (NAME: lifecycle, demo-faults).
//   --write: replace the section between <!-- matrix:begin --> and <!-- matrix:end --> in
//   TESTING.md (appended at the end if the markers are missing); otherwise print it.
import { readFileSync, writeFileSync, readdirSync, statSync } from "node:fs";
import { execSync } from "node:child_process";
import { join, basename, dirname } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");
const T = ["ws", "sse", "lp", "sp"];
const TNAME = { ws: "WebSocket", sse: "SSE", lp: "long polling", sp: "short polling" };
const ALL = T;
const CF = ["chrome", "firefox"];
const BNAME = { chrome: "Chromium", firefox: "Firefox" };

// b(test, browsers, partial?) a browser test (wasm-pack, tests/browser); e(script, browsers, partial?)
// an e2e script (tests/e2e/<script>.mjs, its exit status); host tests are "file::fn".
const b = (test, partial, browsers = CF) => ({ kind: "browser", test, browsers, partial });
const e = (test, partial, browsers = ["chrome"]) => ({ kind: "e2e", test, browsers, partial });
// x3(…): a browser test that runs its scenario with three clients side by side and fails if any
// one of them misses (tests/browser/every_transport.rs): each execution counts as 3 runs.
const x3 = (test, partial) => ({ ...b(test, partial), side: 3 });
// The per-transport scenario `name` of tests/browser/every_transport.rs, on transport `t`.
const ET = { ws: "websocket", sse: "sse", lp: "long_polling", sp: "short_polling" };
const every = (name, partial, ts = ALL) => Object.fromEntries(ts.map((t) => [t, [x3(`every_transport::${name}_${ET[t]}`, partial)]]));
// The proxy faults (reset, one-way black holes) on every transport, one client each.
const proxied = (partial) => Object.fromEntries(ALL.map((t) => [t, [b(`every_transport::through_proxy_faults_${ET[t]}`, partial)]]));
// Merges per-transport entry lists: each row's own tests first, then these.
const plus = (row, ...extra) => {
  for (const more of extra) for (const [t, xs] of Object.entries(more)) row[t] = [...(row[t] ?? []), ...xs];
  return row;
};

const HS = "hostile::hostile_handshake_over_websocket";
const HSSE = "hostile::hostile_sse_streams";
const HPOLL = "hostile::hostile_long_and_short_polling";
const KEEP = "matrix::heartbeats_keep_every_transport_open_through_an_idle_cut_middlebox";
const CUT = "matrix::an_idle_cut_middlebox_closes_a_raw_link_without_heartbeats_after_3_s";
const LAT = "matrix::every_transport_under_400_200_ms_latency_has_no_false_dead_link";

export const MATRIX = {
  F1: plus({
    fault: "clean server close", expected: "reconnect after jittered backoff; nothing lost", applies: ALL,
    ws: [b(HS, "case ws-close-4500-after-open (a close frame with a non-final code): reconnects and the next message arrives; jitter and loss not asserted")],
    sse: [b(HSSE, "case sse-end-after-welcome (the stream ends cleanly): reconnects; jitter and loss not asserted")],
    host: ["close_and_stale::non_final_server_close_reconnects", "reconnect_backoff::full_jitter_spreads_uniformly_within_bounds_over_10k_draws"],
  }, every("clean_close")),
  F2: plus({
    fault: "server killed, back after 5 s", expected: "bounded attempts while down; open within max backoff after it is back", applies: ALL,
    host: ["reconnect_backoff::ceiling_grows_exponentially_then_caps", "transport_fallback::exhausted_chain_backs_off_then_restarts_from_the_top"],
  }, every("down_five_seconds", "open ≤ 1.5 s after the server is back, except WebSocket in Firefox (≤ 4 s: Firefox delays a new WebSocket to a host whose connections kept failing)", ["ws"]), every("down_five_seconds", undefined, ["sse", "lp", "sp"])),
  F3: plus({
    fault: "black hole both ways (no FIN/RST)", expected: "declared dead within the dead window; reconnect", applies: ALL,
    sse: [b("transports::sse_black_hole_is_detected", "proxy black hole: dead within 6 s, the 2.5 s window not asserted"), b("transports::sse_alone", "server silent: dead < 4.5 s")],
    lp: [b("transports::long_polling_black_hole_is_detected", "proxy black hole: dead within 6 s, the 2.5 s window not asserted"), b("transports::long_polling_alone", "server silent: dead < 4.5 s")],
    sp: [b("transports::short_polling_alone", "server silent (no proxy black hole): dead < 4.5 s")],
    host: ["dead_link::silent_link_is_declared_dead_exactly_at_the_deadline", "dead_link::dead_link_reconnects_on_the_same_transport", "http_transports::answered_polls_keep_the_link_alive_and_silence_still_kills_it"],
  }, every("silent")),
  F4: plus({
    fault: "black hole server → client only", expected: "same as F3", applies: ALL,
    host: ["dead_link::silent_link_is_declared_dead_exactly_at_the_deadline"],
  }, proxied("proxy blackhole-down held until the verdict: given up ≤ 3.3 s, reopened ≤ 15 s after the path heals (caught pooled HTTP connections are spent first), sends delivered once; one client")),
  F5: plus({
    fault: "black hole client → server only", expected: "server times the client out; client reconnects; sends delivered once", applies: ALL,
    host: ["http_transports::an_unanswered_post_ends_the_link_at_the_heartbeat_timeout"],
  }, proxied("proxy blackhole-up held until the verdict: over WebSocket the server's idle timeout closes the socket (≤ 4 s), over HTTP the client's POST deadline ends the link first (≤ 3.3 s); sends delivered once, counted once at the server; one client")),
  F6: plus({
    fault: "TCP reset mid-stream", expected: "noticed at once; reconnect", applies: ALL,
    ws: [b("faults::dropped_connections_reconnect_and_deliver_what_was_sent_meanwhile", "server drops the socket (abrupt close, 1006), not an RST: reconnecting ≤ 3 s")],
    host: [],
  }, proxied("proxy reset: a reconnect within 1 s, or (HTTP) none when the browser retried the reset request on a new connection itself; sends delivered once within 3 s; one client")),
  F7: {
    fault: "idle-timeout middlebox (cuts after 3 s idle)", expected: "heartbeats keep it open for 60 s (and without heartbeats it does cut)", applies: ALL,
    ws: [b(KEEP, "proxy idle-cut 3 s: kept open 15 s, not 60 s (protocol WebSocket: the server's 1 s pings help; a raw WebSocket kept by its client heartbeat alone too)"), b(CUT, "the other half only: without heartbeats (raw, to an endpoint that sends nothing) the proxy cuts it 2.7–4.5 s after the last byte")],
    sse: [b(KEEP, "15 s, not 60 s; kept = no reconnect, no dead link, the echo after the quiet arrives once (an idle pooled connection may be cut and replaced); the cut without heartbeats is shown on raw WebSocket only")],
    lp: [b(KEEP, "15 s, not 60 s; kept = no reconnect, no dead link, the echo after the quiet arrives once (an idle pooled connection may be cut and replaced); the cut without heartbeats is shown on raw WebSocket only")],
    sp: [b(KEEP, "15 s, not 60 s; kept = no reconnect, no dead link, the echo after the quiet arrives once (an idle pooled connection may be cut and replaced); the cut without heartbeats is shown on raw WebSocket only")],
    host: ["dead_link::pings_go_out_when_idle_and_the_reply_gives_rtt", "dead_link::server_announced_idle_timeout_shortens_the_ping_interval_and_is_clamped"],
  },
  F8: {
    fault: "buffering proxy on SSE", expected: "SSE not trusted; falls back to long polling; remembered", applies: ["sse"],
    sse: [b("transports::buffered_sse_is_not_trusted_and_long_polling_takes_over", "remembering is asserted only after a refused WebSocket (the next test), not after buffered SSE"), b("transports::the_transport_that_worked_is_where_the_next_client_in_the_tab_starts")],
    host: ["http_transports::sse_carries_hello_in_the_open_request_and_trusts_only_after_welcome", "http_transports::a_remembered_transport_is_where_the_first_attempt_starts"],
  },
  F9: {
    fault: "WebSocket upgrade rejected (403)", expected: "falls back to SSE within the connect deadline", applies: ["ws"],
    ws: [b("transports::websocket_refused_falls_back_to_sse", "time to SSE reported, not asserted against the deadline"), b("transports::a_proxy_that_refuses_the_upgrade_is_left_at_once")],
    host: ["transport_fallback::untrusted_failures_walk_down_the_chain_without_waiting"],
  },
  F10: {
    fault: "WebSocket upgrade hangs", expected: "aborted at the deadline; next transport", applies: ["ws"],
    ws: [b("transports::a_hanging_websocket_upgrade_is_abandoned_at_its_deadline", "ends on SSE (≤ 15 s wait); the 2 s deadline is reported, not asserted")],
    host: ["transport_fallback::connect_deadline_covers_a_transport_that_never_opens", "http_transports::per_kind_connect_deadlines"],
  },
  F11: {
    fault: "upgrade succeeds, frames dropped", expected: "probe round trip fails; falls back; queued sends delivered once", applies: ["ws"],
    ws: [b("transports::an_upgrade_that_then_drops_every_frame_is_never_trusted"), b("upgrade::a_probe_into_a_still_broken_websocket_leaves_the_session_untouched")],
    host: ["upgrade::a_probe_that_never_answers_fails_at_the_websocket_deadline"],
  },
  F12: {
    fault: "WebSocket and SSE both blocked", expected: "long polling", applies: ["ws", "sse"],
    ws: [b("transports::websocket_and_sse_refused_fall_back_to_long_polling")],
    sse: [b("transports::websocket_and_sse_refused_fall_back_to_long_polling")],
    host: ["transport_fallback::untrusted_failures_walk_down_the_chain_without_waiting"],
  },
  F13: {
    fault: "every held response killed after 1 s", expected: "short polling, at its interval, never overlapping", applies: ["lp"],
    lp: [b("transports::killed_held_polls_end_on_short_polling_without_overlaps")],
    host: ["http_transports::short_polling_waits_the_interval_between_polls", "http_transports::long_polling_polls_again_as_soon_as_an_answer_came_and_never_two_at_once"],
  },
  F14: {
    fault: "gateway timeout shorter than the long-poll hold", expected: "treated as an empty poll; no loss; one poll in flight", applies: ["lp"],
    lp: [b("transports::a_gateway_timeout_shorter_than_the_hold_is_an_empty_poll_and_loses_nothing", "one poll in flight not asserted here (poll_overlaps is checked in F13's test)")],
    host: ["http_transports::long_polling_polls_again_as_soon_as_an_answer_came_and_never_two_at_once"],
  },
  F15: plus({
    fault: "session unknown (no sticky sessions / server restarted)", expected: "one fresh handshake, resume or `gap` event", applies: ALL,
    ws: [b("sessions::a_server_restart_loses_the_session_and_the_client_reports_one_gap")],
    host: ["session_resume::a_failed_resume_reports_one_gap_with_exactly_the_unacknowledged_messages", "session_resume::a_server_answering_another_session_counts_as_a_failed_resume", "session_pair::a_restart_mid_stream_yields_one_gap_and_the_streams_go_on"],
  }, every("restart")),
  F16: {
    fault: "server restart with 100 clients", expected: "reconnect times spread over the jitter window", applies: ALL,
    ws: [b("matrix::a_restart_with_100_clients_spreads_their_reconnects_over_the_jitter_window", "the jitter of the retries is asserted; when the 100 clients of one page reopen is reported (the browser's per-page handshake throttling dominates it); Chromium only (in Firefox the test returns at once: 100 clients in one page stall its per-host WebSocket queue)", ["chrome"])],
    host: ["reconnect_backoff::full_jitter_spreads_uniformly_within_bounds_over_10k_draws"],
  },
  F17: {
    fault: "503 with `Retry-After`, close code 1013", expected: "waits as told (clamped)", applies: ALL,
    ws: [b(HS, "cases hs-error-try-later-huge/-0 (every delay ≤ 1.5 s: the clamp) and hs-close-1013 (recovers); the wait itself (lower bound) not asserted")],
    sse: [b(HSSE, "case sse-status-503-retry-after: recovers; the wait not asserted")],
    lp: [b(HPOLL, "cases lp-*-429-retry-after-huge (delay ≤ 1.5 s: the clamp), lp-poll-503-retry-after-* (recover); the wait not asserted")],
    sp: [b(HPOLL, "case sp-503-retry-after-huge: every delay ≤ 1.5 s (the clamp); the wait not asserted")],
    host: ["reconnect_backoff::retry_after_hint_is_honoured_and_clamped", "reconnect_backoff::try_later_close_and_error_frame_delay_the_retry"],
  },
  F18: plus({
    fault: "accepts TCP, never answers", expected: "handshake deadline", applies: ALL,
    ws: [b("transports::a_hanging_websocket_upgrade_is_abandoned_at_its_deadline", "deadline reported, not asserted"), b(HS, "case hs-no-welcome (upgrade answered, WELCOME never): recovers")],
    sse: [b("transports::the_seventh_connection_to_one_origin_ends_in_a_deadline_not_a_hang", "the request is stuck in the browser's connection pool, not at an accepting server: left < 4.5 s")],
    host: ["hostile_input::a_first_handshake_that_never_answers_is_abandoned_at_the_connect_deadline", "transport_fallback::connect_deadline_covers_a_transport_that_never_opens"],
  }, every("never_answers")),
  F19: {
    fault: "400 ± 200 ms latency each way", expected: "no false dead detection", applies: ALL,
    ws: [b(LAT)], sse: [b(LAT)], lp: [b(LAT)], sp: [b(LAT)],
    host: [],
  },
  F20: plus({
    fault: "responses sliced into 3-byte chunks", expected: "identical messages", applies: ALL,
    sse: [b(HSSE, "cases sse-byte-chunks (1-byte chunks) and sse-crlf-split-chunks: the messages arrive intact")],
    host: [],
  }, every("sliced")),
  F21: {
    fault: "browser offline 20 s, then online", expected: "no attempts storm while offline; reconnect at once on `online`", applies: ALL,
    ws: [e("lifecycle")],
    ...Object.fromEntries(["sse", "lp", "sp"].map((t) => [t, [e("lifecycle", "the attempt starts at once on `online`, but open is bounded by two connect deadlines + 1 s, not 1 s: requests land on pooled connections the black hole caught (CDP's emulated offline keeps Chromium's socket pool)")]])),
    host: ["online_offline::offline_pauses_attempts_and_online_attempts_at_once", "online_offline::a_failure_while_offline_waits_for_online", "online_offline::online_during_backoff_skips_the_wait"],
  },
  F22: {
    fault: "page frozen 30 s while the server sends", expected: "on resume: decide within 500 ms; everything delivered once, in order", applies: ALL,
    ws: [e("lifecycle")], sse: [e("lifecycle")], lp: [e("lifecycle")], sp: [e("lifecycle")],
    host: ["dead_link::frozen_gap_probes_before_declaring_death", "dead_link::resumed_input_probes_instead_of_declaring_death", "freeze_deadlines::a_post_in_flight_when_the_page_froze_is_not_a_send_timeout_on_resume", "freeze_deadlines::an_attempt_in_flight_when_the_page_froze_gets_the_probe_window", "freeze_deadlines::data_read_before_a_freeze_is_delivered_but_does_not_keep_a_dead_link_past_the_probe", "freeze_deadlines::a_poll_answer_read_before_a_freeze_does_not_keep_a_black_holed_long_poll_alive"],
  },
  F23: {
    fault: "exactly-once under churn (many random faults while both sides stream)", expected: "0 lost, 0 duplicated, order kept", applies: ALL,
    ws: [b("sessions::numbered_streams_survive_connections_dropped_every_200_to_700_ms", "one fault kind: abrupt drops every 200–700 ms"), b("transports::a_forced_switch_mid_stream_continues_on_sse_with_nothing_lost"), e("demo-faults", "every demo fault button in turn, one at a time, on the chain (WebSocket → SSE → long polling)")],
    sse: [b("transports::sse_churn", "one fault kind: abrupt drops every 200–700 ms"), b("upgrade::a_session_on_sse_moves_up_to_websocket_when_it_works_again"), e("demo-faults", "on the chain, one fault at a time")],
    lp: [b("transports::long_polling_churn", "one fault kind: abrupt drops every 200–700 ms"), b("upgrade::a_session_on_long_polling_moves_up_to_websocket_when_it_works_again"), e("demo-faults", "on the chain, one fault at a time")],
    sp: [b("transports::short_polling_churn", "one fault kind: abrupt drops every 200–700 ms")],
    host: ["session_pair::nothing_is_lost_or_duplicated_under_random_faults", "session_pair::every_fault_kind_in_a_row", "invariants::invariants_hold_over_random_input_sequences"],
  },
  F24: {
    fault: "1000 sends while connecting / reconnecting", expected: "queued, flushed in order; over the cap → reported per policy", applies: ALL,
    ws: [b("echo::sends_before_open_are_queued_and_delivered_in_order", "20 sends, not 1000; the cap not reached"), b("faults::dropped_connections_reconnect_and_deliver_what_was_sent_meanwhile", "2 sends while reconnecting")],
    sse: [b("transports::sse_alone", "5 sends before open, in order; the cap not reached")],
    lp: [b("transports::long_polling_alone", "5 sends before open, in order; the cap not reached")],
    sp: [b("transports::short_polling_alone", "5 sends before open, in order; the cap not reached")],
    host: ["send_queue::sends_before_open_are_queued_and_flushed_in_order_before_the_open_event", "send_queue::sends_during_an_outage_are_queued_and_delivered_after_reconnect", "send_queue::reject_policy_refuses_over_the_count_and_reports_it", "send_queue::drop_oldest_policy_makes_room_and_says_how_many_were_dropped"],
  },
  F25: plus({
    fault: "flapping server (opens then closes)", expected: "backoff does not reset on open, only after min uptime", applies: ALL,
    host: ["reconnect_backoff::attempts_reset_only_after_min_uptime", "reconnect_backoff::flapping_server_keeps_backing_off"],
  }, every("flapping")),
  F26: plus({
    fault: "terminal answers (401/403 after one refresh, app close codes)", expected: "stop; clear reason; no more attempts", applies: ALL,
    ws: [b(HS, "cases hs-close-4001, ws-close-4000-after-open, ws-transport-close-4499, hs-error-forbidden: closed with the code and a reason, sends rejected; 401/403 after one refresh not in the browser")],
    sse: [b(HSSE, "case sse-error-version only (terminal 1002 with a reason)")],
    lp: [b(HPOLL, "case lp-open-error-version only (terminal 1002 with a reason)")],
    host: ["close_and_stale::final_server_close_code_stops_reconnecting", "close_and_stale::final_code_on_the_transport_close_also_stops", "close_and_stale::unauthorized_twice_is_terminal_after_one_immediate_retry", "close_and_stale::version_mismatch_is_terminal_with_a_clear_reason", "reconnect_backoff::max_attempts_closes_for_good_with_a_reason"],
  }, every("app_close_is_final", "the app's final close 4001 (code and reason, no attempt in 1.5 s, sends rejected); 401/403 after one refresh not in the browser")),
  F27: {
    fault: "500 forced reconnects", expected: "no growth: listeners, live transports, timers, heap, wasm memory", applies: ALL,
    ws: [b("leaks::two_hundred_forced_reconnects_leak_nothing", "200 reconnects, not 500; sockets, listeners, timers, clients; heap and wasm memory not measured")],
    sse: [b("every_transport::reconnects_leak_nothing_sse", "50 reconnects (clean closes), not 500; streams, listeners, timers, requests; heap and wasm memory not measured (BENCHMARKS.md measures them over 500 on WebSocket)")],
    lp: [b("every_transport::reconnects_leak_nothing_long_polling", "50 reconnects (clean closes), not 500; listeners, timers, requests; heap and wasm memory not measured")],
    sp: [b("every_transport::reconnects_leak_nothing_short_polling", "50 reconnects (clean closes), not 500; listeners, timers, requests; heap and wasm memory not measured")],
    host: [],
  },
};

// ---- results ---------------------------------------------------------------------------------

/** Parses one log: { browser: { test: [ok, ok, …] } } plus host results under "host". */
export function parseLog(text) {
  const out = {};
  let seg = null; // "chrome" | "firefox" | "host:<file>" | null
  let pendingWasm = false;
  for (const raw of text.split("\n")) {
    const line = raw.replace(/\x1b\[[0-9;]*m/g, "").trimEnd();
    let m;
    if ((m = line.match(/^\s*Running (\S+)\s*\(([^)]*)\)/))) {
      pendingWasm = /wasm32/.test(m[2]);
      const file = m[1].match(/^tests\/([^/]+)\.rs$/);
      seg = !pendingWasm && file ? `host:${file[1]}` : null;
      continue;
    }
    if ((m = line.match(/^Running headless tests in (Chrome|Firefox)/i))) {
      seg = m[1].toLowerCase() === "chrome" ? "chrome" : "firefox";
      continue;
    }
    if (seg && (m = line.match(/^test (\S+) \.\.\. (ok|FAIL|FAILED|ignored)\b/))) {
      if (m[2] === "ignored") continue;
      const [where, name] = seg.startsWith("host:") ? ["host", `${seg.slice(5)}::${m[1]}`] : [seg, m[1]];
      ((out[where] ??= {})[name] ??= []).push(m[2] === "ok");
    }
  }
  return out;
}

function merge(into, from) {
  for (const [w, tests] of Object.entries(from))
    for (const [n, rs] of Object.entries(tests)) ((into[w] ??= {})[n] ??= []).push(...rs);
}

function tally(results, where, name, side = 1) {
  const rs = results[where]?.[name] ?? [];
  return { passed: side * rs.filter(Boolean).length, runs: side * rs.length };
}

// ---- rendering -------------------------------------------------------------------------------

function cellFor(row, t, results) {
  if (!row.applies.includes(t)) return "—";
  const entries = row[t] ?? [];
  if (!entries.length) return "**not covered**";
  const partial = entries.every((x) => x.partial) ? "\\*" : "";
  const parts = [];
  for (const br of CF) {
    const mine = entries.filter((x) => x.browsers.includes(br));
    if (!mine.length) { parts.push(`${BNAME[br]}: not covered`); continue; }
    let passed = 0, runs = 0;
    for (const x of mine) {
      const r = tally(results, x.kind === "e2e" ? `e2e:${br}` : br, x.test, x.side);
      passed += r.passed; runs += r.runs;
    }
    parts.push(`${BNAME[br]} ${runs ? `${passed}/${runs}` : "not run"}`);
  }
  return parts.join("<br>") + partial;
}

function hostCell(row, results) {
  if (!row.host.length) return "**none**";
  let passed = 0, runs = 0;
  for (const n of row.host) { const r = tally(results, "host", n); passed += r.passed; runs += r.runs; }
  return `${row.host.length} test${row.host.length > 1 ? "s" : ""}${runs ? `, ${passed}/${runs}` : ""}`;
}

export function render(results, meta) {
  const L = [];
  L.push("## Fault matrix (generated)", "");
  L.push("Generated by `scripts/fault-matrix.mjs` (the mapping of tests to rows lives there; `make soak` regenerates it) from the rows in reliability.md, \"Fault matrix\". Do not edit by hand.", "");
  L.push(`- Measured: ${meta.date}, commit \`${meta.commit}\`${meta.note ? `, ${meta.note}` : ""}.`);
  const runsPer = CF.map((br) => {
    const counts = Object.values(results[br] ?? {}).map((rs) => rs.length);
    return `${BNAME[br]} ${counts.length ? Math.max(...counts) : 0}`;
  });
  L.push(`- Runs per browser test (most runs of any one test): ${runsPer.join(", ")}; e2e runs: ${Object.keys(results).filter((k) => k.startsWith("e2e:")).length ? Object.entries(results).filter(([k]) => k.startsWith("e2e:")).map(([k, v]) => `${BNAME[k.slice(4)]} ${Object.entries(v).map(([n, rs]) => `${n} ${rs.length}`).join(", ")}`).join("; ") : "none in this measurement"}; host tests: ${Object.keys(results.host ?? {}).length ? "counted" : "not run in this measurement (the column lists how many prove the logic)"}.`);
  L.push("- A cell is passed / runs summed over the executions of the tests mapped to it, per browser; \"not run\": mapped but absent from the logs; \"—\": the row does not apply to that transport (fallback rows sit under the transport the fault hits); **not covered**: no browser or e2e test proves it. A test marked `×3` (tests/browser/every_transport.rs) runs its scenario with three clients side by side and fails if any one misses: each execution counts as 3 runs. `*`: every test in the cell proves only part of the expected behaviour (what is missing is listed below).");
  L.push("- Host tests (tests/*.rs, simulated clock) prove the client logic, not the browser.", "");
  L.push(`| # | fault | expected | ${T.map((t) => TNAME[t]).join(" | ")} | host (logic) |`);
  L.push(`|---|---|---|${T.map(() => "---").join("|")}|---|`);
  for (const [id, row] of Object.entries(MATRIX))
    L.push(`| ${id} | ${row.fault} | ${row.expected} | ${T.map((t) => cellFor(row, t, results)).join(" | ")} | ${hostCell(row, results)} |`);
  L.push("");
  const none = [], gaps = [];
  for (const [id, row] of Object.entries(MATRIX)) {
    const missing = row.applies.filter((t) => !(row[t] ?? []).length);
    if (missing.length === row.applies.length) none.push(id);
    else if (missing.length) gaps.push(`${id} (${missing.map((t) => TNAME[t]).join(", ")})`);
  }
  L.push(`**Rows with no browser test on any transport:** ${none.join(", ") || "none"}.`, "");
  L.push(`**Rows covered on some transports only** (not covered on): ${gaps.join("; ") || "none"}.`, "");
  L.push("**Firefox:** the e2e scripts (F21, F22, demo-faults) drive Chromium only (TESTING.md, \"Browser lifecycle\").", "");
  L.push("<details><summary>Tests per row, with per-test counts and what each leaves out</summary>", "");
  for (const [id, row] of Object.entries(MATRIX)) {
    const items = [];
    for (const t of row.applies)
      for (const x of row[t] ?? []) {
        const counts = x.browsers.map((br) => { const r = tally(results, x.kind === "e2e" ? `e2e:${br}` : br, x.test, x.side); return `${BNAME[br]} ${r.runs ? `${r.passed}/${r.runs}` : "not run"}`; }).join(", ");
        items.push(`  - ${TNAME[t]}: ${x.kind === "e2e" ? `e2e \`tests/e2e/${x.test}.mjs\`` : `\`${x.test}\``}${x.side ? ` ×${x.side}` : ""} (${counts})${x.partial ? ` — partial: ${x.partial}` : ""}`);
      }
    for (const n of row.host) { const r = tally(results, "host", n); items.push(`  - host: \`${n}\`${r.runs ? ` (${r.passed}/${r.runs})` : ""}`); }
    L.push(`- **${id}** ${row.fault}${items.length ? "" : ": nothing"}`, ...items);
  }
  L.push("", "</details>");
  return L.join("\n");
}

// ---- main ------------------------------------------------------------------------------------

function main(argv) {
  const results = {};
  let write = false, note = "";
  const logs = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === "--write") write = true;
    else if (a === "--note") note = argv[++i];
    else if (a === "--e2e") {
      const [name, rc] = argv[++i].split("=");
      ((results["e2e:chrome"] ??= {})[name] ??= []).push(Number(rc) === 0);
    } else if (statSync(a).isDirectory()) {
      for (const f of readdirSync(a).sort()) {
        const p = join(a, f);
        if (f.endsWith(".log")) logs.push(p);
        const m = f.match(/^e2e-([a-z-]+?)(-\d+)?\.rc$/);
        if (m) ((results["e2e:chrome"] ??= {})[m[1]] ??= []).push(Number(readFileSync(p, "utf8").trim()) === 0);
      }
    } else logs.push(a);
  }
  for (const p of logs) {
    const r = parseLog(readFileSync(p, "utf8"));
    if (!Object.keys(r).length) console.error(`fault-matrix: no test results in ${basename(p)} (a build failure?)`);
    merge(results, r);
  }
  let commit = "unknown";
  try { commit = execSync("git rev-parse --short HEAD", { cwd: ROOT }).toString().trim(); } catch {}
  const meta = { date: new Date().toISOString().replace(/\.\d+Z$/, "Z"), commit: process.env.FAULT_MATRIX_COMMIT || commit, note };
  const section = render(results, meta);
  if (!write) { console.log(section); return; }
  const file = join(ROOT, "TESTING.md");
  let md = readFileSync(file, "utf8");
  const begin = "<!-- matrix:begin -->", end = "<!-- matrix:end -->";
  const block = `${begin}\n${section}\n${end}`;
  const i = md.indexOf(begin), j = md.indexOf(end);
  md = i >= 0 && j > i ? md.slice(0, i) + block + md.slice(j + end.length) : md.replace(/\n*$/, "\n\n") + block + "\n";
  writeFileSync(file, md);
  console.log(`fault-matrix: wrote the table into TESTING.md (${logs.length} logs)`);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) main(process.argv.slice(2));
