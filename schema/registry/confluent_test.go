package registry

import (
	"context"
	"encoding/base64"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/riferrei/srclient"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/sr"
	"github.com/twmb/franz-go/pkg/sr/srfake"
)

// The Confluent client is tested against franz-go's in-memory registry,
// which speaks the Confluent REST API over real HTTP but enforces no
// compatibility rule; refusals are injected with its interceptors (the
// rules themselves are tested through Embedded).

func basicAuth(user, password string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+password))
}

// TestConfluentRegister: a new subject gets the configured rule before its
// first version; registering returns the registry's ID and version; a
// repeated registration adds nothing; credentials are sent.
func TestConfluentRegister(t *testing.T) {
	ctx := context.Background()
	fake := srfake.New(srfake.WithAuth(basicAuth("floe", "s3cret")))
	defer fake.Close()
	c, err := NewConfluent(ConfluentOptions{URL: fake.URL(), Username: "floe", Password: "s3cret", Compatibility: FullTransitive})
	require.NoError(t, err)
	defer c.Close()

	subject := "shop.orders-value"
	v1 := avroOf(t, col("id", long, false))
	require.NoError(t, c.Check(ctx, subject, v1), "a new subject accepts anything valid")
	r1, err := c.Register(ctx, subject, v1)
	require.NoError(t, err)
	require.Equal(t, 1, r1.Version)
	require.Positive(t, r1.ID)
	got, ok := fake.GetSchema(subject, 1)
	require.True(t, ok)
	require.Equal(t, string(v1), got.Schema.Schema)
	require.Equal(t, r1.ID, got.ID)

	// The rule set on the subject, read back over the API.
	admin := srclient.NewSchemaRegistryClient(fake.URL())
	admin.SetCredentials("floe", "s3cret")
	lvl, err := admin.GetCompatibilityLevel(subject, false)
	require.NoError(t, err)
	require.Equal(t, srclient.FullTransitive, *lvl)

	again, err := c.Register(ctx, subject, v1)
	require.NoError(t, err)
	require.Equal(t, r1, again)
	v2 := avroOf(t, col("id", long, false), col("note", text, true))
	r2, err := c.Register(ctx, subject, v2)
	require.NoError(t, err)
	require.Equal(t, 2, r2.Version)
	require.NotEqual(t, r1.ID, r2.ID)
	_, ok = fake.GetSchema(subject, 3)
	require.False(t, ok, "the repeated registration added no version")

	// Wrong credentials: an error, never a refusal.
	bad, err := NewConfluent(ConfluentOptions{URL: fake.URL(), Username: "floe", Password: "wrong"})
	require.NoError(t, err)
	_, err = bad.Register(ctx, subject, v2)
	require.Error(t, err)
	require.False(t, IsIncompatible(err), "%v", err)
	require.Contains(t, err.Error(), "not authorized")
}

// TestConfluentBearer: a token is sent as a bearer credential.
func TestConfluentBearer(t *testing.T) {
	fake := srfake.New(srfake.WithAuth("Bearer t0ken"))
	defer fake.Close()
	c, err := NewConfluent(ConfluentOptions{URL: fake.URL(), Token: "t0ken"})
	require.NoError(t, err)
	r, err := c.Register(context.Background(), "b-value", avroOf(t, col("id", long, false)))
	require.NoError(t, err)
	require.Equal(t, 1, r.Version)
}

// TestConfluentRefusal: when the registry says a schema is incompatible,
// whether at the compatibility check or at registration (HTTP 409),
// Register returns an *IncompatibleError carrying the subject's rule, and
// nothing is registered.
func TestConfluentRefusal(t *testing.T) {
	for _, where := range []string{"check", "register"} {
		t.Run(where, func(t *testing.T) {
			ctx := context.Background()
			fake := srfake.New(srfake.WithGlobalCompat(sr.CompatBackward))
			defer fake.Close()
			c, err := NewConfluent(ConfluentOptions{URL: fake.URL()})
			require.NoError(t, err)
			subject := "shop.orders-value"
			_, err = c.Register(ctx, subject, avroOf(t, col("id", long, false), col("qty", integer, false)))
			require.NoError(t, err)

			fake.Intercept(func(w http.ResponseWriter, r *http.Request) bool {
				switch {
				case where == "check" && r.Method == http.MethodPost && strings.HasPrefix(r.URL.Path, "/compatibility/"):
					w.Header().Set("Content-Type", "application/vnd.schemaregistry.v1+json")
					_, _ = w.Write([]byte(`{"is_compatible":false}`))
					return true
				case where == "register" && r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/versions"):
					w.Header().Set("Content-Type", "application/vnd.schemaregistry.v1+json")
					w.WriteHeader(http.StatusConflict)
					_, _ = w.Write([]byte(`{"error_code":409,"message":"Schema being registered is incompatible with an earlier schema"}`))
					return true
				}
				return false
			})
			changed := avroOf(t, col("id", long, false), col("qty", text, false))
			_, err = c.Register(ctx, subject, changed)
			var ie *IncompatibleError
			require.ErrorAs(t, err, &ie)
			require.Equal(t, subject, ie.Subject)
			require.Equal(t, Backward, ie.Rule)
			_, ok := fake.GetSchema(subject, 2)
			require.False(t, ok)
		})
	}
}

// TestConfluentUnreachable: a registry that does not answer is an error
// naming the subject, and a cancelled context ends the call at once.
func TestConfluentUnreachable(t *testing.T) {
	block := make(chan struct{})
	fake := srfake.New()
	defer fake.Close()
	defer close(block)
	fake.Intercept(func(http.ResponseWriter, *http.Request) bool { <-block; return true })
	c, err := NewConfluent(ConfluentOptions{URL: fake.URL(), Timeout: time.Minute})
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err = c.Register(ctx, "u-value", avroOf(t, col("id", long, false)))
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.ErrorContains(t, err, "u-value")
	require.Less(t, time.Since(start), 30*time.Second)

	_, err = NewConfluent(ConfluentOptions{})
	require.ErrorContains(t, err, "registry.url")
	_, err = NewConfluent(ConfluentOptions{URL: "http://x", Compatibility: "sideways"})
	require.ErrorContains(t, err, "registry.compatibility")
}

// TestConfluentDeleteSubject: DeleteSubject soft-deletes the subject over
// the API; a subject the registry does not have is no error. (srfake, unlike
// Confluent, refuses registrations under a soft-deleted subject, so what
// follows a delete is shown through Embedded.)
func TestConfluentDeleteSubject(t *testing.T) {
	ctx := context.Background()
	fake := srfake.New()
	defer fake.Close()
	c, err := NewConfluent(ConfluentOptions{URL: fake.URL()})
	require.NoError(t, err)
	_, err = c.Register(ctx, "d-value", avroOf(t, col("id", long, false)))
	require.NoError(t, err)
	require.True(t, fake.SubjectExists("d-value"))
	require.NoError(t, c.DeleteSubject(ctx, "d-value"))
	require.False(t, fake.SubjectExists("d-value"))
	require.NoError(t, c.DeleteSubject(ctx, "never-value"))
}
