use ws_core::http_fallback;

#[http_fallback(server = "http")]
fn api() -> u32 {
    7
}

fn main() {}
