//! Response headers that hold even if something slips past the sanitizer
//! (security checklist C13).

/// No inline scripts, no plugins, no framing, no `<base>` tricks. Images may come from
/// anywhere over https (avatars of commenters), everything else from us.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; img-src 'self' https: data:; style-src 'self'; form-action 'self'";
