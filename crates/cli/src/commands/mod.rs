//! One module per subcommand.

pub mod call;
pub mod connect;
pub mod demo_pusher;
pub mod gate_client;
pub mod serve;
