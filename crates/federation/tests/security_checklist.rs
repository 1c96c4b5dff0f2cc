#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Items S1-S14, F1-F8, Q1-Q9, C1-C13, P1-P13 and M1-M7 of
//! `../shared/security-checklist.md`: where each one is shown, and the tests that were
//! missing (those of C, P and M are in tests/checklist_comments.rs and
//! crates/web/tests/checklist_content.rs). One line per item: ID → test(s) → notes.
//! Paths are relative to `crates/federation/` unless they say otherwise; `sc` is this
//! file; `{sqlite,postgres}` means one test per engine.
//!
//! # S: signatures and identity
//! - S1 → sc::s1_every_inbox_answers_401_request_not_signed_without_side_effects;
//!   tests/inbox.rs::s1_an_unsigned_post_is_refused_without_fetching_anything;
//!   tests/signatures.rs::s1_a_request_without_signature_is_not_signed → all four inbox
//!   routes answer 401 with the body `Request not signed`; no GET reaches the sender's
//!   server; no actor, follower, delivery or received-activity id is written.
//! - S2 → sc::s2_a_post_without_a_signed_digest_gets_401;
//!   tests/signatures.rs::s2_a_post_must_sign_its_digest,
//!   rfc_9421_requirements_are_enforced → `digest` missing from `headers=`, the `Digest`
//!   header absent, or both: 401 `Required component not signed or absent: digest`, before
//!   any key fetch.
//! - S3 → tests/inbox.rs::s3_a_body_changed_after_signing_is_refused;
//!   tests/signatures.rs::s3_a_modified_body_is_an_invalid_digest,
//!   rfc_9421_body_tampering_is_a_bad_digest → 401 `Invalid Digest`, no key fetch,
//!   nothing queued; replacing the Digest as well breaks the signature.
//! - S4 → sc::s4_a_signature_replayed_to_another_path_query_or_method_gets_401;
//!   tests/inbox.rs::s4_a_signature_for_another_inbox_is_refused;
//!   tests/signatures.rs::s4_path_query_and_method_are_bound → a signature for
//!   `/blog/inbox` replayed to `/inbox`, to an author's inbox or with a query: 401, nothing
//!   written (the original request then succeeds). Behaviour choice: a changed method never
//!   reaches the verifier, because the inbox routes take only POST (the router answers
//!   405 and nothing is written); that the signature binds the method is the unit test's.
//! - S5 → sc::s5_a_request_signed_for_another_host_gets_401;
//!   tests/signatures.rs::s5_the_signed_host_must_be_ours,
//!   s5_host_spelling_variants_of_ours_are_accepted,
//!   rfc_9421_signed_for_another_server_does_not_verify_here → a delivery signed for
//!   evil.example replayed to us (with its Host, or ours substituted) and a signature that
//!   does not cover `host`: 401; the first and the last are refused before any key fetch.
//! - S6 → sc::s6_a_date_outside_the_window_or_unparsable_gets_401_with_the_reason;
//!   tests/signatures.rs::s6_dates_are_checked_against_the_window,
//!   s6_a_date_that_is_not_signed_does_not_count;
//!   src/signatures/mod.rs::tests::the_time_window_is_twelve_hours_plus_skew_back_and_skew_ahead
//!   → 401 whose body gives the reason. Behaviour choice: Mastodon's window, 12 h old plus
//!   1 h skew, at most 1 h ahead (`MAX_SIGNATURE_AGE`, `DEFAULT_MAX_SKEW`, documented in
//!   src/signatures/mod.rs "Time window"); replays inside it are deduplicated (S7).
//! - S7 → tests/inbox.rs::s7_a_replayed_request_is_handled_once; crates/storage
//!   tests/federation.rs::{sqlite,postgres}_received_activities_are_handled_once → the
//!   second identical request gets 202 `Already received`: one follower, one Accept queued.
//! - S8 → tests/inbox.rs::s8_an_activity_whose_actor_is_not_the_signer_is_refused;
//!   sc::s13_an_embedded_actor_document_is_never_trusted (the forwarded case) → 401 and
//!   nothing queued: the actor is compared with the verified signer before any handler
//!   runs.
//! - S9 → sc::s9_a_key_document_naming_a_victim_as_owner_is_refused;
//!   src/remote_actors.rs::tests::an_actor_from_another_host_is_refused,
//!   a_key_owned_by_someone_else_is_refused → a key document on an evil host with
//!   `owner: victim` (the victim is not even fetched), an evil actor whose `publicKey.owner`
//!   is the victim, and a key document on the victim's host whose owner lists another key
//!   id: 401, no follower. Control: a GoToSocial-style key document whose owner lists that
//!   exact key id is accepted. (src/remote_actors.rs now compares the key document's and
//!   the owner's origins, port included, not only host names.)
//! - S10 → tests/inbox.rs::s10_an_activity_id_on_another_host_is_refused → 400 ("reject":
//!   a 4xx), nothing written.
//! - S11 → sc::s11_bad_signatures_in_an_actors_name_force_at_most_one_refetch;
//!   tests/inbox.rs::s11_a_rotated_key_is_refetched_once;
//!   tests/signatures.rs::a_key_rotation_is_followed_at_most_once_per_interval;
//!   src/signatures/refetch.rs::tests → a rotated key is followed with one refetch; at most
//!   one refetch per actor per 5 minutes (`REFETCH_INTERVAL`), also through key ids that
//!   merely point near the actor (`{actor}?n=1#main-key`; this needed a fix in
//!   src/remote_actors.rs). Behaviour choice: an attacker's bad signatures use up that
//!   refetch, so a genuine rotation inside the same 5 minutes gets 401 once and passes on
//!   the sender's retry (Mastodon retries 401).
//! - S12 → tests/inbox.rs::s12_the_delete_of_a_gone_actor_is_accepted_without_a_fetch_storm
//!   → 202, the actor tombstoned (`deleted_at`) and removed from every follower list, no
//!   further fetch (stored tombstone plus negative cache). Hiding or removing the actor's
//!   comments comes with comments (issue 4): there are no remote comments yet.
//! - S13 → sc::s13_an_embedded_actor_document_is_never_trusted;
//!   tests/inbox.rs::an_update_of_the_actor_refetches_it_from_its_origin → Update(Person)
//!   embedding a forged document (another key, inbox and name): the stored actor is the
//!   origin's document; a forwarded activity carrying an LD `signature`, HTTP-signed by a
//!   third server, is refused (401) and changes nothing. Forwarded Create/Update(Note)
//!   with embedded Notes (refetch the Note from its origin) come with comments (issue 4);
//!   today they are refused by the same signer check.
//! - S14 → sc::s14_malformed_signature_headers_get_401_without_a_fetch;
//!   tests/signatures.rs::s14_malformed_signature_headers_get_clean_errors,
//!   s14_malformed_rfc_9421_headers_get_clean_errors and the proptests
//!   arbitrary_signature_headers_never_panic, signature_like_text_never_panics,
//!   signature_input_like_text_never_panics, corrupted_valid_headers_never_panic →
//!   unbalanced quotes, a 64 KB header (refused unread over 8 KB), an unknown algorithm,
//!   a non-base64 signature, a key id that is not a URL: 401 with the parse error, no key
//!   fetch, no panic. Behaviour choice: a key id without `#` that is an http(s) URL is
//!   accepted (GoToSocial's `.../main-key`; its owner must list it, S9). No cargo-fuzz
//!   target yet: the proptests stand in.
//!
//! # F: object fetching
//! - F1 → sc::f1_an_actor_document_whose_id_is_not_its_url_gets_401_and_nothing_stored;
//!   tests/http_client.rs::a_document_whose_id_is_not_its_url_is_refused → through the
//!   inbox: 401 and nothing stored under the URL that served the document. Behaviour
//!   choice: one refetch from the document's `id` when it is on the same host (the real
//!   actor is then stored, from its own id), never across hosts.
//! - F2 → sc::f2_an_actor_document_with_a_wrong_content_type_gets_401_and_nothing_stored;
//!   tests/http_client.rs::only_activitystreams_media_types_are_accepted →
//!   `application/json`, `text/html`, no Content-Type: 401, nothing stored.
//! - F3 → tests/http_client.rs::is_global_address_refuses_every_special_purpose_range,
//!   check_url_blocks_private_ip_literals_in_every_spelling,
//!   loopback_is_refused_without_opening_a_connection,
//!   status_codes_map_to_errors_without_echoing_the_body;
//!   sc::f3_f6_key_ids_on_private_or_malformed_urls_are_refused_without_a_connection →
//!   every listed range refused; no TCP connection is accepted; errors carry no response
//!   data.
//! - F4 → tests/http_client.rs::a_public_name_that_rebinds_to_private_addresses_is_refused_at_connect_time
//!   → the resolver-level filter refuses at connect time, asking DNS again per connection.
//! - F5 → tests/http_client.rs::a_redirect_hop_is_checked_like_a_first_request,
//!   one_redirect_is_followed_and_the_final_url_must_be_the_id,
//!   a_second_redirect_or_a_loop_is_refused,
//!   a_redirect_to_another_scheme_or_with_userinfo_is_refused,
//!   a_client_that_refuses_redirects_hands_the_3xx_back → each hop validated, at most one.
//!   Gloss makes no outbound WebFinger request in issue 3 (it only serves WebFinger); the
//!   client option `refuse_redirects` is there for when it does.
//! - F6 → tests/http_client.rs::check_url_refuses_public_ip_literals_userinfo_and_other_schemes,
//!   check_url_blocks_private_ip_literals_in_every_spelling (`LOCALHOST.`),
//!   check_url_accepts_plain_https_domains; sc::f3_f6_key_ids_on_private_or_malformed_urls_are_refused_without_a_connection
//!   → userinfo, IP literals and `http:` refused before any connection. Behaviour choices:
//!   explicit ports are allowed (the guard judges the resolved address whatever the port,
//!   and real peers run on :8443); there is no domain blocklist in issue 3, but host names
//!   are lower-cased and stripped of the trailing dot (url crate, `check_url`) before any
//!   check, so a blocklist added later sees `blocked.example` for `Blocked.EXAMPLE.`.
//! - F7 → tests/http_client.rs::a_dripping_server_is_cut_off_at_the_total_deadline → the
//!   total deadline (`DEFAULT_REQUEST_TIMEOUT` 20 s, shortened in the test) includes the
//!   body; the call returns `Timeout`, so the caller's slot is free.
//! - F8 → tests/http_client.rs::bodies_over_the_limit_are_refused_with_or_without_content_length,
//!   gzip_bodies_are_decompressed_and_counted_after_decompression → stopped at 1 MB counted
//!   after decompression, with an honest, lying or absent Content-Length. Memory is bounded
//!   by construction (the read stops at the limit); RSS is not measured.
//!
//! # Q: delivery faults
//! - Q1 → sc::q1_network_errors_are_retried_with_backoff_{sqlite,postgres};
//!   tests/delivery.rs::a_server_error_is_retried_later_with_backoff;
//!   src/delivery.rs::tests::retries_cover_at_least_three_days,
//!   jitter_stays_within_twenty_percent → 5xx, connection refused and connection reset
//!   are retried after at least 48 s (1 min ± 20 %, doubling, 12 h cap), for ≥ 3 days.
//! - Q2 → tests/delivery.rs::retry_after_is_honoured;
//!   src/delivery.rs::tests::retry_after_reads_seconds_and_dates_and_is_capped,
//!   retry_after_is_honoured_when_longer_than_the_backoff → seconds or HTTP-date, capped
//!   at 6 h.
//! - Q3 → sc::q3_unsalvageable_statuses_are_final_after_one_attempt_{sqlite,postgres};
//!   tests/delivery.rs::a_client_error_is_final,
//!   a_gone_inbox_fails_the_delivery_and_removes_its_followers;
//!   src/delivery.rs::tests::statuses_are_classified_like_mastodon → 400, 403, 404, 410,
//!   422 and 501 are final after one attempt; 410 removes the followers behind the inbox.
//! - Q4 → sc::q4_a_401_from_an_inbox_is_retried_{sqlite,postgres};
//!   src/delivery.rs::tests::statuses_are_classified_like_mastodon → a 401 leaves the
//!   delivery pending with a later attempt, which succeeds.
//! - Q5 → tests/delivery.rs::a_slow_host_does_not_hold_up_another; crates/storage
//!   tests/federation.rs::{sqlite,postgres}_claims_respect_the_per_host_cap,
//!   {sqlite,postgres}_concurrent_claims_keep_the_per_host_cap → per-host cap (4 in flight,
//!   across processes); other hosts are served meanwhile. Behaviour choice: no Stoplight-
//!   style 60 s breaker per inbox; a failing host is held back by the per-delivery
//!   exponential backoff, the per-host cap and, after days, the unreachable mark (Q6).
//! - Q6 → sc::q6_a_host_failing_for_days_is_probed_rarely_until_it_contacts_us_{sqlite,postgres};
//!   crates/storage tests/federation.rs::{sqlite,postgres}_unreachable_hosts_are_skipped_and_probed
//!   → the worker marks the host unreachable, its deliveries wait for the next probe, and a
//!   signed inbox request from the host clears the mark and makes them due at once.
//!   Behaviour choices: marked after failing without a success for more than 2 days
//!   (`UNREACHABLE_AFTER`) rather than on 7 distinct days; new activities are still queued
//!   and wait (one probe per 6 h, `UNREACHABLE_HOST_PROBE_INTERVAL`) instead of not being
//!   queued, so nothing is lost when the host comes back.
//! - Q7 → sc::q7_a_new_worker_delivers_what_a_killed_one_left_{sqlite,postgres};
//!   tests/tests/federation_crash.rs (workspace root)::a_crash_in_the_middle_of_the_fan_out_loses_nothing_on_{sqlite,postgres}
//!   (the `kill -9` end-to-end test, by another engineer); crates/storage
//!   tests/federation.rs::{sqlite,postgres}_claimed_deliveries_are_leased_until_the_lease_runs_out
//!   → 0 lost, at-least-once (duplicates only for sends in flight at the kill).
//! - Q8 → sc::q8_in_flight_sends_finish_and_the_rest_stays_queued_{sqlite,postgres},
//!   sc::q8_a_send_outlasting_the_grace_period_is_sent_again_later_{sqlite,postgres};
//!   tests/delivery.rs::the_worker_stops_on_shutdown; crates/gloss
//!   tests/cli.rs::serve_logs_the_setup_link_answers_and_stops_on_sigterm (SIGTERM → exit
//!   0) → no new claim after the signal (src/delivery.rs now reads the signal before every
//!   claim, so a send finishing at the same moment cannot start a new batch), in-flight sends
//!   finish within `DeliverySettings::shutdown_grace` (10 s; the HTTP server's is 20 s), the
//!   rest stays queued and claimable; a send cut off at the grace period is sent again
//!   once its lease runs out.
//! - Q9 → sc::q9_each_attempt_is_signed_with_a_fresh_date_{sqlite,postgres} → two attempts
//!   of one delivery carry different `Date` and `Signature` headers, the second later, and
//!   both verify with the sender's key.
//!
//! # C: content
//! Here `cc` is tests/checklist_comments.rs, `ci` tests/comments_intake.rs and `web/x`
//! crates/web/tests/x.rs; the `cc`, `ci` and web checklist_content tests run once per
//! engine (`{sqlite,postgres}_` prefix), the other web tests on SQLite.
//! - C1 → src/content.rs::tests::comment_html_neutralizes_the_c1_vectors;
//!   ci::hostile_content_is_sanitized_before_it_is_stored → `<script>`, `onerror`,
//!   `onload`, `<iframe>`, `<style>`, `javascript:` (any case, entity-encoded colon),
//!   `data:` removed; ` https://…` (leading space) kept; every kept link gets
//!   `rel="nofollow noopener noreferrer ugc"`; the same through the signed inbox.
//! - C2 → src/content.rs::tests::comment_html_survives_the_c2_mutation_vectors and the
//!   proptest sanitizing_is_idempotent_and_leaves_nothing_active; ci::hostile_content_is_sanitized_before_it_is_stored
//!   → the mXSS vectors (math/mglyph/style, svg foreignObject, noscript title,
//!   annotation-xml) are safe after re-parsing with html5ever, and clean(clean(x)) ==
//!   clean(x), also for arbitrary mixes of the vectors.
//! - C3 → cc::c3_c4_escaped_text_and_markup_in_plain_fields_are_stored_as_text;
//!   web/checklist_content::c3_c4_plain_text_is_escaped_on_the_page_in_the_feed_and_in_the_admin;
//!   src/content.rs::tests::plain_text_keeps_markup_as_text_and_drops_controls →
//!   `&lt;script&gt;` in an actor's `name`, an Article's `name`, a `summary` or an
//!   attachment's `name` is stored as that text, never decoded; pages and the admin UI
//!   escape it once more (the reader sees `&lt;script&gt;`), the Atom feed carries it
//!   exactly, and escaped text inside HTML `content` stays escaped. Gloss shows no link
//!   preview titles (no previews are fetched).
//! - C4 → cc::c3_c4_escaped_text_and_markup_in_plain_fields_are_stored_as_text;
//!   web/checklist_content::c3_c4_plain_text_is_escaped_on_the_page_in_the_feed_and_in_the_admin;
//!   web/pages::hostile_commenter_names_and_urls_are_escaped (attributes);
//!   web/comments_display::hostile_content_warnings_and_descriptions_are_escaped;
//!   web/feeds::hostile_text_is_escaped_and_the_feed_still_parses;
//!   web/moderation::hostile_remote_text_is_escaped_in_the_admin → display name,
//!   username (shown as the handle in the admin UI), attachment name and content warning
//!   are escaped in the page body and in attributes (`href`, `src`, `alt`), in Atom and in
//!   the admin queue, comment page and list; a hashtag's markup is sanitized with the
//!   content, and the `tag` array's names are never shown. Behaviour choice: Gloss has no
//!   `<script type=application/json>` context and sends no email, so those contexts do
//!   not exist.
//! - C5 → src/content.rs::tests::huge_and_deeply_nested_comment_html_is_cut_before_sanitizing;
//!   ci::hostile_content_is_sanitized_before_it_is_stored → `<b>` × 100 000 and 5 MB of
//!   content are cut to 64 KB (`MAX_COMMENT_INPUT`) before parsing, output ≤ 64 KB and
//!   idempotent; the inbox path stores ≤ 64 KB. The time budget is the input cap (no
//!   timing is asserted); templates print the sanitized HTML flat, without recursion.
//! - C6 → cc::c6_json_nested_10000_deep_gets_400_and_nothing_is_stored;
//!   src/protocol/activities.rs::tests::deeply_nested_json_is_refused → unsigned: 401
//!   before the body is parsed (the signature is verified first, see src/inbox.rs);
//!   signed: `[[[…]]]` 10 000 deep, or nested inside a valid Create, gets 400 `Invalid
//!   JSON (line, column)` from serde_json's recursion limit (never `unbounded_depth`); a
//!   fetched Note nested as deep is dropped (202); nothing stored, no crash.
//! - C7 → cc::c7_huge_recipient_tag_and_attachment_lists_stay_bounded → 100 000 `cc`
//!   entries (compact, within 1 MB): accepted, visibility read correctly; 10 000 Mention
//!   tags: accepted, none fetched, none stored; 1 000 attachments: the first 4 kept
//!   (`MAX_COMMENT_ATTACHMENTS`); 200 000 entries (2.4 MB): 413 before verification.
//!   Behaviour choice: arrays are bounded by the 1 MB body limit and read once; nothing
//!   of `to`/`cc`/`tag` is stored beyond the visibility and ≤ 50 emoji shortcodes, and
//!   recipients are not truncated (a cap could drop `Public` and mis-file a public reply).
//! - C8 → ci::hostile_content_is_sanitized_before_it_is_stored (NUL in content, summary
//!   and alt text stripped, on PostgreSQL too: no 500);
//!   web/checklist_content::c3_c4_plain_text_is_escaped_on_the_page_in_the_feed_and_in_the_admin
//!   and web/comments_display::hostile_content_warnings_and_descriptions_are_escaped
//!   (names, warnings and descriptions inside `<bdi>`, U+202E included);
//!   src/content.rs::tests::plain_text_keeps_markup_as_text_and_drops_controls.
//!   Behaviour choices: zero-width characters are kept (isolated like any text); hosts
//!   are kept in punycode by construction (the url crate, and `block_domain`: crates/storage
//!   src/discussion_model.rs tests), so an IDN host is shown as `xn--…`.
//! - C9 → cc::c9_invalid_utf8_lone_surrogates_and_a_bom_get_400 → invalid UTF-8, a
//!   surrogate encoded as UTF-8, `\ud800`, `\udc00`, `\ud800\u0041` in a field Gloss
//!   reads, and a leading BOM: 400, nothing stored; the same activity well-formed is then
//!   received. Behaviour choice: a lone surrogate in a field Gloss never reads is skipped
//!   unread by serde_json (202; JavaScript servers emit them), and nothing of it is kept.
//! - C10 → cc::c10_type_confusion_through_the_inbox_is_lenient_or_400_never_500;
//!   tests/fixtures_corpus.rs::every_corpus_activity_is_answered_202_and_replies_to_our_post_are_stored;
//!   tests/protocol_fixtures.rs::every_note_like_object_in_the_corpus_parses,
//!   every_actor_in_the_corpus_parses; src/protocol/note.rs::tests::content_falls_back_to_the_content_map
//!   → through the inbox, `content` as an array or a map, only `contentMap`, `to` as a
//!   string, a garbage `published` and `actor` as an object are read leniently and
//!   stored; `id: null` (object or activity): 400 or ignored; never a 500.
//! - C11 → cc::c11_unsupported_schemes_and_relative_links_are_dropped;
//!   src/content.rs::tests::comment_html_neutralizes_the_c1_vectors,
//!   attachments_are_http_links_with_plain_descriptions;
//!   web/comments_display::attachments_are_links_with_their_alt_text_never_inline_images
//!   → `mailto:`, `ftp:`, `/relative`, `../up`, `//evil` hrefs dropped (their text kept),
//!   only the https link keeps an `href`; such attachment URLs dropped; `<img>` removed.
//!   Behaviour choice: relative URLs are dropped, not resolved; remote media are shown as
//!   links, never inline (no proxy).
//! - C12 → web/checklist_content::c12_login_redirects_only_to_local_paths;
//!   web/admin::login_comes_back_to_next_but_never_to_another_site → the admin login's
//!   `next` (the only redirect target a request chooses) goes to `/admin` for `//`,
//!   `///`, absolute and scheme-only URLs, backslash and control-character tricks;
//!   local paths (percent-encoded slashes included) resolve to our origin.
//!   web/interact::only_our_own_objects_can_be_interacted_with,
//!   templates_with_other_schemes_or_hosts_are_refused,
//!   a_webfinger_answer_about_another_account_is_refused,
//!   a_link_from_another_site_only_fills_in_the_form,
//!   authorize_interaction_explains_or_leads_to_our_own_page → "reply from your
//!   instance" redirects only to the subscribe template the reader's own server gave
//!   (https, on the host typed), only for our own objects; a link from another site
//!   fills in the form and redirects nowhere; `/authorize_interaction` redirects only
//!   to our own paths.
//! - C13 → web/checklist_content::c13_every_response_carries_a_strict_content_security_policy,
//!   the_csp_check_refuses_weaker_policies → pages, feeds, the stylesheet, 404s and the
//!   admin UI (logged out and in) carry a CSP with `default-src 'self'`, `script-src
//!   'self'`, `object-src 'none'`, `base-uri 'none'`, `frame-ancestors 'none'`, no
//!   `unsafe-inline`/`unsafe-eval` anywhere (crates/web/src/security.rs; it also sets
//!   `img-src 'self' https: data:`, `style-src 'self'`, `form-action 'self'`); our own
//!   pages carry no `<script>`.
//!
//! # P: protocol abuse
//! - P1 → ci::an_update_by_the_author_edits_and_keeps_the_revision → mallory (same host)
//!   editing alice's comment, with or without claiming her as `attributedTo`: dropped
//!   (202), comment unchanged, a `warn` log line (not asserted).
//! - P2 → ci::remote_updates_and_deletes_of_our_post_are_refused,
//!   a_delete_leaves_a_tombstone_that_a_replayed_create_cannot_pass;
//!   cc::p2_remote_updates_and_deletes_of_our_actors_are_refused → Update/Delete/Create
//!   of our post, Update/Delete of the blog or an author actor, Delete of another actor's
//!   comment: dropped; nothing changed, no tombstone for our ids, nothing fetched.
//! - P3 → ci::an_object_the_sender_may_not_vouch_for_is_refetched_or_dropped → an object
//!   attributed to someone else or on another host is refetched from its origin (the
//!   origin's copy wins, under its real author) or dropped when the origin lacks it.
//! - P4 → ci::an_update_before_the_create_is_taken_from_the_origin → stored as a Create
//!   from the origin's copy, never the embedded one.
//! - P5 → ci::a_delete_before_the_create_keeps_the_object_out,
//!   a_delete_leaves_a_tombstone_that_a_replayed_create_cannot_pass → tombstone kept
//!   (permanently); later Create/Update refused.
//! - P6 → ci::a_reply_to_a_post_is_published_when_moderation_is_open;
//!   cc::p6_one_activity_through_every_inbox_is_one_comment; tests/inbox.rs::s7_a_replayed_request_is_handled_once
//!   → the same activity twice, the same object under another activity id, and one
//!   activity to the shared, blog, author and instance inboxes: one comment, decided once.
//! - P7 → ci::likes_and_boosts_are_counted_and_undone_only_by_their_actor → Undo of
//!   another actor's Like (embedded, by id, or re-attributed): dropped, counts unchanged.
//! - P8 → ci::followers_only_and_direct_replies_are_kept_private;
//!   web/comments_display::followers_only_and_direct_replies_are_never_shown_or_counted
//!   → followers-only and direct replies held privately (admin only), never in pages,
//!   feeds, counts or the replies collection; `Public`, `as:Public` recognized.
//! - P9 → ci::replies_to_closed_or_missing_posts_are_refused,
//!   a_reply_to_a_held_comment_is_held_too;
//!   cc::p9_replies_to_deleted_or_draft_posts_and_removed_comments_are_not_published;
//!   cc::m7_an_operator_delete_or_spam_mark_survives_replays_updates_and_refetches (under a
//!   deleted comment) → closed, missing, deleted or draft posts: refused (202, nothing
//!   stored); under a held, spam or deleted comment: held.
//! - P10 → ci::in_reply_to_our_post_in_any_spelling_lands_on_the_post → `http`/`https`,
//!   trailing `/`, `?utm_source`, upper-case host, fragment: the post. (The post's HTML
//!   URL is its AP id.)
//! - P11 → cc::p11_a_move_or_alias_claiming_a_commenter_transfers_nothing → mallory's
//!   `alsoKnownAs: [alice]`, mallory's Move of alice, and even alice's own Move: 202, the
//!   comment stays alice's (author, name, content), mallory cannot edit or delete it; a
//!   Move in alice's name signed by mallory: 401. Behaviour choice: Move is ignored
//!   (Gloss follows no one, and authorship is never transferred), so the reciprocal
//!   alias check is not needed.
//! - P12 → ci::reports_are_recorded_for_the_admin_and_rate_limited;
//!   cc::p12_a_report_is_queued_and_acts_on_nothing; web/moderation::reports_are_listed_and_resolved
//!   → reports are queued for the admin (5 per reporter per hour, `FLAGS_PER_WINDOW`),
//!   their text kept as plain text; the reported comment stays shown, nobody is blocked,
//!   the post stays up. Outbound: web/moderation::an_admin_reports_a_remote_author_to_their_server_from_the_instance_actor;
//!   src/reports.rs::tests → an admin's report is a `Flag` from the instance actor (not
//!   the author), naming the account and the comment, queued in the outbox to the
//!   account's server and never published (`/activities/{id}` answers 404).
//! - P13 → ci::likes_and_boosts_are_counted_and_undone_only_by_their_actor → an Announce
//!   embedding a forged copy counts by id only; the stored comment is unchanged and
//!   nothing is fetched (a boost needs no content).
//!
//! # M: spam and moderation
//! - M1 → ci::first_time_moderation_holds_a_first_reply_until_approved;
//!   web/comments_display::a_held_comment_appears_nowhere_until_it_is_approved;
//!   web/moderation::the_queue_shows_held_comments_and_approving_publishes_and_logs →
//!   held with its reason, absent from the page, feeds and counts until approved; the
//!   author's next reply is published.
//! - M2 → ci::m2_new_accounts_and_bots_are_held_even_when_moderation_is_open,
//!   ci::all_moderation_and_the_link_rule_hold_replies;
//!   src/moderation.rs::tests::m2_new_accounts_and_bots_are_held_in_every_mode → an
//!   account whose `published` is less than 30 days old, or a `Service`/`Application`
//!   actor, is held in every mode (an unknown creation date is not "new"). Behaviour
//!   choice: the link rule holds more than 2 links (`links > MAX_LINKS`), as issue 4
//!   specifies, where the checklist says 2 or more.
//! - M3 → ci::a_burst_from_one_server_is_accepted_but_held → more than 30 comments per
//!   minute from one host (`BURST_LIMIT`): still 202, held; more than 10 per minute
//!   from one actor (`ACTOR_BURST_LIMIT`): held
//!   (src/moderation.rs::tests::m3_a_burst_from_one_author_is_held_in_every_mode;
//!   crates/storage tests/discussion.rs::{sqlite,postgres}_bursts_are_counted_per_domain_by_arrival).
//!   Behaviour choice: the operator's alert is the waiting count shown in every admin
//!   page's navigation ("Moderation (N waiting)"); Gloss sends no email.
//! - M4 → ci::blocked_domains_and_actors_are_refused_before_any_fetch;
//!   web/moderation::blocking_a_domain_hides_everyone_on_it_and_its_subdomains,
//!   blocking_an_author_hides_all_their_comments_until_unblocked;
//!   web/comments_display::blocked_authors_and_domains_disappear_and_come_back_when_unblocked;
//!   crates/storage tests/discussion.rs::{sqlite,postgres}_blocks_refuse_actors_and_domains_with_their_subdomains
//!   → a blocked domain gets 403 before any key fetch, a blocked actor's activities are
//!   dropped, existing comments disappear (subdomains included). Limit (silence):
//!   cc::m4_a_limited_domain_is_held_not_refused_and_hides_nothing; crates/storage
//!   tests/discussion.rs::{sqlite,postgres}_domain_limits_hold_nothing_back_by_themselves
//!   → a limited domain's new comments are held with the reason "the author's domain is
//!   limited", earlier ones stay shown, nothing is refused; lifting it publishes again.
//! - M5 → ci::m5_a_disallowed_keyword_marks_a_reply_spam_until_approved;
//!   web/local_comments::m5_a_keyword_marks_a_reader_comment_spam → a keyword from the
//!   blog's list (Settings → Discussion) in the text, content warning, name or handle
//!   marks the comment spam with the keyword as its reason: kept for audit, never
//!   public, restored by approving it.
//! - M6 → ci::an_update_by_the_author_edits_and_keeps_the_revision,
//!   ci::m6_an_approved_reply_edited_to_carry_a_keyword_becomes_spam → an approved
//!   comment edited to 3 links is held again, one edited to carry a keyword becomes
//!   spam; earlier versions kept.
//! - M7 → cc::m7_an_operator_delete_or_spam_mark_survives_replays_updates_and_refetches
//!   → after the operator marks one comment spam, rejects (hides) another and deletes a
//!   third: the replayed Create, the object in a new Create and a newer Update by its
//!   author change none of these states (the operator's decision stays the last in the
//!   log), nothing is public, and a reply under the deleted comment fetches nothing and
//!   does not bring it back. Behaviour choice: the local state (the row with `deleted_at`,
//!   the spam or hidden mark) is the tombstone; nothing is federated for the operator's
//!   decisions (they concern someone else's object).

