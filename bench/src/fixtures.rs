//! Fixtures, generated from one seed so that every run measures the same data:
//! WordPress exports (a post with threaded comments; a corpus for the cold start),
//! remote actors with RSA keys, pre-signed inbox requests, and followers spread over fake
//! inboxes.
//!
//! RSA keys are the one random part (no seeded RSA generation is at hand): a small pool
//! of 2048-bit keys is generated per run and shared round-robin by the actors, which
//! costs a verification exactly what a key of one's own would.

use activitypub_federation::http_signatures::generate_actor_keypair;
use anyhow::Context;
use bytes::Bytes;
use gloss_federation::signatures::{SigningKey, sign_request};
use http_body_util::Full;
use hyper::Request;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::fmt::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::SystemTime;

/// The seed of every generated fixture.
pub const SEED: u64 = 0x6c05_5be7_c4a1_2026;

/// Slug of the post with the threaded comments (workload 2).
pub const THREAD_SLUG: &str = "a-thousand-comments";

const WORDS: &[&str] = &[
    "federation",
    "blog",
    "comment",
    "reply",
    "thread",
    "server",
    "inbox",
    "note",
    "post",
    "reader",
    "author",
    "the",
    "a",
    "of",
    "and",
    "to",
    "in",
    "is",
    "that",
    "it",
    "for",
    "with",
    "small",
    "fast",
    "lean",
    "hardware",
    "agree",
    "think",
    "maybe",
    "indeed",
    "question",
    "answer",
    "because",
    "however",
    "also",
    "really",
    "interesting",
    "point",
    "link",
];

fn sentence(rng: &mut StdRng, words: usize) -> String {
    let mut out = String::new();
    for i in 0..words {
        if i > 0 {
            out.push(' ');
        }
        out.push_str(
            WORDS
                .get(rng.random_range(0..WORDS.len()))
                .unwrap_or(&"word"),
        );
    }
    out.push('.');
    out
}

fn escape_cdata(text: &str) -> String {
    text.replace("]]>", "]]]]><![CDATA[>")
}

/// One WXR `<item>` (a published post) with `comments` threaded comments.
fn wxr_item(rng: &mut StdRng, post_id: usize, slug: &str, comments: usize, out: &mut String) {
    let body: Vec<String> = (0..4).map(|_| sentence(rng, 40)).collect();
    let _ = write!(
        out,
        "<item><title><![CDATA[Post {post_id}]]></title>\
         <content:encoded><![CDATA[<p>{}</p>]]></content:encoded>\
         <wp:post_id>{post_id}</wp:post_id>\
         <wp:post_date_gmt><![CDATA[2024-01-01 10:00:00]]></wp:post_date_gmt>\
         <wp:post_name><![CDATA[{slug}]]></wp:post_name>\
         <wp:status><![CDATA[publish]]></wp:status>\
         <wp:post_type><![CDATA[post]]></wp:post_type>\
         <wp:comment_status><![CDATA[open]]></wp:comment_status>",
        escape_cdata(&body.join("</p><p>"))
    );
    let first_id = post_id * 100_000;
    for n in 0..comments {
        let id = first_id + n + 1;
        // About a third start a thread; the others answer a recent comment (threads grow
        // where the conversation is), which gives realistic depths.
        let parent = if n == 0 || rng.random_bool(0.33) {
            0
        } else {
            let back = rng.random_range(1..=n.min(20));
            first_id + n + 1 - back
        };
        let words = rng.random_range(10..80);
        let text = sentence(rng, words);
        let minute = n % 60;
        let hour = (n / 60) % 24;
        let day = 2 + (n / 1440) % 27;
        let _ = write!(
            out,
            "<wp:comment><wp:comment_id>{id}</wp:comment_id>\
             <wp:comment_author><![CDATA[Reader {}]]></wp:comment_author>\
             <wp:comment_author_url>https://reader{}.example.org/</wp:comment_author_url>\
             <wp:comment_date_gmt>2024-01-{day:02} {hour:02}:{minute:02}:00</wp:comment_date_gmt>\
             <wp:comment_content><![CDATA[{}]]></wp:comment_content>\
             <wp:comment_approved>1</wp:comment_approved><wp:comment_type></wp:comment_type>\
             <wp:comment_parent>{parent}</wp:comment_parent></wp:comment>",
            n % 300,
            n % 300,
            escape_cdata(&text)
        );
    }
    out.push_str("</item>\n");
}

