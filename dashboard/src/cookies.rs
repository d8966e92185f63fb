//! The dashboard's cookies: reading one from a `Cookie` header and writing `Set-Cookie` values.
//! All are HttpOnly (no script may read a token) and SameSite (Lax for the session, so a link from
//! elsewhere still arrives signed in; Strict for the one-time new key). `Secure` is added whenever
//! the dashboard is served over HTTPS.

/// The Supabase Auth access token.
pub const SESSION: &str = "wl_session";
/// The Supabase Auth refresh token: renews the session when the access token expires.
pub const REFRESH: &str = "wl_refresh";
pub const REFRESH_MAX_AGE_SECS: u64 = 30 * 24 * 3600;
/// Carries a just-created key from the POST to the page that shows it once (Post/Redirect/Get, so
/// a reload never creates a second key and the key never appears in a URL).
pub const NEW_KEY: &str = "wl_new_key";
pub const NEW_KEY_MAX_AGE_SECS: u64 = 120;

/// The value of cookie `name` in a `Cookie` header; empty values count as absent.
pub fn read(header: Option<&str>, name: &str) -> Option<String> {
    header?.split(';').find_map(|c| {
        c.trim()
            .strip_prefix(name)
            .and_then(|v| v.strip_prefix('='))
            .filter(|v| !v.is_empty())
            .map(str::to_string)
    })
}

/// A `Set-Cookie` value.
#[derive(Debug, Clone, PartialEq)]
pub struct SetCookie<'a> {
    pub name: &'a str,
    pub value: &'a str,
    pub path: &'a str,
    pub max_age_secs: u64,
    /// SameSite=Strict rather than Lax.
    pub strict: bool,
    pub secure: bool,
}

impl SetCookie<'_> {
    pub fn header(&self) -> String {
        format!(
            "{}={}; Path={}; HttpOnly; SameSite={}; Max-Age={}{}",
            self.name,
            self.value,
            self.path,
            if self.strict { "Strict" } else { "Lax" },
            self.max_age_secs,
            if self.secure { "; Secure" } else { "" }
        )
    }

    /// The same cookie, expired now (value emptied).
    pub fn cleared(&self) -> String {
        SetCookie {
            value: "",
            max_age_secs: 0,
            secure: false,
            ..self.clone()
        }
        .header()
    }
}

/// The session and refresh cookies of a signed-in browser.
pub fn session<'a>(
    access_token: &'a str,
    expires_in: u64,
    refresh_token: &'a str,
    secure: bool,
) -> [SetCookie<'a>; 2] {
    [
        SetCookie {
            name: SESSION,
            value: access_token,
            path: "/",
            max_age_secs: expires_in,
            strict: false,
            secure,
        },
        SetCookie {
            name: REFRESH,
            value: refresh_token,
            path: "/",
            max_age_secs: REFRESH_MAX_AGE_SECS,
            strict: false,
            secure,
        },
    ]
}

/// The one-time cookie carrying a new key to its project's page (and only there).
pub fn new_key<'a>(project_path: &'a str, key: &'a str, secure: bool) -> SetCookie<'a> {
    SetCookie {
        name: NEW_KEY,
        value: key,
        path: project_path,
        max_age_secs: NEW_KEY_MAX_AGE_SECS,
        strict: true,
        secure,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_named_cookie_only() {
        let h = Some("wl_session_old=x; wl_session=abc.def; other=1; empty=");
        assert_eq!(read(h, SESSION).as_deref(), Some("abc.def"));
        assert_eq!(read(h, "other").as_deref(), Some("1"));
        assert_eq!(read(h, "empty"), None);
        assert_eq!(read(h, "missing"), None);
        assert_eq!(read(None, SESSION), None);
    }

    #[test]
    fn session_cookies_are_httponly_lax_and_secure_over_https() {
        let [s, r] = session("tok", 3600, "ref", true);
        assert_eq!(
            s.header(),
            "wl_session=tok; Path=/; HttpOnly; SameSite=Lax; Max-Age=3600; Secure"
        );
        assert_eq!(
            r.header(),
            "wl_refresh=ref; Path=/; HttpOnly; SameSite=Lax; Max-Age=2592000; Secure"
        );
        assert_eq!(
            s.cleared(),
            "wl_session=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0"
        );
    }

    #[test]
    fn new_key_cookie_is_strict_short_and_scoped_to_the_project() {
        let c = new_key("/projects/p1", "lgw_proj_x", false);
        assert_eq!(
            c.header(),
            "wl_new_key=lgw_proj_x; Path=/projects/p1; HttpOnly; SameSite=Strict; Max-Age=120"
        );
        assert_eq!(
            c.cleared(),
            "wl_new_key=; Path=/projects/p1; HttpOnly; SameSite=Strict; Max-Age=0"
        );
    }
}
