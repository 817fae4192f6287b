package testenv

import (
	"io"
	"net/http"
	"testing"
)

// Do sends req with http.DefaultClient and returns the response with its
// body read and closed. A request that gets no response, or a body that
// cannot be read, fails the test.
func Do(t testing.TB, req *http.Request) (*http.Response, []byte) {
	t.Helper()
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL.Path, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatalf("%s %s: reading the body: %v", req.Method, req.URL.Path, err)
	}
	return res, b
}
