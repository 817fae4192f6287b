// Package httpenc serves static bodies compressed: it parses Accept-Encoding,
// keeps a body's gzip and brotli forms, and matches ETags. The shell's wasm
// and the portal's script and stylesheet share it.
package httpenc

import (
	"bytes"
	"compress/gzip"
	"context"
	"os/exec"
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

// Compress returns b with its gzip and brotli forms (see Gzip and Brotli);
// a form no smaller than b is dropped. Compress small bodies only, once.
func Compress(b []byte) Body {
	body := Body{Identity: b}
	if gz := Gzip(b); len(gz) < len(b) {
		body.Gzip = gz
	}
	if br, err := Brotli(context.Background(), b); err == nil && len(br) < len(b) {
		body.Brotli = br
	}
	return body
}

// Gzip compresses b at the best level.
func Gzip(b []byte) []byte {
	var buf bytes.Buffer
	w, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression) // a valid level: no error
	_, _ = w.Write(b)                                       // a bytes.Buffer does not fail
	_ = w.Close()
	return buf.Bytes()
}

// Brotli compresses b at quality 11, with the brotli command when it is
// installed (much faster: quality 11 in Go takes about a second per
// megabyte) and in Go otherwise.
func Brotli(ctx context.Context, b []byte) ([]byte, error) {
	if p, err := exec.LookPath("brotli"); err == nil {
		cmd := exec.CommandContext(ctx, p, "-q", "11", "-c")
		cmd.Stdin = bytes.NewReader(b)
		if out, err := cmd.Output(); err == nil && len(out) > 0 {
			return out, nil
		}
		if err := ctx.Err(); err != nil {
			return nil, err // stopped, not failed: no minutes-long fallback
		}
	}
	var buf bytes.Buffer
	w := brotli.NewWriterOptions(&buf, brotli.WriterOptions{Quality: 11, LGWin: 24})
	// Fed in pieces so that ctx can stop it between them.
	for len(b) > 0 {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		n := min(len(b), brotliChunk)
		if _, err := w.Write(b[:n]); err != nil {
			return nil, err
		}
		b = b[n:]
	}
	if err := w.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), ctx.Err()
}

// brotliChunk is how much input Brotli compresses in Go between checks of
// its context.
const brotliChunk = 64 << 10

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

// Dynamic compresses a body made for one response (a page) by
// acceptEncoding: brotli at a fast quality, else gzip, else b as it is.
// It returns the body to send and its Content-Encoding ("" for identity).
func Dynamic(acceptEncoding string, b []byte) ([]byte, string) {
	ok := Accepted(acceptEncoding)
	var buf bytes.Buffer
	switch {
	case ok["br"]:
		w := brotli.NewWriterLevel(&buf, dynamicBrotliQuality)
		_, _ = w.Write(b) // writes to a bytes.Buffer do not fail
		_ = w.Close()
		return buf.Bytes(), "br"
	case ok["gzip"]:
		w, _ := gzip.NewWriterLevel(&buf, gzip.DefaultCompression) // a valid level
		_, _ = w.Write(b)
		_ = w.Close()
		return buf.Bytes(), "gzip"
	}
	return b, ""
}

// dynamicBrotliQuality compresses a 10 KB page in about 0.1 ms, within a
// few percent of quality 11.
const dynamicBrotliQuality = 5
