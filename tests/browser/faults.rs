//! Recovery from dropped connections (a silent server and downtime, on every transport, are in
//! `every_transport.rs`).

use crate::util::*;
use holdfast::core::{Event, SendOutcome};
use wasm_bindgen_test::wasm_bindgen_test;

#[wasm_bindgen_test]
async fn dropped_connections_reconnect_and_deliver_what_was_sent_meanwhile() {
    fault("recover").await;
    let (c, rec) = client();
    assert!(rec.wait(5_000.0, |r| r.opens() == 1).await);
    fault("drop").await;
    assert!(
        rec.wait(3_000.0, |r| r
            .count(|e| matches!(e, Event::Reconnecting { .. }))
            >= 1)
            .await,
        "{}",
        rec.dump()
    );
    assert_eq!(c.send(text("during-1")), SendOutcome::Queued);
    assert_eq!(c.send(text("during-2")), SendOutcome::Queued);
    assert!(
        rec.wait(5_000.0, |r| r.opens() == 2).await,
        "{}",
        rec.dump()
    );
    assert!(
        rec.wait(3_000.0, |r| r.messages().len() == 2).await,
        "{}",
        rec.dump()
    );
    assert_eq!(rec.messages(), vec![text("during-1"), text("during-2")]);
    c.close(1000, "done").unwrap();
}
