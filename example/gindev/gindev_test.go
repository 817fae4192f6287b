package gindev

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"

	"github.com/keyportal/keyportal/internal/testenv"
	"github.com/keyportal/keyportal/middleware/portal"
	"github.com/keyportal/keyportal/middleware/ticket"
)

// walkthroughRE finds the README's walkthrough: everything between the two
// markers.
var walkthroughRE = regexp.MustCompile(`(?s)<!-- walkthrough: example/gindev -->(.*?)<!-- /walkthrough -->`)

// fenceRE finds the fenced blocks of one language.
func fenced(text, lang string) []string {
	re := regexp.MustCompile("(?s)```" + lang + "\n(.*?)```\n")
	var out []string
	for _, m := range re.FindAllStringSubmatch(text, -1) {
		out = append(out, m[1])
	}
	return out
}

// TestREADMEShowsTheWalkthrough: the README's walkthrough blocks are this
// package's code after its imports, in order and to the byte, and its
// policy block is testdata/policy.csv; so the code TestWalkthrough runs is
// the code the README shows.
func TestREADMEShowsTheWalkthrough(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	m := walkthroughRE.FindSubmatch(readme)
	if m == nil {
		t.Fatal("README.md has no <!-- walkthrough: example/gindev --> … <!-- /walkthrough --> section")
	}
	section := string(m[1])
	src, err := os.ReadFile("gindev.go")
	if err != nil {
		t.Fatal(err)
	}
	_, body, ok := strings.Cut(string(src), "\n)\n\n") // after the import block
	if !ok {
		t.Fatal("gindev.go has no import block")
	}
	if got := strings.Join(fenced(section, "go"), "\n"); got != body {
		t.Errorf("the README's go blocks differ from gindev.go after its imports; README:\n%s\ngindev.go:\n%s", got, body)
	}
	csv, err := os.ReadFile("testdata/policy.csv")
	if err != nil {
		t.Fatal(err)
	}
	if got := fenced(section, "csv"); len(got) != 1 || got[0] != string(csv) {
		t.Errorf("the README's policy block differs from testdata/policy.csv: %q", got)
	}
}

// deployments is the host app's table of deployments.
type deployments map[string]string

func (d deployments) Owner(_ context.Context, object string) (string, bool, error) {
	t, ok := d[object]
	return t, ok, nil
}

// TestWalkthrough runs the walkthrough: the existing app (a session cookie,
// a deployments table) gets keyportal with Add; alice asks for a ticket on
// the settings page, the portal creates the app and exchanges the ticket,
// she makes a key, and the key works on the app's API. bob, a viewer, gets
// no ticket.
func TestWalkthrough(t *testing.T) {
	gin.SetMode(gin.TestMode)
	dir := t.TempDir()
	wasm := filepath.Join(dir, "app.wasm")
	if err := os.WriteFile(wasm, []byte("\x00asm\x01\x00\x00\x00"), 0o600); err != nil {
		t.Fatal(err)
	}
	app := gin.New()
	appSrv := httptest.NewServer(app)
	defer appSrv.Close()
	portalSrv := httptest.NewUnstartedServer(nil)
	portalURL := "http://" + portalSrv.Listener.Addr().String()

	host := Host{
		Engine: app,
		CurrentUser: func(c *gin.Context) (string, string, bool) {
			v, err := c.Cookie("session") // the test's stand-in session: "user@tenant"
			user, tenant, ok := strings.Cut(v, "@")
			return user, tenant, err == nil && ok
		},
		Deployments: deployments{"deployment:42": "acme", "deployment:77": "globex"},
	}
	portalEngine, closeAll, err := Add(t.Context(), host, Settings{
		PolicyPath: "testdata/policy.csv",
		DBPath:     filepath.Join(dir, "keyportal.db"),
		AppURL:     appSrv.URL,
		PortalURL:  portalURL,
		WasmPath:   wasm,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer closeAll()
	portalSrv.Config.Handler = portalEngine
	portalSrv.Start()
	defer portalSrv.Close()

	send := func(method, url, session, bearer, origin, body string) (int, string) {
		t.Helper()
		req, err := http.NewRequest(method, url, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		if session != "" {
			req.AddCookie(&http.Cookie{Name: "session", Value: session})
		}
		if bearer != "" {
			req.Header.Set("Authorization", "Bearer "+bearer)
		}
		if origin != "" {
			req.Header.Set("Origin", origin)
		}
		if body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		res, b := testenv.Do(t, req)
		return res.StatusCode, string(b)
	}

	if code, page := send("GET", appSrv.URL+"/settings/api-keys/42", "alice@acme", "", "", ""); code != 200 || !strings.Contains(page, "<title>API keys") {
		t.Fatalf("settings page: %d %.300s", code, page)
	}
	ask := func(user, id string) (int, string) {
		return send("POST", appSrv.URL+ticket.DefaultPath, user, "", appSrv.URL, `{"deploymentId":"`+id+`"}`)
	}
	if code, _ := ask("bob@acme", "42"); code != 403 {
		t.Fatalf("a viewer got a ticket: %d", code)
	}
	if code, _ := send("POST", appSrv.URL+ticket.DefaultPath, "alice@acme", "", "https://evil.test", `{"deploymentId":"42"}`); code != 403 {
		t.Fatalf("a page of another origin got a ticket: %d", code)
	}
	if code, _ := ask("alice@acme", "77"); code != 403 {
		t.Fatalf("a deployment of another tenant: %d", code)
	}
	code, body := ask("alice@acme", "42")
	var tk ticket.Response
	if code != 200 || json.Unmarshal([]byte(body), &tk) != nil || !strings.HasPrefix(tk.URL, portalURL+portal.PagePath+"?ticket=") {
		t.Fatalf("alice's ticket: %d %s", code, body)
	}

	code, body = send("POST", portalURL+portal.PagePath+"/exchange", "", "", portalURL, `{"ticket":"`+tk.Ticket+`"}`)
	var sess struct{ Session string }
	if code != 200 || json.Unmarshal([]byte(body), &sess) != nil || sess.Session == "" {
		t.Fatalf("exchange: %d %s", code, body)
	}
	code, body = send("POST", portalURL+portal.PagePath+"/api/keys", "", sess.Session, portalURL, `{"name":"ci"}`)
	var made struct{ Secret string }
	if code != 201 || json.Unmarshal([]byte(body), &made) != nil || !strings.HasPrefix(made.Secret, "acme") {
		t.Fatalf("create key: %d %s", code, body)
	}

	if code, _ := send("GET", appSrv.URL+"/v1/whoami", "", "", "", ""); code != 401 {
		t.Fatalf("the API without a key: %d", code)
	}
	code, body = send("GET", appSrv.URL+"/v1/whoami", "", made.Secret, "", "")
	if code != 200 || !strings.Contains(body, `"tenant":"acme"`) {
		t.Fatalf("the API with the new key: %d %s", code, body)
	}
}
