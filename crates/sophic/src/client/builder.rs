//! Configuring a [`Client`].

use std::fmt;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use sophic_client::{ClientState, HttpService};

use super::auth::TokenManager;
use super::retry::RetryPolicy;
use super::{Client, Inner, WaitDefaults};
use crate::{Error, Result};

/// Sophic's production API.
pub const PRODUCTION_URL: &str = "https://api.engine.usesophic.com";

const DEFAULT_USER_AGENT: &str = concat!("sophic-rust/", env!("CARGO_PKG_VERSION"));
const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// An API client's OAuth credentials, exchanged for short-lived tokens at `POST /auth/token`.
///
/// `Debug` never shows the secret.
#[derive(Clone)]
pub struct ClientCredentials {
    pub(crate) client_id: String,
    pub(crate) client_secret: SecretString,
    pub(crate) scope: Option<String>,
}

impl ClientCredentials {
    /// Credentials with all of the client's scopes.
    pub fn new(client_id: impl Into<String>, client_secret: impl Into<String>) -> Self {
        Self {
            client_id: client_id.into(),
            client_secret: SecretString::from(client_secret.into()),
            scope: None,
        }
    }

    /// Asks for these space-separated scopes only.
    pub fn scope(mut self, scope: impl Into<String>) -> Self {
        self.scope = Some(scope.into());
        self
    }

    /// The client id (not a secret).
    pub fn client_id(&self) -> &str {
        &self.client_id
    }
}

impl fmt::Debug for ClientCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientCredentials")
            .field("client_id", &self.client_id)
            .field("client_secret", &Redacted)
            .field("scope", &self.scope)
            .finish()
    }
}

/// How the client authenticates.
#[derive(Clone)]
pub(crate) enum Credentials {
    Token(SecretString),
    ClientCredentials(ClientCredentials),
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Token(_) => f.debug_tuple("Token").field(&Redacted).finish(),
            Self::ClientCredentials(credentials) => credentials.fmt(f),
        }
    }
}

pub(crate) struct Redacted;

impl fmt::Debug for Redacted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[REDACTED]")
    }
}

/// Builds a [`Client`]; start from [`Client::builder`].
///
/// ```no_run
/// use std::time::Duration;
/// use sophic::{Client, RetryPolicy};
///
/// let client = Client::builder()
///     .base_url("http://127.0.0.1:8080")
///     .client_credentials("cli_123", std::env::var("SOPHIC_CLIENT_SECRET")?)
///     .request_timeout(Duration::from_secs(10))
///     .retry_policy(RetryPolicy::default().max_attempts(6))
///     .build()?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
#[must_use]
pub struct ClientBuilder {
    base_url: String,
    credentials: Option<Credentials>,
    connect_timeout: Duration,
    request_timeout: Duration,
    user_agent: String,
    retry: RetryPolicy,
    http_client: Option<reqwest::Client>,
    wait: WaitDefaults,
    insecure_http_allowed: bool,
    detect_duplicates: bool,
    /// Middleware, outermost first.
    layers: Vec<Layer>,
}

/// One layer of middleware, boxed so that a builder can hold layers of different types.
#[derive(Clone)]
struct Layer(std::sync::Arc<dyn Fn(HttpService) -> HttpService + Send + Sync>);

impl std::fmt::Debug for Layer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Layer")
    }
}

impl Default for ClientBuilder {
    fn default() -> Self {
        Self {
            base_url: PRODUCTION_URL.to_owned(),
            credentials: None,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            request_timeout: DEFAULT_REQUEST_TIMEOUT,
            user_agent: DEFAULT_USER_AGENT.to_owned(),
            retry: RetryPolicy::default(),
            http_client: None,
            wait: WaitDefaults::default(),
            insecure_http_allowed: false,
            detect_duplicates: true,
            layers: Vec::new(),
        }
    }
}

impl ClientBuilder {
    /// Where the API lives: production (the default), or another deployment such as a
    /// local sandbox at `http://127.0.0.1:8080`. Plain `http://` is for loopback only
    /// (`127.0.0.0/8`, `::1`, `localhost`) unless
    /// [`ClientBuilder::danger_allow_insecure_http`] is set: credentials never travel in
    /// clear text by accident.
    pub fn base_url(mut self, base_url: impl Into<String>) -> Self {
        self.base_url = base_url.into();
        self
    }

