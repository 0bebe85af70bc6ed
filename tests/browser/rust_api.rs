//! The Rust API end to end: `Holdfast::builder(url)…connect()` with the event stream, the
//! callback form, `url_fn` closures, and what dropping the handle or the stream does.

use crate::util::*;
use futures_core::{FusedStream, Stream};
use holdfast::web::live_counts;
use holdfast::{
    ConnectError, DisconnectReason, Event, Events, Holdfast, Payload, SendOutcome, StateKind,
    TransportError, TransportKind,
};
use std::cell::{Cell, RefCell};
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::Poll;
use std::time::Duration;
use wasm_bindgen_test::wasm_bindgen_test;

/// The next event through the `Stream` impl (not `Events::recv`), or a failure after `ms`.
async fn next_within(events: &mut Events, ms: i32) -> Option<Event> {
    let mut timeout = Box::pin(sleep(ms));
    std::future::poll_fn(|cx| {
        if let Poll::Ready(e) = Pin::new(&mut *events).poll_next(cx) {
            return Poll::Ready(Ok(e));
        }
        if timeout.as_mut().poll(cx).is_ready() {
            return Poll::Ready(Err(()));
        }
        Poll::Pending
    })
    .await
    .unwrap_or_else(|()| panic!("no event within {ms} ms"))
}

#[wasm_bindgen_test]
async fn builder_url_fn_stream_open_echo_close_and_end() {
    fault("recover").await;
    let calls = Rc::new(Cell::new(0u32));
    let counter = calls.clone();
    let (hf, mut events) = Holdfast::builder(base())
        .config(test_config())
        .url_fn(move || {
            counter.set(counter.get() + 1);
            let n = counter.get();
            async move {
                sleep(5).await; // a real await, as a token fetch would be
                Ok::<_, String>(format!("{}?attempt={n}", base()))
            }
        })
        .connect()
        .expect("valid options");
    assert_eq!(hf.state(), StateKind::Connecting);

    let open = next_within(&mut events, 5_000).await;
    assert_eq!(
        open,
        Some(Event::Open {
            transport: TransportKind::WebSocket
        })
    );
    assert_eq!(calls.get(), 1, "url_fn called once for the one attempt");
    assert_eq!(hf.state(), StateKind::Open);
    assert_eq!(hf.transport(), Some(TransportKind::WebSocket));

    assert_eq!(hf.send_text("hello"), SendOutcome::Sent);
    assert_eq!(hf.send_binary(vec![0u8, 1, 255]), SendOutcome::Sent);
    assert_eq!(
        next_within(&mut events, 3_000).await,
        Some(Event::Message(text("hello")))
    );
    assert_eq!(
        next_within(&mut events, 3_000).await,
        Some(Event::Message(Payload::Binary(vec![0, 1, 255])))
    );
    assert_eq!(hf.stats().messages_received, 2);

    // A drop reconnects through url_fn again.
    fault("drop").await;
    loop {
        match next_within(&mut events, 5_000).await {
            Some(Event::Reconnecting { .. }) => {}
            Some(Event::Open { .. }) => break,
            other => panic!("expected reconnecting/open, got {other:?}"),
        }
    }
    assert_eq!(calls.get(), 2, "url_fn called before the second attempt");

    hf.close(1000, "done").expect("valid close");
    match next_within(&mut events, 3_000).await {
        Some(Event::Close { code, reason, .. }) => {
            assert_eq!(code, 1000);
            assert_eq!(reason, "done");
        }
        other => panic!("expected Close, got {other:?}"),
    }
    assert!(!events.is_terminated());
    assert_eq!(next_within(&mut events, 1_000).await, None, "stream ends");
    assert!(events.is_terminated());
    assert_eq!(events.recv().await, None, "and stays ended");
    assert_eq!(hf.state(), StateKind::Closed);
    assert!(matches!(hf.send_text("late"), SendOutcome::Rejected(_)));
}

#[wasm_bindgen_test]
async fn url_fn_error_fails_the_attempt_and_the_next_call_is_used() {
    fault("recover").await;
    let calls = Rc::new(Cell::new(0u32));
    let counter = calls.clone();
    let (hf, mut events) = Holdfast::builder(base())
        .config(test_config())
        .url_fn(move || {
            counter.set(counter.get() + 1);
            let first = counter.get() == 1;
            async move {
                if first {
                    Err("token service unavailable")
                } else {
                    Ok(base())
                }
            }
        })
        .connect()
        .expect("valid options");
    match events.recv().await {
        Some(Event::Reconnecting {
            attempt: 1,
            reason: DisconnectReason::Failed(TransportError::Url(why)),
            ..
        }) => assert!(why.contains("token service unavailable"), "{why}"),
        other => panic!("expected a url failure, got {other:?}"),
    }
    assert_eq!(
        next_within(&mut events, 5_000).await,
        Some(Event::Open {
            transport: TransportKind::WebSocket
        })
    );
    assert_eq!(calls.get(), 2);
    hf.close(1000, "done").expect("valid close");
}