fn wxr_document(items: &str) -> String {
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\" ?>\n<rss version=\"2.0\" \
         xmlns:excerpt=\"http://wordpress.org/export/1.2/excerpt/\" \
         xmlns:content=\"http://purl.org/rss/1.0/modules/content/\" \
         xmlns:dc=\"http://purl.org/dc/elements/1.1/\" \
         xmlns:wp=\"http://wordpress.org/export/1.2/\"><channel>\
         <title>Bench Blog</title><link>https://bench.example.org/</link>\
         <wp:wxr_version>1.2</wp:wxr_version>\
         <wp:base_site_url>https://bench.example.org/</wp:base_site_url>\n{items}</channel></rss>\n"
    )
}

/// A WXR export of one post ([`THREAD_SLUG`]) with `comments` threaded comments.
pub fn thread_wxr(comments: usize) -> String {
    let mut rng = StdRng::seed_from_u64(SEED);
    let mut items = String::new();
    wxr_item(&mut rng, 1, THREAD_SLUG, comments, &mut items);
    wxr_document(&items)
}

/// A WXR export of `posts` posts with `comments_per_post` comments each.
pub fn corpus_wxr(posts: usize, comments_per_post: usize) -> String {
    let mut rng = StdRng::seed_from_u64(SEED ^ 0xc0);
    let mut items = String::new();
    for p in 0..posts {
        wxr_item(
            &mut rng,
            p + 10,
            &format!("corpus-{p}"),
            comments_per_post,
            &mut items,
        );
    }
    wxr_document(&items)
}

/// An RSA-2048 key pair, as PEM and parsed for signing.
pub struct KeyPair {
    pub public_pem: String,
    pub private_pem: String,
    pub signing: SigningKey,
}

/// `count` fresh key pairs (generated on blocking threads).
pub fn key_pool(count: usize) -> anyhow::Result<Vec<KeyPair>> {
    let handles: Vec<_> = (0..count)
        .map(|_| std::thread::spawn(generate_actor_keypair))
        .collect();
    let mut keys = Vec::new();
    for handle in handles {
        let pair = handle
            .join()
            .map_err(|_| anyhow::anyhow!("key generation panicked"))?
            .context("generate an RSA key")?;
        let signing = SigningKey::from_pkcs8_pem(&pair.private_key)
            .map_err(|err| anyhow::anyhow!("parse a generated key: {err:?}"))?;
        keys.push(KeyPair {
            public_pem: pair.public_key,
            private_pem: pair.private_key,
            signing,
        });
    }
    Ok(keys)
}

/// A remote actor that sends to our inbox.
#[derive(Debug, Clone)]
pub struct SendingActor {
    pub ap_id: String,
    pub key_id: String,
    /// Index into the key pool.
    pub key: usize,
}

/// `count` actors on 50 remote hosts (which never answer: their keys are in the store,
/// as after a first fetch).
pub fn sending_actors(count: usize, keys: usize) -> Vec<SendingActor> {
    (0..count)
        .map(|n| {
            let ap_id = format!("http://remote{}.bench.invalid/users/u{n}", n % 50);
            SendingActor {
                key_id: format!("{ap_id}#main-key"),
                ap_id,
                key: n % keys.max(1),
            }
        })
        .collect()
}

/// A request ready to send: headers and body of one signed POST.
pub struct SignedRequest {
    path: String,
    headers: Vec<(hyper::header::HeaderName, hyper::header::HeaderValue)>,
    body: Bytes,
}

/// Pre-signed inbox requests, each sent at most once (the inbox drops a repeated
/// activity id as a duplicate, which would measure something else).
pub struct SignedPool {
    requests: Vec<SignedRequest>,
    next: AtomicUsize,
}

