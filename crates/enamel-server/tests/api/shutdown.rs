use std::time::Duration;

use axum::Router;
use axum::routing::get;
use enamel_server::startup::serve;

#[tokio::test]
async fn requests_in_flight_finish_after_shutdown_and_new_ones_are_refused() {
    let router = Router::new().route(
        "/slow",
        get(|| async {
            tokio::time::sleep(Duration::from_millis(600)).await;
            "done"
        }),
    );
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(serve(
        listener,
        router,
        None,
        Duration::from_secs(10),
        async {
            let _ = stopped.await;
        },
    ));

    let in_flight = tokio::spawn(reqwest::get(format!("http://{addr}/slow")));
    tokio::time::sleep(Duration::from_millis(200)).await;
    stop.send(()).unwrap();

    let response = in_flight
        .await
        .unwrap()
        .expect("the request in flight is answered");
    assert_eq!(response.status(), 200);
    assert_eq!(response.text().await.unwrap(), "done");
    tokio::time::timeout(Duration::from_secs(5), server)
        .await
        .expect("the server stops once its requests are done")
        .unwrap()
        .unwrap();
    assert!(
        reqwest::get(format!("http://{addr}/slow")).await.is_err(),
        "no new connections"
    );
}
