//! Every rule a dashboard form enforces, as pure functions from the submitted fields to a typed
//! value or a [`FormError`] with the message the page shows. The browser checks the same limits
//! (`required`, `maxlength`, `min`/`max`), but only these checks are trusted: a hand-made POST gets
//! the same answer.
//!
//! Also the notices shown after a successful form (Post/Redirect/Get carries them as a code in the
//! URL, so only known codes turn into text) and the id check for path segments.

use watchllm_proxy::api_key::KeyKind;
use watchllm_proxy::models::Provider;

/// Longest project or key name (the `projects.name` check in SQL says the same).
pub const NAME_MAX_CHARS: usize = 100;
/// Provider API keys are at least this long (shorter is a paste mistake) and at most this long.
pub const PROVIDER_KEY_CHARS: std::ops::RangeInclusive<usize> = 8..=512;
/// Semantic-cache threshold the settings accept (below 0.5 nearly anything would match).
pub const THRESHOLD: std::ops::RangeInclusive<f64> = 0.5..=1.0;
/// Cache TTL the settings accept: one minute to thirty days.
pub const TTL_SECS: std::ops::RangeInclusive<u64> = 60..=2_592_000;
/// Most origins a project's allow-list may hold.
pub const ORIGINS_MAX: usize = 50;
/// A rejected origin is named in the message up to this many characters.
const ENTRY_SHOWN_CHARS: usize = 80;

/// The fields of a submitted form (`application/x-www-form-urlencoded`), values trimmed.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Fields(Vec<(String, String)>);

impl Fields {
    pub fn parse(body: &[u8]) -> Fields {
        Fields(
            form_urlencoded::parse(body)
                .map(|(k, v)| (k.into_owned(), v.trim().to_string()))
                .collect(),
        )
    }

    /// The first value of `name`, or "" when absent.
    pub fn get(&self, name: &str) -> &str {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .unwrap_or_default()
    }
}

/// A form that cannot be applied, with the message the page shows.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FormError {
    #[error("Enter your email and a password.")]
    Credentials,
    #[error("A project needs a name of 1 to 100 characters.")]
    ProjectName,
    #[error("Tick the box to confirm deleting the project.")]
    DeleteNotConfirmed,
    #[error("Choose a provider and paste its API key.")]
    ProviderKey,
    #[error("Threshold must be 0.5 to 1 and TTL 60 s to 30 days.")]
    CacheSettings,
    #[error("Threshold floor must be empty (no floor) or 0.5 to 1.")]
    ThresholdFloor,
    /// A floor above the project's own threshold would refuse what requests get by default.
    #[error("Threshold floor cannot be above the threshold: requests that ask for no threshold use the threshold.")]
    FloorAboveThreshold,
    /// One entry of the allowed origins (shown cut to 80 characters) is not an origin.
    #[error("Allowed origins: \"{0}\" is not an origin. Enter one per line as scheme and host, like https://app.example.com or http://localhost:3000 (no path), or https://*.example.com for every subdomain.")]
    Origin(String),
    #[error("Allowed origins: at most 50 entries.")]
    TooManyOrigins,
    #[error("Billing is not available right now.")]
    BillingPlan,
    #[error("No subscription to manage yet.")]
    NoSubscription,
    /// Stripe refused or failed to create the Checkout or Portal session.
    #[error("Stripe could not start the session; please try again.")]
    StripeSession,
}

/// Sign in or sign up.
#[derive(Debug, Clone, PartialEq)]
pub struct Login {
    pub email: String,
    pub password: String,
    pub signup: bool,
}

pub fn login(f: &Fields) -> Result<Login, FormError> {
    let (email, password) = (f.get("email"), f.get("password"));
    if email.is_empty() || password.is_empty() {
        return Err(FormError::Credentials);
    }
    Ok(Login {
        email: email.to_string(),
        password: password.to_string(),
        signup: f.get("action") == "signup",
    })
}

/// A new project's name, or a new name for one: 1 to 100 characters.
pub fn project_name(f: &Fields) -> Result<String, FormError> {
    let name = f.get("name");
    if name.is_empty() || name.chars().count() > NAME_MAX_CHARS {
        return Err(FormError::ProjectName);
    }
    Ok(name.to_string())
}

