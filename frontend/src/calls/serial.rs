//! Runs futures one after another: WebRTC needs its steps in order (the
//! remote description before the candidates that refer to it).

use leptos::task::spawn_local;
use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;

type Step = Pin<Box<dyn Future<Output = ()>>>;

/// A queue of steps, each awaited before the next starts.
#[derive(Default)]
pub struct Serial {
    steps: RefCell<VecDeque<Step>>,
    running: Cell<bool>,
}

impl Serial {
    /// Queues a step.
    pub fn run(self: &Rc<Self>, step: impl Future<Output = ()> + 'static) {
        self.steps.borrow_mut().push_back(Box::pin(step));
        if self.running.replace(true) {
            return;
        }
        let queue = self.clone();
        spawn_local(async move {
            loop {
                let next = queue.steps.borrow_mut().pop_front();
                let Some(step) = next else { break };
                step.await;
            }
            queue.running.set(false);
        });
    }

    /// Drops the steps not started yet (the call ended).
    pub fn clear(&self) {
        self.steps.borrow_mut().clear();
    }
}
