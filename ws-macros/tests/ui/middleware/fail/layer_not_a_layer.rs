use ws_core::middleware;

#[middleware(server = "http")]
fn cors() -> u32 {
    7
}

fn main() {}
