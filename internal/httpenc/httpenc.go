// Package httpenc serves static bodies compressed: it parses Accept-Encoding,
// keeps a body's gzip and brotli forms, and matches ETags. The shell's wasm
// and the portal's script and stylesheet share it.
package httpenc

import (
	"bytes"
	"compress/gzip"
	"strconv"
	"strings"

	"github.com/andybalholm/brotli"
)

// Accepted parses an Accept-Encoding header into the codings it names,
// mapped to whether they are acceptable (false for q=0). A "*" stands for
// br and gzip when they are not named.
func Accepted(header string) map[string]bool {
	out := map[string]bool{}
	var star *bool
	for part := range strings.SplitSeq(header, ",") {
		fields := strings.Split(part, ";")
		name := strings.ToLower(strings.TrimSpace(fields[0]))
		if name == "" {
			continue
		}
		ok := true
		for _, p := range fields[1:] {
			p = strings.ReplaceAll(strings.TrimSpace(p), " ", "")
			if q, found := strings.CutPrefix(p, "q="); found {
				if v, err := strconv.ParseFloat(q, 64); err == nil && v <= 0 {
					ok = false
				}
			}
		}
		if name == "*" {
			star = &ok
			continue
		}
		out[name] = ok
	}
	if star != nil {
		for _, name := range []string{"br", "gzip"} {
			if _, listed := out[name]; !listed {
				out[name] = *star
			}
		}
	}
	return out
}

// MatchETag reports whether an If-None-Match header lists etag (weakly, as
// RFC 9110 has it for If-None-Match), or is "*".
func MatchETag(header, etag string) bool {
	for t := range strings.SplitSeq(header, ",") {
		t = strings.TrimSpace(t)
		if t == etag || t == "*" || strings.TrimPrefix(t, "W/") == etag {
			return true
		}
	}
	return false
}

// Body is a static body with its compressed forms. A nil form is not
// offered.
type Body struct {
	Identity []byte
	Gzip     []byte
	Brotli   []byte
}

// Compress returns b with its gzip (best compression) and brotli (quality 11)
// forms; a form no smaller than b is dropped. Brotli at quality 11 is slow
// (about a second per megabyte): compress small bodies only, once.
func Compress(b []byte) Body {
	body := Body{Identity: b}
	var gz bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&gz, gzip.BestCompression) // a valid level: no error
	_, _ = zw.Write(b)                                      // a bytes.Buffer does not fail
	_ = zw.Close()
	if gz.Len() < len(b) {
		body.Gzip = gz.Bytes()
	}
	var br bytes.Buffer
	bw := brotli.NewWriterLevel(&br, brotli.BestCompression)
	_, _ = bw.Write(b)
	_ = bw.Close()
	if br.Len() < len(b) {
		body.Brotli = br.Bytes()
	}
	return body
}

// Pick returns the form of b to send for an Accept-Encoding header, brotli
// before gzip before identity, and its Content-Encoding ("" for identity).
func (b Body) Pick(acceptEncoding string) (body []byte, encoding string) {
	if b.Brotli == nil && b.Gzip == nil {
		return b.Identity, ""
	}
	accepts := Accepted(acceptEncoding)
	switch {
	case b.Brotli != nil && accepts["br"]:
		return b.Brotli, "br"
	case b.Gzip != nil && accepts["gzip"]:
		return b.Gzip, "gzip"
	}
	return b.Identity, ""
}
