//! The statistics as JSON, for tools that read numbers rather than the `--gil-stats`
//! table (`toy compare` reads its child runs' statistics this way). Invariant: every
//! number of [`GilStats`] appears under a fixed key, durations in seconds as floats,
//! counts as integers, and the places in `waits_caused` in the snapshot's order,
//! costliest first.

use serde_json::{Map, Value, json};

use super::stats::GilStats;

impl GilStats {
    /// The snapshot as a JSON object:
    /// `{"policy", "elapsed_s", "acquisitions", "switches", "forced_drops",
    /// "drop_requests", "cpu_moves", "wait_s", "max_wait_s", "reasons": {name: count},
    /// "waits_caused": [[line, seconds], ...], "threads": [{"id", "acquisitions",
    /// "hold_s", "wait_s", "max_wait_s", "forced_drops", "drop_requests", "cpu_moves"}]}`.
    pub fn to_json(&self) -> String {
        let reasons: Map<String, Value> = self
            .reasons
            .iter()
            .map(|(reason, n)| (reason.name().to_string(), json!(n)))
            .collect();
        let waits: Vec<Value> = self
            .waits_caused
            .iter()
            .map(|w| json!([w.line, w.wait.as_secs_f64()]))
            .collect();
        let threads: Vec<Value> = self
            .threads
            .iter()
            .map(|t| {
                json!({
                    "id": t.thread.get(),
                    "acquisitions": t.acquisitions,
                    "hold_s": t.hold.as_secs_f64(),
                    "wait_s": t.wait.as_secs_f64(),
                    "max_wait_s": t.max_wait.as_secs_f64(),
                    "forced_drops": t.forced_drops,
                    "drop_requests": t.drop_requests,
                    "cpu_moves": t.cpu_moves,
                })
            })
            .collect();
        let doc = json!({
            "policy": self.policy,
            "elapsed_s": self.elapsed.as_secs_f64(),
            "acquisitions": self.acquisitions,
            "switches": self.switches,
            "forced_drops": self.forced_drops,
            "drop_requests": self.drop_requests,
            "cpu_moves": self.cpu_moves,
            "wait_s": self.total_wait().as_secs_f64(),
            "max_wait_s": self.max_wait().as_secs_f64(),
            "reasons": reasons,
            "waits_caused": waits,
            "threads": threads,
        });
        doc.to_string()
    }
}
