package interop

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// AuthProxyOptions configures StartAuthProxy.
type AuthProxyOptions struct {
	// ClientID and ClientSecret are the one OAuth2 client the token endpoint
	// accepts (client_credentials grant).
	ClientID, ClientSecret string
	// Scope must be among the scopes a token request asks for; default
	// "catalog", the scope Iceberg clients request unless told otherwise.
	Scope string
	// StaticToken, when set, is a bearer token accepted without a grant
	// (what an operator hands out for sink.catalog.token).
	StaticToken string
	// TokenTTL is the lifetime of an issued token (expires_in); default 1h.
	// Expired tokens are refused.
	TokenTTL time.Duration
}

// AuthStats counts what an AuthProxy saw.
type AuthStats struct {
	Grants        int64 // tokens issued by the token endpoint
	GrantsRefused int64 // token requests refused (bad client, grant or scope)
	IssuedAuth    int64 // requests forwarded with a token the proxy issued
	StaticAuth    int64 // requests forwarded with the static token
	Refused       int64 // requests refused with 401 (no, unknown or expired token)
}

// AuthProxy puts the Iceberg REST catalog spec's OAuth2 protection in front
// of a REST catalog that has none (Apache Iceberg's RESTCatalogServer):
// POST {base}/v1/oauth/tokens issues bearer tokens for the configured
// client (client_credentials grant, credentials in the form or in HTTP
// Basic auth); every other request needs `Authorization: Bearer <token>`
// with an unexpired issued token or the static token and is forwarded
// unchanged, or is refused with 401 and the spec's JSON error body.
type AuthProxy struct {
	URL string // the proxy's base URI, in place of the server's

	opts  AuthProxyOptions
	srv   *httptest.Server
	fwd   *httputil.ReverseProxy
	mu    sync.Mutex
	toks  map[string]time.Time // issued token -> expiry
	stats struct{ grants, grantsRefused, issuedAuth, staticAuth, refused atomic.Int64 }
}

// StartAuthProxy starts a proxy on a free 127.0.0.1 port in front of the
// REST catalog at backend (its base URI). Close stops it.
func StartAuthProxy(backend string, opts AuthProxyOptions) (*AuthProxy, error) {
	u, err := url.Parse(backend)
	if err != nil || u.Host == "" {
		return nil, fmt.Errorf("auth proxy: backend %q is not a URL", backend)
	}
	if opts.ClientID == "" || opts.ClientSecret == "" {
		return nil, fmt.Errorf("auth proxy: a client id and secret are required")
	}
	if opts.Scope == "" {
		opts.Scope = "catalog"
	}
	if opts.TokenTTL <= 0 {
		opts.TokenTTL = time.Hour
	}
	p := &AuthProxy{opts: opts, fwd: httputil.NewSingleHostReverseProxy(u), toks: map[string]time.Time{}}
	p.srv = httptest.NewServer(p)
	p.URL = p.srv.URL
	return p, nil
}

// Close stops the proxy, waiting for requests in flight.
func (p *AuthProxy) Close() {
	if p != nil {
		p.srv.Close()
	}
}

// Stats returns the counts so far.
func (p *AuthProxy) Stats() AuthStats {
	return AuthStats{
		Grants: p.stats.grants.Load(), GrantsRefused: p.stats.grantsRefused.Load(),
		IssuedAuth: p.stats.issuedAuth.Load(), StaticAuth: p.stats.staticAuth.Load(),
		Refused: p.stats.refused.Load(),
	}
}

func (p *AuthProxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/v1/oauth/tokens" {
		p.token(w, r)
		return
	}
	scheme, tok, _ := strings.Cut(r.Header.Get("Authorization"), " ")
	tok = strings.TrimSpace(tok)
	switch {
	case !strings.EqualFold(scheme, "bearer") || tok == "":
		p.unauthorized(w, "Authentication required: send Authorization: Bearer <token>")
	case p.opts.StaticToken != "" && subtle.ConstantTimeCompare([]byte(tok), []byte(p.opts.StaticToken)) == 1:
		p.stats.staticAuth.Add(1)
		p.fwd.ServeHTTP(w, r)
	case p.issued(tok):
		p.stats.issuedAuth.Add(1)
		p.fwd.ServeHTTP(w, r)
	default:
		p.unauthorized(w, "Not authorized: the bearer token is unknown or expired")
	}
}

// issued reports whether tok is an unexpired token the proxy issued.
func (p *AuthProxy) issued(tok string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	exp, ok := p.toks[tok]
	return ok && time.Now().Before(exp)
}

// unauthorized writes the spec's IcebergErrorResponse for 401.
func (p *AuthProxy) unauthorized(w http.ResponseWriter, msg string) {
	p.stats.refused.Add(1)
	w.Header().Set("WWW-Authenticate", `Bearer realm="iceberg"`)
	authJSON(w, http.StatusUnauthorized, map[string]any{"error": map[string]any{
		"message": msg, "type": "NotAuthorizedException", "code": http.StatusUnauthorized}})
}

// token implements the spec's OAuth2 token endpoint for the
// client_credentials grant.
func (p *AuthProxy) token(w http.ResponseWriter, r *http.Request) {
	fail := func(status int, code, desc string) {
		p.stats.grantsRefused.Add(1)
		if status == http.StatusUnauthorized {
			w.Header().Set("WWW-Authenticate", `Basic realm="iceberg"`)
		}
		authJSON(w, status, map[string]string{"error": code, "error_description": desc})
	}
	if r.Method != http.MethodPost {
		fail(http.StatusBadRequest, "invalid_request", "the token endpoint takes POST")
		return
	}
	if err := r.ParseForm(); err != nil {
		fail(http.StatusBadRequest, "invalid_request", "malformed form: "+err.Error())
		return
	}
	if g := r.PostForm.Get("grant_type"); g != "client_credentials" {
		fail(http.StatusBadRequest, "unsupported_grant_type", fmt.Sprintf("grant_type %q is not supported; use client_credentials", g))
		return
	}
	id, secret, basic := r.BasicAuth()
	if !basic {
		id, secret = r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
	}
	okID := subtle.ConstantTimeCompare([]byte(id), []byte(p.opts.ClientID)) == 1
	okSecret := subtle.ConstantTimeCompare([]byte(secret), []byte(p.opts.ClientSecret)) == 1
	if !okID || !okSecret {
		fail(http.StatusUnauthorized, "invalid_client", "unknown client or wrong client secret")
		return
	}
	if !slices.Contains(strings.Fields(r.PostForm.Get("scope")), p.opts.Scope) {
		fail(http.StatusBadRequest, "invalid_scope", fmt.Sprintf("request scope %q", p.opts.Scope))
		return
	}
	var b [24]byte
	_, _ = rand.Read(b[:])
	tok := "floe-test-" + hex.EncodeToString(b[:])
	p.mu.Lock()
	p.toks[tok] = time.Now().Add(p.opts.TokenTTL)
	p.mu.Unlock()
	p.stats.grants.Add(1)
	w.Header().Set("Cache-Control", "no-store")
	authJSON(w, http.StatusOK, map[string]any{
		"access_token":      tok,
		"token_type":        "bearer",
		"expires_in":        int64(p.opts.TokenTTL / time.Second),
		"issued_token_type": "urn:ietf:params:oauth:token-type:access_token",
		"scope":             p.opts.Scope,
	})
}

func authJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
