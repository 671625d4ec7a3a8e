package interop

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/apache/iceberg-go/catalog/rest"

	"github.com/floe-cdc/floe/lakewriter"
)

const (
	restClientID     = "floe-test"
	restClientSecret = "s3cret-client-1"
	restStaticToken  = "static-token-1"
)

// TestRESTAuth runs lakewriter and floe against Apache Iceberg's REST
// catalog server behind AuthProxy, which implements the REST spec's OAuth2
// token endpoint and refuses every request without a valid bearer token.
// Every subtest checks the proxy's counts, so none can pass by reaching
// the unauthenticated server directly.
func TestRESTAuth(t *testing.T) {
	needServers(t)
	ctx := context.Background()
	l := newLake(t, "restauth")
	rc := startRESTFor(t, l)
	proxy := startAuthProxy(t, rc.URL, AuthProxyOptions{
		ClientID: restClientID, ClientSecret: restClientSecret, StaticToken: restStaticToken})

	open := func(t *testing.T, uri, credential, token string) (*lakewriter.Catalog, error) {
		c, err := lakewriter.Open(ctx, lakewriter.Options{
			CatalogType: "rest", URI: uri, Warehouse: l.warehouse, Credential: credential, Token: token,
			S3: lakewriter.S3Options{Endpoint: sharedS3.Endpoint, Region: sharedS3.Region,
				AccessKeyID: sharedS3.AccessKey, SecretAccessKey: sharedS3.SecretKey},
		})
		if err == nil {
			t.Cleanup(func() { c.Close() })
		}
		return c, err
	}

	t.Run("proxy", func(t *testing.T) { checkAuthProxy(t, rc.URL) })

	t.Run("credential", func(t *testing.T) {
		before := proxy.Stats()
		restRoundTrip(t, func() (*lakewriter.Catalog, error) {
			return open(t, proxy.URL, restClientID+":"+restClientSecret, "")
		}, "by_credential")
		d := proxy.Stats().sub(before)
		if d.Grants < 1 || d.IssuedAuth < 4 || d.StaticAuth != 0 || d.Refused != 0 || d.GrantsRefused != 0 {
			t.Errorf("proxy saw %+v; want grants >= 1, >= 4 requests with issued tokens, nothing else", d)
		}
		t.Logf("through the proxy with sink.catalog.credential: %+v", d)
	})

	t.Run("token", func(t *testing.T) {
		before := proxy.Stats()
		restRoundTrip(t, func() (*lakewriter.Catalog, error) {
			return open(t, proxy.URL, "", restStaticToken)
		}, "by_token")
		d := proxy.Stats().sub(before)
		if d.StaticAuth < 4 || d.Grants != 0 || d.IssuedAuth != 0 || d.Refused != 0 || d.GrantsRefused != 0 {
			t.Errorf("proxy saw %+v; want >= 4 requests with the static token, nothing else", d)
		}
		t.Logf("through the proxy with sink.catalog.token: %+v", d)
	})

	t.Run("refused", func(t *testing.T) {
		port, err := FreePort()
		if err != nil {
			t.Fatal(err)
		}
		down := fmt.Sprintf("http://127.0.0.1:%d", port) // nothing listens
		refusedGrants := func(s AuthStats) int64 { return s.GrantsRefused }
		refused := func(s AuthStats) int64 { return s.Refused }
		for _, tc := range []struct {
			name, uri, credential, token string
			want                         []string // in the error text
			is                           error
			counted                      func(AuthStats) int64 // the one refusal the proxy counts
		}{
			{"wrong secret", proxy.URL, restClientID + ":wrong-secret", "", []string{"sink.catalog.credential", "issued no token", "invalid_client"},
				rest.ErrOAuthError, refusedGrants},
			{"unknown client", proxy.URL, "someone:" + restClientSecret, "", []string{"sink.catalog.credential", "issued no token", "invalid_client"},
				rest.ErrOAuthError, refusedGrants},
			{"wrong token", proxy.URL, "", "not-a-token", []string{"sink.catalog.token", "refused the bearer token", "NotAuthorizedException"},
				rest.ErrUnauthorized, refused},
			{"no credential or token", proxy.URL, "", "", []string{"requires authentication", "sink.catalog.credential", "sink.catalog.token"},
				rest.ErrUnauthorized, refused},
			// Not an authentication problem: the error must not blame the
			// credential.
			{"catalog down", down, restClientID + ":" + restClientSecret, "", []string{"connect to rest catalog " + down, "connection refused"},
				rest.ErrOAuthError, nil},
		} {
			t.Run(tc.name, func(t *testing.T) {
				before := proxy.Stats()
				_, err := open(t, tc.uri, tc.credential, tc.token)
				if err == nil {
					t.Fatal("the catalog opened")
				}
				for _, w := range tc.want {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("error %q does not mention %q", err, w)
					}
				}
				if !errors.Is(err, tc.is) {
					t.Errorf("error %q is not %v", err, tc.is)
				}
				if tc.counted == nil && strings.Contains(err.Error(), "sink.catalog.credential") {
					t.Errorf("error %q blames the credential", err)
				}
				if strings.Contains(err.Error(), restClientSecret) {
					t.Errorf("error %q shows the client secret", err)
				}
				d := proxy.Stats().sub(before)
				if tc.counted != nil && tc.counted(d) != 1 || d.IssuedAuth+d.StaticAuth != 0 {
					t.Errorf("proxy saw %+v; want exactly one refusal and nothing forwarded", d)
				}
				t.Logf("%s", err)
			})
		}
	})

	// A token expires (expires_in 11 s; golang.org/x/oauth2 renews 10 s
	// early): a catalog used past that fetches a new one and no request is
	// ever refused.
	t.Run("renewal", func(t *testing.T) {
		short := startAuthProxy(t, rc.URL, AuthProxyOptions{
			ClientID: restClientID, ClientSecret: restClientSecret, TokenTTL: 11 * time.Second})
		restRoundTrip(t, func() (*lakewriter.Catalog, error) {
			return open(t, short.URL, restClientID+":"+restClientSecret, "")
		}, "renewal", 2*time.Second)
		if s := short.Stats(); s.Grants < 2 || s.Refused != 0 {
			t.Errorf("proxy saw %+v; want >= 2 grants and no refusals", s)
		}
	})

	t.Run("floe", func(t *testing.T) { floeThroughAuthProxy(t, l, proxy) })
}