#[wasm_bindgen_test]
async fn callback_form_with_a_weak_handle_sends_from_inside_and_is_dropped_after_close() {
    fault("recover").await;
    let rec = Recorder::default();
    let slot: Rc<RefCell<holdfast::WeakHoldfast>> = Rc::default();
    // Held by the callback only: its strong count says when the callback was dropped.
    let token = Rc::new(());
    let (sink, weak_slot, held) = (rec.clone(), slot.clone(), token.clone());
    let hf = Holdfast::builder(base())
        .config(test_config())
        .connect_with_callback(move |e| {
            let _ = &held;
            // Re-entrant: the client is called from inside its own callback.
            if matches!(e, Event::Open { .. }) {
                if let Some(hf) = weak_slot.borrow().upgrade() {
                    assert_eq!(hf.send_text("from the callback"), SendOutcome::Sent);
                }
            }
            sink.0.borrow_mut().push((now(), e));
        })
        .expect("valid options");
    *slot.borrow_mut() = hf.downgrade();
    assert!(
        rec.wait(5_000.0, |r| r.messages() == vec![text("from the callback")])
            .await,
        "{}",
        rec.dump()
    );
    assert_eq!(hf.send(text("from outside")), SendOutcome::Sent);
    assert!(
        rec.wait(3_000.0, |r| r.messages().len() == 2).await,
        "{}",
        rec.dump()
    );
    assert_eq!(rec.messages()[1], text("from outside"));
    assert_eq!(Rc::strong_count(&token), 2, "callback alive while open");

    hf.close(1000, "done").expect("valid close");
    assert!(
        rec.wait(3_000.0, |r| r.closes() == 1).await,
        "{}",
        rec.dump()
    );
    assert_eq!(Rc::strong_count(&token), 1, "callback dropped after Close");
    sleep(100).await;
    assert_eq!(rec.closes(), 1, "exactly one Close");
    assert!(matches!(
        rec.0.borrow().last(),
        Some((_, Event::Close { code: 1000, .. }))
    ));
}

#[wasm_bindgen_test]
async fn dropping_the_stream_leaves_the_client_working() {
    fault("recover").await;
    let (hf, events) = Holdfast::builder(base())
        .config(test_config())
        .connect()
        .expect("valid options");
    drop(events);
    let start = now();
    while hf.state() != StateKind::Open && now() - start < 5_000.0 {
        sleep(10).await;
    }
    assert_eq!(hf.state(), StateKind::Open);
    assert_eq!(hf.send_text("nobody listens"), SendOutcome::Sent);
    let start = now();
    while hf.stats().messages_received < 1 && now() - start < 3_000.0 {
        sleep(10).await;
    }
    assert_eq!(hf.stats().messages_received, 1, "the echo still arrives");
    hf.close(1000, "done").expect("valid close");
    assert_eq!(hf.state(), StateKind::Closed);
}

#[wasm_bindgen_test]
async fn dropping_the_last_handle_closes_and_ends_the_stream() {
    fault("recover").await;
    let before = live_counts();
    let (hf, mut events) = Holdfast::builder(base())
        .heartbeat_interval(Duration::from_millis(500))
        .heartbeat_timeout(Duration::from_millis(2_500))
        .connect_timeout(Duration::from_secs(2))
        .transports([TransportKind::WebSocket])
        .remember_transport(Duration::ZERO)
        .connect()
        .expect("valid options");
    assert!(matches!(
        next_within(&mut events, 5_000).await,
        Some(Event::Open { .. })
    ));
    let clone = hf.clone();
    drop(hf);
    assert_eq!(clone.state(), StateKind::Open, "a clone keeps it open");
    let weak = clone.downgrade();
    drop(clone);
    assert!(weak.upgrade().is_none());
    match next_within(&mut events, 3_000).await {
        Some(Event::Close { code: 1000, .. }) => {}
        other => panic!("expected Close, got {other:?}"),
    }
    assert_eq!(next_within(&mut events, 1_000).await, None);
    drop(events);
    let after = live_counts();
    assert_eq!(after.clients, before.clients, "client state freed");
    assert_eq!(after.sockets, before.sockets, "socket closed");
}

#[wasm_bindgen_test]
fn connect_refuses_bad_urls_and_options_naming_the_option() {
    match Holdfast::builder("rt.example.com/holdfast").connect() {
        Err(ConnectError::InvalidUrl(why)) => assert!(why.contains("not absolute"), "{why}"),
        other => panic!("expected InvalidUrl, got {other:?}"),
    }
    match Holdfast::builder(base())
        .heartbeat_interval(Duration::from_secs(10))
        .heartbeat_timeout(Duration::from_secs(5))
        .connect()
    {
        Err(ConnectError::Config(e)) => assert_eq!(e.option, "heartbeatTimeoutMs"),
        other => panic!("expected a config error, got {other:?}"),
    }
    // Raw mode without a chain defaults to WebSocket only, as in the JS options.
    let raw = Holdfast::builder(format!("{}/raw", base()))
        .protocol(holdfast::Protocol::Raw(None))
        .connect_with_callback(|_| {})
        .expect("raw mode defaults its chain");
    assert_eq!(raw.transport(), Some(TransportKind::WebSocket));
    raw.close(1000, "done").expect("valid close");
}
