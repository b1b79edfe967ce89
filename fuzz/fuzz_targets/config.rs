//! The config and labels readers take any text: they return the value or
//! an error with a line inside the text, and never panic. Whatever parses
//! must also pass `leafvip check`'s planning without panicking.
#![no_main]
use leafvip::{config::Config, labels, plan::Plan};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let lines = text.lines().count().max(1);
    match labels::parse("labels", text) {
        Ok(_) => {}
        Err(e) => assert!(e.line <= lines, "labels error past the end: {e:?}"),
    }
    match Config::parse("leafvip.toml", text) {
        Ok(cfg) => {
            let vips = leafvip::plan::vip_plans(cfg.vips(), Vec::new());
            let labels = cfg.node.labels.clone();
            let plan = Plan::new(&cfg, "fuzz".into(), labels, vips, &|_| true);
            let _ = plan.report(|_| Default::default()).to_string();
        }
        Err(e) => assert!(e.line <= lines + 1, "config error past the end: {e:?}"),
    }
});