use activitypub_federation::http_signatures::{Keypair, generate_actor_keypair};
use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, Request, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use chrono::{TimeDelta, Utc};
use gloss_federation::context::{Federation, FederationSettings};
use gloss_federation::delivery::{DeliverySettings, DeliveryWorker};
use gloss_federation::http_client::{HttpClientSettings, build_client};
use gloss_federation::inbox;
use gloss_federation::signatures::{
    DEFAULT_MAX_SKEW, SigningKey, VerifyingKey, parse_request, sign_request,
};
use gloss_storage::{
    ActorKey, DeliveryOutcome, DeliveryState, DeliveryStatus, FollowState, LocalActor, NewAuthor,
    OutgoingActivity, Post, PostDraft, PostOrigin, PostStatus, Store, delivery_host,
};
use ring::rand::SystemRandom;
use ring::signature::{RSA_PKCS1_SHA256, RsaKeyPair};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant, SystemTime};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tower::ServiceExt;
use url::Url;

/// Our public URL (inbox requests go straight to the router).
const OUR_BASE: &str = "http://blog.test";

// ---------------------------------------------------------------------------------------
// Keys: RSA generation is slow unoptimized, so a few keys serve the whole binary.
// ---------------------------------------------------------------------------------------

const ALICE: usize = 0;
const MALLORY: usize = 1;
const ROTATED: usize = 2;
const INSTANCE: usize = 3;
const BLOG: usize = 4;

