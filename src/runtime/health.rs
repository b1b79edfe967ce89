//! TCP health checks of `[[host]]`s: a host is announced as a next hop only
//! while it passes. `rise` passes in a row bring it in, `fall` failures in a
//! row take it out, so a dead host leaves the ECMP set within
//! interval × fall.
use crate::daemon::Input;
use crate::hosts::CheckConfig;
use async_io::{Async, Timer};
use futures_lite::future;
use std::net::TcpStream;

/// Runs the check for `name` until the receiver is gone; sends each
/// change to the core.
pub async fn run(
    name: String,
    c: CheckConfig,
    mut healthy: bool,
    tx: async_channel::Sender<Input>,
) {
    let (mut passes, mut fails) = (0u32, 0u32);
    loop {
        let started = std::time::Instant::now();
        let connect = async { Async::<TcpStream>::connect(c.tcp).await.is_ok() };
        let timeout = async {
            Timer::after(c.interval).await;
            false
        };
        if future::or(connect, timeout).await {
            passes += 1;
            fails = 0;
        } else {
            fails += 1;
            passes = 0;
        }
        let change = if !healthy && passes >= c.rise {
            Some(true)
        } else if healthy && fails >= c.fall {
            Some(false)
        } else {
            None
        };
        if let Some(now) = change {
            healthy = now;
            if tx.send(Input::Host(name.clone(), now)).await.is_err() {
                return;
            }
        }
        Timer::at(started + c.interval).await;
    }
}
