//! airlock-demo-pusher.
