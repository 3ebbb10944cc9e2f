//! The one local port the fake serves on: a connection whose first request asks for the
//! gateway's path becomes a WebSocket session, any other is handed to the REST router, so a
//! single base URL serves serenity's HTTP client and its gateway alike.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;

use super::gateway::serve_gateway;
use super::{GATEWAY_PATH, Shared};

/// Connections the accept loop hands to axum (everything but the gateway).
pub(super) struct HandedOver {
    pub(super) rx: mpsc::UnboundedReceiver<(TcpStream, SocketAddr)>,
    pub(super) addr: SocketAddr,
}

impl axum::serve::Listener for HandedOver {
    type Io = TcpStream;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (TcpStream, SocketAddr) {
        match self.rx.recv().await {
            Some(connection) => connection,
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> std::io::Result<SocketAddr> {
        Ok(self.addr)
    }
}

/// One port for both: a connection whose first request is `GET /gateway-ws…` is the gateway,
/// any other goes to the REST router.
pub(super) async fn accept_loop(
    listener: TcpListener,
    shared: Arc<Shared>,
    http: mpsc::UnboundedSender<(TcpStream, SocketAddr)>,
) {
    loop {
        let Ok((stream, peer)) = listener.accept().await else {
            continue;
        };
        let shared = shared.clone();
        let http = http.clone();
        tokio::spawn(async move {
            let wanted = format!("GET {GATEWAY_PATH}");
            let mut head = vec![0u8; wanted.len()];
            let deadline = Instant::now() + Duration::from_secs(5);
            loop {
                match stream.peek(&mut head).await {
                    Ok(n) if n >= head.len() => break,
                    Ok(0) | Err(_) => return,
                    Ok(_) if Instant::now() >= deadline => break,
                    Ok(_) => tokio::time::sleep(Duration::from_millis(2)).await,
                }
            }
            if head == wanted.as_bytes() {
                serve_gateway(stream, shared).await;
            } else {
                http.send((stream, peer)).ok();
            }
        });
    }
}
