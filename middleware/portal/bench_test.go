package portal

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/keyportal/keyportal/middleware/keystore"
	"github.com/keyportal/keyportal/middleware/keystore/sqlite"
	"github.com/keyportal/keyportal/middleware/ticket"
)

// BenchmarkIssue measures the local issuer alone: one app lookup in SQLite
// and one AES-GCM seal per ticket.
//
//	go test -run '^$' -bench Issue -benchmem ./middleware/portal
func BenchmarkIssue(b *testing.B) {
	st, err := sqlite.Open(b.Context(), filepath.Join(b.TempDir(), "bench.db"), keystore.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	ctx := context.Background()
	if _, err := st.CreateApp(ctx, keystore.App{Slug: "aa_42", Name: "Bench", KeyPrefix: "bench", Tenant: "acme",
		AllowedOrigins: []string{"http://127.0.0.1:8080"}}, keystore.Actor{Name: "bench"}); err != nil {
		b.Fatal(err)
	}
	p, err := New(Config{Store: st, BaseURL: "http://localhost:8081"})
	if err != nil {
		b.Fatal(err)
	}
	req := ticket.Request{AppSlug: "aa_42", Tenant: "acme", Subject: "alice", Resource: "42", EmbedderOrigin: "http://127.0.0.1:8080"}
	iss := p.Issuer()
	if _, err := iss.Issue(ctx, req); err != nil {
		b.Fatal(err)
	}
	b.Run("serial", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := iss.Issue(ctx, req); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := iss.Issue(ctx, req); err != nil {
					panic(fmt.Sprint(err))
				}
			}
		})
	})
}
