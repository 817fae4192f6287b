package keystore

import (
	"strings"
	"testing"
)

func TestWellFormedSecret(t *testing.T) {
	body := strings.Repeat("A", 42) + "-"
	for _, tc := range []struct {
		name   string
		secret string
		want   bool
	}{
		{"plain", "acme_" + body, true},
		{"prefix with underscore", "acme_live_" + body, true},
		{"one-char prefix", "a_" + body, true},
		{"32-char prefix", strings.Repeat("p", 32) + "_" + body, true},
		{"33-char prefix", strings.Repeat("p", 33) + "_" + body, false},
		{"no prefix", "_" + body, false},
		{"body too short", "acme_" + body[1:], false},
		{"body too long", "acme_x" + body, false},
		{"dash in prefix", "ac-me_" + body, false},
		{"padding", "acme_" + body[:42] + "=", false},
		{"standard base64", "acme_" + body[:42] + "+", false},
		{"space", "acme_" + body[:42] + " ", false},
		{"empty", "", false},
		{"bearer garbage", "Bearer xyz", false},
		{"non-ASCII", "acmé_" + body, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := WellFormedSecret(tc.secret); got != tc.want {
				t.Fatalf("WellFormedSecret(%q) = %v, want %v", tc.secret, got, tc.want)
			}
		})
	}
}

func TestHashSecret(t *testing.T) {
	if h := HashSecret("acme_x"); len(h) != 64 || strings.Trim(h, "0123456789abcdef") != "" ||
		h != HashSecret("acme_x") || h == HashSecret("acme_y") {
		t.Fatalf("HashSecret is not a stable hex SHA-256: %q", h)
	}
	// The well-known SHA-256 of "abc", so a verifier in another language agrees.
	if got := HashSecret("abc"); got != "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad" {
		t.Fatalf("HashSecret(abc) = %s", got)
	}
}

func BenchmarkWellFormedSecret(b *testing.B) {
	garbage, good := "Bearer not-a-key-at-all-but-quite-long-indeed-yes", "acme_"+strings.Repeat("A", 43)
	b.Run("garbage", func(b *testing.B) {
		for b.Loop() {
			WellFormedSecret(garbage)
		}
	})
	b.Run("well-formed", func(b *testing.B) {
		for b.Loop() {
			WellFormedSecret(good)
		}
	})
}

// BenchmarkHashSecret is the cost a verifier pays before the lookup.
func BenchmarkHashSecret(b *testing.B) {
	secret := "acme_" + strings.Repeat("A", 43)
	for b.Loop() {
		HashSecret(secret)
	}
}
