//! Oversized input: a message over a service's decoding limit, a bearer token far over its
//! limit, and a header list past the HTTP/2 limit. Each gets a documented status (with an
//! `ErrorInfo` where the request reached the server's code), changes nothing, and does not
//! take down the other streams of its connection.

use std::time::Duration;

use tokio_stream::StreamExt;
use tonic::Code;
use tonic_types::StatusExt;

use crate::harness::*;
use elevator::api::limits::MAX_MESSAGE_BYTES;
use elevator::auth::MAX_TOKEN_BYTES;
use elevator::proto::v1 as pb;

/// An `ErrorInfo` metadata entry of a status.
fn info(status: &tonic::Status, key: &str) -> String {
    status
        .get_error_details()
        .error_info()
        .and_then(|info| info.metadata.get(key).cloned())
        .unwrap_or_default()
}

#[tokio::test]
async fn an_oversized_message_is_refused_with_message_too_large_and_its_limit() {
    let app = spawn_app(Backend::Memory).await;
    let revision = app.store.revision().await.unwrap();
    let reason = "x".repeat(200 * 1024);
    let refused = app
        .elevations()
        .request_elevation(authed(
            &app.fatma(),
            elevation_request("admin_approver", "Org:Procurement", 3600, &reason),
        ))
        .await
        .expect_err("a 200 KB reason");
    assert_eq!(refused.code(), Code::ResourceExhausted, "{refused:?}");
    assert_eq!(error_reason(&refused), "MESSAGE_TOO_LARGE");
    assert_eq!(info(&refused, "limit_bytes"), MAX_MESSAGE_BYTES.to_string());
    assert!(
        info(&refused, "size_bytes").parse::<usize>().unwrap() > 200 * 1024,
        "{refused:?}"
    );
    assert!(
        refused.message().contains("at most 65536"),
        "{}",
        refused.message()
    );

    let question = pb::CheckRequest {
        subject: "fatma".into(),
        session_id: "s1".into(),
        permission: "purchase_orders.approve".into(),
        resource: "Org:Procurement/PO:4711".into(),
        ..Default::default()
    };
    let refused = app
        .checks()
        .batch_check(authed(
            &app.pep(),
            pb::BatchCheckRequest {
                checks: vec![question; 5000],
            },
        ))
        .await
        .expect_err("5,000 questions");
    assert_eq!(refused.code(), Code::ResourceExhausted, "{refused:?}");
    assert_eq!(error_reason(&refused), "MESSAGE_TOO_LARGE");
    assert_eq!(app.store.revision().await.unwrap(), revision);
}

#[tokio::test]
async fn a_bearer_token_far_over_its_limit_reaches_authentication_and_is_refused_as_too_large() {
    let app = spawn_app(Backend::Memory).await;
    for size in [16 * 1024, 43 * 1024, 100 * 1024] {
        let token = "a".repeat(size);
        let refused = app
            .elevations()
            .list_grants(authed(&token, pb::ListGrantsRequest::default()))
            .await
            .expect_err("an oversized token");
        assert_eq!(refused.code(), Code::Unauthenticated, "{size}: {refused:?}");
        assert_eq!(error_reason(&refused), "TOKEN_TOO_LARGE");
        assert_eq!(info(&refused, "limit_bytes"), MAX_TOKEN_BYTES.to_string());
        assert!(
            refused
                .message()
                .contains(&format!("({size} bytes, limit {MAX_TOKEN_BYTES})")),
            "{}",
            refused.message()
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_header_list_past_the_http2_limit_refuses_only_its_own_stream() {
    let app = spawn_app(Backend::Memory).await;
    // Ali watches his inbox on the app's one connection.
    let mut watch = app
        .approvals()
        .watch_approvals(authed(&app.ali(), pb::WatchApprovalsRequest::default()))
        .await
        .expect("ali's watch")
        .into_inner();
    let first = watch.next().await.expect("a first message").unwrap();
    assert!(first.updates.is_empty());

    // 200 KB of header on the same connection: over the header list limit (128 KiB), under
    // h2's abuse limit (4 × that), so h2 refuses that one stream.
    let refused = app
        .elevations()
        .list_grants(authed(
            &"a".repeat(200 * 1024),
            pb::ListGrantsRequest::default(),
        ))
        .await
        .expect_err("a 200 KB header list");
    // h2 answers HTTP 431 and resets the stream; the client maps that to UNKNOWN.
    assert_eq!(refused.code(), Code::Unknown, "{refused:?}");
    assert!(refused.message().contains("431"), "{}", refused.message());

    // The watch still delivers, and the connection still serves new calls.
    let elevation = app.request_fatma().await;
    let update = tokio::time::timeout(Duration::from_secs(10), watch.next())
        .await
        .expect("the watch delivers within 10s")
        .expect("the watch is open")
        .expect("an update, not an error");
    assert_eq!(
        update.updates[0].elevation.as_ref().unwrap().id,
        elevation.id
    );
}

/// What the README's limits section says h2 does past its abuse bounds: it cannot skip an
/// absurd header block (HPACK's table belongs to the connection), so it closes the
/// connection, and with it every other stream. If this starts failing, h2 got kinder: update
/// the README.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_header_block_past_h2_s_abuse_bounds_closes_its_whole_connection() {
    let app = spawn_app(Backend::Memory).await;
    let mut watch = app
        .approvals()
        .watch_approvals(authed(&app.ali(), pb::WatchApprovalsRequest::default()))
        .await
        .expect("ali's watch")
        .into_inner();
    watch.next().await.expect("a first message").unwrap();
    // 400 KB of base64url: about 300 KiB after Huffman coding, more CONTINUATION frames than
    // a 128 KiB header list needs.
    let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let token: String = (0..400 * 1024)
        .map(|i| alphabet[(i * 7919) % 64] as char)
        .collect();
    // The client reports the GOAWAY (ENHANCE_YOUR_CALM) or the broken connection, whichever
    // it sees first.
    app.elevations()
        .list_grants(authed(&token, pb::ListGrantsRequest::default()))
        .await
        .expect_err("a 400 KB header block");
    let ended = tokio::time::timeout(Duration::from_secs(10), watch.next())
        .await
        .expect("the watch ends within 10s");
    assert!(
        matches!(ended, None | Some(Err(_))),
        "the watch outlived its connection: {ended:?}"
    );
}