fn keys() -> &'static [Keypair] {
    static KEYS: OnceLock<Vec<Keypair>> = OnceLock::new();
    KEYS.get_or_init(|| (0..5).map(|_| generate_actor_keypair().unwrap()).collect())
}

fn signing_key(index: usize) -> SigningKey {
    SigningKey::from_pkcs8_pem(&keys()[index].private_key).unwrap()
}

// ---------------------------------------------------------------------------------------
// A fake remote server on 127.0.0.1: serves documents (actors, key documents) by path and
// records every GET; records every POST (an inbox) and answers it as told.
// ---------------------------------------------------------------------------------------

/// How an inbox of the fake server answers POSTs.
#[derive(Debug, Clone, Copy)]
enum Mode {
    /// Always this status.
    Status(u16),
    /// This status to the first POST, 202 to the others.
    Once(u16),
    /// Every POST waits for [`Fake::release`], then gets 202.
    Hold,
    /// The first POST waits for [`Fake::release`]; the others get 202 at once.
    HoldFirst,
}

#[derive(Debug, Clone)]
struct Document {
    content_type: Option<&'static str>,
    body: String,
}

/// One POST the fake server received.
#[derive(Debug, Clone)]
struct Posted {
    path: String,
    headers: HeaderMap,
    body: Bytes,
}

