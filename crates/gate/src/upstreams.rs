//! How each configured server is reached: a config entry turned into the relay's
//! [`UpstreamSpec`] (used by [`crate::Gate::build`] and by the tool probe).

use std::collections::BTreeMap;
use std::sync::Arc;

use airlock_proxy::{Connect, UpstreamError, UpstreamLink, UpstreamSpec};
use futures::future::BoxFuture;

use crate::GateError;
use crate::config::{Config, ServerEntry, UpstreamKind};

/// The demo Pusher server, in this process.
struct DemoConnector {
    world: Arc<airlock_demo_pusher::World>,
}

impl Connect for DemoConnector {
    fn connect(&self) -> BoxFuture<'static, Result<UpstreamLink, UpstreamError>> {
        let world = self.world.clone();
        Box::pin(async move {
            let demo = airlock_demo_pusher::spawn_in_process(world);
            Ok(airlock_proxy::upstream::lines::link(
                "demo-pusher",
                demo.reader,
                demo.writer,
            ))
        })
    }
}

fn header_map(
    headers: &BTreeMap<String, String>,
    server: &str,
) -> Result<http::HeaderMap, GateError> {
    let mut map = http::HeaderMap::new();
    for (name, value) in headers {
        let name = http::HeaderName::from_bytes(name.as_bytes()).map_err(|_| {
            GateError::ConfigInvalid {
                path: "mcpServers".into(),
                message: format!(
                    "mcpServers.{server}.headers: `{name}` is not a valid header name"
                ),
            }
        })?;
        let value = http::HeaderValue::from_str(value).map_err(|_| GateError::ConfigInvalid {
            path: "mcpServers".into(),
            message: format!(
                "mcpServers.{server}.headers.{name}: the value is not a valid header value"
            ),
        })?;
        map.insert(name, value);
    }
    Ok(map)
}

/// How to reach the server `name` of `config`; the demo Pusher server runs in `world`.
pub(crate) fn spec(
    config: &Config,
    name: &str,
    entry: &ServerEntry,
    world: &Arc<airlock_demo_pusher::World>,
) -> Result<UpstreamSpec, GateError> {
    let kind = entry
        .upstream(name)
        .map_err(|message| GateError::ConfigInvalid {
            path: "mcpServers".into(),
            message,
        })?;
    let spec = match kind {
        UpstreamKind::Stdio(mut command) => {
            command.cwd = command.cwd.map(|c| {
                if c.is_absolute() {
                    c
                } else {
                    config.base_dir().join(c)
                }
            });
            UpstreamSpec::Stdio(command)
        }
        UpstreamKind::StreamableHttp { url, headers } => UpstreamSpec::StreamableHttp {
            url,
            headers: header_map(&headers, name)?,
        },
        UpstreamKind::LegacySse { url, headers } => UpstreamSpec::LegacySse {
            url,
            headers: header_map(&headers, name)?,
        },
        UpstreamKind::DemoPusher => UpstreamSpec::Custom(Arc::new(DemoConnector {
            world: world.clone(),
        })),
    };
    Ok(spec)
}
