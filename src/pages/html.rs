//! The pages' HTML. Every value from a request or a user goes through `esc`; there is no
//! inline script anywhere (the Content-Security-Policy forbids it). The sign-in pages work
//! without JavaScript.

use super::Manifest;
use crate::error::FieldErrors;

/// Escapes text for HTML element content and double- or single-quoted attributes.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn head(title: &str, css: Option<&str>, extra: &str) -> String {
    let css = css
        .map(|href| format!(r#"<link rel="stylesheet" href="{}">"#, esc(href)))
        .unwrap_or_default();
    format!(
        r#"<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1, viewport-fit=cover">
<meta name="color-scheme" content="light dark">
<meta name="referrer" content="same-origin">
<title>{}</title>
{css}{extra}
</head>
"#,
        esc(title)
    )
}

/// The messages page: a shell the bundle renders into.
pub fn messages(m: &Manifest) -> String {
    let mut extra = String::new();
    for p in &m.preload {
        extra.push_str(&format!(r#"<link rel="modulepreload" href="{}">"#, esc(p)));
    }
    extra.push_str(&format!(
        r#"<script type="module" src="{}"></script>"#,
        esc(&m.js)
    ));
    format!(
        r#"{}<body>
<div id="app"><div class="boot" aria-busy="true"><div class="boot-spinner"></div><p>Loading your chats…</p></div></div>
<noscript><p class="noscript">The messages page needs JavaScript.</p></noscript>
</body>
</html>
"#,
        head("Messages", Some(&m.css), &extra)
    )
}

pub fn not_built() -> String {
    format!(
        "{}<body><main class=\"auth-page\"><div class=\"auth-card\"><h1>Not built yet</h1>\
         <p>The web UI's files are missing: run <code>make web</code> (or <code>make dev</code>).</p>\
         </div></main></body></html>\n",
        head("Messages", None, "")
    )
}

const BRAND: &str = r#"<div class="auth-brand"><svg width="22" height="22" viewBox="0 0 24 24" aria-hidden="true"><path d="M21 15a2 2 0 0 1-2 2H7l-4 4V5a2 2 0 0 1 2-2h14a2 2 0 0 1 2 2z" fill="none" stroke="currentColor" stroke-width="2" stroke-linejoin="round"/></svg><span>Edge Messaging</span></div>"#;

/// A path for a query value (`next`), percent-encoded.
fn q(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

pub struct LoginForm<'a> {
    pub next: &'a str,
    pub username: &'a str,
    pub error: Option<&'a str>,
    pub signup: bool,
}

pub fn login(css: Option<&str>, f: &LoginForm) -> String {
    let error = f
        .error
        .map(|e| format!(r#"<p class="auth-error" role="alert">{}</p>"#, esc(e)))
        .unwrap_or_default();
    let signup = if f.signup {
        format!(
            r#"<p class="auth-switch">New here? <a href="/signup/?next={}">Create an account</a></p>"#,
            esc(&q(f.next))
        )
    } else {
        String::new()
    };
    let focus_user = if f.username.is_empty() {
        " autofocus"
    } else {
        ""
    };
    let focus_pass = if f.username.is_empty() {
        ""
    } else {
        " autofocus"
    };
    format!(
        r#"{head}<body>
<main class="auth-page">
<div class="auth-card">
{BRAND}
<h1>Sign in</h1>
<p class="auth-sub">Welcome back. Sign in to continue to your messages.</p>
{error}
<form method="post" action="/login/" novalidate>
<input type="hidden" name="next" value="{next}">
<label for="username">Username</label>
<input type="text" id="username" name="username" autocomplete="username" autocapitalize="none" spellcheck="false" required value="{username}"{focus_user}>
<label for="password">Password</label>
<input type="password" id="password" name="password" autocomplete="current-password" required{focus_pass}>
<button type="submit" class="btn btn-primary">Sign in</button>
</form>
{signup}
</div>
</main>
</body>
</html>
"#,
        head = head("Sign in · Messages", css, ""),
        next = esc(f.next),
        username = esc(f.username),
    )
}

pub struct SignupForm {
    pub next: String,
    pub username: String,
    pub email: String,
    pub first_name: String,
    pub last_name: String,
    pub error: Option<String>,
    pub errors: FieldErrors,
}

impl SignupForm {
    pub fn empty(next: &str) -> SignupForm {
        SignupForm {
            next: next.to_string(),
            username: String::new(),
            email: String::new(),
            first_name: String::new(),
            last_name: String::new(),
            error: None,
            errors: FieldErrors::new(),
        }
    }

    fn field_error(&self, field: &str) -> String {
        self.errors
            .get(field)
            .map(|msgs| {
                msgs.iter()
                    .map(|m| {
                        format!(
                            r#"<p class="field-error" id="{field}-error">{}</p>"#,
                            esc(m)
                        )
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    fn invalid(&self, field: &str) -> &'static str {
        if self.errors.contains_key(field) {
            r#" aria-invalid="true""#
        } else {
            ""
        }
    }
}

pub fn signup(css: Option<&str>, f: &SignupForm) -> String {
    let mut error = f
        .error
        .as_deref()
        .map(|e| format!(r#"<p class="auth-error" role="alert">{}</p>"#, esc(e)))
        .unwrap_or_default();
    // Messages for fields the form does not show (none today) still reach the person.
    for (field, msgs) in &f.errors {
        if !["username", "password", "email", "first_name", "last_name"].contains(&field.as_str()) {
            for m in msgs {
                error.push_str(&format!(
                    r#"<p class="auth-error" role="alert">{}</p>"#,
                    esc(m)
                ));
            }
        }
    }
    format!(
        r#"{head}<body>
<main class="auth-page">
<div class="auth-card">
{BRAND}
<h1>Create your account</h1>
<p class="auth-sub">It takes a moment. Then start chatting.</p>
{error}
<form method="post" action="/signup/" novalidate>
<input type="hidden" name="next" value="{next}">
<div class="row">
<div><label for="first_name">First name</label>
<input type="text" id="first_name" name="first_name" autocomplete="given-name" maxlength="150" value="{first}"{first_inv}>{first_err}</div>
<div><label for="last_name">Last name</label>
<input type="text" id="last_name" name="last_name" autocomplete="family-name" maxlength="150" value="{last}"{last_inv}>{last_err}</div>
</div>
<label for="username">Username</label>
<input type="text" id="username" name="username" autocomplete="username" autocapitalize="none" spellcheck="false" required maxlength="150" value="{username}"{user_inv} autofocus>
{user_err}<p class="hint">Letters, digits and @ . + - _ only.</p>
<label for="email">Email <span class="hint">(optional)</span></label>
<input type="email" id="email" name="email" autocomplete="email" value="{email}"{email_inv}>{email_err}
<label for="password">Password</label>
<input type="password" id="password" name="password" autocomplete="new-password" required minlength="8"{pass_inv}>
{pass_err}<p class="hint">At least 8 characters.</p>
<button type="submit" class="btn btn-primary">Create account</button>
</form>
<p class="auth-switch">Already have an account? <a href="/login/?next={next_q}">Sign in</a></p>
</div>
</main>
</body>
</html>
"#,
        head = head("Sign up · Messages", css, ""),
        next = esc(&f.next),
        next_q = esc(&q(&f.next)),
        first = esc(&f.first_name),
        last = esc(&f.last_name),
        username = esc(&f.username),
        email = esc(&f.email),
        first_inv = f.invalid("first_name"),
        last_inv = f.invalid("last_name"),
        user_inv = f.invalid("username"),
        email_inv = f.invalid("email"),
        pass_inv = f.invalid("password"),
        first_err = f.field_error("first_name"),
        last_err = f.field_error("last_name"),
        user_err = f.field_error("username"),
        email_err = f.field_error("email"),
        pass_err = f.field_error("password"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_values_are_escaped_everywhere() {
        let form = LoginForm {
            next: "/x\"><script>alert(1)</script>",
            username: "<img src=x onerror=alert(1)>",
            error: Some("<b>bad</b>"),
            signup: true,
        };
        let page = login(Some("/messages/static/a.css"), &form);
        assert!(!page.contains("<script>"), "{page}");
        assert!(!page.contains("<img"), "{page}");
        assert!(!page.contains("<b>"), "{page}");
        assert!(page.contains("&lt;img src=x onerror=alert(1)&gt;"));
    }

    #[test]
    fn no_page_has_inline_script() {
        let m = Manifest {
            js: "/messages/static/app.js".into(),
            css: "/messages/static/app.css".into(),
            preload: vec!["/messages/static/chunk.js".into()],
            demo_css: None,
        };
        let pages = [
            messages(&m),
            login(
                None,
                &LoginForm {
                    next: "/messages/",
                    username: "",
                    error: None,
                    signup: true,
                },
            ),
            signup(None, &SignupForm::empty("/messages/")),
            not_built(),
        ];
        for p in pages {
            for (i, _) in p.match_indices("<script") {
                let tag = &p[i..p[i..].find('>').map_or(p.len(), |e| i + e)];
                assert!(tag.contains(" src="), "every script is a file: {tag}");
            }
            let handler = p.match_indices(" on").any(|(i, _)| {
                let rest = &p[i + 3..];
                let name: String = rest
                    .chars()
                    .take_while(|c| c.is_ascii_alphabetic())
                    .collect();
                !name.is_empty() && rest[name.len()..].starts_with('=')
            });
            assert!(!handler, "no inline event handlers");
        }
    }
}
