//! Open, echo, queueing before open, close, and the URL function.

use crate::util::*;
use holdfast::core::{Event, Payload, SendOutcome, StateKind};
use holdfast::web::UrlSource;
use std::cell::Cell;
use std::rc::Rc;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_test::wasm_bindgen_test;

#[wasm_bindgen_test]
async fn opens_and_echoes_text_and_binary() {
    fault("recover").await;
    let (c, rec) = client();
    assert!(
        rec.wait(5_000.0, |r| r.opens() == 1).await,
        "{}",
        rec.dump()
    );
    assert_eq!(c.state(), StateKind::Open);
    assert_eq!(c.send(text("hello")), SendOutcome::Sent);
    assert_eq!(
        c.send(Payload::Binary(vec![0, 1, 2, 255])),
        SendOutcome::Sent
    );
    assert!(
        rec.wait(3_000.0, |r| r.messages().len() == 2).await,
        "{}",
        rec.dump()
    );
    assert_eq!(
        rec.messages(),
        vec![text("hello"), Payload::Binary(vec![0, 1, 2, 255])]
    );
    assert_eq!(c.stats().messages_received, 2);
    c.close(1000, "done").unwrap();
}

#[wasm_bindgen_test]
async fn sends_before_open_are_queued_and_delivered_in_order() {
    fault("recover").await;
    let (c, rec) = client();
    for i in 0..20 {
        assert_eq!(c.send(text(&format!("q{i}"))), SendOutcome::Queued);
    }
    assert!(c.buffered_amount() > 0);
    assert!(
        rec.wait(5_000.0, |r| r.messages().len() == 20).await,
        "{}",
        rec.dump()
    );
    let want: Vec<Payload> = (0..20).map(|i| text(&format!("q{i}"))).collect();
    assert_eq!(rec.messages(), want);
    // bufferedAmount counts bytes until the server acknowledges them (within 200 ms).
    assert!(rec.wait(3_000.0, |_| c.buffered_amount() == 0).await);
    c.close(1000, "done").unwrap();
}

#[wasm_bindgen_test]
async fn close_emits_exactly_one_close_event_and_stops_attempting() {
    fault("recover").await;
    let (c, rec) = client();
    assert!(rec.wait(5_000.0, |r| r.opens() == 1).await);
    c.close(4321, "bye").unwrap();
    c.close(1000, "again").unwrap();
    assert_eq!(rec.closes(), 1, "close must be synchronous and single");
    let handshakes = server_handshakes().await;
    // Long enough for several backoff rounds if the client were still trying.
    sleep(1_500).await;
    assert_eq!(
        server_handshakes().await,
        handshakes,
        "attempts after close"
    );
    assert_eq!(rec.closes(), 1);
    assert!(matches!(
        rec.0.borrow().last(),
        Some((
            _,
            Event::Close {
                code: 4321,
                was_clean: true,
                ..
            }
        ))
    ));
    assert_eq!(c.state(), StateKind::Closed);
    assert_eq!(c.send(text("late")).name(), "rejected");
}

#[wasm_bindgen_test]
async fn url_function_is_called_before_every_attempt() {
    fault("recover").await;
    let calls = Rc::new(Cell::new(0u32));
    let counter = calls.clone();
    let f = Closure::<dyn FnMut() -> JsValue>::new(move || {
        counter.set(counter.get() + 1);
        let url = format!("{}?attempt={}", base(), counter.get());
        // Alternate between a plain string and a Promise (token refresh is often async).
        if counter.get() % 2 == 0 {
            let v: JsValue = url.into();
            js_sys::Promise::resolve(&v).into()
        } else {
            url.into()
        }
    });
    let func: js_sys::Function = f.as_ref().unchecked_ref::<js_sys::Function>().clone();
    let (c, rec) = client_with(UrlSource::Function(func), test_config());
    assert!(
        rec.wait(5_000.0, |r| r.opens() == 1).await,
        "{}",
        rec.dump()
    );
    assert_eq!(calls.get(), 1);
    fault("drop").await;
    assert!(
        rec.wait(5_000.0, |r| r.opens() == 2).await,
        "{}",
        rec.dump()
    );
    assert_eq!(calls.get(), 2, "promise-returning call");
    fault("drop").await;
    assert!(
        rec.wait(5_000.0, |r| r.opens() == 3).await,
        "{}",
        rec.dump()
    );
    assert_eq!(calls.get(), 3);
    c.close(1000, "done").unwrap();
    drop(f);
}

#[wasm_bindgen_test]
async fn send_from_inside_the_message_callback_is_delivered() {
    fault("recover").await;
    let rec = Recorder::default();
    let slot: Rc<std::cell::RefCell<Option<holdfast::web::Client>>> = Rc::default();
    let (sink, client_slot) = (rec.clone(), slot.clone());
    let c = holdfast::web::Client::connect(UrlSource::Fixed(base()), test_config(), move |e| {
        // Re-entrant: the echo of "first" triggers a send from inside the callback.
        if e == Event::Message(text("first")) {
            if let Some(c) = &*client_slot.borrow() {
                assert_eq!(c.send(text("second")), SendOutcome::Sent);
            }
        }
        sink.0.borrow_mut().push((now(), e));
    })
    .unwrap();
    *slot.borrow_mut() = Some(c);
    assert!(rec.wait(5_000.0, |r| r.opens() == 1).await);
    slot.borrow().as_ref().unwrap().send(text("first"));
    assert!(
        rec.wait(3_000.0, |r| r.messages().len() == 2).await,
        "{}",
        rec.dump()
    );
    assert_eq!(rec.messages(), vec![text("first"), text("second")]);
    // Break the cycle (callback → slot → client) and close.
    let c = slot.borrow_mut().take().unwrap();
    c.close(1000, "done").unwrap();
}