#[derive(Clone, Default)]
struct Fake {
    base: Arc<OnceLock<String>>,
    documents: Arc<Mutex<HashMap<String, Document>>>,
    /// Path and query of every GET, in order.
    gets: Arc<Mutex<Vec<String>>>,
    modes: Arc<Mutex<HashMap<String, Mode>>>,
    posts: Arc<Mutex<Vec<Posted>>>,
    released: Arc<AtomicBool>,
}

impl Fake {
    fn base(&self) -> &str {
        self.base.get().unwrap()
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base())
    }

    fn actor(&self, name: &str) -> String {
        self.url(&format!("/users/{name}"))
    }

    fn key_id(&self, name: &str) -> String {
        format!("{}#main-key", self.actor(name))
    }

    fn host(&self) -> String {
        delivery_host(self.base()).unwrap()
    }

    fn put(&self, path: &str, content_type: Option<&'static str>, body: &Value) {
        self.documents.lock().unwrap().insert(
            path.to_owned(),
            Document {
                content_type,
                body: body.to_string(),
            },
        );
    }

    /// An actor document at `/users/{name}` with `key` as its `#main-key`.
    fn actor_document(&self, name: &str, key: usize) -> Value {
        let id = self.actor(name);
        json!({
            "@context": ["https://www.w3.org/ns/activitystreams", "https://w3id.org/security/v1"],
            "id": id,
            "type": "Person",
            "preferredUsername": name,
            "name": format!("{name} display"),
            "inbox": format!("{id}/inbox"),
            "publicKey": {"id": format!("{id}#main-key"), "owner": id,
                          "publicKeyPem": keys()[key].public_key},
        })
    }

    fn add_actor(&self, name: &str, key: usize) {
        let document = self.actor_document(name, key);
        self.put(
            &format!("/users/{name}"),
            Some("application/activity+json"),
            &document,
        );
    }

    fn set_mode(&self, path: &str, mode: Mode) {
        self.modes.lock().unwrap().insert(path.to_owned(), mode);
    }

    fn release(&self) {
        self.released.store(true, Ordering::SeqCst);
    }

    /// How many GETs asked for exactly `path_and_query`.
    fn gets_of(&self, path_and_query: &str) -> usize {
        self.gets
            .lock()
            .unwrap()
            .iter()
            .filter(|seen| *seen == path_and_query)
            .count()
    }

    fn all_gets(&self) -> usize {
        self.gets.lock().unwrap().len()
    }

    fn posts(&self) -> Vec<Posted> {
        self.posts.lock().unwrap().clone()
    }

    fn posts_to(&self, path: &str) -> Vec<Posted> {
        self.posts()
            .into_iter()
            .filter(|posted| posted.path == path)
            .collect()
    }
}

async fn fake_handler(
    State(fake): State<Fake>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = uri.path().to_owned();
    if method == Method::GET {
        let seen = uri
            .path_and_query()
            .map_or_else(|| path.clone(), |pq| pq.as_str().to_owned());
        fake.gets.lock().unwrap().push(seen);
        let Some(document) = fake.documents.lock().unwrap().get(&path).cloned() else {
            return StatusCode::NOT_FOUND.into_response();
        };
        let mut response = document.body.into_response();
        response.headers_mut().remove(header::CONTENT_TYPE);
        if let Some(content_type) = document.content_type {
            response
                .headers_mut()
                .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
        }
        return response;
    }
    let earlier = {
        let mut posts = fake.posts.lock().unwrap();
        let earlier = posts.iter().filter(|posted| posted.path == path).count();
        posts.push(Posted {
            path: path.clone(),
            headers,
            body,
        });
        earlier
    };
    let mode = fake
        .modes
        .lock()
        .unwrap()
        .get(&path)
        .copied()
        .unwrap_or(Mode::Status(202));
    let wait_for_release = || async {
        let deadline = Instant::now() + Duration::from_secs(30);
        while !fake.released.load(Ordering::SeqCst) && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    };
    let status = match mode {
        Mode::Status(status) => status,
        Mode::Once(status) if earlier == 0 => status,
        Mode::Once(_) => 202,
        Mode::Hold => {
            wait_for_release().await;
            202
        }
        Mode::HoldFirst => {
            if earlier == 0 {
                wait_for_release().await;
            }
            202
        }
    };
    StatusCode::from_u16(status).unwrap().into_response()
}

async fn spawn_fake() -> Fake {
    let fake = Fake::default();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    fake.base
        .set(format!("http://{}", listener.local_addr().unwrap()))
        .unwrap();
    let app = Router::new()
        .fallback(fake_handler)
        .with_state(fake.clone());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    fake
}

// ---------------------------------------------------------------------------------------
// Databases: SQLite always; PostgreSQL when GLOSS_TEST_POSTGRES_URL is set, one fresh
// database per test, dropped at the end.
// ---------------------------------------------------------------------------------------

#[derive(Debug, Clone, Copy)]
enum Engine {
    Sqlite,
    Postgres,
}

/// A test database that can be opened several times (a restarted process).
struct TestDb {
    url: String,
    _dir: Option<tempfile::TempDir>,
}

impl TestDb {
    async fn connect(&self) -> Arc<dyn Store> {
        gloss_storage::connect(&self.url).await.unwrap()
    }
}

/// Runs `body` on a fresh database of `engine` (or says it skipped PostgreSQL).
async fn run_on<F, Fut>(engine: Engine, body: F)
where
    F: FnOnce(Arc<TestDb>) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    match engine {
        Engine::Sqlite => {
            let dir = tempfile::tempdir().unwrap();
            let url = format!("sqlite:{}/t.db", dir.path().display());
            body(Arc::new(TestDb {
                url,
                _dir: Some(dir),
            }))
            .await;
        }
        Engine::Postgres => {
            use sqlx::{AssertSqlSafe, Connection, PgConnection};
            let Ok(admin_url) = std::env::var("GLOSS_TEST_POSTGRES_URL") else {
                println!("skipped: set GLOSS_TEST_POSTGRES_URL to run this test on PostgreSQL");
                return;
            };
            let name = format!("gloss_test_{:016x}", rand::random::<u64>());
            let mut admin = PgConnection::connect(&admin_url).await.unwrap();
            sqlx::raw_sql(AssertSqlSafe(format!("CREATE DATABASE {name}")))
                .execute(&mut admin)
                .await
                .unwrap();
            let mut url = Url::parse(&admin_url).unwrap();
            url.set_path(&format!("/{name}"));
            let db = Arc::new(TestDb {
                url: url.to_string(),
                _dir: None,
            });
            // In its own task, so that the database is dropped even when the body panics.
            let outcome = tokio::spawn(body(db)).await;
            let drop = format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)");
            if let Err(err) = sqlx::raw_sql(AssertSqlSafe(drop)).execute(&mut admin).await {
                eprintln!("could not drop test database {name}: {err}");
            }
            if let Err(err) = outcome {
                std::panic::resume_unwind(err.into_panic());
            }
        }
    }
}

/// One test body per engine.
macro_rules! on_both_engines {
    ($($body:ident => $sqlite:ident, $postgres:ident;)*) => {
        $(
            #[tokio::test]
            async fn $sqlite() {
                run_on(Engine::Sqlite, $body).await;
            }

            #[tokio::test]
            async fn $postgres() {
                run_on(Engine::Postgres, $body).await;
            }
        )*
    };
}

// ---------------------------------------------------------------------------------------
// Our side: a Gloss instance (store, federation context, inbox router).
// ---------------------------------------------------------------------------------------

struct Gloss {
    federation: Federation,
    router: Router,
    post: Post,
}

impl Gloss {
    fn store(&self) -> &dyn Store {
        self.federation.store().as_ref()
    }

    async fn send(&self, request: Request<Body>) -> (StatusCode, String) {
        let response = self.router.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
            .await
            .unwrap();
        (status, String::from_utf8_lossy(&bytes).into_owned())
    }

    /// Posts `activity` to `path`, signed with `key` under `key_id`, now.
    async fn post_signed(
        &self,
        path: &str,
        activity: &Value,
        key_id: &str,
        key: usize,
    ) -> (StatusCode, String) {
        self.send(signed_post(
            path,
            activity.to_string().into_bytes(),
            key_id,
            key,
            SystemTime::now(),
        ))
        .await
    }

    async fn follower_count(&self) -> i64 {
        let mut total = 0;
        for state in [FollowState::Accepted, FollowState::Pending] {
            total += self
                .store()
                .count_followers(LocalActor::Blog, state)
                .await
                .unwrap();
        }
        total
    }

    async fn remote_actor(&self, ap_id: &str) -> Option<gloss_storage::RemoteActor> {
        self.store().remote_actor_by_ap_id(ap_id).await.unwrap()
    }

    /// Claims every queued delivery (they are leased afterwards: call it last).
    async fn queued(&self) -> usize {
        self.store()
            .claim_deliveries(
                Utc::now() + TimeDelta::seconds(5),
                1000,
                1000,
                TimeDelta::minutes(5),
            )
            .await
            .unwrap()
            .len()
    }

    /// Nothing of `activity_id` was written: no follower, no delivery, and the id was
    /// never recorded as received. (Records the id: call it last.)
    async fn assert_nothing_written(&self, activity_id: &str) {
        assert_eq!(self.follower_count().await, 0, "no follower");
        assert_eq!(self.queued().await, 0, "nothing queued");
        assert!(
            self.store()
                .record_received_activity(activity_id, Utc::now())
                .await
                .unwrap(),
            "{activity_id} was not recorded as received"
        );
    }

    /// Every delivery of our test post.
    async fn deliveries(&self) -> Vec<DeliveryStatus> {
        self.store()
            .deliveries_for_post(self.post.id)
            .await
            .unwrap()
    }

    async fn delivery(&self, activity: &str, inbox: &str) -> DeliveryStatus {
        self.deliveries()
            .await
            .into_iter()
            .find(|d| d.activity_ap_id == activity && d.inbox == inbox)
            .unwrap_or_else(|| panic!("no delivery of {activity} to {inbox}"))
    }

    /// Queues an Announce of the test post from the blog to `inboxes`; returns its id.
    async fn enqueue(&self, name: &str, inboxes: Vec<String>) -> String {
        let id = format!("{OUR_BASE}/activities/{name}");
        let payload = json!({
            "@context": "https://www.w3.org/ns/activitystreams",
            "id": id, "type": "Announce", "actor": format!("{OUR_BASE}/blog"),
            "object": format!("{OUR_BASE}/posts/hello"),
        });
        self.store()
            .enqueue_activities(vec![OutgoingActivity {
                ap_id: id.clone(),
                actor: LocalActor::Blog,
                kind: "Announce".into(),
                object_ap_id: Some(format!("{OUR_BASE}/posts/hello")),
                post_id: Some(self.post.id),
                payload: payload.to_string(),
                to_followers_of: Vec::new(),
                extra_inboxes: inboxes,
            }])
            .await
            .unwrap();
        id
    }

    fn start_worker(&self, settings: DeliverySettings) -> Worker {
        let (stop, stopped) = watch::channel(false);
        let handle = DeliveryWorker::new(self.federation.clone())
            .with_settings(settings)
            .start(stopped);
        Worker { stop, handle }
    }
}

