//! Fixture tests: every actor and every Note-like object that real servers emitted
//! (../shared/fixtures/corpus, collected by the Lemmy project) parses into our protocol
//! shapes, with the fields Gloss relies on read correctly; our own documents round-trip.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use gloss_federation::protocol::actor::{Actor, ActorType};
use gloss_federation::protocol::note::{Note, NoteType};
use gloss_federation::protocol::{PUBLIC, collection::OrderedCollection};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

const ACTOR_TYPES: [&str; 5] = ["Person", "Service", "Application", "Group", "Organization"];
const NOTE_TYPES: [&str; 4] = ["Note", "Article", "Page", "Question"];

fn corpus_dir() -> PathBuf {
    if let Ok(dir) = std::env::var("GLOSS_FIXTURES_CORPUS") {
        return PathBuf::from(dir);
    }
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/fixtures/corpus")
}

/// Every `.json` file of the corpus with its server name (the first directory).
fn corpus_files() -> Vec<(String, PathBuf, Value)> {
    let root = corpus_dir();
    assert!(
        root.is_dir(),
        "fixture corpus not found at {} (set GLOSS_FIXTURES_CORPUS)",
        root.display()
    );
    let mut files = Vec::new();
    let mut stack = vec![root.clone()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "json") {
                let server = path
                    .strip_prefix(&root)
                    .unwrap()
                    .components()
                    .next()
                    .unwrap()
                    .as_os_str()
                    .to_string_lossy()
                    .into_owned();
                let value: Value = serde_json::from_slice(&std::fs::read(&path).unwrap())
                    .unwrap_or_else(|err| panic!("{}: {err}", path.display()));
                files.push((server, path, value));
            }
        }
    }
    files.sort_by(|a, b| a.1.cmp(&b.1));
    files
}

/// Every JSON object inside `value` (itself included) whose `type` is one of `types`
/// and that has an `id` (previews without one are not documents).
fn objects_of_type<'a>(value: &'a Value, types: &[&str], out: &mut Vec<&'a Value>) {
    match value {
        Value::Object(map) => {
            let kind = map.get("type").and_then(Value::as_str).unwrap_or_default();
            if types.contains(&kind) && map.contains_key("id") {
                out.push(value);
            }
            for child in map.values() {
                objects_of_type(child, types, out);
            }
        }
        Value::Array(items) => {
            for item in items {
                objects_of_type(item, types, out);
            }
        }
        _ => {}
    }
}

#[test]
fn every_actor_in_the_corpus_parses() {
    let mut parsed_per_server: BTreeMap<String, usize> = BTreeMap::new();
    let mut servers_with_actor_files = Vec::new();
    for (server, path, value) in corpus_files() {
        let mut actors = Vec::new();
        objects_of_type(&value, &ACTOR_TYPES, &mut actors);
        // Embedded actor references without an inbox (Lemmy's `attributedTo` stubs) are
        // not actor documents.
        actors.retain(|actor| actor.get("inbox").is_some());
        if !actors.is_empty() && !servers_with_actor_files.contains(&server) {
            servers_with_actor_files.push(server.clone());
        }
        for json in actors {
            let actor: Actor = serde_json::from_value(json.clone())
                .unwrap_or_else(|err| panic!("{}: {err}", path.display()));
            assert_eq!(actor.id, json["id"].as_str().unwrap(), "{}", path.display());
            let key = actor
                .public_key
                .as_ref()
                .unwrap_or_else(|| panic!("{}: no publicKey", path.display()));
            assert!(
                key.public_key_pem.contains("PUBLIC KEY-----"),
                "{}",
                path.display()
            );
            *parsed_per_server.entry(server.clone()).or_default() += 1;
        }
    }
    for server in &servers_with_actor_files {
        assert!(
            parsed_per_server.get(server).is_some_and(|n| *n > 0),
            "{server}"
        );
    }
    // Every server whose objects include an actor: at least these.
    for server in [
        "discourse",
        "friendica",
        "gnusocial",
        "lemmy",
        "lotide",
        "mastodon",
        "mbin",
        "mobilizon",
        "nodebb",
        "peertube",
        "pleroma",
        "smithereen",
        "wordpress",
    ] {
        assert!(
            parsed_per_server.contains_key(server),
            "no actor parsed for {server}"
        );
    }
}

#[test]
fn every_note_like_object_in_the_corpus_parses() {
    let mut parsed = 0;
    for (_server, path, value) in corpus_files() {
        let mut notes = Vec::new();
        objects_of_type(&value, &NOTE_TYPES, &mut notes);
        for json in notes {
            let note: Note = serde_json::from_value(json.clone())
                .unwrap_or_else(|err| panic!("{}: {err}", path.display()));
            assert_eq!(note.id, json["id"].as_str().unwrap());
            if json.get("attributedTo").is_some() {
                assert!(note.attributed_to.is_some(), "{}", path.display());
            }
            parsed += 1;
        }
    }
    assert!(parsed >= 30, "only {parsed} notes found");
}

fn fixture(path: &str) -> Value {
    serde_json::from_slice(&std::fs::read(corpus_dir().join(path)).unwrap()).unwrap()
}

