//! `spend`: the day's estimates charged against the cap beside what fal.ai billed, from fal's
//! usage API (`GET /v1/models/usage`, `Authorization: Key <admin key>`), by day and endpoint,
//! so the `COST_*` estimates can be tuned from facts.

use std::collections::BTreeMap;
use std::fmt::Write;

use fluxbot::domain::{SpendDay, Timestamp, Usd};
use fluxbot::fal::{first_look, generation, training, upscale};
use fluxbot::ports::RecordStore;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

const DAY_MS: i64 = 86_400_000;

/// Every endpoint the bot calls, with the setting whose estimate covers it.
pub const ENDPOINTS: &[(&str, &str)] = &[
    (training::PORTRAIT_TRAINER, "COST_TRAINING_USD_*"),
    (training::FAST_LORA_TRAINER, "COST_TRAINING_USD_*"),
    (training::PRO_TRAINER, "COST_TRAINING_USD_*"),
    (generation::FLUX_LORA, "COST_IMAGE_USD"),
    (generation::ULTRA_FINETUNED, "COST_IMAGE_USD"),
    (generation::FLUX_LORA_IMAGE_TO_IMAGE, "COST_IMAGE_USD"),
    (upscale::SEEDVR, "COST_UPSCALE_USD_PER_MEGAPIXEL"),
    (upscale::CLARITY, "COST_UPSCALE_USD_PER_MEGAPIXEL"),
    (first_look::FIRST_LOOK_ENDPOINT, "COST_FIRST_LOOK_USD"),
];

/// One billed line: an endpoint's units on one day.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Billed {
    pub endpoint_id: String,
    #[serde(default)]
    pub unit: Option<String>,
    pub quantity: f64,
    pub unit_price: f64,
    pub cost: f64,
}

#[derive(Deserialize)]
struct Bucket {
    bucket: String,
    #[serde(default)]
    results: Vec<Billed>,
}

#[derive(Deserialize)]
struct UsagePage {
    #[serde(default)]
    time_series: Vec<Bucket>,
    next_cursor: Option<String>,
}

/// fal's usage API.
pub struct FalUsage {
    base: url::Url,
    key: SecretString,
    http: reqwest::Client,
}

impl FalUsage {
    /// `base` is `https://api.fal.ai/v1` (or a fake's); `key` an admin-scoped fal key.
    pub fn new(base: url::Url, key: SecretString) -> Self {
        Self {
            base,
            key,
            http: reqwest::Client::new(),
        }
    }

    /// What fal billed from `start` to `end` (days, `2026-12-01`, end exclusive), by day and
    /// endpoint, page by page; and how many calls it took.
    pub async fn billed(
        &self,
        start: &str,
        end: &str,
    ) -> anyhow::Result<(BTreeMap<String, Vec<Billed>>, u32)> {
        let endpoints = ENDPOINTS
            .iter()
            .map(|(e, _)| *e)
            .collect::<Vec<_>>()
            .join(",");
        let url = format!("{}/models/usage", self.base.as_str().trim_end_matches('/'));
        let (mut days, mut cursor, mut calls) = (BTreeMap::new(), None::<String>, 0);
        loop {
            let mut query = vec![
                ("endpoint_id", endpoints.clone()),
                ("start", start.to_owned()),
                ("end", end.to_owned()),
                ("timezone", "UTC".to_owned()),
                ("timeframe", "day".to_owned()),
                ("expand", "time_series".to_owned()),
            ];
            if let Some(c) = cursor.take() {
                query.push(("cursor", c));
            }
            let response = self
                .http
                .get(&url)
                .header("authorization", format!("Key {}", self.key.expose_secret()))
                .query(&query)
                .send()
                .await?;
            calls += 1;
            let status = response.status();
            let body = response.text().await?;
            anyhow::ensure!(
                status.is_success(),
                "fal's usage API answered {status}: {body} (it needs an admin-scoped key)"
            );
            let page: UsagePage = serde_json::from_str(&body)
                .map_err(|e| anyhow::anyhow!("fal's usage answer is not as documented: {e}"))?;
            for bucket in page.time_series {
                let day = bucket.bucket.get(..10).unwrap_or(&bucket.bucket).to_owned();
                days.entry(day)
                    .or_insert_with(Vec::new)
                    .extend(bucket.results);
            }
            match page.next_cursor {
                Some(next) if !next.is_empty() => cursor = Some(next),
                _ => return Ok((days, calls)),
            }
        }
    }
}

fn dollars(usd: Usd) -> f64 {
    usd.micros() as f64 / Usd::MICROS as f64
}

/// The report: per day our estimate, fal's bill and the difference, then fal's lines.
pub async fn spend(
    store: &dyn RecordStore,
    fal: &FalUsage,
    since: Timestamp,
    now: Timestamp,
) -> anyhow::Result<String> {
    let first = since.0.div_euclid(DAY_MS);
    let last = now.0.div_euclid(DAY_MS);
    anyhow::ensure!(first <= last, "--since is in the future");
    anyhow::ensure!(last - first < 366, "ask for a year at most");
    let day_of = |d: i64| SpendDay::of(Timestamp(d * DAY_MS));
    let (billed, calls) = fal
        .billed(day_of(first).as_str(), day_of(last + 1).as_str())
        .await?;
    let mut out = String::from("day          estimate     billed       billed/estimate\n");
    let (mut estimated_total, mut billed_total) = (0.0, 0.0);
    for d in first..=last {
        let day = day_of(d);
        let estimate = dollars(store.spent_on(&day).await?);
        let lines = billed.get(day.as_str()).map(Vec::as_slice).unwrap_or(&[]);
        let bill: f64 = lines.iter().map(|l| l.cost).sum();
        if estimate == 0.0 && lines.is_empty() {
            continue;
        }
        estimated_total += estimate;
        billed_total += bill;
        let ratio = if estimate > 0.0 {
            format!("{:.0}%", 100.0 * bill / estimate)
        } else {
            "-".to_owned()
        };
        let _ = writeln!(
            out,
            "{}   ${estimate:<10.2}  ${bill:<10.2}  {ratio}",
            day.as_str()
        );
        for l in lines {
            let setting = ENDPOINTS
                .iter()
                .find(|(e, _)| *e == l.endpoint_id)
                .map_or("", |(_, s)| s);
            let _ = writeln!(
                out,
                "    {:<40} {} {} x ${} = ${:.4}  ({setting})",
                l.endpoint_id,
                l.quantity,
                l.unit.as_deref().unwrap_or("unit"),
                l.unit_price,
                l.cost
            );
        }
    }
    let _ = writeln!(
        out,
        "total        ${estimated_total:<10.2}  ${billed_total:<10.2}  ({calls} call(s) to fal)"
    );
    Ok(out)
}