/// A running delivery worker.
struct Worker {
    stop: watch::Sender<bool>,
    handle: JoinHandle<()>,
}

impl Worker {
    /// Sends the shutdown signal and waits for the worker to return.
    async fn stop(self) {
        self.stop.send(true).unwrap();
        tokio::time::timeout(Duration::from_secs(15), self.handle)
            .await
            .expect("the worker stops")
            .unwrap();
    }
}

/// Worker settings for tests: a short poll, default limits.
fn worker_settings() -> DeliverySettings {
    DeliverySettings {
        poll_interval: Duration::from_millis(100),
        shutdown_grace: Duration::from_secs(10),
        ..DeliverySettings::default()
    }
}

/// Writes what every Gloss instance of these tests needs: the instance and blog keys
/// (made once per binary), an author and a published post.
async fn seed(store: &dyn Store) -> Post {
    for (actor, key) in [(LocalActor::Instance, INSTANCE), (LocalActor::Blog, BLOG)] {
        store
            .insert_actor_key_if_missing(ActorKey {
                actor,
                public_key_pem: keys()[key].public_key.clone(),
                private_key_pem: keys()[key].private_key.clone(),
                created_at: Utc::now(),
            })
            .await
            .unwrap();
    }
    let author = store
        .create_author(NewAuthor {
            username: "ana".into(),
            display_name: "Ana".into(),
            password_hash: None,
            is_admin: true,
            import_key: None,
        })
        .await
        .unwrap();
    store
        .create_post(
            PostDraft {
                author_id: author.id,
                title: "Hello".into(),
                slug: "hello".into(),
                source: "Hi".into(),
                content_html: "<p>Hi</p>".into(),
                summary: None,
                tags: vec![],
                status: PostStatus::Published,
                origin: PostOrigin::Local,
                published_at: Utc::now(),
                import_key: None,
            },
            Vec::new(),
        )
        .await
        .unwrap()
}

/// A Gloss instance over `store` (already seeded, with `post`). `allow_private` is the
/// test-network setting; without it the client refuses loopback like in production.
fn gloss_over(store: Arc<dyn Store>, post: Post, allow_private: bool) -> Gloss {
    let http = build_client(&HttpClientSettings {
        allow_private_addresses: allow_private,
        request_timeout: Some(Duration::from_secs(10)),
        ..HttpClientSettings::default()
    })
    .unwrap();
    let federation = Federation::new(
        store,
        FederationSettings {
            public_url: Url::parse(OUR_BASE).unwrap(),
            blog_handle: "blog".into(),
            allow_private_addresses: allow_private,
            extra_ca_pem: None,
        },
        http,
    );
    let router = inbox::routes::<Federation>().with_state(federation.clone());
    Gloss {
        federation,
        router,
        post,
    }
}

/// A fresh seeded Gloss instance.
async fn gloss_on(store: Arc<dyn Store>, allow_private: bool) -> Gloss {
    let post = seed(store.as_ref()).await;
    gloss_over(store, post, allow_private)
}

/// A Gloss instance on a fresh SQLite database (the tempdir lives as long as the value).
async fn gloss(allow_private: bool) -> (Gloss, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let store = gloss_storage::connect(&format!("sqlite:{}/t.db", dir.path().display()))
        .await
        .unwrap();
    (gloss_on(store, allow_private).await, dir)
}

// ---------------------------------------------------------------------------------------
// Requests
// ---------------------------------------------------------------------------------------

/// A POST to our `path`, signed by our own signer (what honest peers send).
fn signed_post(
    path: &str,
    body: Vec<u8>,
    key_id: &str,
    key: usize,
    at: SystemTime,
) -> Request<Body> {
    let url = Url::parse(&format!("{OUR_BASE}{path}")).unwrap();
    let headers = sign_request(&Method::POST, &url, &body, key_id, &signing_key(key), at).unwrap();
    request_with(path, headers, body)
}

fn request_with(
    path: &str,
    headers: Vec<(HeaderName, HeaderValue)>,
    body: Vec<u8>,
) -> Request<Body> {
    let mut builder = Request::post(path).header(header::CONTENT_TYPE, "application/activity+json");
    for (name, value) in headers {
        builder = builder.header(name, value);
    }
    builder.body(Body::from(body)).unwrap()
}

/// A draft-cavage POST signed by hand, to build what our signer never would.
struct HandSigned {
    path: String,
    body: Vec<u8>,
    headers: Vec<(String, String)>,
    covered: Vec<String>,
    key_id: String,
    key: usize,
}

impl HandSigned {
    /// Like Mastodon: `(request-target) host date digest`.
    fn post(path: &str, body: &[u8], key_id: &str, key: usize) -> Self {
        let digest = BASE64.encode(ring::digest::digest(&ring::digest::SHA256, body));
        HandSigned {
            path: path.to_owned(),
            body: body.to_vec(),
            headers: vec![
                ("host".into(), "blog.test".into()),
                ("date".into(), httpdate::fmt_http_date(SystemTime::now())),
                ("digest".into(), format!("SHA-256={digest}")),
            ],
            covered: ["(request-target)", "host", "date", "digest"]
                .map(String::from)
                .to_vec(),
            key_id: key_id.to_owned(),
            key,
        }
    }

    fn covering(mut self, covered: &[&str]) -> Self {
        self.covered = covered.iter().map(|name| (*name).to_owned()).collect();
        self
    }

    fn without_header(mut self, name: &str) -> Self {
        self.headers.retain(|(existing, _)| existing != name);
        self
    }

    fn with_header(mut self, name: &str, value: &str) -> Self {
        self.headers.retain(|(existing, _)| existing != name);
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    fn request(self) -> Request<Body> {
        let signing_string = self
            .covered
            .iter()
            .map(|name| {
                let value = match name.as_str() {
                    "(request-target)" => format!("post {}", self.path),
                    other => self
                        .headers
                        .iter()
                        .find(|(header, _)| header == other)
                        .map(|(_, value)| value.clone())
                        .unwrap_or_default(),
                };
                format!("{name}: {value}")
            })
            .collect::<Vec<_>>()
            .join("\n");
        let pem_body: String = keys()[self.key]
            .private_key
            .lines()
            .filter(|line| !line.starts_with("-----"))
            .collect();
        let pair = RsaKeyPair::from_pkcs8(&BASE64.decode(pem_body).unwrap()).unwrap();
        let mut signature = vec![0; pair.public().modulus_len()];
        pair.sign(
            &RSA_PKCS1_SHA256,
            &SystemRandom::new(),
            signing_string.as_bytes(),
            &mut signature,
        )
        .unwrap();
        let value = format!(
            "keyId=\"{}\",algorithm=\"rsa-sha256\",headers=\"{}\",signature=\"{}\"",
            self.key_id,
            self.covered.join(" "),
            BASE64.encode(signature)
        );
        let mut headers: Vec<(HeaderName, HeaderValue)> = self
            .headers
            .iter()
            .map(|(name, value)| {
                (
                    HeaderName::from_bytes(name.as_bytes()).unwrap(),
                    HeaderValue::from_str(value).unwrap(),
                )
            })
            .collect();
        headers.push((
            HeaderName::from_static("signature"),
            HeaderValue::from_str(&value).unwrap(),
        ));
        request_with(&self.path, headers, self.body)
    }
}

fn follow(fake: &Fake, n: u32, actor: &str) -> Value {
    json!({
        "@context": "https://www.w3.org/ns/activitystreams",
        "id": fake.url(&format!("/follows/{n}")),
        "type": "Follow",
        "actor": actor,
        "object": format!("{OUR_BASE}/blog"),
    })
}

fn like(fake: &Fake, n: u32, actor: &str) -> Value {
    json!({
        "@context": "https://www.w3.org/ns/activitystreams",
        "id": fake.url(&format!("/likes/{n}")),
        "type": "Like",
        "actor": actor,
        "object": format!("{OUR_BASE}/posts/hello"),
    })
}

/// Waits until `check` holds, for at most 20 s.
async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        if check().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("timed out waiting for: {what}");
}

// =======================================================================================
// S: signatures and identity
// =======================================================================================

#[tokio::test]
async fn s1_every_inbox_answers_401_request_not_signed_without_side_effects() {
    let fake = spawn_fake().await;
    fake.add_actor("alice", ALICE);
    let (g, _dir) = gloss(true).await;
    let activity = follow(&fake, 1, &fake.actor("alice"));
    for path in [
        "/inbox",
        "/blog/inbox",
        "/instance/inbox",
        "/authors/ana/inbox",
    ] {
        let request = Request::post(path)
            .header(header::CONTENT_TYPE, "application/activity+json")
            .header(header::HOST, "blog.test")
            .header(header::DATE, httpdate::fmt_http_date(SystemTime::now()))
            .body(Body::from(activity.to_string()))
            .unwrap();
        let (status, body) = g.send(request).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{path}");
        assert_eq!(body, "Request not signed", "{path}");
    }
    assert_eq!(fake.all_gets(), 0, "no outbound fetch");
    assert!(g.remote_actor(&fake.actor("alice")).await.is_none());
    g.assert_nothing_written(activity["id"].as_str().unwrap())
        .await;
}

#[tokio::test]
async fn s2_a_post_without_a_signed_digest_gets_401() {
    let fake = spawn_fake().await;
    fake.add_actor("alice", ALICE);
    let (g, _dir) = gloss(true).await;
    let activity = follow(&fake, 1, &fake.actor("alice"));
    let body = activity.to_string().into_bytes();
    let key_id = fake.key_id("alice");
    let cases = [
        // The Digest header is there, but the signature does not cover it.
        HandSigned::post("/inbox", &body, &key_id, ALICE).covering(&[
            "(request-target)",
            "host",
            "date",
        ]),
        // No Digest header at all.
        HandSigned::post("/inbox", &body, &key_id, ALICE)
            .without_header("digest")
            .covering(&["(request-target)", "host", "date"]),
        // The signature names `digest`, but the header is absent.
        HandSigned::post("/inbox", &body, &key_id, ALICE).without_header("digest"),
    ];
    for (n, case) in cases.into_iter().enumerate() {
        let (status, text) = g.send(case.request()).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "case {n}: {text}");
        assert_eq!(
            text, "Required component not signed or absent: digest",
            "case {n}"
        );
    }
    assert_eq!(fake.all_gets(), 0, "refused before any key fetch");
    g.assert_nothing_written(activity["id"].as_str().unwrap())
        .await;
}

#[tokio::test]
async fn s4_a_signature_replayed_to_another_path_query_or_method_gets_401() {
    let fake = spawn_fake().await;
    fake.add_actor("alice", ALICE);
    let (g, _dir) = gloss(true).await;
    let activity = follow(&fake, 1, &fake.actor("alice"));
    let original = signed_post(
        "/blog/inbox",
        activity.to_string().into_bytes(),
        &fake.key_id("alice"),
        ALICE,
        SystemTime::now(),
    );
    let (parts, body) = original.into_parts();
    let body = axum::body::to_bytes(body, 1 << 20).await.unwrap();
    let replay = |method: Method, target: &str| {
        let mut parts = parts.clone();
        parts.method = method;
        parts.uri = target.parse().unwrap();
        Request::from_parts(parts, Body::from(body.clone()))
    };
    for target in ["/inbox", "/authors/ana/inbox", "/blog/inbox?x=1"] {
        let (status, text) = g.send(replay(Method::POST, target)).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{target}: {text}");
        assert_eq!(text, "Invalid signature", "{target}");
    }
    // The inbox routes take only POST: another method never reaches the verifier.
    let (status, _) = g.send(replay(Method::PUT, "/blog/inbox")).await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(g.follower_count().await, 0);
    assert_eq!(g.queued().await, 0);

    // Control: the same request where it was meant to go is accepted.
    let (status, text) = g.send(replay(Method::POST, "/blog/inbox")).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{text}");
    assert_eq!(g.follower_count().await, 1);
}

