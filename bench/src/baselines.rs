//! Physical baselines measured in the same run as the workloads: what the machine does
//! without Gloss (RSA with ring, fsync, an unsigned fan-out; the bare axum server is in
//! `main.rs`, driven by the same load generator as Gloss).

use crate::fixtures::KeyPair;
use anyhow::Context;
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use futures_util::StreamExt;
use ring::rand::SystemRandom;
use ring::signature::{self, RsaKeyPair, UnparsedPublicKey};
use std::io::Write;
use std::path::Path;
use std::time::{Duration, Instant};

/// Raw ring RSA-2048 (PKCS#1 v1.5, SHA-256) costs, in microseconds per operation.
#[derive(Debug, Clone, Copy)]
pub struct RsaCosts {
    pub sign_us: f64,
    pub verify_us: f64,
}

fn per_op_us(period: Duration, mut op: impl FnMut()) -> f64 {
    // Best of three rounds: load from other processes only ever slows a round down.
    let mut best = f64::INFINITY;
    for _ in 0..3 {
        let start = Instant::now();
        let mut calls = 0_u32;
        while start.elapsed() < period / 3 {
            op();
            calls += 1;
        }
        best = best.min(start.elapsed().as_secs_f64() * 1e6 / f64::from(calls.max(1)));
    }
    best
}

pub fn rsa(key: &KeyPair, period: Duration) -> anyhow::Result<RsaCosts> {
    let der: String = key
        .private_pem
        .lines()
        .filter(|line| !line.starts_with("-----"))
        .collect();
    let pair = RsaKeyPair::from_pkcs8(&BASE64.decode(der)?)
        .map_err(|err| anyhow::anyhow!("ring rejected the key: {err}"))?;
    let public = pair.public().as_ref().to_vec();
    let rng = SystemRandom::new();
    let message = b"(request-target): post /inbox\nhost: 127.0.0.1:8080\ndate: Thu, 26 Nov 2026 20:00:00 GMT\ndigest: SHA-256=47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=";
    let mut sig = vec![0_u8; pair.public().modulus_len()];
    pair.sign(&signature::RSA_PKCS1_SHA256, &rng, message, &mut sig)
        .map_err(|_| anyhow::anyhow!("ring could not sign"))?;
    let sign_us = per_op_us(period, || {
        let mut out = vec![0_u8; pair.public().modulus_len()];
        let _ = pair.sign(&signature::RSA_PKCS1_SHA256, &rng, message, &mut out);
        std::hint::black_box(out);
    });
    let verifier = UnparsedPublicKey::new(&signature::RSA_PKCS1_2048_8192_SHA256, &public);
    let verify_us = per_op_us(period, || {
        std::hint::black_box(verifier.verify(message, &sig).is_ok());
    });
    Ok(RsaCosts { sign_us, verify_us })
}

/// Latency of a 4 KiB write followed by `fdatasync`, in the directory the SQLite
/// databases live in: (p50, p99) in milliseconds.
pub fn fsync(dir: &Path, rounds: usize) -> anyhow::Result<(f64, f64)> {
    let path = dir.join("fsync-probe");
    let mut file = std::fs::File::create(&path).context("create the fsync probe")?;
    let block = [0x5a_u8; 4096];
    let mut samples = Vec::with_capacity(rounds);
    for _ in 0..rounds {
        let start = Instant::now();
        file.write_all(&block)?;
        file.sync_data()?;
        samples.push(start.elapsed().as_secs_f64() * 1e3);
    }
    drop(file);
    let _ = std::fs::remove_file(&path);
    samples.sort_by(f64::total_cmp);
    let at = |q: f64| {
        let last = samples.len().saturating_sub(1);
        samples
            .get(((last as f64) * q).round() as usize)
            .copied()
            .unwrap_or(f64::NAN)
    };
    Ok((at(0.5), at(0.99)))
}

/// POSTs `body` once to every inbox, unsigned, with at most `concurrency` requests in
/// flight and at most [`PER_HOST`] connections kept per host (the delivery worker's own
/// limits), the inboxes taken host by host in turn: the time the loopback network and
/// the fake receivers alone need for a fan-out.
/// Connections kept per host (the delivery worker's per-host cap).
pub const PER_HOST: usize = 4;

pub async fn unsigned_fan_out(
    inboxes: &[String],
    body: &'static [u8],
    concurrency: usize,
) -> anyhow::Result<(Duration, usize, Option<String>)> {
    let client = reqwest::Client::builder()
        .no_proxy()
        .pool_max_idle_per_host(PER_HOST)
        .timeout(Duration::from_secs(30))
        .build()?;
    // Round-robin over the hosts, as the worker's per-host cap spreads its sends.
    let mut by_host: std::collections::BTreeMap<&str, Vec<&String>> = Default::default();
    for inbox in inboxes {
        by_host
            .entry(crate::inboxes::base_of(inbox))
            .or_default()
            .push(inbox);
    }
    let mut order = Vec::with_capacity(inboxes.len());
    let longest = by_host.values().map(Vec::len).max().unwrap_or(0);
    for i in 0..longest {
        order.extend(
            by_host
                .values()
                .filter_map(|list| list.get(i).map(|s| (*s).clone())),
        );
    }
    let start = Instant::now();
    let outcomes: Vec<Result<(), String>> = futures_util::stream::iter(order)
        .map(|inbox| {
            let client = client.clone();
            async move {
                match client
                    .post(inbox)
                    .header("content-type", "application/activity+json")
                    .body(body)
                    .send()
                    .await
                {
                    Ok(r) if r.status().is_success() => Ok(()),
                    Ok(r) => Err(format!("HTTP {}", r.status())),
                    Err(err) => Err(format!("{err:?}")),
                }
            }
        })
        .buffer_unordered(concurrency)
        .collect()
        .await;
    let elapsed = start.elapsed();
    let ok = outcomes.iter().filter(|o| o.is_ok()).count();
    let first_error = outcomes.into_iter().find_map(Result::err);
    Ok((elapsed, ok, first_error))
}