/// Deleting a project needs the confirmation box ticked.
pub fn delete_confirmed(f: &Fields) -> Result<(), FormError> {
    match f.get("confirm") {
        "yes" => Ok(()),
        _ => Err(FormError::DeleteNotConfirmed),
    }
}

/// A key to create: its kind (live unless test is asked for) and optional name.
#[derive(Debug, Clone, PartialEq)]
pub struct NewKey {
    pub kind: KeyKind,
    /// Cut to 100 characters; `None` when blank.
    pub name: Option<String>,
}

pub fn new_key(f: &Fields) -> NewKey {
    let kind = match f.get("kind") {
        "test" => KeyKind::Test,
        _ => KeyKind::Live,
    };
    let name: String = f.get("name").chars().take(NAME_MAX_CHARS).collect();
    NewKey {
        kind,
        name: Some(name).filter(|n| !n.is_empty()),
    }
}

/// A provider key to store (encrypted) for one provider.
#[derive(Debug, Clone, PartialEq)]
pub struct ProviderKey {
    pub provider: Provider,
    pub key: String,
}

pub fn provider_key(f: &Fields) -> Result<ProviderKey, FormError> {
    let provider = Provider::from_name(f.get("provider")).ok_or(FormError::ProviderKey)?;
    let key = f.get("key");
    if !PROVIDER_KEY_CHARS.contains(&key.len()) {
        return Err(FormError::ProviderKey);
    }
    Ok(ProviderKey {
        provider,
        key: key.to_string(),
    })
}

/// The semantic-cache embedder a project uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Embedder {
    /// In the Worker: no network call, no cost.
    Local,
    /// OpenAI's embeddings with the project's own OpenAI key.
    OpenAi,
}

impl Embedder {
    pub fn as_str(self) -> &'static str {
        match self {
            Embedder::Local => "local",
            Embedder::OpenAi => "openai",
        }
    }
}

/// The cache settings form.
#[derive(Debug, Clone, PartialEq)]
pub struct CacheSettings {
    pub semantic: bool,
    pub threshold: f64,
    pub ttl_secs: u64,
    pub embedder: Embedder,
    /// The lowest threshold a request may ask for; `None` (stored null) when left empty.
    pub threshold_floor: Option<f64>,
    /// Every request must name a cache namespace.
    pub require_namespace: bool,
    /// The web origins the project's keys work from, normalised; `None` (stored null: any
    /// origin) when left empty.
    pub allowed_origins: Option<Vec<String>>,
}

pub fn cache_settings(f: &Fields) -> Result<CacheSettings, FormError> {
    let threshold = f
        .get("threshold")
        .parse()
        .ok()
        .filter(|t| THRESHOLD.contains(t));
    let ttl = f.get("ttl").parse().ok().filter(|t| TTL_SECS.contains(t));
    let (Some(threshold), Some(ttl_secs)) = (threshold, ttl) else {
        return Err(FormError::CacheSettings);
    };
    let threshold_floor = match f.get("threshold_floor") {
        "" => None,
        floor => Some(
            floor
                .parse()
                .ok()
                .filter(|t| THRESHOLD.contains(t))
                .ok_or(FormError::ThresholdFloor)?,
        ),
    };
    if threshold_floor.is_some_and(|floor| floor > threshold) {
        return Err(FormError::FloorAboveThreshold);
    }
    Ok(CacheSettings {
        semantic: f.get("semantic") == "on",
        threshold,
        ttl_secs,
        embedder: match f.get("embedder") {
            "openai" => Embedder::OpenAi,
            _ => Embedder::Local,
        },
        threshold_floor,
        require_namespace: f.get("require_namespace") == "on",
        allowed_origins: allowed_origins(f.get("allowed_origins"))?,
    })
}