#[test]
fn the_fields_gloss_relies_on_are_read_from_real_actors() {
    let mastodon: Actor = serde_json::from_value(fixture("mastodon/objects/person.json")).unwrap();
    assert_eq!(mastodon.kind, ActorType::Person);
    assert_eq!(mastodon.preferred_username.as_deref(), Some("mastodon"));
    assert_eq!(
        mastodon.delivery_inbox(),
        "https://masto.qa.urbanwildlife.biz/inbox"
    );
    assert_eq!(
        mastodon.public_key.as_ref().map(|k| k.owner.as_str()),
        Some(mastodon.id.as_str())
    );
    assert_eq!(
        mastodon.icon.as_ref().and_then(|i| i.media_type.as_deref()),
        Some("image/png")
    );

    // PeerTube lists several avatar sizes.
    let peertube: Actor = serde_json::from_value(fixture("peertube/objects/person.json")).unwrap();
    assert!(peertube.icon.is_some());

    // WordPress's blog actor: a Group with attributionDomains.
    let wordpress: Actor = serde_json::from_value(fixture("wordpress/objects/group.json")).unwrap();
    assert_eq!(wordpress.kind, ActorType::Group);
    assert_eq!(wordpress.attribution_domains, vec!["dbzer0.com".to_owned()]);
    assert_eq!(wordpress.tag.len(), 10);

    let friendica: Actor =
        serde_json::from_value(fixture("friendica/objects/person_2.json")).unwrap();
    assert_eq!(friendica.kind, ActorType::Organization);
}

#[test]
fn the_fields_gloss_relies_on_are_read_from_real_notes() {
    let mastodon: Note = serde_json::from_value(fixture("mastodon/objects/note_1.json")).unwrap();
    assert_eq!(mastodon.kind, NoteType::Note);
    assert!(mastodon.is_public());
    assert_eq!(
        mastodon.in_reply_to.as_deref(),
        Some("https://mamot.fr/users/retiolus/statuses/107224244380204526")
    );
    assert_eq!(
        mastodon.replies.as_deref(),
        Some("https://mastodon.madrid/users/felix/statuses/107224289116410645/replies"),
        "an embedded replies collection reads as its id"
    );
    assert!(
        mastodon
            .content_map
            .as_ref()
            .is_some_and(|m| m.contains_key("en"))
    );

    // Lotide addresses with single values.
    let lotide: Note = serde_json::from_value(fixture("lotide/objects/note.json")).unwrap();
    assert_eq!(lotide.to.len(), 1);

    // WordPress's Article has a title and a list of tags.
    let page = fixture("wordpress/objects/page.json");
    let article: Note = serde_json::from_value(page).unwrap();
    assert_eq!(article.kind, NoteType::Article);
    assert!(article.is_public());
    assert!(article.url.is_some());
}

#[test]
fn a_mastodon_featured_collection_parses_with_its_notes() {
    let featured: OrderedCollection<Note> =
        serde_json::from_value(fixture("mastodon/collections/featured.json")).unwrap();
    assert!(
        featured
            .ordered_items
            .is_some_and(|items| !items.is_empty())
    );
    let outbox: OrderedCollection =
        serde_json::from_value(fixture("lemmy/collections/person_outbox.json")).unwrap();
    assert!(outbox.id.is_some());
}

#[test]
fn our_own_documents_round_trip() {
    use gloss_federation::{actors, notes, urls::Urls};
    use gloss_storage::{
        Author, AuthorId, BlogSettings, Post, PostId, PostOrigin, PostStatus, Tag,
    };
    let urls = Urls::new(&url::Url::parse("https://blog.example.org").unwrap());
    let author = Author {
        id: AuthorId(1),
        username: "ann".to_owned(),
        display_name: "Ann".to_owned(),
        bio: "Hello".to_owned(),
        avatar_url: Some("https://cdn.example/a.webp".to_owned()),
        is_admin: true,
        created_at: chrono::Utc::now(),
    };
    let value = actors::author_actor(&author, &BlogSettings::default(), "PEM", &urls);
    let parsed: Actor = serde_json::from_value(value.clone()).unwrap();
    let mut again = serde_json::to_value(&parsed).unwrap();
    again["@context"] = value["@context"].clone();
    assert_eq!(again, value);

    let post = Post {
        id: PostId(1),
        author_id: author.id,
        title: "T".to_owned(),
        slug: "t".to_owned(),
        source: String::new(),
        content_html: "<p>x <img src=\"/a.png\" alt=\"A\"></p>".to_owned(),
        summary: None,
        tags: vec![Tag {
            slug: "rust".to_owned(),
            name: "Rust".to_owned(),
        }],
        status: PostStatus::Published,
        origin: PostOrigin::Local,
        comments_open: true,
        published_at: chrono::DateTime::parse_from_rfc3339("2024-01-01T00:00:00Z")
            .unwrap()
            .into(),
        updated_at: None,
        created_at: chrono::Utc::now(),
    };
    let value = notes::post_to_note(&post, &author, &BlogSettings::default(), &urls);
    let parsed: Note = serde_json::from_value(value.clone()).unwrap();
    assert_eq!(parsed.to, vec![PUBLIC.to_owned()]);
    let mut again = serde_json::to_value(&parsed).unwrap();
    again["@context"] = value["@context"].clone();
    assert_eq!(again, value);
}
