//! Listening: binding the address, announcing the gate, serving until shutdown.

use std::net::SocketAddr;
use std::time::Duration;

use crate::GateError;
use crate::runtime;

use super::Gate;

/// How long open connections may take to finish after a shutdown signal.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(3);

impl Gate {
    /// The MCP endpoints for agents (`/mcp/<server>`, `/sse/<server>`).
    pub fn proxy_router(&self) -> axum::Router {
        self.inner.proxy.router()
    }

    /// Announces the gate in `runtime.json` (how `airlock call`, `connect` and `approve` find
    /// it) for `listener`. [`Gate::serve`] does it too; call it first when something should
    /// only be said once the gate can be found, such as "Airlock is running".
    pub fn announce(&self, listener: &tokio::net::TcpListener) -> Result<(), GateError> {
        let addr = listener.local_addr().map_err(GateError::Serve)?;
        runtime::write_runtime(
            &self.inner.data_dir,
            &runtime::RuntimeInfo {
                url: format!("http://{addr}"),
                pid: std::process::id(),
            },
        )?;
        Ok(())
    }

    /// Serves `app` (normally [`Gate::proxy_router`] merged with the local API) on `listener`
    /// until `shutdown` resolves. Announces the gate in `runtime.json` while it runs.
    pub async fn serve(
        &self,
        listener: tokio::net::TcpListener,
        app: axum::Router,
        shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> Result<(), GateError> {
        let addr = listener.local_addr().map_err(GateError::Serve)?;
        let pid = std::process::id();
        self.announce(&listener)?;
        tracing::info!("Airlock gate listening on http://{addr}");
        // Graceful shutdown waits for open connections, and agents keep SSE streams open for as
        // long as they like: after the signal, give them a moment, then stop regardless.
        let (stopping_tx, stopping_rx) = tokio::sync::oneshot::channel::<()>();
        // Answers are SSE streams written in small pieces (head, event, end): with Nagle's
        // algorithm on, each later piece waits for the client's delayed ACK (up to 40 ms).
        let listener = axum::serve::ListenerExt::tap_io(listener, |tcp| {
            if let Err(err) = tcp.set_nodelay(true) {
                tracing::trace!("cannot set TCP_NODELAY: {err}");
            }
        });
        let server = axum::serve(listener, app).with_graceful_shutdown(async move {
            shutdown.await;
            let _ = stopping_tx.send(());
        });
        let result = tokio::select! {
            result = server => result.map_err(GateError::Serve),
            () = async {
                if stopping_rx.await.is_ok() {
                    tokio::time::sleep(SHUTDOWN_GRACE).await;
                } else {
                    std::future::pending::<()>().await;
                }
            } => {
                tracing::info!("connections still open after {SHUTDOWN_GRACE:?}; closing them");
                Ok(())
            }
        };
        runtime::remove_runtime(&self.inner.data_dir, pid);
        result
    }

    /// Binds the configured address, with a message that says what to do when it is taken.
    pub async fn bind(
        &self,
        listen: Option<SocketAddr>,
    ) -> Result<tokio::net::TcpListener, GateError> {
        let addr = listen.unwrap_or(self.config().gate.listen);
        // The same rule as for the config's `gate.listen`, for an address given on the command line.
        let config = self.config();
        let settings = &config.gate;
        if !addr.ip().is_loopback()
            && (!settings.allow_non_loopback
                || !settings.require_grants
                || config.grants.is_empty())
        {
            return Err(GateError::ConfigInvalid {
                path: "--listen".into(),
                message: format!(
                    "`{addr}` is not a loopback address; listening beyond this machine needs \
                     gate.allow_non_loopback = true, gate.require_grants = true and grants in the \
                     config, so strangers cannot drive your agents' tools"
                ),
            });
        }
        tokio::net::TcpListener::bind(addr)
            .await
            .map_err(|source| GateError::Bind { addr, source })
    }
}