/// The allowed origins as typed: entries separated by line breaks, spaces or commas, each
/// normalised ([`origin`]), duplicates dropped, at most [`ORIGINS_MAX`]. Nothing entered is
/// `None`: any origin.
pub fn allowed_origins(text: &str) -> Result<Option<Vec<String>>, FormError> {
    let mut list: Vec<String> = Vec::new();
    for entry in text
        .split(|c: char| c.is_whitespace() || c == ',')
        .filter(|e| !e.is_empty())
    {
        let o = origin(entry)
            .ok_or_else(|| FormError::Origin(entry.chars().take(ENTRY_SHOWN_CHARS).collect()))?;
        if !list.contains(&o) {
            list.push(o);
        }
    }
    if list.len() > ORIGINS_MAX {
        return Err(FormError::TooManyOrigins);
    }
    Ok(Some(list).filter(|l| !l.is_empty()))
}

/// One web origin as browsers send it in `Origin`: `http` or `https`, `://`, a host name (or
/// `*.` and a domain: every subdomain, as the proxy matches it), an IPv4 address or a bracketed
/// IPv6 one, an optional port; no user, path, query or fragment (one trailing `/` is dropped).
/// Scheme and host are lowercased and a default port (`:443` for https, `:80` for http) is
/// dropped, since browsers never send it. `None` when it is not an origin.
pub fn origin(entry: &str) -> Option<String> {
    let entry = entry.trim();
    let entry = entry.strip_suffix('/').unwrap_or(entry);
    let (scheme, authority) = entry.split_once("://")?;
    let scheme = scheme.to_ascii_lowercase();
    let default_port = match scheme.as_str() {
        "https" => "443",
        "http" => "80",
        _ => return None,
    };
    let authority = authority.to_ascii_lowercase();
    let (host, port) = match authority.rsplit_once(':') {
        // A bracketed IPv6 address holds colons of its own.
        Some((host, port)) if !port.contains(']') => (host, Some(port)),
        _ => (authority.as_str(), None),
    };
    let host_ok = match host.strip_prefix("*.") {
        Some(domain) => domain.contains('.') && is_host_name(domain),
        None => is_host_name(host) || is_ipv6_literal(host),
    };
    if !host_ok {
        return None;
    }
    match port {
        None => Some(format!("{scheme}://{host}")),
        Some(p) if p == default_port => Some(format!("{scheme}://{host}")),
        Some(p) if !p.starts_with('0') && p.parse::<u16>().is_ok_and(|n| n > 0) => {
            Some(format!("{scheme}://{host}:{p}"))
        }
        Some(_) => None,
    }
}

/// A DNS name (or an IPv4 address, which has the same shape): dot-separated labels of 1 to 63
/// lowercase letters, digits and inner hyphens, at most 253 characters.
fn is_host_name(host: &str) -> bool {
    host.len() <= 253
        && host.split('.').all(|label| {
            (1..=63).contains(&label.len())
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        })
}

/// `[...]` holding an IPv6 address.
fn is_ipv6_literal(host: &str) -> bool {
    host.strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .is_some_and(|addr| addr.parse::<std::net::Ipv6Addr>().is_ok())
}

/// The plans a project can buy through Checkout.
pub const PAID_PLANS: [&str; 2] = ["starter", "pro"];

/// The plan asked for at checkout.
pub fn checkout_plan(f: &Fields) -> Result<&'static str, FormError> {
    PAID_PLANS
        .into_iter()
        .find(|p| *p == f.get("plan"))
        .ok_or(FormError::BillingPlan)
}

/// What the project page says after a form went through (the `notice` code in the redirect).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Notice {
    Renamed,
    KeyCreated,
    Revoked,
    ProviderSaved,
    ProviderRemoved,
    SettingsSaved,
    CheckoutComplete,
    CheckoutCancelled,
}

impl Notice {
    const ALL: [Notice; 8] = [
        Notice::Renamed,
        Notice::KeyCreated,
        Notice::Revoked,
        Notice::ProviderSaved,
        Notice::ProviderRemoved,
        Notice::SettingsSaved,
        Notice::CheckoutComplete,
        Notice::CheckoutCancelled,
    ];