    /// Authenticates every request with this bearer token. It is not renewed: when it
    /// expires, calls fail with 401 `not_authenticated`.
    pub fn token(mut self, token: impl Into<String>) -> Self {
        self.credentials = Some(Credentials::Token(SecretString::from(token.into())));
        self
    }

    /// Authenticates with OAuth client credentials: the client fetches a token, renews it
    /// before it expires, and renews it once more if the API answers 401.
    pub fn client_credentials(
        self,
        client_id: impl Into<String>,
        client_secret: impl Into<String>,
    ) -> Self {
        self.credentials(ClientCredentials::new(client_id, client_secret))
    }

    /// [`ClientBuilder::client_credentials`], with a scope or from a value already built.
    pub fn credentials(mut self, credentials: ClientCredentials) -> Self {
        self.credentials = Some(Credentials::ClientCredentials(credentials));
        self
    }

    /// Whether a placement looks for a twin when a retry was answered as a new order after
    /// an attempt that may have placed it (on by default): a twin found is
    /// [`Error::Duplicate`], never a silent success. Off, such a placement returns the
    /// order the last attempt placed, as if the service always honoured keys. See
    /// [`crate::Duplicate`] for what the look can and cannot catch.
    pub fn detect_duplicate_placements(mut self, on: bool) -> Self {
        self.detect_duplicates = on;
        self
    }

    /// Lets the token or client secret travel over plain `http://` to a host that is not
    /// loopback. **For test rigs only** (a sandbox on another machine of a private
    /// network): anyone on the path can read them. Without it, [`ClientBuilder::build`]
    /// refuses such a base URL with [`Error::InsecureHttp`]; loopback and `https://` never
    /// need it.
    pub fn danger_allow_insecure_http(mut self) -> Self {
        self.insecure_http_allowed = true;
        self
    }

    /// The longest a connection may take to open (10 s by default). Ignored with
    /// [`ClientBuilder::http_client`].
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// The longest one attempt may take, answer included (30 s by default). Ignored with
    /// [`ClientBuilder::http_client`].
    pub fn request_timeout(mut self, timeout: Duration) -> Self {
        self.request_timeout = timeout;
        self
    }

    /// The `User-Agent` header (`sophic-rust/<version>` by default). Ignored with
    /// [`ClientBuilder::http_client`].
    pub fn user_agent(mut self, user_agent: impl Into<String>) -> Self {
        self.user_agent = user_agent.into();
        self
    }

    /// How failed requests are retried; see [`RetryPolicy`].
    pub fn retry_policy(mut self, policy: RetryPolicy) -> Self {
        self.retry = policy;
        self
    }

    /// Sends requests through this `reqwest::Client` (for proxies, custom TLS roots,
    /// connection pools shared with other code). Timeouts and user agent are then its own.
    pub fn http_client(mut self, client: reqwest::Client) -> Self {
        self.http_client = Some(client);
        self
    }

    /// Wraps every HTTP exchange (the API's and the token endpoint's) in a tower layer: your
    /// own middleware, for OpenTelemetry spans, an extra header, a proxy rule or a
    /// client-side rate limit, without replacing the `reqwest::Client`. Layers added first
    /// are outermost, as in `tower::ServiceBuilder`. The SDK's retries, idempotency keys
    /// and timeouts stay outside: each attempt passes through the layers once.
    ///
    /// ```
    /// use sophic::Client;
    /// use tower::util::MapRequestLayer;
    ///
    /// let client = Client::builder()
    ///     .base_url("http://127.0.0.1:4010")
    ///     .token("token")
    ///     .layer(MapRequestLayer::new(|mut request: reqwest::Request| {
    ///         request.headers_mut().insert("x-team", "payments".parse().unwrap());
    ///         request
    ///     }))
    ///     .build()?;
    /// # Ok::<(), sophic::Error>(())
    /// ```
    pub fn layer<L>(mut self, layer: L) -> Self
    where
        L: tower::Layer<HttpService> + Send + Sync + 'static,
        L::Service: tower::Service<reqwest::Request, Response = reqwest::Response, Error = reqwest::Error>
            + Clone
            + Send
            + Sync
            + 'static,
        <L::Service as tower::Service<reqwest::Request>>::Future: Send + 'static,
    {
        self.layers.push(Layer(std::sync::Arc::new(move |inner| {
            HttpService::new(layer.layer(inner))
        })));
        self
    }

