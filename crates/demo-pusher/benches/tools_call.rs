//! How long the demo upstream takes per message, without I/O: parse the line, run the tool,
//! write the answer. The demo is the upstream in Airlock's latency benchmarks, so its own cost
//! must stay small (target: a realistic `tools/call` well under 50 us).
//!
//! `cargo bench -p airlock-demo-pusher`

use std::hint::black_box;

use airlock_demo_pusher::{World, handle_message};
use criterion::{Criterion, criterion_group, criterion_main};

fn bench(c: &mut Criterion) {
    let world = World::demo();
    let mut out = Vec::with_capacity(16 * 1024);
    let cases: [(&str, &str); 4] = [
        (
            "tools_call_trigger_event",
            r#"{"jsonrpc":"2.0","id":41,"method":"tools/call","params":{"name":"trigger_event","arguments":{"channel":"chat-general","event":"new-message","data":{"text":"hello from the agent","from":"u-42"}},"_meta":{"progressToken":41}}}"#,
        ),
        (
            "tools_call_get_presence_users",
            r#"{"jsonrpc":"2.0","id":42,"method":"tools/call","params":{"name":"get_presence_users","arguments":{"channel":"presence-lobby"}}}"#,
        ),
        (
            "tools_call_authorize_presence",
            r#"{"jsonrpc":"2.0","id":43,"method":"tools/call","params":{"name":"authorize_channel","arguments":{"socketId":"123.456","channel":"presence-lobby","presenceData":{"user_id":"u-42","user_info":{"name":"Ada"}}}}}"#,
        ),
        (
            "tools_list",
            r#"{"jsonrpc":"2.0","id":44,"method":"tools/list"}"#,
        ),
    ];
    for (name, line) in cases {
        c.bench_function(name, |b| {
            b.iter(|| {
                out.clear();
                handle_message(&world, black_box(line.as_bytes()), &mut out);
                black_box(out.len())
            });
        });
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