impl SignedPool {
    /// `count` Likes of `post_url`, from `actors` in a seeded order, signed for
    /// `inbox_url`. Signed on every core.
    pub fn build(
        inbox_url: &str,
        post_url: &str,
        actors: &[SendingActor],
        keys: &[KeyPair],
        count: usize,
    ) -> anyhow::Result<SignedPool> {
        let inbox = url::Url::parse(inbox_url)?;
        let mut rng = StdRng::seed_from_u64(SEED ^ 0x1b);
        let order: Vec<usize> = (0..count)
            .map(|_| rng.random_range(0..actors.len().max(1)))
            .collect();
        let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
        let chunk = count.div_ceil(threads).max(1);
        let requests: Vec<SignedRequest> = std::thread::scope(|scope| {
            let handles: Vec<_> = order
                .chunks(chunk)
                .enumerate()
                .map(|(c, slice)| {
                    let inbox = &inbox;
                    scope.spawn(move || -> anyhow::Result<Vec<SignedRequest>> {
                        let mut out = Vec::with_capacity(slice.len());
                        for (i, actor) in slice.iter().enumerate() {
                            let n = c * chunk + i;
                            let actor = actors.get(*actor).context("actor index")?;
                            let key = keys.get(actor.key).context("key index")?;
                            let body = serde_json::json!({
                                "@context": "https://www.w3.org/ns/activitystreams",
                                "id": format!("{}/likes/{n}", actor.ap_id),
                                "type": "Like",
                                "actor": actor.ap_id,
                                "object": post_url,
                            })
                            .to_string()
                            .into_bytes();
                            let headers = sign_request(
                                &hyper::Method::POST,
                                inbox,
                                &body,
                                &actor.key_id,
                                &key.signing,
                                SystemTime::now(),
                            )
                            .map_err(|err| anyhow::anyhow!("sign: {err:?}"))?;
                            out.push(SignedRequest {
                                path: inbox.path().to_owned(),
                                headers,
                                body: Bytes::from(body),
                            });
                        }
                        Ok(out)
                    })
                })
                .collect();
            let mut all = Vec::with_capacity(count);
            for handle in handles {
                match handle.join() {
                    Ok(Ok(part)) => all.extend(part),
                    Ok(Err(err)) => return Err(err),
                    Err(_) => anyhow::bail!("a signing thread panicked"),
                }
            }
            Ok(all)
        })?;
        Ok(SignedPool {
            requests,
            next: AtomicUsize::new(0),
        })
    }

    pub fn len(&self) -> usize {
        self.requests.len()
    }

    /// How many were handed out so far.
    pub fn used(&self) -> usize {
        self.next.load(Ordering::Relaxed).min(self.requests.len())
    }

    /// Starts handing them out from the first again (for a fresh database).
    pub fn rewind(&self) {
        self.next.store(0, Ordering::Relaxed);
    }

    /// The next unsent request, as a hyper request.
    pub fn take(&self) -> Option<Request<Full<Bytes>>> {
        let signed = self
            .requests
            .get(self.next.fetch_add(1, Ordering::Relaxed))?;
        let mut builder = Request::post(signed.path.as_str())
            .header(hyper::header::CONTENT_TYPE, "application/activity+json");
        for (name, value) in &signed.headers {
            builder = builder.header(name, value);
        }
        builder.body(Full::new(signed.body.clone())).ok()
    }

    /// A load-generator source over this pool.
    pub fn source(self: &Arc<Self>) -> crate::load::RequestSource {
        let pool = Arc::clone(self);
        Arc::new(move |_| pool.take())
    }
}

/// One follower as registered in the store.
#[derive(Debug, Clone)]
pub struct Follower {
    pub ap_id: String,
    pub inbox: String,
    pub shared_inbox: Option<String>,
}

impl Follower {
    /// Where deliveries for it go.
    pub fn delivery_inbox(&self) -> &str {
        self.shared_inbox.as_deref().unwrap_or(&self.inbox)
    }
}

/// `count` followers, each with its own inbox, spread round-robin over `hosts`.
pub fn distinct_inbox_followers(count: usize, hosts: &[String]) -> Vec<Follower> {
    (0..count)
        .map(|n| {
            let base = hosts.get(n % hosts.len().max(1)).map_or("", String::as_str);
            Follower {
                ap_id: format!("{base}/users/d{n}"),
                inbox: format!("{base}/users/d{n}/inbox"),
                shared_inbox: None,
            }
        })
        .collect()
}

/// `count` followers on `instances.len()` instances, each instance with a shared inbox:
/// every instance has at least one follower, the rest are spread with a Zipf-like law
/// (a few large instances, a long tail), as on the fediverse.
pub fn shared_inbox_followers(count: usize, instances: &[String], tag: &str) -> Vec<Follower> {
    let mut rng = StdRng::seed_from_u64(SEED ^ 0x5a);
    let weights: Vec<f64> = (0..instances.len())
        .map(|k| 1.0 / ((k + 1) as f64).powf(0.9))
        .collect();
    let total: f64 = weights.iter().sum();
    let mut cumulative = Vec::with_capacity(weights.len());
    let mut acc = 0.0;
    for w in &weights {
        acc += w / total;
        cumulative.push(acc);
    }
    (0..count)
        .map(|n| {
            let instance = if n < instances.len() {
                n
            } else {
                let x: f64 = rng.random();
                cumulative
                    .partition_point(|c| *c < x)
                    .min(instances.len() - 1)
            };
            let base = instances.get(instance).map_or("", String::as_str);
            Follower {
                ap_id: format!("{base}/users/{tag}{n}"),
                inbox: format!("{base}/users/{tag}{n}/inbox"),
                shared_inbox: Some(format!("{base}/inbox")),
            }
        })
        .collect()
}
