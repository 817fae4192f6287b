package testenv

import "net/http"

// DiscardWriter is an http.ResponseWriter that keeps only the headers and
// the status, so that a benchmark measures the handler rather than a
// recorder. The zero value is ready; Reset readies it for the next request.
type DiscardWriter struct {
	// Status is the status written, 0 if none.
	Status int
	h      http.Header
}

// Header returns the response headers.
func (w *DiscardWriter) Header() http.Header {
	if w.h == nil {
		w.h = http.Header{}
	}
	return w.h
}

// Write discards p.
func (w *DiscardWriter) Write(p []byte) (int, error) { return len(p), nil }

// WriteHeader records the status.
func (w *DiscardWriter) WriteHeader(status int) { w.Status = status }

// Reset forgets the headers and the status, keeping the header map.
func (w *DiscardWriter) Reset() {
	clear(w.h)
	w.Status = 0
}
