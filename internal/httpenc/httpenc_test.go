package httpenc

import (
	"bytes"
	"compress/gzip"
	"io"
	"strings"
	"testing"

	"github.com/andybalholm/brotli"
)

func TestAccepted(t *testing.T) {
	tests := []struct {
		name, header string
		want         map[string]bool
	}{
		{"empty", "", map[string]bool{}},
		{"Chromium", "gzip, deflate, br, zstd", map[string]bool{"gzip": true, "deflate": true, "br": true, "zstd": true}},
		{"q=0 refuses", "br;q=0, gzip;q=0.5", map[string]bool{"br": false, "gzip": true}},
		{"q with spaces", "gzip ; q = 0", map[string]bool{"gzip": false}},
		{"star stands for the unnamed", "*;q=0.1, br;q=0", map[string]bool{"br": false, "gzip": true}},
		{"star refused", "*;q=0", map[string]bool{"br": false, "gzip": false}},
		{"case-insensitive", "GZIP", map[string]bool{"gzip": true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Accepted(tt.header)
			if len(got) != len(tt.want) {
				t.Fatalf("Accepted(%q) = %v, want %v", tt.header, got, tt.want)
			}
			for k, v := range tt.want {
				if got[k] != v {
					t.Fatalf("Accepted(%q) = %v, want %v", tt.header, got, tt.want)
				}
			}
		})
	}
}

func TestMatchETag(t *testing.T) {
	tests := []struct {
		name, header string
		want         bool
	}{
		{"same", `"abc"`, true},
		{"in a list", `"x", "abc"`, true},
		{"weak", `W/"abc"`, true},
		{"star", `*`, true},
		{"other", `"abd"`, false},
		{"empty", ``, false},
		{"unquoted", `abc`, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := MatchETag(tt.header, `"abc"`); got != tt.want {
				t.Errorf("MatchETag(%q) = %v, want %v", tt.header, got, tt.want)
			}
		})
	}
}

func TestCompressAndPick(t *testing.T) {
	plain := []byte(strings.Repeat("function keyportal() { return 'portal'; }\n", 200))
	b := Compress(plain)
	if b.Gzip == nil || b.Brotli == nil || len(b.Brotli) >= len(plain) || len(b.Gzip) >= len(plain) {
		t.Fatalf("sizes: identity %d, gzip %d, brotli %d", len(plain), len(b.Gzip), len(b.Brotli))
	}
	gz, err := gzip.NewReader(bytes.NewReader(b.Gzip))
	if err != nil {
		t.Fatal(err)
	}
	if got, err := io.ReadAll(gz); err != nil || !bytes.Equal(got, plain) {
		t.Fatalf("gzip form does not decompress to the body: %v", err)
	}
	if got, err := io.ReadAll(brotli.NewReader(bytes.NewReader(b.Brotli))); err != nil || !bytes.Equal(got, plain) {
		t.Fatalf("brotli form does not decompress to the body: %v", err)
	}

	tests := []struct {
		name, accept, wantEnc string
	}{
		{"Chromium gets brotli", "gzip, deflate, br, zstd", "br"},
		{"gzip only", "gzip", "gzip"},
		{"brotli refused", "br;q=0, gzip", "gzip"},
		{"nothing accepted", "", ""},
		{"identity only", "identity", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body, enc := b.Pick(tt.accept)
			if enc != tt.wantEnc {
				t.Fatalf("Pick(%q) encoding %q, want %q", tt.accept, enc, tt.wantEnc)
			}
			want := map[string][]byte{"br": b.Brotli, "gzip": b.Gzip, "": plain}[enc]
			if !bytes.Equal(body, want) {
				t.Fatalf("Pick(%q) gave the wrong form", tt.accept)
			}
		})
	}

	// A body compression does not shrink is only offered as it is.
	tiny := Compress([]byte("x"))
	if tiny.Gzip != nil || tiny.Brotli != nil {
		t.Fatalf("a 1-byte body got compressed forms: gzip %d, brotli %d", len(tiny.Gzip), len(tiny.Brotli))
	}
	if body, enc := tiny.Pick("br, gzip"); enc != "" || string(body) != "x" {
		t.Fatalf("tiny Pick = %q, %q", body, enc)
	}
}
