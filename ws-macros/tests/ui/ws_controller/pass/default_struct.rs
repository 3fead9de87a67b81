use std::sync::mpsc;

use ws_core::{ws_controller, Controller};

/// Built by its own `Default` impl: no field needs an attribute, whatever its type is named.
#[ws_controller(server = "ws", path = "/jobs", default)]
pub struct Jobs {
    sender: mpsc::Sender<u32>,
}

impl Default for Jobs {
    fn default() -> Self {
        let (sender, _receiver) = mpsc::channel();
        Self { sender }
    }
}

impl Controller for Jobs {}

impl Jobs {
    pub fn send(&self, job: u32) {
        let _ = self.sender.send(job);
    }
}

fn main() {}
