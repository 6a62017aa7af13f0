//! The path context one call is evaluated in: the server's roots and, for a server on this
//! machine, the real paths of the arguments, found off the async runtime (`crate::roots`).

use std::sync::Arc;

use airlock_policy::{CallFacts, NoCounters, PathContext, Policy, evaluate_with};
use airlock_proxy::ToolCall;

use crate::roots::{Answers, Asked};

use super::GateInterceptor;

/// The facts of `call` as the policy sees them.
pub(super) fn facts<'a>(call: &'a ToolCall<'a>) -> CallFacts<'a> {
    CallFacts {
        grant: &call.session.agent.grant,
        session: &call.session.session_id,
        server: &call.session.server,
        tool: call.name,
        args: call.arguments,
    }
}

impl GateInterceptor {
    /// The context `call` is evaluated in under `policy`. Only a call of a tool with `under` or
    /// `glob` conditions, to a server on this machine, touches the disk: a first pure
    /// evaluation records the paths the policy asks about, a blocking thread finds their real
    /// paths, and the context returned answers from those. Fails (the call is then denied) only
    /// when that thread could not run.
    pub(super) async fn path_context(
        &self,
        policy: &Policy,
        call: &ToolCall<'_>,
    ) -> Result<Arc<PathContext>, String> {
        let server = self.roots.get(&call.session.server);
        if !server.on_disk || !policy.checks_paths(call.name) {
            return Ok(server.context.clone());
        }
        let asked = Arc::new(Asked::default());
        let recording = server.context.with_resolver(asked.clone());
        // Remembered decisions and counters only come after the conditions: neither changes
        // which paths are asked about, so none are passed.
        evaluate_with(
            policy,
            &facts(call),
            &recording,
            None,
            &NoCounters,
            self.clock.now_ms(),
        );
        let paths = asked.take();
        if paths.is_empty() {
            return Ok(server.context.clone());
        }
        let answers = tokio::task::spawn_blocking(move || Answers::find(paths))
            .await
            .map_err(|err| {
                format!("Airlock could not look up the real paths of the arguments ({err})")
            })?;
        Ok(Arc::new(server.context.with_resolver(Arc::new(answers))))
    }
}