#[tokio::test]
async fn s5_a_request_signed_for_another_host_gets_401() {
    let fake = spawn_fake().await;
    fake.add_actor("alice", ALICE);
    let (g, _dir) = gloss(true).await;
    let activity = follow(&fake, 1, &fake.actor("alice"));
    let body = activity.to_string().into_bytes();
    // A delivery to evil.example, captured there and replayed to us with its Host.
    let for_evil = sign_request(
        &Method::POST,
        &Url::parse("https://evil.example/inbox").unwrap(),
        &body,
        &fake.key_id("alice"),
        &signing_key(ALICE),
        SystemTime::now(),
    )
    .unwrap();
    let (status, text) = g
        .send(request_with("/inbox", for_evil.clone(), body.clone()))
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(text, "Signed host does not match this server");
    // A signature that does not cover `host`.
    let unsigned_host = HandSigned::post("/inbox", &body, &fake.key_id("alice"), ALICE)
        .covering(&["(request-target)", "date", "digest"]);
    let (status, text) = g.send(unsigned_host.request()).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(text, "Required component not signed or absent: host");
    assert_eq!(fake.all_gets(), 0, "both refused before any key fetch");

    // The same replay with our Host put in place of evil.example's.
    let rewritten: Vec<_> = for_evil
        .into_iter()
        .map(|(name, value)| {
            if name == header::HOST {
                (name, HeaderValue::from_static("blog.test"))
            } else {
                (name, value)
            }
        })
        .collect();
    let (status, text) = g.send(request_with("/inbox", rewritten, body)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(text, "Invalid signature");
    g.assert_nothing_written(activity["id"].as_str().unwrap())
        .await;
}

#[tokio::test]
async fn s6_a_date_outside_the_window_or_unparsable_gets_401_with_the_reason() {
    let fake = spawn_fake().await;
    fake.add_actor("alice", ALICE);
    let (g, _dir) = gloss(true).await;
    let key_id = fake.key_id("alice");
    let hour = Duration::from_secs(3600);
    let post_at = |n: u32, at: SystemTime| {
        signed_post(
            "/inbox",
            like(&fake, n, &fake.actor("alice"))
                .to_string()
                .into_bytes(),
            &key_id,
            ALICE,
            at,
        )
    };
    let (status, text) = g.send(post_at(1, SystemTime::now() - 14 * hour)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(text.starts_with("Signature expired: Date is "), "{text}");
    let (status, text) = g.send(post_at(2, SystemTime::now() + 2 * hour)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(
        text.starts_with("Signature date too far in the future"),
        "{text}"
    );
    let body = like(&fake, 3, &fake.actor("alice")).to_string();
    let unparsable = HandSigned::post("/inbox", body.as_bytes(), &key_id, ALICE)
        .with_header("date", "yesterday");
    let (status, text) = g.send(unparsable.request()).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(text, "Malformed signature: unparsable Date");
    assert_eq!(fake.all_gets(), 0, "refused before any key fetch");

    // Control: 12.5 hours old is inside Mastodon's window (12 h + 1 h skew).
    let (status, text) = g
        .send(post_at(4, SystemTime::now() - 12 * hour - hour / 2))
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{text}");
}

#[tokio::test]
async fn s9_a_key_document_naming_a_victim_as_owner_is_refused() {
    let victim_host = spawn_fake().await;
    let evil = spawn_fake().await;
    victim_host.add_actor("alice", ALICE);
    let victim = victim_host.actor("alice");
    let (g, _dir) = gloss(true).await;

    // 1. A key document on an evil host, claiming the victim owns mallory's key.
    evil.put(
        "/keys/1",
        Some("application/activity+json"),
        &json!({"id": evil.url("/keys/1"), "owner": victim,
                "publicKeyPem": keys()[MALLORY].public_key}),
    );
    // 2. An evil actor whose publicKey says it belongs to the victim.
    let mut evil_actor = evil.actor_document("mallory", MALLORY);
    evil_actor["publicKey"]["owner"] = json!(victim);
    evil.put(
        "/users/mallory",
        Some("application/activity+json"),
        &evil_actor,
    );
    // 3. A key document on the victim's own server (say, another user's), naming the
    //    victim, whose actor document lists another key id.
    victim_host.put(
        "/users/mallory/main-key",
        Some("application/activity+json"),
        &json!({"id": victim_host.url("/users/mallory/main-key"), "owner": victim,
                "publicKeyPem": keys()[MALLORY].public_key}),
    );

    for (n, key_id) in [
        evil.url("/keys/1"),
        evil.key_id("mallory"),
        victim_host.url("/users/mallory/main-key"),
    ]
    .iter()
    .enumerate()
    {
        let activity = follow(&victim_host, n as u32, &victim);
        let (status, text) = g.post_signed("/inbox", &activity, key_id, MALLORY).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{key_id}: {text}");
        assert_eq!(g.follower_count().await, 0, "{key_id}");
        if n < 2 {
            assert_eq!(
                victim_host.all_gets(),
                0,
                "the victim is not even fetched for a key on another host"
            );
        }
    }
    assert_eq!(g.queued().await, 0);

    // Control: a GoToSocial-style key document whose owner lists exactly that key id.
    let gts = victim_host.actor("gts");
    let gts_key = victim_host.url("/users/gts/main-key");
    let mut gts_actor = victim_host.actor_document("gts", ROTATED);
    gts_actor["publicKey"]["id"] = json!(gts_key);
    victim_host.put("/users/gts", Some("application/activity+json"), &gts_actor);
    victim_host.put(
        "/users/gts/main-key",
        Some("application/activity+json"),
        &json!({"id": gts_key, "owner": gts, "publicKeyPem": keys()[ROTATED].public_key}),
    );
    let (status, text) = g
        .post_signed("/inbox", &follow(&victim_host, 9, &gts), &gts_key, ROTATED)
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{text}");
    assert_eq!(g.follower_count().await, 1);
}

#[tokio::test]
async fn s11_bad_signatures_in_an_actors_name_force_at_most_one_refetch() {
    let fake = spawn_fake().await;
    fake.add_actor("alice", ALICE);
    let alice = fake.actor("alice");
    let (g, _dir) = gloss(true).await;
    let (status, _) = g
        .post_signed(
            "/inbox",
            &follow(&fake, 1, &alice),
            &fake.key_id("alice"),
            ALICE,
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED);
    assert_eq!(fake.gets_of("/users/alice"), 1);

    // Mallory signs in alice's name with her own key, again and again.
    for n in 0..10 {
        let (status, _) = g
            .post_signed(
                "/inbox",
                &like(&fake, n, &alice),
                &fake.key_id("alice"),
                MALLORY,
            )
            .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
    assert_eq!(fake.gets_of("/users/alice"), 2, "one refetch, not ten");

    // Key ids that only point near alice's document must not get around the limit.
    for n in 10..20 {
        let key_id = format!("{alice}?n={n}#main-key");
        let (status, _) = g
            .post_signed("/inbox", &like(&fake, n, &alice), &key_id, MALLORY)
            .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
    assert_eq!(
        fake.gets_of("/users/alice"),
        2,
        "alice's document is not fetched again"
    );

    // The price of the limit: a genuine rotation within the same five minutes waits for
    // the sender's retry.
    fake.add_actor("alice", ROTATED);
    let (status, _) = g
        .post_signed(
            "/inbox",
            &like(&fake, 30, &alice),
            &fake.key_id("alice"),
            ROTATED,
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(fake.gets_of("/users/alice"), 2);
    let stored = g.remote_actor(&alice).await.unwrap();
    assert_eq!(stored.public_key_pem, keys()[ALICE].public_key);
}

#[tokio::test]
async fn s13_an_embedded_actor_document_is_never_trusted() {
    let fake = spawn_fake().await;
    fake.add_actor("alice", ALICE);
    fake.add_actor("mallory", MALLORY);
    let alice = fake.actor("alice");
    let (g, _dir) = gloss(true).await;
    let (status, _) = g
        .post_signed(
            "/inbox",
            &follow(&fake, 1, &alice),
            &fake.key_id("alice"),
            ALICE,
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED);

    // Alice's own Update(Person) carries a forged copy of her: another key and inbox.
    let mut forged = fake.actor_document("alice", MALLORY);
    forged["name"] = json!("Forged");
    forged["inbox"] = json!("https://evil.example/inbox");
    let update = json!({
        "@context": "https://www.w3.org/ns/activitystreams",
        "id": fake.url("/users/alice#updates/1"),
        "type": "Update",
        "actor": alice,
        "object": forged,
    });
    let (status, text) = g
        .post_signed("/inbox", &update, &fake.key_id("alice"), ALICE)
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{text}");
    assert_eq!(fake.gets_of("/users/alice"), 2, "refetched from its origin");
    let stored = g.remote_actor(&alice).await.unwrap();
    assert_eq!(stored.public_key_pem, keys()[ALICE].public_key);
    assert_eq!(stored.name.as_deref(), Some("alice display"));
    assert_eq!(stored.inbox, format!("{alice}/inbox"));
    // The forged key did not become alice's.
    let (status, _) = g
        .post_signed(
            "/inbox",
            &like(&fake, 1, &alice),
            &fake.key_id("alice"),
            MALLORY,
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    // A third server forwards activities "by" alice with an LD signature.
    let ld_signature = json!({"type": "RsaSignature2017", "creator": fake.key_id("alice"),
        "created": "2024-01-01T00:00:00Z", "signatureValue": BASE64.encode([7u8; 256])});
    let forwarded = [
        json!({"@context": "https://www.w3.org/ns/activitystreams",
               "id": fake.url("/users/alice#updates/2"), "type": "Update", "actor": alice,
               "object": forged, "signature": ld_signature}),
        json!({"@context": "https://www.w3.org/ns/activitystreams",
               "id": fake.url("/users/alice/statuses/1/activity"), "type": "Create",
               "actor": alice, "signature": ld_signature,
               "object": {"id": fake.url("/users/alice/statuses/1"), "type": "Note",
                          "attributedTo": alice, "content": "forged",
                          "inReplyTo": format!("{OUR_BASE}/posts/hello")}}),
    ];
    for activity in forwarded {
        let (status, text) = g
            .post_signed("/inbox", &activity, &fake.key_id("mallory"), MALLORY)
            .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{text}");
        assert_eq!(text, "The activity's actor is not the signer");
    }
    let after = g.remote_actor(&alice).await.unwrap();
    assert_eq!(after.public_key_pem, keys()[ALICE].public_key);
    assert_eq!(after.fetched_at, stored.fetched_at, "not even refreshed");
}

#[tokio::test]
async fn s14_malformed_signature_headers_get_401_without_a_fetch() {
    let fake = spawn_fake().await;
    fake.add_actor("alice", ALICE);
    let (g, _dir) = gloss(true).await;
    let key_id = fake.key_id("alice");
    let activity = like(&fake, 1, &fake.actor("alice"));
    let body = activity.to_string().into_bytes();
    let covered = "headers=\"(request-target) host date digest\"";
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (
            format!("keyId=\"{key_id}\",{covered},signature=\"AAAA").into_bytes(),
            "Malformed signature: unbalanced quotes",
        ),
        (
            format!("keyId=\"{key_id}\",signature=\"{}\"", "A".repeat(64 * 1024)).into_bytes(),
            "Malformed signature: signature header too long",
        ),
        (
            format!("keyId=\"{key_id}\",algorithm=\"ecdsa-sha256\",{covered},signature=\"AAAA\"")
                .into_bytes(),
            "Unsupported algorithm: ecdsa-sha256",
        ),
        (
            format!("keyId=\"{key_id}\",{covered},signature=\"%%%not base64%%%\"").into_bytes(),
            "Malformed signature: signature is not base64",
        ),
        (
            format!("keyId=\"main-key\",{covered},signature=\"AAAA\"").into_bytes(),
            "Malformed signature: keyId is not an http(s) URL",
        ),
        (
            format!("keyId=\"acct:alice@remote.example\",{covered},signature=\"AAAA\"")
                .into_bytes(),
            "Malformed signature: keyId is not an http(s) URL",
        ),
        (
            b"keyId=\"https://r.example/\xff\",signature=\"AAAA\"".to_vec(),
            "Malformed signature: signature header is not visible ASCII",
        ),
        (Vec::new(), "Malformed signature: empty signature header"),
    ];
    for (value, expected) in cases {
        let mut headers = sign_request(
            &Method::POST,
            &Url::parse(&format!("{OUR_BASE}/inbox")).unwrap(),
            &body,
            &key_id,
            &signing_key(ALICE),
            SystemTime::now(),
        )
        .unwrap();
        headers.retain(|(name, _)| name.as_str() != "signature");
        headers.push((
            HeaderName::from_static("signature"),
            HeaderValue::from_bytes(&value).unwrap(),
        ));
        let (status, text) = g.send(request_with("/inbox", headers, body.clone())).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{expected}");
        assert_eq!(text, expected);
    }
    assert_eq!(
        fake.all_gets(),
        0,
        "no key fetch for a header that does not parse"
    );
    g.assert_nothing_written(activity["id"].as_str().unwrap())
        .await;
}

// =======================================================================================
// F: object fetching, seen from the inbox (the sender's actor is fetched to verify)
// =======================================================================================

#[tokio::test]
async fn f1_an_actor_document_whose_id_is_not_its_url_gets_401_and_nothing_stored() {
    let fake = spawn_fake().await;
    fake.add_actor("alice", ALICE);
    // Served at /users/elsewhere, claiming to live on another host.
    let mut elsewhere = fake.actor_document("elsewhere", MALLORY);
    let foreign = "https://elsewhere.example/users/elsewhere";
    elsewhere["id"] = json!(foreign);
    elsewhere["publicKey"]["owner"] = json!(foreign);
    fake.put(
        "/users/elsewhere",
        Some("application/activity+json"),
        &elsewhere,
    );
    // Served at /users/copycat: alice's document (same host, another id).
    let alices = fake.actor_document("alice", ALICE);
    fake.put("/users/copycat", Some("application/activity+json"), &alices);
    let (g, _dir) = gloss(true).await;

    for name in ["elsewhere", "copycat"] {
        let actor = fake.actor(name);
        let (status, text) = g
            .post_signed(
                "/inbox",
                &follow(&fake, 1, &actor),
                &fake.key_id(name),
                MALLORY,
            )
            .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{name}");
        assert_eq!(text, "Could not fetch the signing key", "{name}");
        assert!(g.remote_actor(&actor).await.is_none(), "{name}");
    }
    assert!(g.remote_actor(foreign).await.is_none());
    // For copycat: one fetch from the id it names (same host), then the rate-limited key
    // refetch of S11. Nothing crossed to elsewhere.example (it would not resolve anyway).
    assert_eq!(fake.gets_of("/users/alice"), 2);
    g.assert_nothing_written(&fake.url("/follows/1")).await;
}

#[tokio::test]
async fn f2_an_actor_document_with_a_wrong_content_type_gets_401_and_nothing_stored() {
    let fake = spawn_fake().await;
    for (name, content_type) in [
        ("json", Some("application/json")),
        ("html", Some("text/html; charset=utf-8")),
        ("none", None),
    ] {
        let document = fake.actor_document(name, ALICE);
        fake.put(&format!("/users/{name}"), content_type, &document);
    }
    let (g, _dir) = gloss(true).await;
    for name in ["json", "html", "none"] {
        let actor = fake.actor(name);
        let (status, text) = g
            .post_signed(
                "/inbox",
                &follow(&fake, 1, &actor),
                &fake.key_id(name),
                ALICE,
            )
            .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{name}");
        assert_eq!(text, "Could not fetch the signing key", "{name}");
        assert!(g.remote_actor(&actor).await.is_none(), "{name}");
        assert_eq!(fake.gets_of(&format!("/users/{name}")), 1, "{name}");
    }
    g.assert_nothing_written(&fake.url("/follows/1")).await;
}

#[tokio::test]
async fn f3_f6_key_ids_on_private_or_malformed_urls_are_refused_without_a_connection() {
    // A listener that only counts connections: nothing may reach it.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let connections = Arc::new(AtomicUsize::new(0));
    let counter = connections.clone();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            counter.fetch_add(1, Ordering::SeqCst);
            drop(stream);
        }
    });
    // Production settings: no test-network exceptions.
    let (g, _dir) = gloss(false).await;
    for key_id in [
        format!("http://127.0.0.1:{port}/users/a#main-key"),
        format!("https://127.0.0.1:{port}/users/a#main-key"),
        format!("https://[::1]:{port}/users/a#main-key"),
        format!("https://[::ffff:127.0.0.1]:{port}/users/a#main-key"),
        format!("https://localhost:{port}/users/a#main-key"),
        format!("https://LOCALHOST.:{port}/users/a#main-key"),
        "https://169.254.169.254/latest/meta-data#main-key".to_owned(),
        "https://[fd00::1]/users/a#main-key".to_owned(),
        // F6: userinfo, a public IP literal, plain http.
        format!("https://alice@localhost:{port}/users/a#main-key"),
        "https://alice:secret@remote.example/users/a#main-key".to_owned(),
        "https://8.8.8.8/users/a#main-key".to_owned(),
        "http://remote.example/users/a#main-key".to_owned(),
    ] {
        let actor = key_id.split('#').next().unwrap().to_owned();
        let activity = json!({"id": format!("{actor}/likes/1"), "type": "Like",
                              "actor": actor, "object": format!("{OUR_BASE}/posts/hello")});
        let (status, text) = g.post_signed("/inbox", &activity, &key_id, ALICE).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{key_id}: {text}");
        assert_eq!(text, "Could not fetch the signing key", "{key_id}");
    }
    // Give a connection that should not exist the time to show up.
    tokio::time::sleep(Duration::from_millis(150)).await;
    assert_eq!(connections.load(Ordering::SeqCst), 0, "no TCP connection");
    assert_eq!(g.follower_count().await, 0);
}

// =======================================================================================
// Q: delivery faults (the worker claims through engine-specific SQL: both engines)
// =======================================================================================

async fn q1_network_errors_are_retried_with_backoff(db: Arc<TestDb>) {
    // Connection refused: a port nobody listens on any more.
    let closed = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let refused = format!("http://{}/inbox", closed.local_addr().unwrap());
    drop(closed);
    // Connection reset: accepted, then dropped before any answer.
    let resetting = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let reset = format!("http://{}/inbox", resetting.local_addr().unwrap());
    tokio::spawn(async move {
        while let Ok((stream, _)) = resetting.accept().await {
            drop(stream);
        }
    });
    let g = gloss_on(db.connect().await, true).await;
    let id = g.enqueue("q1", vec![refused.clone(), reset.clone()]).await;
    let worker = g.start_worker(worker_settings());
    eventually("both attempted", || async {
        g.deliveries().await.iter().all(|d| d.attempts == 1)
    })
    .await;
    worker.stop().await;
    for inbox in [&refused, &reset] {
        let delivery = g.delivery(&id, inbox).await;
        assert_eq!(delivery.state, DeliveryState::Pending, "{inbox}");
        assert_eq!(delivery.last_status, None, "{inbox}");
        assert!(delivery.last_error.is_some(), "{inbox}");
        let next = delivery.next_attempt_at.unwrap();
        assert!(
            next >= delivery.updated_at + TimeDelta::seconds(47),
            "{inbox}: backoff of at least a minute less jitter ({next} vs {})",
            delivery.updated_at
        );
    }
}

async fn q3_unsalvageable_statuses_are_final_after_one_attempt(db: Arc<TestDb>) {
    let fake = spawn_fake().await;
    let codes = [403_u16, 404, 422, 501];
    for code in codes {
        fake.set_mode(&format!("/{code}/inbox"), Mode::Status(code));
    }
    let g = gloss_on(db.connect().await, true).await;
    let inboxes: Vec<String> = codes
        .iter()
        .map(|code| fake.url(&format!("/{code}/inbox")))
        .collect();
    let id = g.enqueue("q3", inboxes.clone()).await;
    let worker = g.start_worker(worker_settings());
    eventually("all failed", || async {
        g.deliveries()
            .await
            .iter()
            .all(|d| d.state == DeliveryState::Failed)
    })
    .await;
    worker.stop().await;
    for (code, inbox) in codes.iter().zip(&inboxes) {
        let delivery = g.delivery(&id, inbox).await;
        assert_eq!(delivery.attempts, 1, "{code}");
        assert_eq!(delivery.last_status, Some(i32::from(*code)));
        assert_eq!(fake.posts_to(&format!("/{code}/inbox")).len(), 1, "{code}");
    }
    // One round of final answers does not make the host unreachable.
    let health = g.store().host_health(&fake.host()).await.unwrap();
    assert!(health.is_none_or(|h| !h.unreachable));
}

/// Makes the deliveries to the fake host due now: the documented way a deferred retry is
/// pulled forward (the host contacting us), so that tests need not wait a minute.
async fn make_due_now(g: &Gloss, fake: &Fake) {
    g.store()
        .host_contacted_us(&fake.host(), Utc::now())
        .await
        .unwrap();
    g.federation.wake_delivery_worker();
}

async fn q4_a_401_from_an_inbox_is_retried(db: Arc<TestDb>) {
    let fake = spawn_fake().await;
    fake.set_mode("/q4/inbox", Mode::Once(401));
    let inbox = fake.url("/q4/inbox");
    let g = gloss_on(db.connect().await, true).await;
    let id = g.enqueue("q4", vec![inbox.clone()]).await;
    let worker = g.start_worker(worker_settings());
    eventually("first attempt", || async {
        g.delivery(&id, &inbox).await.attempts == 1
    })
    .await;
    let first = g.delivery(&id, &inbox).await;
    assert_eq!(first.state, DeliveryState::Pending, "401 is not final");
    assert_eq!(first.last_status, Some(401));
    assert!(first.next_attempt_at.unwrap() > first.updated_at);

    make_due_now(&g, &fake).await;
    eventually("delivered on retry", || async {
        g.delivery(&id, &inbox).await.state == DeliveryState::Delivered
    })
    .await;
    worker.stop().await;
    assert_eq!(g.delivery(&id, &inbox).await.attempts, 2);
    assert_eq!(fake.posts_to("/q4/inbox").len(), 2);
}

async fn q6_a_host_failing_for_days_is_probed_rarely_until_it_contacts_us(db: Arc<TestDb>) {
    let fake = spawn_fake().await;
    fake.add_actor("alice", ALICE);
    let path = "/users/alice/inbox";
    let inbox = fake.url(path);
    fake.set_mode(path, Mode::Status(503));
    let g = gloss_on(db.connect().await, true).await;
    let store = g.store();
    let host = fake.host();

    // The host's run of failures began three days ago (recorded as then).
    let first = g.enqueue("q6-1", vec![inbox.clone()]).await;
    let jobs = store
        .claim_deliveries(Utc::now(), 10, 10, TimeDelta::minutes(5))
        .await
        .unwrap();
    assert_eq!(jobs.len(), 1);
    assert_eq!(jobs[0].host, host);
    store
        .finish_delivery(
            jobs[0].id,
            DeliveryOutcome::Retry {
                next_attempt_at: Utc::now() + TimeDelta::hours(1),
                status: Some(503),
                error: "HTTP 503".into(),
            },
            Utc::now() - TimeDelta::days(3),
        )
        .await
        .unwrap();
    assert!(!store.host_health(&host).await.unwrap().unwrap().unreachable);

    // Today's attempt fails too: the worker marks the host unreachable.
    let second = g.enqueue("q6-2", vec![inbox.clone()]).await;
    let worker = g.start_worker(worker_settings());
    eventually("marked unreachable", || async {
        store
            .host_health(&host)
            .await
            .unwrap()
            .is_some_and(|health| health.unreachable)
    })
    .await;
    worker.stop().await;
    assert_eq!(fake.posts_to(path).len(), 1);

    // A new activity is queued, but waits for the next probe, hours away.
    let third = g.enqueue("q6-3", vec![inbox.clone()]).await;
    let now = Utc::now();
    let claimed = store
        .claim_deliveries(now, 10, 10, TimeDelta::minutes(5))
        .await
        .unwrap();
    assert!(claimed.is_empty(), "{claimed:?}");
    let due = store.next_delivery_due().await.unwrap().unwrap();
    assert!(due > now + TimeDelta::hours(5), "next probe at {due}");

    // The host sends us a signed request: reachable again, its deliveries due at once.
    let (status, text) = g
        .post_signed(
            "/inbox",
            &like(&fake, 1, &fake.actor("alice")),
            &fake.key_id("alice"),
            ALICE,
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{text}");
    assert!(!store.host_health(&host).await.unwrap().unwrap().unreachable);
    fake.set_mode(path, Mode::Status(202));
    let worker = g.start_worker(worker_settings());
    eventually("all delivered", || async {
        g.deliveries()
            .await
            .iter()
            .all(|d| d.state == DeliveryState::Delivered)
    })
    .await;
    worker.stop().await;
    for id in [&first, &second, &third] {
        assert_eq!(g.delivery(id, &inbox).await.state, DeliveryState::Delivered);
    }
    assert_eq!(fake.posts_to(path).len(), 4, "1 failure + 3 deliveries");
}

async fn q7_a_new_worker_delivers_what_a_killed_one_left(db: Arc<TestDb>) {
    let fake = spawn_fake().await;
    let paths: Vec<String> = (0..6).map(|n| format!("/q7/{n}/inbox")).collect();
    for path in &paths {
        fake.set_mode(path, Mode::Hold);
    }
    let inboxes: Vec<String> = paths.iter().map(|path| fake.url(path)).collect();
    let old = gloss_on(db.connect().await, true).await;
    let id = old.enqueue("q7", inboxes.clone()).await;

    // The old process: two sends in flight (held by the inboxes), then killed.
    let killed = old.start_worker(DeliverySettings {
        concurrency: 2,
        lease: TimeDelta::seconds(1),
        ..worker_settings()
    });
    eventually("two sends in flight", || async { fake.posts().len() == 2 }).await;
    killed.handle.abort();
    assert!(killed.handle.await.unwrap_err().is_cancelled());
    fake.release();

    // A new process over the same database.
    let new = gloss_over(db.connect().await, old.post.clone(), true);
    let worker = new.start_worker(worker_settings());
    eventually("all delivered", || async {
        new.deliveries()
            .await
            .iter()
            .all(|d| d.state == DeliveryState::Delivered)
    })
    .await;
    worker.stop().await;
    assert_eq!(new.deliveries().await.len(), 6);
    for (path, inbox) in paths.iter().zip(&inboxes) {
        assert_eq!(
            new.delivery(&id, inbox).await.state,
            DeliveryState::Delivered
        );
        assert!(!fake.posts_to(path).is_empty(), "{path} received nothing");
    }
    // At-least-once: only the two sends cut off by the kill may arrive twice.
    let duplicates = fake.posts().len() - paths.len();
    assert!(duplicates <= 2, "{duplicates} duplicates");
}

async fn q8_in_flight_sends_finish_and_the_rest_stays_queued(db: Arc<TestDb>) {
    let fake = spawn_fake().await;
    fake.set_mode("/slow/inbox", Mode::Hold);
    let g = gloss_on(db.connect().await, true).await;
    let slow = g.enqueue("q8-slow", vec![fake.url("/slow/inbox")]).await;
    let later: Vec<(String, String)> = ["b", "c"]
        .iter()
        .map(|name| (format!("q8-{name}"), fake.url(&format!("/{name}/inbox"))))
        .collect();
    for (name, inbox) in &later {
        g.enqueue(name, vec![inbox.clone()]).await;
    }
    let worker = g.start_worker(DeliverySettings {
        concurrency: 1,
        ..worker_settings()
    });
    eventually("the slow send is in flight", || async {
        !fake.posts_to("/slow/inbox").is_empty()
    })
    .await;
    // The signal comes first, then the slow inbox answers.
    worker.stop.send(true).unwrap();
    fake.release();
    tokio::time::timeout(Duration::from_secs(15), worker.handle)
        .await
        .expect("the worker stops")
        .unwrap();

    assert_eq!(
        g.delivery(&slow, &fake.url("/slow/inbox")).await.state,
        DeliveryState::Delivered,
        "the in-flight send finished"
    );
    for (name, inbox) in &later {
        let delivery = g
            .delivery(&format!("{OUR_BASE}/activities/{name}"), inbox)
            .await;
        assert_eq!(delivery.state, DeliveryState::Pending, "{name}");
        assert_eq!(delivery.attempts, 0, "{name}");
    }
    assert_eq!(
        fake.posts().len(),
        1,
        "nothing new was sent after the signal"
    );
    // Still queued and not leased: claimable at once by the next run.
    let claimable = g
        .store()
        .claim_deliveries(Utc::now(), 10, 10, TimeDelta::minutes(5))
        .await
        .unwrap();
    assert_eq!(claimable.len(), 2);
}

async fn q8_a_send_outlasting_the_grace_period_is_sent_again_later(db: Arc<TestDb>) {
    let fake = spawn_fake().await;
    // The first POST is never answered while the test runs.
    fake.set_mode("/stuck/inbox", Mode::HoldFirst);
    let inbox = fake.url("/stuck/inbox");
    let g = gloss_on(db.connect().await, true).await;
    let id = g.enqueue("q8-stuck", vec![inbox.clone()]).await;
    let settings = DeliverySettings {
        concurrency: 1,
        lease: TimeDelta::seconds(1),
        shutdown_grace: Duration::from_millis(200),
        ..worker_settings()
    };
    let worker = g.start_worker(settings.clone());
    eventually("the send is in flight", || async {
        !fake.posts().is_empty()
    })
    .await;
    worker.stop().await;
    let abandoned = g.delivery(&id, &inbox).await;
    assert_eq!(abandoned.state, DeliveryState::Pending);
    assert_eq!(
        abandoned.attempts, 0,
        "no outcome recorded for the cut-off send"
    );

    // The next run sends it again once the abandoned lease has run out.
    let worker = g.start_worker(settings);
    eventually("delivered", || async {
        g.delivery(&id, &inbox).await.state == DeliveryState::Delivered
    })
    .await;
    worker.stop().await;
    assert_eq!(fake.posts().len(), 2, "at-least-once: sent twice");
}

async fn q9_each_attempt_is_signed_with_a_fresh_date(db: Arc<TestDb>) {
    let fake = spawn_fake().await;
    fake.set_mode("/q9/inbox", Mode::Once(503));
    let inbox = fake.url("/q9/inbox");
    let g = gloss_on(db.connect().await, true).await;
    let id = g.enqueue("q9", vec![inbox.clone()]).await;
    let worker = g.start_worker(worker_settings());
    eventually("first attempt", || async {
        g.delivery(&id, &inbox).await.attempts == 1
    })
    .await;
    // Dates have one-second resolution: let the clock pass the first one.
    let first_date = fake.posts()[0].headers[header::DATE].clone();
    while HeaderValue::from_str(&httpdate::fmt_http_date(SystemTime::now())).unwrap() == first_date
    {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    make_due_now(&g, &fake).await;
    eventually("delivered on retry", || async {
        g.delivery(&id, &inbox).await.state == DeliveryState::Delivered
    })
    .await;
    worker.stop().await;

    let posts = fake.posts_to("/q9/inbox");
    assert_eq!(posts.len(), 2);
    let date = |posted: &Posted| {
        httpdate::parse_http_date(posted.headers[header::DATE].to_str().unwrap()).unwrap()
    };
    assert!(date(&posts[1]) > date(&posts[0]), "a fresh Date");
    assert_ne!(
        posts[0].headers["signature"], posts[1].headers["signature"],
        "a fresh signature"
    );
    let blog_key = VerifyingKey::from_pem(&keys()[BLOG].public_key).unwrap();
    let origin = Url::parse(fake.base()).unwrap();
    for posted in &posts {
        let signed = parse_request(
            &Method::POST,
            &posted.path,
            &posted.headers,
            &posted.body,
            &origin,
            SystemTime::now(),
            DEFAULT_MAX_SKEW,
        )
        .unwrap();
        assert_eq!(signed.key_id, format!("{OUR_BASE}/blog#main-key"));
        signed.verify(&blog_key).unwrap();
    }
}

on_both_engines! {
    q1_network_errors_are_retried_with_backoff =>
        q1_network_errors_are_retried_with_backoff_sqlite,
        q1_network_errors_are_retried_with_backoff_postgres;
    q3_unsalvageable_statuses_are_final_after_one_attempt =>
        q3_unsalvageable_statuses_are_final_after_one_attempt_sqlite,
        q3_unsalvageable_statuses_are_final_after_one_attempt_postgres;
    q4_a_401_from_an_inbox_is_retried =>
        q4_a_401_from_an_inbox_is_retried_sqlite,
        q4_a_401_from_an_inbox_is_retried_postgres;
    q6_a_host_failing_for_days_is_probed_rarely_until_it_contacts_us =>
        q6_a_host_failing_for_days_is_probed_rarely_until_it_contacts_us_sqlite,
        q6_a_host_failing_for_days_is_probed_rarely_until_it_contacts_us_postgres;
    q7_a_new_worker_delivers_what_a_killed_one_left =>
        q7_a_new_worker_delivers_what_a_killed_one_left_sqlite,
        q7_a_new_worker_delivers_what_a_killed_one_left_postgres;
    q8_in_flight_sends_finish_and_the_rest_stays_queued =>
        q8_in_flight_sends_finish_and_the_rest_stays_queued_sqlite,
        q8_in_flight_sends_finish_and_the_rest_stays_queued_postgres;
    q8_a_send_outlasting_the_grace_period_is_sent_again_later =>
        q8_a_send_outlasting_the_grace_period_is_sent_again_later_sqlite,
        q8_a_send_outlasting_the_grace_period_is_sent_again_later_postgres;
    q9_each_attempt_is_signed_with_a_fresh_date =>
        q9_each_attempt_is_signed_with_a_fresh_date_sqlite,
        q9_each_attempt_is_signed_with_a_fresh_date_postgres;
}