    /// The first interval between two polls of an order being waited for (1 s by default).
    pub fn poll_interval(mut self, interval: Duration) -> Self {
        self.wait.poll_interval = interval;
        self
    }

    /// The interval polling slows down to while nothing changes (10 s by default).
    pub fn max_poll_interval(mut self, interval: Duration) -> Self {
        self.wait.max_poll_interval = interval;
        self
    }

    /// How long waiting for an order lasts before giving up (5 minutes by default).
    pub fn wait_timeout(mut self, timeout: Duration) -> Self {
        self.wait.timeout = timeout;
        self
    }

    /// A `reqwest` builder with the SDK's user agent (and, with the `rustls` feature, its
    /// TLS), to customise (proxies, roots, pool settings) and hand to
    /// [`ClientBuilder::http_client`].
    pub fn reqwest_builder() -> reqwest::ClientBuilder {
        reqwest::Client::builder().user_agent(DEFAULT_USER_AGENT)
    }

    /// Checks the configuration and builds the client. Fails with [`Error::InsecureHttp`]
    /// for a plain `http://` base URL off loopback (see
    /// [`ClientBuilder::danger_allow_insecure_http`]), and with [`Error::InvalidInput`] for
    /// a base URL that is not one, missing credentials, a token that cannot be sent, or
    /// client credentials with an empty id or secret.
    pub fn build(self) -> Result<Client> {
        let url = parse_base_url(&self.base_url)?;
        let credentials = self.credentials.clone().ok_or_else(|| {
            Error::invalid_input("no credentials: call `token` or `client_credentials`")
        })?;
        if !self.insecure_http_allowed {
            refuse_clear_text(&url)?;
        }
        let base_url = url.as_str().trim_end_matches('/').to_owned();
        let http = match self.http_client.clone() {
            Some(client) => client,
            None => self.build_http_client(&base_url)?,
        };
        // The exchange, wrapped in the user's layers (the last added innermost).
        let service = (!self.layers.is_empty()).then(|| {
            self.layers
                .iter()
                .rev()
                .fold(HttpService::new(http.clone()), |inner, layer| {
                    (layer.0)(inner)
                })
        });
        let with_layers = |state: ClientState| match &service {
            Some(service) => state.with_service(service.clone()),
            None => state,
        };
        let (state, tokens) = match &credentials {
            Credentials::Token(token) => {
                let refused = || {
                    Error::invalid_input(
                        "the token is empty or holds characters not allowed in a header",
                    )
                };
                if token.expose_secret().is_empty() {
                    return Err(refused());
                }
                // The generated client's state is the one judge of a sendable token.
                let state = ClientState::try_with_token(token.clone()).map_err(|_| refused())?;
                (with_layers(state), None)
            }
            Credentials::ClientCredentials(credentials) => {
                let state = with_layers(ClientState::new());
                let token_api = sophic_client::Client::new_with_client(
                    &base_url,
                    http.clone(),
                    with_layers(ClientState::new()),
                );
                let tokens = TokenManager::new(credentials, token_api, state.clone())?;
                (state, Some(tokens))
            }
        };
        let api = sophic_client::Client::new_with_client(&base_url, http, state);
        Ok(Client {
            settings: super::CallSettings::default(),
            inner: Arc::new(Inner {
                api,
                base_url,
                credentials,
                tokens,
                retry: self.retry,
                wait: self.wait,
                detect_duplicates: self.detect_duplicates,
            }),
        })
    }

    fn build_http_client(&self, base_url: &str) -> Result<reqwest::Client> {
        if base_url.starts_with("https:") && !cfg!(feature = "rustls") {
            return Err(Error::invalid_input(
                "an https base URL needs the `rustls` feature, or a client of your own \
                 through `http_client`",
            ));
        }
        Self::reqwest_builder()
            .user_agent(self.user_agent.clone())
            .connect_timeout(self.connect_timeout)
            .timeout(self.request_timeout)
            .build()
            .map_err(|e| Error::invalid_input(format!("could not build the HTTP client: {e}")))
    }
}