    pub fn code(self) -> &'static str {
        match self {
            Notice::Renamed => "renamed",
            Notice::KeyCreated => "key-created",
            Notice::Revoked => "revoked",
            Notice::ProviderSaved => "provider-saved",
            Notice::ProviderRemoved => "provider-removed",
            Notice::SettingsSaved => "settings-saved",
            Notice::CheckoutComplete => "checkout-complete",
            Notice::CheckoutCancelled => "checkout-cancelled",
        }
    }

    /// Unknown codes are `None`: the URL can never put arbitrary text on the page.
    pub fn from_code(code: &str) -> Option<Notice> {
        Notice::ALL.into_iter().find(|n| n.code() == code)
    }

    pub fn message(self) -> &'static str {
        match self {
            Notice::Renamed => "Project renamed.",
            Notice::KeyCreated => "Key created.",
            Notice::Revoked => "Key revoked. It stops working within a minute.",
            Notice::ProviderSaved => "Provider key saved.",
            Notice::ProviderRemoved => "Provider key removed.",
            Notice::SettingsSaved => "Cache settings saved.",
            Notice::CheckoutComplete => {
                "Thanks! Your plan changes as soon as Stripe confirms the payment."
            }
            Notice::CheckoutCancelled => "Checkout cancelled; your plan is unchanged.",
        }
    }
}

