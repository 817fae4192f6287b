package portal

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"

	"github.com/keyportal/keyportal/middleware/keystore"
	"github.com/keyportal/keyportal/policy"
)

// BenchmarkRecheck is what the policy re-check costs per key change: a
// revocation through the JSON API in process (SQLite, one key revoked per
// call, its audit event in the same transaction), without and with
// Config.Decider (the demo-sized policy engine), side by side; "decide" is
// the re-check alone.
//
//	go test -run '^$' -bench Recheck -benchmem -count 3 ./middleware/portal
func BenchmarkRecheck(b *testing.B) {
	pf, err := policy.New(policy.Config{PolicyText: recheckPolicy})
	if err != nil {
		b.Fatal(err)
	}
	for _, bc := range []struct {
		name    string
		decider policy.Decider
	}{{"revoke/no-decider", nil}, {"revoke/decider", pf}} {
		b.Run(bc.name, func(b *testing.B) {
			e := newEnv(b, envOptions{decider: bc.decider, realClock: true, changeRate: NoChangeLimit})
			e.app("aa_42", "acme", "http://app.test")
			code, ok, bad := e.exchangeTicket(e.issue(routeTicket("alice")).Ticket, "")
			if code != http.StatusOK {
				b.Fatalf("exchange: %d %+v", code, bad)
			}
			h := gin.New()
			if err := e.portal.Mount(h); err != nil {
				b.Fatal(err)
			}
			ids := make([]string, 0, 100) // the store allows 100 active keys per app
			newKeys := func() {
				ids = ids[:0]
				for range cap(ids) {
					k, _, err := e.store.CreateKey(b.Context(), keystore.NewKey{AppSlug: "aa_42", Name: "bench"}, keystore.Actor{Name: "bench"})
					if err != nil {
						b.Fatal(err)
					}
					ids = append(ids, k.ID)
				}
			}
			newKeys()
			b.ReportAllocs()
			b.ResetTimer()
			i := 0
			for range b.N {
				if i == len(ids) {
					b.StopTimer()
					newKeys()
					i = 0
					b.StartTimer()
				}
				req := httptest.NewRequest("POST", PagePath+"/api/keys/"+ids[i]+"/revoke", strings.NewReader(`{}`))
				req.Header.Set("Authorization", "Bearer "+ok.Session)
				req.Header.Set("Content-Type", "application/json")
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, req)
				if rec.Code != http.StatusOK {
					b.Fatalf("revoke: %d %s", rec.Code, rec.Body)
				}
				i++
			}
		})
	}
	b.Run("decide", func(b *testing.B) {
		p := &Portal{decider: pf, tenants: pf}
		cl := claims{User: "alice", Tenant: "acme", Object: "deployment:42", Action: "api_keys:manage"}
		b.ReportAllocs()
		for b.Loop() {
			if why, err := p.recheck(b.Context(), cl); why != "" || err != nil {
				b.Fatal(why, err)
			}
		}
	})
}