/// An absolute http(s) URL without query or fragment (paths are appended to it, once its
/// trailing slash is gone).
fn parse_base_url(base_url: &str) -> Result<reqwest::Url> {
    let invalid = |why: &str| Error::invalid_input(format!("the base URL `{base_url}` {why}"));
    let url = reqwest::Url::parse(base_url).map_err(|_| invalid("is not a URL"))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(invalid("is not http or https"));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(invalid("has a query or fragment"));
    }
    Ok(url)
}

/// Refuses plain `http://` to a host off loopback: every request would carry the
/// credentials in clear text.
fn refuse_clear_text(url: &reqwest::Url) -> Result<()> {
    let host = url.host_str().unwrap_or_default();
    if url.scheme() == "http" && !is_loopback(host) {
        return Err(Error::InsecureHttp {
            host: host.to_owned(),
        });
    }
    Ok(())
}

/// `127.0.0.0/8`, `::1` (also as `::ffff:127.x.x.x`) and `localhost`: traffic that never
/// leaves the machine. `host` is as the URL parser normalised it (IPv6 in brackets, IPv4
/// in dotted decimal, names in lower case).
fn is_loopback(host: &str) -> bool {
    let bare = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    match bare.parse::<IpAddr>() {
        Ok(IpAddr::V4(ip)) => ip.is_loopback(),
        Ok(IpAddr::V6(ip)) => {
            ip.is_loopback() || ip.to_ipv4_mapped().is_some_and(|ip| ip.is_loopback())
        }
        Err(_) => host == "localhost",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn built(base_url: &str) -> Client {
        ClientBuilder::default()
            .base_url(base_url)
            .token("tok")
            .build()
            .unwrap()
    }

    #[test]
    fn base_urls_lose_their_trailing_slash() {
        assert_eq!(
            built("http://127.0.0.1:8080/").base_url(),
            "http://127.0.0.1:8080"
        );
        #[cfg(feature = "rustls")]
        assert_eq!(
            built("https://example.com/v1/").base_url(),
            "https://example.com/v1"
        );
    }

    #[test]
    fn base_urls_that_cannot_take_a_path_are_refused() {
        for url in ["127.0.0.1:8080", "ftp://x", "http://x/?a=b", "not a url"] {
            assert!(parse_base_url(url).is_err(), "{url}");
        }
    }

    #[test]
    fn loopback_is_any_127_address_the_ipv6_one_and_localhost() {
        for url in [
            "http://127.0.0.1:8080",
            "http://127.1.2.3",
            "http://0x7f.1",
            "http://2130706433",
            "http://[::1]:4010",
            "http://[::ffff:127.0.0.1]",
            "http://localhost:4010",
            "http://LOCALHOST",
        ] {
            let url = parse_base_url(url).unwrap();
            assert!(is_loopback(url.host_str().unwrap()), "{url}");
        }
        for url in [
            "http://api.example.com",
            "http://10.0.0.7",
            "http://0.0.0.0",
            "http://[::]",
            "http://[::ffff:10.0.0.7]",
            "http://localhost.example.com",
            "http://127.0.0.1.nip.io",
        ] {
            let url = parse_base_url(url).unwrap();
            assert!(!is_loopback(url.host_str().unwrap()), "{url}");
        }
    }

    #[cfg(feature = "rustls")]
    #[test]
    fn the_default_client_talks_tls_to_production() {
        // Building the TLS configuration is where a missing rustls provider would panic.
        let client = ClientBuilder::default().token("tok").build().unwrap();
        assert_eq!(client.base_url(), PRODUCTION_URL);
        ClientBuilder::reqwest_builder().build().unwrap();
    }

    #[test]
    fn a_client_needs_credentials() {
        let err = ClientBuilder::default()
            .base_url("http://127.0.0.1:1")
            .build()
            .unwrap_err();
        assert!(err.to_string().contains("no credentials"), "{err}");
    }

    #[test]
    fn a_token_that_cannot_be_a_header_is_refused_at_build() {
        let err = ClientBuilder::default()
            .base_url("http://127.0.0.1:1")
            .token("line\nbreak")
            .build()
            .unwrap_err();
        assert!(matches!(err, Error::InvalidInput { .. }), "{err}");
        let empty = ClientBuilder::default()
            .base_url("http://127.0.0.1:1")
            .token("")
            .build()
            .unwrap_err();
        assert!(matches!(empty, Error::InvalidInput { .. }), "{empty}");
    }
}