/// A UUID as it appears in paths (`projects/<id>`, `keys/<id>`): checked before it reaches a
/// REST filter, so a path can never add a filter of its own.
pub fn is_uuid(s: &str) -> bool {
    s.len() == 36
        && s.char_indices().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => c == '-',
            _ => c.is_ascii_hexdigit(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(body: &str) -> Fields {
        Fields::parse(body.as_bytes())
    }

    #[test]
    fn fields_decode_and_trim() {
        let f = fields("name=+My+app%21+&name=second&empty=");
        assert_eq!(f.get("name"), "My app!");
        assert_eq!(f.get("empty"), "");
        assert_eq!(f.get("absent"), "");
    }

    #[test]
    fn login_needs_both_fields() {
        assert_eq!(login(&fields("email=a%40b.c")), Err(FormError::Credentials));
        assert_eq!(login(&fields("password=x")), Err(FormError::Credentials));
        let l = login(&fields("email=a%40b.c&password=pw&action=signup")).unwrap();
        assert_eq!((l.email.as_str(), l.signup), ("a@b.c", true));
        assert!(
            !login(&fields("email=a&password=pw&action=signin"))
                .unwrap()
                .signup
        );
    }

    #[test]
    fn project_names_are_1_to_100_characters() {
        assert_eq!(
            project_name(&fields("name=++")),
            Err(FormError::ProjectName)
        );
        let hundred = "é".repeat(100);
        let ok = format!(
            "name={}",
            form_urlencoded::byte_serialize(hundred.as_bytes()).collect::<String>()
        );
        assert_eq!(
            project_name(&fields(&ok)).unwrap(),
            hundred,
            "characters, not bytes"
        );
        assert_eq!(
            project_name(&fields(&format!("{ok}x"))),
            Err(FormError::ProjectName)
        );
        assert_eq!(
            FormError::ProjectName.to_string(),
            "A project needs a name of 1 to 100 characters."
        );
    }

    #[test]
    fn delete_needs_the_box() {
        for unticked in ["", "confirm=on", "confirm=YES"] {
            let e = delete_confirmed(&fields(unticked));
            assert_eq!(e, Err(FormError::DeleteNotConfirmed), "{unticked}");
        }
        assert_eq!(delete_confirmed(&fields("confirm=yes")), Ok(()));
    }

    #[test]
    fn new_keys_are_live_unless_test_and_names_are_cut() {
        assert_eq!(
            new_key(&fields("kind=test")),
            NewKey {
                kind: KeyKind::Test,
                name: None
            }
        );
        let k = new_key(&fields(&format!("kind=admin&name={}", "n".repeat(150))));
        assert_eq!((k.kind, k.name.unwrap().len()), (KeyKind::Live, 100));
    }

    #[test]
    fn provider_keys_need_a_known_provider_and_a_plausible_length() {
        let ok = provider_key(&fields("provider=groq&key=gsk-12345678")).unwrap();
        assert_eq!(
            (ok.provider, ok.key.as_str()),
            (Provider::Groq, "gsk-12345678")
        );
        let long = format!("provider=openai&key={}", "k".repeat(513));
        for bad in [
            "provider=mistral&key=12345678",
            "provider=openai&key=1234567",
            &long,
        ] {
            let e = provider_key(&fields(bad));
            assert_eq!(e, Err(FormError::ProviderKey), "{bad}");
        }
    }

    #[test]
    fn cache_settings_bound_threshold_and_ttl() {
        let s =
            cache_settings(&fields("semantic=on&threshold=0.9&ttl=600&embedder=openai")).unwrap();
        assert_eq!(
            s,
            CacheSettings {
                semantic: true,
                threshold: 0.9,
                ttl_secs: 600,
                embedder: Embedder::OpenAi,
                threshold_floor: None,
                require_namespace: false,
                allowed_origins: None,
            }
        );
        let off = cache_settings(&fields("threshold=1&ttl=60&embedder=other")).unwrap();
        assert_eq!((off.semantic, off.embedder.as_str()), (false, "local"));
        for bad in [
            "threshold=0.49&ttl=600",
            "threshold=1.01&ttl=600",
            "threshold=x&ttl=600",
            "threshold=0.9&ttl=59",
            "threshold=0.9&ttl=2592001",
            "threshold=0.9",
        ] {
            assert_eq!(
                cache_settings(&fields(bad)),
                Err(FormError::CacheSettings),
                "{bad}"
            );
        }
    }

    #[test]
    fn cache_settings_take_a_floor_a_namespace_requirement_and_origins() {
        let s = cache_settings(&fields(
            "threshold=0.95&ttl=600&threshold_floor=0.9&require_namespace=on&allowed_origins=https%3A%2F%2FApp.Example.com%2F%0D%0Ahttp%3A%2F%2Flocalhost%3A3000",
        ))
        .unwrap();
        assert_eq!(s.threshold_floor, Some(0.9));
        assert!(s.require_namespace);
        assert_eq!(
            s.allowed_origins.unwrap(),
            ["https://app.example.com", "http://localhost:3000"]
        );
        let none = cache_settings(&fields(
            "threshold=0.95&ttl=600&threshold_floor=&allowed_origins=+%0D%0A+",
        ))
        .unwrap();
        assert_eq!(
            (
                none.threshold_floor,
                none.require_namespace,
                none.allowed_origins
            ),
            (None, false, None),
            "empty fields store null"
        );
        let equal = cache_settings(&fields("threshold=0.9&ttl=600&threshold_floor=0.9")).unwrap();
        assert_eq!(
            equal.threshold_floor,
            Some(0.9),
            "a floor may equal the threshold"
        );
        for (bad, e) in [
            ("threshold_floor=0.49", FormError::ThresholdFloor),
            ("threshold_floor=1.01", FormError::ThresholdFloor),
            ("threshold_floor=0", FormError::ThresholdFloor),
            ("threshold_floor=high", FormError::ThresholdFloor),
            ("threshold_floor=0.96", FormError::FloorAboveThreshold),
            (
                "allowed_origins=https%3A%2F%2Fa.example+example.com",
                FormError::Origin("example.com".into()),
            ),
        ] {
            let body = format!("threshold=0.95&ttl=600&{bad}");
            assert_eq!(cache_settings(&fields(&body)), Err(e), "{bad}");
        }
        assert_eq!(
            cache_settings(&fields("threshold=2&ttl=600&threshold_floor=0.9")),
            Err(FormError::CacheSettings),
            "the threshold is checked first"
        );
    }

    #[test]
    fn origins_are_normalised() {
        for (entry, want) in [
            ("https://app.example.com", "https://app.example.com"),
            ("HTTPS://App.Example.COM/", "https://app.example.com"),
            ("  http://localhost:3000  ", "http://localhost:3000"),
            ("https://app.example.com:443", "https://app.example.com"),
            ("http://app.example.com:80/", "http://app.example.com"),
            ("http://app.example.com:443", "http://app.example.com:443"),
            (
                "https://app.example.com:8443",
                "https://app.example.com:8443",
            ),
            ("http://127.0.0.1:8080", "http://127.0.0.1:8080"),
            ("http://[::1]:5173", "http://[::1]:5173"),
            ("https://[2001:DB8::1]", "https://[2001:db8::1]"),
            ("https://*.Example.com", "https://*.example.com"),
            (
                "https://xn--bcher-kva.example",
                "https://xn--bcher-kva.example",
            ),
        ] {
            assert_eq!(origin(entry).as_deref(), Some(want), "{entry}");
        }
    }

    #[test]
    fn anything_but_an_http_origin_is_refused() {
        for bad in [
            "example.com",
            "//example.com",
            "ftp://example.com",
            "chrome-extension://abcdef",
            "https://",
            "https:///",
            "https://example.com/app",
            "https://example.com//",
            "https://example.com?x=1",
            "https://example.com#top",
            "https://user@example.com",
            "https://example.com:",
            "https://example.com:0",
            "https://example.com:65536",
            "https://example.com:080",
            "https://example.com:http",
            "https://exa_mple.com",
            "https://-example.com",
            "https://example..com",
            "https://example.com.",
            "https://bücher.example",
            "https://*",
            "https://*.com",
            "https://a.*.example.com",
            "https://[::1",
            "https://[not-ip]",
            "null",
            "*",
        ] {
            assert_eq!(origin(bad), None, "{bad}");
        }
    }

    #[test]
    fn origin_lists_split_dedupe_cap_and_name_the_bad_entry() {
        let list = allowed_origins(
            "https://a.example,https://b.example https://A.example/\r\n\r\n\thttp://c.example:8080,",
        )
        .unwrap()
        .unwrap();
        assert_eq!(
            list,
            [
                "https://a.example",
                "https://b.example",
                "http://c.example:8080"
            ]
        );
        assert_eq!(allowed_origins(" , \n "), Ok(None));
        let e = allowed_origins("https://ok.example\nhttps://ok.example/path").unwrap_err();
        assert_eq!(e, FormError::Origin("https://ok.example/path".into()));
        assert!(e
            .to_string()
            .contains("\"https://ok.example/path\" is not an origin"));
        let long = format!("https://{}", "a".repeat(200));
        match allowed_origins(&long) {
            Err(FormError::Origin(shown)) => assert_eq!(shown.chars().count(), 80),
            other => panic!("{other:?}"),
        }
        let fifty: Vec<String> = (0..50).map(|i| format!("https://s{i}.example")).collect();
        assert_eq!(
            allowed_origins(&fifty.join("\n")).unwrap().unwrap().len(),
            50
        );
        let mut fifty_one = fifty.clone();
        fifty_one.push("https://one-more.example".into());
        assert_eq!(
            allowed_origins(&fifty_one.join("\n")),
            Err(FormError::TooManyOrigins)
        );
        fifty_one[50] = "https://S0.example".into();
        assert_eq!(
            allowed_origins(&fifty_one.join("\n"))
                .unwrap()
                .unwrap()
                .len(),
            50,
            "duplicates count once"
        );
    }

    #[test]
    fn checkout_takes_only_paid_plans() {
        assert_eq!(checkout_plan(&fields("plan=pro")), Ok("pro"));
        assert_eq!(
            checkout_plan(&fields("plan=free")),
            Err(FormError::BillingPlan)
        );
        assert_eq!(
            checkout_plan(&fields("plan=enterprise")),
            Err(FormError::BillingPlan)
        );
    }

    #[test]
    fn notices_round_trip_and_unknown_codes_show_nothing() {
        for n in Notice::ALL {
            assert_eq!(Notice::from_code(n.code()), Some(n));
            assert!(n.message().ends_with('.'));
        }
        assert_eq!(Notice::from_code("<script>"), None);
    }

    #[test]
    fn uuids_have_the_canonical_shape() {
        assert!(is_uuid("0f8fad5b-d9cb-469f-a165-70867728950e"));
        assert!(!is_uuid("0f8fad5b-d9cb-469f-a165-70867728950"));
        assert!(!is_uuid("0f8fad5b-d9cb-469f-a165&70867728950e"));
        assert!(!is_uuid("0f8fad5bxd9cb-469f-a165-70867728950e"));
        assert!(!is_uuid("------------------------------------"));
    }
}