// startAuthProxy starts an AuthProxy in front of backend, stopped when the
// test ends.
func startAuthProxy(t *testing.T, backend string, opts AuthProxyOptions) *AuthProxy {
	t.Helper()
	p, err := StartAuthProxy(backend, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	return p
}

func (s AuthStats) sub(o AuthStats) AuthStats {
	return AuthStats{Grants: s.Grants - o.Grants, GrantsRefused: s.GrantsRefused - o.GrantsRefused,
		IssuedAuth: s.IssuedAuth - o.IssuedAuth, StaticAuth: s.StaticAuth - o.StaticAuth, Refused: s.Refused - o.Refused}
}

// checkAuthProxy exercises the proxy's token endpoint the way any OAuth2
// client may (form or HTTP Basic client authentication) and checks its
// refusals and that an expired token is refused.
func checkAuthProxy(t *testing.T, backend string) {
	p := startAuthProxy(t, backend, AuthProxyOptions{
		ClientID: restClientID, ClientSecret: restClientSecret, TokenTTL: time.Second})
	cl := &http.Client{Timeout: 10 * time.Second}
	grant := func(form url.Values, basic bool) (*http.Response, error) {
		req, err := http.NewRequest(http.MethodPost, p.URL+"/v1/oauth/tokens", strings.NewReader(form.Encode()))
		if err != nil {
			return nil, err
		}
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if basic {
			req.SetBasicAuth(restClientID, restClientSecret)
		}
		return cl.Do(req)
	}
	form := func(kv ...string) url.Values {
		v := url.Values{}
		for i := 0; i < len(kv); i += 2 {
			v.Set(kv[i], kv[i+1])
		}
		return v
	}
	for _, tc := range []struct {
		name   string
		form   url.Values
		basic  bool
		status int
		want   string // in the body
	}{
		{"form", form("grant_type", "client_credentials", "client_id", restClientID, "client_secret", restClientSecret, "scope", "catalog"),
			false, 200, `"token_type":"bearer"`},
		{"basic", form("grant_type", "client_credentials", "scope", "catalog"), true, 200, `"issued_token_type":"urn:ietf:params:oauth:token-type:access_token"`},
		{"wrong secret", form("grant_type", "client_credentials", "client_id", restClientID, "client_secret", "x", "scope", "catalog"),
			false, 401, `"error":"invalid_client"`},
		{"no scope", form("grant_type", "client_credentials", "client_id", restClientID, "client_secret", restClientSecret),
			false, 400, `"error":"invalid_scope"`},
		{"password grant", form("grant_type", "password", "username", "u", "password", "p", "scope", "catalog"),
			false, 400, `"error":"unsupported_grant_type"`},
	} {
		resp, err := grant(tc.form, tc.basic)
		if err != nil {
			t.Fatal(err)
		}
		var body bytes.Buffer
		_, _ = body.ReadFrom(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tc.status || !strings.Contains(body.String(), tc.want) {
			t.Errorf("%s: token endpoint answered %d %s; want %d with %s", tc.name, resp.StatusCode, body.String(), tc.status, tc.want)
		}
	}
	if s := p.Stats(); s.Grants != 2 || s.GrantsRefused != 3 {
		t.Errorf("proxy counted %+v; want 2 grants, 3 refused", s)
	}

	resp, err := grant(form("grant_type", "client_credentials", "scope", "catalog"), true)
	if err != nil {
		t.Fatal(err)
	}
	var tok struct {
		AccessToken string `json:"access_token"`
		ExpiresIn   int    `json:"expires_in"`
	}
	err = jsonDecode(resp, &tok)
	if err != nil || tok.AccessToken == "" || tok.ExpiresIn != 1 {
		t.Fatalf("token response %+v, %v", tok, err)
	}
	config := func(auth string) int {
		req, _ := http.NewRequest(http.MethodGet, p.URL+"/v1/config", nil)
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		resp, err := cl.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var e struct {
			Error struct {
				Type string `json:"type"`
				Code int    `json:"code"`
			} `json:"error"`
		}
		if resp.StatusCode == 401 {
			if err := jsonDecode(resp, &e); err != nil || e.Error.Type != "NotAuthorizedException" || e.Error.Code != 401 {
				t.Errorf("401 body: %+v, %v; want the spec's IcebergErrorResponse", e, err)
			}
		}
		return resp.StatusCode
	}
	if c := config("Bearer " + tok.AccessToken); c != 200 {
		t.Errorf("GET /v1/config with a fresh token: %d, want 200", c)
	}
	if c := config(""); c != 401 {
		t.Errorf("GET /v1/config without a token: %d, want 401", c)
	}
	if c := config("Basic " + tok.AccessToken); c != 401 {
		t.Errorf("GET /v1/config with a Basic header: %d, want 401", c)
	}
	time.Sleep(1100 * time.Millisecond)
	if c := config("Bearer " + tok.AccessToken); c != 401 {
		t.Errorf("GET /v1/config with an expired token: %d, want 401", c)
	}
}

// restRoundTrip opens a catalog, writes two commits (rows, then an upsert
// and a delete) to lake.<name> and scans; then opens a second catalog and
// reads the table again. pause, when given, is waited before each step
// after the first commit.
func restRoundTrip(t *testing.T, open func() (*lakewriter.Catalog, error), name string, pause ...time.Duration) {
	t.Helper()
	ctx := context.Background()
	wait := func() {
		for _, d := range pause {
			time.Sleep(d)
		}
	}
	c, err := open()
	if err != nil {
		t.Fatal(err)
	}
	layout := idNameLayout()
	id := lakewriter.Ident{Namespace: "lake", Name: name}
	tbl, err := c.EnsureTable(ctx, id, layout, layout.Key)
	if err != nil {
		t.Fatal(err)
	}
	commitIDNameRounds(ctx, t, tbl, wait)
	c2, err := open()
	if err != nil {
		t.Fatal(err)
	}
	tbl2, err := c2.LoadTable(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	for _, tb := range []*lakewriter.Table{tbl, tbl2} {
		checkIDNameRounds(ctx, t, tb)
	}
}

// floeThroughAuthProxy runs floe against the proxy: `floe run` with a
// wrong credential stops at once naming sink.catalog.credential; with the
// right one it streams a workload; `floe verify` with the static token then
// finds every table equal to the source.
func floeThroughAuthProxy(t *testing.T, l *lake, proxy *AuthProxy) {
	l.exec(`CREATE TABLE events (id bigint PRIMARY KEY, kind text, qty integer, ts timestamp);
		CREATE TABLE markers (id bigserial PRIMARY KEY, at timestamptz DEFAULT now());
		INSERT INTO events SELECT g, 'k' || g % 4, g, timestamp '2024-03-01' + g * interval '1 second' FROM generate_series(1, 300) g;`,
		"ALTER TABLE events OWNER TO u_restauth", "ALTER TABLE markers OWNER TO u_restauth")
	catalog := "    type: rest\n    uri: " + proxy.URL + "\n    credential: ${FLOE_REST_CREDENTIAL}\n"
	l.writeConfig(`public\..*`, catalog, l.warehouse)

	t.Setenv("FLOE_REST_CREDENTIAL", restClientID+":wrong-secret")
	before := proxy.Stats()
	out, err := runFloe(l, 2*time.Minute, "run", "--config", l.configPath)
	if err == nil || !strings.Contains(out, "sink.catalog.credential") {
		t.Fatalf("floe run with a wrong credential: %v; want a failure naming sink.catalog.credential:\n%s", err, out)
	}
	if strings.Contains(out, "wrong-secret") {
		t.Errorf("floe's output shows the client secret:\n%s", out)
	}
	if d := proxy.Stats().sub(before); d.GrantsRefused < 1 || d.IssuedAuth+d.StaticAuth != 0 {
		t.Errorf("proxy saw %+v during the refused run", d)
	}
	t.Logf("floe run with a wrong credential: %s", lastLine(out))

	t.Setenv("FLOE_REST_CREDENTIAL", restClientID+":"+restClientSecret)
	before = proxy.Stats()
	r := l.start()
	waitSlot(t, l, r) // the changes below reach floe through the stream
	l.exec("UPDATE events SET qty = -qty, kind = 'upd' WHERE id % 7 = 0", "DELETE FROM events WHERE id % 11 = 0",
		"INSERT INTO events VALUES (1000, 'new', 1, '1999-12-31 23:59:59.999999')")
	l.catchUpAndStop(r, "markers")
	d := proxy.Stats().sub(before)
	if d.Grants < 1 || d.IssuedAuth < 10 || d.Refused != 0 || d.StaticAuth != 0 {
		t.Errorf("proxy saw %+v during floe run; want grants and >= 10 requests with issued tokens, nothing refused", d)
	}
	t.Logf("floe run through the proxy: %+v", d)

	catalog = "    type: rest\n    uri: " + proxy.URL + "\n    token: ${FLOE_REST_TOKEN}\n"
	l.writeConfig(`public\..*`, catalog, l.warehouse)
	t.Setenv("FLOE_REST_TOKEN", restStaticToken)
	before = proxy.Stats()
	out, err = runFloe(l, 2*time.Minute, "verify", "--config", l.configPath)
	if err != nil || !verified(out, "public.events", "public.markers") {
		t.Fatalf("floe verify: %v\n%s", err, out)
	}
	if d := proxy.Stats().sub(before); d.StaticAuth < 2 || d.Refused != 0 {
		t.Errorf("proxy saw %+v during floe verify; want requests with the static token", d)
	}
	t.Logf("floe verify with sink.catalog.token:\n%s", strings.TrimSpace(out))
}

// waitSlot waits until floe's replication slot has its start point.
func waitSlot(t *testing.T, l *lake, r *floeRun) {
	t.Helper()
	conn := l.admin()
	for deadline := time.Now().Add(2 * time.Minute); ; {
		var ok bool
		if err := conn.QueryRow(context.Background(), `SELECT count(*) > 0 FROM pg_replication_slots
			WHERE slot_name = $1 AND confirmed_flush_lsn IS NOT NULL`, "floe_"+l.name).Scan(&ok); err != nil {
			t.Fatal(err)
		}
		if ok {
			return
		}
		select {
		case <-r.Exited:
			t.Fatalf("floe run exited early: %v\n%s", r.Err, tailFile(l.logPath, 40))
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatal("floe created no replication slot within 2 minutes")
		}
	}
}

// runFloe runs a floe command to its end (killed after limit) and returns
// its combined output.
func runFloe(l *lake, limit time.Duration, args ...string) (string, error) {
	cmd := l.floeCmd(args...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		return "", err
	}
	timer := time.AfterFunc(limit, func() { _ = cmd.Process.Kill() })
	defer timer.Stop()
	err := cmd.Wait()
	return out.String(), err
}

// verified reports whether floe verify's output has an OK line for each
// source table.
func verified(out string, tables ...string) bool {
	for _, tb := range tables {
		ok := false
		for _, line := range strings.Split(out, "\n") {
			ok = ok || strings.HasPrefix(line, "OK ") && strings.Contains(line, " "+tb+" -> ")
		}
		if !ok {
			return false
		}
	}
	return true
}

func lastLine(s string) string {
	s = strings.TrimSpace(s)
	return s[strings.LastIndexByte(s, '\n')+1:]
}

func jsonDecode(resp *http.Response, v any) error {
	defer resp.Body.Close()
	return json.NewDecoder(resp.Body).Decode(v)
}
